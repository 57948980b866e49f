//! Facts from git: the commit, its ref, dirty state, commit time and the repository's tags.

use std::path::Path;

use anyhow::Result;

mod cli;
#[cfg(feature = "gix")]
mod gix;

/// What stevedore needs to know about the checkout.
#[derive(Debug, Clone, Default)]
pub struct GitFacts {
    pub sha: String,
    /// The checked-out branch; `None` on a detached HEAD.
    pub branch: Option<String>,
    /// Tags pointing at HEAD.
    pub tags_at_head: Vec<String>,
    /// Uncommitted changes to tracked files.
    pub dirty: bool,
    /// The tracked files changed and not committed (`git status --porcelain`).
    pub changed_files: Vec<String>,
    /// The untracked files that no ignore rule covers, under the directory the facts were
    /// read for and relative to it, sorted (`git ls-files --others --exclude-standard`; a
    /// nested repository is one entry). Not part of `dirty`: the workspace decides which of
    /// them are build inputs.
    pub untracked_files: Vec<String>,
    /// Commit time, seconds since the epoch.
    pub commit_time: i64,
    /// Every tag of the repository.
    pub tags: Vec<String>,
    /// `git describe --tags --always --dirty`.
    pub describe: Option<String>,
    /// `remote.origin.url` as an https URL without credentials, when it names one.
    pub source_url: Option<String>,
    pub shallow: bool,
}

/// At most this many untracked, non-ignored files are listed (and this many bytes of their
/// names read from git): past it, reading the facts fails, asking for a `.gitignore`.
pub const MAX_UNTRACKED: usize = 100_000;
const MAX_UNTRACKED_BYTES: u64 = 16 << 20;

fn too_many_untracked(dir: &Path) -> anyhow::Error {
    anyhow::anyhow!(
        "more than {MAX_UNTRACKED} untracked files (or {} MiB of their names) under {}, no \
         .gitignore rule covering them: stevedore checks that no untracked file is a build \
         input. Add the generated directories to .gitignore, or remove them",
        MAX_UNTRACKED_BYTES >> 20,
        dir.display()
    )
}

/// Reads the git facts of the repository holding `dir`: with gitoxide when stevedore is built
/// with the `gix` feature (the container image, which has no git), else with the `git` binary.
pub fn facts(dir: &Path) -> Result<GitFacts> {
    #[cfg(feature = "gix")]
    return gix::facts(dir);
    #[cfg(not(feature = "gix"))]
    cli::facts(dir)
}

/// The tags of `origin`, for shallow CI checkouts that fetched none (`git ls-remote`: this one
/// always needs the git binary, and fails without it).
pub fn remote_tags(dir: &Path) -> Result<Vec<String>> {
    cli::remote_tags(dir)
}

/// The remote's default branch (`origin/HEAD`), when the clone recorded it (with the `git`
/// binary: `None` without it).
pub fn origin_head(dir: &Path) -> Option<String> {
    cli::origin_head(dir)
}

/// The commit time of `sha`, seconds since the epoch, when git knows the commit.
pub fn commit_time_of(root: &Path, sha: &str) -> Option<i64> {
    #[cfg(feature = "gix")]
    return gix::commit_time_of(root, sha);
    #[cfg(not(feature = "gix"))]
    cli::commit_time_of(root, sha)
}

/// Whether commit `ancestor` is an ancestor of (or is) `descendant` in the repository at `dir`;
/// `None` when `descendant` is not in its history (`git merge-base --is-ancestor`).
pub fn is_ancestor(dir: &Path, ancestor: &str, descendant: &str) -> Option<bool> {
    #[cfg(feature = "gix")]
    return gix::is_ancestor(dir, ancestor, descendant);
    #[cfg(not(feature = "gix"))]
    cli::is_ancestor(dir, ancestor, descendant)
}

/// The facts as read by the `git` binary and by gitoxide, for tests that hold the two side by
/// side.
#[cfg(feature = "gix")]
pub mod backends {
    pub use super::cli::{
        commit_time_of as cli_commit_time_of, facts as cli_facts, is_ancestor as cli_is_ancestor,
    };
    pub use super::gix::{
        commit_time_of as gix_commit_time_of, facts as gix_facts, is_ancestor as gix_is_ancestor,
    };
}

/// A remote URL as a browsable https URL, with any credentials dropped:
/// `git@github.com:o/r.git` and `https://x:token@github.com/o/r` both give
/// `https://github.com/o/r`.
pub fn source_url(remote: &str) -> Option<String> {
    // A query (`?token=…`) or fragment never goes into a label.
    let remote = remote.trim().split(['?', '#']).next().unwrap_or_default();
    let (host, path) = if let Some(rest) = remote
        .strip_prefix("https://")
        .or_else(|| remote.strip_prefix("http://"))
        .or_else(|| remote.strip_prefix("ssh://"))
    {
        let (authority, path) = rest.split_once('/')?;
        let host = authority.rsplit('@').next()?;
        let host = if remote.starts_with("ssh://") {
            host.split(':').next()?
        } else {
            host
        };
        (host.to_string(), path.to_string())
    } else if let Some((userhost, path)) = remote.split_once(':') {
        if userhost.contains('/') {
            return None;
        }
        (userhost.rsplit('@').next()?.to_string(), path.to_string())
    } else {
        return None;
    };
    let path = path.trim_end_matches('/').trim_end_matches(".git");
    if host.is_empty() || path.is_empty() {
        return None;
    }
    Some(format!("https://{host}/{path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_urls_lose_credentials() {
        let cases = [
            ("git@github.com:o/r.git", Some("https://github.com/o/r")),
            (
                "https://x:s3cret@github.com/o/r",
                Some("https://github.com/o/r"),
            ),
            (
                "https://github.com/o/r.git?token=s3cret#main",
                Some("https://github.com/o/r"),
            ),
            (
                "ssh://git@gitlab.com:22/g/p.git",
                Some("https://gitlab.com/g/p"),
            ),
            ("/srv/repo.git", None),
            ("../other", None),
        ];
        for (input, want) in cases {
            assert_eq!(source_url(input).as_deref(), want, "{input}");
        }
    }
}
