//! One function per subcommand: load the workspace, run the stage, print the result.

use anyhow::{Context, Result};
use serde_json::json;

use crate::cli::{Cli, Command, JsonFlag};
use crate::facts::github::in_github_actions;
use crate::plan::Plan;
use crate::report::github::write_outputs;
use crate::workspace::Workspace;

pub fn run(cli: Cli) -> Result<()> {
    match &cli.command {
        Command::Version => {
            let ws = load(&cli.global)?;
            println!("{}", ws.plan.version);
            Ok(())
        }
        Command::Tags(flag) => tags(&load(&cli.global)?, flag),
        Command::Plan(flag) => plan(&load(&cli.global)?, flag),
        Command::Build(args) => crate::release::build_cmd(&load(&cli.global)?, args),
        Command::Release(args) => {
            crate::release::release(&load(&cli.global)?, args, cli.global.verbose)
        }
        Command::Push(args) => push(&load(&cli.global)?, args, cli.global.verbose),
        Command::Merge(args) => merge(&load(&cli.global)?, args, cli.global.verbose),
        Command::LoginCheck => login_check(&load(&cli.global)?, cli.global.verbose),
    }
}

/// Loads the workspace `-C` and `--config` name, and prints its warnings.
fn load(global: &crate::cli::Global) -> Result<Workspace> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let root = match &global.dir {
        Some(d) => cwd.join(d),
        None => cwd,
    };
    if !root.is_dir() {
        anyhow::bail!("-C {}: no such directory", root.display());
    }
    let config_path = match &global.config {
        Some(p) => root.join(p),
        None => root.join(crate::config::DEFAULT_PATH),
    };
    let ws = Workspace::load(&root, &config_path)?;
    for w in &ws.warnings {
        eprintln!("warning: {w}");
    }
    Ok(ws)
}

/// Publish options from the config and the command line.
pub fn publish_options(
    ws: &Workspace,
    flags: &crate::cli::PublishFlags,
    verbose: bool,
) -> Result<crate::publish::Options> {
    let mut opts = ws.publish_options(verbose);
    if let Some(n) = flags.concurrency {
        if n == 0 || n > 64 {
            anyhow::bail!("--concurrency {n} is out of range: use 1 to 64");
        }
        opts.concurrency = n;
    }
    opts.metadata_file = flags.metadata_file.as_ref().map(|p| ws.path(p));
    Ok(opts)
}

fn push(ws: &Workspace, args: &crate::cli::PushArgs, verbose: bool) -> Result<()> {
    report_rewrites(&ws.plan);
    let layout = crate::oci::layout::Layout::open(&ws.path(&args.layout))?;
    let mut opts = publish_options(ws, &args.publish, verbose)?;
    opts.by_digest = args.by_digest;
    opts.digest_file = Some(ws.path(&args.digest_file));
    crate::publish::publish(&ws.plan, &layout, &opts).map(|_| ())
}

fn merge(ws: &Workspace, args: &crate::cli::MergeArgs, verbose: bool) -> Result<()> {
    report_rewrites(&ws.plan);
    let opts = publish_options(ws, &args.publish, verbose)?;
    let files: Vec<_> = args.digest_files.iter().map(|p| ws.path(p)).collect();
    crate::publish::merge(&ws.plan, &files, &opts).map(|_| ())
}

fn login_check(ws: &Workspace, verbose: bool) -> Result<()> {
    let flags = crate::cli::PublishFlags {
        metadata_file: None,
        concurrency: None,
    };
    let opts = publish_options(ws, &flags, verbose)?;
    let (lines, ok) = crate::publish::login_check(&ws.plan, &opts)?;
    for l in lines {
        println!("{l}");
    }
    if !ok {
        anyhow::bail!("some registries would refuse the push (see above)");
    }
    Ok(())
}

/// `tags --json`: version, tags, and per image every full reference.
pub fn tags_json(plan: &Plan) -> serde_json::Value {
    let images: serde_json::Map<String, serde_json::Value> = plan
        .images
        .iter()
        .map(|i| {
            let refs: Vec<&String> = i.targets.iter().flat_map(|t| &t.references).collect();
            (i.name.clone(), json!(refs))
        })
        .collect();
    json!({
        "version": plan.version,
        "tags": plan.tags,
        "images": images,
        "rewritten": plan.rewritten_tags,
    })
}

fn tags(ws: &Workspace, flag: &JsonFlag) -> Result<()> {
    let plan = &ws.plan;
    report_rewrites(plan);
    let doc = tags_json(plan);
    if flag.json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        println!("version {}", plan.version);
        for t in &plan.tags {
            println!("tag {t}");
        }
        for i in &plan.images {
            for t in &i.targets {
                for r in &t.references {
                    println!("{} {r}", i.name);
                }
            }
        }
    }
    github_outputs(plan, &doc)
}

fn plan(ws: &Workspace, flag: &JsonFlag) -> Result<()> {
    let plan = &ws.plan;
    report_rewrites(plan);
    if flag.json {
        println!("{}", serde_json::to_string_pretty(plan)?);
    } else {
        print!("{}", render_plan(plan));
    }
    github_outputs(plan, &serde_json::to_value(plan)?)
}

fn report_rewrites(plan: &Plan) {
    for r in &plan.rewritten_tags {
        eprintln!(
            "note: tag {:?} rewritten to {:?}: {}",
            r.from, r.to, r.reason
        );
    }
}

fn github_outputs(plan: &Plan, json: &serde_json::Value) -> Result<()> {
    let env = |k: &str| std::env::var(k).ok();
    if !in_github_actions(&env) {
        return Ok(());
    }
    if let Some(path) = env("GITHUB_OUTPUT").filter(|p| !p.is_empty()) {
        write_outputs(
            &path,
            &[
                ("version", plan.version.clone()),
                ("tags", plan.tags.join("\n")),
                ("json", serde_json::to_string(json)?),
            ],
        )?;
    }
    Ok(())
}

/// The human-readable plan.
pub fn render_plan(plan: &Plan) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let g = &plan.git;
    let _ = writeln!(s, "release {} version {}", plan.name, plan.version);
    let _ = writeln!(
        s,
        "commit {}{} ({:?}, {:?}) built at {}",
        g.short_sha,
        if g.dirty { " (dirty)" } else { "" },
        g.event,
        g.git_ref,
        g.build_date
    );
    let _ = writeln!(s, "tags: {}", plan.tags.join(", "));
    for i in &plan.images {
        let builder = match &i.builder {
            crate::plan::Builder::Native(_) => "native".to_string(),
            crate::plan::Builder::Dockerfile {
                dockerfile, driver, ..
            } => format!("dockerfile {} ({driver:?})", dockerfile.display()),
        };
        let platforms: Vec<String> = i.platforms.iter().map(|p| p.to_string()).collect();
        let _ = writeln!(s, "image {} [{}] {}", i.name, platforms.join(", "), builder);
        for (k, v) in &i.build_args {
            let _ = writeln!(s, "  arg {k}={v}");
        }
        for (k, v) in &i.labels {
            let _ = writeln!(s, "  label {k}={v}");
        }
        for t in &i.targets {
            for r in &t.references {
                let _ = writeln!(s, "  push {r}");
            }
        }
    }
    if let Some(c) = &plan.compose {
        let files: Vec<String> = c.files.iter().map(|f| f.display().to_string()).collect();
        let _ = writeln!(s, "compose {} ({})", c.repository, files.join(", "));
        for t in &c.targets {
            for r in &t.references {
                let _ = writeln!(s, "  push {r}");
            }
        }
    }
    s
}
