//! The release scripts a workflow runs (`node extra/release/build-images.mjs`), read and never
//! run, for the one thing they reliably spell as a literal: the platform list they build
//! (`platform = "linux/amd64,linux/arm64,linux/arm/v7"`, `--platform linux/amd64,linux/arm64`).
//!
//! The script and the local files it imports (`from "./lib.mjs"`, `require("./x")`) or sources
//! (`source ./x.sh`) are read breadth first, at most [`MAX_FILES`] files of at most
//! [`MAX_BYTES`] each, regular files inside the workspace only (no symlink, nothing that leaves
//! the root). The longest list wins, the first one found on a tie.

use std::collections::VecDeque;
use std::path::Path;

use super::{dir_of, join, line_of, Source};
use crate::oci::platform::Platform;

pub const MAX_FILES: usize = 16;
pub const MAX_BYTES: u64 = 512 * 1024;

/// The longest platform list of the script `file` (root-relative) and the local files it
/// imports, with where it is spelled.
pub fn platforms(root: &Path, file: &str) -> Option<(Source, Vec<String>)> {
    let root = root.canonicalize().ok()?;
    let mut queue = VecDeque::from([file.to_string()]);
    let mut seen: Vec<String> = Vec::new();
    let mut best: Option<(Source, Vec<String>)> = None;
    while let Some(f) = queue.pop_front() {
        if seen.contains(&f) || seen.len() >= MAX_FILES {
            continue;
        }
        seen.push(f.clone());
        let Some(text) = read_small(&root, &f) else {
            continue;
        };
        for (offset, list) in lists(&text) {
            if best.as_ref().is_none_or(|(_, b)| list.len() > b.len()) {
                best = Some((Source::new(&f, line_of(&text, offset)), list));
            }
        }
        queue.extend(
            local_imports(&text)
                .iter()
                .filter_map(|dep| join(dir_of(&f), dep)),
        );
    }
    best
}

/// A regular file of at most [`MAX_BYTES`] inside `root` (canonical), as text.
fn read_small(root: &Path, file: &str) -> Option<String> {
    let path = root.join(file);
    let meta = std::fs::symlink_metadata(&path).ok()?;
    if !meta.is_file() || meta.len() > MAX_BYTES {
        return None;
    }
    if !path.canonicalize().ok()?.starts_with(root) {
        return None;
    }
    let bytes = std::fs::read(&path).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// Every comma-separated run of platforms in `text` (`linux/amd64,linux/arm64`), with its byte
/// offset.
fn lists(text: &str) -> Vec<(usize, Vec<String>)> {
    let is_part = |c: char| c.is_ascii_alphanumeric() || matches!(c, '/' | ',' | '.' | '_' | '-');
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
        match (is_part(c), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                let chunk = &text[s..i];
                start = None;
                if !chunk.contains("linux/") {
                    continue;
                }
                let items: Vec<&str> = chunk.split(',').filter(|p| !p.is_empty()).collect();
                let all = !items.is_empty()
                    && items
                        .iter()
                        .all(|p| p.starts_with("linux/") && p.parse::<Platform>().is_ok());
                if all {
                    out.push((s, items.iter().map(|p| p.to_string()).collect()));
                }
            }
            _ => {}
        }
    }
    out
}

/// The local files a script loads: JavaScript/TypeScript `from "./x"`, `import "./x"`,
/// `import("./x")`, `require("./x")`, and shell `source ./x` / `. ./x` (relative paths only).
fn local_imports(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        for lead in ["from ", "import ", "import(", "require("] {
            let mut rest = line;
            while let Some(i) = rest.find(lead) {
                rest = rest[i + lead.len()..].trim_start();
                let Some(q) = rest.chars().next().filter(|c| matches!(c, '"' | '\'')) else {
                    continue;
                };
                let Some(end) = rest[1..].find(q) else { break };
                let path = &rest[1..1 + end];
                if path.starts_with("./") || path.starts_with("../") {
                    out.push(path.to_string());
                }
                rest = &rest[1 + end..];
            }
        }
        for lead in ["source ", ". "] {
            if let Some(path) = line.strip_prefix(lead) {
                let path = path.split_whitespace().next().unwrap_or("");
                let path = path.trim_matches(['"', '\'']);
                if path.starts_with("./") || path.starts_with("../") {
                    out.push(path.to_string());
                }
            }
        }
    }
    out
}

/// The package script a `run:` line runs: `npm run X`, `npm run-script X`, `pnpm run X`,
/// `pnpm X`, `yarn X`, `yarn run X`, `bun run X`, `node --run X` (not npm's own commands:
/// `npm ci`, `yarn install`).
pub fn package_script_name(line: &str) -> Option<String> {
    const OWN: &[&str] = &[
        "install", "ci", "i", "add", "remove", "exec", "dlx", "test", "audit", "publish",
        "version", "init", "create", "why", "outdated", "update", "upgrade", "config", "set",
    ];
    let words: Vec<&str> = line.split_whitespace().collect();
    let name = match words.as_slice() {
        ["npm" | "pnpm" | "bun", "run" | "run-script", name, ..] => *name,
        ["node", "--run", name, ..] => *name,
        ["yarn", "run", name, ..] => *name,
        ["pnpm" | "yarn", name, ..] if !OWN.contains(name) && !name.starts_with('-') => *name,
        _ => return None,
    };
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.' | '/'));
    ok.then(|| name.to_string())
}

/// What a package script builds, when it (or a package script it runs) runs `docker build`,
/// `docker buildx build`, `podman build` or `buildah bud`: where, and the platforms and image
/// names (`-t NAME:TAG`, the name part) its command lines give.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageBuild {
    pub from: Source,
    pub platforms: Vec<String>,
    pub names: Vec<String>,
}

/// The package script `name` of `DIR/package.json`, followed through the package scripts it
/// runs (at most [`MAX_FILES`]).
pub fn package_script(root: &Path, dir: &str, name: &str) -> Option<PackageBuild> {
    let root = root.canonicalize().ok()?;
    let file = join(dir, "package.json")?;
    let text = read_small(&root, &file)?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    let scripts = json.get("scripts")?.as_object()?;
    let mut queue = vec![name.to_string()];
    let mut seen: Vec<String> = Vec::new();
    let mut out: Option<PackageBuild> = None;
    while let Some(n) = queue.pop() {
        if seen.contains(&n) || seen.len() >= MAX_FILES {
            continue;
        }
        seen.push(n.clone());
        let Some(command) = scripts.get(&n).and_then(|v| v.as_str()) else {
            continue;
        };
        let parts = command
            .split("&&")
            .flat_map(|p| p.split("||"))
            .flat_map(|p| p.split(';'));
        for part in parts {
            if let Some(next) = package_script_name(part.trim()) {
                queue.push(next);
                continue;
            }
            let Some(args) = build_args(part) else {
                continue;
            };
            let line = text
                .find(&format!("\"{n}\""))
                .map_or(0, |at| line_of(&text, at));
            let build = out.get_or_insert_with(|| PackageBuild {
                from: Source::new(&file, line),
                ..Default::default()
            });
            read_build_args(&args, build);
        }
    }
    out
}

/// The targets a `make` line builds: `make DOCKER_BUILD_PUSH=true build-docker` →
/// `build-docker` (variables and options aside; a `-C DIR` line's Makefile is not followed).
pub fn make_targets(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    for command in line
        .split("&&")
        .flat_map(|c| c.split("||"))
        .flat_map(|c| c.split(';'))
    {
        let words: Vec<&str> = command.split_whitespace().collect();
        if words.first() != Some(&"make") || words.iter().any(|w| w.starts_with("-C")) {
            continue;
        }
        out.extend(
            words[1..]
                .iter()
                .take_while(|w| **w != "|")
                .filter(|w| !w.starts_with('-') && !w.contains('='))
                .filter(|w| {
                    w.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
                })
                .map(|w| w.to_string()),
        );
    }
    out
}

/// What the `make` target `target` of `DIR/Makefile` builds, as [`package_script`]: its recipe
/// and the targets it depends on or runs (`$(MAKE) other`), followed (at most [`MAX_FILES`]),
/// with the Makefile's simple variables (`NAME = value`, `:=`, `?=`) put in.
pub fn make_target(root: &Path, dir: &str, target: &str) -> Option<PackageBuild> {
    let root = root.canonicalize().ok()?;
    let (file, text) = ["Makefile", "makefile", "GNUmakefile"]
        .iter()
        .filter_map(|n| join(dir, n))
        .find_map(|f| read_small(&root, &f).map(|t| (f, t)))?;
    let makefile = Makefile::parse(&text);
    let mut queue = vec![target.to_string()];
    let mut seen: Vec<String> = Vec::new();
    let mut out: Option<PackageBuild> = None;
    while let Some(t) = queue.pop() {
        if seen.contains(&t) || seen.len() >= MAX_FILES {
            continue;
        }
        seen.push(t.clone());
        let Some(rule) = makefile.rules.iter().find(|r| r.targets.contains(&t)) else {
            continue;
        };
        queue.extend(rule.prerequisites.iter().cloned());
        for command in &rule.recipe {
            let command = makefile.expand(command);
            let words: Vec<&str> = command.split_whitespace().collect();
            for pair in words.windows(2) {
                if matches!(pair[0], "$(MAKE)" | "${MAKE}" | "make") && !pair[1].starts_with('-') {
                    queue.push(pair[1].to_string());
                }
            }
            if let Some(args) = build_args(&command) {
                let build = out.get_or_insert_with(|| PackageBuild {
                    from: Source::new(&file, rule.line),
                    ..Default::default()
                });
                read_build_args(&args, build);
            }
        }
    }
    out
}

/// A Makefile's rules and simple variables, as much as [`make_target`] needs.
struct Makefile {
    vars: Vec<(String, String)>,
    rules: Vec<MakeRule>,
}

struct MakeRule {
    line: usize,
    targets: Vec<String>,
    prerequisites: Vec<String>,
    recipe: Vec<String>,
}

impl Makefile {
    fn parse(text: &str) -> Makefile {
        // Continuation lines joined first, each logical line with its first line's number.
        let mut lines: Vec<(usize, String)> = Vec::new();
        let mut pending: Option<(usize, String)> = None;
        for (i, raw) in text.lines().enumerate() {
            let (n, mut acc) = pending.take().unwrap_or((i + 1, String::new()));
            let part = if acc.is_empty() {
                raw
            } else {
                raw.trim_start()
            };
            match part.strip_suffix('\\') {
                Some(head) => {
                    acc.push_str(head);
                    acc.push(' ');
                    pending = Some((n, acc));
                }
                None => {
                    acc.push_str(part);
                    lines.push((n, acc));
                }
            }
        }
        let mut vars = Vec::new();
        let mut rules: Vec<MakeRule> = Vec::new();
        for (n, line) in lines {
            if let Some(command) = line.strip_prefix('\t') {
                if let Some(rule) = rules.last_mut() {
                    rule.recipe.push(command.trim().to_string());
                }
                continue;
            }
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let assignment = ["?=", ":=", "+=", "="]
                .iter()
                .filter_map(|op| trimmed.find(op).map(|i| (i, *op)))
                .min_by_key(|(i, _)| *i);
            let colon = trimmed.find(':');
            match (assignment, colon) {
                (Some((i, op)), c) if c.is_none_or(|c| i <= c) => {
                    let name = trimmed[..i].trim();
                    let value = trimmed[i + op.len()..].trim();
                    if !name.is_empty() && !name.contains(char::is_whitespace) {
                        vars.push((name.to_string(), value.to_string()));
                    }
                }
                (_, Some(c)) => {
                    let words = |s: &str| -> Vec<String> {
                        s.split_whitespace().map(str::to_string).collect()
                    };
                    rules.push(MakeRule {
                        line: n,
                        targets: words(&trimmed[..c]),
                        prerequisites: words(trimmed[c + 1..].split(';').next().unwrap_or("")),
                        recipe: Vec::new(),
                    });
                }
                _ => {}
            }
        }
        Makefile { vars, rules }
    }

    /// `$(NAME)` and `${NAME}` of the simple variables put in (one level).
    fn expand(&self, command: &str) -> String {
        let mut out = command.to_string();
        for (name, value) in &self.vars {
            if value.contains('$') {
                continue;
            }
            out = out
                .replace(&format!("$({name})"), value)
                .replace(&format!("${{{name}}}"), value);
        }
        out
    }
}

/// The platforms (`--platform`) and image names (`-t NAME:TAG`, the name part) of an image build
/// command line's arguments, added to `build`.
fn read_build_args(args: &[String], build: &mut PackageBuild) {
    let mut words = args.iter();
    while let Some(w) = words.next() {
        let (key, value) = match w.split_once('=') {
            Some((k, v)) if k.starts_with("--") => (k, Some(v.to_string())),
            _ => (w.as_str(), None),
        };
        let value = || value.clone().or_else(|| words.clone().next().cloned());
        match key {
            "--platform" => {
                for p in value().unwrap_or_default().split(',') {
                    let p = p.trim();
                    if p.parse::<Platform>().is_ok() && !build.platforms.iter().any(|x| x == p) {
                        build.platforms.push(p.to_string());
                    }
                }
            }
            "-t" | "--tag" => {
                let Some(v) = value() else { continue };
                let name = super::name_part(&v).to_string();
                if !name.is_empty() && !name.contains('$') && !build.names.contains(&name) {
                    build.names.push(name);
                }
            }
            _ => {}
        }
    }
}

/// The arguments of an image build command line (`docker buildx build …`), unquoted.
fn build_args(line: &str) -> Option<Vec<String>> {
    let words: Vec<String> = line
        .split_whitespace()
        .map(|w| w.trim_matches(['"', '\'']).to_string())
        .collect();
    let at = words.windows(2).position(|w| {
        matches!(
            (w[0].as_str(), w[1].as_str()),
            ("docker" | "podman", "build") | ("buildx", "build") | ("buildah", "bud" | "build")
        )
    })?;
    Some(words[at + 2..].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_lists_are_found_where_a_script_spells_them() {
        let cases: &[(&str, &[&[&str]])] = &[
            (
                r#"platform = "linux/amd64,linux/arm64,linux/arm/v7""#,
                &[&["linux/amd64", "linux/arm64", "linux/arm/v7"]],
            ),
            (
                "docker buildx build --platform=linux/amd64,linux/arm64 .",
                &[&["linux/amd64", "linux/arm64"]],
            ),
            (
                r#"PLATFORMS=("linux/amd64" "linux/s390x")"#,
                &[&["linux/amd64"], &["linux/s390x"]],
            ),
            ("see https://example.com/linux/amd64.html", &[]),
            ("linux/amd64,windows/amd64", &[]),
            ("linux/", &[]),
        ];
        for (text, want) in cases {
            let got: Vec<Vec<String>> = lists(text).into_iter().map(|(_, l)| l).collect();
            let want: Vec<Vec<String>> = want
                .iter()
                .map(|l| l.iter().map(|p| p.to_string()).collect())
                .collect();
            assert_eq!(got, want, "{text}");
        }
    }

    #[test]
    fn local_imports_are_relative_paths_only() {
        let text = r#"
import { a } from "./lib.mjs";
import fs from "fs";
const b = require('../shared/b.js');
await import("./c.mjs");
source ./utils/lib.sh
. "$(dirname "$0")/x.sh"
import x from "https://example.com/x.mjs";
"#;
        assert_eq!(
            local_imports(text),
            vec!["./lib.mjs", "../shared/b.js", "./c.mjs", "./utils/lib.sh"]
        );
    }

    #[test]
    fn the_longest_list_of_the_script_and_its_imports_wins_and_nothing_leaves_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("ws");
        std::fs::create_dir_all(root.join("extra/release")).unwrap();
        std::fs::write(
            root.join("extra/release/build.mjs"),
            "import { go } from \"./lib.mjs\";\nimport \"../../../outside.mjs\";\n// --platform linux/amd64\n",
        )
        .unwrap();
        std::fs::write(
            root.join("extra/release/lib.mjs"),
            "export function go(platform = \"linux/amd64,linux/arm64\") {}\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("outside.mjs"),
            "\"linux/amd64,linux/arm64,linux/arm/v7,linux/386\"",
        )
        .unwrap();
        let (from, list) = platforms(&root, "extra/release/build.mjs").unwrap();
        assert_eq!(list, vec!["linux/amd64", "linux/arm64"]);
        assert_eq!(from, Source::new("extra/release/lib.mjs", 1));

        // A symlinked script is not read.
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(
                dir.path().join("outside.mjs"),
                root.join("extra/release/link.mjs"),
            )
            .unwrap();
            assert_eq!(platforms(&root, "extra/release/link.mjs"), None);
        }
        // Nor one over the size bound.
        let big = "x".repeat(MAX_BYTES as usize + 1) + " linux/amd64";
        std::fs::write(root.join("big.sh"), big).unwrap();
        assert_eq!(platforms(&root, "big.sh"), None);
    }

    #[test]
    fn package_scripts_are_told_from_the_package_managers_own_commands() {
        let cases: &[(&str, Option<&str>)] = &[
            ("npm run release-nightly", Some("release-nightly")),
            ("npm run-script build:docker -- --x", Some("build:docker")),
            ("pnpm run docker", Some("docker")),
            ("pnpm docker:push", Some("docker:push")),
            ("yarn build-image", Some("build-image")),
            ("yarn run build-image", Some("build-image")),
            ("bun run images", Some("images")),
            (
                "node --run build-docker-pr-test",
                Some("build-docker-pr-test"),
            ),
            ("npm ci", None),
            ("npm clean-install --no-fund", None),
            ("yarn install --frozen-lockfile", None),
            ("pnpm -r build", None),
            ("npm run $(echo x)", None),
        ];
        for (line, want) in cases {
            assert_eq!(package_script_name(line).as_deref(), *want, "{line}");
        }
    }

    #[test]
    fn a_package_script_that_builds_images_gives_its_platforms_and_names() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(
            root.join("package.json"),
            r#"{
  "name": "dockge",
  "scripts": {
    "build:frontend": "vite build",
    "release-nightly": "npm run build:frontend && npm run push-nightly",
    "push-nightly": "docker buildx build --platform linux/amd64,linux/arm64,linux/arm/v7 -t louislam/dockge:nightly -t ghcr.io/louislam/dockge:nightly --target nightly -f ./docker/Dockerfile . --push",
    "loop-a": "npm run loop-b",
    "loop-b": "npm run loop-a",
    "lint": "eslint ."
  }
}"#,
        )
        .unwrap();
        let b = package_script(root, ".", "release-nightly").unwrap();
        assert_eq!(
            b.platforms,
            vec!["linux/amd64", "linux/arm64", "linux/arm/v7"]
        );
        assert_eq!(b.names, vec!["louislam/dockge", "ghcr.io/louislam/dockge"]);
        assert_eq!(b.from, Source::new("package.json", 6));
        // A script that builds nothing, a cycle, a missing script or package.json: nothing.
        assert_eq!(package_script(root, ".", "lint"), None);
        assert_eq!(package_script(root, ".", "loop-a"), None);
        assert_eq!(package_script(root, ".", "nope"), None);
        assert_eq!(package_script(root, "web", "lint"), None);
        assert_eq!(package_script(root, "../..", "lint"), None);
    }

    #[test]
    fn make_lines_give_their_targets() {
        let cases: &[(&str, &[&str])] = &[
            (
                "make DOCKER_BUILD_PUSH=true build-docker",
                &["build-docker"],
            ),
            ("make container.push", &["container.push"]),
            ("make -j2 images push", &["images", "push"]),
            ("make -C web build", &[]),
            ("make test && make build-docker", &["test", "build-docker"]),
            ("cmake --build .", &[]),
            ("make $(TARGET)", &[]),
        ];
        for (line, want) in cases {
            assert_eq!(make_targets(line), *want, "{line}");
        }
    }

    #[test]
    fn a_make_target_that_builds_images_gives_its_platforms_and_names() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(
            root.join("Makefile"),
            "PLATFORMS ?= linux/amd64,linux/arm64\nVERSION := $(shell git describe)\n\n.PHONY: build-docker\nbuild-docker: require-version build-docker-multiarch\n\nrequire-version:\n\t@test -n \"$(VERSION)\"\n\nbuild-docker-multiarch:\n\tdocker buildx build --sbom=true \\\n\t\t$(if $(PUSH),--push) \\\n\t\t--platform $(PLATFORMS) \\\n\t\t-t gotify/server:$(shell echo $(VERSION) | cut -d '.' -f -2) \\\n\t\t-t ghcr.io/gotify/server:${VERSION} \\\n\t\t-f docker/Dockerfile .\n\nrelease:\n\t$(MAKE) build-docker\n\nloop: loop\n\nlint:\n\tgolangci-lint run\n",
        )
        .unwrap();
        let b = make_target(root, ".", "release").unwrap();
        assert_eq!(b.platforms, vec!["linux/amd64", "linux/arm64"]);
        assert_eq!(b.names, vec!["gotify/server", "ghcr.io/gotify/server"]);
        assert_eq!(b.from, Source::new("Makefile", 10));
        assert_eq!(make_target(root, ".", "lint"), None);
        assert_eq!(make_target(root, ".", "loop"), None);
        assert_eq!(make_target(root, ".", "nope"), None);
        assert_eq!(make_target(root, "sub", "release"), None);
    }
}
