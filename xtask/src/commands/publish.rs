//! `push`, `merge` and `login-check`.

use std::sync::Arc;

use anyhow::Result;

use crate::cli::{MergeArgs, PublishFlags, PushArgs};
use crate::oci::layout::Layout;
use crate::report::terminal_progress::Progress;
use crate::report::{self, publish::finish};
use crate::workspace::Workspace;

use super::Retries;

/// What `push` and `merge` publish with: the progress sink, and the options over one registry
/// session, with the floating-tag judge.
fn publish_run(
    ws: &Workspace,
    flags: &PublishFlags,
    verbose: bool,
) -> Result<(crate::progress::Shared, crate::publish::PublishOptions)> {
    let progress = super::progress(verbose);
    let clients = super::registry_session(super::registry_settings(ws), &progress, Retries::Shown)?;
    let mut opts = super::publish_options(ws, Some(flags), &clients)?;
    opts.floating = Some(crate::policy::floating_tags(
        &ws.plan,
        &ws.root,
        flags.force_tags,
    ));
    Ok((progress, opts))
}

pub(super) fn push(ws: &Workspace, args: &PushArgs, verbose: bool) -> Result<()> {
    report::rewrites(&ws.plan);
    crate::policy::refuse_dirty(&ws.plan, &ws.untracked_inputs, args.publish.allow_dirty)?;
    if !args.by_digest {
        crate::policy::refuse_untagged(&ws.plan, &ws.config.path)?;
    }
    let layout = Layout::open(&ws.path(&args.layout))?;
    let (progress, mut opts) = publish_run(ws, &args.publish, verbose)?;
    opts.by_digest = args.by_digest;
    opts.digest_file = Some(ws.path(&args.digest_file));
    let entries = crate::publish::layout_entries(&ws.plan, &layout)?;
    let pushed = crate::publish::publish(&ws.plan, &entries, &layout, &opts, &progress)?;
    finish(&ws.plan, &pushed, opts.metadata_file.as_deref(), &*progress)
}

pub(super) fn merge(ws: &Workspace, args: &MergeArgs, verbose: bool) -> Result<()> {
    report::rewrites(&ws.plan);
    crate::policy::refuse_dirty(&ws.plan, &ws.untracked_inputs, args.publish.allow_dirty)?;
    let (progress, mut opts) = publish_run(ws, &args.publish, verbose)?;
    opts.allow_partial = args.allow_partial;
    let files: Vec<_> = args.digest_files.iter().map(|p| ws.path(p)).collect();
    let merged = crate::publish::merge(&ws.plan, &files, &opts, &progress)?;
    finish(&ws.plan, &merged, opts.metadata_file.as_deref(), &*progress)
}

pub(super) fn login_check(ws: &Workspace, verbose: bool) -> Result<()> {
    let progress: crate::progress::Shared = Arc::new(Progress::lines(verbose));
    let clients =
        super::registry_session(super::registry_settings(ws), &progress, Retries::Verbose)?;
    let opts = super::publish_options(ws, None, &clients)?;
    let (lines, ok) = crate::publish::login_check(&ws.plan, &opts, false)?;
    for l in lines {
        println!("{l}");
    }
    if !ok {
        anyhow::bail!("some registries would refuse the push (see above)");
    }
    Ok(())
}
