//! `build` and `release [--dry-run]`.

use anyhow::Result;

use crate::cli::{BuildArgs, ComposeArgs, ReleaseArgs};
use crate::compose::stage::ComposeOptions;
use crate::oci::layout::Layout;
use crate::pipeline;
use crate::report::tables::build_table;

use super::Retries;
use crate::workspace::Workspace;

pub(super) fn build(ws: &Workspace, args: &BuildArgs) -> Result<()> {
    let progress = super::progress(false);
    let clients = super::registry_session(super::registry_settings(ws), &progress, Retries::Shown)?;
    let opts = super::build_options(args, &clients)?;
    let started = pipeline::job_record::now();
    let report = crate::builder::build(&ws.plan, &ws.root, &opts, &progress)?;
    // For a matrix job's `push --by-digest`: when this build ran (provenance's times).
    pipeline::job_record::record_build(
        &ws.plan,
        &report.layout,
        started,
        pipeline::job_record::now(),
    )?;
    print!("{}", build_table(&report, None));
    Ok(())
}

pub(super) fn release(ws: &Workspace, args: &ReleaseArgs, verbose: bool) -> Result<()> {
    if !args.dry_run {
        crate::policy::refuse_dirty(&ws.plan, &ws.untracked_inputs, args.allow_dirty)?;
        crate::policy::refuse_untagged(&ws.plan, &ws.config.path)?;
    }
    let progress = super::progress(verbose);
    // One registry session for the whole release: base images, compose images, publish.
    let clients = super::registry_session(super::registry_settings(ws), &progress, Retries::Shown)?;
    let mut publish = super::publish_options(ws, None, &clients)?;
    publish.floating = Some(crate::policy::floating_tags(
        &ws.plan,
        &ws.root,
        args.force_tags,
    ));
    let opts = pipeline::ReleaseOptions {
        dry_run: args.dry_run,
        build: super::build_options(&args.build, &clients)?,
        attest: super::attest_options(ws, args.signing_key.as_deref())?,
        compose: ComposeOptions {
            yes: args.yes,
            dry_run: args.dry_run,
            registry: clients.clone(),
        },
        publish,
    };
    let dry_run = args.dry_run;
    let report = pipeline::release(&ws.plan, &ws.root, &opts, &progress, &mut |built| {
        print!("{}", build_table(built, Some(dry_run)));
    })?;
    attest_lines(&report.attest);
    eprint!("{}", crate::report::compose::notes(&report.compose));
    print!(
        "{}",
        crate::report::compose::summary(&report.compose, dry_run)
    );
    if dry_run {
        println!("dry run: nothing was pushed");
    }
    if let Some(pushed) = &report.published {
        let metadata = args.metadata_file.as_ref().map(|p| ws.path(p));
        crate::report::publish::finish(&ws.plan, pushed, metadata.as_deref(), &*progress)?;
        for (name, image) in pushed.images.iter().chain(&pushed.artifacts) {
            for reference in &image.references {
                println!("pushed {name} {reference}");
            }
        }
    }
    Ok(())
}

/// The attest stage's notes, warnings and one line per attestation (`release`, `merge`).
pub(super) fn attest_lines(report: &crate::attest::stage::AttestReport) {
    for note in &report.notes {
        eprintln!("note: {note}");
    }
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    for a in &report.attestations {
        println!(
            "attested {} {} {}{}",
            a.image,
            a.predicate_type,
            a.subject,
            if a.signed { " (signed)" } else { "" }
        );
    }
}

/// `cargo xtask compose`: the compose artifacts into the layout, their manifests printed.
pub(super) fn compose(ws: &Workspace, args: &ComposeArgs, verbose: bool) -> Result<()> {
    if ws.plan.composes.is_empty() {
        anyhow::bail!(crate::problem::Problem::config(
            format!("{}: no [compose] table", ws.config.path.display()),
            "add one with `files` (and `repository`) to publish a compose artifact"
        ));
    }
    let layout = Layout::open(&ws.path(&args.layout))?;
    let progress = super::progress(verbose);
    let opts = ComposeOptions {
        yes: args.yes,
        dry_run: true,
        registry: super::registry_session(super::registry_settings(ws), &progress, Retries::Shown)?,
    };
    let checked = crate::compose::stage::preflight(&ws.plan, &ws.root, args.yes)?;
    let report = crate::compose::stage::build(&ws.plan, &checked, &layout, &opts)?;
    eprint!("{}", crate::report::compose::notes(&report));
    print!("{}", crate::report::compose::summary(&report, true));
    Ok(())
}
