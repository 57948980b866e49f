//! The condensed copies of public repositories under `tests/fixtures/real-repos/` (see its
//! README), each copied into a scratch git repository as a clone of it would look.

use std::path::{Path, PathBuf};

use super::repo::git;

/// A scratch clone of one fixture: in a folder named after the project (init names the release
/// after it), one commit on the upstream default branch, a version tag in the project's own
/// form, `origin` naming the upstream repository and `origin/HEAD` its default branch.
pub struct RealRepo {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
}

/// The fixtures folder.
pub fn real_repos_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real-repos")
}

/// Copies fixture `name` (less its `expected.toml`), renames `dot-gitignore` and
/// `dot-gitattributes` back to `.gitignore` and `.gitattributes`, commits on `branch`, tags
/// `tag` and records `origin` (`https://github.com/<upstream>`) with `origin/HEAD` → `branch`.
pub fn real_repo(name: &str, upstream: &str, branch: &str, tag: &str) -> RealRepo {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    copy_tree(&real_repos_dir().join(name), &path);
    git(&path, &["init", "-q", "-b", branch]);
    git(&path, &["add", "-A"]);
    git(&path, &["commit", "-q", "-m", "upstream snapshot"]);
    git(&path, &["tag", tag]);
    let url = format!("https://github.com/{upstream}");
    git(&path, &["remote", "add", "origin", &url]);
    let remote_branch = format!("refs/remotes/origin/{branch}");
    git(&path, &["update-ref", &remote_branch, "HEAD"]);
    git(
        &path,
        &["symbolic-ref", "refs/remotes/origin/HEAD", &remote_branch],
    );
    RealRepo { _dir: dir, path }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        let target = match name.as_str() {
            "expected.toml" if from.parent() == Some(real_repos_dir().as_path()) => continue,
            "dot-gitignore" => to.join(".gitignore"),
            "dot-gitattributes" => to.join(".gitattributes"),
            _ => to.join(&name),
        };
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
