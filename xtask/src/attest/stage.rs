//! The attest stage of a release: for every image built, SLSA v1 provenance and an SPDX SBOM
//! (for a native `cargo-bin` image, of the crates it links; for any other image, syft's scan of
//! the image, see [`super::syft`]), signed into a Sigstore bundle when a signing key is given, written into the OCI layout as referrers of the image index (and of
//! each platform manifest with `provenance-per-platform`), or as BuildKit attestation
//! manifests inside the index (`provenance = "index"`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use super::artifact::{self, PlatformAttestations};
use super::dsse::Bundle;
use super::sign::EcdsaP256Signer;
use super::spdx::{self, SbomRequest};
use super::time::Timestamp;
use super::{
    cargo_deps, provenance, syft, BaseImage, BuildFacts, BuilderKind, GithubContext, Source,
    Statement, Subject, PREDICATE_SLSA_PROVENANCE, PREDICATE_SPDX,
};
use crate::oci::layout::Layout;
use crate::oci::{Descriptor, Digest, Index, Manifest, ANNOTATION_REF_NAME, MEDIA_INDEX};
use crate::plan::handoff::{Content, LayoutEntry};
use crate::plan::{Builder, ImagePlan, Plan, ProvenanceMode, SbomMode};
use crate::progress::Sink;

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
    /// `release.sbom`: where SBOMs come from.
    pub sbom: SbomMode,
    /// syft's output per platform manifest, made already (by the matrix jobs that built
    /// them): used instead of a scan, so `merge` attaches the SBOM the job made.
    pub scans: BTreeMap<Digest, Vec<u8>>,
    /// The run as the matrix jobs recorded it (`merge`); `None`: this process built.
    pub run: Option<RunFacts>,
}

/// What the matrix jobs of a `merge` recorded of their builds.
#[derive(Debug, Clone, Default)]
pub struct RunFacts {
    /// When the last job finished (seconds since the epoch); the start is
    /// [`AttestOptions::started`].
    pub finished: i64,
    /// Image name → the builder version its jobs recorded.
    pub builder_versions: BTreeMap<String, String>,
}

impl AttestOptions {
    /// Refuses what would quietly not do as asked: a signing key with `provenance = "index"`,
    /// whose BuildKit form holds unsigned in-toto Statements only.
    pub fn check(&self) -> Result<()> {
        if self.mode == ProvenanceMode::Index && self.signing_key.is_some() {
            anyhow::bail!(
                "release.provenance = \"index\" cannot be signed: BuildKit's in-index attestations are unsigned in-toto Statements, so the signing key (STEVEDORE_SIGNING_KEY or --signing-key) would be ignored. Set provenance = \"referrers\" (signed, read by `verify --key` and cosign) or \"both\" (signed referrers plus unsigned in-index copies), or release without a key"
            );
        }
        Ok(())
    }
}

impl std::fmt::Debug for AttestOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttestOptions")
            .field("mode", &self.mode)
            .field("per_platform", &self.per_platform)
            .field("sbom", &self.sbom)
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
    /// What a release would want to know it lacks (images without an SBOM, and the fix).
    pub warnings: Vec<String>,
    /// What the stage put into the layout, for publish: every referrer attestation, and the
    /// image indexes the in-index form rewrote.
    pub entries: Vec<LayoutEntry>,
}

/// Where an image's SBOM comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SbomSource {
    /// The crates a `cargo-bin` binary links.
    Cargo,
    /// syft's scan of the image.
    Syft,
    /// None (`sbom = "off"`, or provenance off).
    None,
}

/// The SBOM source of `image` under `provenance` and `sbom` (syft's presence aside).
pub fn sbom_source(image: &ImagePlan, provenance: ProvenanceMode, sbom: SbomMode) -> SbomSource {
    if provenance == ProvenanceMode::Off || sbom == SbomMode::Off {
        return SbomSource::None;
    }
    match &image.builder {
        Builder::Native(n) if n.native.cargo_bin.is_some() => SbomSource::Cargo,
        _ => SbomSource::Syft,
    }
}

/// The images of `plan` whose SBOM syft would make.
pub fn syft_images(plan: &Plan, provenance: ProvenanceMode, sbom: SbomMode) -> Vec<&str> {
    plan.images
        .iter()
        .filter(|i| sbom_source(i, provenance, sbom) == SbomSource::Syft)
        .map(|i| i.name.as_str())
        .collect()
}

/// Before anything is built: with `sbom = "syft"`, syft must be on PATH when an image needs it.
pub fn preflight(plan: &Plan, opts: &AttestOptions) -> Result<()> {
    if opts.sbom != SbomMode::Syft {
        return Ok(());
    }
    let images = syft_images(plan, opts.mode, opts.sbom);
    if images.is_empty() || syft::available() {
        return Ok(());
    }
    bail!(
        "{}: release.sbom = \"syft\" and syft is not on PATH: it makes the SBOM of {}. \
         Install it ({}), or set sbom = \"auto\" (no SBOM without syft) or \"off\"",
        opts.config_path,
        images.join(", "),
        syft::INSTALL
    )
}

/// For `doctor`: the images whose SBOM syft would make, and syft's version, or `None` when it
/// is not on PATH. `None` when no image needs it.
pub fn syft_availability(
    plan: &Plan,
    provenance: ProvenanceMode,
    sbom: SbomMode,
) -> Option<(Vec<String>, Option<String>)> {
    let images: Vec<String> = syft_images(plan, provenance, sbom)
        .into_iter()
        .map(String::from)
        .collect();
    if images.is_empty() {
        return None;
    }
    let version = if syft::available() {
        Some(syft::version().unwrap_or_else(|| "(version unknown)".into()))
    } else {
        None
    };
    Some((images, version))
}

/// Attests every image of `images` (`(plan, index in the layout)`) in `layout`.
pub fn attest(
    plan: &Plan,
    root: &Path,
    layout: &Layout,
    images: &[(&ImagePlan, Descriptor)],
    opts: &AttestOptions,
    log: &dyn Sink,
) -> Result<AttestReport> {
    let mut report = AttestReport::default();
    if opts.mode == ProvenanceMode::Off {
        return Ok(report);
    }
    opts.check()?;
    let signer = match &opts.signing_key {
        Some(pem) => Some(EcdsaP256Signer::from_pkcs8_pem(pem).context(
            "the signing key (STEVEDORE_SIGNING_KEY or --signing-key) is not a PEM PKCS#8 ECDSA P-256 private key",
        )?),
        None => None,
    };
    let created = plan.git.build_date.clone();
    let syft_on_path = syft::available();
    let mut without_sbom = Vec::new();
    for (image, index_desc) in images {
        let mut subject_desc = index_desc.clone();
        subject_desc.annotations.remove(ANNOTATION_REF_NAME);
        let index: Index = layout.read_json(&subject_desc.digest)?;
        let facts = facts(plan, root, image, layout, &index, opts)?;
        let name = image
            .targets
            .first()
            .map(|t| t.name())
            .unwrap_or_else(|| "_".into());
        let subjects = subjects_of(&subject_desc, &index, opts);
        // syft's output per platform manifest (the index's SBOM is its first platform's),
        // starting with what the matrix jobs made.
        let mut scans = premade_scans(&index, opts);
        let source = match sbom_source(image, opts.mode, opts.sbom) {
            SbomSource::Syft if !syft_on_path && scans.is_empty() => {
                without_sbom.push(image.name.as_str());
                SbomSource::None
            }
            s => s,
        };
        let mut in_index: Vec<PlatformAttestations> = Vec::new();
        for (desc, platform) in &subjects {
            let subject = Subject {
                name: name.clone(),
                digest: desc.digest.clone(),
            };
            let is_platform = platform.is_some();
            let referrer = opts.mode.referrers() && (!is_platform || opts.per_platform);
            let mut statements = vec![provenance::statement(&subject, &facts)?];
            let mut reused_sbom = None;
            if source == SbomSource::Syft {
                let sbom_name = plan.attestation_layout_name(image, "sbom", platform.as_deref());
                // A scan takes seconds: an SBOM already in the layout is not made again.
                if referrer
                    && !(is_platform && opts.mode.index())
                    && reusable(layout, &sbom_name, &desc.digest, signer.is_some())
                {
                    reused_sbom = Some(sbom_name);
                } else {
                    let scan = SyftScan {
                        plan,
                        root,
                        image,
                        name: &name,
                        layout,
                        log,
                    };
                    match scan.statement(&subject, desc, platform.as_deref(), &mut scans) {
                        Ok(s) => statements.push(s),
                        Err(e) if opts.sbom == SbomMode::Syft => {
                            return Err(e.context(format!(
                                "image {}: the SBOM (release.sbom = \"syft\")",
                                image.name
                            )))
                        }
                        Err(e) => report
                            .notes
                            .push(format!("image {}: no SBOM attached: {e:#}", image.name)),
                    }
                }
            }
            if source == SbomSource::Cargo {
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
            if is_platform && opts.mode.index() {
                in_index.push(PlatformAttestations {
                    manifest: desc.digest.clone(),
                    statements: statements.clone(),
                });
            }
            if !referrer {
                continue;
            }
            if let Some(layout_name) = reused_sbom {
                report.attestations.push(Attestation {
                    image: image.name.clone(),
                    predicate_type: PREDICATE_SPDX.into(),
                    layout_name: Some(layout_name),
                    subject: desc.digest.clone(),
                    signed: signer.is_some(),
                });
            }
            write_referrers(
                layout,
                image,
                desc,
                platform.as_deref(),
                &statements,
                &Signing {
                    signer: signer.as_ref(),
                    created: &created,
                    plan,
                },
                &mut report,
            )?;
        }
        if opts.mode.index() && !in_index.is_empty() {
            write_in_index(layout, image, &index, &in_index, &mut report)?;
        }
    }
    if !without_sbom.is_empty() {
        report.warnings.push(format!(
            "no SBOM for {}: syft is not on PATH (release.sbom = \"auto\"): {}, or set sbom = \"off\" in [release]",
            without_sbom.join(", "),
            syft::INSTALL
        ));
    }
    let referrers = referrer_entries(plan, layout, &report)?;
    report.entries.extend(referrers);
    Ok(report)
}

/// syft's output the matrix jobs made of the platform manifests of `index`.
fn premade_scans(index: &Index, opts: &AttestOptions) -> BTreeMap<Digest, Vec<u8>> {
    index
        .manifests
        .iter()
        .filter_map(|m| Some((m.digest.clone(), opts.scans.get(&m.digest)?.clone())))
        .collect()
}

/// The referrer attestations of `report` as layout entries, to each target of their image.
fn referrer_entries(
    plan: &Plan,
    layout: &Layout,
    report: &AttestReport,
) -> Result<Vec<LayoutEntry>> {
    let mut out = Vec::new();
    for a in &report.attestations {
        let (Some(name), Some(image)) = (&a.layout_name, plan.image(&a.image)) else {
            continue;
        };
        out.push(LayoutEntry {
            layout_name: name.clone(),
            descriptor: layout.resolve(name)?,
            content: Content::Attestation {
                image: image.name.clone(),
            },
            targets: image.targets.clone(),
        });
    }
    Ok(out)
}

/// Statements per subject: the index, and each platform manifest (with its `os-arch`) when
/// asked.
fn subjects_of(
    subject_desc: &Descriptor,
    index: &Index,
    opts: &AttestOptions,
) -> Vec<(Descriptor, Option<String>)> {
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
    subjects
}

/// How the referrers of a release are signed and stamped.
struct Signing<'a> {
    signer: Option<&'a EcdsaP256Signer>,
    created: &'a str,
    /// The author of the attestations' layout names.
    plan: &'a Plan,
}

/// Writes each statement about `desc` into the layout as a referrer (signed when there is a
/// signer), reusing one a re-run of the same release wrote already.
fn write_referrers(
    layout: &Layout,
    image: &ImagePlan,
    desc: &Descriptor,
    platform: Option<&str>,
    statements: &[Statement],
    signing: &Signing,
    report: &mut AttestReport,
) -> Result<()> {
    for statement in statements {
        let kind = if statement.predicate_type == PREDICATE_SLSA_PROVENANCE {
            "provenance"
        } else if statement.predicate_type == PREDICATE_SPDX {
            "sbom"
        } else {
            "statement"
        };
        let layout_name = signing.plan.attestation_layout_name(image, kind, platform);
        // A re-run of the same release reuses what it attested (its time stamps and
        // signature would differ), so the fallback index gains no duplicate.
        if !reusable(layout, &layout_name, &desc.digest, signing.signer.is_some()) {
            let art = match signing.signer {
                Some(signer) => {
                    let bundle = Bundle::sign_statement(signer, &statement.to_bytes())?;
                    artifact::bundle_referrer(
                        desc,
                        &bundle,
                        &statement.predicate_type,
                        signing.created,
                    )
                }
                None => artifact::statement_referrer(desc, statement, signing.created),
            };
            write(layout, &art, &layout_name)?;
        }
        report.attestations.push(Attestation {
            image: image.name.clone(),
            predicate_type: statement.predicate_type.clone(),
            layout_name: Some(layout_name),
            subject: desc.digest.clone(),
            signed: signing.signer.is_some(),
        });
    }
    Ok(())
}

/// Adds the platforms' statements to the image index itself (BuildKit's in-index form) and
/// points the image's layout name at the new index.
fn write_in_index(
    layout: &Layout,
    image: &ImagePlan,
    index: &Index,
    in_index: &[PlatformAttestations],
    report: &mut AttestReport,
) -> Result<()> {
    let added = artifact::add_in_index(index, in_index)?;
    for (d, bytes) in &added.blobs {
        layout.write_blob(&d.media_type, bytes)?;
    }
    let mut new_index = added.index;
    new_index.annotations = index.annotations.clone();
    let desc = layout.write_json(MEDIA_INDEX, &new_index)?;
    layout.set_ref(&image.layout_name, &desc)?;
    report.entries.push(LayoutEntry {
        layout_name: image.layout_name.clone(),
        descriptor: desc,
        content: Content::Image {
            image: image.name.clone(),
        },
        targets: image.targets.clone(),
    });
    for p in in_index {
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
    Ok(())
}

/// What a syft SBOM of one image needs.
struct SyftScan<'a> {
    plan: &'a Plan,
    root: &'a Path,
    image: &'a ImagePlan,
    /// The image's name in the statements (`ghcr.io/o/app`).
    name: &'a str,
    layout: &'a Layout,
    log: &'a dyn Sink,
}

impl SyftScan<'_> {
    /// The SBOM statement about `subject` (`desc`: the index, or the platform manifest of
    /// `platform`): syft's scan of that manifest, or of the index's first platform manifest.
    /// `scans` keeps syft's output per manifest, so one manifest is scanned once.
    fn statement(
        &self,
        subject: &Subject,
        desc: &Descriptor,
        platform: Option<&str>,
        scans: &mut BTreeMap<Digest, Vec<u8>>,
    ) -> Result<Statement> {
        let manifest = match platform {
            Some(_) => desc.clone(),
            None => {
                let index: Index = self.layout.read_json(&desc.digest)?;
                index
                    .manifests
                    .into_iter()
                    .find(|m| {
                        m.platform
                            .as_ref()
                            .is_some_and(|p| p.os != "unknown" && p.architecture != "unknown")
                    })
                    .context("the image index lists no platform manifest")?
            }
        };
        let shown = manifest
            .platform
            .as_ref()
            .map(|p| p.to_platform().to_string())
            .unwrap_or_default();
        if !scans.contains_key(&manifest.digest) {
            let started = Instant::now();
            let raw = syft::scan(
                self.layout,
                &manifest,
                self.name,
                &self.root.join("target/stevedore/tmp"),
                &format!("syft {} {shown}", self.image.name),
                self.log,
            )?;
            self.log.line(&format!(
                "[{} {shown}] SBOM by syft in {}",
                self.image.name,
                crate::progress::human_duration(started.elapsed())
            ));
            scans.insert(manifest.digest.clone(), raw);
        }
        let doc = syft::normalise(
            &scans[&manifest.digest],
            &self.image.name,
            subject,
            &Timestamp::Unix(self.plan.git.source_date_epoch),
            env!("CARGO_PKG_VERSION"),
        )?;
        Ok(Statement::new(subject, PREDICATE_SPDX, doc))
    }
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
    let (builder_kind, mut builder_version) = builder_of(image)?;
    if let Some(v) = opts
        .run
        .as_ref()
        .and_then(|r| r.builder_versions.get(&image.name))
    {
        builder_version = v.clone();
    }
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
        finished_on: Timestamp::Unix(opts.run.as_ref().map_or_else(now, |r| r.finished)),
    })
}

/// The builder of `image` and its version, as provenance names them.
pub fn builder_of(image: &ImagePlan) -> Result<(BuilderKind, String)> {
    Ok(match &image.builder {
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
