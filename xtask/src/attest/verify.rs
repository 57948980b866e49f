//! Checks of one attestation layer against what the verifier expects, as a list of results
//! for a `verify` command to print. Pure: the caller fetches the manifest and the layer.

use crate::oci::{Digest, Manifest};

use super::artifact::{ANNOTATION_BUNDLE_PREDICATE_TYPE, ANNOTATION_PREDICATE_TYPE};
use super::dsse::Bundle;
use super::sign::PublicKey;
use super::statement::{Statement, STATEMENT_TYPE};
use super::{MEDIA_IN_TOTO, MEDIA_SIGSTORE_BUNDLE, PREDICATE_SLSA_PROVENANCE};

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

/// What the verifier expects.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The digest of the image index or platform manifest the attestation must be about.
    pub subject: &'a Digest,
    /// Check the signature with this key (and refuse unsigned attestations).
    pub public_key: Option<&'a PublicKey>,
    /// Provenance must name this source repository (`https://github.com/o/r`; a trailing `/`
    /// or `.git` and the letter case are ignored).
    pub source_repository: Option<&'a str>,
}

/// True if every check passed.
pub fn all_ok(checks: &[Check]) -> bool {
    checks.iter().all(|c| c.ok)
}

/// Checks `layer` (the bytes of one layer of `manifest`: a Statement or a Sigstore bundle).
/// Checks that cannot run because an earlier one failed are left out.
pub fn verify_layer(manifest: &Manifest, layer: &[u8], expected: Expected<'_>) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut push = |name, ok, detail: String| checks.push(Check { name, ok, detail });

    let digest = Digest::of(layer);
    let Some(desc) = manifest.layers.iter().find(|l| l.digest == digest) else {
        push("layer digest", false, format!("{digest} is not a layer of the manifest: the blob was changed or belongs to another manifest"));
        return checks;
    };
    if desc.size != layer.len() as u64 {
        push(
            "layer digest",
            false,
            format!(
                "{digest} is {} bytes, the manifest says {}",
                layer.len(),
                desc.size
            ),
        );
        return checks;
    }
    let form = match (desc.media_type.as_str(), expected.public_key) {
        (MEDIA_SIGSTORE_BUNDLE, None) => {
            "a Sigstore bundle; no public key given, so its signature is not checked"
        }
        (MEDIA_SIGSTORE_BUNDLE, Some(_)) => "a Sigstore bundle",
        _ => "an unsigned in-toto Statement",
    };
    push(
        "layer digest",
        true,
        format!("{digest} ({} bytes): {form}", layer.len()),
    );

    match &manifest.subject {
        Some(s) if &s.digest == expected.subject => {
            push("manifest subject", true, s.digest.to_string())
        }
        Some(s) => push(
            "manifest subject",
            false,
            format!(
                "the referrer points at {}, not {}",
                s.digest, expected.subject
            ),
        ),
        None => {}
    }

    let statement_bytes = match desc.media_type.as_str() {
        MEDIA_SIGSTORE_BUNDLE => match Bundle::parse(layer) {
            Err(e) => {
                push("signature", false, format!("{e:#}"));
                return checks;
            }
            Ok(bundle) => match expected.public_key {
                Some(key) => match bundle.verify(key) {
                    Ok(payload) => {
                        push(
                            "signature",
                            true,
                            format!("DSSE signature verifies with key {}", key.hint()),
                        );
                        payload
                    }
                    Err(e) => {
                        push("signature", false, format!("{e:#}"));
                        return checks;
                    }
                },
                None => match bundle.dsse_envelope.payload_bytes() {
                    Ok(p) => p,
                    Err(e) => {
                        push("signature", false, format!("{e:#}"));
                        return checks;
                    }
                },
            },
        },
        MEDIA_IN_TOTO => {
            if expected.public_key.is_some() {
                push("signature", false, "the attestation is unsigned, but a public key was given: attest with STEVEDORE_SIGNING_KEY set, or verify without a key".into());
            }
            layer.to_vec()
        }
        other => {
            push("statement", false, format!("layer media type {other:?} is neither {MEDIA_IN_TOTO} nor {MEDIA_SIGSTORE_BUNDLE}"));
            return checks;
        }
    };

    let statement: Statement = match serde_json::from_slice(&statement_bytes) {
        Ok(s) => s,
        Err(e) => {
            push("statement", false, format!("not an in-toto Statement: {e}"));
            return checks;
        }
    };
    let known_type =
        statement.type_ == STATEMENT_TYPE || statement.type_ == "https://in-toto.io/Statement/v0.1";
    push(
        "statement",
        known_type,
        format!("_type {}", statement.type_),
    );

    let subjects: Vec<&str> = statement
        .subject
        .iter()
        .filter_map(|s| s.digest.get("sha256").map(String::as_str))
        .collect();
    push(
        "statement subject",
        statement.names_subject(expected.subject.hex()),
        format!(
            "expected sha256:{}, the Statement names {subjects:?}",
            expected.subject.hex()
        ),
    );

    let annotated = [&desc.annotations, &manifest.annotations]
        .into_iter()
        .find_map(|a| {
            a.get(ANNOTATION_PREDICATE_TYPE)
                .or_else(|| a.get(ANNOTATION_BUNDLE_PREDICATE_TYPE))
        });
    match annotated {
        Some(a) if *a != statement.predicate_type => push(
            "predicate type",
            false,
            format!(
                "the manifest says {a}, the Statement {}",
                statement.predicate_type
            ),
        ),
        _ => push("predicate type", true, statement.predicate_type.clone()),
    }

    if let (Some(want), true) = (
        expected.source_repository,
        statement.predicate_type == PREDICATE_SLSA_PROVENANCE,
    ) {
        let named = provenance_repositories(&statement.predicate);
        let ok = named.iter().any(|r| same_repository(r, want));
        push(
            "source repository",
            ok,
            format!("expected {want}, the provenance names {named:?}"),
        );
    }
    checks
}

/// Repositories a provenance names: stevedore's `source.repository`, GitHub's
/// `workflow.repository`, and the `git+<repo>@<ref>` dependencies.
fn provenance_repositories(predicate: &serde_json::Value) -> Vec<String> {
    let def = &predicate["buildDefinition"];
    let params = &def["externalParameters"];
    let mut out: Vec<String> = [
        &params["source"]["repository"],
        &params["workflow"]["repository"],
    ]
    .into_iter()
    .filter_map(|v| v.as_str().map(str::to_string))
    .collect();
    for dep in def["resolvedDependencies"].as_array().into_iter().flatten() {
        let uri = dep["uri"].as_str().unwrap_or("");
        if let Some(rest) = uri.strip_prefix("git+") {
            let repo = rest.split_once('@').map_or(rest, |(r, _)| r);
            out.push(repo.to_string());
        }
    }
    out.dedup();
    out
}

fn same_repository(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        let s = s.trim().trim_end_matches('/');
        s.strip_suffix(".git").unwrap_or(s).to_ascii_lowercase()
    };
    norm(a) == norm(b)
}

#[cfg(test)]
mod tests;
