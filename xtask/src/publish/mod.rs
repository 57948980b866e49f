//! Publish: what the layout holds, to every registry of the plan, never half-tagged.
//!
//! Order, for every image × registry: first one `HEAD` says whether the registry holds the
//! index already (a non-floating tag naming it, or the index by digest: see [`present`]); if
//! it does, nothing under it is asked about. Otherwise the blobs the registry lacks (HEAD
//! first; a blob that is also going to another repository of the same registry is uploaded
//! once and mounted into the others), then the platform manifests by digest, then the index
//! by digest. Only when every image reached every registry: the tags (each read once, one
//! manifest PUT per tag that names something else, the same bytes). So a release that changed
//! nothing costs one request per tag per registry.
//! If anything fails, no tag moves anywhere; what was pushed stays (by digest, harmless) and a
//! re-run skips it.
//!
//! Matrix builds: `push --by-digest` pushes blobs and platform manifests only and writes a
//! digest file; `merge FILES…` assembles each image's index from the digest files (the
//! platform manifests must already be in every registry) and then moves the tags, with the
//! same all-or-nothing rule. The release's `merge` ([`merged_index`], then
//! [`publish_merged`] of what the attest and compose stages wrote) does the same with the
//! attestations and compose artifacts of a single-job release.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::oci::layout::Layout;
use crate::oci::{self, Descriptor, Digest, Index};
use crate::plan::handoff::{Content, LayoutEntry};
use crate::plan::{ImagePlan, Plan};
use crate::progress::Shared;
use crate::registry::{self, Registry};

mod present;
mod push_session;
mod record_referrers;
mod scheduler;
mod secrets;
mod tags;
mod unit;

use unit::{load_artifact, load_image, load_image_at, platform_label, Doc, Target, Unit};

/// An artifact of the layout published beside the images (a compose artifact, an
/// attestation): its manifest named `layout_name`, to one repository of one registry.
#[derive(Debug, Clone)]
struct Artifact {
    pub layout_name: String,
    /// Pushed instead where the registry refuses the first form (compose's OCI 1.0 form).
    pub fallback_layout_name: Option<String>,
    pub target: crate::plan::PushTarget,
    /// Whether the release's tags move to it (a compose artifact); an attestation has none:
    /// it is found through its `subject` (referrers API or the `sha256-<hex>` fallback tag).
    pub tagged: bool,
}

/// Version of the digest file and metadata file shapes.
pub const SCHEMA: u32 = 1;

/// How to publish.
#[derive(Debug, Clone)]
pub struct PublishOptions {
    /// Concurrent requests per registry (`release.concurrency`).
    pub concurrency: usize,
    /// Push blobs and platform manifests only (no index, no tags) and write `digest_file`.
    pub by_digest: bool,
    pub digest_file: Option<PathBuf>,
    pub metadata_file: Option<PathBuf>,
    /// `merge --allow-partial`: an image may lack some of its configured platforms.
    pub allow_partial: bool,
    /// Floating tags (`latest`, branch, `1`, `1.2`) and how to tell whether the commit a
    /// registry's tag holds now is newer than the release: such a tag is left where it is.
    pub floating: Option<FloatingTags>,
    /// The run's registry session: its runtime and one client per registry.
    pub registry: Arc<registry::Clients>,
}

impl Default for PublishOptions {
    fn default() -> Self {
        PublishOptions {
            concurrency: 4,
            by_digest: false,
            digest_file: None,
            metadata_file: None,
            allow_partial: false,
            floating: None,
            registry: Default::default(),
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub schema: u32,
    pub version: String,
    pub images: BTreeMap<String, PushedImage>,
    /// Artifacts pushed beside the images (compose artifacts), by `host/repository`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub artifacts: BTreeMap<String, PushedImage>,
    pub uploads: Uploads,
    pub manifests_pushed: u64,
    pub tags_moved: u64,
    pub tags_unchanged: u64,
    /// Floating tags left where they were, and why (`host/repo:tag: …`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags_kept: Vec<String>,
    #[serde(skip)]
    pub elapsed: Duration,
}

/// What a floating tag's current commit says about moving it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagDecision {
    Move,
    /// Leave it: why (a newer commit, an unknown one).
    Keep(String),
}

/// The floating tags of a release and the judge of the commit each currently names.
#[derive(Clone)]
pub struct FloatingTags {
    pub tags: std::collections::BTreeSet<String>,
    /// Given the `org.opencontainers.image.revision` a tag holds now (`None`: the image has
    /// none), whether this release may move it.
    pub judge: TagJudge,
}

/// Judges the revision a floating tag holds now.
pub type TagJudge = Arc<dyn Fn(Option<&str>) -> TagDecision + Send + Sync>;

impl std::fmt::Debug for FloatingTags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FloatingTags")
            .field("tags", &self.tags)
            .finish()
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Uploads {
    /// Blobs uploaded, and their bytes.
    pub pushed: u64,
    pub bytes: u64,
    /// Blob bytes sent over the network, including tries that failed and were sent again
    /// (`sent - bytes` is what faults cost).
    pub sent: u64,
    /// Blobs mounted from another repository of the same registry.
    pub mounted: u64,
    /// Blobs the registry already had.
    pub exists: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct PushedImage {
    /// The index digest (or the manifest digest for a single-manifest image).
    pub digest: Option<Digest>,
    pub media_type: String,
    /// Platform → manifest digest.
    pub platforms: BTreeMap<String, Digest>,
    /// Every reference pushed: `host/repo@digest` per registry, then `host/repo:tag`.
    pub references: Vec<String>,
}

/// The digest file of `push --by-digest`, read by `merge`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DigestFile {
    pub schema: u32,
    pub version: String,
    /// Image name → its platform manifests (descriptors with `platform`).
    pub images: BTreeMap<String, Vec<Descriptor>>,
}

/// The session's client for every registry host of the plan, connected all at once.
async fn connect_all(
    images: &[&ImagePlan],
    artifacts: &[Artifact],
    opts: &PublishOptions,
    progress: &Shared,
) -> Result<HashMap<String, Arc<Registry>>> {
    let mut hosts: Vec<(String, String)> = Vec::new();
    let targets = images
        .iter()
        .flat_map(|i| i.targets.iter())
        .chain(artifacts.iter().map(|a| &a.target));
    for t in targets {
        if !hosts.iter().any(|(name, _)| name == t.host()) {
            hosts.push((t.host().to_string(), t.api_host.clone()));
        }
    }
    let connected = futures_util::future::join_all(hosts.iter().map(|(name, api_host)| {
        opts.registry
            .client(name, api_host, registry::Operation::Push)
    }))
    .await;
    let mut out = HashMap::new();
    for ((name, _), reg) in hosts.into_iter().zip(connected) {
        let reg = reg?;
        progress.verbose(&format!(
            "registry {name}: {}://{}, credentials: {}{}",
            reg.scheme(),
            reg.api_host,
            reg.creds.source,
            reg.creds
                .user()
                .map(|u| format!(" (user {u})"))
                .unwrap_or_default()
        ));
        out.insert(name, reg);
    }
    Ok(out)
}

fn targets_of(img: &ImagePlan, regs: &HashMap<String, Arc<Registry>>) -> Vec<Target> {
    img.targets
        .iter()
        .map(|t| Target {
            registry: regs[t.host()].clone(),
            repo: t.repository.clone(),
            display: t.name(),
            target: t.clone(),
        })
        .collect()
}

/// The images of `entries` (the plan's, in their order) and the other entries, one artifact
/// per target.
fn split_entries<'p>(
    plan: &'p Plan,
    entries: &[LayoutEntry],
) -> (Vec<&'p ImagePlan>, Vec<Artifact>) {
    let mut images = Vec::new();
    let mut artifacts = Vec::new();
    for e in entries {
        let (fallback, tagged) = match &e.content {
            Content::Image { image } => {
                images.extend(plan.image(image));
                continue;
            }
            Content::Attestation { .. } => (None, false),
            Content::Compose { fallback, .. } => (fallback.clone(), true),
        };
        artifacts.extend(e.targets.iter().map(|t| Artifact {
            layout_name: e.layout_name.clone(),
            fallback_layout_name: fallback.clone(),
            target: t.clone(),
            tagged,
        }));
    }
    (images, artifacts)
}

/// What `cargo xtask push` publishes from `layout`: the compose artifacts of the plan, as
/// `cargo xtask compose` (or a release) wrote them, then its images; every one must be there.
pub fn layout_entries(plan: &Plan, layout: &Layout) -> Result<Vec<LayoutEntry>> {
    let refs = layout_refs(layout);
    let resolve = |name: &str| refs.get(name).cloned().ok_or(());
    let mut composes = Vec::new();
    for c in &plan.composes {
        for t in &c.targets {
            let name = c.layout_name_for(t);
            let Ok(descriptor) = resolve(&name) else {
                bail!(
                    "the compose artifact {} for {} is not in the layout {}: run `cargo xtask compose` first",
                    c.repository,
                    t.registry,
                    layout.root().display()
                );
            };
            let fallback = crate::plan::names::oci_1_0_fallback(&name);
            composes.push(LayoutEntry {
                layout_name: name,
                descriptor,
                content: Content::Compose {
                    repository: c.repository.clone(),
                    fallback: resolve(&fallback).is_ok().then_some(fallback),
                },
                targets: vec![t.clone()],
            });
        }
    }
    let mut images = images_in(plan, layout, &refs)?;
    images.extend(composes);
    Ok(images)
}

/// The layout's names (`index.json`, read once).
fn layout_refs(layout: &Layout) -> HashMap<String, Descriptor> {
    let mut refs: HashMap<String, Descriptor> = HashMap::new();
    for (name, d) in layout.refs().unwrap_or_default() {
        refs.entry(name).or_insert(d);
    }
    refs
}

/// The images of the plan in `layout` (what `push --by-digest` publishes: a matrix job has
/// no compose artifact, `merge` makes it); every one must be there.
pub fn image_entries(plan: &Plan, layout: &Layout) -> Result<Vec<LayoutEntry>> {
    images_in(plan, layout, &layout_refs(layout))
}

fn images_in(
    plan: &Plan,
    layout: &Layout,
    refs: &HashMap<String, Descriptor>,
) -> Result<Vec<LayoutEntry>> {
    let mut images = Vec::new();
    for img in &plan.images {
        let descriptor = refs
            .get(&img.layout_name)
            .cloned()
            .ok_or_else(|| unit::not_built(layout, img))?;
        images.push(LayoutEntry {
            layout_name: img.layout_name.clone(),
            descriptor,
            content: Content::Image {
                image: img.name.clone(),
            },
            targets: img.targets.clone(),
        });
    }
    Ok(images)
}

/// `cargo xtask push`: publishes what the stages put into `layout` (`entries`): the images
/// with their tags, the compose artifacts with the release's tags in the same all-or-nothing
/// tag step as the images, and the attestations untagged.
pub fn publish(
    plan: &Plan,
    entries: &[LayoutEntry],
    layout: &Layout,
    opts: &PublishOptions,
    progress: &Shared,
) -> Result<Report> {
    publish_from(plan, entries, layout, opts, progress, false)
}

/// `cargo xtask merge`: publishes what the merge stages put into `layout` (`entries`) as
/// [`publish`] does, except that the images' platform manifests (whose layers the layout does
/// not hold) must already be in every registry, pushed by the matrix jobs; the rest of an
/// index (BuildKit's in-index attestations) is pushed from the layout. Tags move last.
pub fn publish_merged(
    plan: &Plan,
    entries: &[LayoutEntry],
    layout: &Layout,
    opts: &PublishOptions,
    progress: &Shared,
) -> Result<Report> {
    publish_from(plan, entries, layout, opts, progress, true)
}

fn publish_from(
    plan: &Plan,
    entries: &[LayoutEntry],
    layout: &Layout,
    opts: &PublishOptions,
    progress: &Shared,
    merged: bool,
) -> Result<Report> {
    let (images, artifacts) = split_entries(plan, entries);
    let (images, artifacts) = (&images[..], &artifacts[..]);
    // Read the layout first: a missing image fails before any network traffic.
    let mut loaded = Vec::new();
    for img in images {
        let entry = entries.iter().find(|e| {
            matches!(&e.content, Content::Image { image } if *image == img.name)
                && e.layout_name == img.layout_name
        });
        loaded.push(if merged {
            unit::load_merged_image(layout, img)?
        } else {
            let (top, platforms, blobs) = match entry {
                Some(e) => load_image_at(layout, img, &e.descriptor)?,
                None => load_image(layout, img)?,
            };
            (top, platforms, Vec::new(), blobs)
        });
    }
    let mut loaded_artifacts = Vec::new();
    for a in artifacts {
        let (top, blobs) = load_artifact(layout, &a.layout_name)?;
        let fallback = match &a.fallback_layout_name {
            Some(n) => Some(load_artifact(layout, n)?.0),
            None => None,
        };
        loaded_artifacts.push((a, top, blobs, fallback));
    }
    // No blob leaves holding a secret value (a merge's layers were checked by its jobs).
    let scanned: &[&ImagePlan] = if merged { &[] } else { images };
    secrets::check(plan, scanned, artifacts, layout, progress)?;
    let report = opts.registry.block_on(async {
        let regs = connect_all(images, artifacts, opts, progress).await?;
        let mut units: Vec<Unit> = images
            .iter()
            .zip(loaded)
            .map(|(img, (top, platforms, expect, blobs))| {
                let (top, platforms) = if opts.by_digest {
                    // Without tags there is no index to push: merge assembles it.
                    let platforms = if platforms.is_empty() {
                        vec![top]
                    } else {
                        platforms
                    };
                    (None, platforms)
                } else {
                    (Some(top), platforms)
                };
                Unit {
                    name: img.name.clone(),
                    top,
                    manifests: platforms,
                    expect,
                    blobs,
                    tags: if opts.by_digest {
                        Vec::new()
                    } else {
                        img.tags.clone().unwrap_or_else(|| plan.tags.clone())
                    },
                    targets: targets_of(img, &regs),
                    artifact: false,
                    fallback: None,
                    fell_back: Default::default(),
                }
            })
            .collect();
        if !opts.by_digest {
            for (a, top, blobs, fallback) in loaded_artifacts {
                let display = a.target.name();
                let name = if a.tagged {
                    display.clone()
                } else {
                    format!("{display} ({})", a.layout_name)
                };
                units.push(Unit {
                    name,
                    top: Some(top),
                    manifests: Vec::new(),
                    expect: Vec::new(),
                    blobs,
                    tags: if a.tagged {
                        plan.tags.clone()
                    } else {
                        Vec::new()
                    },
                    targets: vec![Target {
                        registry: regs[a.target.host()].clone(),
                        repo: a.target.repository.clone(),
                        display,
                        target: a.target.clone(),
                    }],
                    artifact: true,
                    fallback,
                    fell_back: Default::default(),
                });
            }
        }
        scheduler::push_units(plan, units, &regs, opts, progress.clone()).await
    })??;
    if opts.by_digest {
        let file = DigestFile {
            schema: SCHEMA,
            version: plan.version.clone(),
            images: images
                .iter()
                .map(|img| {
                    let (top, platforms, _) = load_image(layout, img)?;
                    let list = if platforms.is_empty() {
                        vec![top.desc]
                    } else {
                        platforms.into_iter().map(|d| d.desc).collect()
                    };
                    Ok((img.name.clone(), list))
                })
                .collect::<Result<_>>()?,
        };
        let path = opts
            .digest_file
            .clone()
            .unwrap_or_else(|| PathBuf::from("target/stevedore/digests.json"));
        write_json_file(&path, &file)?;
        progress.line(&format!(
            "wrote {} (give it to `cargo xtask merge` with the other platforms' files)",
            path.display()
        ));
    }
    Ok(report)
}

/// `cargo xtask merge FILES…`: assembles each image's index from the platform manifests the
/// digest files list (already in every registry), pushes it by digest, then moves the tags.
pub fn merge(
    plan: &Plan,
    digest_files: &[PathBuf],
    opts: &PublishOptions,
    progress: &Shared,
) -> Result<Report> {
    if digest_files.is_empty() {
        bail!("give the digest files written by `cargo xtask push --by-digest`");
    }
    let mut per_image: BTreeMap<String, Vec<Descriptor>> = BTreeMap::new();
    for f in digest_files {
        let text =
            std::fs::read(f).with_context(|| format!("cannot read digest file {}", f.display()))?;
        let file: DigestFile = serde_json::from_slice(&text)
            .with_context(|| format!("{} is not a stevedore digest file", f.display()))?;
        if file.version != plan.version {
            bail!(
                "{} is for version {}, this commit releases {}: merge digest files from the same commit",
                f.display(),
                file.version,
                plan.version
            );
        }
        for (name, descs) in file.images {
            let list = per_image.entry(name.clone()).or_default();
            for d in descs {
                if let Some(other) = list
                    .iter()
                    .find(|o| platform_label(o) == platform_label(&d) && o.digest != d.digest)
                {
                    bail!(
                        "image {name}: platform {} appears twice with different digests ({} and {})",
                        platform_label(&d),
                        other.digest,
                        d.digest
                    );
                }
                if !list.iter().any(|o| o.digest == d.digest) {
                    list.push(d);
                }
            }
        }
    }
    let report = opts.registry.block_on(async {
        let all: Vec<&ImagePlan> = plan.images.iter().collect();
        let regs = connect_all(&all, &[], opts, progress).await?;
        let mut units = Vec::new();
        for img in &plan.images {
            let descs = per_image.remove(&img.name).with_context(|| {
                format!(
                    "no digest file lists image {}: run `cargo xtask push --by-digest` for it",
                    img.name
                )
            })?;
            let (index, descs) = merged_index(img, descs, opts.allow_partial)?;
            let bytes = oci::to_bytes(&index);
            let desc = Descriptor::of(oci::MEDIA_INDEX, &bytes);
            units.push(Unit {
                name: img.name.clone(),
                top: Some(Doc {
                    desc,
                    bytes: bytes.into(),
                    subject: None,
                }),
                manifests: Vec::new(),
                expect: descs,
                blobs: Vec::new(),
                tags: img.tags.clone().unwrap_or_else(|| plan.tags.clone()),
                targets: targets_of(img, &regs),
                artifact: false,
                fallback: None,
                fell_back: Default::default(),
            });
        }
        scheduler::push_units(plan, units, &regs, opts, progress.clone()).await
    })??;
    Ok(report)
}

/// The index of `img` that a single `release` writes, from the platform manifests the
/// matrix jobs pushed (`descs`, in any order): the plan's platform order, the image's
/// annotations. Every configured platform must be there unless `allow_partial`.
pub fn merged_index(
    img: &ImagePlan,
    mut descs: Vec<Descriptor>,
    allow_partial: bool,
) -> Result<(Index, Vec<Descriptor>)> {
    let order = |d: &Descriptor| {
        img.platforms
            .iter()
            .position(|p| p.to_string() == platform_label(d))
            .unwrap_or(usize::MAX)
    };
    descs.sort_by_key(|d| (order(d), platform_label(d)));
    let missing: Vec<String> = img
        .platforms
        .iter()
        .map(|p| p.to_string())
        .filter(|p| !descs.iter().any(|d| platform_label(d) == *p))
        .collect();
    if !missing.is_empty() && !allow_partial {
        bail!(
            "image {}: no digest file has its platform(s) {}: give every platform job's \
             file (or pass --allow-partial to publish an index without them); no tag was moved",
            img.name,
            missing.join(", ")
        );
    }
    // The same bytes as the index a single `release` writes.
    let mut index = Index::new(descs.clone());
    index.annotations = img.oci_annotations();
    Ok((index, descs))
}

pub fn write_json_file<T: Serialize>(path: &Path, doc: &T) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut bytes = serde_json::to_vec_pretty(doc)?;
    bytes.push(b'\n');
    crate::oci::layout::write_atomic(path, &bytes)
}

/// `cargo xtask login-check`: per registry of the plan, where the credentials come from and
/// whether a push is allowed, per repository. Returns the lines and whether every check passed.
pub fn login_check(
    plan: &Plan,
    opts: &PublishOptions,
    probe_referrers: bool,
) -> Result<(Vec<String>, bool)> {
    let mut by_host: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    for img in &plan.images {
        for t in &img.targets {
            let e = by_host
                .entry(t.host().to_string())
                .or_insert_with(|| (t.api_host.clone(), Vec::new()));
            e.1.push(t.repository.clone());
        }
    }
    // The compose artifacts' repositories need push access too.
    for t in plan.composes.iter().flat_map(|c| &c.targets) {
        let e = by_host
            .entry(t.host().to_string())
            .or_insert_with(|| (t.api_host.clone(), Vec::new()));
        if !e.1.contains(&t.repository) {
            e.1.push(t.repository.clone());
        }
    }
    registry::login::check(&by_host, &opts.registry, probe_referrers)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An image `app` (layout name `app:1.0.0`) with no targets.
    fn app_image() -> ImagePlan {
        ImagePlan {
            name: "app".into(),
            repository: "app".into(),
            platforms: vec![],
            builder: crate::plan::Builder::Dockerfile {
                dockerfile: "Dockerfile".into(),
                context: ".".into(),
                target: None,
                driver: Default::default(),
                builder_name: None,
                cache: None,
            },
            build_args: Default::default(),
            secret_build_args: Default::default(),
            secrets_missing: Default::default(),
            user_labels: Default::default(),
            tags: None,
            labels: Default::default(),
            layout_name: "app:1.0.0".into(),
            targets: vec![],
        }
    }

    #[test]
    fn layout_without_the_image_says_build_first() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(dir.path()).unwrap();
        let img = app_image();
        let err = load_image(&layout, &img).unwrap_err().to_string();
        assert!(err.contains("cargo xtask build"), "{err}");
        assert!(err.contains("app:1.0.0"), "{err}");
    }

    #[test]
    fn layout_without_the_image_is_a_not_built_problem_with_its_fix() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(dir.path()).unwrap();
        let img = app_image();
        let err = load_image(&layout, &img).unwrap_err();
        assert_eq!(
            crate::problem::Problem::kind_of(&err),
            Some(crate::problem::Kind::NotBuilt)
        );
        let problem = err.downcast_ref::<crate::problem::Problem>().unwrap();
        assert!(problem.reason.contains("app:1.0.0"), "{problem:?}");
        assert!(
            problem.fix.starts_with("run `cargo xtask build`"),
            "{problem:?}"
        );
    }

    #[test]
    fn platform_labels() {
        let mut d = Descriptor::of(oci::MEDIA_MANIFEST, b"{}");
        assert_eq!(platform_label(&d), "unknown");
        d.platform = Some(oci::DescriptorPlatform {
            architecture: "arm".into(),
            os: "linux".into(),
            variant: Some("v7".into()),
            os_version: None,
        });
        assert_eq!(platform_label(&d), "linux/arm/v7");
    }
}
