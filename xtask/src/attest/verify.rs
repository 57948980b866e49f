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
    /// What fixes a failed check, when the error said (a [`crate::problem::Problem`]).
    pub fix: Option<String>,
}

impl Check {
    /// A failed check from an error: its one-line text, and the fix apart.
    pub fn failed(name: &'static str, err: &anyhow::Error) -> Check {
        let (detail, fix) = crate::problem::split(err);
        Check {
            name,
            ok: false,
            detail,
            fix,
        }
    }
}

/// What the verifier expects.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The digest the attestation must be about: the digest being verified, or for BuildKit's
    /// in-index form one platform manifest of that very index. Never taken from a referrer's
    /// annotation.
    pub subject: &'a Digest,
    /// Check the signature with this key (and refuse unsigned attestations).
    pub public_key: Option<&'a PublicKey>,
    /// Provenance must name this source repository (`https://github.com/o/r`; a trailing `/`
    /// or `.git` and the letter case are ignored).
    pub source_repository: Option<&'a str>,
}

/// The checks of one attestation layer, and the predicate type of its Statement once the
/// Statement could be read (after its signature verified, when a key is given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerVerdict {
    pub checks: Vec<Check>,
    /// The Statement's own `predicateType`: never an annotation's.
    pub predicate_type: Option<String>,
}

impl LayerVerdict {
    /// Every check held: the layer is what it claims, signed when a key was given, and its
    /// Statement is about the expected subject.
    pub fn ok(&self) -> bool {
        all_ok(&self.checks)
    }

    /// A verified SLSA provenance that passed every check (the source repository included,
    /// when one was asked for).
    pub fn is_verified_provenance(&self) -> bool {
        self.ok() && self.predicate_type.as_deref() == Some(PREDICATE_SLSA_PROVENANCE)
    }
}

/// True if every check passed.
pub fn all_ok(checks: &[Check]) -> bool {
    checks.iter().all(|c| c.ok)
}

/// Checks `layer` (the bytes of one layer of `manifest`: a Statement or a Sigstore bundle).
/// Checks that cannot run because an earlier one failed are left out.
///
/// Descriptors and annotations are written by whoever can push to the repository, so they
/// decide nothing here: the subject is `expected.subject`, the predicate type is the verified
/// Statement's.
pub fn verify_layer(manifest: &Manifest, layer: &[u8], expected: Expected<'_>) -> LayerVerdict {
    let mut checks = Vec::new();
    let statement = check_layer(manifest, layer, expected, &mut checks);
    LayerVerdict {
        checks,
        predicate_type: statement.map(|s| s.predicate_type),
    }
}

/// The Statement's bytes from a layer of `media_type`: a Sigstore bundle's payload (its
/// signature checked when there is a public key) or an unsigned Statement; `None` (with the
/// failed check pushed) when there is none.
fn signed_payload(
    media_type: &str,
    layer: &[u8],
    expected: &Expected<'_>,
    push: &mut impl FnMut(&'static str, bool, String),
) -> Option<Vec<u8>> {
    let bytes = match media_type {
        MEDIA_SIGSTORE_BUNDLE => {
            let bundle = match Bundle::parse(layer) {
                Ok(b) => b,
                Err(e) => {
                    push("signature", false, format!("{e:#}"));
                    return None;
                }
            };
            let payload = match expected.public_key {
                Some(key) => bundle.verify(key).inspect(|_| {
                    push(
                        "signature",
                        true,
                        format!("DSSE signature verifies with key {}", key.hint()),
                    );
                }),
                None if bundle.dsse_envelope.payload_type != MEDIA_IN_TOTO => Err(anyhow::anyhow!(
                    "the envelope carries {:?}, not an in-toto Statement ({MEDIA_IN_TOTO})",
                    bundle.dsse_envelope.payload_type
                )),
                None => bundle.dsse_envelope.payload_bytes(),
            };
            match payload {
                Ok(p) => p,
                Err(e) => {
                    push("signature", false, format!("{e:#}"));
                    return None;
                }
            }
        }
        MEDIA_IN_TOTO => {
            if expected.public_key.is_some() {
                push("signature", false, "the attestation is unsigned, but a public key was given: attest with STEVEDORE_SIGNING_KEY set, or verify without a key".into());
            }
            layer.to_vec()
        }
        other => {
            push("statement", false, format!("layer media type {other:?} is neither {MEDIA_IN_TOTO} nor {MEDIA_SIGSTORE_BUNDLE}"));
            return None;
        }
    };
    Some(bytes)
}

fn check_layer(
    manifest: &Manifest,
    layer: &[u8],
    expected: Expected<'_>,
    checks: &mut Vec<Check>,
) -> Option<Statement> {
    let mut push = |name, ok, detail: String| {
        checks.push(Check {
            name,
            ok,
            detail,
            fix: None,
        })
    };

    let digest = Digest::of(layer);
    let Some(desc) = manifest.layers.iter().find(|l| l.digest == digest) else {
        push("layer digest", false, format!("{digest} is not a layer of the manifest: the blob was changed or belongs to another manifest"));
        return None;
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
        return None;
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

    let statement_bytes = signed_payload(&desc.media_type, layer, &expected, &mut push)?;

    let statement: Statement = match serde_json::from_slice(&statement_bytes) {
        Ok(s) => s,
        Err(e) => {
            push("statement", false, format!("not an in-toto Statement: {e}"));
            return None;
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

    // The predicate type is the Statement's; an annotation that says otherwise is only noted.
    let annotated = [&desc.annotations, &manifest.annotations]
        .into_iter()
        .find_map(|a| {
            a.get(ANNOTATION_PREDICATE_TYPE)
                .or_else(|| a.get(ANNOTATION_BUNDLE_PREDICATE_TYPE))
        });
    let detail = match annotated {
        Some(a) if *a != statement.predicate_type => format!(
            "{} (from the Statement; the descriptor's annotation claims {a}, which is ignored)",
            statement.predicate_type
        ),
        _ => format!("{} (from the Statement)", statement.predicate_type),
    };
    push("predicate type", true, detail);

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
    Some(statement)
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
