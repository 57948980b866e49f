//! `push`, `merge` and `login-check`.

use std::path::Path;
use std::sync::Arc;

use anyhow::Result;

use crate::cli::{MergeArgs, PublishFlags, PushArgs};
use crate::compose::stage::ComposeOptions;
use crate::oci::layout::Layout;
use crate::pipeline::job_record::{self, JobAttest};
use crate::pipeline::matrix::{self, MergeOptions};
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
    let attest = super::attest_options(ws, None)?;
    if args.by_digest {
        // The job makes the SBOMs `merge` attaches: `sbom = "syft"` needs syft here.
        crate::attest::stage::preflight(&ws.plan, &attest)?;
    }
    let entries = if args.by_digest {
        crate::publish::image_entries(&ws.plan, &layout)?
    } else {
        crate::publish::layout_entries(&ws.plan, &layout)?
    };
    let pushed = crate::publish::publish(&ws.plan, &entries, &layout, &opts, &progress)?;
    if args.by_digest {
        let job = JobAttest {
            mode: attest.mode,
            sbom: attest.sbom,
        };
        let digest_file = ws.path(&args.digest_file);
        job_record::write(&ws.plan, &ws.root, &layout, &digest_file, job, &*progress)?;
        progress.line(&format!(
            "recorded the job in {} (what `merge` needs for provenance and the SBOMs)",
            digest_file.display()
        ));
    }
    finish(&ws.plan, &pushed, opts.metadata_file.as_deref(), &*progress)
}

pub(super) fn merge(ws: &Workspace, args: &MergeArgs, verbose: bool) -> Result<()> {
    report::rewrites(&ws.plan);
    crate::policy::refuse_dirty(&ws.plan, &ws.untracked_inputs, args.publish.allow_dirty)?;
    let (progress, mut publish) = publish_run(ws, &args.publish, verbose)?;
    publish.allow_partial = args.allow_partial;
    let files: Vec<_> = args.digest_files.iter().map(|p| ws.path(p)).collect();
    let opts = MergeOptions {
        attest: super::attest_options(ws, args.signing_key.as_deref())?,
        compose: ComposeOptions {
            yes: args.yes,
            dry_run: false,
            registry: publish.registry.clone(),
        },
        layout: ws.path(Path::new("target/stevedore/merge")),
        publish,
    };
    let merged = matrix::merge(&ws.plan, &ws.root, &files, &opts, &progress)?;
    super::release::attest_lines(&merged.attest);
    eprint!("{}", crate::report::compose::notes(&merged.compose));
    print!(
        "{}",
        crate::report::compose::summary(&merged.compose, false)
    );
    let metadata = opts.publish.metadata_file.as_deref();
    finish(&ws.plan, &merged.published, metadata, &*progress)?;
    for (name, image) in merged
        .published
        .images
        .iter()
        .chain(&merged.published.artifacts)
    {
        for reference in &image.references {
            println!("pushed {name} {reference}");
        }
    }
    Ok(())
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
