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
    /// `GITHUB_REF`.
    pub git_ref: String,
    /// `GITHUB_SHA`: for a pull request, the merge commit.
    pub sha: String,
    /// The event payload (`GITHUB_EVENT_PATH`), `Null` when there is none.
    pub payload: serde_json::Value,
    /// `GITHUB_HEAD_REF`, when set and not empty.
    pub head_ref: Option<String>,
    /// `GITHUB_BASE_REF`, when set and not empty.
    pub base_ref: Option<String>,
}

/// Reads the job's variables and its event payload.
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
    let git_ref = need("GITHUB_REF")?;
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
    Ok(Actions {
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
