//! `verify REF [--key PUB.pem] [--source-repo URL] [--json]`: finds an image's attestations
//! where standard tools look (the referrers API, then the `sha256-<hex>` fallback tag, then
//! BuildKit attestation manifests in the index) and checks each one.

use std::sync::Arc;

use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::attest::artifact::{attestation_referrers, in_index_attestations};
use crate::attest::sign::PublicKey;
use crate::attest::verify::{all_ok, verify_layer, Check, Expected};
use crate::attest::PREDICATE_SLSA_PROVENANCE;
use crate::cli::VerifyArgs;
use crate::oci::layout::Layout;
use crate::oci::reference::ImageRef;
use crate::oci::referrers::fallback_tag;
use crate::oci::{Descriptor, Digest, Index, Manifest};
use crate::registry::{self, Registry};
use crate::workspace::Workspace;

/// One attestation and what was checked of it.
struct Checked {
    manifest: Digest,
    found_in: &'static str,
    predicate_type: String,
    checks: Vec<Check>,
}

pub(super) fn verify(ws: &Workspace, args: &VerifyArgs, verbose: bool) -> Result<()> {
    let image =
        ImageRef::parse(&args.reference).map_err(|e| anyhow::anyhow!("{}: {e}", args.reference))?;
    let key = match &args.key {
        Some(path) => {
            let pem = std::fs::read_to_string(ws.path(path))
                .with_context(|| format!("--key {}: cannot read it", path.display()))?;
            Some(PublicKey::from_pem(&pem).with_context(|| {
                format!("--key {}: not a PEM ECDSA P-256 public key", path.display())
            })?)
        }
        None => None,
    };
    registry::install_crypto_provider();
    let settings = super::publish_options(ws, None)?.registry;
    let copts = registry::client_options(&settings)?;
    let progress = super::progress(verbose);
    let log_progress = progress.clone();
    let log: registry::Log = Arc::new(move |m: &str| log_progress.line(m));
    let rt = registry::runtime()?;
    let scratch = tempdir()?;
    let results = rt.block_on(async {
        let reg = registry::connect(&image.host, &image.api_host(), &copts, log)
            .await?
            .for_pull();
        let repo = &image.repository;
        let subject = match &image.digest {
            Some(d) => d.clone(),
            None => reg
                .manifest_digest(repo, &image.reference())
                .await?
                .with_context(|| format!("{} is not in its registry", args.reference))?,
        };
        let (found_in, entries) = find(&reg, repo, &subject).await?;
        let layout = Layout::create(&scratch)?;
        let mut out = Vec::new();
        for entry in entries {
            out.push(
                check(
                    &reg,
                    repo,
                    &layout,
                    &entry,
                    &subject,
                    key.as_ref(),
                    args,
                    found_in,
                )
                .await,
            );
        }
        Ok::<_, anyhow::Error>((subject, found_in, out))
    });
    let _ = std::fs::remove_dir_all(&scratch);
    let (subject, found_in, checked) = results?;
    let provenance = checked
        .iter()
        .any(|c| c.predicate_type == PREDICATE_SLSA_PROVENANCE && all_ok(&c.checks));
    let ok = !checked.is_empty() && provenance && checked.iter().all(|c| all_ok(&c.checks));
    if args.json {
        let doc = json!({
            "reference": args.reference,
            "digest": subject,
            "found_in": found_in,
            "ok": ok,
            "attestations": checked.iter().map(|c| json!({
                "manifest": c.manifest,
                "found_in": c.found_in,
                "predicate_type": c.predicate_type,
                "checks": c.checks.iter().map(|k| json!({"name": k.name, "ok": k.ok, "detail": k.detail})).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        println!("{} → {subject}", args.reference);
        for c in &checked {
            println!(
                "attestation {} ({}, {})",
                c.manifest, c.predicate_type, c.found_in
            );
            for k in &c.checks {
                println!(
                    "  {} {}: {}",
                    if k.ok { "ok  " } else { "FAIL" },
                    k.name,
                    k.detail
                );
            }
        }
    }
    if checked.is_empty() {
        bail!(
            "no attestation found for {} ({subject}): not in the referrers API, the {} fallback tag, or the index",
            args.reference,
            fallback_tag(&subject)
        );
    }
    if !provenance {
        bail!(
            "no valid SLSA provenance among the attestations of {}",
            args.reference
        );
    }
    if !ok {
        bail!("verification of {} failed (see above)", args.reference);
    }
    Ok(())
}

/// Where the attestations of `subject` are: their manifest descriptors.
async fn find(
    reg: &Registry,
    repo: &str,
    subject: &Digest,
) -> Result<(&'static str, Vec<Descriptor>)> {
    if let Some(index) = reg.referrers(repo, subject).await? {
        let found: Vec<Descriptor> = attestation_referrers(&index).into_iter().cloned().collect();
        if !found.is_empty() {
            return Ok(("referrers API", found));
        }
    }
    let fallback = reg.fallback_index(repo, &fallback_tag(subject)).await?;
    if let Some(index) = fallback.index {
        let found: Vec<Descriptor> = attestation_referrers(&index).into_iter().cloned().collect();
        if !found.is_empty() {
            return Ok(("fallback tag", found));
        }
    }
    // BuildKit's form: attestation manifests inside the index, one per platform manifest.
    let (_, bytes) = reg.get_manifest(repo, subject).await?;
    if let Ok(index) = serde_json::from_slice::<Index>(&bytes) {
        let mut found = Vec::new();
        for m in &index.manifests {
            found.extend(
                in_index_attestations(&index, &m.digest)
                    .into_iter()
                    .cloned(),
            );
        }
        if !found.is_empty() {
            return Ok(("image index", found));
        }
    }
    Ok(("nowhere", Vec::new()))
}

/// Fetches one attestation manifest and its layers, and checks them.
#[allow(clippy::too_many_arguments)]
async fn check(
    reg: &Registry,
    repo: &str,
    layout: &Layout,
    entry: &Descriptor,
    subject: &Digest,
    key: Option<&PublicKey>,
    args: &VerifyArgs,
    found_in: &'static str,
) -> Checked {
    let mut checked = Checked {
        manifest: entry.digest.clone(),
        found_in,
        predicate_type: entry
            .annotations
            .get("in-toto.io/predicate-type")
            .or_else(|| entry.annotations.get("dev.sigstore.bundle.predicateType"))
            .cloned()
            .unwrap_or_default(),
        checks: Vec::new(),
    };
    let fail = |name: &'static str, detail: String| Check {
        name,
        ok: false,
        detail,
    };
    let manifest: Manifest = match reg.get_manifest(repo, &entry.digest).await {
        Ok((_, bytes)) => match serde_json::from_slice(&bytes) {
            Ok(m) => m,
            Err(e) => {
                checked
                    .checks
                    .push(fail("manifest", format!("not an image manifest: {e}")));
                return checked;
            }
        },
        Err(e) => {
            checked.checks.push(fail("manifest", format!("{e:#}")));
            return checked;
        }
    };
    // For the in-index form the statements are about a platform manifest.
    let expected_subject = entry
        .annotations
        .get("vnd.docker.reference.digest")
        .and_then(|d| d.parse::<Digest>().ok())
        .unwrap_or_else(|| subject.clone());
    for layer in &manifest.layers {
        if let Err(e) = reg
            .download_blob(
                repo,
                &layer.digest,
                layer.size,
                &layer.media_type,
                layout,
                Arc::new(|_| {}),
            )
            .await
        {
            checked
                .checks
                .push(fail("layer digest", format!("{}: {e:#}", layer.digest)));
            continue;
        }
        let bytes = match layout.read_blob(&layer.digest) {
            Ok(b) => b,
            Err(e) => {
                checked.checks.push(fail("layer digest", format!("{e:#}")));
                continue;
            }
        };
        let checks = verify_layer(
            &manifest,
            &bytes,
            Expected {
                subject: &expected_subject,
                public_key: key,
                source_repository: args.source_repo.as_deref(),
            },
        );
        if checked.predicate_type.is_empty() {
            if let Some(p) = layer.annotations.get("in-toto.io/predicate-type") {
                checked.predicate_type = p.clone();
            }
        }
        checked.checks.extend(checks);
    }
    if manifest.layers.is_empty() {
        checked
            .checks
            .push(fail("layers", "the attestation has no layer".into()));
    }
    checked
}

fn tempdir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("stevedore-verify-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
