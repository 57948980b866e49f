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
//! Secret-looking values: a literal value under a sensitive key in `environment:` (map or
//! `KEY=VALUE` list), a known token shape or high-entropy string anywhere in a compose file, the
//! same in published env files, and inline `configs.*.content`. `${VAR}` references are fine;
//! the literal default of `${VAR:-default}` is published as written, so it is judged like any
//! literal (`${DB_PASSWORD:-postgres}` is reported). Compose also refuses, without `--with-env`,
//! any `environment:` at all; that blanket rule is not kept: references are what we publish.

use std::fmt;

use super::load::{Project, SourceFile};
use super::secrets::{is_secret_value, is_sensitive_key, literal_text, redact, token_kind};
use super::yaml::{Kind, Node};
use super::{interp, ComposeError, ComposeSpec, ErrorKind};

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
        for (service, node) in file.services() {
            self.bind_mounts(file, service, node);
            self.environment(file, service, node);
            for (key, value) in node.entries() {
                if matches!(key, "environment" | "image") {
                    continue;
                }
                self.tokens_in(
                    file,
                    Some(service),
                    &format!("services.{service}.{key}"),
                    value,
                );
            }
        }
        for doc in &file.docs {
            for (key, value) in doc.entries() {
                if key == "services" {
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
                self.tokens_in(file, None, key, value);
            }
        }
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

    fn environment(&mut self, file: &SourceFile, service: &str, node: &Node) {
        let Some(env) = node.get("environment") else {
            return;
        };
        let pairs: Vec<(String, String)> = match &env.kind {
            Kind::Map(_) => env
                .entries()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.as_str().unwrap_or("").to_string()))
                .collect(),
            Kind::Seq(items) => items
                .iter()
                .filter_map(Node::as_str)
                .map(|s| match s.split_once('=') {
                    Some((k, v)) => (k.to_string(), v.to_string()),
                    None => (s.to_string(), String::new()),
                })
                .collect(),
            Kind::Scalar { .. } => vec![],
        };
        for (key, value) in pairs {
            let at = format!("services.{service}.environment.{key}");
            self.value(&file.path, Some(service), &at, &key, &value);
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

    /// Token shapes in every string of a subtree.
    fn tokens_in(&mut self, file: &SourceFile, service: Option<&str>, at: &str, node: &Node) {
        match &node.kind {
            Kind::Scalar { text, .. } => {
                let literal = literal_text(text);
                if let Some(kind) = token_kind(&literal) {
                    self.sensitive(&file.path, service, at, kind, &literal);
                }
            }
            Kind::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.tokens_in(file, service, &format!("{at}[{i}]"), item);
                }
            }
            Kind::Map(_) => {
                for (k, v) in node.entries() {
                    self.tokens_in(file, service, &format!("{at}.{k}"), v);
                }
            }
        }
    }
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
