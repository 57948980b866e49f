//! The ref context, from git on a laptop or from `GITHUB_*` variables in GitHub Actions.
//!
//! Both paths end in the same [`RefContext`], so a job on a shallow, detached checkout gets the
//! same tags as the maintainer's laptop on the same commit.

use anyhow::{bail, Context, Result};

use crate::git::GitFacts;
use crate::plan::context::{Event, GitRef, RefContext};
use crate::plan::version::version_of_tag;

/// Where the facts came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Git,
    GithubActions,
}

/// True inside a GitHub Actions job.
pub fn in_github_actions(env: &dyn Fn(&str) -> Option<String>) -> bool {
    env("GITHUB_ACTIONS").as_deref() == Some("true")
}

/// Resolves the ref context.
///
/// `env` reads environment variables, `read_file` reads the event payload, and
/// `commit_time_of` looks up a commit's time in git (for a pull request's head commit).
pub fn context(
    facts: &GitFacts,
    default_branch: &str,
    now: i64,
    env: &dyn Fn(&str) -> Option<String>,
    read_file: &dyn Fn(&str) -> std::io::Result<String>,
    commit_time_of: &dyn Fn(&str) -> Option<i64>,
) -> Result<(RefContext, Source)> {
    if !in_github_actions(env) {
        return Ok((local_context(facts, default_branch, now), Source::Git));
    }
    let need = |k: &str| {
        env(k).filter(|v| !v.is_empty()).with_context(|| {
            format!("GITHUB_ACTIONS=true but {k} is not set: run inside a GitHub Actions job, or unset GITHUB_ACTIONS to read git")
        })
    };
    let event_name = need("GITHUB_EVENT_NAME")?;
    let git_ref = need("GITHUB_REF")?;
    let mut sha = need("GITHUB_SHA")?;
    let payload: serde_json::Value = match env("GITHUB_EVENT_PATH").filter(|p| !p.is_empty()) {
        Some(path) => {
            let text = read_file(&path).with_context(|| {
                format!("cannot read the GitHub event file GITHUB_EVENT_PATH={path}")
            })?;
            serde_json::from_str(&text)
                .with_context(|| format!("the GitHub event file {path} is not valid JSON"))?
        }
        None => serde_json::Value::Null,
    };
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
        let head_ref = env("GITHUB_HEAD_REF")
            .filter(|s| !s.is_empty())
            .or_else(|| {
                payload["pull_request"]["head"]["ref"]
                    .as_str()
                    .map(String::from)
            })
            .unwrap_or_default();
        let base_ref = env("GITHUB_BASE_REF")
            .filter(|s| !s.is_empty())
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
        bail!("GITHUB_REF={git_ref} is neither a branch, a tag nor a pull request ref");
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
    }
}

/// Writes `key=value` lines (multi-line values with a heredoc delimiter) to `$GITHUB_OUTPUT`.
pub fn write_outputs(path: &str, outputs: &[(&str, String)]) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .with_context(|| format!("cannot open GITHUB_OUTPUT={path}"))?;
    for (k, v) in outputs {
        if v.contains('\n') {
            let delim = format!("stevedore_{}", crate::oci::Digest::of(v.as_bytes()).hex());
            writeln!(f, "{k}<<{delim}\n{v}\n{delim}")?;
        } else {
            writeln!(f, "{k}={v}")?;
        }
    }
    Ok(())
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

    fn run(facts: &GitFacts, vars: &[(&str, &str)], payload: &str) -> Result<(RefContext, Source)> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let payload = payload.to_string();
        context(
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
        let (ctx, src) = run(&f, &[], "").unwrap();
        assert_eq!(src, Source::Git);
        assert_eq!(
            ctx.git_ref,
            GitRef::Tag {
                name: "v1.2.3".into()
            }
        );
        f.tags_at_head.clear();
        let (ctx, _) = run(&f, &[], "").unwrap();
        assert_eq!(
            ctx.git_ref,
            GitRef::Branch {
                name: "main".into()
            }
        );
        f.branch = None;
        assert_eq!(run(&f, &[], "").unwrap().0.git_ref, GitRef::Detached);
    }

    #[test]
    fn github_tag_push_matches_local() {
        let mut f = facts();
        f.tags_at_head = vec!["v1.2.3".into()];
        let (local, _) = run(&f, &[], "").unwrap();
        let mut shallow = f.clone();
        shallow.branch = None;
        let (gh, src) = run(
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
        let (ctx, _) = run(
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
        let err = run(&facts(), &[("GITHUB_ACTIONS", "true")], "")
            .unwrap_err()
            .to_string();
        assert!(err.contains("GITHUB_EVENT_NAME"), "{err}");
        let err = run(
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
