//! The git facts read with gitoxide (feature `gix`, what the container image uses) equal the
//! ones the `git` binary gives, over the repository states a release meets: tags (lightweight
//! and annotated, several on one commit), a detached HEAD, staged, unstaged and stat-only
//! changes, untracked files, an unborn branch, a shallow clone, ancestry and commit times.
//!
//! Runs only in a build with `--features gix` (scripts/test.sh runs it that way).
#![cfg(feature = "gix")]

mod support;

use std::path::Path;

use support::repo::Repo;
use xtask::facts::git::backends::*;
use xtask::facts::git::GitFacts;

/// Both backends on `dir`: the same facts, or both an error.
fn same_facts(dir: &Path, what: &str) -> Option<GitFacts> {
    match (cli_facts(dir), gix_facts(dir)) {
        (Ok(cli), Ok(gix)) => {
            assert_eq!(format!("{cli:?}"), format!("{gix:?}"), "{what}");
            Some(cli)
        }
        (Err(_), Err(_)) => None,
        (cli, gix) => panic!("{what}: git gives {cli:?}, gitoxide gives {gix:?}"),
    }
}

#[test]
fn gitoxide_reads_what_git_reads_in_every_state() {
    let repo = Repo::init();
    // Unborn: no commit yet; both refuse.
    assert!(same_facts(repo.path(), "unborn").is_none());
    let msg = gix_facts(repo.path()).unwrap_err().to_string();
    assert!(msg.contains("no commits yet"), "{msg}");

    repo.write("a.txt", "a\n");
    repo.write("dir/b.txt", "b\n");
    repo.git(&[
        "remote",
        "add",
        "origin",
        "https://u:s3cret@github.com/o/r.git",
    ]);
    repo.commit("first");
    let first = repo.head();
    let facts = same_facts(repo.path(), "one commit, no tag").unwrap();
    assert_eq!(facts.describe.as_deref(), Some(&first[..7]));
    assert_eq!(facts.source_url.as_deref(), Some("https://github.com/o/r"));

    repo.git(&["tag", "v1.0.0"]);
    repo.write("a.txt", "a2\n");
    repo.commit("second");
    repo.git(&["tag", "-a", "-m", "annotated", "v1.1.0"]);
    repo.git(&["tag", "zz-light"]);
    let facts = same_facts(repo.path(), "two tags on HEAD").unwrap();
    assert_eq!(facts.tags, ["v1.0.0", "v1.1.0", "zz-light"]);
    assert_eq!(facts.tags_at_head, ["v1.1.0", "zz-light"]);

    repo.write("a.txt", "a3\n");
    repo.commit("third");
    let third = repo.head();
    let facts = same_facts(repo.path(), "one commit past a tag").unwrap();
    assert!(facts
        .describe
        .as_deref()
        .unwrap()
        .ends_with(&format!("-1-g{}", &third[..7])));
    assert!(!facts.dirty);

    // Untracked files are not changes.
    repo.write("new.txt", "untracked\n");
    assert!(!same_facts(repo.path(), "untracked").unwrap().dirty);
    // A touched file with the same content is not a change.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    repo.write("a.txt", "a3\n");
    assert!(!same_facts(repo.path(), "touched").unwrap().dirty);
    // Unstaged and staged changes.
    repo.write("a.txt", "changed\n");
    let facts = same_facts(repo.path(), "unstaged").unwrap();
    assert_eq!(facts.changed_files, ["a.txt"]);
    assert!(facts.describe.as_deref().unwrap().ends_with("-dirty"));
    repo.write("dir/b.txt", "staged\n");
    repo.git(&["add", "dir/b.txt"]);
    std::fs::remove_file(repo.path().join("new.txt")).unwrap();
    repo.write("staged-new.txt", "new\n");
    repo.git(&["add", "staged-new.txt"]);
    let facts = same_facts(repo.path(), "staged and unstaged").unwrap();
    assert_eq!(
        facts.changed_files,
        ["a.txt", "dir/b.txt", "staged-new.txt"]
    );
    repo.git(&["rm", "-q", "--cached", "staged-new.txt"]);
    repo.git(&["checkout", "-q", "--", "."]);
    repo.git(&["reset", "-q"]);
    repo.git(&["checkout", "-q", "--", "."]);
    std::fs::remove_file(repo.path().join("staged-new.txt")).unwrap();
    std::fs::remove_file(repo.path().join("a.txt")).unwrap();
    let facts = same_facts(repo.path(), "deleted").unwrap();
    assert_eq!(facts.changed_files, ["a.txt"]);
    repo.git(&["checkout", "-q", "--", "."]);

    // Detached HEAD and ancestry.
    repo.git(&["checkout", "-q", "--detach", &first]);
    let facts = same_facts(repo.path(), "detached").unwrap();
    assert_eq!(facts.branch, None);
    repo.git(&["checkout", "-q", "main"]);
    for (a, d) in [
        (first.as_str(), third.as_str()),
        (third.as_str(), first.as_str()),
        (third.as_str(), third.as_str()),
        ("0000000000000000000000000000000000000000", third.as_str()),
        (first.as_str(), "1111111111111111111111111111111111111111"),
    ] {
        assert_eq!(
            cli_is_ancestor(repo.path(), a, d),
            gix_is_ancestor(repo.path(), a, d),
            "is {a} an ancestor of {d}"
        );
    }
    assert_eq!(gix_is_ancestor(repo.path(), &first, &third), Some(true));
    for rev in [first.as_str(), third.as_str(), "nope"] {
        assert_eq!(
            cli_commit_time_of(repo.path(), rev),
            gix_commit_time_of(repo.path(), rev),
            "commit time of {rev}"
        );
    }

    // A subdirectory finds the repository; a shallow clone says so.
    same_facts(&repo.path().join("dir"), "from a subdirectory").unwrap();
    let shallow = tempfile::tempdir().unwrap();
    let url = format!("file://{}", repo.path().display());
    support::git(shallow.path(), &["clone", "-q", "--depth", "1", &url, "c"]);
    let facts = same_facts(&shallow.path().join("c"), "shallow").unwrap();
    assert!(facts.shallow);

    // Outside any repository: both refuse, naming the directory.
    let outside = tempfile::tempdir().unwrap();
    assert!(same_facts(outside.path(), "outside").is_none());
    let msg = gix_facts(outside.path()).unwrap_err().to_string();
    assert!(msg.contains("is not inside a git repository"), "{msg}");
}

#[test]
fn both_readers_list_the_same_untracked_files_ignored_ones_left_out() {
    let repo = Repo::init();
    repo.write(".gitignore", "*.log\n/build/\n");
    repo.write("ws/site/index.html", "committed\n");
    repo.write("ws/.gitignore", "local-ignored/\n");
    repo.commit("first");
    let facts = same_facts(repo.path(), "nothing untracked").unwrap();
    assert!(facts.untracked_files.is_empty(), "{facts:?}");

    repo.write("top.txt", "untracked\n");
    repo.write("ws/site/evil.js", "untracked\n");
    repo.write(
        "ws/site/deep/er/x.bin",
        "untracked, in an untracked directory\n",
    );
    repo.write("ws/site/debug.log", "ignored by pattern\n");
    repo.write("build/out", "ignored directory\n");
    repo.write("ws/local-ignored/a", "ignored by a nested .gitignore\n");
    repo.write("ws/odd name\twith tab\n.txt", "a name git would quote\n");
    repo.write("ws/nested/inner.txt", "a nested repository\n");
    support::git(&repo.path().join("ws/nested"), &["init", "-q"]);
    let facts = same_facts(repo.path(), "untracked and ignored").unwrap();
    assert_eq!(
        facts.untracked_files,
        [
            "top.txt",
            "ws/nested",
            "ws/odd name\twith tab\n.txt",
            "ws/site/deep/er/x.bin",
            "ws/site/evil.js",
        ]
    );
    assert!(!facts.dirty, "untracked files alone are not `dirty`");
    // From a subdirectory (a workspace inside the repository): relative to it, only below it.
    let facts = same_facts(&repo.path().join("ws"), "from a subdirectory").unwrap();
    assert_eq!(
        facts.untracked_files,
        [
            "nested",
            "odd name\twith tab\n.txt",
            "site/deep/er/x.bin",
            "site/evil.js",
        ]
    );
}
