//! Publish: what the layout holds, to every registry of the plan, never half-tagged.
//!
//! Order, for every image × registry: the blobs the registry lacks (HEAD first; a blob that is
//! also going to another repository of the same registry is uploaded once and mounted into
//! the others), then the platform manifests by digest, then the index by digest. Only when
//! every image reached every registry: the tags (one manifest PUT per tag, the same bytes).
//! If anything fails, no tag moves anywhere; what was pushed stays (by digest, harmless) and a
//! re-run skips it.
//!
//! Matrix builds: `push --by-digest` pushes blobs and platform manifests only and writes a
//! digest file; `merge FILES…` assembles each image's index from the digest files (the
//! platform manifests must already be in every registry) and then moves the tags, with the
//! same all-or-nothing rule.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Semaphore};

use crate::oci::layout::Layout;
use crate::oci::{self, Descriptor, Digest, Index, Manifest};
use crate::plan::{ImagePlan, Plan};
use crate::progress::{human_bytes, human_duration, Meter, Shared};
use crate::registry::{self, Registry, Uploaded};

/// Version of the digest file and metadata file shapes.
pub const SCHEMA: u32 = 1;

/// How to publish.
#[derive(Debug, Clone)]
pub struct Options {
    /// Concurrent requests per registry (`release.concurrency`).
    pub concurrency: usize,
    /// Push blobs and platform manifests only (no index, no tags) and write `digest_file`.
    pub by_digest: bool,
    pub digest_file: Option<PathBuf>,
    pub metadata_file: Option<PathBuf>,
    /// How to reach the registries.
    pub registry: registry::Settings,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            concurrency: 4,
            by_digest: false,
            digest_file: None,
            metadata_file: None,
            registry: registry::Settings::default(),
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub schema: u32,
    pub version: String,
    pub images: BTreeMap<String, ImageReport>,
    pub uploads: Uploads,
    pub manifests_pushed: u64,
    pub tags_moved: u64,
    pub tags_unchanged: u64,
    #[serde(skip)]
    pub elapsed: Duration,
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
pub struct ImageReport {
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

/// A manifest document with its exact bytes.
#[derive(Debug, Clone)]
struct Doc {
    desc: Descriptor,
    bytes: bytes::Bytes,
}

#[derive(Debug, Clone)]
struct Blob {
    digest: Digest,
    size: u64,
    path: PathBuf,
}

/// One image as it will be pushed.
#[derive(Debug, Clone)]
struct Image {
    name: String,
    /// The index (or single manifest) the tags point at; `None` with `--by-digest`.
    top: Option<Doc>,
    /// Platform manifests to push by digest.
    platforms: Vec<Doc>,
    /// Platform manifests that must already be in the registry (`merge`).
    expect: Vec<Descriptor>,
    blobs: Vec<Blob>,
    targets: Vec<Target>,
}

#[derive(Clone)]
struct Target {
    registry: Arc<Registry>,
    /// Repository path on the registry.
    repo: String,
    /// `host/repo` as users write it.
    display: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display)
    }
}

fn platform_label(d: &Descriptor) -> String {
    match &d.platform {
        Some(p) => match &p.variant {
            Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
            None => format!("{}/{}", p.os, p.architecture),
        },
        None => "unknown".into(),
    }
}

fn is_index(media_type: &str) -> bool {
    media_type == oci::MEDIA_INDEX || media_type == oci::DOCKER_LIST
}

/// Reads what the layout holds for `image`: the index, its manifests and their blobs.
fn load_image(layout: &Layout, image: &ImagePlan) -> Result<(Doc, Vec<Doc>, Vec<Blob>)> {
    let top = layout.resolve(&image.layout_name).map_err(|_| {
        anyhow!(
            "image {} ({}) is not in the OCI layout {}: run `cargo xtask build` first (for this version), or pass --layout",
            image.name,
            image.layout_name,
            layout.root().display()
        )
    })?;
    let read_doc = |d: &Descriptor| -> Result<Doc> {
        let bytes = layout
            .read_blob(&d.digest)
            .with_context(|| format!("image {}: run `cargo xtask build` again", image.name))?;
        let mut desc = d.clone();
        desc.annotations.remove(oci::ANNOTATION_REF_NAME);
        Ok(Doc {
            desc,
            bytes: bytes.into(),
        })
    };
    let top = read_doc(&top)?;
    let manifests: Vec<Doc> = if is_index(&top.desc.media_type) {
        let index: Index = serde_json::from_slice(&top.bytes)
            .with_context(|| format!("image {}: the index is not valid JSON", image.name))?;
        index
            .manifests
            .iter()
            .map(|d| {
                if is_index(&d.media_type) {
                    bail!("image {}: nested indexes are not supported", image.name);
                }
                read_doc(d)
            })
            .collect::<Result<_>>()?
    } else {
        vec![top.clone()]
    };
    let mut blobs: BTreeMap<Digest, Blob> = BTreeMap::new();
    for m in &manifests {
        let manifest: Manifest = serde_json::from_slice(&m.bytes).with_context(|| {
            format!(
                "image {}: manifest {} is not an image manifest",
                image.name, m.desc.digest
            )
        })?;
        for d in std::iter::once(&manifest.config).chain(&manifest.layers) {
            if !layout.has_intact_blob(&d.digest)? {
                bail!(
                    "image {}: blob {} is missing from the layout {} or its content does not \
                     match its digest: run `cargo xtask build` again to repair it",
                    image.name,
                    d.digest,
                    layout.root().display()
                );
            }
            blobs.entry(d.digest.clone()).or_insert_with(|| Blob {
                digest: d.digest.clone(),
                size: d.size,
                path: layout.blob_path(&d.digest),
            });
        }
    }
    let platforms = if is_index(&top.desc.media_type) {
        manifests
    } else {
        Vec::new()
    };
    Ok((top, platforms, blobs.into_values().collect()))
}

/// The registry host of a push target (`docker.io`, `ghcr.io`, `127.0.0.1:5000`).
fn host_of(registry_prefix: &str) -> &str {
    registry_prefix.split('/').next().unwrap_or(registry_prefix)
}

/// Everything a run shares.
struct Ctx {
    progress: Shared,
    counters: Counters,
    semaphores: HashMap<String, Arc<Semaphore>>,
}

#[derive(Default)]
struct Counters {
    pushed: AtomicU64,
    bytes: AtomicU64,
    mounted: AtomicU64,
    exists: AtomicU64,
    manifests: AtomicU64,
    tags_moved: AtomicU64,
    tags_unchanged: AtomicU64,
}

impl Ctx {
    fn sem(&self, reg: &Registry) -> Arc<Semaphore> {
        self.semaphores[&reg.name].clone()
    }
}

/// One client per registry host of the plan.
async fn connect_all(
    plan: &Plan,
    opts: &Options,
    progress: &Shared,
) -> Result<HashMap<String, Arc<Registry>>> {
    let copts = registry::client_options(&opts.registry)?;
    let mut out = HashMap::new();
    for img in &plan.images {
        for t in &img.targets {
            let name = host_of(&t.registry).to_string();
            if out.contains_key(&name) {
                continue;
            }
            let log_progress = progress.clone();
            let log: registry::Log = Arc::new(move |m: &str| log_progress.line(m));
            let reg = registry::connect(&name, &t.api_host, &copts, log).await?;
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
            out.insert(name, Arc::new(reg));
        }
    }
    Ok(out)
}

fn targets_of(img: &ImagePlan, regs: &HashMap<String, Arc<Registry>>) -> Vec<Target> {
    img.targets
        .iter()
        .map(|t| {
            let host = host_of(&t.registry);
            Target {
                registry: regs[host].clone(),
                repo: t.repository.clone(),
                display: format!("{host}/{}", t.repository),
            }
        })
        .collect()
}

/// `cargo xtask push`: publishes every image of the plan from `layout`.
pub fn publish(plan: &Plan, layout: &Layout, opts: &Options, progress: &Shared) -> Result<Report> {
    registry::install_crypto_provider();
    // Read the layout first: a missing image fails before any network traffic.
    let mut loaded = Vec::new();
    for img in &plan.images {
        loaded.push(load_image(layout, img)?);
    }
    let rt = registry::runtime()?;
    let report = rt.block_on(async {
        let regs = connect_all(plan, opts, progress).await?;
        let images: Vec<Image> = plan
            .images
            .iter()
            .zip(loaded)
            .map(|(img, (top, platforms, blobs))| {
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
                Image {
                    name: img.name.clone(),
                    top,
                    platforms,
                    expect: Vec::new(),
                    blobs,
                    targets: targets_of(img, &regs),
                }
            })
            .collect();
        run(plan, images, &regs, opts, progress.clone()).await
    })?;
    if opts.by_digest {
        let file = DigestFile {
            schema: SCHEMA,
            version: plan.version.clone(),
            images: plan
                .images
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
    opts: &Options,
    progress: &Shared,
) -> Result<Report> {
    registry::install_crypto_provider();
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
    let rt = registry::runtime()?;
    let report = rt.block_on(async {
        let regs = connect_all(plan, opts, progress).await?;
        let mut images = Vec::new();
        for img in &plan.images {
            let mut descs = per_image.remove(&img.name).with_context(|| {
                format!(
                    "no digest file lists image {}: run `cargo xtask push --by-digest` for it",
                    img.name
                )
            })?;
            let order = |d: &Descriptor| {
                img.platforms
                    .iter()
                    .position(|p| p.to_string() == platform_label(d))
                    .unwrap_or(usize::MAX)
            };
            descs.sort_by_key(|d| (order(d), platform_label(d)));
            let index = Index::new(descs.clone());
            let bytes = oci::to_bytes(&index);
            let desc = Descriptor::of(oci::MEDIA_INDEX, &bytes);
            images.push(Image {
                name: img.name.clone(),
                top: Some(Doc {
                    desc,
                    bytes: bytes.into(),
                }),
                platforms: Vec::new(),
                expect: descs,
                blobs: Vec::new(),
                targets: targets_of(img, &regs),
            });
        }
        run(plan, images, &regs, opts, progress.clone()).await
    })?;
    Ok(report)
}

/// The three phases over every image × registry; tags only if everything else succeeded.
async fn run(
    plan: &Plan,
    images: Vec<Image>,
    regs: &HashMap<String, Arc<Registry>>,
    opts: &Options,
    progress: Shared,
) -> Result<Report> {
    let start = Instant::now();
    let ctx = Arc::new(Ctx {
        progress: progress.clone(),
        counters: Counters::default(),
        semaphores: regs
            .keys()
            .map(|k| (k.clone(), Arc::new(Semaphore::new(opts.concurrency.max(1)))))
            .collect(),
    });
    let images: Vec<Arc<Image>> = images.into_iter().map(Arc::new).collect();
    let mut failures: Vec<String> = Vec::new();

    // --- Phase 1: blobs -------------------------------------------------------------------
    // (image, target index) pairs whose blobs all arrived.
    let mut blob_failed: std::collections::HashSet<(usize, usize)> = Default::default();
    {
        let bars: Vec<Arc<dyn Meter>> = images
            .iter()
            .map(|img| {
                let total: u64 =
                    img.blobs.iter().map(|b| b.size).sum::<u64>() * img.targets.len() as u64;
                Arc::from(progress.bar(&img.name, total))
            })
            .collect();
        // The first repository (per registry) that needs a blob uploads it; the others wait
        // for it and mount it.
        let mut first: HashMap<(String, Digest), Uploader> = HashMap::new();
        let mut senders: HashMap<(String, Digest), watch::Sender<Option<bool>>> = HashMap::new();
        let mut set = tokio::task::JoinSet::new();
        for (ii, img) in images.iter().enumerate() {
            for (ti, t) in img.targets.iter().enumerate() {
                for b in &img.blobs {
                    let key = (t.registry.name.clone(), b.digest.clone());
                    let (role_wait, role_signal) = match first.get(&key) {
                        Some((repo, _)) if *repo == t.repo => continue,
                        Some((repo, rx)) => (Some((repo.clone(), rx.clone())), None),
                        None => {
                            let (tx, rx) = watch::channel(None);
                            first.insert(key.clone(), (t.repo.clone(), rx));
                            senders.insert(key.clone(), tx);
                            (None, Some(key.clone()))
                        }
                    };
                    let job = BlobJob {
                        target: t.clone(),
                        blob: b.clone(),
                        wait: role_wait,
                        signal: role_signal.and_then(|k| senders.get(&k).cloned()),
                        bar: bars[ii].clone(),
                    };
                    let ctx = ctx.clone();
                    set.spawn(async move {
                        let r = blob_job(&ctx, &job).await;
                        (ii, ti, job, r)
                    });
                }
            }
        }
        drop(senders);
        while let Some(res) = set.join_next().await {
            let (ii, ti, job, r) = res.context("an upload task panicked")?;
            if let Err(e) = r {
                failures.push(format!(
                    "{} → {}: blob {}: {e:#}",
                    images[ii].name, job.target.display, job.blob.digest
                ));
                blob_failed.insert((ii, ti));
            }
        }
        for b in &bars {
            b.finish();
        }
    }

    // --- Phase 2: manifests by digest -------------------------------------------------------
    let mut ready: Vec<(usize, usize)> = Vec::new();
    {
        let mut set = tokio::task::JoinSet::new();
        for (ii, img) in images.iter().enumerate() {
            for ti in 0..img.targets.len() {
                if blob_failed.contains(&(ii, ti)) {
                    continue;
                }
                let (ctx, img) = (ctx.clone(), img.clone());
                set.spawn(async move {
                    let r = manifests_job(&ctx, &img, &img.targets[ti]).await;
                    (ii, ti, r)
                });
            }
        }
        while let Some(res) = set.join_next().await {
            let (ii, ti, r) = res.context("a manifest task panicked")?;
            match r {
                Ok(()) => ready.push((ii, ti)),
                Err(e) => failures.push(format!(
                    "{} → {}: {e:#}",
                    images[ii].name, images[ii].targets[ti].display
                )),
            }
        }
    }

    if !failures.is_empty() {
        failures.sort();
        let total: usize = images.iter().map(|i| i.targets.len()).sum();
        let mut msg = format!(
            "publishing failed for {} of {total} image × registry pushes:",
            total - ready.len()
        );
        for f in &failures {
            msg.push_str("\n  - ");
            msg.push_str(f);
        }
        msg.push_str(
            "\nno tag was moved in any registry. What was pushed stays (by digest) and is reused: \
             fix the cause and re-run the same command to resume.",
        );
        bail!(msg);
    }

    // --- Phase 3: tags ----------------------------------------------------------------------
    let mut tag_failures = Vec::new();
    if !opts.by_digest {
        let mut set = tokio::task::JoinSet::new();
        for img in &images {
            let Some(top) = &img.top else { continue };
            for t in &img.targets {
                for tag in &plan.tags {
                    let (ctx, t, tag, top) = (ctx.clone(), t.clone(), tag.clone(), top.clone());
                    set.spawn(async move {
                        let _permit = ctx.sem(&t.registry).acquire_owned().await;
                        let r = push_tag(&ctx, &t, &tag, &top).await;
                        (t.display.clone(), tag, r)
                    });
                }
            }
        }
        while let Some(res) = set.join_next().await {
            let (display, tag, r) = res.context("a tag task panicked")?;
            if let Err(e) = r {
                tag_failures.push(format!("{display}:{tag}: {e:#}"));
            }
        }
    }
    if !tag_failures.is_empty() {
        tag_failures.sort();
        bail!(
            "every image reached every registry, but moving {} tag(s) failed:\n  - {}\nre-run the same command to finish (nothing is uploaded again).",
            tag_failures.len(),
            tag_failures.join("\n  - ")
        );
    }

    // --- Report -------------------------------------------------------------------------------
    let c = &ctx.counters;
    let mut report = Report {
        schema: SCHEMA,
        version: plan.version.clone(),
        uploads: Uploads {
            pushed: c.pushed.load(Ordering::SeqCst),
            bytes: c.bytes.load(Ordering::SeqCst),
            sent: regs.values().map(|r| r.bytes_sent()).sum(),
            mounted: c.mounted.load(Ordering::SeqCst),
            exists: c.exists.load(Ordering::SeqCst),
        },
        manifests_pushed: c.manifests.load(Ordering::SeqCst),
        tags_moved: c.tags_moved.load(Ordering::SeqCst),
        tags_unchanged: c.tags_unchanged.load(Ordering::SeqCst),
        elapsed: start.elapsed(),
        ..Default::default()
    };
    for img in &images {
        let mut r = ImageReport::default();
        let platform_docs: Vec<&Descriptor> = if img.expect.is_empty() {
            img.platforms.iter().map(|d| &d.desc).collect()
        } else {
            img.expect.iter().collect()
        };
        for d in platform_docs {
            r.platforms.insert(platform_label(d), d.digest.clone());
        }
        if let Some(top) = &img.top {
            r.digest = Some(top.desc.digest.clone());
            r.media_type = top.desc.media_type.clone();
            if top.desc.media_type == oci::MEDIA_MANIFEST && r.platforms.is_empty() {
                r.platforms.insert("single".into(), top.desc.digest.clone());
            }
        }
        for t in &img.targets {
            match &img.top {
                Some(top) => r
                    .references
                    .push(format!("{}@{}", t.display, top.desc.digest)),
                None => {
                    for d in &img.platforms {
                        r.references
                            .push(format!("{}@{}", t.display, d.desc.digest));
                    }
                }
            }
        }
        if !opts.by_digest {
            for t in &img.targets {
                for tag in &plan.tags {
                    r.references.push(format!("{}:{tag}", t.display));
                }
            }
        }
        report.images.insert(img.name.clone(), r);
    }
    Ok(report)
}

/// The repository uploading a blob, and how to learn whether it succeeded.
type Uploader = (String, watch::Receiver<Option<bool>>);

struct BlobJob {
    target: Target,
    blob: Blob,
    /// Another repository of the same registry uploads this blob: wait for it, then mount.
    wait: Option<Uploader>,
    /// This job is that uploader: tell the waiters how it went.
    signal: Option<watch::Sender<Option<bool>>>,
    bar: Arc<dyn Meter>,
}

/// Large blobs get periodic progress lines without a terminal.
const TICKER_MIN: u64 = 16 << 20;

async fn blob_job(ctx: &Ctx, job: &BlobJob) -> Result<()> {
    let r = blob_job_inner(ctx, job).await;
    if let Some(tx) = &job.signal {
        let _ = tx.send(Some(r.is_ok()));
    }
    r
}

async fn blob_job_inner(ctx: &Ctx, job: &BlobJob) -> Result<()> {
    let (t, b) = (&job.target, &job.blob);
    let reg = &t.registry;
    let sem = ctx.sem(reg);
    let started = Instant::now();
    let done = |what: &str, counter: &AtomicU64| {
        counter.fetch_add(1, Ordering::SeqCst);
        ctx.progress.line(&format!(
            "{what} {} {} {} {}",
            t.display,
            b.digest.short(),
            human_bytes(b.size),
            human_duration(started.elapsed())
        ));
    };
    {
        let _permit = sem.acquire().await.expect("semaphore open");
        if reg.blob_exists(&t.repo, &b.digest).await? {
            job.bar.inc(b.size);
            done("exists", &ctx.counters.exists);
            return Ok(());
        }
    }
    let mut mount_from = None;
    if let Some((from, rx)) = &job.wait {
        let mut rx = rx.clone();
        let ok = rx
            .wait_for(|v| v.is_some())
            .await
            .map(|v| *v == Some(true))
            .unwrap_or(false);
        if ok {
            mount_from = Some(from.as_str());
        }
    }
    let _permit = sem.acquire().await.expect("semaphore open");
    let ticker = (b.size >= TICKER_MIN).then(|| {
        Arc::<dyn Meter>::from(
            ctx.progress
                .ticker(&format!("{} {}", t.display, b.digest.short()), b.size),
        )
    });
    let last = Arc::new(AtomicU64::new(0));
    let on_bytes: Arc<dyn Fn(u64) + Send + Sync> = {
        let (bar, ticker, last) = (job.bar.clone(), ticker.clone(), last.clone());
        Arc::new(move |sent: u64| {
            // `sent` goes back when a try fails (to 0, or for a chunked upload to what the
            // registry confirmed).
            let prev = last.swap(sent, Ordering::Relaxed);
            if sent >= prev {
                bar.inc(sent - prev);
            } else {
                bar.dec(prev - sent);
            }
            if let Some(t) = &ticker {
                t.set(sent);
            }
        })
    };
    let outcome = reg
        .upload_blob(&t.repo, &b.digest, b.size, &b.path, mount_from, on_bytes)
        .await?;
    match outcome {
        Uploaded::Mounted => {
            job.bar.inc(b.size);
            done("mounted", &ctx.counters.mounted);
        }
        Uploaded::Pushed => {
            ctx.counters.bytes.fetch_add(b.size, Ordering::SeqCst);
            let sent = last.load(Ordering::Relaxed);
            if sent < b.size {
                job.bar.inc(b.size - sent);
            }
            done("pushed", &ctx.counters.pushed);
        }
    }
    Ok(())
}

/// Platform manifests by digest (or a check that they are there), then the index by digest.
async fn manifests_job(ctx: &Ctx, img: &Image, t: &Target) -> Result<()> {
    let reg = &t.registry;
    let sem = ctx.sem(reg);
    for d in &img.expect {
        let _permit = sem.acquire().await.expect("semaphore open");
        if reg
            .manifest_digest(&t.repo, d.digest.as_str())
            .await?
            .is_none()
        {
            bail!(
                "platform manifest {} ({}) is not in {}: run `cargo xtask push --by-digest` for that platform first",
                d.digest,
                platform_label(d),
                t.display
            );
        }
    }
    let docs = img.platforms.iter().chain(img.top.as_ref());
    for doc in docs {
        let _permit = sem.acquire().await.expect("semaphore open");
        let digest = &doc.desc.digest;
        if reg
            .manifest_digest(&t.repo, digest.as_str())
            .await?
            .is_some()
        {
            ctx.progress.verbose(&format!(
                "manifest {}@{} already there",
                t.display,
                digest.short()
            ));
            continue;
        }
        reg.put_manifest(
            &t.repo,
            digest.as_str(),
            &doc.desc.media_type,
            &doc.bytes,
            digest,
        )
        .await?;
        ctx.counters.manifests.fetch_add(1, Ordering::SeqCst);
        ctx.progress.verbose(&format!(
            "manifest {}@{} pushed ({})",
            t.display,
            digest.short(),
            doc.desc.media_type
        ));
    }
    Ok(())
}

async fn push_tag(ctx: &Ctx, t: &Target, tag: &str, top: &Doc) -> Result<()> {
    let reg = &t.registry;
    let digest = &top.desc.digest;
    if reg.manifest_digest(&t.repo, tag).await?.as_ref() == Some(digest) {
        ctx.counters.tags_unchanged.fetch_add(1, Ordering::SeqCst);
        ctx.progress.verbose(&format!(
            "tag {}:{tag} already → {}",
            t.display,
            digest.short()
        ));
        return Ok(());
    }
    reg.put_manifest(&t.repo, tag, &top.desc.media_type, &top.bytes, digest)
        .await?;
    ctx.counters.tags_moved.fetch_add(1, Ordering::SeqCst);
    ctx.progress
        .line(&format!("tagged {}:{tag} → {}", t.display, digest.short()));
    Ok(())
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
pub fn login_check(plan: &Plan, opts: &Options, progress: &Shared) -> Result<(Vec<String>, bool)> {
    registry::install_crypto_provider();
    let mut by_host: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    for img in &plan.images {
        for t in &img.targets {
            let e = by_host
                .entry(host_of(&t.registry).to_string())
                .or_insert_with(|| (t.api_host.clone(), Vec::new()));
            e.1.push(t.repository.clone());
        }
    }
    let log_progress = progress.clone();
    let log: registry::Log = Arc::new(move |m: &str| log_progress.verbose(m));
    registry::login::check(&by_host, &opts.registry, log)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_of_prefixes() {
        assert_eq!(host_of("ghcr.io/org"), "ghcr.io");
        assert_eq!(host_of("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(host_of("docker.io/org/sub"), "docker.io");
    }

    #[test]
    fn layout_without_the_image_says_build_first() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(dir.path()).unwrap();
        let img = ImagePlan {
            name: "app".into(),
            repository: "app".into(),
            platforms: vec![],
            builder: crate::plan::Builder::Dockerfile {
                dockerfile: "Dockerfile".into(),
                context: ".".into(),
                target: None,
                driver: Default::default(),
            },
            build_args: Default::default(),
            labels: Default::default(),
            layout_name: "app:1.0.0".into(),
            targets: vec![],
        };
        let err = load_image(&layout, &img).unwrap_err().to_string();
        assert!(err.contains("cargo xtask build"), "{err}");
        assert!(err.contains("app:1.0.0"), "{err}");
    }

    #[test]
    fn platform_labels() {
        let mut d = Descriptor::of(oci::MEDIA_MANIFEST, b"{}");
        assert_eq!(platform_label(&d), "unknown");
        d.platform = Some(oci::Platform {
            architecture: "arm".into(),
            os: "linux".into(),
            variant: Some("v7".into()),
            os_version: None,
        });
        assert_eq!(platform_label(&d), "linux/arm/v7");
    }
}
