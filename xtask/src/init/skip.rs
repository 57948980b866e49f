//! What `init` leaves out because the project does not release it: vendored and third-party
//! code, development containers, test/e2e/playwright files, templates, GoReleaser's own
//! Dockerfile, and files git ignores or export-ignores. Each file left out is reported with the
//! reason.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

/// Directories never entered at all (build output, dependencies, git's own).
pub const NEVER_ENTERED: &[&str] = &["target", "node_modules", ".git"];

/// Why the files under a directory named `name` are not released, if they are not.
pub fn dir_reason(name: &str) -> Option<&'static str> {
    match name {
        "vendor" | "third_party" | "third-party" | "testdata" => {
            Some("vendored or test-data code of other projects, not released by this one")
        }
        ".devcontainer" => Some("a development container, not released"),
        // Hidden folders hold tooling (`.worktree-container`, `.vscode`), except the ones that
        // hold a project's CI or container files.
        n if n.starts_with('.')
            && ![
                ".github",
                ".gitea",
                ".forgejo",
                ".docker",
                ".ci",
                ".deploy",
                ".container",
            ]
            .contains(&n) =>
        {
            Some("a hidden folder of tooling, not released")
        }
        "examples" | "example" | "demo" | "demo-env" | "samples" => {
            Some("an example or demo, not released")
        }
        "test" | "tests" | "e2e" | "playwright" | "cypress" | "__tests__" | "integration-tests"
        | "e2e-tests" => Some("a test, e2e or playwright file, not released"),
        _ => None,
    }
}

/// Why a file named `name` is not released, if it is not: templates, and Dockerfiles named for
/// tests (`Dockerfile.e2e`, `test.Dockerfile`, `Dockerfile.coverage`).
pub fn file_reason(name: &str) -> Option<&'static str> {
    if name.ends_with(".j2") || name.ends_with(".tmpl") || name.ends_with(".template") {
        return Some("a template that generates the real file, not built itself");
    }
    let lower = name.to_ascii_lowercase();
    let word = lower
        .strip_prefix("dockerfile.")
        .or_else(|| lower.strip_suffix(".dockerfile"));
    const TESTS: &[&str] = &[
        "test",
        "tests",
        "e2e",
        "coverage",
        "playwright",
        "cypress",
        "integration",
    ];
    if word.is_some_and(|w| TESTS.contains(&w)) {
        return Some("a test, e2e or playwright file, not released");
    }
    None
}

/// The Dockerfiles GoReleaser builds from its own binaries (`dockers:` … `dockerfile:` in a
/// root `.goreleaser.y(a)ml`): its build is GoReleaser's, not a `docker build` of the sources.
pub fn goreleaser_dockerfiles(goreleaser: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in goreleaser.lines() {
        let line = line.trim().trim_start_matches("- ");
        if let Some(v) = line.strip_prefix("dockerfile:") {
            let v = v.trim().trim_matches(['"', '\'']);
            if !v.is_empty() && !out.iter().any(|o| o == v) {
                out.push(v.to_string());
            }
        }
    }
    out
}

/// Of `paths` (root-relative), the ones git ignores (`.gitignore`, untracked only) and the ones
/// `.gitattributes` marks `export-ignore`, each with its reason. Outside a git repository (or
/// without git) nothing is left out.
pub fn by_git(root: &Path, paths: &[String]) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    if paths.is_empty() {
        return out;
    }
    let input = paths.join("\n") + "\n";
    if let Some(text) = git_stdin(root, &["check-ignore", "--stdin"], &input) {
        for p in text.lines().filter(|l| !l.is_empty()) {
            out.push((p.to_string(), "git ignores it (.gitignore)"));
        }
    }
    if let Some(text) = git_stdin(root, &["check-attr", "export-ignore", "--stdin"], &input) {
        for line in text.lines() {
            if let Some(p) = line.strip_suffix(": export-ignore: set") {
                if !out.iter().any(|(o, _)| o == p) {
                    out.push((
                        p.to_string(),
                        "export-ignore in .gitattributes: not part of a release archive",
                    ));
                }
            }
        }
    }
    out
}

/// Runs git in `root` with `input` on stdin; its stdout (bounded), `None` when git cannot run.
fn git_stdin(root: &Path, args: &[&str], input: &str) -> Option<String> {
    let mut child = Command::new("git")
        .args(args)
        .current_dir(root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take()?;
    let input = input.to_string();
    // Written from a thread: git answers line by line and could fill its stdout pipe first.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().ok()?;
    writer.join().ok();
    // check-ignore exits 1 when nothing is ignored; 128 is an error (not a repository).
    if out.status.code() == Some(128) {
        return None;
    }
    let mut text = String::from_utf8(out.stdout).ok()?;
    text.truncate(16 << 20);
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_of_other_projects_tests_and_dev_containers_are_not_released() {
        let cases = [
            ("vendor", true),
            ("third_party", true),
            ("testdata", true),
            (".devcontainer", true),
            ("test", true),
            ("tests", true),
            ("e2e", true),
            ("playwright", true),
            ("cypress", true),
            ("e2e-tests", true),
            ("examples", true),
            ("docker", false),
            ("backend", false),
            ("testing-tools", false),
            (".worktree-container", true),
            (".vscode", true),
            (".github", false),
            (".docker", false),
        ];
        for (name, skipped) in cases {
            assert_eq!(dir_reason(name).is_some(), skipped, "{name}");
        }
    }

    #[test]
    fn templates_are_not_released() {
        let cases = [
            ("Dockerfile.j2", true),
            ("Dockerfile.tmpl", true),
            ("compose.yaml.template", true),
            ("Dockerfile.e2e", true),
            ("Dockerfile.test", true),
            ("test.Dockerfile", true),
            ("Dockerfile.coverage", true),
            ("Dockerfile.testing", false),
            ("Dockerfile", false),
            ("Dockerfile.alpine", false),
        ];
        for (name, skipped) in cases {
            assert_eq!(file_reason(name).is_some(), skipped, "{name}");
        }
    }

    #[test]
    fn goreleaser_dockerfiles_are_read_from_its_dockers_entries() {
        let text = "dockers:\n  - use: buildx\n    dockerfile: buildx.Dockerfile\n  - dockerfile: 'buildx.Dockerfile'\n  - dockerfile: \"other.Dockerfile\"\n";
        assert_eq!(
            goreleaser_dockerfiles(text),
            ["buildx.Dockerfile", "other.Dockerfile"]
        );
        assert!(goreleaser_dockerfiles("builds:\n  - binary: x\n").is_empty());
    }
}
