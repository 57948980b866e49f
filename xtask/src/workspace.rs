//! The workspace a command runs in: its root, its config, its git facts and the plan.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use crate::config::Config;
use crate::facts::git::{self, GitFacts};
use crate::facts::github::{self, Actions};
use crate::facts::Source;
use crate::plan::context::{Event, GitRef, RefContext};
use crate::plan::version::version_of_tag;
use crate::plan::{Inputs, Plan};

pub struct Workspace {
    pub root: PathBuf,
    pub config: Config,
    pub facts: GitFacts,
    pub source: Source,
    pub plan: Plan,
    /// What went less well than it could and did not stop the plan, for the face to print.
    pub warnings: Vec<String>,
}

impl Workspace {
    /// Loads config, git facts and CI context, and computes the plan. `root` is the workspace
    /// root, `config_path` the release config.
    pub fn load(root: &Path, config_path: &Path) -> Result<Workspace> {
        let root = root.to_path_buf();
        let config = Config::load(&root, config_path)?;
        let mut warnings = Vec::new();
        let mut facts = git::facts(&root)?;
        let env = |k: &str| std::env::var(k).ok();
        if github::in_github_actions(&env) && facts.shallow {
            // actions/checkout fetches no tags by default; floating tags need them all.
            match git::remote_tags(&root) {
                Ok(tags) => {
                    facts.tags.extend(tags);
                    facts.tags.sort();
                    facts.tags.dedup();
                }
                Err(e) => warnings.push(format!(
                    "shallow checkout and {e}: floating tags (latest, major, minor) are computed from the local tags only; use actions/checkout with fetch-depth: 0"
                )),
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
        let (ctx, source) = ref_context(
            &facts,
            &config.release.default_branch,
            now,
            &env,
            &|p| std::fs::read_to_string(p),
            &|sha| git::commit_time_of(&root, sha),
        )?;
        // git's describe and dirty state speak of HEAD: they apply when HEAD is the commit
        // released (always locally; in Actions unless HEAD is a pull request's merge commit).
        let head_released = ctx.sha == facts.sha;
        let pull_request = matches!(
            ctx.git_ref,
            crate::plan::context::GitRef::PullRequest { .. }
        );
        if !head_released && !pull_request {
            anyhow::bail!(
                "GITHUB_SHA is {}, but the checkout's HEAD is {}: the tags would name a commit \
                 that was not built. Check out the commit the workflow runs for \
                 (actions/checkout with ref: ${{{{ github.sha }}}}), or unset GITHUB_SHA",
                ctx.sha,
                facts.sha
            );
        }
        let inputs = Inputs {
            ctx,
            dirty: head_released && facts.dirty,
            changed_files: if head_released {
                facts.changed_files.clone()
            } else {
                Vec::new()
            },
            describe: facts.describe.clone().filter(|_| head_released),
            source: github::source_url(&env).or_else(|| facts.source_url.clone()),
        };
        let plan = Plan::new(&config, &inputs)
            .map_err(|e| anyhow::anyhow!("{}: {e}", config.path.display()))?;
        Ok(Workspace {
            root,
            config,
            facts,
            source,
            plan,
            warnings,
        })
    }

    /// A path relative to the workspace root.
    pub fn path(&self, p: &Path) -> PathBuf {
        self.root.join(p)
    }
}

/// Resolves the ref context: from the GitHub Actions variables and event payload inside a job,
/// else from git.
///
/// `env` reads environment variables, `read_file` reads the event payload, and
/// `commit_time_of` looks up a commit's time in git (for a pull request's head commit).
pub fn ref_context(
    facts: &GitFacts,
    default_branch: &str,
    now: i64,
    env: &dyn Fn(&str) -> Option<String>,
    read_file: &dyn Fn(&str) -> std::io::Result<String>,
    commit_time_of: &dyn Fn(&str) -> Option<i64>,
) -> Result<(RefContext, Source)> {
    if !github::in_github_actions(env) {
        return Ok((local_context(facts, default_branch, now), Source::Git));
    }
    let Actions {
        event_name,
        git_ref,
        mut sha,
        payload,
        head_ref,
        base_ref,
        push_base_ref,
    } = github::read(env, read_file)?;
    let default_branch = payload["repository"]["default_branch"]
        .as_str()
        .unwrap_or(default_branch)
        .to_string();

    let parsed = if let Some(name) = git_ref.strip_prefix("refs/heads/") {
        GitRef::Branch { name: name.into() }
    } else if let Some(name) = git_ref.strip_prefix("refs/tags/") {
        GitRef::Tag { name: name.into() }
    } else if let Some(rest) = git_ref.strip_prefix("refs/pull/") {
        let number = rest
            .split('/')
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .or_else(|| payload["pull_request"]["number"].as_u64())
            .with_context(|| format!("GITHUB_REF={git_ref}: no pull request number in it"))?;
        let head_ref = head_ref
            .or_else(|| {
                payload["pull_request"]["head"]["ref"]
                    .as_str()
                    .map(String::from)
            })
            .unwrap_or_default();
        let base_ref = base_ref
            .or_else(|| {
                payload["pull_request"]["base"]["ref"]
                    .as_str()
                    .map(String::from)
            })
            .unwrap_or_default();
        // The job's GITHUB_SHA is the merge commit; tags name the head commit.
        if let Some(head) = payload["pull_request"]["head"]["sha"].as_str() {
            sha = head.to_string();
        }
        GitRef::PullRequest {
            number,
            head_ref,
            base_ref,
        }
    } else {
        anyhow::bail!("GITHUB_REF={git_ref} is neither a branch, a tag nor a pull request ref");
    };
    let commit_time = if sha == facts.sha {
        facts.commit_time
    } else {
        commit_time_of(&sha).unwrap_or(facts.commit_time)
    };
    Ok((
        RefContext {
            event: Event::from_github(&event_name),
            git_ref: parsed,
            sha,
            commit_time,
            now,
            default_branch,
            repo_tags: facts.tags.clone(),
            base_ref: push_base_ref,
        },
        Source::GithubActions,
    ))
}

/// The context of a local checkout: a version tag on HEAD makes it a tag build (as the tag push
/// would in CI), else the checked-out branch, else a detached HEAD.
pub fn local_context(facts: &GitFacts, default_branch: &str, now: i64) -> RefContext {
    let version_tag = facts
        .tags_at_head
        .iter()
        .filter_map(|t| version_of_tag(t).map(|v| (v, t)))
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, t)| t.clone());
    let git_ref = match (version_tag, &facts.branch, facts.tags_at_head.first()) {
        (Some(tag), _, _) => GitRef::Tag { name: tag },
        (None, Some(branch), _) => GitRef::Branch {
            name: branch.clone(),
        },
        (None, None, Some(tag)) => GitRef::Tag { name: tag.clone() },
        (None, None, None) => GitRef::Detached,
    };
    RefContext {
        event: Event::Push,
        git_ref,
        sha: facts.sha.clone(),
        commit_time: facts.commit_time,
        now,
        default_branch: default_branch.to_string(),
        repo_tags: facts.tags.clone(),
        base_ref: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn facts() -> GitFacts {
        GitFacts {
            sha: "a".repeat(40),
            branch: Some("main".into()),
            tags_at_head: vec![],
            commit_time: 1_700_000_000,
            tags: vec!["v1.0.0".into()],
            ..Default::default()
        }
    }

    fn resolve(
        facts: &GitFacts,
        vars: &[(&str, &str)],
        payload: &str,
    ) -> Result<(RefContext, Source)> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let payload = payload.to_string();
        ref_context(
            facts,
            "main",
            0,
            &|k| vars.get(k).cloned(),
            &|_| Ok(payload.clone()),
            &|_| Some(42),
        )
    }

    #[test]
    fn local_tag_on_head_wins_over_branch() {
        let mut f = facts();
        f.tags_at_head = vec!["v1.2.3".into(), "v1.2.3-rc.1".into(), "other".into()];
        let (ctx, src) = resolve(&f, &[], "").unwrap();
        assert_eq!(src, Source::Git);
        assert_eq!(
            ctx.git_ref,
            GitRef::Tag {
                name: "v1.2.3".into()
            }
        );
        f.tags_at_head.clear();
        let (ctx, _) = resolve(&f, &[], "").unwrap();
        assert_eq!(
            ctx.git_ref,
            GitRef::Branch {
                name: "main".into()
            }
        );
        f.branch = None;
        assert_eq!(resolve(&f, &[], "").unwrap().0.git_ref, GitRef::Detached);
    }

    #[test]
    fn github_tag_push_matches_local() {
        let mut f = facts();
        f.tags_at_head = vec!["v1.2.3".into()];
        let (local, _) = resolve(&f, &[], "").unwrap();
        let mut shallow = f.clone();
        shallow.branch = None;
        let (gh, src) = resolve(
            &shallow,
            &[
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_EVENT_NAME", "push"),
                ("GITHUB_REF", "refs/tags/v1.2.3"),
                ("GITHUB_SHA", &"a".repeat(40)),
            ],
            "",
        )
        .unwrap();
        assert_eq!(src, Source::GithubActions);
        assert_eq!(gh, local);
    }

    #[test]
    fn pull_request_uses_head_commit_and_branch() {
        let payload = r#"{"pull_request":{"number":7,"head":{"sha":"bbbb","ref":"feat/x"},"base":{"ref":"main"}},
                          "repository":{"default_branch":"trunk"}}"#;
        let (ctx, _) = resolve(
            &facts(),
            &[
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_EVENT_NAME", "pull_request"),
                ("GITHUB_REF", "refs/pull/7/merge"),
                ("GITHUB_SHA", "cccc"),
                ("GITHUB_EVENT_PATH", "/event.json"),
            ],
            payload,
        )
        .unwrap();
        assert_eq!(ctx.sha, "bbbb");
        assert_eq!(ctx.commit_time, 42);
        assert_eq!(ctx.default_branch, "trunk");
        assert_eq!(ctx.event, Event::PullRequest);
        assert_eq!(ctx.branch(), Some("feat/x"));
        assert_eq!(
            ctx.git_ref,
            GitRef::PullRequest {
                number: 7,
                head_ref: "feat/x".into(),
                base_ref: "main".into()
            }
        );
    }

    #[test]
    fn missing_github_variables_are_named() {
        let err = resolve(&facts(), &[("GITHUB_ACTIONS", "true")], "")
            .unwrap_err()
            .to_string();
        assert!(err.contains("GITHUB_EVENT_NAME"), "{err}");
        let err = resolve(
            &facts(),
            &[
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_EVENT_NAME", "push"),
                ("GITHUB_REF", "refs/remotes/x"),
                ("GITHUB_SHA", "x"),
            ],
            "",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("refs/remotes/x"), "{err}");
    }
}
