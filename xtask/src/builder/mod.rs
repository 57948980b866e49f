//! Build: every image of the plan, every platform, into one OCI image layout.
//!
//! First every (image, platform) pair is checked: can this machine build it? Then each image is
//! built platform by platform (native) or all platforms at once (Dockerfile), and only once all
//! its platform manifests are in the layout is its image index named `<image>:<version>`: the
//! layout never holds a name pointing at a partial image.

pub mod base;
pub mod base_history;
pub mod build_secrets;
pub mod buildx;
pub mod cargo;
pub mod command;
pub mod compress;
pub mod docker_format;
pub mod dockerfile;
pub mod dockerfile_cache;
pub mod image_names;
pub mod layer;
pub mod native;
pub mod private_dir;
pub mod pull;
pub mod registry_access;
pub mod stages;
pub mod tree;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::oci::layout::Layout;
use crate::oci::platform::Platform;
use crate::oci::reference::ImageRef;
use crate::oci::{Descriptor, Index, MEDIA_INDEX};
use crate::plan::handoff::{Content, LayoutEntry};
use crate::plan::Plan;
use crate::plan::{Builder, ImagePlan};
use crate::problem::Problem;
use crate::progress::Shared;

/// One platform manifest written to the layout.
#[derive(Debug, Clone, Serialize)]
pub struct PlatformBuild {
    pub platform: Platform,
    /// The manifest, with its `platform`.
    pub manifest: Descriptor,
    /// Manifest + config + layers, compressed.
    pub size: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub platform: Platform,
    /// Why this machine cannot build it, and the fix.
    pub problem: Problem,
}

#[derive(Debug, Clone, Serialize)]
pub struct BuiltImage {
    pub name: String,
    /// `<image>:<version>` in the layout; set only when `index` is.
    pub layout_name: String,
    /// The image index; `None` when every platform was skipped.
    pub index: Option<Descriptor>,
    pub platforms: Vec<PlatformBuild>,
    pub skipped: Vec<Skipped>,
    /// The references a release pushes the index to.
    pub references: Vec<ImageRef>,
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BuildReport {
    pub layout: PathBuf,
    pub images: Vec<BuiltImage>,
    /// What the stage put into the layout, for publish: the index of every image built.
    #[serde(skip)]
    pub entries: Vec<LayoutEntry>,
}

/// What to do with platforms this machine cannot build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// Build the others and report these.
    Skip,
    /// Fail before building anything.
    Fail,
}

#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub output: PathBuf,
    /// Only these platforms (empty: all configured).
    pub platforms: Vec<Platform>,
    /// Only these images (empty: all).
    pub images: Vec<String>,
    pub missing: Missing,
    /// The run's registry session (for base images).
    pub registry: std::sync::Arc<crate::registry::Clients>,
}

/// What every builder needs.
pub struct Ctx {
    pub root: PathBuf,
    pub layout: Layout,
    pub cache_dir: PathBuf,
    /// `SOURCE_DATE_EPOCH`.
    pub epoch: i64,
    /// `BUILD_DATE` (ISO 8601 of the epoch).
    pub build_date: String,
    /// Base images from registries, cached in `target/stevedore/base`.
    pub pull: pull::Puller,
    /// Where progress lines go.
    pub log: Shared,
}

/// One image's work: what to build and what is skipped.
struct Job<'a> {
    image: &'a ImagePlan,
    driver: Option<dockerfile::Driver>,
    build: Vec<Platform>,
    skipped: Vec<Skipped>,
}

/// Builds the images and platforms `opts` selects from `plan` into the layout `opts.output`
/// (relative to the workspace `root`).
pub fn build(plan: &Plan, root: &Path, opts: &BuildOptions, log: &Shared) -> Result<BuildReport> {
    let jobs = select(plan, root, opts)?;
    let unavailable: Vec<String> = jobs
        .iter()
        .flat_map(|j| {
            j.skipped.iter().map(|s| {
                format!(
                    "  image {} {}: {}\n    fix: {}",
                    j.image.name, s.platform, s.problem.reason, s.problem.fix
                )
            })
        })
        .collect();
    if opts.missing == Missing::Fail && !unavailable.is_empty() {
        bail!(Problem::unavailable(
            format!(
                "this machine cannot build every requested platform, so nothing was built:\n{}",
                unavailable.join("\n")
            ),
            "`cargo xtask build` without --platform/--require-all, or `release --dry-run`, builds \
             the others and lists these"
        ));
    }

    let output = root.join(&opts.output);
    let ctx = Ctx {
        layout: Layout::create(&output)?,
        cache_dir: root.join("target/stevedore/cache/layers"),
        root: root.to_path_buf(),
        epoch: plan.git.source_date_epoch,
        build_date: plan.git.build_date.clone(),
        pull: pull::Puller::new(
            root.join("target/stevedore/base"),
            opts.registry.clone(),
            log.clone(),
        ),
        log: log.clone(),
    };
    let mut images = Vec::new();
    let mut entries = Vec::new();
    for job in jobs {
        let image = job.image;
        let built = build_image(&ctx, job)?;
        if let Some(index) = &built.index {
            entries.push(LayoutEntry {
                layout_name: image.layout_name.clone(),
                descriptor: index.clone(),
                content: Content::Image {
                    image: image.name.clone(),
                },
                targets: image.targets.clone(),
            });
        }
        images.push(built);
    }
    Ok(BuildReport {
        layout: output,
        images,
        entries,
    })
}

/// The images and platforms selected, each checked for availability.
fn select<'a>(plan: &'a Plan, root: &Path, opts: &BuildOptions) -> Result<Vec<Job<'a>>> {
    for name in &opts.images {
        if plan.image(name).is_none() {
            let known: Vec<&str> = plan.images.iter().map(|i| i.name.as_str()).collect();
            bail!(Problem::usage(
                format!(
                    "--image {name}: no such image (the config has: {})",
                    known.join(", ")
                ),
                "name one of those, or add an [images.<name>] table to the config"
            ));
        }
    }
    let want: BTreeSet<Platform> = opts.platforms.iter().map(Platform::normalized).collect();
    let host = cargo::host_target();
    let mut jobs = Vec::new();
    let mut matched = BTreeSet::new();
    for image in &plan.images {
        if !opts.images.is_empty() && !opts.images.contains(&image.name) {
            continue;
        }
        let platforms: Vec<Platform> = image
            .platforms
            .iter()
            .filter(|p| want.is_empty() || want.contains(&p.normalized()))
            .cloned()
            .collect();
        matched.extend(platforms.iter().map(Platform::normalized));
        if platforms.is_empty() {
            continue;
        }
        let mut job = Job {
            image,
            driver: None,
            build: Vec::new(),
            skipped: Vec::new(),
        };
        let mut skip = |p: &Platform, u: Problem| {
            job.skipped.push(Skipped {
                platform: p.clone(),
                problem: u,
            })
        };
        match &image.builder {
            Builder::Native(spec) => {
                for p in &platforms {
                    let check = match spec.native.cargo_bin {
                        Some(_) => cargo::check(image, spec, p, host.as_deref()),
                        None => Ok(()),
                    };
                    match check {
                        Ok(()) => job.build.push(p.clone()),
                        Err(u) => skip(p, u),
                    }
                }
            }
            Builder::Dockerfile {
                dockerfile,
                driver,
                target,
                ..
            } => match dockerfile::resolve(*driver, &image.name) {
                Ok(d) => {
                    job.driver = Some(d);
                    for p in &platforms {
                        match dockerfile::check_platform(
                            &root.join(dockerfile),
                            target.as_deref(),
                            p,
                        ) {
                            Ok(()) => job.build.push(p.clone()),
                            Err(u) => skip(p, u),
                        }
                    }
                }
                Err(u) => {
                    for p in &platforms {
                        skip(p, u.clone());
                    }
                }
            },
        }
        jobs.push(job);
    }
    for p in &want {
        if !matched.contains(p) {
            bail!(Problem::usage(
                format!("--platform {p}: no selected image is configured for it"),
                "add it to release.platforms (or the image's platforms), or pick another"
            ));
        }
    }
    Ok(jobs)
}

fn build_image(ctx: &Ctx, job: Job<'_>) -> Result<BuiltImage> {
    let image = job.image;
    let started = Instant::now();
    let mut report = BuiltImage {
        name: image.name.clone(),
        layout_name: image.layout_name.clone(),
        index: None,
        platforms: Vec::new(),
        skipped: job.skipped,
        references: image
            .targets
            .iter()
            .flat_map(|t| t.references.iter().cloned())
            .collect(),
        seconds: 0.0,
    };
    for s in &report.skipped {
        ctx.log.line(&format!(
            "[{} {}] skipped: {} (fix: {})",
            image.name, s.platform, s.problem.reason, s.problem.fix
        ));
    }
    if job.build.is_empty() {
        return Ok(report);
    }
    match &image.builder {
        Builder::Native(spec) => {
            for p in &job.build {
                ctx.log
                    .line(&format!("[{} {p}] building (native)", image.name));
                let built = native::build(ctx, image, spec, p)
                    .with_context(|| format!("image {} ({p})", image.name))?;
                report.platforms.push(built);
            }
        }
        Builder::Dockerfile {
            dockerfile,
            context,
            target,
            ..
        } => {
            let driver = job.driver.expect("resolved with the job");
            let shown: Vec<String> = job.build.iter().map(|p| p.to_string()).collect();
            let tmp = TempDir(ctx.root.join(format!(
                "target/stevedore/tmp/{}-{}",
                image.name,
                std::process::id()
            )));
            let _ = std::fs::remove_dir_all(&tmp.0);
            let req = dockerfile::Request {
                image,
                dockerfile: ctx.root.join(dockerfile),
                context: ctx.root.join(context),
                target: target.as_deref(),
                platforms: &job.build,
                epoch: ctx.epoch,
                out: tmp.0.clone(),
            };
            ctx.log.line(&format!(
                "[{} {}] building with {}",
                image.name,
                shown.join(","),
                driver.name()
            ));
            report.platforms = dockerfile::build(ctx, driver, &req)
                .with_context(|| format!("image {} ({})", image.name, shown.join(", ")))?;
        }
    }
    let mut index = Index::new(
        report
            .platforms
            .iter()
            .map(|b| b.manifest.clone())
            .collect(),
    );
    index.annotations = image.oci_annotations();
    let desc = ctx.layout.write_json(MEDIA_INDEX, &index)?;
    // Every manifest is in place: now the name may point at the index.
    ctx.layout.set_ref(&image.layout_name, &desc)?;
    report.index = Some(desc);
    report.seconds = started.elapsed().as_secs_f64();
    ctx.log.line(&format!(
        "[{}] {} in {:.2} s",
        image.name, image.layout_name, report.seconds
    ));
    Ok(report)
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Removes the caches of the workspace at `root`: buildah's storage (outside the workspace),
/// and under `target/stevedore` the layer and Dockerfile caches, the buildx cache and temp
/// files; with `all`, `target/stevedore` entirely. Returns what was removed.
pub fn clean(root: &Path, all: bool) -> Result<Vec<PathBuf>> {
    let state = root.join("target/stevedore");
    let mut candidates = vec![dockerfile::buildah_storage(root)];
    if all {
        candidates.push(state);
    } else {
        for d in ["cache", "tmp", "buildx-cache"] {
            candidates.push(state.join(d));
        }
    }
    let mut removed = Vec::new();
    for path in candidates {
        if path.exists() {
            std::fs::remove_dir_all(&path)
                .with_context(|| format!("cannot remove {}", path.display()))?;
            removed.push(path);
        }
    }
    Ok(removed)
}

/// One image × platform for `doctor`: the builder a release would use, or why it cannot.
pub type Availability = (String, Platform, Result<String, Problem>);

/// What a release would find on this machine for every image × platform: the builder it would
/// use, or why it cannot (the problem and its fix). For `doctor`.
pub fn availability(plan: &Plan, root: &Path) -> Result<Vec<Availability>> {
    let opts = BuildOptions {
        output: PathBuf::from("target/stevedore/oci"),
        platforms: Vec::new(),
        images: Vec::new(),
        missing: Missing::Skip,
        registry: Default::default(),
    };
    let mut out = Vec::new();
    let mut buildx_checked = std::collections::HashMap::new();
    for job in select(plan, root, &opts)? {
        let how = match (&job.image.builder, job.driver) {
            (Builder::Native(spec), _) => match (&spec.native.command, &spec.native.cargo_bin) {
                (Some(cmd), _) => {
                    let program = cmd.first().cloned().unwrap_or_default();
                    if program.contains('/') || crate::exec::on_path(&program) {
                        format!("native, command {program}")
                    } else {
                        for p in &job.build {
                            out.push((
                                job.image.name.clone(),
                                p.clone(),
                                Err(Problem::new(
                                    crate::problem::Kind::Unavailable,
                                    format!("native.command needs {program}, which is not on PATH"),
                                    format!(
                                        "install {program}, or change images.{}.native.command",
                                        job.image.name
                                    ),
                                )),
                            ));
                        }
                        continue;
                    }
                }
                (None, Some(_)) => "native, cargo".to_string(),
                (None, None) => "native".to_string(),
            },
            (
                Builder::Dockerfile {
                    builder_name: name, ..
                },
                Some(dockerfile::Driver::Buildx),
            ) => {
                // The driver must export an OCI layout; asked once per builder.
                let checked = buildx_checked
                    .entry(name.clone())
                    .or_insert_with(|| buildx::check(name.as_deref()))
                    .clone();
                match checked {
                    Ok(how) => how,
                    Err(p) => {
                        for platform in &job.build {
                            out.push((job.image.name.clone(), platform.clone(), Err(p.clone())));
                        }
                        continue;
                    }
                }
            }
            (_, Some(d)) => d.name().to_string(),
            (_, None) => String::new(),
        };
        for p in job.build {
            out.push((job.image.name.clone(), p, Ok(how.clone())));
        }
        for s in job.skipped {
            out.push((job.image.name.clone(), s.platform, Err(s.problem)));
        }
    }
    Ok(out)
}
