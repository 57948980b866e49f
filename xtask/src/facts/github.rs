//! Facts from the GitHub Actions environment: the `GITHUB_*` variables and the event payload.
//!
//! Plain data only: the workspace turns them, or the git facts on a laptop, into the ref context
//! the plan is computed from, so a job on a shallow, detached checkout gets the same tags as the
//! maintainer's laptop on the same commit.

use anyhow::{Context, Result};

/// True inside a GitHub Actions job.
pub fn in_github_actions(env: &dyn Fn(&str) -> Option<String>) -> bool {
    env("GITHUB_ACTIONS").as_deref() == Some("true")
}

/// What a GitHub Actions job says about the build: its variables and the event payload.
#[derive(Debug, Clone)]
pub struct Actions {
    /// `GITHUB_EVENT_NAME`.
    pub event_name: String,
    /// `GITHUB_REF`; for `pull_request_target`, `refs/pull/N/merge` (see [`read`]).
    pub git_ref: String,
    /// `GITHUB_SHA`: for a pull request, the merge commit.
    pub sha: String,
    /// The event payload (`GITHUB_EVENT_PATH`), `Null` when there is none.
    pub payload: serde_json::Value,
    /// `GITHUB_HEAD_REF`, when set and not empty.
    pub head_ref: Option<String>,
    /// `GITHUB_BASE_REF`, when set and not empty.
    pub base_ref: Option<String>,
    /// The push payload's `base_ref` (the branch a pushed tag was created from, as GitHub
    /// sometimes sends it) without `refs/heads/`: `{{base_ref}}` of a tag push.
    pub push_base_ref: Option<String>,
}

/// Reads the job's variables and its event payload.
///
/// As metadata-action does, a `pull_request_target` job (whose `GITHUB_REF` is the base
/// branch) is read as the pull request it runs for: its ref becomes `refs/pull/N/merge`, with
/// `N` the payload's `number`.
///
/// `env` reads environment variables and `read_file` reads the event payload.
pub fn read(
    env: &dyn Fn(&str) -> Option<String>,
    read_file: &dyn Fn(&str) -> std::io::Result<String>,
) -> Result<Actions> {
    let need = |k: &str| {
        env(k).filter(|v| !v.is_empty()).with_context(|| {
            format!("GITHUB_ACTIONS=true but {k} is not set: run inside a GitHub Actions job, or unset GITHUB_ACTIONS to read git")
        })
    };
    let event_name = need("GITHUB_EVENT_NAME")?;
    let mut git_ref = need("GITHUB_REF")?;
    let sha = need("GITHUB_SHA")?;
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
    if event_name == "pull_request_target" {
        let number = payload["number"]
            .as_u64()
            .or_else(|| payload["pull_request"]["number"].as_u64())
            .with_context(|| {
                "GITHUB_EVENT_NAME=pull_request_target but the event file (GITHUB_EVENT_PATH) \
                 has no pull request `number`: run in the pull_request_target job GitHub \
                 started, with its event file"
                    .to_string()
            })?;
        git_ref = format!("refs/pull/{number}/merge");
    }
    let push_base_ref = payload["base_ref"]
        .as_str()
        .map(|r| r.strip_prefix("refs/heads/").unwrap_or(r).to_string())
        .filter(|r| !r.is_empty());
    Ok(Actions {
        push_base_ref,
        event_name,
        git_ref,
        sha,
        payload,
        head_ref: env("GITHUB_HEAD_REF").filter(|s| !s.is_empty()),
        base_ref: env("GITHUB_BASE_REF").filter(|s| !s.is_empty()),
    })
}

/// `https://github.com/owner/repo` inside GitHub Actions.
pub fn source_url(env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    if !in_github_actions(env) {
        return None;
    }
    let server = env("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".into());
    env("GITHUB_REPOSITORY").map(|r| format!("{server}/{r}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read_with(vars: &[(&str, &str)], payload: &str) -> Result<Actions> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let payload = payload.to_string();
        read(&|k| vars.get(k).cloned(), &|_| Ok(payload.clone()))
    }

    const BASE: &[(&str, &str)] = &[
        ("GITHUB_REF", "refs/heads/master"),
        ("GITHUB_SHA", "266574110acf203503badf966df2ea24b5d732d7"),
        ("GITHUB_EVENT_PATH", "event.json"),
    ];

    #[test]
    fn pull_request_target_reads_as_the_pull_request_ref() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "pull_request_target",
                r#"{"number": 15}"#,
                "refs/pull/15/merge",
            ),
            (
                "pull_request_target",
                r#"{"pull_request": {"number": 7}}"#,
                "refs/pull/7/merge",
            ),
            ("pull_request", r#"{"number": 15}"#, "refs/heads/master"),
            ("push", r#"{"number": 15}"#, "refs/heads/master"),
        ];
        for (event, payload, want) in cases {
            let mut vars = BASE.to_vec();
            vars.push(("GITHUB_EVENT_NAME", event));
            let a = read_with(&vars, payload).unwrap();
            assert_eq!(a.git_ref, *want, "{event} {payload}");
        }
        let mut vars = BASE.to_vec();
        vars.push(("GITHUB_EVENT_NAME", "pull_request_target"));
        let err = read_with(&vars, "{}").unwrap_err().to_string();
        assert!(err.contains("no pull request `number`"), "{err}");
        assert!(err.contains("GITHUB_EVENT_PATH"), "{err}");
    }

    #[test]
    fn push_base_ref_is_the_branch_of_the_payload() {
        let cases: &[(&str, Option<&str>)] = &[
            (r#"{"base_ref": "refs/heads/master"}"#, Some("master")),
            (r#"{"base_ref": "main"}"#, Some("main")),
            (r#"{"base_ref": null}"#, None),
            (r#"{"base_ref": ""}"#, None),
            ("{}", None),
        ];
        for (payload, want) in cases {
            let mut vars = BASE.to_vec();
            vars.push(("GITHUB_EVENT_NAME", "push"));
            let a = read_with(&vars, payload).unwrap();
            assert_eq!(a.push_base_ref.as_deref(), *want, "{payload}");
        }
    }
}
