//! `verify REF [--key PUB.pem] [--source-repo URL] [--json]`: resolves the image to one digest,
//! finds its attestations where standard tools look (the referrers API, then the
//! `sha256-<hex>` fallback tag, then BuildKit attestation manifests in the index) and checks
//! each one. Runs anywhere: inside a workspace it also reads the config's registry settings.

use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::attest::discover::{self, Checked, Found};
use crate::attest::sign::PublicKey;
use crate::attest::verify::Check;
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
        let needs = match (&signed_by, &args.source_repo) {
            (Some(k), Some(r)) => format!(" signed with key {k} and naming {r}"),
            (Some(k), None) => format!(" signed with key {k}"),
            (None, Some(r)) => format!(" naming {r}"),
            (None, None) => String::new(),
        };
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
            match signed_by {
                Some(k) if c.ok() => format!(", signed by key {k}"),
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
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "ignored": found.ignored.iter().map(|(d, why)| json!({"manifest": d, "why": why})).collect::<Vec<_>>(),
    });
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}
