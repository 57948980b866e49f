//! The face: clap arguments → options, one call into the core, its report printed.

mod ci;
mod doctor;
mod init;
mod plan;
mod publish;
mod release;
mod verify;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};

use crate::builder::{self, Missing};
use crate::cli::{BuildArgs, Cli, Command, Global, PublishFlags};
use crate::oci::platform::Platform;
use crate::oci::reference::RegistryPrefix;
use crate::progress::Shared;
use crate::report::terminal_progress::Progress;
use crate::workspace::Workspace;

pub fn run(cli: Cli) -> Result<()> {
    let g = &cli.global;
    match &cli.command {
        Command::Version => plan::version(&load(g)?),
        Command::Tags(flag) => plan::tags(&load(g)?, flag),
        Command::Plan(flag) => plan::plan(&load(g)?, flag),
        Command::Build(args) => release::build(&load(g)?, args),
        Command::Release(args) => release::release(&load(g)?, args, g.verbose),
        Command::Compose(args) => release::compose(&load(g)?, args, g.verbose),
        Command::Verify(args) => verify::verify(load_if_any(g)?.as_ref(), args, g.verbose),
        Command::Doctor => doctor::doctor(&load(g)?, g.verbose),
        Command::Clean(args) => {
            let ws = load(g)?;
            for removed in builder::clean(&ws.root, args.all)? {
                println!("removed {}", removed.display());
            }
            Ok(())
        }
        Command::Push(args) => publish::push(&load(g)?, args, g.verbose),
        Command::Merge(args) => publish::merge(&load(g)?, args, g.verbose),
        Command::LoginCheck => publish::login_check(&load(g)?, g.verbose),
        Command::Ci(args) => ci::ci(&load(g)?, g, args),
        Command::Init(args) => init::init(g, args),
    }
}

/// The workspace root (`-C`, else the current directory) and the config path (`--config`,
/// else `images/release.toml` under the root).
fn root_and_config(global: &Global) -> Result<(std::path::PathBuf, std::path::PathBuf)> {
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
    Ok((root, config_path))
}

/// Loads the workspace `-C` and `--config` name, and prints its warnings.
fn load(global: &Global) -> Result<Workspace> {
    let (root, config_path) = root_and_config(global)?;
    let ws = Workspace::load(&root, &config_path)?;
    for w in &ws.warnings {
        eprintln!("warning: {w}");
    }
    Ok(ws)
}

/// The workspace when there is one (its config file exists, or `--config` names one); `None`
/// elsewhere, for the commands that also run outside a workspace (`verify`).
fn load_if_any(global: &Global) -> Result<Option<Workspace>> {
    let (_, config_path) = root_and_config(global)?;
    if global.config.is_none() && !config_path.is_file() {
        return Ok(None);
    }
    load(global).map(Some)
}

/// Bars on a terminal, plain lines in logs.
fn progress(verbose: bool) -> Shared {
    Arc::new(Progress::new(verbose))
}

/// How to reach registries, from the config: insecure registries and CA files.
fn registry_settings(ws: &Workspace) -> crate::registry::Settings {
    let r = &ws.config.release;
    crate::registry::Settings {
        insecure: r.insecure_registries.clone(),
        ca_files: r.ca_files.iter().map(|p| ws.path(p)).collect(),
        // Checked when the config was loaded: a mirror that does not parse is not there.
        mirrors: r
            .mirrors
            .iter()
            .filter_map(|(host, to)| {
                let host = RegistryPrefix::parse(host).ok()?.host;
                Some((host, RegistryPrefix::parse(to).ok()?))
            })
            .collect(),
    }
}

/// Whether this runs in a GitHub Actions job (a fact, read in `facts`).
fn in_github_actions() -> bool {
    crate::facts::github::in_github_actions(&|k| std::env::var(k).ok())
}

/// Where registry retries are logged: with the other progress lines, or only with `-v`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Retries {
    Shown,
    Verbose,
}

/// The command's one registry session (one runtime, one client per registry, credentials from
/// the environment and docker's config), built here and handed to every stage.
fn registry_session(
    settings: crate::registry::Settings,
    progress: &Shared,
    retries: Retries,
) -> Result<Arc<crate::registry::Clients>> {
    let (line, verbose) = (progress.clone(), progress.clone());
    let log: crate::registry::Log = match retries {
        Retries::Shown => Arc::new(move |m: &str| line.line(m)),
        Retries::Verbose => Arc::new(move |m: &str| line.verbose(m)),
    };
    let credentials = crate::registry::credentials::FromEnvironment {
        github_actions: in_github_actions(),
    };
    Ok(Arc::new(crate::registry::Clients::new(
        settings,
        Arc::new(credentials),
        log,
        Arc::new(move |m: &str| verbose.verbose(m)),
    )?))
}

/// Publish options, the one place they are assembled: the config's concurrency, the run's
/// registry session, then the command line's flags.
fn publish_options(
    ws: &Workspace,
    flags: Option<&PublishFlags>,
    clients: &Arc<crate::registry::Clients>,
) -> Result<crate::publish::PublishOptions> {
    let mut opts = crate::publish::PublishOptions {
        concurrency: ws.config.release.concurrency,
        registry: clients.clone(),
        ..Default::default()
    };
    if let Some(flags) = flags {
        if let Some(n) = flags.concurrency {
            if n == 0 || n > 64 {
                anyhow::bail!(crate::problem::Problem::usage(
                    format!("--concurrency {n} is out of range"),
                    "use 1 to 64"
                ));
            }
            opts.concurrency = n;
        }
        opts.metadata_file = flags.metadata_file.as_ref().map(|p| ws.path(p));
    }
    Ok(opts)
}

/// Build options from `build`'s (and `release`'s) arguments.
fn build_options(
    args: &BuildArgs,
    clients: &Arc<crate::registry::Clients>,
) -> Result<builder::BuildOptions> {
    let platforms = args
        .platform
        .iter()
        .map(|p| {
            p.parse::<Platform>()
                .map_err(|e| anyhow::anyhow!("--platform: {e}"))
        })
        .collect::<Result<Vec<_>>>()?;
    // A platform asked for by name must be built: never skip it silently.
    let missing = if args.require_all || !platforms.is_empty() {
        Missing::Fail
    } else {
        Missing::Skip
    };
    Ok(builder::BuildOptions {
        output: PathBuf::from(&args.output),
        platforms,
        images: args.image.clone(),
        missing,
        registry: clients.clone(),
    })
}

/// Attestation options from the config, the environment and `--signing-key`: the key is read
/// here and only handed on (never printed).
pub(super) fn attest_options(
    ws: &Workspace,
    signing_key: Option<&std::path::Path>,
) -> Result<crate::attest::stage::AttestOptions> {
    let r = &ws.config.release;
    let signing_key = match signing_key {
        Some(path) => {
            let file = ws.path(path);
            if let Some(mode) = readable_by_others(&file) {
                eprintln!(
                    "warning: --signing-key {}: the private key is readable by other users (mode {mode:o}): chmod 600 {}",
                    path.display(),
                    path.display()
                );
            }
            Some(std::fs::read_to_string(&file).with_context(|| {
                format!("--signing-key {}: cannot read the key file", path.display())
            })?)
        }
        None => std::env::var("STEVEDORE_SIGNING_KEY")
            .ok()
            .filter(|k| !k.trim().is_empty()),
    };
    let config_file = ws.root.join(&ws.config.path);
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let github = in_github_actions().then(|| crate::attest::GithubContext {
        server_url: env("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".into()),
        repository: env("GITHUB_REPOSITORY").unwrap_or_default(),
        workflow_ref: env("GITHUB_WORKFLOW_REF").unwrap_or_default(),
        job_workflow_ref: None,
        run_id: env("GITHUB_RUN_ID").unwrap_or_default(),
        run_attempt: env("GITHUB_RUN_ATTEMPT").unwrap_or_else(|| "1".into()),
        event_name: env("GITHUB_EVENT_NAME").unwrap_or_default(),
    });
    let source_repository = ws
        .plan
        .images
        .iter()
        .find_map(|i| i.labels.get("org.opencontainers.image.source").cloned())
        .unwrap_or_else(|| format!("file://{}", ws.root.display()));
    let opts = crate::attest::stage::AttestOptions {
        mode: r.provenance,
        per_platform: r.provenance_per_platform,
        signing_key,
        secret_args: r.secret_build_args.iter().cloned().collect(),
        config_path: ws.config.path.display().to_string(),
        config_digest: std::fs::read(&config_file)
            .ok()
            .map(|b| crate::oci::Digest::of(&b)),
        source_repository,
        github,
        started: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default(),
        sbom: r.sbom,
        scans: Default::default(),
        run: None,
    };
    opts.check()?;
    Ok(opts)
}

/// The permission bits of `file` when its group or others may read it.
#[cfg(unix)]
fn readable_by_others(file: &std::path::Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(file).ok()?.permissions().mode() & 0o777;
    (mode & 0o044 != 0).then_some(mode)
}

#[cfg(not(unix))]
fn readable_by_others(_: &std::path::Path) -> Option<u32> {
    None
}

/// The program: parse the command line (usage shown as `bin_name`), run, print errors.
pub fn main(bin_name: &'static str) -> std::process::ExitCode {
    use clap::{CommandFactory, FromArgMatches};
    let matches = Cli::command().bin_name(bin_name).get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}", crate::problem::render(&e));
            std::process::ExitCode::FAILURE
        }
    }
}
