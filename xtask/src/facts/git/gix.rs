//! The git facts read with gitoxide (`gix`), without the `git` binary: what the container
//! image uses on a mounted checkout. Each fact is the one the `git` command in `cli.rs`
//! gives; `xtask/tests/git_facts.rs` holds the two side by side.

use std::path::Path;

use anyhow::{bail, Context, Result};
use gix::bstr::ByteSlice;
use gix::status::index_worktree;

use super::{source_url, GitFacts};

/// The repository holding `dir`, with a work tree.
fn open(dir: &Path) -> Result<gix::Repository> {
    if let Err(e) = gix::discover::upwards(dir) {
        bail!(crate::problem::Problem::usage(
            format!(
                "{} is not inside a git repository ({e}): stevedore computes versions and tags from git",
                dir.display()
            ),
            "run `git init` and commit, or use -C to point at your checkout"
        ));
    }
    let repo = gix::discover(dir)
        .map_err(|e| anyhow::anyhow!("cannot open the git repository at {}: {e}", dir.display()))?;
    if repo.workdir().is_none() {
        bail!(
            "{} is a bare git repository: stevedore needs a checkout (a work tree) to build from",
            dir.display()
        );
    }
    Ok(repo)
}

pub fn facts(dir: &Path) -> Result<GitFacts> {
    let repo = open(dir)?;
    let head = match repo.head_id() {
        Ok(id) => id.detach(),
        Err(_) => bail!(crate::problem::Problem::usage(
            format!(
                "the git repository at {} has no commits yet (stevedore versions releases by commit)",
                dir.display()
            ),
            "commit something first"
        )),
    };
    let branch = repo
        .head_name()
        .context("cannot read HEAD")?
        .map(|name| name.shorten().to_str_lossy().into_owned());

    let mut tags = Vec::new();
    let mut tags_at_head = Vec::new();
    let refs = repo
        .references()
        .context("cannot read the repository's refs")?;
    for reference in refs.tags().context("cannot read the repository's tags")? {
        let mut reference = reference.map_err(|e| anyhow::anyhow!("cannot read a tag: {e}"))?;
        let name = reference.name().shorten().to_str_lossy().into_owned();
        if let Ok(id) = reference.peel_to_id() {
            if id.detach() == head {
                tags_at_head.push(name.clone());
            }
        }
        tags.push(name);
    }
    // `git tag` lists by refname, byte-wise.
    tags.sort();
    tags_at_head.sort();

    let changed_files = changed_files(&repo)?;
    let dirty = !changed_files.is_empty();
    let untracked_files = untracked_files(&repo, dir)?;
    let commit_time = repo
        .find_commit(head)
        .context("cannot read the HEAD commit")?
        .time()
        .context("the HEAD commit has no readable commit time")?
        .seconds;
    let describe = describe(&repo, head, dirty);
    let source_url = repo
        .config_snapshot()
        .string("remote.origin.url")
        .and_then(|url| source_url(&url.to_str_lossy()));
    Ok(GitFacts {
        sha: head.to_string(),
        branch,
        tags_at_head,
        dirty,
        changed_files,
        untracked_files,
        commit_time,
        tags,
        describe,
        source_url,
        shallow: repo
            .is_shallow()
            .map_err(|e| anyhow::anyhow!("cannot tell whether the repository is shallow: {e}"))?,
    })
}

/// The tracked files that differ from HEAD, staged or not (`git status --porcelain
/// --untracked-files=no`): untracked files are not walked, and a file whose stat changed but
/// whose content did not is not a change.
fn changed_files(repo: &gix::Repository) -> Result<Vec<String>> {
    let status = repo
        .status(gix::progress::Discard)
        .context("cannot compute the git status")?
        .untracked_files(gix::status::UntrackedFiles::None)
        .index_worktree_rewrites(None)
        .index_worktree_submodules(gix::status::Submodule::AsConfigured { check_dirty: true })
        .index_worktree_options_mut(|opts| opts.dirwalk_options = None);
    let mut files = Vec::new();
    for item in status
        .into_iter(None)
        .context("cannot compute the git status")?
    {
        let item = item.context("cannot compute the git status")?;
        if let gix::status::Item::IndexWorktree(index_worktree::Item::Modification {
            status:
                gix::status::plumbing::index_as_worktree::EntryStatus::NeedsUpdate(_)
                | gix::status::plumbing::index_as_worktree::EntryStatus::IntentToAdd,
            ..
        }) = &item
        {
            continue;
        }
        if let gix::status::Item::IndexWorktree(index_worktree::Item::DirectoryContents {
            ..
        }) = &item
        {
            continue;
        }
        files.push(item.location().to_str_lossy().into_owned());
    }
    files.sort();
    files.dedup();
    Ok(files)
}

/// The untracked files no ignore rule covers under `dir`, relative to it, sorted (`git
/// ls-files --others --exclude-standard`): every file of an untracked directory, a nested
/// repository as one entry.
fn untracked_files(repo: &gix::Repository, dir: &Path) -> Result<Vec<String>> {
    let workdir = repo.workdir().context("the repository has no work tree")?;
    let (Ok(real_dir), Ok(real_workdir)) = (dir.canonicalize(), workdir.canonicalize()) else {
        bail!("cannot resolve {} in its repository", dir.display());
    };
    let prefix = real_dir
        .strip_prefix(&real_workdir)
        .with_context(|| format!("{} is not in its repository's work tree", dir.display()))?
        .to_string_lossy()
        .replace('\\', "/");
    let status = repo
        .status(gix::progress::Discard)
        .context("cannot compute the git status")?
        .untracked_files(gix::status::UntrackedFiles::Files)
        .index_worktree_rewrites(None)
        .index_worktree_submodules(gix::status::Submodule::Given {
            ignore: gix::submodule::config::Ignore::All,
            check_dirty: false,
        });
    let mut files = Vec::new();
    let mut bytes = 0u64;
    for item in status
        .into_index_worktree_iter(Vec::<gix::bstr::BString>::new())
        .context("cannot list the untracked files")?
    {
        let item = item.context("cannot list the untracked files")?;
        let index_worktree::Item::DirectoryContents { entry, .. } = item else {
            continue;
        };
        if !matches!(entry.status, gix::dir::entry::Status::Untracked) {
            continue;
        }
        let path = entry.rela_path.to_str_lossy().into_owned();
        let rel = if prefix.is_empty() {
            path
        } else {
            match path.strip_prefix(&format!("{prefix}/")) {
                Some(rel) => rel.to_string(),
                None => continue,
            }
        };
        bytes += rel.len() as u64 + 1;
        files.push(rel);
        if files.len() > super::MAX_UNTRACKED || bytes > super::MAX_UNTRACKED_BYTES {
            return Err(super::too_many_untracked(dir));
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

/// `git describe --tags --always --dirty`.
fn describe(repo: &gix::Repository, head: gix::ObjectId, dirty: bool) -> Option<String> {
    let commit = repo.find_commit(head).ok()?;
    let resolution = commit
        .describe()
        .names(gix::commit::describe::SelectRef::AllTags)
        .id_as_fallback(true)
        .try_resolve()
        .ok()??;
    let mut format = resolution.format().ok()?;
    if dirty {
        format.dirty_suffix = Some("dirty".into());
    }
    Some(format.to_string())
}

/// The commit `rev` names, if the repository has it.
fn commit<'r>(repo: &'r gix::Repository, rev: &str) -> Option<gix::Commit<'r>> {
    repo.rev_parse_single(format!("{rev}^{{commit}}").as_str())
        .ok()?
        .object()
        .ok()?
        .peel_to_commit()
        .ok()
}

pub fn commit_time_of(root: &Path, sha: &str) -> Option<i64> {
    let repo = gix::discover(root).ok()?;
    let time = commit(&repo, sha)?.time().ok()?;
    Some(time.seconds)
}

pub fn is_ancestor(dir: &Path, ancestor: &str, descendant: &str) -> Option<bool> {
    let repo = gix::discover(dir).ok()?;
    let descendant = commit(&repo, descendant)?.id;
    let Some(ancestor) = commit(&repo, ancestor).map(|c| c.id) else {
        return Some(false);
    };
    if ancestor == descendant {
        return Some(true);
    }
    let base = repo.merge_base(ancestor, descendant).ok()?;
    Some(base.is_some_and(|b| b.detach() == ancestor))
}
