//! Paths from the config: inside the workspace, existing files; platform lists without twins.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::Problems;
use crate::oci::platform::Platform;

pub(in crate::config) fn check_platforms(p: &mut Problems, key: &str, platforms: &[Platform]) {
    let mut seen = BTreeSet::new();
    for (i, pl) in platforms.iter().enumerate() {
        if !seen.insert(pl.normalized()) {
            p.add(
                format!("{key}[{i}]"),
                format!("platform {pl} is listed twice"),
            );
        }
    }
}

/// Where `rel` (a path from the config, relative to the workspace `root`) resolves, when it
/// stays inside the workspace: an absolute path, a `..` that climbs out of the root, or a
/// symbolic link whose target lies outside it is refused, so no host file (`/etc/shadow`, a
/// key in the home directory) can reach an image. A path that does not exist yet is returned
/// as it is (existence is checked where it matters).
pub fn resolve_inside(root: &Path, rel: &Path) -> Result<PathBuf, String> {
    use std::path::Component;
    if rel.is_absolute() {
        return Err(format!(
            "{} is an absolute path: give a path relative to the workspace root {} (only \
             files inside the workspace may be used)",
            rel.display(),
            root.display()
        ));
    }
    let mut depth = 0usize;
    for c in rel.components() {
        match c {
            Component::ParentDir if depth == 0 => {
                return Err(format!(
                    "{} leaves the workspace root {} through `..`: only files inside the \
                     workspace may be used; copy the file into it",
                    rel.display(),
                    root.display()
                ))
            }
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            _ => {}
        }
    }
    let full = root.join(rel);
    if full.symlink_metadata().is_err() {
        return Ok(full);
    }
    let (Ok(real), Ok(real_root)) = (full.canonicalize(), root.canonicalize()) else {
        return Err(format!(
            "{} is a symbolic link whose target does not exist",
            rel.display()
        ));
    };
    if !real.starts_with(&real_root) {
        return Err(format!(
            "{} resolves to {}, outside the workspace root {} (through a symbolic link): only \
             files inside the workspace may be used; copy the file into it",
            rel.display(),
            real.display(),
            root.display()
        ));
    }
    Ok(full)
}

/// Whether `name` is one repository path component: `[a-z0-9]+` runs separated by `.`, `_`,
/// `__` or runs of `-` (the distribution grammar). Image names become paths and repositories.
pub(in crate::config) fn is_path_component(name: &str) -> bool {
    static PATTERN: std::sync::OnceLock<regex_lite::Regex> = std::sync::OnceLock::new();
    PATTERN
        .get_or_init(|| {
            regex_lite::Regex::new(r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$")
                .expect("static pattern")
        })
        .is_match(name)
}

/// [`check_file`], after [`resolve_inside`].
pub(in crate::config) fn check_inside_file(p: &mut Problems, root: &Path, key: &str, rel: &Path) {
    match resolve_inside(root, rel) {
        Ok(_) => check_file(p, root, key, rel),
        Err(e) => p.add(key, e),
    }
}

/// That `rel` (relative to `root`) is an existing file.
pub(in crate::config) fn check_file(p: &mut Problems, root: &Path, key: &str, rel: &Path) {
    let full = root.join(rel);
    match std::fs::metadata(&full) {
        Ok(m) if m.is_file() => {}
        Ok(_) => p.add(key, format!("{} is not a file", rel.display())),
        Err(e) => p.fix(
            key,
            format!(
                "{} does not exist or cannot be read ({})",
                rel.display(),
                e.kind()
            ),
            format!(
                "paths are relative to the workspace root {}",
                root.display()
            ),
        ),
    }
}
