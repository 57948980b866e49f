//! Release policy: what a publish refuses before it starts, and who may move a floating tag.
//! The commands call these; they decide from the plan and git alone.
//!
//! - A tree with uncommitted changes (or untracked files an image is built from) is refused,
//!   unless allowed: the images would not be the commit the provenance names.
//! - A publish that would tag nothing is refused.
//! - Floating tags never move backwards: the judge reads, through git, whether the commit a
//!   registry's tag holds now is newer than this release's.

use std::path::Path;
use std::sync::Arc;

use anyhow::Result;

use crate::facts::git::is_ancestor;
use crate::plan::Plan;
use crate::problem::Problem;
use crate::publish::{FloatingTags, TagDecision};

/// A publish from a tree with uncommitted changes is refused, naming them, unless allowed:
/// changed tracked files, and untracked files an image is built from (an untracked file in a
/// `files` directory or a build context would be published under the release's tags while the
/// provenance names the commit).
pub fn refuse_dirty(plan: &Plan, untracked: &[String], allow: bool) -> Result<()> {
    let git = &plan.git;
    if !git.dirty || allow {
        return Ok(());
    }
    let list = |files: Vec<&str>| {
        let more = files.len().saturating_sub(10);
        let mut shown: Vec<&str> = files;
        shown.truncate(10);
        format!(
            "{}{}",
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        )
    };
    let changed: Vec<&str> = git
        .changed_files
        .iter()
        .map(String::as_str)
        .filter(|f| !untracked.iter().any(|u| u == f))
        .collect();
    let mut what = Vec::new();
    let mut fixes = Vec::new();
    if !changed.is_empty() {
        what.push(format!("uncommitted changes ({})", list(changed)));
        fixes.push("commit or stash the changes");
    }
    if !untracked.is_empty() {
        what.push(format!(
            "untracked files the images are built from ({})",
            list(untracked.iter().map(String::as_str).collect())
        ));
        fixes.push("commit the untracked files, add them to .gitignore, or remove them");
    }
    anyhow::bail!(
        "the working tree has {}: the images would not be commit {}. {}, or pass \
         --allow-dirty to publish version {} (no other tag)",
        what.join(" and "),
        git.short_sha,
        capitalize(&fixes.join("; ")),
        plan.version
    )
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Floating tags never move backwards: the judge of the commit a registry's tag holds now.
pub fn floating_tags(plan: &Plan, root: &Path, force: bool) -> FloatingTags {
    let root = root.to_path_buf();
    let sha = plan.git.sha.clone();
    let judge = move |revision: Option<&str>| -> TagDecision {
        if force {
            return TagDecision::Move;
        }
        let Some(rev) = revision else {
            return TagDecision::Keep(
                "its image has no org.opencontainers.image.revision label, so it may be newer: pass --force-tags to move it".into(),
            );
        };
        if rev == sha {
            return TagDecision::Move;
        }
        let short = |s: &str| s.chars().take(7).collect::<String>();
        match is_ancestor(&root, &sha, rev) {
            Some(true) => TagDecision::Keep(format!(
                "it holds {}, a newer commit than this release's {} (floating tags never move backwards; --force-tags moves it)",
                short(rev),
                short(&sha)
            )),
            Some(false) => TagDecision::Move,
            None => TagDecision::Keep(format!(
                "it holds {}, a commit this repository does not know (fetch it, or pass --force-tags to move the tag)",
                short(rev)
            )),
        }
    };
    FloatingTags {
        tags: plan.floating_tags(),
        judge: Arc::new(judge),
    }
}

/// A publish that would move no tag at all is refused (only `push --by-digest` pushes untagged
/// manifests on purpose): the tag rules give nothing for this ref, or no registry is set.
pub fn refuse_untagged(plan: &Plan, config_path: &Path) -> Result<()> {
    if plan.registries.is_empty() {
        anyhow::bail!(Problem::config(
            format!("{}: release.registries is empty", config_path.display()),
            "list where to publish, e.g. [\"ghcr.io/org\"]"
        ));
    }
    let any_tag = !plan.tags.is_empty()
        || plan
            .images
            .iter()
            .any(|i| i.tags.as_ref().is_some_and(|t| !t.is_empty()));
    if !any_tag {
        anyhow::bail!(Problem::config(
            format!(
                "the tag rules of {} give no tag for commit {} on this ref: nothing would be \
                 tagged, so nothing is published",
                config_path.display(),
                plan.git.short_sha
            ),
            "Add a rule that applies (e.g. \"type=sha\"), or use `push --by-digest` to push \
             untagged manifests"
        ));
    }
    Ok(())
}
