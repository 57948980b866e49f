//! Compose's checks before publishing (`cmd/compose/publish.go`, `pkg/compose/publish.go`
//! `preChecks`), as a list of findings instead of prompts.
//!
//! | finding | compose | here |
//! |---|---|---|
//! | local `include:` | error | refused, always |
//! | `build:` without `image:` | error | refused, always |
//! | bind mount | listed, confirm | refused unless `allow = ["bind-mounts"]` or `--yes` |
//! | secret-looking value | listed, confirm | refused unless `allow = ["sensitive-data"]` or `--yes` |
//! | `env_file` without `--with-env` | error unless `--yes` | refused unless `--yes` (or `required: false`) |
//!
//! Secret-looking values, anywhere in a compose file (services, `build.args`, `labels`, `x-*`
//! extensions, …):
//! - a literal value under a sensitive key, in every mapping (`KEY: value`) and every
//!   `KEY=VALUE` list item (`environment`, `build.args`, `labels` in list form);
//! - a secret on a command line (`command`, `entrypoint`, `healthcheck.test`, string or list):
//!   `--password=x`, `--password x`, mysql's `-px`, `PGPASSWORD=x cmd`, …;
//! - a known token shape, a password in a URL, or a high-entropy string, in any string;
//! - the same in published env files and inline `configs.*.content`.
//!
//! `${VAR}` references are fine; the literal default of `${VAR:-default}` and the alternative
//! of `${VAR:+alternative}` are published as written, so they are judged like any literal
//! (`${DB_PASSWORD:-postgres}` is reported). A value copied by an alias is reported once, where
//! it is written. Compose also refuses, without `--with-env`, any `environment:` at all; that
//! blanket rule is not kept: references are what we publish.

use std::collections::HashSet;
use std::fmt;

use super::load::{Project, SourceFile};
use super::secrets::{
    command_secret, is_secret_value, is_sensitive_key, literal_text, redact, shell_words,
    token_kind,
};
use super::{interp, ComposeError, ComposeSpec, ErrorKind};
use crate::yaml_positions::{Kind, Node};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindingKind {
    LocalInclude,
    BuildWithoutImage,
    BindMount,
    SensitiveData,
    EnvFileNotPublished,
}

/// One thing the checks found, with where and how to fix it. Values are redacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: FindingKind,
    /// The file, relative to the workspace root.
    pub file: String,
    pub service: Option<String>,
    /// The key, e.g. `services.db.environment.POSTGRES_PASSWORD`.
    pub key: String,
    pub problem: String,
    pub fix: String,
    /// Whether this finding stops the publication (not allowed by config or `--yes`).
    pub refused: bool,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.file, self.key, self.problem)?;
        if self.refused {
            write!(f, "\n  fix: {}", self.fix)?;
        }
        Ok(())
    }
}

/// Everything the checks found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckReport {
    pub findings: Vec<Finding>,
}

impl CheckReport {
    pub fn refused(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.refused)
    }

    /// `Ok` when nothing is refused; otherwise an error listing the refused findings.
    pub fn to_result(&self) -> Result<(), ComposeError> {
        let refused: Vec<String> = self.refused().map(ToString::to_string).collect();
        if refused.is_empty() {
            return Ok(());
        }
        Err(ComposeError::new(
            ErrorKind::Refused,
            None,
            format!(
                "the compose artifact cannot be published:\n{}",
                refused.join("\n")
            ),
            "fix the findings, or allow them (`allow = [\"bind-mounts\", \"sensitive-data\"]` \
             in [compose], or `--yes` for this run)",
        ))
    }
}

/// Runs the checks. `yes` is the CLI's `--yes`: it allows everything compose lets `--yes` allow.
pub fn check(project: &Project, spec: &ComposeSpec, yes: bool) -> CheckReport {
    let mut c = Checker {
        spec,
        yes,
        findings: vec![],
        seen: HashSet::new(),
    };
    for file in project.files.iter().chain(&project.extends) {
        c.includes(file);
        c.file(file);
    }
    for (name, view) in project.services() {
        if view.has_build && view.image.is_none() {
            let file = project
                .files
                .iter()
                .find(|f| f.services().iter().any(|(n, _)| *n == name))
                .map(|f| f.path.clone())
                .unwrap_or_default();
            c.push(
                FindingKind::BuildWithoutImage,
                &file,
                Some(&name),
                format!("services.{name}.build"),
                format!(
                    "your Compose stack cannot be published as it only contains a build section \
                     for service(s): {name:?}"
                ),
                "give the service an `image:` naming the release's image",
            );
        }
    }
    for env in &project.env_files {
        let Some((file, service)) = env.used_by.first() else {
            continue;
        };
        if !spec.env_files {
            if env.required {
                c.push(
                    FindingKind::EnvFileNotPublished,
                    file,
                    Some(service),
                    format!("services.{service}.env_file"),
                    format!(
                        "service {service:?} has env_file declared ({}), which is not published \
                         without env files",
                        env.path
                    ),
                    "set `env-files = true` in [compose], mark it `required: false`, or remove it",
                );
            }
            continue;
        }
        let Some(content) = &env.content else {
            continue;
        };
        let text = String::from_utf8_lossy(content);
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let line = line.strip_prefix("export ").unwrap_or(line);
            let (key, value) = line.split_once('=').unwrap_or((line, ""));
            let value = value.trim().trim_matches(['"', '\'']);
            c.value(
                &env.path,
                Some(service),
                &format!("line {}: {}", n + 1, key.trim()),
                key.trim(),
                value,
            );
        }
    }
    CheckReport {
        findings: c.findings,
    }
}

struct Checker<'a> {
    spec: &'a ComposeSpec,
    yes: bool,
    findings: Vec<Finding>,
    /// Byte offsets of the values of the current file already judged: an alias's copy is not
    /// judged again.
    seen: HashSet<usize>,
}

impl Checker<'_> {
    fn push(
        &mut self,
        kind: FindingKind,
        file: &str,
        service: Option<&str>,
        key: String,
        problem: String,
        fix: &str,
    ) {
        let refused = match kind {
            FindingKind::LocalInclude | FindingKind::BuildWithoutImage => true,
            FindingKind::BindMount => !(self.yes || self.spec.allow_bind_mounts),
            FindingKind::SensitiveData => !(self.yes || self.spec.allow_sensitive),
            FindingKind::EnvFileNotPublished => !self.yes,
        };
        self.findings.push(Finding {
            kind,
            file: file.to_string(),
            service: service.map(str::to_string),
            key,
            problem,
            fix: fix.to_string(),
            refused,
        });
    }

    fn includes(&mut self, file: &SourceFile) {
        for doc in &file.docs {
            let Some(includes) = doc.get("include").and_then(Node::as_seq) else {
                continue;
            };
            for (i, item) in includes.iter().enumerate() {
                let paths: Vec<&Node> = match &item.kind {
                    Kind::Map(_) => match item.get("path") {
                        Some(p) => p.as_seq().map(|s| s.iter().collect()).unwrap_or(vec![p]),
                        None => vec![],
                    },
                    _ => vec![item],
                };
                let local = paths
                    .iter()
                    .filter_map(|p| p.as_str())
                    .any(|p| !is_remote(p));
                if local {
                    self.push(
                        FindingKind::LocalInclude,
                        &file.path,
                        None,
                        format!("include[{i}]"),
                        "cannot publish compose file with local includes".into(),
                        "merge the included file into the compose files, or list it in `files`",
                    );
                }
            }
        }
    }

    fn file(&mut self, file: &SourceFile) {
        self.seen.clear();
        for (service, node) in file.services() {
            self.bind_mounts(file, service, node);
        }
        for doc in &file.docs {
            for (key, value) in doc.entries() {
                if key == "services" {
                    for (service, node) in value.entries() {
                        let at = format!("services.{service}");
                        self.walk(file, Some(service), &at, None, node);
                    }
                    continue;
                }
                if key == "configs" {
                    for (name, config) in value.entries() {
                        if let Some(content) = config.get("content").and_then(Node::as_str) {
                            self.content(&file.path, &format!("configs.{name}.content"), content);
                        }
                    }
                    continue;
                }
                self.walk(file, None, key, Some(key), value);
            }
        }
    }

    /// Every value of a subtree: `key` is the mapping key the node is the value of.
    fn walk(
        &mut self,
        file: &SourceFile,
        service: Option<&str>,
        at: &str,
        key: Option<&str>,
        node: &Node,
    ) {
        if matches!(key, Some("command" | "entrypoint" | "test"))
            && self.command(file, service, at, node)
        {
            return;
        }
        match &node.kind {
            Kind::Scalar { text, .. } => {
                if key == Some("image") || !self.seen.insert(node.span.start) {
                    return;
                }
                match key {
                    Some(key) => self.value(&file.path, service, at, key, text),
                    // A list item: `KEY=VALUE` (environment, build.args, labels) or a word.
                    None => match text.split_once('=') {
                        Some((k, v)) if is_key(k) => self.value(&file.path, service, at, k, v),
                        _ => self.value(&file.path, service, at, "", text),
                    },
                }
            }
            Kind::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    let item_at = match item.as_str().and_then(|t| t.split_once('=')) {
                        Some((k, _)) if is_key(k) => format!("{at}.{k}"),
                        _ => format!("{at}[{i}]"),
                    };
                    self.walk(file, service, &item_at, None, item);
                }
            }
            Kind::Map(_) => {
                for (k, v) in node.entries() {
                    self.walk(file, service, &format!("{at}.{k}"), Some(k), v);
                }
            }
        }
    }

    /// A command line (a string, or a list of words): a secret in its flags. Returns whether
    /// one was reported.
    fn command(&mut self, file: &SourceFile, service: Option<&str>, at: &str, node: &Node) -> bool {
        let parts: Vec<&Node> = match &node.kind {
            Kind::Scalar { .. } => vec![node],
            Kind::Seq(items) => items.iter().collect(),
            Kind::Map(_) => return false,
        };
        let words: Vec<String> = parts
            .iter()
            .filter_map(|n| n.as_str())
            .flat_map(|s| shell_words(&literal_text(s)))
            .collect();
        let Some(kind) = command_secret(&words) else {
            return false;
        };
        if !self.seen.insert(node.span.start) {
            return true;
        }
        self.sensitive(&file.path, service, at, kind, "");
        true
    }

    fn bind_mounts(&mut self, file: &SourceFile, service: &str, node: &Node) {
        let Some(volumes) = node.get("volumes").and_then(Node::as_seq) else {
            return;
        };
        for (i, v) in volumes.iter().enumerate() {
            let bind = match &v.kind {
                Kind::Scalar { text, .. } => short_syntax_source(text).filter(|s| is_file_path(s)),
                Kind::Map(_) => (v.get("type").and_then(Node::as_str) == Some("bind")).then(|| {
                    v.get("source")
                        .and_then(Node::as_str)
                        .unwrap_or("")
                        .to_string()
                }),
                Kind::Seq(_) => None,
            };
            if let Some(source) = bind {
                self.push(
                    FindingKind::BindMount,
                    &file.path,
                    Some(service),
                    format!("services.{service}.volumes[{i}]"),
                    format!(
                        "bind mount of {source:?}: only the declaration is published, not the \
                         content; the user's {source:?} is mounted"
                    ),
                    "use a named volume or a config, or allow it (`allow = [\"bind-mounts\"]`)",
                );
            }
        }
    }

    /// A `KEY=value` pair: a literal secret under a sensitive key, or a token anywhere.
    fn value(&mut self, file: &str, service: Option<&str>, at: &str, key: &str, value: &str) {
        let literal = literal_text(value);
        let kind = if is_sensitive_key(key) && is_secret_value(&literal) {
            Some("literal value under a sensitive key")
        } else {
            token_kind(&literal)
        };
        if let Some(kind) = kind {
            self.sensitive(file, service, at, kind, &literal);
        }
    }

    fn sensitive(
        &mut self,
        file: &str,
        service: Option<&str>,
        at: &str,
        kind: &str,
        literal: &str,
    ) {
        self.push(
            FindingKind::SensitiveData,
            file,
            service,
            at.to_string(),
            format!("{kind}: {}", redact(literal)),
            "pass it at `up` time as a reference (`KEY: ${KEY}`), or allow it \
             (`allow = [\"sensitive-data\"]`)",
        );
    }

    /// Inline config content: each `key=value` / `key: value` line, then tokens.
    fn content(&mut self, file: &str, at: &str, content: &str) {
        for line in content.lines() {
            let Some((key, value)) = line.split_once(['=', ':']) else {
                continue;
            };
            let value = value.trim().trim_matches(['"', '\'']);
            let literal = literal_text(value);
            if is_sensitive_key(key.trim()) && is_secret_value(&literal) {
                return self.sensitive(
                    file,
                    None,
                    at,
                    "literal value under a sensitive key",
                    &literal,
                );
            }
        }
        if let Some(kind) = token_kind(&literal_text(content)) {
            self.sensitive(file, None, at, kind, content);
        }
    }
}

/// Whether the text before `=` in a list item is a variable or label name (`KEY=VALUE` form).
fn is_key(k: &str) -> bool {
    !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-/".contains(&b))
}

/// The source of a short-syntax volume (`src:dst[:mode]`), interpolated with defaults; `None`
/// for an anonymous volume (`/data`).
fn short_syntax_source(spec: &str) -> Option<String> {
    let spec = interp::with_defaults(spec).text;
    // A Windows drive letter (`C:\…`) is part of the source.
    let (drive, rest) = match spec.as_bytes() {
        [d, b':', b'\\' | b'/', ..] if d.is_ascii_alphabetic() => spec.split_at(2),
        _ => ("", spec.as_str()),
    };
    let (source, _) = rest.split_once(':')?;
    Some(format!("{drive}{source}"))
}

/// compose-go's rule: a source that is a path (not a volume name) makes a bind mount.
fn is_file_path(source: &str) -> bool {
    source.starts_with(['.', '/', '~', '\\'])
        || source.as_bytes().get(1) == Some(&b':') && source.as_bytes()[0].is_ascii_alphabetic()
}

fn is_remote(path: &str) -> bool {
    path.contains("://") || path.starts_with("git@")
}

#[cfg(test)]
mod tests;
