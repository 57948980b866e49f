//! Tidy: the layout rules of `xtask/src`, checked by a plain test (in the style of
//! rust-analyzer's `xtask/src/tidy.rs`).
//!
//! - The module dependency table: which top-level module may refer to which (`use crate::X`,
//!   `crate::X::` paths, and `super::` chains that climb out of their top-level module).
//! - Printing: only the face (`commands/`, `report/`, `main.rs`) prints (`println!`,
//!   `eprintln!`, `print!`, `eprint!`, `stdout()`, `stderr()`); stages report through
//!   `progress::Sink`.
//! - Size: no source file over [`MAX_LINES`] lines (large test tables go in a sibling
//!   `tests.rs`).
//!
//! A broken rule fails the test with one line per problem, naming the file, the line and the
//! rule.

use std::path::Path;

/// The longest a source file may be.
pub const MAX_LINES: usize = 800;

/// Every top-level module of the crate and what it may refer to. `*`: anything.
///
/// The stages (`builder`, `attest`, `compose`, `publish`) meet only at `oci::layout` and never
/// import each other;
/// both reach registries through `registry`. `registry` and `oci` are libraries. `plan` is pure.
/// `facts` feed the `workspace`, which computes the `plan`. Only `commands` sees `cli`.
const DEPENDENCIES: &[(&str, &[&str])] = &[
    ("lib", &["*"]),
    // `src/bin/stevedore.rs`: the same program as `cargo xtask`, under its own name.
    ("bin", &["commands"]),
    ("cli", &[]),
    ("commands", &["*"]),
    (
        "report",
        &[
            "attest",
            "builder",
            "compose",
            "config",
            "facts",
            "oci",
            "pipeline",
            "plan",
            "problem",
            "progress",
            "publish",
            "registry",
            "workspace",
        ],
    ),
    (
        "pipeline",
        &[
            "attest", "builder", "compose", "oci", "plan", "problem", "progress", "publish",
            "registry",
        ],
    ),
    ("workspace", &["config", "facts", "plan"]),
    // `config` holds the tag rules as parsed by `plan::tags` (the rule grammar).
    ("config", &["oci", "plan", "problem"]),
    ("facts", &["problem"]),
    ("plan", &["config", "oci"]),
    ("oci", &[]),
    ("problem", &[]),
    ("registry", &["oci", "problem"]),
    ("exec", &["progress"]),
    ("progress", &[]),
    (
        "builder",
        &[
            "config", "exec", "oci", "plan", "problem", "progress", "registry",
        ],
    ),
    (
        "compose",
        &["oci", "plan", "problem", "progress", "registry"],
    ),
    (
        "attest",
        &["exec", "oci", "plan", "problem", "progress", "registry"],
    ),
    (
        "publish",
        &["oci", "plan", "problem", "progress", "registry"],
    ),
    ("tidy", &["*"]),
    // Workflows from the plan: pure text; the Rust targets and cross linkers from `builder`,
    // the credential variable names from `registry`.
    ("ci", &["builder", "config", "oci", "plan", "registry"]),
    // `init` drafts a config: it reads compose files with `compose::yaml`, checks tag rules with
    // `plan::tags`, names with `oci`, and validates the draft with `config`.
    (
        "init",
        &["compose", "config", "facts", "oci", "plan", "problem"],
    ),
];

/// Modules that may print.
const FACE: &[&str] = &["main", "commands", "report", "tidy"];

const PRINTS: &[&str] = &["println!", "eprintln!", "print!", "eprint!"];

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Path relative to `xtask/src`.
    pub file: String,
    pub line: usize,
    pub rule: &'static str,
    pub detail: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "xtask/src/{}:{}: [{}] {}",
            self.file, self.line, self.rule, self.detail
        )
    }
}

/// The top-level module a file (path relative to `src`, `/`-separated) belongs to.
fn module_of(file: &str) -> &str {
    let first = file.split('/').next().unwrap_or(file);
    first.strip_suffix(".rs").unwrap_or(first)
}

/// How deep below its top-level module the file's module is: `builder/mod.rs` and
/// `exec.rs` 0, `builder/native.rs` 1, `plan/tags/engine.rs` 2.
fn depth_of(file: &str) -> usize {
    let parts: Vec<&str> = file.split('/').collect();
    let last = parts.last().copied().unwrap_or("");
    let dirs = parts.len() - 1;
    if last == "mod.rs" || dirs == 0 {
        dirs.saturating_sub(1)
    } else {
        dirs
    }
}

/// The code of a line: string literals emptied (`"…"` → `""`) and a `//` comment (doc
/// comments included) dropped.
fn code(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => {
                    in_string = false;
                    out.push(c);
                }
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            // A `'"'` character literal does not open a string.
            '\'' if chars.peek() == Some(&'"') => {
                out.push_str("'\"");
                chars.next();
            }
            '/' if chars.peek() == Some(&'/') => break,
            _ => out.push(c),
        }
    }
    out
}

/// The top-level modules `code` names through `crate::`.
fn crate_refs(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `xcrate::`, `$crate::`-like names
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.push(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
    }
    out
}

/// The longest `super::super::…` chain in `code`.
fn super_chain(code: &str) -> usize {
    let mut best = 0;
    let mut rest = code;
    while let Some(i) = rest.find("super::") {
        let before = rest[..i].chars().next_back();
        let mut n = 0;
        let mut r = &rest[i..];
        while let Some(next) = r.strip_prefix("super::") {
            n += 1;
            r = next;
        }
        if !before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            best = best.max(n);
        }
        rest = r;
    }
    best
}

/// Checks one file's text; `file` is its path relative to `src`, `/`-separated.
pub fn check_file(file: &str, text: &str) -> Vec<Problem> {
    let mut problems = Vec::new();
    let module = module_of(file);
    let allowed: Option<&[&str]> = DEPENDENCIES
        .iter()
        .find(|(m, _)| *m == module)
        .map(|(_, a)| *a);
    let depth = depth_of(file);
    let may_print = FACE.contains(&module);

    let lines = text.lines().count();
    if lines > MAX_LINES {
        problems.push(Problem {
            file: file.to_string(),
            line: lines,
            rule: "file size",
            detail: format!(
                "{lines} lines, more than {MAX_LINES}: split it by job (test tables go in a sibling tests.rs)"
            ),
        });
    }
    if allowed.is_none() && module != "main" {
        problems.push(Problem {
            file: file.to_string(),
            line: 1,
            rule: "module table",
            detail: format!(
                "top-level module `{module}` is not in tidy's dependency table: add it with what it may use"
            ),
        });
    }

    // Inline modules (`mod tests {`) add a level for `super::`: their opening indentation.
    let mut inline: Vec<usize> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line_no = n + 1;
        let indent = raw.len() - raw.trim_start().len();
        while inline.last().is_some_and(|open| {
            raw.trim_start().starts_with('}') && indent == *open
                || (!raw.trim().is_empty() && indent < *open)
        }) {
            inline.pop();
        }
        let code = code(raw);
        let code = code.as_str();
        let t = code.trim_start();
        let t = t.strip_prefix("pub ").unwrap_or(t);
        let t = t.strip_prefix("pub(crate) ").unwrap_or(t);
        let t = t.strip_prefix("pub(super) ").unwrap_or(t);
        if t.starts_with("mod ") && t.trim_end().ends_with('{') {
            inline.push(indent);
            continue;
        }

        if let Some(allowed) = allowed {
            if !allowed.contains(&"*") {
                for target in crate_refs(code) {
                    if target == module {
                        continue;
                    }
                    if !allowed.contains(&target.as_str()) {
                        problems.push(Problem {
                            file: file.to_string(),
                            line: line_no,
                            rule: "module dependencies",
                            detail: format!(
                                "`{module}` may not use `crate::{target}` (it may use: {})",
                                if allowed.is_empty() {
                                    "nothing of the crate".to_string()
                                } else {
                                    allowed.join(", ")
                                }
                            ),
                        });
                    }
                }
            }
        }

        let climb = super_chain(code);
        if module != "lib" && climb > depth + inline.len() {
            problems.push(Problem {
                file: file.to_string(),
                line: line_no,
                rule: "module dependencies",
                detail: format!(
                    "`super::` climbs out of `{module}`: name other modules as `crate::…` so the table can check them"
                ),
            });
        }

        if !may_print {
            let printed = PRINTS
                .iter()
                .find(|m| {
                    code.match_indices(*m).any(|(i, _)| {
                        !code[..i]
                            .chars()
                            .next_back()
                            .is_some_and(|c| c.is_alphanumeric() || c == '_')
                    })
                })
                .map(|m| m.to_string())
                .or_else(|| {
                    ["stdout()", "stderr()"]
                        .iter()
                        .find(|w| {
                            code.match_indices(*w).any(|(i, _)| {
                                !code[..i]
                                    .chars()
                                    .next_back()
                                    .is_some_and(|c| c.is_alphanumeric() || c == '_')
                            })
                        })
                        .map(|w| w.to_string())
                });
            if let Some(what) = printed {
                problems.push(Problem {
                    file: file.to_string(),
                    line: line_no,
                    rule: "printing",
                    detail: format!(
                        "`{what}` outside the face: only commands/ and report/ print; hand the stage a progress::Sink and write to it"
                    ),
                });
            }
        }
    }
    problems
}

/// Checks every `.rs` file under `src`.
pub fn check_tree(src: &Path) -> Vec<Problem> {
    let mut files = Vec::new();
    collect(src, src, &mut files);
    files.sort();
    let mut problems = Vec::new();
    for (rel, path) in files {
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        problems.extend(check_file(&rel, &text));
    }
    problems
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, std::path::PathBuf)>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            collect(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path
                .strip_prefix(root)
                .expect("under the root")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            out.push((rel, path));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(file: &str, text: &str) -> Vec<(&'static str, String)> {
        check_file(file, text)
            .into_iter()
            .map(|p| (p.rule, p.to_string()))
            .collect()
    }

    #[test]
    fn the_source_tree_keeps_the_layout_rules() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let problems = check_tree(&src);
        let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
        let mut sizes = Vec::new();
        collect(&tests, &tests, &mut sizes);
        let oversized: Vec<String> = sizes
            .iter()
            .filter_map(|(rel, path)| {
                let n = std::fs::read_to_string(path).ok()?.lines().count();
                (n > MAX_LINES).then(|| {
                    format!("xtask/tests/{rel}: [file size] {n} lines, more than {MAX_LINES}")
                })
            })
            .collect();
        let all: Vec<String> = problems
            .iter()
            .map(|p| p.to_string())
            .chain(oversized)
            .collect();
        assert!(
            all.is_empty(),
            "tidy found {} problem(s):\n{}",
            all.len(),
            all.join("\n")
        );
    }

    #[test]
    fn builder_importing_publish_is_caught() {
        let found = rules(
            "builder/pull.rs",
            "use crate::oci::Digest;\nuse crate::publish::Options;\n",
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "module dependencies");
        assert!(
            found[0].1.starts_with("xtask/src/builder/pull.rs:2: "),
            "{}",
            found[0].1
        );
        assert!(found[0].1.contains("crate::publish"), "{}", found[0].1);
        // Grouped imports and paths in expressions count too.
        assert_eq!(
            rules("builder/mod.rs", "use crate::{oci, publish};\n").len(),
            1
        );
        assert_eq!(
            rules(
                "builder/mod.rs",
                "    let o = crate::publish::Options::default();\n"
            )
            .len(),
            1
        );
    }

    #[test]
    fn plan_importing_cli_is_caught() {
        let found = rules("plan/mod.rs", "use crate::cli::Global;\n");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "module dependencies");
        assert!(
            found[0].1.starts_with("xtask/src/plan/mod.rs:1: "),
            "{}",
            found[0].1
        );
        assert!(found[0].1.contains("crate::cli"), "{}", found[0].1);
        // Deeper files of plan too.
        assert_eq!(
            rules("plan/tags/engine.rs", "use crate::cli::BuildArgs;\n").len(),
            1
        );
    }

    #[test]
    fn printing_in_publish_is_caught() {
        let found = rules("publish/mod.rs", "fn f() {\n    println!(\"hi\");\n}\n");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "printing");
        assert!(
            found[0].1.starts_with("xtask/src/publish/mod.rs:2: "),
            "{}",
            found[0].1
        );
        for text in [
            "eprintln!(\"x\");",
            "eprint!(\"x\");",
            "print!(\"x\");",
            "let _ = std::io::stderr().write_all(b\"x\");",
            "let out = std::io::stdout();",
        ] {
            assert_eq!(rules("publish/scheduler.rs", text).len(), 1, "{text}");
        }
        // The face prints; writing to a file or naming a child's stderr is not printing.
        assert!(rules("commands/mod.rs", "println!(\"x\");").is_empty());
        assert!(rules("report/tables.rs", "eprintln!(\"x\");").is_empty());
        assert!(rules("exec.rs", "cmd.stderr(Stdio::piped());").is_empty());
        assert!(rules("facts/git.rs", "cmd.ignore_stderr();").is_empty());
        assert!(rules("publish/mod.rs", "writeln!(f, \"x\")?;").is_empty());
        assert!(rules("publish/mod.rs", "// println!(\"in a comment\")").is_empty());
    }

    #[test]
    fn super_chains_leaving_the_module_are_caught() {
        assert!(rules("builder/native.rs", "use super::base::Base;").is_empty());
        assert!(rules("plan/tags/engine.rs", "use super::super::context::Event;").is_empty());
        let found = rules("builder/mod.rs", "use super::publish::Options;");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].1.contains("climbs out of `builder`"),
            "{}",
            found[0].1
        );
        assert_eq!(
            rules("builder/native.rs", "use super::super::publish::Options;").len(),
            1
        );
        // An inline test module may reach its file's module.
        assert!(rules(
            "exec.rs",
            "fn f() {}\n\n#[cfg(test)]\nmod tests {\n    use super::*;\n}\n"
        )
        .is_empty());
    }

    #[test]
    fn oversized_files_are_caught() {
        let text = "// x\n".repeat(MAX_LINES + 1);
        let found = rules("registry/blobs.rs", &text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "file size");
        assert!(found[0].1.contains("registry/blobs.rs"), "{}", found[0].1);
        assert!(rules("registry/blobs.rs", &"// x\n".repeat(MAX_LINES)).is_empty());
    }

    #[test]
    fn unknown_top_level_modules_are_caught() {
        let found = rules("newstage/mod.rs", "pub fn f() {}\n");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "module table");
    }
}
