//! The git facts read by running the `git` binary (the default build).

use std::path::Path;

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use super::{source_url, GitFacts};

/// Reads the git facts of the repository holding `dir`.
pub fn facts(dir: &Path) -> Result<GitFacts> {
    let sh = Shell::new()?;
    sh.change_dir(dir);
    if cmd!(sh, "git --version")
        .quiet()
        .ignore_stdout()
        .ignore_stderr()
        .run()
        .is_err()
    {
        bail!("git is not installed or not on PATH: stevedore reads the version and tags from git");
    }
    let inside = cmd!(sh, "git rev-parse --is-inside-work-tree")
        .quiet()
        .ignore_stderr()
        .read();
    if !inside.is_ok_and(|s| s == "true") {
        bail!(crate::problem::Problem::usage(
            format!(
                "{} is not inside a git repository: stevedore computes versions and tags from git",
                dir.display()
            ),
            "run `git init` and commit, or use -C to point at your checkout"
        ));
    }
    let sha = cmd!(sh, "git rev-parse --verify -q HEAD")
        .quiet()
        .ignore_stderr()
        .read()
        .unwrap_or_default();
    if sha.is_empty() {
        bail!(crate::problem::Problem::usage(
            format!(
                "the git repository at {} has no commits yet (stevedore versions releases by commit)",
                dir.display()
            ),
            "commit something first"
        ));
    }
    let branch = cmd!(sh, "git symbolic-ref -q --short HEAD")
        .quiet()
        .ignore_stderr()
        .read()
        .ok()
        .filter(|b| !b.is_empty());
    let tags_at_head = lines(cmd!(sh, "git tag --points-at HEAD").quiet().read()?);
    let changed_files: Vec<String> = cmd!(sh, "git status --porcelain --untracked-files=no")
        .quiet()
        .read()
        .context("git status failed")?
        .lines()
        .filter_map(|l| l.get(3..).map(|p| p.trim().to_string()))
        .filter(|p| !p.is_empty())
        .collect();
    let dirty = !changed_files.is_empty();
    let untracked_files = untracked_files(dir)?;
    let commit_time = cmd!(sh, "git show -s --format=%ct HEAD")
        .quiet()
        .read()?
        .trim()
        .parse()
        .context("git show gave no commit time")?;
    let tags = lines(cmd!(sh, "git tag --list").quiet().read()?);
    let describe = cmd!(sh, "git describe --tags --always --dirty")
        .quiet()
        .ignore_stderr()
        .read()
        .ok()
        .filter(|d| !d.is_empty());
    let source_url = cmd!(sh, "git config --get remote.origin.url")
        .quiet()
        .ignore_stderr()
        .read()
        .ok()
        .and_then(|u| source_url(&u));
    let shallow = cmd!(sh, "git rev-parse --is-shallow-repository")
        .quiet()
        .read()
        .is_ok_and(|s| s == "true");
    Ok(GitFacts {
        sha,
        branch,
        tags_at_head,
        dirty,
        changed_files,
        untracked_files,
        commit_time,
        tags,
        describe,
        source_url,
        shallow,
    })
}

/// The untracked files no ignore rule covers under `dir`, relative to it, sorted: `git
/// ls-files --others --exclude-standard -z` (NUL-separated, so any name reads back as it is),
/// its output bounded.
fn untracked_files(dir: &Path) -> Result<Vec<String>> {
    use std::io::Read;
    let mut child = std::process::Command::new("git")
        .args(["ls-files", "--others", "--exclude-standard", "-z"])
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("cannot run git ls-files")?;
    let mut out = Vec::new();
    let stdout = child.stdout.take().context("git ls-files has no output")?;
    stdout
        .take(super::MAX_UNTRACKED_BYTES + 1)
        .read_to_end(&mut out)
        .context("cannot read the output of git ls-files")?;
    if out.len() as u64 > super::MAX_UNTRACKED_BYTES {
        let _ = child.kill();
        let _ = child.wait();
        return Err(super::too_many_untracked(dir));
    }
    let status = child.wait().context("git ls-files failed")?;
    if !status.success() {
        bail!(
            "git ls-files --others failed in {} ({status})",
            dir.display()
        );
    }
    let mut files: Vec<String> = out
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).trim_end_matches('/').to_string())
        .collect();
    if files.len() > super::MAX_UNTRACKED {
        return Err(super::too_many_untracked(dir));
    }
    files.sort();
    files.dedup();
    Ok(files)
}

/// The tags of `origin`, for shallow CI checkouts that fetched none (`git ls-remote`).
pub fn remote_tags(dir: &Path) -> Result<Vec<String>> {
    let sh = Shell::new()?;
    sh.change_dir(dir);
    let out = cmd!(sh, "git ls-remote --tags --refs origin")
        .env("GIT_TERMINAL_PROMPT", "0")
        .quiet()
        .ignore_stderr()
        .read()
        .context("git ls-remote --tags origin failed")?;
    Ok(out
        .lines()
        .filter_map(|l| {
            l.split_once("refs/tags/")
                .map(|(_, t)| t.trim().to_string())
        })
        .filter(|t| !t.is_empty())
        .collect())
}

/// The branch `origin/HEAD` names (the remote's default branch, as `git clone` recorded it).
pub fn origin_head(dir: &Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["symbolic-ref", "--quiet", "refs/remotes/origin/HEAD"])
        .current_dir(dir)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let full = String::from_utf8(out.stdout).ok()?;
    let branch = full.trim().strip_prefix("refs/remotes/origin/")?;
    (!branch.is_empty()).then(|| branch.to_string())
}

fn lines(s: String) -> Vec<String> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

/// The commit time of `sha`, seconds since the epoch, when git knows the commit.
pub fn commit_time_of(root: &Path, sha: &str) -> Option<i64> {
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

/// Whether commit `ancestor` is an ancestor of (or is) `descendant` in the repository at `dir`;
/// `None` when `descendant` is not in its history (`git merge-base --is-ancestor`).
pub fn is_ancestor(dir: &Path, ancestor: &str, descendant: &str) -> Option<bool> {
    let known = std::process::Command::new("git")
        .args(["cat-file", "-e", &format!("{descendant}^{{commit}}")])
        .current_dir(dir)
        .stderr(std::process::Stdio::null())
        .status()
        .ok()?
        .success();
    if !known {
        return None;
    }
    let status = std::process::Command::new("git")
        .args(["merge-base", "--is-ancestor", ancestor, descendant])
        .current_dir(dir)
        .stderr(std::process::Stdio::null())
        .status()
        .ok()?;
    Some(status.success())
}
