//! Facts read from the outside world: git ([`git`]) and the GitHub Actions environment
//! ([`github`]). Plain data; the workspace turns them into the plan's inputs.

pub mod git;
pub mod github;

/// Where the ref context came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Git,
    GithubActions,
}
