//! `push`, `merge` and `login-check`.

use std::sync::Arc;

use anyhow::Result;

use crate::cli::{MergeArgs, PushArgs};
use crate::oci::layout::Layout;
use crate::report::terminal_progress::Progress;
use crate::report::{self, publish::finish};
use crate::workspace::Workspace;

pub(super) fn push(ws: &Workspace, args: &PushArgs, verbose: bool) -> Result<()> {
    report::rewrites(&ws.plan);
    super::refuse_dirty(ws, args.publish.allow_dirty)?;
    if !args.by_digest {
        super::refuse_untagged(ws)?;
    }
    let layout = Layout::open(&ws.path(&args.layout))?;
    let mut opts = super::publish_options(ws, Some(&args.publish))?;
    opts.floating = Some(super::floating_tags(ws, args.publish.force_tags));
    opts.by_digest = args.by_digest;
    opts.digest_file = Some(ws.path(&args.digest_file));
    let progress = super::progress(verbose);
    let images: Vec<_> = ws.plan.images.iter().collect();
    let artifacts = compose_artifacts(ws, &layout)?;
    let pushed = crate::publish::publish(&ws.plan, &images, &artifacts, &layout, &opts, &progress)?;
    finish(&ws.plan, &pushed, opts.metadata_file.as_deref(), &*progress)
}

pub(super) fn merge(ws: &Workspace, args: &MergeArgs, verbose: bool) -> Result<()> {
    report::rewrites(&ws.plan);
    super::refuse_dirty(ws, args.publish.allow_dirty)?;
    let mut opts = super::publish_options(ws, Some(&args.publish))?;
    opts.floating = Some(super::floating_tags(ws, args.publish.force_tags));
    opts.allow_partial = args.allow_partial;
    let files: Vec<_> = args.digest_files.iter().map(|p| ws.path(p)).collect();
    let progress = super::progress(verbose);
    let merged = crate::publish::merge(&ws.plan, &files, &opts, &progress)?;
    finish(&ws.plan, &merged, opts.metadata_file.as_deref(), &*progress)
}

pub(super) fn login_check(ws: &Workspace, verbose: bool) -> Result<()> {
    let opts = super::publish_options(ws, None)?;
    let progress: crate::progress::Shared = Arc::new(Progress::lines(verbose));
    let (lines, ok) = crate::publish::login_check(&ws.plan, &opts, &progress, false)?;
    for l in lines {
        println!("{l}");
    }
    if !ok {
        anyhow::bail!("some registries would refuse the push (see above)");
    }
    Ok(())
}

/// The compose artifacts of the plan, as `cargo xtask compose` (or a release) wrote them into
/// the layout: every one must be there.
fn compose_artifacts(ws: &Workspace, layout: &Layout) -> Result<Vec<crate::publish::Artifact>> {
    let mut out = Vec::new();
    for c in &ws.plan.composes {
        for t in &c.targets {
            let name = crate::compose::stage::layout_name(c, t, &ws.plan.version);
            if layout.resolve(&name).is_err() {
                anyhow::bail!(
                    "the compose artifact {} for {} is not in the layout {}: run `cargo xtask compose` first",
                    c.repository,
                    t.registry,
                    layout.root().display()
                );
            }
            let fallback = format!("{name}-oci1.0");
            out.push(crate::publish::Artifact {
                layout_name: name,
                fallback_layout_name: layout.resolve(&fallback).is_ok().then_some(fallback),
                target: t.clone(),
                tagged: true,
            });
        }
    }
    Ok(out)
}
