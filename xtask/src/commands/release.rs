//! `build` and `release [--dry-run]`.

use anyhow::Result;

use crate::cli::{BuildArgs, ReleaseArgs};
use crate::pipeline;
use crate::report::tables::build_table;
use crate::workspace::Workspace;

pub(super) fn build(ws: &Workspace, args: &BuildArgs) -> Result<()> {
    let opts = super::build_options(ws, args)?;
    let report = crate::builder::build(&ws.plan, &ws.root, &opts, &super::progress(false))?;
    print!("{}", build_table(&report, None));
    Ok(())
}

pub(super) fn release(ws: &Workspace, args: &ReleaseArgs, verbose: bool) -> Result<()> {
    let opts = pipeline::ReleaseOptions {
        dry_run: args.dry_run,
        build: super::build_options(ws, &args.build)?,
        publish: super::publish_options(ws, None)?,
    };
    let progress = super::progress(verbose);
    let dry_run = args.dry_run;
    let report = pipeline::release(&ws.plan, &ws.root, &opts, &progress, &mut |built| {
        print!("{}", build_table(built, Some(dry_run)));
        if let Some(compose) = &ws.plan.compose {
            // Said plainly rather than skipped silently: the stage is not part of stevedore yet.
            eprintln!(
                "note: [compose] is configured ({}), but publishing the compose artifact is not implemented yet: it is not built or pushed by this release",
                compose.repository
            );
        }
        if dry_run {
            println!("dry run: nothing was pushed");
        }
    })?;
    if let Some(pushed) = &report.published {
        crate::report::publish::finish(&ws.plan, pushed, None, &*progress)?;
        for (name, image) in &pushed.images {
            for reference in &image.references {
                println!("pushed {name} {reference}");
            }
        }
    }
    Ok(())
}
