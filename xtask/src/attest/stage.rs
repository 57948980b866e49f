//! The attest stage of a release: for every image built, SLSA v1 provenance (and, for a native
//! `cargo-bin` image, an SPDX SBOM of the crates it links), signed into a Sigstore bundle when a
//! signing key is given, written into the OCI layout as referrers of the image index (and of
//! each platform manifest with `provenance-per-platform`), or as BuildKit attestation
//! manifests inside the index (`provenance = "index"`).

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result};

use super::artifact::{self, PlatformAttestations};
use super::dsse::Bundle;
use super::sign::EcdsaP256Signer;
use super::spdx::{self, SbomRequest};
use super::time::Timestamp;
use super::{
    cargo_deps, provenance, BaseImage, BuildFacts, BuilderKind, GithubContext, Source, Statement,
    Subject, PREDICATE_SLSA_PROVENANCE, PREDICATE_SPDX,
};
use crate::oci::layout::Layout;
use crate::oci::{Descriptor, Digest, Index, Manifest, ANNOTATION_REF_NAME, MEDIA_INDEX};
use crate::plan::{Builder, ImagePlan, Plan, ProvenanceMode};

/// How to attest.
#[derive(Clone, Default)]
pub struct AttestOptions {
    pub mode: ProvenanceMode,
    pub per_platform: bool,
    /// A PEM PKCS#8 ECDSA P-256 private key (`STEVEDORE_SIGNING_KEY` or `--signing-key`).
    pub signing_key: Option<String>,
    pub secret_args: BTreeSet<String>,
    /// The config file (relative to the workspace root) and the sha256 of its bytes.
    pub config_path: String,
    pub config_digest: Option<Digest>,
    /// The repository URL provenance names (no credentials, query or fragment).
    pub source_repository: String,
    pub github: Option<GithubContext>,
    /// When the release started (seconds since the epoch).
    pub started: i64,
}

impl std::fmt::Debug for AttestOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttestOptions")
            .field("mode", &self.mode)
            .field("per_platform", &self.per_platform)
            .field(
                "signing_key",
                &self.signing_key.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

/// One attestation written into the layout.
#[derive(Debug, Clone)]
pub struct Attestation {
    pub image: String,
    pub predicate_type: String,
    /// The referrer manifest's name in the layout (`None` for the in-index form).
    pub layout_name: Option<String>,
    pub subject: Digest,
    pub signed: bool,
}

/// What the stage did.
#[derive(Debug, Clone, Default)]
pub struct AttestReport {
    pub attestations: Vec<Attestation>,
    pub notes: Vec<String>,
}

/// Attests every image of `images` (`(plan, index in the layout)`) in `layout`.
pub fn attest(
    plan: &Plan,
    root: &Path,
    layout: &Layout,
    images: &[(&ImagePlan, Descriptor)],
    opts: &AttestOptions,
) -> Result<AttestReport> {
    let mut report = AttestReport::default();
    if opts.mode == ProvenanceMode::Off {
        return Ok(report);
    }
    let signer = match &opts.signing_key {
        Some(pem) => Some(EcdsaP256Signer::from_pkcs8_pem(pem).context(
            "the signing key (STEVEDORE_SIGNING_KEY or --signing-key) is not a PEM PKCS#8 ECDSA P-256 private key",
        )?),
        None => None,
    };
    let created = plan.git.build_date.clone();
    for (image, index_desc) in images {
        let mut subject_desc = index_desc.clone();
        subject_desc.annotations.remove(ANNOTATION_REF_NAME);
        let index: Index = layout.read_json(&subject_desc.digest)?;
        let facts = facts(plan, root, image, layout, &index, opts)?;
        let name = image
            .targets
            .first()
            .map(|t| {
                let host = t.registry.split('/').next().unwrap_or_default();
                format!("{host}/{}", t.repository)
            })
            .unwrap_or_else(|| "_".into());
        // Statements per subject: the index, and each platform manifest when asked.
        let mut subjects = vec![(subject_desc.clone(), None)];
        if opts.per_platform || opts.mode.index() {
            for m in &index.manifests {
                let platform = m
                    .platform
                    .as_ref()
                    .map(|p| format!("{}-{}", p.os, p.architecture))
                    .unwrap_or_default();
                subjects.push((m.clone(), Some(platform)));
            }
        }
        let sbom_needed =
            matches!(&image.builder, Builder::Native(n) if n.native.cargo_bin.is_some());
        let mut in_index: Vec<PlatformAttestations> = Vec::new();
        for (desc, platform) in &subjects {
            let subject = Subject {
                name: name.clone(),
                digest: desc.digest.clone(),
            };
            let mut statements = vec![provenance::statement(&subject, &facts)?];
            if sbom_needed {
                match sbom(
                    plan,
                    root,
                    image,
                    &subject,
                    desc,
                    platform.as_deref(),
                    layout,
                ) {
                    Ok(s) => statements.push(s),
                    Err(e) => report
                        .notes
                        .push(format!("image {}: no SBOM attached: {e:#}", image.name)),
                }
            }
            let is_platform = platform.is_some();
            if is_platform && opts.mode.index() {
                in_index.push(PlatformAttestations {
                    manifest: desc.digest.clone(),
                    statements: statements.clone(),
                });
            }
            let referrer = opts.mode.referrers() && (!is_platform || opts.per_platform);
            if !referrer {
                continue;
            }
            for statement in &statements {
                let kind = if statement.predicate_type == PREDICATE_SLSA_PROVENANCE {
                    "provenance"
                } else if statement.predicate_type == PREDICATE_SPDX {
                    "sbom"
                } else {
                    "statement"
                };
                let layout_name = format!(
                    "attest/{}/{kind}{}:{}",
                    image.name,
                    platform
                        .as_deref()
                        .map(|p| format!("-{p}"))
                        .unwrap_or_default(),
                    plan.version
                );
                // A re-run of the same release reuses what it attested (its time stamps and
                // signature would differ), so the fallback index gains no duplicate.
                if !reusable(layout, &layout_name, &desc.digest, signer.is_some()) {
                    let art = match &signer {
                        Some(signer) => {
                            let bundle = Bundle::sign_statement(signer, &statement.to_bytes())?;
                            artifact::bundle_referrer(
                                desc,
                                &bundle,
                                &statement.predicate_type,
                                &created,
                            )
                        }
                        None => artifact::statement_referrer(desc, statement, &created),
                    };
                    write(layout, &art, &layout_name)?;
                }
                report.attestations.push(Attestation {
                    image: image.name.clone(),
                    predicate_type: statement.predicate_type.clone(),
                    layout_name: Some(layout_name),
                    subject: desc.digest.clone(),
                    signed: signer.is_some(),
                });
            }
        }
        if opts.mode.index() && !in_index.is_empty() {
            let added = artifact::add_in_index(&index, &in_index)?;
            for (d, bytes) in &added.blobs {
                layout.write_blob(&d.media_type, bytes)?;
            }
            let mut new_index = added.index;
            new_index.annotations = index.annotations.clone();
            let desc = layout.write_json(MEDIA_INDEX, &new_index)?;
            layout.set_ref(&image.layout_name, &desc)?;
            for p in &in_index {
                for s in &p.statements {
                    report.attestations.push(Attestation {
                        image: image.name.clone(),
                        predicate_type: s.predicate_type.clone(),
                        layout_name: None,
                        subject: p.manifest.clone(),
                        signed: false,
                    });
                }
            }
        }
    }
    Ok(report)
}

/// Whether the layout already holds, under `name`, a referrer of `subject` of the same kind
/// (signed or not) with every blob intact.
fn reusable(layout: &Layout, name: &str, subject: &Digest, signed: bool) -> bool {
    let Ok(desc) = layout.resolve(name) else {
        return false;
    };
    let Ok(m) = layout.read_json::<Manifest>(&desc.digest) else {
        return false;
    };
    let same_kind = m.artifact_type.as_deref()
        == Some(if signed {
            super::MEDIA_SIGSTORE_BUNDLE
        } else {
            super::MEDIA_IN_TOTO
        });
    same_kind
        && m.subject.as_ref().map(|s| &s.digest) == Some(subject)
        && m.layers
            .iter()
            .chain(std::iter::once(&m.config))
            .all(|d| layout.has_intact_blob(&d.digest).unwrap_or(false))
}

/// Writes a referrer's blobs and manifest into `layout`, named `name`.
fn write(layout: &Layout, art: &artifact::Artifact, name: &str) -> Result<()> {
    for (d, bytes) in &art.blobs {
        layout.write_blob(&d.media_type, bytes)?;
    }
    layout.write_blob(&art.descriptor.media_type, &art.manifest_bytes)?;
    layout.set_ref(name, &art.descriptor)
}

/// The provenance facts of `image`.
fn facts(
    plan: &Plan,
    root: &Path,
    image: &ImagePlan,
    layout: &Layout,
    index: &Index,
    opts: &AttestOptions,
) -> Result<BuildFacts> {
    let git_ref = match serde_json::to_value(&plan.git.git_ref)? {
        v if v["kind"] == "tag" => format!("refs/tags/{}", v["name"].as_str().unwrap_or_default()),
        v if v["kind"] == "branch" => {
            format!("refs/heads/{}", v["name"].as_str().unwrap_or_default())
        }
        v if v["kind"] == "pull_request" => {
            format!(
                "refs/pull/{}/merge",
                v["number"].as_u64().unwrap_or_default()
            )
        }
        _ => plan.git.sha.clone(),
    };
    let (builder_kind, builder_version) = match &image.builder {
        Builder::Native(_) => (
            BuilderKind::Native,
            format!("stevedore {}", env!("CARGO_PKG_VERSION")),
        ),
        Builder::Dockerfile { driver, .. } => {
            let buildx = serde_json::to_value(driver)? == "buildx";
            if buildx {
                (BuilderKind::Buildx, "docker buildx".to_string())
            } else {
                (BuilderKind::Buildah, "buildah".to_string())
            }
        }
    };
    // Base images, as the native builder annotates platform manifests.
    let mut base_images = Vec::new();
    for d in &index.manifests {
        let Ok(m) = layout.read_json::<Manifest>(&d.digest) else {
            continue;
        };
        let (Some(name), Some(digest)) = (
            m.annotations.get("org.opencontainers.image.base.name"),
            m.annotations.get("org.opencontainers.image.base.digest"),
        ) else {
            continue;
        };
        let Ok(digest) = digest.parse::<Digest>() else {
            continue;
        };
        base_images.push(BaseImage {
            reference: name.clone(),
            digest,
            platform: d
                .platform
                .as_ref()
                .map(|p| format!("{}/{}", p.os, p.architecture))
                .unwrap_or_default(),
        });
    }
    let cargo_lock_digest = match &image.builder {
        Builder::Native(n) if n.native.cargo_bin.is_some() => {
            std::fs::read(root.join("Cargo.lock"))
                .ok()
                .map(|b| Digest::of(&b))
        }
        _ => None,
    };
    Ok(BuildFacts {
        source: Source {
            repository: opts.source_repository.clone(),
            git_ref,
            commit: plan.git.sha.clone(),
        },
        config_path: opts.config_path.clone(),
        config_digest: opts
            .config_digest
            .clone()
            .unwrap_or_else(|| Digest::of(b"")),
        image_name: image.name.clone(),
        platforms: image.platforms.iter().map(|p| p.to_string()).collect(),
        builder_kind,
        builder_version,
        build_args: image.build_args.clone(),
        secret_args: opts.secret_args.clone(),
        base_images,
        cargo_lock_digest,
        github: opts.github.clone(),
        started_on: Timestamp::Unix(opts.started),
        finished_on: Timestamp::Unix(now()),
    })
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// The SPDX SBOM of a `cargo-bin` image, for the Rust target of `platform` (the first
/// platform's for the index).
fn sbom(
    plan: &Plan,
    root: &Path,
    image: &ImagePlan,
    subject: &Subject,
    desc: &Descriptor,
    platform: Option<&str>,
    layout: &Layout,
) -> Result<Statement> {
    let Builder::Native(spec) = &image.builder else {
        anyhow::bail!("not a native image");
    };
    let bin = spec.native.cargo_bin.as_deref().unwrap_or_default();
    // The platform whose Rust target the SBOM describes.
    let platform = match platform {
        Some(_) => desc.platform.as_ref().map(|p| {
            crate::oci::platform::Platform::new(&p.os, &p.architecture, p.variant.as_deref())
        }),
        None => {
            let index: Index = layout.read_json(&desc.digest)?;
            index.manifests.first().and_then(|m| {
                m.platform.as_ref().map(|p| {
                    crate::oci::platform::Platform::new(
                        &p.os,
                        &p.architecture,
                        p.variant.as_deref(),
                    )
                })
            })
        }
    }
    .context("the image has no platform")?;
    let target = spec
        .native
        .targets
        .get(&platform.to_string())
        .cloned()
        .or_else(|| default_target(&platform))
        .context("no Rust target for the platform")?;
    let metadata = cargo_deps::cargo_metadata(
        &root.join("Cargo.toml"),
        &target,
        spec.native.package.as_deref(),
        &spec.native.features,
    )?;
    let cargo_lock =
        std::fs::read_to_string(root.join("Cargo.lock")).context("cannot read Cargo.lock")?;
    let cfg = cargo_deps::rustc_cfg(&target)?;
    let created = Timestamp::Unix(plan.git.source_date_epoch);
    spdx::statement(&SbomRequest {
        metadata_json: &metadata,
        cargo_lock: &cargo_lock,
        package: spec.native.package.as_deref(),
        bin,
        target: &target,
        target_cfg: &cfg,
        subject,
        document_name: &image.name,
        created: &created,
        tool_version: env!("CARGO_PKG_VERSION"),
        source: None,
    })
}

/// The Rust target stevedore builds `platform` for by default.
fn default_target(platform: &crate::oci::platform::Platform) -> Option<String> {
    let t = match (platform.os.as_str(), platform.arch.as_str()) {
        ("linux", "amd64") => "x86_64-unknown-linux-gnu",
        ("linux", "arm64") => "aarch64-unknown-linux-gnu",
        ("linux", "arm") => "armv7-unknown-linux-gnueabihf",
        _ => return None,
    };
    Some(t.to_string())
}
