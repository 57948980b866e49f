//! The scheduler: every unit × target, blobs first (a blob going to several repositories of
//! one registry is uploaded once and mounted into the others), then manifests by digest, then,
//! only if everything arrived everywhere, the tags.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use tokio::sync::{watch, Semaphore};

use super::present::Present;
use super::push_session::{Counters, Session};
use super::unit::{platform_label, Blob, Target, Unit};
use super::{tags, PublishOptions, PushedImage, Report, Uploads, SCHEMA};
use crate::oci::{self, Descriptor, Digest};
use crate::plan::Plan;
use crate::progress::{human_bytes, human_duration, Meter, Shared};
use crate::registry::{Registry, Uploaded};

/// The three phases over every image × registry; tags only if everything else succeeded.
pub(super) async fn push_units(
    plan: &Plan,
    units: Vec<Unit>,
    regs: &HashMap<String, Arc<Registry>>,
    opts: &PublishOptions,
    progress: Shared,
) -> Result<Report> {
    let start = Instant::now();
    let ctx = Arc::new(Session {
        progress: progress.clone(),
        counters: Counters::default(),
        semaphores: regs
            .keys()
            .map(|k| (k.clone(), Arc::new(Semaphore::new(opts.concurrency.max(1)))))
            .collect(),
    });
    let units: Vec<Arc<Unit>> = units.into_iter().map(Arc::new).collect();
    let mut failures: Vec<String> = Vec::new();

    // --- Phase 0: what each target holds already (one request per unit × target) ----------
    let present = super::present::probe(&ctx, &units, opts.floating.as_ref()).await;
    let blobs = push_blobs(&ctx, &units, &present, &progress, &mut failures).await?;
    let ready = push_manifests(&ctx, &units, &blobs, &present, &mut failures).await?;

    if !failures.is_empty() {
        failures.sort();
        let total: usize = units.iter().map(|i| i.targets.len()).sum();
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

    // --- Referrers without the API, before any tag --------------------------------------------
    super::record_referrers::record(&ctx, &units).await.map_err(|e| {
        e.context("recording the attestations in their fallback index failed; no tag was moved: re-run to resume")
    })?;

    // --- Phase 3: tags ----------------------------------------------------------------------
    let kept = tags::move_all(&ctx, &units, opts.floating.as_ref(), present.tags).await?;

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
        tags_kept: kept,
        elapsed: start.elapsed(),
        ..Default::default()
    };
    for unit in &units {
        let r = pushed_image(unit);
        if unit.artifact {
            report.artifacts.insert(unit.name.clone(), r);
        } else {
            report.images.insert(unit.name.clone(), r);
        }
    }
    Ok(report)
}

/// What the blob phase found, by (unit, target index) pair.
#[derive(Default)]
struct Blobs {
    /// The pairs whose blobs did not all arrive.
    failed: HashSet<(usize, usize)>,
    /// The pairs where the registry had at least one blob already: only there may some of
    /// the unit's manifests be in place (a registry takes a manifest only once it holds its
    /// blobs), so only there are they asked about before they are pushed.
    found_some: HashSet<(usize, usize)>,
}

/// Phase 1, blobs.
async fn push_blobs(
    ctx: &Arc<Session>,
    units: &[Arc<Unit>],
    present: &Present,
    progress: &Shared,
    failures: &mut Vec<String>,
) -> Result<Blobs> {
    let mut done = Blobs::default();
    let bars: Vec<Arc<dyn Meter>> = units
        .iter()
        .map(|unit| {
            let total: u64 =
                unit.blobs.iter().map(|b| b.size).sum::<u64>() * unit.targets.len() as u64;
            Arc::from(progress.bar(&unit.name, total))
        })
        .collect();
    // The first repository (per registry) that needs a blob uploads it; the others wait
    // for it and mount it. A repository found complete holds its blobs already: the others
    // mount from it at once.
    let mut first: HashMap<(String, Digest), Uploader> = HashMap::new();
    let mut senders: HashMap<(String, Digest), watch::Sender<Option<bool>>> = HashMap::new();
    let mut held = Vec::new();
    for &(ii, ti) in &present.complete {
        let (unit, t) = (&units[ii], &units[ii].targets[ti]);
        bars[ii].inc(unit.blobs.iter().map(|b| b.size).sum());
        for b in &unit.blobs {
            let (tx, rx) = watch::channel(Some(true));
            first
                .entry((t.registry.name.clone(), b.digest.clone()))
                .or_insert_with(|| {
                    held.push(tx);
                    (t.repo.clone(), rx)
                });
        }
    }
    let mut set = tokio::task::JoinSet::new();
    for (ii, unit) in units.iter().enumerate() {
        for (ti, t) in unit.targets.iter().enumerate() {
            if present.complete.contains(&(ii, ti)) {
                continue;
            }
            for b in &unit.blobs {
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
        match r {
            Ok(true) => {
                done.found_some.insert((ii, ti));
            }
            Ok(false) => {}
            Err(e) => {
                failures.push(format!(
                    "{} → {}: blob {}: {e:#}",
                    units[ii].name, job.target.display, job.blob.digest
                ));
                done.failed.insert((ii, ti));
            }
        }
    }
    for b in &bars {
        b.finish();
    }
    drop(held);
    Ok(done)
}

/// Phase 2, manifests by digest, for the pairs whose blobs arrived: the pairs that are ready.
async fn push_manifests(
    ctx: &Arc<Session>,
    units: &[Arc<Unit>],
    blobs: &Blobs,
    present: &Present,
    failures: &mut Vec<String>,
) -> Result<Vec<(usize, usize)>> {
    let mut ready: Vec<(usize, usize)> = present.complete.iter().copied().collect();
    let mut set = tokio::task::JoinSet::new();
    for (ii, unit) in units.iter().enumerate() {
        for ti in 0..unit.targets.len() {
            if blobs.failed.contains(&(ii, ti)) || present.complete.contains(&(ii, ti)) {
                continue;
            }
            let (ctx, unit) = (ctx.clone(), unit.clone());
            let absent = Absent {
                top: present.absent.contains(&(ii, ti)),
                all: !unit.blobs.is_empty() && !blobs.found_some.contains(&(ii, ti)),
            };
            set.spawn(async move {
                let r = manifests_job(&ctx, &unit, &unit.targets[ti], absent).await;
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
                units[ii].name, units[ii].targets[ti].display
            )),
        }
    }
    Ok(ready)
}

/// What the report says of one unit pushed: its digests by platform and its references.
fn pushed_image(unit: &Unit) -> PushedImage {
    let mut r = PushedImage::default();
    let platform_docs: Vec<&Descriptor> = if unit.expect.is_empty() {
        unit.manifests.iter().map(|d| &d.desc).collect()
    } else {
        unit.expect.iter().collect()
    };
    for d in platform_docs {
        r.platforms.insert(platform_label(d), d.digest.clone());
    }
    if let Some(top) = &unit.top {
        r.digest = Some(top.desc.digest.clone());
        r.media_type = top.desc.media_type.clone();
        if top.desc.media_type == oci::MEDIA_MANIFEST && r.platforms.is_empty() {
            r.platforms.insert("single".into(), top.desc.digest.clone());
        }
    }
    for t in &unit.targets {
        match &unit.top {
            Some(top) => r
                .references
                .push(t.target.by_digest(&top.desc.digest).to_string()),
            None => {
                for d in &unit.manifests {
                    r.references
                        .push(t.target.by_digest(&d.desc.digest).to_string());
                }
            }
        }
    }
    for t in &unit.targets {
        for tag in &unit.tags {
            r.references.push(t.target.reference(tag).to_string());
        }
    }
    r
}

/// Whether a manifest push failed because the registry refused the document (a 4xx other than
/// 401, 403 or 407), as some registries refuse an `artifactType`.
fn registry_refused(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<crate::registry::ManifestRefused>()
            .is_some()
    })
}

/// The repository uploading a blob, and how to learn whether it succeeded.
pub(super) type Uploader = (String, watch::Receiver<Option<bool>>);

pub(super) struct BlobJob {
    target: Target,
    blob: Blob,
    /// Another repository of the same registry uploads this blob: wait for it, then mount.
    wait: Option<Uploader>,
    /// This job is that uploader: tell the waiters how it went.
    signal: Option<watch::Sender<Option<bool>>>,
    bar: Arc<dyn Meter>,
}

/// Large blobs get periodic progress lines without a terminal.
pub(super) const TICKER_MIN: u64 = 16 << 20;

/// Uploads (or mounts) the blob unless the registry has it: whether it had it.
pub(super) async fn blob_job(ctx: &Session, job: &BlobJob) -> Result<bool> {
    let r = blob_job_inner(ctx, job).await;
    if let Some(tx) = &job.signal {
        let _ = tx.send(Some(r.is_ok()));
    }
    r
}

pub(super) async fn blob_job_inner(ctx: &Session, job: &BlobJob) -> Result<bool> {
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
            return Ok(true);
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
    Ok(false)
}

/// What a target is known to lack, so that it is pushed without asking.
#[derive(Debug, Clone, Copy)]
pub(super) struct Absent {
    /// The top manifest (the registry said so in this run).
    pub(super) top: bool,
    /// Every manifest of the unit (the registry had none of its blobs).
    pub(super) all: bool,
}

/// Platform manifests by digest (or a check that they are there), then the index by digest.
pub(super) async fn manifests_job(
    ctx: &Session,
    unit: &Unit,
    t: &Target,
    absent: Absent,
) -> Result<()> {
    let reg = &t.registry;
    let sem = ctx.sem(reg);
    for d in &unit.expect {
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
    let docs = unit.manifests.iter().chain(unit.top.as_ref());
    for doc in docs {
        let _permit = sem.acquire().await.expect("semaphore open");
        let digest = &doc.desc.digest;
        let is_top = unit.top.as_ref().is_some_and(|top| std::ptr::eq(doc, top));
        if !(absent.all || is_top && absent.top)
            && reg
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
        let pushed = reg
            .put_manifest(
                &t.repo,
                digest.as_str(),
                &doc.desc.media_type,
                &doc.bytes,
                digest,
            )
            .await;
        match (pushed, &unit.fallback) {
            (Ok(()), _) => {}
            (Err(e), Some(fallback))
                if std::ptr::eq(doc, unit.top.as_ref().expect("top")) && registry_refused(&e) =>
            {
                ctx.progress.line(&format!(
                    "{} refused the OCI 1.1 form of {} ({e:#}): pushing the OCI 1.0 form",
                    t.display, unit.name
                ));
                reg.put_manifest(
                    &t.repo,
                    fallback.desc.digest.as_str(),
                    &fallback.desc.media_type,
                    &fallback.bytes,
                    &fallback.desc.digest,
                )
                .await?;
                unit.fell_back
                    .lock()
                    .expect("fallback set")
                    .insert(t.display.clone());
            }
            (Err(e), _) => return Err(e),
        }
        ctx.counters.manifests.fetch_add(1, Ordering::SeqCst);
        if let Some(subject) = &doc.subject {
            ctx.progress.verbose(&format!(
                "manifest {}@{} refers to {}",
                t.display,
                digest.short(),
                subject.short()
            ));
        }
        ctx.progress.verbose(&format!(
            "manifest {}@{} pushed ({})",
            t.display,
            digest.short(),
            doc.desc.media_type
        ));
    }
    Ok(())
}
