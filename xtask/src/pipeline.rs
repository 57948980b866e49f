//! The release: plan → build → (attest) → (compose) → publish, returning a [`ReleaseReport`].
//!
//! `--dry-run` walks the same path and stops at the registry door: it builds every platform this
//! machine can and lists the others with the reason and the fix. A release that publishes never
//! publishes a partial platform set: it fails before building if any platform is unavailable.

use std::path::Path;

use anyhow::{bail, Result};

use crate::builder::{self, BuildReport, Missing};
use crate::oci::layout::Layout;
use crate::plan::{ImagePlan, Plan};
use crate::progress::Shared;
use crate::publish;

/// How to run a release.
#[derive(Debug, Clone)]
pub struct ReleaseOptions {
    /// Do everything that can run locally; write nothing to any registry.
    pub dry_run: bool,
    pub build: builder::BuildOptions,
    pub publish: publish::PublishOptions,
}

/// What a release did.
#[derive(Debug, Clone)]
pub struct ReleaseReport {
    pub build: BuildReport,
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
    let report = builder::build(plan, root, &build_opts, log)?;
    built(&report);
    if opts.dry_run {
        return Ok(ReleaseReport {
            build: report,
            published: None,
        });
    }
    // Every configured platform of every image is in the layout: publish what was built.
    let built: Vec<&ImagePlan> = plan
        .images
        .iter()
        .filter(|i| {
            report
                .images
                .iter()
                .any(|r| r.name == i.name && r.index.is_some())
        })
        .collect();
    let layout = Layout::open(&report.layout)?;
    let pushed = publish::publish(plan, &built, &layout, &opts.publish, log)?;
    Ok(ReleaseReport {
        build: report,
        published: Some(pushed),
    })
}
