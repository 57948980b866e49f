//! `verify REF [--key PUB.pem] [--source-repo URL] [--json]`: resolves the image to one digest,
//! finds its attestations where standard tools look (the referrers API, then the
//! `sha256-<hex>` fallback tag, then BuildKit attestation manifests in the index) and checks
//! each one. Runs anywhere: inside a workspace it also reads the config's registry settings.
//!
//! Keyless bundles (GitHub's `actions/attest-build-provenance`): `--trusted-root FILE`,
//! `--certificate-identity URI`, `--certificate-oidc-issuer URL` and `--repo OWNER/REPO` say
//! what the signing certificate must satisfy; the signer it names is printed either way, with
//! what was not checked offline.

use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::attest::discover::{self, Checked, Found};
use crate::attest::sign::PublicKey;
use crate::attest::sigstore_bundle::{self, certificate, KeylessPolicy, TrustedRoot};
use crate::attest::verify::{Check, LayerVerdict};
use crate::attest::PREDICATE_SLSA_PROVENANCE;
use crate::cli::VerifyArgs;
use crate::oci::reference::ImageRef;
use crate::oci::referrers_tag::fallback_tag;
use crate::oci::Digest;
use crate::registry;
use crate::workspace::Workspace;

pub(super) fn verify(ws: Option<&Workspace>, args: &VerifyArgs, verbose: bool) -> Result<()> {
    let image =
        ImageRef::parse(&args.reference).map_err(|e| anyhow::anyhow!("{}: {e}", args.reference))?;
    // Paths on the command line are the caller's: relative to the current directory.
    let key = match &args.key {
        Some(path) => {
            let pem = std::fs::read_to_string(path)
                .with_context(|| format!("--key {}: cannot read it", path.display()))?;
            Some(PublicKey::from_pem(&pem).with_context(|| {
                format!("--key {}: not a PEM ECDSA P-256 public key", path.display())
            })?)
        }
        None => None,
    };
    let keyless = keyless_policy(args)?;
    let mut settings = ws.map(super::registry_settings).unwrap_or_default();
    settings.ca_files.extend(args.ca_file.iter().cloned());
    settings
        .insecure
        .extend(args.insecure_registry.iter().cloned());
    let progress = super::progress(verbose);
    let clients = super::registry_session(settings, &progress, super::Retries::Shown)?;
    let (subject, found, checked) = clients.block_on(async {
        let reg = clients
            .client(&image.host, &image.api_host(), registry::Operation::Pull)
            .await?;
        let reg = &*reg;
        let repo = &image.repository;
        // The digest being verified: the one written, or the tag's, resolved once from the
        // bytes the registry serves (never from a header).
        let subject = match &image.digest {
            Some(d) => d.clone(),
            None => {
                let (_, bytes) = reg
                    .read_manifest(repo, &image.reference())
                    .await?
                    .with_context(|| format!("{} is not in its registry", args.reference))?;
                Digest::of(&bytes)
            }
        };
        let found = discover::find(reg, repo, &subject).await?;
        let mut checked = Vec::new();
        for candidate in &found.candidates {
            checked.push(
                discover::check(
                    reg,
                    repo,
                    candidate,
                    key.as_ref(),
                    args.source_repo.as_deref(),
                    &keyless,
                )
                .await,
            );
        }
        Ok::<_, anyhow::Error>((subject, found, checked))
    })??;
    let provenance = checked
        .iter()
        .flat_map(|c| &c.layers)
        .filter(|l| l.is_verified_provenance())
        .count();
    let signed_by = key.as_ref().map(PublicKey::hint);
    if args.json {
        print_json(args, &subject, &found, &checked, provenance, &signed_by)?;
    } else {
        print_text(args, &subject, &found, &checked, &signed_by);
    }
    if checked.is_empty() {
        bail!(crate::problem::Problem::unverified(
            format!(
                "no attestation found for {} ({subject}): not in the referrers API, the {} fallback tag, or the index",
                args.reference,
                fallback_tag(&subject)
            ),
            "release it with provenance on, or check the reference"
        ));
    }
    if provenance == 0 {
        let mut needs = match (&signed_by, &args.source_repo) {
            (Some(k), Some(r)) => format!(" signed with key {k} and naming {r}"),
            (Some(k), None) => format!(" signed with key {k}"),
            (None, Some(r)) => format!(" naming {r}"),
            (None, None) => String::new(),
        };
        if keyless.requires_certificate() {
            needs.push_str(&match (keyless.describe(), &keyless.trusted_root) {
                (d, Some(root)) if d.is_empty() => {
                    format!(" signed by a certificate from {}", root.file)
                }
                (d, Some(root)) => {
                    format!(" signed by a certificate from {} naming {d}", root.file)
                }
                (d, None) => format!(" signed by a certificate naming {d}"),
            });
        }
        bail!(crate::problem::Problem::unverified(
            format!(
                "{} ({subject}) is not verified: no SLSA provenance about this digest{needs}",
                args.reference
            ),
            "see the FAIL lines above"
        ));
    }
    Ok(())
}

/// What keyless signatures must satisfy, from the flags. Paths are the caller's: relative to
/// the current directory.
fn keyless_policy(args: &VerifyArgs) -> Result<KeylessPolicy> {
    let trusted_root = match &args.trusted_root {
        Some(path) => {
            let flag = format!("--trusted-root {}", path.display());
            let bytes = read_capped(path, sigstore_bundle::trust::MAX_FILE_BYTES).map_err(|e| {
                crate::problem::Problem::usage(
                    format!("{flag}: cannot read it ({e})"),
                    "give the path of a PEM file of CA certificates, or of a trusted_root.json (`gh attestation trusted-root > trusted_root.json`)",
                )
            })?;
            Some(
                TrustedRoot::parse(&path.display().to_string(), &bytes).map_err(|e| {
                    crate::problem::Problem::usage(
                        format!("{flag}: {e:#}"),
                        "give PEM `-----BEGIN CERTIFICATE-----` blocks of the CAs to trust, or Sigstore's trusted_root.json",
                    )
                })?,
            )
        }
        None => None,
    };
    let repository = match &args.repo {
        Some(r) => Some(sigstore_bundle::repository_url(r).map_err(|e| {
            crate::problem::Problem::usage(
                format!("--repo: {e}"),
                "give the GitHub repository that ran the workflow, e.g. --repo octo-org/app",
            )
        })?),
        None => None,
    };
    let non_empty = |flag: &str, v: &Option<String>| -> Result<Option<String>> {
        match v {
            Some(s) if s.trim().is_empty() => Err(crate::problem::Problem::usage(
                format!("{flag} is empty"),
                format!("give the value the certificate must carry, or leave {flag} out"),
            )
            .into()),
            other => Ok(other.clone()),
        }
    };
    Ok(KeylessPolicy {
        trusted_root,
        identity: non_empty("--certificate-identity", &args.certificate_identity)?,
        issuer: non_empty("--certificate-oidc-issuer", &args.certificate_oidc_issuer)?,
        repository,
    })
}

/// The bytes of `path`, refused when longer than `limit`.
fn read_capped(path: &std::path::Path, limit: usize) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(limit as u64 + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() > limit {
        return Err(std::io::Error::other(format!(
            "longer than {} KiB",
            limit >> 10
        )));
    }
    Ok(bytes)
}

/// The signer of a keyless attestation, and what was not checked, as lines of text.
fn signer_lines(layer: &LayerVerdict) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(id) = &layer.signer {
        out.push(format!(
            "  signed by certificate: {}",
            id.subject().unwrap_or("(no subject alternative name)")
        ));
        let rows = [
            ("issuer", id.issuer().map(str::to_string)),
            ("repository", id.repository()),
            ("ref", id.git_ref().map(str::to_string)),
            ("commit", id.commit().map(str::to_string)),
            ("workflow", id.workflow().map(str::to_string)),
            ("trigger", id.extension(20).map(str::to_string)),
            ("run", id.extension(21).map(str::to_string)),
            ("runner", id.extension(11).map(str::to_string)),
        ];
        for (name, value) in rows {
            if let Some(value) = value {
                out.push(format!("    {name}: {value}"));
            }
        }
        out.push(format!(
            "    valid: {} to {}",
            sigstore_bundle::trust::show_time(id.not_before),
            sigstore_bundle::trust::show_time(id.not_after)
        ));
    }
    for note in &layer.not_checked {
        out.push(format!("  not checked: {note}"));
    }
    out
}

/// The signer of a keyless attestation as JSON.
fn signer_json(id: &certificate::Identity) -> serde_json::Value {
    let extensions: serde_json::Map<String, serde_json::Value> = id
        .fulcio
        .iter()
        .map(|(n, v)| {
            (
                format!(
                    "1.3.6.1.4.1.57264.1.{n} {}",
                    certificate::extension_name(*n)
                ),
                v.clone().into(),
            )
        })
        .collect();
    json!({
        "identity": id.subject(),
        "subject_alternative_names": id.names.iter().map(|n| n.as_str()).collect::<Vec<_>>(),
        "issuer": id.issuer(),
        "repository": id.repository(),
        "ref": id.git_ref(),
        "commit": id.commit(),
        "workflow": id.workflow(),
        "not_before": sigstore_bundle::trust::show_time(id.not_before),
        "not_after": sigstore_bundle::trust::show_time(id.not_after),
        "fulcio_extensions": extensions,
    })
}

fn print_text(
    args: &VerifyArgs,
    subject: &Digest,
    found: &Found,
    checked: &[Checked],
    signed_by: &Option<String>,
) {
    println!("{} → {subject}", args.reference);
    for c in checked {
        let types: Vec<&str> = c
            .layers
            .iter()
            .filter_map(|l| l.predicate_type.as_deref())
            .collect();
        println!(
            "attestation {} ({}, found in the {}, about {}{})",
            c.candidate.manifest,
            if types.is_empty() {
                "unread".to_string()
            } else {
                types.join(", ")
            },
            c.candidate.place.as_str(),
            c.candidate.subject,
            match (signed_by, c.layers.iter().find_map(|l| l.signer.as_ref())) {
                (Some(k), _) if c.ok() => format!(", signed by key {k}"),
                (None, Some(id)) if c.ok() => format!(
                    ", signed by certificate {}{}",
                    id.subject().unwrap_or("(no subject alternative name)"),
                    if args.trusted_root.is_some() {
                        ""
                    } else {
                        " (not checked against a trusted root)"
                    }
                ),
                _ => String::new(),
            }
        );
        let checks: Vec<&Check> = c
            .problems
            .iter()
            .chain(c.layers.iter().flat_map(|l| &l.checks))
            .collect();
        for k in checks {
            println!(
                "  {} {}: {}",
                if k.ok { "ok  " } else { "FAIL" },
                k.name,
                k.detail
            );
            if let Some(fix) = &k.fix {
                println!("       fix: {fix}");
            }
        }
        for line in c.layers.iter().flat_map(signer_lines) {
            println!("{line}");
        }
    }
    for (digest, why) in &found.ignored {
        println!("ignored {digest}: {why}");
    }
}

fn print_json(
    args: &VerifyArgs,
    subject: &Digest,
    found: &Found,
    checked: &[Checked],
    provenance: usize,
    signed_by: &Option<String>,
) -> Result<()> {
    let checks = |c: &[Check]| {
        c.iter()
            .map(|k| match &k.fix {
                Some(fix) => json!({"name": k.name, "ok": k.ok, "detail": k.detail, "fix": fix}),
                None => json!({"name": k.name, "ok": k.ok, "detail": k.detail}),
            })
            .collect::<Vec<_>>()
    };
    let doc = json!({
        "reference": args.reference,
        "digest": subject,
        "found_in": found.place.map(|p| p.as_str()).unwrap_or("nowhere"),
        "ok": provenance > 0,
        "verified_provenance": provenance,
        "key": signed_by,
        "attestations": checked.iter().map(|c| json!({
            "manifest": c.candidate.manifest,
            "found_in": c.candidate.place.as_str(),
            "subject": c.candidate.subject,
            "ok": c.ok(),
            "problems": checks(&c.problems),
            "statements": c.layers.iter().map(|l| json!({
                "predicate_type": l.predicate_type,
                "ok": l.ok(),
                "provenance": l.predicate_type.as_deref() == Some(PREDICATE_SLSA_PROVENANCE),
                "checks": checks(&l.checks),
                "signer": l.signer.as_ref().map(signer_json),
                "not_checked": l.not_checked,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "ignored": found.ignored.iter().map(|(d, why)| json!({"manifest": d, "why": why})).collect::<Vec<_>>(),
    });
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}
