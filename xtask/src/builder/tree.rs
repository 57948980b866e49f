//! A `files` directory: every regular file under it, in sorted order, for the native builder.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::config::resolve_inside;

/// Every file under `dir` as `(path relative to dir with / separators, path)`, sorted by the
/// relative path, leaving out what matches an `exclude` glob (a match on a directory leaves out
/// all under it). A symbolic link to a file inside the workspace `root` is taken as that file;
/// a link that leaves the workspace, or to a directory, is an error.
pub fn files(root: &Path, dir: &Path, exclude: &[String]) -> Result<Vec<(String, PathBuf)>> {
    let patterns = exclude
        .iter()
        .map(|p| glob::Pattern::new(p).with_context(|| format!("exclude pattern {p:?}")))
        .collect::<Result<Vec<_>>>()?;
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: false,
    };
    let excluded = |rel: &str| patterns.iter().any(|p| p.matches_with(rel, options));
    let mut out = Vec::new();
    let mut stack = vec![String::new()];
    while let Some(rel_dir) = stack.pop() {
        let abs = if rel_dir.is_empty() {
            dir.to_path_buf()
        } else {
            dir.join(&rel_dir)
        };
        let entries =
            fs::read_dir(&abs).with_context(|| format!("cannot read {}", abs.display()))?;
        for e in entries {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            let rel = if rel_dir.is_empty() {
                name
            } else {
                format!("{rel_dir}/{name}")
            };
            if excluded(&rel) {
                continue;
            }
            let path = e.path();
            let kind = e.file_type()?;
            if kind.is_dir() {
                stack.push(rel);
            } else if kind.is_symlink() {
                let in_root = path.strip_prefix(root).unwrap_or(&path);
                let target =
                    resolve_inside(root, in_root).map_err(|why| anyhow::anyhow!("{why}"))?;
                if target.is_dir() {
                    bail!(
                        "{} is a symbolic link to a directory: list that directory as its own \
                         `files` entry, or replace the link",
                        path.display()
                    );
                }
                out.push((rel, path));
            } else if kind.is_file() {
                out.push((rel, path));
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_list_files_sorted_with_excludes() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        for f in [
            "dist/index.html",
            "dist/assets/app.js",
            "dist/assets/app.js.map",
            "dist/node_modules/x/y.js",
            "dist/b/c.txt",
        ] {
            fs::create_dir_all(root.join(f).parent().unwrap()).unwrap();
            fs::write(root.join(f), f).unwrap();
        }
        let got: Vec<String> = files(
            root,
            &root.join("dist"),
            &["**/*.map".into(), "node_modules".into()],
        )
        .unwrap()
        .into_iter()
        .map(|(rel, _)| rel)
        .collect();
        assert_eq!(got, ["assets/app.js", "b/c.txt", "index.html"]);
    }

    #[test]
    fn links_that_leave_the_workspace_are_refused() {
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret"), "s").unwrap();
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("dist")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), d.path().join("dist/s")).unwrap();
        let err = files(d.path(), &d.path().join("dist"), &[]).unwrap_err();
        assert!(
            format!("{err:#}").contains("outside the workspace"),
            "{err:#}"
        );
    }
}
