//! Checks of one attestation layer against what the verifier expects, as a list of results
//! for a `verify` command to print. Pure: the caller fetches the manifest and the layer.

use crate::oci::{Digest, Manifest};

use super::artifact::{ANNOTATION_BUNDLE_PREDICATE_TYPE, ANNOTATION_PREDICATE_TYPE};
use super::sign::PublicKey;
use super::sigstore_bundle::{
    is_bundle_media_type, verify_keyless, Identity, KeylessPolicy, Material, SigstoreBundle, Step,
};
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
    /// What keyless (certificate) signatures must satisfy; when it requires a certificate,
    /// attestations signed otherwise, or unsigned, fail.
    pub keyless: &'a KeylessPolicy,
}

/// The checks of one attestation layer, and the predicate type of its Statement once the
/// Statement could be read (after its signature verified, when a key is given).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerVerdict {
    pub checks: Vec<Check>,
    /// The Statement's own `predicateType`: never an annotation's.
    pub predicate_type: Option<String>,
    /// Keyless: what the signing certificate says about who signed (trusted only as far as
    /// the checks say).
    pub signer: Option<Identity>,
    /// What was not checked, said plainly (keyless: the chain without a trusted root, the
    /// transparency log, an unconstrained signer).
    pub not_checked: Vec<String>,
}

impl LayerVerdict {
    /// A verdict with one failed check.
    pub fn failed(name: &'static str, detail: String) -> LayerVerdict {
        let mut v = LayerVerdict::default();
        v.push(name, false, detail);
        v
    }

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

    fn push(&mut self, name: &'static str, ok: bool, detail: String) {
        self.checks.push(Check {
            name,
            ok,
            detail,
            fix: None,
        });
    }

    /// Records a keyless step: a check when it ran, a "not checked" note otherwise (the notes
    /// are gathered by [`verify_keyless`]).
    fn push_step(&mut self, name: &'static str, step: &Step) {
        match step {
            Step::Ok(detail) => self.push(name, true, detail.clone()),
            Step::Failed { detail, fix } => self.checks.push(Check {
                name,
                ok: false,
                detail: detail.clone(),
                fix: Some(fix.clone()),
            }),
            Step::NotChecked(_) => {}
        }
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
    let mut verdict = LayerVerdict::default();
    let statement = check_layer(manifest, layer, expected, &mut verdict);
    verdict.predicate_type = statement.map(|s| s.predicate_type);
    verdict
}

/// The Statement's bytes from a Sigstore bundle: its signature checked with the public key
/// when there is one, keyless with the bundle's certificate when it has one, else unverified
/// (unless the policy requires a certificate). `None` (with the failed check pushed) when
/// there is none to trust.
fn bundle_payload(layer: &[u8], expected: &Expected<'_>, v: &mut LayerVerdict) -> Option<Vec<u8>> {
    let bundle = match SigstoreBundle::parse(layer) {
        Ok(b) => b,
        Err(e) => {
            v.push("signature", false, format!("{e:#}"));
            return None;
        }
    };
    let payload = match (expected.public_key, &bundle.material) {
        (Some(key), _) => {
            let checked = if bundle.envelope.payload_type != MEDIA_IN_TOTO {
                Err(not_in_toto(&bundle.envelope.payload_type))
            } else {
                bundle.envelope.verify(key)
            };
            checked.inspect(|_| {
                v.push(
                    "signature",
                    true,
                    format!("DSSE signature verifies with key {}", key.hint()),
                )
            })
        }
        (None, Material::Certificate { .. }) => {
            let keyless = verify_keyless(&bundle, expected.keyless);
            v.push_step("signature", &keyless.signature);
            v.push_step("certificate chain", &keyless.chain);
            v.push_step("signer", &keyless.signer);
            v.signer = keyless.identity;
            v.not_checked = keyless.not_checked;
            return keyless.payload;
        }
        (None, Material::PublicKey { .. }) if expected.keyless.requires_certificate() => {
            Err(certificate_required(expected.keyless, "signed with a key"))
        }
        (None, Material::PublicKey { .. }) if bundle.envelope.payload_type != MEDIA_IN_TOTO => {
            Err(not_in_toto(&bundle.envelope.payload_type))
        }
        (None, Material::PublicKey { .. }) => bundle.envelope.payload_bytes(),
    };
    match payload {
        Ok(p) => Some(p),
        Err(e) => {
            let (detail, fix) = crate::problem::split(&e);
            v.checks.push(Check {
                name: "signature",
                ok: false,
                detail,
                fix,
            });
            None
        }
    }
}

fn not_in_toto(payload_type: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "the envelope carries {payload_type:?}, not an in-toto Statement ({MEDIA_IN_TOTO})"
    )
}

/// The error for an attestation that is `how` where the policy requires a certificate.
fn certificate_required(policy: &KeylessPolicy, how: &str) -> anyhow::Error {
    let wanted = match (policy.describe(), &policy.trusted_root) {
        (d, Some(root)) if d.is_empty() => format!("a certificate from {}", root.file),
        (d, _) => format!("a certificate naming {d}"),
    };
    anyhow::anyhow!(crate::problem::Problem::unverified(
        format!("the attestation is {how}, but {wanted} is required"),
        "verify it with --key PUB.pem, or it was not attested keylessly: attest the image with actions/attest-build-provenance"
    ))
}

/// The Statement's bytes from a layer of `media_type`: a Sigstore bundle's payload (see
/// [`bundle_payload`]) or an unsigned Statement; `None` (with the failed check pushed) when
/// there is none.
fn signed_payload(
    media_type: &str,
    layer: &[u8],
    expected: &Expected<'_>,
    v: &mut LayerVerdict,
) -> Option<Vec<u8>> {
    match media_type {
        t if is_bundle_media_type(t) => bundle_payload(layer, expected, v),
        MEDIA_IN_TOTO => {
            if expected.public_key.is_some() {
                v.push("signature", false, "the attestation is unsigned, but a public key was given: attest with STEVEDORE_SIGNING_KEY set, or verify without a key".into());
            } else if expected.keyless.requires_certificate() {
                let (detail, fix) =
                    crate::problem::split(&certificate_required(expected.keyless, "unsigned"));
                v.checks.push(Check {
                    name: "signature",
                    ok: false,
                    detail,
                    fix,
                });
            }
            Some(layer.to_vec())
        }
        other => {
            v.push("statement", false, format!("layer media type {other:?} is neither {MEDIA_IN_TOTO} nor a Sigstore bundle ({MEDIA_SIGSTORE_BUNDLE}, …)"));
            None
        }
    }
}

fn check_layer(
    manifest: &Manifest,
    layer: &[u8],
    expected: Expected<'_>,
    v: &mut LayerVerdict,
) -> Option<Statement> {
    let digest = Digest::of(layer);
    let Some(desc) = manifest.layers.iter().find(|l| l.digest == digest) else {
        v.push("layer digest", false, format!("{digest} is not a layer of the manifest: the blob was changed or belongs to another manifest"));
        return None;
    };
    if desc.size != layer.len() as u64 {
        v.push(
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
    let keyless = || {
        SigstoreBundle::parse(layer)
            .is_ok_and(|b| matches!(b.material, Material::Certificate { .. }))
    };
    let form = match (is_bundle_media_type(&desc.media_type), expected.public_key) {
        (true, None) if keyless() => "a keyless Sigstore bundle (signed with a certificate)",
        (true, None) => "a Sigstore bundle; no public key given, so its signature is not checked",
        (true, Some(_)) => "a Sigstore bundle",
        _ => "an unsigned in-toto Statement",
    };
    v.push(
        "layer digest",
        true,
        format!("{digest} ({} bytes): {form}", layer.len()),
    );

    match &manifest.subject {
        Some(s) if &s.digest == expected.subject => {
            v.push("manifest subject", true, s.digest.to_string())
        }
        Some(s) => v.push(
            "manifest subject",
            false,
            format!(
                "the referrer points at {}, not {}",
                s.digest, expected.subject
            ),
        ),
        None => {}
    }

    let statement_bytes = signed_payload(&desc.media_type, layer, &expected, v)?;

    let statement: Statement = match serde_json::from_slice(&statement_bytes) {
        Ok(s) => s,
        Err(e) => {
            v.push("statement", false, format!("not an in-toto Statement: {e}"));
            return None;
        }
    };
    let known_type =
        statement.type_ == STATEMENT_TYPE || statement.type_ == "https://in-toto.io/Statement/v0.1";
    v.push(
        "statement",
        known_type,
        format!("_type {}", statement.type_),
    );

    let subjects: Vec<&str> = statement
        .subject
        .iter()
        .filter_map(|s| s.digest.get("sha256").map(String::as_str))
        .collect();
    v.push(
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
    v.push("predicate type", true, detail);

    if let (Some(want), true) = (
        expected.source_repository,
        statement.predicate_type == PREDICATE_SLSA_PROVENANCE,
    ) {
        let named = provenance_repositories(&statement.predicate);
        let ok = named.iter().any(|r| same_repository(r, want));
        v.push(
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
