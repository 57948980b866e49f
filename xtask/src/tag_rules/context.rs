//! What the tag engine and the plan know about the commit being released: plain data, filled
//! from git on a laptop and from `GITHUB_*` variables in GitHub Actions, so both give one answer.

use serde::Serialize;

/// The event that triggered the release (GitHub's event names; `push` locally).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    Push,
    PullRequest,
    Schedule,
    Release,
    WorkflowDispatch,
    Other(String),
}

impl Event {
    pub fn from_github(name: &str) -> Event {
        match name {
            "push" => Event::Push,
            "pull_request" | "pull_request_target" => Event::PullRequest,
            "schedule" => Event::Schedule,
            "release" => Event::Release,
            "workflow_dispatch" => Event::WorkflowDispatch,
            other => Event::Other(other.to_string()),
        }
    }
}

/// The ref being built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GitRef {
    /// `refs/heads/<name>`.
    Branch { name: String },
    /// `refs/tags/<name>`.
    Tag { name: String },
    /// A pull request: its number, head branch and base branch.
    PullRequest {
        number: u64,
        head_ref: String,
        base_ref: String,
    },
    /// A detached HEAD with no tag on it: only commit-based rules apply.
    Detached,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefContext {
    pub event: Event,
    pub git_ref: GitRef,
    /// Full commit sha being built (for a pull request: the head commit, not the merge commit).
    pub sha: String,
    /// Commit time, seconds since the epoch (`SOURCE_DATE_EPOCH`).
    pub commit_time: i64,
    /// Time `{{date}}` renders, seconds since the epoch.
    pub now: i64,
    /// The repository's default branch.
    pub default_branch: String,
    /// Every tag of the repository (version tags among them are found by the engine).
    pub repo_tags: Vec<String>,
    /// `{{base_ref}}` of a tag push: the push payload's `base_ref` without `refs/heads/`
    /// (GitHub Actions only; a pull request's base branch is in [`GitRef::PullRequest`]).
    pub base_ref: Option<String>,
}

impl RefContext {
    /// The branch name `{{branch}}` renders: the branch pushed, or a pull request's head branch.
    pub fn branch(&self) -> Option<&str> {
        match &self.git_ref {
            GitRef::Branch { name } => Some(name),
            GitRef::PullRequest { head_ref, .. } => Some(head_ref),
            _ => None,
        }
    }

    /// The tag name `{{tag}}` renders.
    pub fn tag(&self) -> Option<&str> {
        match &self.git_ref {
            GitRef::Tag { name } => Some(name),
            _ => None,
        }
    }

    /// `{{is_default_branch}}`: a push to (or build of) the default branch.
    pub fn is_default_branch(&self) -> bool {
        matches!(&self.git_ref, GitRef::Branch { name } if *name == self.default_branch)
    }
}
