//! `init`: an `images/release.toml` drafted from what a repository already has.
//!
//! - [`skip`]: what is not released is left out (vendored code, tests, e2e, playwright,
//!   devcontainers, templates, GoReleaser's Dockerfile, git-ignored and export-ignored files);
//! - [`dockerfiles`]: every `Dockerfile`, `*.Dockerfile`, `Dockerfile.*`, `*.dockerfile` and
//!   `dockerfile` (one image each; a `dev` stage before the final one: a `-dev` variant);
//! - [`bake`]: `docker-bake.hcl` targets (the ones CI builds, else the default group), groups
//!   and variables, paths from where bake runs;
//! - [`compose`]: compose files' `build:` sections and `image:` names (and whether the file can
//!   be published as a compose artifact);
//! - [`workflow`]: `docker/metadata-action` steps, build-push-action and its look-alikes,
//!   bake-action and the `docker/github-builder` workflows in `.github/workflows`, with the
//!   workflow's own `env`, `matrix` and job outputs resolved;
//! - [`goreleaser`]: GoReleaser's `dockers`/`docker_manifests`;
//! - [`merge`]: the findings → one draft (an image described twice is one image; images nothing
//!   publishes are left out);
//! - [`render`]: the draft → TOML text.
//!
//! Everything here reads files and returns data; nothing prints. Every input is either mapped
//! (to a key of the config) or reported as not mapped, with why. One bad image is dropped and
//! reported, never the whole draft.

pub mod bake;
pub mod compose;
pub mod dockerfiles;
pub mod goreleaser;
pub mod merge;
pub mod render;
pub mod scripts;
pub mod skip;
pub mod workflow;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Where something was read: a file (relative to the workspace root, `/`-separated) and a
/// 1-based line (0: the file as a whole).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Source {
    pub file: String,
    pub line: usize,
}

impl Source {
    pub fn new(file: &str, line: usize) -> Source {
        Source {
            file: file.to_string(),
            line,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            f.write_str(&self.file)
        } else {
            write!(f, "{}:{}", self.file, self.line)
        }
    }
}

/// An input that became a config key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    pub from: Source,
    /// What was read (`target "api"`, `tags`, …).
    pub what: String,
    /// The key it became (`images.api`, `release.tags`, …).
    pub key: String,
}

/// An input that has no place in the config, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotMapped {
    pub from: Source,
    pub what: String,
    pub why: String,
}

/// What a reader found out about its inputs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notes {
    pub mapped: Vec<Mapped>,
    pub not_mapped: Vec<NotMapped>,
}

impl Notes {
    pub fn mapped(&mut self, from: Source, what: impl Into<String>, key: impl Into<String>) {
        self.mapped.push(Mapped {
            from,
            what: what.into(),
            key: key.into(),
        });
    }

    pub fn not_mapped(&mut self, from: Source, what: impl Into<String>, why: impl Into<String>) {
        self.not_mapped.push(NotMapped {
            from,
            what: what.into(),
            why: why.into(),
        });
    }

    pub fn extend(&mut self, other: Notes) {
        self.mapped.extend(other.mapped);
        self.not_mapped.extend(other.not_mapped);
    }
}

/// Where an image is pushed, as a bake tag, a compose `image:` or a metadata-action image
/// names it: the registry prefix (`ghcr.io/acme`) and the repository under it (`api`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ImageName {
    pub prefix: String,
    pub repository: String,
}

impl ImageName {
    /// Splits `ghcr.io/acme/api:1.0` (tag and digest dropped) into `ghcr.io/acme` and `api`;
    /// returns the tag too. `None` for a name without a prefix (`api`: Docker Hub's official
    /// images) or with characters a registry refuses.
    pub fn parse(reference: &str) -> Option<(ImageName, Option<String>)> {
        let reference = reference.trim();
        let name = reference.split('@').next().unwrap_or(reference);
        let last = name.rsplit('/').next().unwrap_or(name);
        let (name, tag) = match last.rsplit_once(':') {
            Some((_, t)) => (&name[..name.len() - t.len() - 1], Some(t.to_string())),
            None => (name, None),
        };
        let (prefix, repository) = name.rsplit_once('/')?;
        let prefix = crate::oci::reference::RegistryPrefix::parse(prefix).ok()?;
        crate::oci::reference::validate_repository(repository).ok()?;
        Some((
            ImageName {
                prefix: prefix.to_string(),
                repository: repository.to_string(),
            },
            tag,
        ))
    }
}

/// One image as a source describes it. Paths are relative to the workspace root,
/// `/`-separated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageDraft {
    /// The image name (a repository path component).
    pub name: String,
    pub from: Source,
    pub dockerfile: String,
    pub context: String,
    pub target: Option<String>,
    pub build_args: BTreeMap<String, String>,
    /// Build args whose value looks like a secret: their names only (the values are never
    /// copied).
    pub secret_build_args: BTreeSet<String>,
    pub labels: BTreeMap<String, String>,
    /// Its own platforms (bake `platforms`); empty: the release's.
    pub platforms: Vec<String>,
    /// Where it is pushed (bake `tags`, compose `image:`).
    pub names: Vec<ImageName>,
    /// buildx cache (`gha`, `registry`, `local`).
    pub cache: Option<String>,
    /// A bake target chosen for release (by a workflow's bake run, else the default group).
    pub released: bool,
    /// A same-repository variant's tag suffix (`-alpine`), when its tags say so.
    pub variant_suffix: Option<String>,
    /// A `-dev` variant (its Dockerfile's development stage): `flavor` suffix `-dev`.
    pub dev_variant: bool,
}

/// The draft config: what [`render`] writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Draft {
    pub name: String,
    pub registries: Vec<String>,
    pub platforms: Vec<String>,
    pub tags: Vec<String>,
    pub latest: Option<String>,
    pub flavor: Option<workflow::Flavor>,
    /// `release.secret-build-args`: names only.
    pub secret_build_args: Vec<String>,
    pub images: Vec<FinalImage>,
    /// `[compose]` (one) or `[[compose]]` (several).
    pub compose: Vec<ComposeDraft>,
    /// Compose files written commented out, with why (a finding the release would refuse).
    pub compose_commented: Vec<(ComposeDraft, String)>,
    /// `release.default-branch`, when known (origin/HEAD, else the workflows' branch triggers).
    pub default_branch: Option<(Source, String)>,
    pub notes: Notes,
}

/// An image of the draft: its build and where the release puts it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FinalImage {
    pub build: ImageDraft,
    /// `repository`, when it is not the image name.
    pub repository: Option<String>,
    /// `platforms`, when they are not the release's.
    pub platforms: Option<Vec<String>>,
}

/// A `[compose]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeDraft {
    pub files: Vec<String>,
    pub repository: String,
}

/// The result of `init`: the config text (validated) and what was mapped or not.
#[derive(Debug, Clone)]
pub struct Init {
    pub text: String,
    pub draft: Draft,
    /// The images of the config as written (read back from `text`).
    pub images: Vec<String>,
}

/// The files `init` reads, relative to the root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inputs {
    pub dockerfiles: Vec<String>,
    pub bake_files: Vec<String>,
    pub compose_files: Vec<String>,
    pub workflows: Vec<String>,
    /// Paths not read: their names hold control characters or are not UTF-8 (shown escaped).
    pub refused: Vec<String>,
    /// Inputs left out because the project does not release them, with why ([`skip`]).
    pub skipped: Vec<(String, String)>,
}
/// Compose's default file names.
pub const COMPOSE_NAMES: &[&str] = &[
    "compose.yaml",
    "compose.yml",
    "docker-compose.yml",
    "docker-compose.yaml",
];

/// Finds the inputs under `root`, sorted.
pub fn find_inputs(root: &Path) -> Result<Inputs> {
    let mut inputs = Inputs::default();
    walk(root, root, None, &mut inputs)?;
    let workflows = root.join(".github/workflows");
    if workflows.is_dir() {
        for entry in std::fs::read_dir(&workflows)
            .with_context(|| format!("cannot read {}", workflows.display()))?
        {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if (name.ends_with(".yml") || name.ends_with(".yaml")) && entry.path().is_file() {
                inputs.workflows.push(format!(".github/workflows/{name}"));
            }
        }
    }
    leave_out_unreleased(root, &mut inputs);
    inputs.dockerfiles.sort();
    inputs.bake_files.sort();
    inputs.compose_files.sort();
    inputs.workflows.sort();
    inputs.skipped.sort();
    Ok(inputs)
}

/// Moves GoReleaser's Dockerfiles and the inputs git ignores or export-ignores to `skipped`.
fn leave_out_unreleased(root: &Path, inputs: &mut Inputs) {
    let mut out: Vec<(String, String)> = Vec::new();
    for name in [".goreleaser.yml", ".goreleaser.yaml"] {
        if let Ok(text) = std::fs::read_to_string(root.join(name)) {
            for f in skip::goreleaser_dockerfiles(&text) {
                out.push((
                    f,
                    format!(
                        "GoReleaser builds it ({name} `dockers:`) from binaries it compiled \
                         first: not a Dockerfile to build from the sources"
                    ),
                ));
            }
        }
    }
    let all: Vec<String> = inputs
        .dockerfiles
        .iter()
        .chain(&inputs.bake_files)
        .chain(&inputs.compose_files)
        .cloned()
        .collect();
    for (p, why) in skip::by_git(root, &all) {
        out.push((p, why.to_string()));
    }
    for (path, why) in out {
        for list in [
            &mut inputs.dockerfiles,
            &mut inputs.bake_files,
            &mut inputs.compose_files,
        ] {
            if let Some(i) = list.iter().position(|p| *p == path) {
                list.remove(i);
                inputs.skipped.push((path.clone(), why.clone()));
            }
        }
    }
}

fn walk(root: &Path, dir: &Path, skipped: Option<&'static str>, inputs: &mut Inputs) -> Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
        let name = match entry.file_name().to_str() {
            Some(n) if !has_control(n) => n.to_string(),
            _ => {
                // Such a name would be written into the config (or its comments) as it is.
                inputs.refused.push(format!(
                    "{:?}",
                    entry.path().strip_prefix(root).unwrap_or(&entry.path())
                ));
                continue;
            }
        };
        let ty = entry.file_type()?;
        if ty.is_dir() {
            if !skip::NEVER_ENTERED.contains(&name.as_str()) {
                let why = skipped.or_else(|| skip::dir_reason(&name));
                walk(root, &entry.path(), why, inputs)?;
            }
            continue;
        }
        if !ty.is_file() {
            continue;
        }
        let rel = relative(root, &entry.path());
        let input = dockerfiles::is_dockerfile(&name)
            || name == "docker-bake.hcl"
            || COMPOSE_NAMES.contains(&name.as_str());
        if let Some(why) = skipped
            .or_else(|| skip::file_reason(&name))
            .filter(|_| input)
        {
            inputs.skipped.push((rel, why.to_string()));
        } else if dockerfiles::is_dockerfile(&name) {
            inputs.dockerfiles.push(rel);
        } else if name == "docker-bake.hcl" {
            inputs.bake_files.push(rel);
        } else if COMPOSE_NAMES.contains(&name.as_str()) {
            inputs.compose_files.push(rel);
        }
    }
    Ok(())
}

/// Whether `s` holds a control character (a newline, an escape, …).
pub fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// Drops the images whose name or paths hold control characters (from a compose file or a bake
/// file: the names found on disk are refused when the repository is walked), each reported.
fn refuse_control(images: &mut Vec<ImageDraft>, notes: &mut Notes) {
    images.retain(|img| {
        let fields = [
            Some(&img.name),
            Some(&img.dockerfile),
            Some(&img.context),
            img.target.as_ref(),
        ];
        if !fields.into_iter().flatten().any(|f| has_control(f)) {
            return true;
        }
        notes.not_mapped(
            img.from.clone(),
            format!(
                "image {:?} (dockerfile {:?}, context {:?})",
                img.name, img.dockerfile, img.context
            ),
            "its name or a path holds control characters: rename it",
        );
        false
    });
}

/// The bake targets the workflows build from bake file `file` (a run naming no file reads the
/// root's `docker-bake.hcl`).
fn ci_bake_targets(workflows: &[workflow::Workflow], file: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for run in workflows
        .iter()
        .flat_map(|w| w.bake_runs.iter())
        .filter(|r| r.pushes)
    {
        let reads = if run.files.is_empty() {
            file == "docker-bake.hcl"
        } else {
            run.files.iter().any(|f| f == file)
        };
        if reads {
            for t in &run.targets {
                if !out.contains(t) {
                    out.push(t.clone());
                }
            }
        }
    }
    out
}

/// Drops the images whose Dockerfile or context is not in the workspace, each reported: one
/// bad image never costs the whole draft.
fn drop_missing(root: &Path, images: &mut Vec<ImageDraft>, notes: &mut Notes) {
    images.retain(|img| {
        let missing = if !root.join(&img.context).is_dir() {
            format!(
                "its context {:?} is not a folder of the workspace",
                img.context
            )
        } else if !root.join(&img.dockerfile).is_file() {
            format!("its Dockerfile {:?} does not exist", img.dockerfile)
        } else {
            return true;
        };
        notes.not_mapped(
            img.from.clone(),
            format!("image {:?}", img.name),
            format!("left out: {missing} (paths are relative to the workspace root)"),
        );
        false
    });
}

/// `path` relative to `root`, `/`-separated.
fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// `base` joined with `rel` (both `/`-separated, relative to the workspace root), with `.`
/// and `..` resolved; `None` when it leaves the root or is absolute.
pub fn join(base: &str, rel: &str) -> Option<String> {
    if rel.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in base.split('/').chain(rel.split('/')) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    })
}

/// The name part of an image reference `NAME:TAG`: up to the first `:` after the last `/`
/// (`ghcr.io/o/app:1.2` → `ghcr.io/o/app`, `localhost:5000/app:${V:-x}` → `localhost:5000/app`,
/// `app:1` → `app`); the whole text without a tag.
pub fn name_part(reference: &str) -> &str {
    let from = reference.rfind('/').unwrap_or(0);
    match reference[from..].find(':') {
        Some(i) => &reference[..from + i],
        None => reference,
    }
}

/// The directory of a root-relative file (`""` at the root).
pub fn dir_of(file: &str) -> &str {
    file.rsplit_once('/').map_or("", |(d, _)| d)
}

/// A name made a repository path component: lower-case, runs of other characters as `-`.
pub fn component(raw: &str) -> String {
    let mut out = String::new();
    for c in raw.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with(['-', '.', '_']) {
            out.push(if c == '.' || c == '_' { c } else { '-' });
        }
    }
    out.trim_end_matches(['-', '.', '_']).to_string()
}

/// The documents of a YAML input (`file`: root-relative). A syntax error is the inner `Err`
/// (the reader reports the file as not mapped); a file over the YAML bounds (an alias bomb, too
/// deep, too large) is the outer one: `init` stops, naming the file.
pub fn parse_yaml(
    file: &str,
    text: &str,
) -> Result<Result<Vec<crate::yaml_positions::Node>, crate::yaml_positions::SyntaxError>> {
    match crate::yaml_positions::parse(text) {
        Err(e) if e.limit => {
            let at = if e.line == 0 {
                String::new()
            } else {
                format!(":{}", e.line)
            };
            anyhow::bail!(crate::problem::Problem::compose(
                format!("{file}{at}: {}", e.message),
                e.fix()
            ))
        }
        parsed => Ok(parsed),
    }
}

/// The documents of a YAML input read for the draft; `None` when it is not valid YAML, which is
/// reported as `what` (`the workflow`) not mapped. Over the YAML bounds: an error, as
/// [`parse_yaml`].
pub fn yaml_documents(
    file: &str,
    text: &str,
    what: &str,
    notes: &mut Notes,
) -> Result<Option<Vec<crate::yaml_positions::Node>>> {
    Ok(match parse_yaml(file, text)? {
        Ok(docs) => Some(docs),
        Err(e) => {
            notes.not_mapped(
                Source::new(file, e.line),
                what,
                format!("not valid YAML: {}", e.message),
            );
            None
        }
    })
}

/// 1-based line of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// The package scripts the workflows run (`npm run release-nightly`) that build images: their
/// platforms go with the release scripts', the jobs' logins say where they push, and their
/// image names (`-t louislam/dockge:nightly`) name registries.
fn package_builds(root: &Path, found: &mut merge::Found) {
    for w in &mut found.workflows {
        for run in w.package_scripts.clone() {
            let build = match run.make {
                true => scripts::make_target(root, &run.dir, &run.name),
                false => scripts::package_script(root, &run.dir, &run.name),
            };
            let Some(build) = build else {
                continue;
            };
            let kind = if run.make {
                "make target"
            } else {
                "package script"
            };
            w.notes.not_mapped(
                run.from.clone(),
                format!("{kind} {:?} ({})", run.name, build.from),
                "builds images: init does not run it; its platforms, image names and the \
                 registries its job logs in to are read, its tags are not (write release.tags \
                 by hand)",
            );
            if !build.platforms.is_empty()
                && !found
                    .script_platforms
                    .iter()
                    .any(|p| p.1 == build.platforms)
            {
                found
                    .script_platforms
                    .push((build.from.clone(), build.platforms.clone()));
            }
            for n in &build.names {
                found.script_names.push((build.from.clone(), n.clone()));
            }
            w.script_logins.extend(run.logins.iter().cloned());
        }
    }
}

/// Reads everything under `root`, drafts the config, renders it and validates the text with
/// the config's own validation (`config_path` names the file in messages). A draft that fails
/// validation is an error: nothing is to be written.
pub fn init(root: &Path, config_path: &Path) -> Result<Init> {
    let inputs = find_inputs(root)?;
    let read = |rel: &str| -> Result<String> {
        crate::yaml_positions::read_file(&root.join(rel))
            .with_context(|| format!("cannot read {rel}"))
    };
    let mut found = merge::Found::default();
    // `${{ github.repository }}` in a workflow names the repository `origin` points at.
    let facts = crate::facts::git::facts(root).ok();
    found.git_tags = facts.as_ref().map(|f| f.tags.clone()).unwrap_or_default();
    let github = facts
        .and_then(|f| f.source_url)
        .and_then(|url| workflow::GitHub::from_source_url(&url));
    for file in &inputs.workflows {
        found
            .workflows
            .push(workflow::read(file, &read(file)?, github.as_ref())?);
    }
    for (_, file) in found.workflows.iter().flat_map(|w| w.scripts.iter()) {
        if let Some(p) = scripts::platforms(root, file) {
            if !found.script_platforms.contains(&p) {
                found.script_platforms.push(p);
            }
        }
    }
    package_builds(root, &mut found);
    for file in &inputs.bake_files {
        let targets = ci_bake_targets(&found.workflows, file);
        let mut b = bake::read_targets(file, &read(file)?, &targets);
        refuse_control(&mut b.images, &mut b.notes);
        drop_missing(root, &mut b.images, &mut b.notes);
        found.bake.push(b);
    }
    for file in &inputs.compose_files {
        let mut c = compose::read(file, &read(file)?)?;
        refuse_control(&mut c.images, &mut c.notes);
        drop_missing(root, &mut c.images, &mut c.notes);
        compose_findings(root, &mut c);
        found.compose.push(c);
    }
    for name in [".goreleaser.yml", ".goreleaser.yaml"] {
        if root.join(name).is_file() {
            found.goreleaser.push(goreleaser::read(name, &read(name)?)?);
        }
    }
    found.dockerfiles = inputs.dockerfiles.clone();
    for file in &inputs.dockerfiles {
        if let Ok(text) = read(file) {
            found
                .stages
                .insert(file.clone(), dockerfiles::stages(&text));
        }
    }
    found.origin_head = crate::facts::git::origin_head(root);
    found.default_name = root
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| component(&n.to_string_lossy())))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "app".to_string());
    let mut draft = merge::merge(found)?;
    for (path, why) in &inputs.skipped {
        draft
            .notes
            .not_mapped(Source::new(path, 0), "left out", why.clone());
    }
    for path in &inputs.refused {
        draft.notes.not_mapped(
            Source::new(".", 0),
            format!("path {path}"),
            "its name holds control characters (or is not UTF-8): not read; rename it",
        );
    }
    let shown: PathBuf = config_path
        .strip_prefix(root)
        .unwrap_or(config_path)
        .to_path_buf();
    // An image the validation refuses is dropped and reported, and the rest validated again:
    // one bad image never costs the whole draft.
    let (text, config) = loop {
        let text = render::render(&draft);
        let e = match crate::config::Config::parse(root, &shown, &text) {
            Ok(c) => break (text, c),
            Err(e) => format!("{e:#}"),
        };
        let refused: Vec<String> = draft
            .images
            .iter()
            .map(|i| i.build.name.clone())
            .filter(|n| e.contains(&format!("images.{n}.")) || e.contains(&format!("images.{n}:")))
            .collect();
        if refused.is_empty() || refused.len() == draft.images.len() {
            anyhow::bail!(
                "the config init drafted does not pass stevedore's validation (a bug in init; \
                 nothing was written, please report it with the inputs):\n{e}\n--- drafted config\n{text}"
            );
        }
        for name in &refused {
            let problems: Vec<&str> = e
                .lines()
                .map(str::trim)
                .filter(|l| l.contains(&format!("images.{name}")))
                .collect();
            draft.notes.not_mapped(
                Source::new(&shown.to_string_lossy(), 0),
                format!("images.{name}"),
                format!(
                    "left out: stevedore's validation refuses it ({})",
                    problems.join("; ")
                ),
            );
        }
        draft.images.retain(|i| !refused.contains(&i.build.name));
        draft.secret_build_args = draft
            .images
            .iter()
            .flat_map(|i| i.build.secret_build_args.iter().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
    };
    // What is written is what was drafted: the same images, no more.
    let images: Vec<String> = config.images.keys().cloned().collect();
    let drafted: BTreeSet<&str> = draft.images.iter().map(|i| i.build.name.as_str()).collect();
    if images.len() != draft.images.len() || images.iter().any(|n| !drafted.contains(n.as_str())) {
        anyhow::bail!(
            "the config init drafted names images {images:?}, not the {} it drafted (a bug in \
             init; nothing was written, please report it with the inputs)",
            draft.images.len()
        );
    }
    Ok(Init {
        text,
        draft,
        images,
    })
}

/// compose's own pre-publish checks on a file init would publish: each finding (bind mounts,
/// secret-looking values, env files) is reported with what the release will do about it.
fn compose_findings(root: &Path, c: &mut compose::ComposeFile) {
    use crate::compose::FindingKind;
    if !c.usable || !c.not_publishable.is_empty() {
        return;
    }
    let spec = crate::compose::ComposeSpec {
        files: vec![PathBuf::from(&c.file)],
        repository: "init".into(),
        env_files: false,
        oci_version: Default::default(),
        resolve_external: true,
        allow_bind_mounts: false,
        allow_sensitive: false,
    };
    let project = match crate::compose::load(root, &spec) {
        Ok(p) => p,
        Err(e) => {
            c.not_publishable.push(format!(
                "compose cannot load it: {} ({})",
                e.problem.reason, e.problem.fix
            ));
            return;
        }
    };
    for f in crate::compose::check(&project, &spec, false).findings {
        if matches!(
            f.kind,
            FindingKind::LocalInclude | FindingKind::BuildWithoutImage
        ) {
            continue;
        }
        if f.refused {
            c.not_publishable
                .push(format!("{} ({}): {}", f.key, f.file, f.problem));
        }
        let why = if f.refused {
            format!(
                "{}; the release refuses to publish the compose file until this is fixed: {}",
                f.problem, f.fix
            )
        } else {
            f.problem.clone()
        };
        c.notes
            .not_mapped(Source::new(&f.file, 0), f.key.clone(), why);
    }
}

#[cfg(test)]
mod tests;
