//! The workspace a command runs in: its root, its config, its git facts and the plan.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use crate::ci::{self, Source};
use crate::cli::Global;
use crate::config::{self, Config};
use crate::git::{self, GitFacts};
use crate::plan::{Inputs, Plan};

pub struct Workspace {
    pub root: PathBuf,
    pub config: Config,
    pub facts: GitFacts,
    pub source: Source,
    pub plan: Plan,
}

impl Workspace {
    /// Loads config, git facts and CI context, and computes the plan.
    pub fn load(global: &Global) -> Result<Workspace> {
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
            None => root.join(config::DEFAULT_PATH),
        };
        let config = Config::load(&root, &config_path)?;
        let mut facts = git::facts(&root)?;
        let env = |k: &str| std::env::var(k).ok();
        if ci::in_github_actions(&env) && facts.shallow {
            // actions/checkout fetches no tags by default; floating tags need them all.
            match git::remote_tags(&root) {
                Ok(tags) => {
                    facts.tags.extend(tags);
                    facts.tags.sort();
                    facts.tags.dedup();
                }
                Err(e) => eprintln!(
                    "warning: shallow checkout and {e}: floating tags (latest, major, minor) are computed from the local tags only; use actions/checkout with fetch-depth: 0"
                ),
            }
        }
        let now = std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64)
            });
        let (ctx, source) = ci::context(
            &facts,
            &config.release.default_branch,
            now,
            &env,
            &|p| std::fs::read_to_string(p),
            &|sha| commit_time_of(&root, sha),
        )?;
        // git's describe and dirty state speak of HEAD: they apply when HEAD is the commit
        // released (always locally; in Actions unless HEAD is a pull request's merge commit).
        let head_released = ctx.sha == facts.sha;
        let inputs = Inputs {
            ctx,
            dirty: head_released && facts.dirty,
            describe: facts.describe.clone().filter(|_| head_released),
            source: github_source(&env).or_else(|| facts.source_url.clone()),
        };
        let plan = Plan::new(&config, &inputs)
            .map_err(|e| anyhow::anyhow!("{}: {e}", config.path.display()))?;
        Ok(Workspace {
            root,
            config,
            facts,
            source,
            plan,
        })
    }

    /// Registry settings from the config (concurrency, insecure registries, CA files), as
    /// every stage that talks to a registry needs them.
    pub fn publish_options(&self, verbose: bool) -> crate::publish::Options {
        let r = &self.config.release;
        crate::publish::Options {
            concurrency: r.concurrency,
            verbose,
            insecure: r.insecure_registries.clone(),
            ca_files: r.ca_files.iter().map(|p| self.path(p)).collect(),
            ..Default::default()
        }
    }

    /// A path relative to the workspace root.
    pub fn path(&self, p: &Path) -> PathBuf {
        self.root.join(p)
    }
}

fn commit_time_of(root: &Path, sha: &str) -> Option<i64> {
    let sh = xshell::Shell::new().ok()?;
    sh.change_dir(root);
    xshell::cmd!(sh, "git show -s --format=%ct {sha}")
        .quiet()
        .ignore_stderr()
        .read()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// `https://github.com/owner/repo` inside GitHub Actions.
fn github_source(env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    if !ci::in_github_actions(env) {
        return None;
    }
    let server = env("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".into());
    env("GITHUB_REPOSITORY").map(|r| format!("{server}/{r}"))
}
