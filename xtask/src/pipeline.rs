//! The release: plan → build → (attest) → (compose) → publish, returning a [`ReleaseReport`].
//!
//! `--dry-run` walks the same path and stops at the registry door: it builds every platform this
//! machine can and lists the others with the reason and the fix. A release that publishes never
//! publishes a partial platform set: it fails before building if any platform is unavailable.

use std::path::Path;

use anyhow::{bail, Result};

use crate::attest::stage::{self as attest, AttestOptions, AttestReport};
use crate::builder::{self, BuildReport, Missing};
use crate::compose::stage::{self as compose, ComposeOptions, ComposeReport};
use crate::oci::layout::Layout;
use crate::plan::handoff;
use crate::plan::{ImagePlan, Plan};
use crate::progress::Shared;
use crate::publish;

pub mod job_record;
pub mod matrix;

/// How to run a release.
#[derive(Debug, Clone)]
pub struct ReleaseOptions {
    /// Do everything that can run locally; write nothing to any registry.
    pub dry_run: bool,
    pub build: builder::BuildOptions,
    pub attest: AttestOptions,
    pub compose: ComposeOptions,
    pub publish: publish::PublishOptions,
}

/// What a release did.
#[derive(Debug, Clone)]
pub struct ReleaseReport {
    pub build: BuildReport,
    /// The attestations written into the layout (and pushed, unless a dry run).
    pub attest: AttestReport,
    /// The compose artifacts written into the layout (and pushed, unless a dry run).
    pub compose: ComposeReport,
    /// What was pushed; `None` on a dry run.
    pub published: Option<publish::Report>,
}

/// Runs the release of `plan` in the workspace `root`. `built` is called once the layout holds
/// every image built, before anything is pushed (the face shows the build there).
pub fn release(
    plan: &Plan,
    root: &Path,
    opts: &ReleaseOptions,
    log: &Shared,
    built: &mut dyn FnMut(&BuildReport),
) -> Result<ReleaseReport> {
    let mut build_opts = opts.build.clone();
    if !opts.dry_run {
        if !build_opts.platforms.is_empty() {
            bail!(
                "--platform restricts a build, and a release publishes every configured platform: use it with --dry-run or `cargo xtask build`"
            );
        }
        build_opts.missing = Missing::Fail;
    }
    // A compose artifact that cannot be published stops the release before any build.
    let checked = compose::preflight(plan, root, opts.compose.yes)?;
    // So does `sbom = "syft"` without syft.
    attest::preflight(plan, &opts.attest)?;
    let report = builder::build(plan, root, &build_opts, log)?;
    built(&report);
    let layout = Layout::open(&report.layout)?;
    // Attest every image built (its index is in the layout), before compose pins the digests:
    // the in-index form changes the index.
    let built_images: Vec<(&ImagePlan, crate::oci::Descriptor)> = report
        .entries
        .iter()
        .filter_map(|e| Some((plan.image(e.image()?)?, e.descriptor.clone())))
        .collect();
    let attested = attest::attest(plan, root, &layout, &built_images, &opts.attest, &**log)?;
    let mut compose_opts = opts.compose.clone();
    compose_opts.dry_run = opts.dry_run;
    let composed = compose::build(plan, &checked, &layout, &compose_opts)?;
    if opts.dry_run {
        return Ok(ReleaseReport {
            build: report,
            attest: attested,
            compose: composed,
            published: None,
        });
    }
    // Every configured platform of every image is in the layout: publish what the stages put
    // there (an index attest rewrote in place of the one built; compose artifacts before the
    // attestations, as they are pushed).
    let entries = handoff::latest(&[&report.entries, &composed.entries, &attested.entries]);
    let pushed = publish::publish(plan, &entries, &layout, &opts.publish, log)?;
    Ok(ReleaseReport {
        build: report,
        attest: attested,
        compose: composed,
        published: Some(pushed),
    })
}
