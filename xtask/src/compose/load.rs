//! Reads a compose project from the workspace: the compose files in order, the local `extends`
//! parents they name, and the env files of their services, every path confined to the workspace.
//!
//! Like compose (`pkg/compose/publish.go` `processFile`), each `env_file` path is rewritten to
//! `<sha256 hex of the path>.env` and each local `extends.file` to `<sha256 hex>.yaml`, editing
//! the raw bytes at the scalar's position (`pkg/compose/transform/replace.go`), so the published
//! file is the file as written. The hashed string is the file's absolute path on the publishing
//! machine, as compose hashes it, so the compose-file layer is byte for byte what
//! `docker compose publish` writes from the same checkout (and differs between checkouts in
//! different directories, as compose's does). One deliberate difference:
//! - only the scalar is replaced (compose replaces up to the end of the line, dropping a
//!   trailing comment and breaking a flow sequence `[a.env, b.env]`); for a path written alone
//!   on its line the bytes are the same.
//!
//! Relative paths follow compose-go: in the compose files, relative to the directory of the first
//! file (the project directory); in an `extends` parent, relative to that parent's directory.

use std::collections::BTreeMap;
use std::fs;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use saphyr_parser::ScalarStyle;
use sha2::{Digest as _, Sha256};

use super::schema::Validator;
use super::{interp, ComposeError, ComposeSpec, ErrorKind};
use crate::yaml_positions::{self as yaml, Kind, Node};

/// A compose file as read, with the edits its published form needs.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Relative to the workspace root, `/`-separated.
    pub path: String,
    pub text: String,
    pub docs: Vec<Node>,
    /// `Some(<sha256>.yaml)` for an `extends` parent; `None` for a compose file given in order.
    pub extends_name: Option<String>,
    /// Byte ranges of `text` and what replaces them.
    pub rewrites: Vec<(Range<usize>, String)>,
}

impl SourceFile {
    /// The bytes published: the file as written, env_file and extends paths rewritten.
    pub fn published_bytes(&self) -> Vec<u8> {
        let mut edits = self.rewrites.clone();
        edits.sort_by_key(|(r, _)| r.start);
        let mut out = String::with_capacity(self.text.len());
        let mut at = 0;
        for (range, with) in edits {
            out.push_str(&self.text[at..range.start]);
            out.push_str(&with);
            at = range.end;
        }
        out.push_str(&self.text[at..]);
        out.into_bytes()
    }

    /// The layer's `com.docker.compose.file` name.
    pub fn layer_name(&self) -> String {
        match &self.extends_name {
            Some(name) => name.clone(),
            None => self
                .path
                .rsplit('/')
                .next()
                .unwrap_or(&self.path)
                .to_string(),
        }
    }

    /// `(service name, service node)` of every document, merge keys applied.
    pub fn services(&self) -> Vec<(&str, &Node)> {
        self.docs
            .iter()
            .filter_map(|d| d.get("services"))
            .flat_map(|s| s.entries())
            .collect()
    }
}

/// An env file named by a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvFile {
    /// Relative to the workspace root, `/`-separated.
    pub path: String,
    /// `<sha256 hex of path>.env`: its name in the artifact.
    pub layer_name: String,
    /// `None` when the file does not exist and is not required (compose skips it).
    pub content: Option<Vec<u8>>,
    /// Whether a service requires it (`required: false` on every use makes it optional).
    pub required: bool,
    /// `(compose file, service)` that name it.
    pub used_by: Vec<(String, String)>,
}

/// A compose project read from the workspace.
#[derive(Debug, Clone)]
pub struct Project {
    /// The compose files, in the order given.
    pub files: Vec<SourceFile>,
    /// Local `extends` parents, in the order first named.
    pub extends: Vec<SourceFile>,
    pub env_files: Vec<EnvFile>,
}

/// Reads and validates the compose files of `spec` under the workspace `root`.
pub fn load(root: &Path, spec: &ComposeSpec) -> Result<Project, ComposeError> {
    let root = fs::canonicalize(root).map_err(|e| {
        ComposeError::new(
            ErrorKind::Read,
            None,
            format!("cannot read the workspace root {}: {e}", root.display()),
            "run from the workspace",
        )
    })?;
    let Some(first) = spec.files.first() else {
        return Err(ComposeError::new(
            ErrorKind::Read,
            None,
            "no compose file is given".into(),
            "list the compose files in `files`",
        ));
    };
    let project_dir = root
        .join(first)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or(root.clone());
    let mut loader = Loader {
        root: &root,
        validator: Validator::new(),
        project: Project {
            files: vec![],
            extends: vec![],
            env_files: vec![],
        },
        pending: vec![],
    };
    for file in &spec.files {
        let (rel, abs) = loader.confine(&root.join(file), &file.display().to_string(), None)?;
        let source = loader.read(rel, &abs, None)?;
        let source = loader.scan(source, &project_dir)?;
        loader.project.files.push(source);
    }
    while let Some((rel, abs)) = loader.pending.pop() {
        let dir = abs.parent().map(Path::to_path_buf).unwrap_or(root.clone());
        let name = hashed(&abs.display().to_string(), "yaml");
        let source = loader.read(rel, &abs, Some(name))?;
        let source = loader.scan(source, &dir)?;
        loader.project.extends.push(source);
    }
    Ok(loader.project)
}

/// `<sha256 hex of path>.<ext>`, as compose names env files and extends parents.
pub fn hashed(path: &str, ext: &str) -> String {
    let hash = Sha256::digest(path.as_bytes());
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}.{ext}")
}

struct Loader<'a> {
    root: &'a Path,
    validator: Validator,
    project: Project,
    /// extends parents still to read: (relative, absolute)
    pending: Vec<(String, PathBuf)>,
}

impl Loader<'_> {
    /// Canonicalises `path` and checks it is inside the workspace; returns it relative to the
    /// root, `/`-separated, and absolute.
    fn confine(
        &self,
        path: &Path,
        what: &str,
        named_in: Option<&str>,
    ) -> Result<(String, PathBuf), ComposeError> {
        let file = named_in.map(PathBuf::from);
        let abs = fs::canonicalize(path).map_err(|e| {
            ComposeError::new(
                ErrorKind::Read,
                file.clone(),
                format!("cannot read {what} ({}): {e}", path.display()),
                "create the file, or fix the path (relative to the workspace root for `files`, \
                 to the project directory inside compose files)",
            )
        })?;
        let rel = abs.strip_prefix(self.root).map_err(|_| {
            ComposeError::new(
                ErrorKind::OutsideWorkspace,
                file,
                format!(
                    "{what} resolves to {}, outside the workspace {}",
                    abs.display(),
                    self.root.display()
                ),
                "keep compose files, env files and extends files inside the workspace \
                 (symbolic links are followed)",
            )
        })?;
        let rel: Vec<String> = rel
            .components()
            .filter_map(|c| match c {
                Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
                _ => None,
            })
            .collect();
        Ok((rel.join("/"), abs))
    }

    fn read(
        &self,
        rel: String,
        abs: &Path,
        extends_name: Option<String>,
    ) -> Result<SourceFile, ComposeError> {
        let file = Some(PathBuf::from(&rel));
        let text = yaml::read_file(abs).map_err(|e| {
            ComposeError::new(
                ErrorKind::Read,
                file.clone(),
                format!("cannot read {}: {e}", abs.display()),
                "make the file readable UTF-8 text, under 1 MiB",
            )
        })?;
        let docs = yaml::parse(&text).map_err(|e| {
            let at = match (e.line, e.column) {
                (0, _) => String::new(),
                (line, 0) => format!(" at line {line}"),
                (line, column) => format!(" at line {line}, column {column}"),
            };
            ComposeError::new(
                ErrorKind::Syntax,
                file.clone(),
                format!("YAML error{at}: {}", e.message),
                e.fix(),
            )
        })?;
        let mut problems = vec![];
        for doc in &docs {
            let value = doc.to_json();
            if !value.is_object() {
                return Err(ComposeError::new(
                    ErrorKind::Syntax,
                    file,
                    "top-level object must be a mapping".into(),
                    "write the compose file as a YAML mapping (`services:` …)",
                ));
            }
            for e in self.validator.validate(&value) {
                let at = if e.path.is_empty() {
                    "(top level)".into()
                } else {
                    e.path
                };
                problems.push(format!("{at}: {}", e.message));
            }
        }
        if !problems.is_empty() {
            return Err(ComposeError::new(
                ErrorKind::Schema,
                file,
                format!(
                    "does not follow the compose specification:\n  {}",
                    problems.join("\n  ")
                ),
                "fix the keys named (see https://docs.docker.com/reference/compose-file/)",
            ));
        }
        Ok(SourceFile {
            path: rel,
            text,
            docs,
            extends_name,
            rewrites: vec![],
        })
    }

    /// Finds the env files and extends parents of every service, records the rewrites.
    fn scan(&mut self, mut source: SourceFile, dir: &Path) -> Result<SourceFile, ComposeError> {
        let mut rewrites = vec![];
        for (service, node) in source.services() {
            for (i, entry) in env_file_entries(node).into_iter().enumerate() {
                let key = format!("services.{service}.env_file[{i}]");
                let target = self.local_path(&source, &key, entry.path, dir)?;
                let Some(target) = target else { continue };
                let resolved = match fs::metadata(&target) {
                    Ok(_) => Some(self.confine(&target, &key, Some(&source.path))?),
                    Err(_) if !entry.required => None,
                    Err(e) => {
                        return Err(ComposeError::new(
                            ErrorKind::Read,
                            Some(PathBuf::from(&source.path)),
                            format!("{key}: cannot read {}: {e}", target.display()),
                            "create the env file, or mark it `required: false`",
                        ))
                    }
                };
                let (rel, hashed_path, content) = match resolved {
                    Some((rel, abs)) => {
                        let bytes = fs::read(&abs).map_err(|e| {
                            ComposeError::new(
                                ErrorKind::Read,
                                Some(PathBuf::from(&rel)),
                                format!("cannot read {}: {e}", abs.display()),
                                "make the env file readable",
                            )
                        })?;
                        (rel, abs.display().to_string(), Some(bytes))
                    }
                    None => (
                        lexical_rel(self.root, &target),
                        self.root
                            .join(lexical_rel(self.root, &target))
                            .display()
                            .to_string(),
                        None,
                    ),
                };
                let name = hashed(&hashed_path, "env");
                rewrites.push((scalar_span(&source, &key, entry.path)?, name.clone()));
                let user = (source.path.clone(), service.to_string());
                self.add_env_file(rel, name, content, entry.required, user);
            }
            let Some(file) = node.get("extends").and_then(|e| e.get("file")) else {
                continue;
            };
            let key = format!("services.{service}.extends.file");
            let Some(target) = self.local_path(&source, &key, file, dir)? else {
                continue;
            };
            let (rel, abs) = self.confine(&target, &key, Some(&source.path))?;
            let name = hashed(&abs.display().to_string(), "yaml");
            rewrites.push((scalar_span(&source, &key, file)?, name));
            let known = self.project.extends.iter().any(|f| f.path == rel)
                || self.pending.iter().any(|(p, _)| *p == rel);
            if !known {
                self.pending.insert(0, (rel, abs));
            }
        }
        rewrites.sort_by_key(|(r, _)| r.start);
        rewrites.dedup();
        source.rewrites = rewrites;
        Ok(source)
    }

    /// The path a scalar names, interpolated with its defaults; `None` for a remote resource.
    fn local_path(
        &self,
        source: &SourceFile,
        key: &str,
        node: &Node,
        dir: &Path,
    ) -> Result<Option<PathBuf>, ComposeError> {
        let raw = node.as_str().unwrap_or_default();
        let resolved = interp::with_defaults(raw);
        if !resolved.unresolved.is_empty() {
            return Err(ComposeError::new(
                ErrorKind::Path,
                Some(PathBuf::from(&source.path)),
                format!(
                    "{key}: {raw:?} uses {} with no default, so the published file cannot be named",
                    resolved.unresolved.join(", ")
                ),
                "write the path literally, or give the variable a default (`${VAR:-path}`)",
            ));
        }
        if resolved.text.contains("://") {
            return Ok(None);
        }
        Ok(Some(dir.join(resolved.text)))
    }

    fn add_env_file(
        &mut self,
        path: String,
        layer_name: String,
        content: Option<Vec<u8>>,
        required: bool,
        user: (String, String),
    ) {
        match self.project.env_files.iter_mut().find(|e| e.path == path) {
            Some(known) => {
                known.required |= required;
                if !known.used_by.contains(&user) {
                    known.used_by.push(user);
                }
            }
            None => self.project.env_files.push(EnvFile {
                path,
                layer_name,
                content,
                required,
                used_by: vec![user],
            }),
        }
    }
}

struct EnvEntry<'a> {
    path: &'a Node,
    required: bool,
}

/// `env_file: a.env`, `env_file: [a.env]`, `env_file: [{path: a.env, required: false}]`.
fn env_file_entries(service: &Node) -> Vec<EnvEntry<'_>> {
    let Some(node) = service.get("env_file") else {
        return vec![];
    };
    match &node.kind {
        Kind::Scalar { .. } if !node.is_null() => vec![EnvEntry {
            path: node,
            required: true,
        }],
        Kind::Seq(items) => items
            .iter()
            .filter_map(|item| match &item.kind {
                Kind::Map(_) => item.get("path").map(|path| EnvEntry {
                    path,
                    required: item.get("required").is_none_or(|r| r.to_json() != false),
                }),
                _ => Some(EnvEntry {
                    path: item,
                    required: true,
                }),
            })
            .collect(),
        _ => vec![],
    }
}

/// The span of a path scalar, when it can be replaced in place.
fn scalar_span(source: &SourceFile, key: &str, node: &Node) -> Result<Range<usize>, ComposeError> {
    let in_place = matches!(
        &node.kind,
        Kind::Scalar {
            style: ScalarStyle::Plain | ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted,
            ..
        }
    ) && !source.text[node.span.clone()].contains('\n');
    if in_place {
        Ok(node.span.clone())
    } else {
        Err(ComposeError::new(
            ErrorKind::Path,
            Some(PathBuf::from(&source.path)),
            format!("{key}: the path spans several lines and cannot be rewritten in place"),
            "write the path on one line, plain or quoted",
        ))
    }
}

/// `path` relative to `root` without touching the file system (for a missing optional file).
fn lexical_rel(root: &Path, path: &Path) -> String {
    let mut parts: Vec<String> = vec![];
    for c in path.strip_prefix(root).unwrap_or(path).components() {
        match c {
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    parts.join("/")
}

/// The services of the project merged over the compose files, as compose sees them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceView {
    /// The `image:` in effect (last file wins, `extends` parents consulted) and the file that
    /// set it.
    pub image: Option<(String, String)>,
    pub has_build: bool,
}

impl Project {
    /// Every service of the compose files (all profiles), merged in file order.
    pub fn services(&self) -> BTreeMap<String, ServiceView> {
        let mut out: BTreeMap<String, ServiceView> = BTreeMap::new();
        for file in &self.files {
            for (name, node) in file.services() {
                let view = out.entry(name.to_string()).or_default();
                if let Some(image) = node.get("image").and_then(Node::as_str) {
                    view.image = Some((image.to_string(), file.path.clone()));
                }
                view.has_build |= node.get("build").is_some_and(|b| !b.is_null());
            }
        }
        for (name, view) in out.iter_mut() {
            if view.image.is_none() {
                view.image = self
                    .files
                    .iter()
                    .rev()
                    .find_map(|f| self.inherited_image(f, name, 0));
            }
        }
        out
    }

    /// The image `service` of `file` gets from its `extends` chain (its own `image:` when
    /// `depth > 0`, i.e. for a parent).
    fn inherited_image(
        &self,
        file: &SourceFile,
        service: &str,
        depth: usize,
    ) -> Option<(String, String)> {
        if depth > 16 {
            return None;
        }
        let (_, node) = file.services().into_iter().find(|(n, _)| *n == service)?;
        if depth > 0 {
            if let Some(image) = node.get("image").and_then(Node::as_str) {
                return Some((image.to_string(), file.path.clone()));
            }
        }
        let extends = node.get("extends")?;
        let parent = extends
            .as_str()
            .or_else(|| extends.get("service")?.as_str())?;
        let source = match extends.get("file") {
            Some(f) => {
                let name = &file.rewrites.iter().find(|(r, _)| *r == f.span)?.1;
                self.extends
                    .iter()
                    .find(|x| x.extends_name.as_ref() == Some(name))?
            }
            None => file,
        };
        self.inherited_image(source, parent, depth + 1)
    }
}

#[cfg(test)]
mod tests;
