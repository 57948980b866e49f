//! `images/release.toml`: the release description, its types and its validation.
//!
//! Every key is known: an unknown key is an error naming the key and the file, so that a typo
//! never silently changes a release. Everything that can be checked before anything runs is
//! checked here, and every problem is reported at once, each naming the file and the key.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::oci::platform::Platform;
use crate::oci::reference::{validate_repository, RegistryPrefix};
pub use crate::plan::tags::{Flavor, Latest, Rule};

/// Where the config lives, relative to the workspace root.
pub const DEFAULT_PATH: &str = "images/release.toml";

/// A loaded, validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from (as given, for messages).
    pub path: PathBuf,
    /// The workspace root: paths in the file are relative to it.
    pub root: PathBuf,
    pub release: Release,
    pub images: BTreeMap<String, Image>,
    pub compose: Option<Compose>,
    /// Parsed forms of `release.registries`, in order.
    pub registries: Vec<RegistryPrefix>,
    /// Parsed forms of `release.tags`, in order.
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Release {
    /// Project name: the compose artifact's default repository and the provenance subject.
    pub name: String,
    /// Registry prefixes: every image goes to every one.
    #[serde(default)]
    pub registries: Vec<String>,
    /// Default platforms for every image.
    #[serde(default = "default_platforms")]
    pub platforms: Vec<Platform>,
    /// Tag rules in docker/metadata-action syntax. Empty: the action's default rule set.
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub latest: Latest,
    /// Prefix and suffix added to every tag whose rule sets none (metadata-action's flavor).
    #[serde(default)]
    pub flavor: Flavor,
    /// The branch `{{is_default_branch}}` and `type=edge` compare with. In GitHub Actions the
    /// repository's default branch from the event wins.
    #[serde(default = "default_branch")]
    pub default_branch: String,
    /// `org.opencontainers.image.source`; by default the GitHub repository or git remote.
    pub source: Option<String>,
    /// `org.opencontainers.image.licenses`.
    pub licenses: Option<String>,
    /// `org.opencontainers.image.description`.
    pub description: Option<String>,
    /// Registry hosts reached over plain HTTP besides loopback ones (`myreg.lan:5000`).
    #[serde(default)]
    pub insecure_registries: Vec<String>,
    /// Extra CA certificates (PEM) trusted for registries, relative to the workspace root.
    #[serde(default)]
    pub ca_files: Vec<PathBuf>,
    /// Concurrent uploads per registry.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Default builder for Dockerfile images.
    #[serde(default)]
    pub builder: BuilderKind,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BuilderKind {
    /// buildx when available, else buildah.
    #[default]
    Auto,
    Buildx,
    Buildah,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    #[default]
    Gzip,
    Zstd,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Image {
    // --- Dockerfile builder ---
    pub dockerfile: Option<PathBuf>,
    pub context: Option<PathBuf>,
    /// Build stage (`--target`).
    pub target: Option<String>,
    pub builder: Option<BuilderKind>,
    #[serde(default)]
    pub build_args: BTreeMap<String, String>,

    // --- native builder ---
    pub native: Option<Native>,
    /// `scratch`, an image reference, or `oci:PATH[:REF]` for an OCI layout on disk.
    pub base: Option<String>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    pub user: Option<String>,
    #[serde(alias = "working-dir")]
    pub workdir: Option<String>,
    /// `8080/tcp`, `53/udp` or `8080`.
    #[serde(default, alias = "exposed-ports")]
    pub ports: Vec<String>,
    pub stop_signal: Option<String>,
    /// `{ test = ["CMD", "/app", "health"], interval = "30s", timeout = "5s", start-period = "10s", retries = 3 }`.
    pub healthcheck: Option<HealthcheckConfig>,
    /// Mount points declared in the image (`VOLUME`).
    #[serde(default)]
    pub volumes: Vec<String>,
    #[serde(default)]
    pub compression: Compression,
    /// gzip level 0-9 (default 1) or zstd level 1-19 (default 3; needs the `zstd` feature).
    pub compression_level: Option<u32>,

    // --- both ---
    /// Repository under each registry prefix (default: the image name).
    pub repository: Option<String>,
    /// Per-image platform override.
    pub platforms: Option<Vec<Platform>>,
    /// Extra labels (the `org.opencontainers.image.*` ones are set from the plan).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Native {
    /// Build this workspace binary for each platform.
    pub cargo_bin: Option<String>,
    /// Package holding the binary (default: let cargo find it).
    pub package: Option<String>,
    /// Cargo profile (default `release`).
    pub profile: Option<String>,
    /// Command run instead of `cargo` (e.g. `cross`, or `cargo zigbuild` as a list).
    pub cargo: Option<Vec<String>>,
    /// Rust target per platform (`"linux/arm64" = "aarch64-unknown-linux-musl"`).
    #[serde(default)]
    pub targets: BTreeMap<String, String>,
    #[serde(default)]
    pub features: Vec<String>,
    /// Where the binary goes in the image (default `/usr/local/bin/<cargo-bin>`).
    pub dst: Option<String>,
    /// Any toolchain: a command (argv) run in the workspace root once per platform before
    /// `files` are copied, with `{os}`, `{arch}`, `{variant}` substituted and `GOOS`, `GOARCH`,
    /// `TARGETOS`, `TARGETARCH`, `TARGETVARIANT`, `TARGETPLATFORM`, `VERSION`, `GIT_COMMIT`,
    /// `BUILD_DATE` and `SOURCE_DATE_EPOCH` in its environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Files copied into the image; `src` may use `{os}`, `{arch}`, `{variant}`.
    #[serde(default)]
    pub files: Vec<FileEntry>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileEntry {
    pub src: String,
    pub dst: String,
    /// Octal mode as a string (`"0755"`); default: the source file's mode.
    pub mode: Option<String>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// With a directory `src`: glob patterns (relative to it) of files and directories left
    /// out (`*.map`, `**/node_modules`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
}

/// `images.<name>.healthcheck` (native images; Dockerfile images use `HEALTHCHECK`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct HealthcheckConfig {
    /// `["CMD", "/app", "health"]`, `["CMD-SHELL", "…"]` or `["NONE"]`.
    pub test: Vec<String>,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub start_period: Option<String>,
    pub retries: Option<u32>,
}

impl HealthcheckConfig {
    /// The OCI config form (durations in nanoseconds).
    pub fn to_oci(&self) -> Result<crate::oci::Healthcheck, String> {
        let ns =
            |key: &str, v: &Option<String>| -> Result<Option<u64>, String> {
                v.as_deref()
                    .map(|d| {
                        parse_duration_ns(d).ok_or_else(|| {
                    format!("{key} = {d:?}: write a duration like \"30s\", \"1m30s\" or \"500ms\"")
                })
                    })
                    .transpose()
            };
        match self.test.first().map(String::as_str) {
            Some("CMD" | "CMD-SHELL") if self.test.len() > 1 => {}
            Some("NONE") if self.test.len() == 1 => {}
            _ => {
                return Err(
                    "test: start with \"CMD\" (then the argv), \"CMD-SHELL\" (then a shell \
                     command) or be [\"NONE\"]"
                        .into(),
                )
            }
        }
        Ok(crate::oci::Healthcheck {
            test: self.test.clone(),
            interval: ns("interval", &self.interval)?,
            timeout: ns("timeout", &self.timeout)?,
            start_period: ns("start-period", &self.start_period)?,
            retries: self.retries,
        })
    }
}

/// `1m30s`, `30s`, `500ms`, `2h` in nanoseconds.
fn parse_duration_ns(s: &str) -> Option<u64> {
    let mut total: u64 = 0;
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let (num, tail) = rest.split_at(digits);
        let n: u64 = num.parse().ok()?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let mult: u64 = match unit {
            "ns" => 1,
            "us" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(mult)?)?;
        rest = tail;
    }
    Some(total)
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Compose {
    pub files: Vec<PathBuf>,
    /// Repository of the compose artifact under each registry prefix (default: release name).
    pub repository: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    release: Release,
    #[serde(default)]
    images: BTreeMap<String, Image>,
    compose: Option<Compose>,
}

fn default_platforms() -> Vec<Platform> {
    vec![Platform::linux_amd64()]
}
fn default_branch() -> String {
    "main".into()
}
fn default_concurrency() -> usize {
    4
}

/// Every problem found in a config file, each naming the file and the key.
#[derive(Debug)]
pub struct ConfigError {
    pub file: PathBuf,
    pub problems: Vec<(String, String)>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "{}: {} problem{}",
            self.file.display(),
            n,
            if n == 1 { "" } else { "s" }
        )?;
        for (key, msg) in &self.problems {
            if key.is_empty() {
                write!(f, "\n  {}: {msg}", self.file.display())?;
            } else {
                write!(f, "\n  {}: {key}: {msg}", self.file.display())?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

impl Image {
    pub fn is_native(&self) -> bool {
        self.native.is_some()
    }
}

impl Config {
    /// Reads and validates `path`; relative paths inside are resolved against `root`.
    pub fn load(root: &Path, path: &Path) -> Result<Config, ConfigError> {
        let shown = path.strip_prefix(root).unwrap_or(path).to_path_buf();
        let fail = |key: &str, msg: String| ConfigError {
            file: shown.clone(),
            problems: vec![(key.to_string(), msg)],
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            fail(
                "",
                format!(
                    "cannot read the release config ({e}); create it, or point at another with --config or -C"
                ),
            )
        })?;
        Config::parse(root, &shown, &text)
    }

    /// Parses and validates config text (`shown` names the file in messages).
    pub fn parse(root: &Path, shown: &Path, text: &str) -> Result<Config, ConfigError> {
        let (raw, mut problems) = deserialize(text);
        let Some(raw) = raw else {
            return Err(ConfigError {
                file: shown.to_path_buf(),
                problems,
            });
        };
        let mut cfg = Config {
            path: shown.to_path_buf(),
            root: root.to_path_buf(),
            release: raw.release,
            images: raw.images,
            compose: raw.compose,
            registries: Vec::new(),
            rules: Vec::new(),
        };
        problems.extend(cfg.validate());
        if problems.is_empty() {
            Ok(cfg)
        } else {
            Err(ConfigError {
                file: shown.to_path_buf(),
                problems,
            })
        }
    }

    /// The repository (under each prefix) of image `name`.
    pub fn repository_of(&self, name: &str) -> String {
        self.images
            .get(name)
            .and_then(|i| i.repository.clone())
            .unwrap_or_else(|| name.to_string())
    }

    /// The platforms image `name` is built for.
    pub fn platforms_of(&self, name: &str) -> Vec<Platform> {
        self.images
            .get(name)
            .and_then(|i| i.platforms.clone())
            .unwrap_or_else(|| self.release.platforms.clone())
    }

    /// The compose artifact's repository, when there is a `[compose]` table.
    pub fn compose_repository(&self) -> Option<String> {
        let c = self.compose.as_ref()?;
        Some(
            c.repository
                .clone()
                .unwrap_or_else(|| self.release.name.clone()),
        )
    }

    fn validate(&mut self) -> Vec<(String, String)> {
        let mut p: Vec<(String, String)> = Vec::new();
        let mut add = |k: String, m: String| p.push((k, m));
        let r = &self.release;

        if r.name.trim().is_empty() {
            add("release.name".into(), "must not be empty".into());
        }
        for (i, reg) in r.registries.iter().enumerate() {
            match RegistryPrefix::parse(reg) {
                Ok(prefix) if self.registries.contains(&prefix) => add(
                    format!("release.registries[{i}]"),
                    format!("{reg:?} is listed twice (as {prefix})"),
                ),
                Ok(prefix) => self.registries.push(prefix),
                Err(e) => add(format!("release.registries[{i}]"), e),
            }
        }
        if r.platforms.is_empty() {
            add(
                "release.platforms".into(),
                "must not be empty: list the platforms to build, e.g. [\"linux/amd64\", \"linux/arm64\"]"
                    .into(),
            );
        }
        check_platforms(&mut add, "release.platforms", &r.platforms);
        for (i, rule) in r.tags.iter().enumerate() {
            match rule.parse::<Rule>() {
                Ok(rule) => self.rules.push(rule),
                Err(e) => add(format!("release.tags[{i}]"), format!("{rule:?}: {e}")),
            }
        }
        if r.tags.is_empty() {
            self.rules = Rule::defaults();
        }
        if r.concurrency == 0 || r.concurrency > 64 {
            add(
                "release.concurrency".into(),
                format!("{} is out of range: use 1 to 64", r.concurrency),
            );
        }
        for (i, f) in r.ca_files.iter().enumerate() {
            check_inside_file(&mut add, &self.root, &format!("release.ca-files[{i}]"), f);
        }
        for (i, h) in r.insecure_registries.iter().enumerate() {
            if h.contains('/') {
                add(
                    format!("release.insecure-registries[{i}]"),
                    format!("{h:?}: give a host[:port] only"),
                );
            }
        }

        if self.images.is_empty() {
            add(
                "images".into(),
                "no images: add an [images.<name>] table".into(),
            );
        }
        let mut repos: BTreeMap<String, String> = BTreeMap::new();
        for (name, img) in &self.images {
            if !is_path_component(name) {
                add(
                    format!("images.{name:?}"),
                    "an image name is a repository path component: lower-case letters and \
                     digits, separated by `.`, `_`, `__` or `-` (e.g. `api`, `web-ui`)"
                        .into(),
                );
                continue;
            }
            let key = |k: &str| format!("images.{name}.{k}");
            let repo = img.repository.clone().unwrap_or_else(|| name.clone());
            let repo_key = if img.repository.is_some() {
                key("repository")
            } else {
                format!("images.{name}")
            };
            if let Err(e) = validate_repository(&repo) {
                add(repo_key.clone(), e);
            } else if let Some(other) = repos.insert(repo.clone(), format!("images.{name}")) {
                add(
                    repo_key,
                    format!("repository {repo:?} is already used by {other}: set a distinct `repository`"),
                );
            }
            if let Some(pl) = &img.platforms {
                if pl.is_empty() {
                    add(key("platforms"), "must not be empty".into());
                }
                check_platforms(&mut add, &key("platforms"), pl);
            }
            match (&img.dockerfile, &img.native) {
                (Some(_), Some(_)) => add(
                    format!("images.{name}"),
                    "set either `dockerfile` or `native`, not both".into(),
                ),
                (None, None) => add(
                    format!("images.{name}"),
                    "set `dockerfile = \"path/Dockerfile\"` (Dockerfile builder) or `native = {...}` (native builder)".into(),
                ),
                (Some(df), None) => {
                    check_inside_file(&mut add, &self.root, &key("dockerfile"), df);
                    let ctx = img.context.clone().unwrap_or_else(|| {
                        df.parent().map(Path::to_path_buf).unwrap_or_default()
                    });
                    let full = self.root.join(&ctx);
                    if let Err(e) = resolve_inside(&self.root, &ctx) {
                        add(key("context"), e);
                    } else if !full.is_dir() {
                        add(
                            key("context"),
                            format!("build context {} is not a directory", ctx.display()),
                        );
                    }
                    for k in [
                        "base",
                        "entrypoint",
                        "cmd",
                        "user",
                        "workdir",
                        "stop-signal",
                        "healthcheck",
                        "volumes",
                    ] {
                        let set = match k {
                            "base" => img.base.is_some(),
                            "entrypoint" => img.entrypoint.is_some(),
                            "cmd" => img.cmd.is_some(),
                            "user" => img.user.is_some(),
                            "workdir" => img.workdir.is_some(),
                            "healthcheck" => img.healthcheck.is_some(),
                            "volumes" => !img.volumes.is_empty(),
                            _ => img.stop_signal.is_some(),
                        };
                        if set {
                            add(
                                key(k),
                                "only the native builder uses this key: set it in the Dockerfile".into(),
                            );
                        }
                    }
                }
                (None, Some(native)) => {
                    if img.context.is_some() || img.target.is_some() || img.builder.is_some() {
                        add(
                            format!("images.{name}"),
                            "`context`, `target` and `builder` belong to Dockerfile images".into(),
                        );
                    }
                    if let Some(h) = &img.healthcheck {
                        if let Err(e) = h.to_oci() {
                            add(key("healthcheck"), e);
                        }
                    }
                    for v in &img.volumes {
                        if !v.starts_with('/') {
                            add(key("volumes"), format!("{v:?} must be an absolute path"));
                        }
                    }
                    if let Some(cmd) = &native.command {
                        if cmd.first().is_none_or(|c| c.trim().is_empty()) {
                            add(
                                key("native.command"),
                                "give the command as a list: [\"go\", \"build\", \"-o\", \"dist/{os}-{arch}/server\", \".\"]".into(),
                            );
                        } else if native.files.is_empty() {
                            add(
                                key("native.files"),
                                "`command` builds files: list what goes into the image with `files = [{ src, dst }]`".into(),
                            );
                        }
                    }
                    match (&native.cargo_bin, native.files.is_empty()) {
                        (None, true) => add(
                            key("native"),
                            "give `cargo-bin = \"<binary>\"` or `files = [{ src, dst }]`".into(),
                        ),
                        (Some(b), _) if b.trim().is_empty() => {
                            add(key("native.cargo-bin"), "must not be empty".into())
                        }
                        _ => {}
                    }
                    for plat in native.targets.keys() {
                        if plat.parse::<Platform>().is_err() {
                            add(
                                key(&format!("native.targets.\"{plat}\"")),
                                format!("unknown platform {plat:?}"),
                            );
                        }
                    }
                    for p in img.platforms.as_ref().unwrap_or(&r.platforms) {
                        if p.os != "linux" {
                            add(
                                key("native"),
                                format!(
                                    "the native builder makes Linux layers only, not {p}: build \
                                     {p} with a Dockerfile, or leave it out of this image's \
                                     `platforms`"
                                ),
                            );
                        }
                    }
                    for (i, f) in native.files.iter().enumerate() {
                        let fk = key(&format!("native.files[{i}]"));
                        if !f.dst.starts_with('/') {
                            add(
                                format!("{fk}.dst"),
                                format!("{:?} must be an absolute path in the image", f.dst),
                            );
                        }
                        if let Some(m) = &f.mode {
                            if u32::from_str_radix(m.trim_start_matches("0o"), 8)
                                .map_or(true, |v| v > 0o7777)
                            {
                                add(
                                    format!("{fk}.mode"),
                                    format!("{m:?} is not an octal file mode like \"0755\""),
                                );
                            }
                        }
                        for (j, pattern) in f.exclude.iter().enumerate() {
                            if let Err(e) = glob::Pattern::new(pattern) {
                                add(
                                    format!("{fk}.exclude[{j}]"),
                                    format!("{pattern:?} is not a glob pattern: {e}"),
                                );
                            }
                        }
                        let built_by_command = native.command.is_some();
                        if !f.src.contains('{') && !built_by_command {
                            match resolve_inside(&self.root, Path::new(&f.src)) {
                                Ok(full) if full.is_dir() => {}
                                Ok(_) => check_file(
                                    &mut add,
                                    &self.root,
                                    &format!("{fk}.src"),
                                    Path::new(&f.src),
                                ),
                                Err(e) => add(format!("{fk}.src"), e),
                            }
                        } else {
                            // Every platform's path stays inside the workspace (existence is
                            // checked when that platform is built).
                            let mut seen = BTreeSet::new();
                            for p in img.platforms.as_ref().unwrap_or(&r.platforms) {
                                let src = p.expand(&f.src);
                                if !seen.insert(src.clone()) {
                                    continue;
                                }
                                if let Err(e) = resolve_inside(&self.root, Path::new(&src)) {
                                    add(format!("{fk}.src"), e);
                                    break;
                                }
                            }
                        }
                    }
                    if let Some(d) = &native.dst {
                        if !d.starts_with('/') {
                            add(
                                key("native.dst"),
                                format!("{d:?} must be an absolute path"),
                            );
                        }
                    }
                    if let Some(level) = img.compression_level {
                        let (min, max) = match img.compression {
                            Compression::Gzip => (0, 9),
                            Compression::Zstd => (1, 19),
                        };
                        if !(min..=max).contains(&level) {
                            let codec = match img.compression {
                                Compression::Gzip => "gzip",
                                Compression::Zstd => "zstd",
                            };
                            add(
                                key("compression-level"),
                                format!(
                                    "{level} is out of range for {codec} ({min}-{max}; higher \
                                     is smaller and slower)"
                                ),
                            );
                        }
                    }
                    if let Some(base) = &img.base {
                        if base.trim().is_empty() {
                            add(
                                key("base"),
                                "use \"scratch\" or an image reference".into(),
                            );
                        }
                    }
                }
            }
            for port in &img.ports {
                let (num, proto) = port.split_once('/').unwrap_or((port, "tcp"));
                if num.parse::<u16>().is_err() || !matches!(proto, "tcp" | "udp" | "sctp") {
                    add(
                        key("ports"),
                        format!("{port:?}: write ports as \"8080\", \"8080/tcp\" or \"53/udp\""),
                    );
                }
            }
            for arg in img.build_args.keys() {
                if matches!(arg.as_str(), "VERSION" | "GIT_COMMIT" | "BUILD_DATE") {
                    add(
                        key("build-args"),
                        format!("{arg} is set by stevedore from git; remove it"),
                    );
                }
            }
        }

        if let Some(c) = &self.compose {
            if c.files.is_empty() {
                add(
                    "compose.files".into(),
                    "list at least one compose file".into(),
                );
            }
            for (i, f) in c.files.iter().enumerate() {
                check_inside_file(&mut add, &self.root, &format!("compose.files[{i}]"), f);
            }
            let repo = c.repository.clone().unwrap_or_else(|| r.name.clone());
            let k = if c.repository.is_some() {
                "compose.repository"
            } else {
                "release.name"
            };
            if let Err(e) = validate_repository(&repo) {
                add(k.into(), format!("compose artifact: {e}"));
            } else if let Some(other) = repos.get(&repo) {
                add(
                    k.into(),
                    format!("compose artifact repository {repo:?} is already used by {other}: set `compose.repository`"),
                );
            }
        }
        p
    }
}

fn check_platforms(add: &mut impl FnMut(String, String), key: &str, platforms: &[Platform]) {
    let mut seen = BTreeSet::new();
    for p in platforms {
        if !seen.insert(p.normalized()) {
            add(key.to_string(), format!("platform {p} is listed twice"));
        }
    }
}

/// Where `rel` (a path from the config, relative to the workspace `root`) resolves, when it
/// stays inside the workspace: an absolute path, a `..` that climbs out of the root, or a
/// symbolic link whose target lies outside it is refused, so no host file (`/etc/shadow`, a
/// key in the home directory) can reach an image. A path that does not exist yet is returned
/// as it is (existence is checked where it matters).
pub fn resolve_inside(root: &Path, rel: &Path) -> Result<PathBuf, String> {
    use std::path::Component;
    if rel.is_absolute() {
        return Err(format!(
            "{} is an absolute path: give a path relative to the workspace root {} (only \
             files inside the workspace may be used)",
            rel.display(),
            root.display()
        ));
    }
    let mut depth = 0usize;
    for c in rel.components() {
        match c {
            Component::ParentDir if depth == 0 => {
                return Err(format!(
                    "{} leaves the workspace root {} through `..`: only files inside the \
                     workspace may be used; copy the file into it",
                    rel.display(),
                    root.display()
                ))
            }
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            _ => {}
        }
    }
    let full = root.join(rel);
    if full.symlink_metadata().is_err() {
        return Ok(full);
    }
    let (Ok(real), Ok(real_root)) = (full.canonicalize(), root.canonicalize()) else {
        return Err(format!(
            "{} is a symbolic link whose target does not exist",
            rel.display()
        ));
    };
    if !real.starts_with(&real_root) {
        return Err(format!(
            "{} resolves to {}, outside the workspace root {} (through a symbolic link): only \
             files inside the workspace may be used; copy the file into it",
            rel.display(),
            real.display(),
            root.display()
        ));
    }
    Ok(full)
}

/// Whether `name` is one repository path component: `[a-z0-9]+` runs separated by `.`, `_`,
/// `__` or runs of `-` (the distribution grammar). Image names become paths and repositories.
fn is_path_component(name: &str) -> bool {
    static PATTERN: std::sync::OnceLock<regex_lite::Regex> = std::sync::OnceLock::new();
    PATTERN
        .get_or_init(|| {
            regex_lite::Regex::new(r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$")
                .expect("static pattern")
        })
        .is_match(name)
}

/// [`check_file`], after [`resolve_inside`].
fn check_inside_file(add: &mut impl FnMut(String, String), root: &Path, key: &str, rel: &Path) {
    match resolve_inside(root, rel) {
        Ok(_) => check_file(add, root, key, rel),
        Err(e) => add(key.to_string(), e),
    }
}

fn check_file(add: &mut impl FnMut(String, String), root: &Path, key: &str, rel: &Path) {
    let full = root.join(rel);
    match std::fs::metadata(&full) {
        Ok(m) if m.is_file() => {}
        Ok(_) => add(
            key.to_string(),
            format!("{} is not a file", rel.display()),
        ),
        Err(e) => add(
            key.to_string(),
            format!(
                "{} does not exist or cannot be read ({}); paths are relative to the workspace root {}",
                rel.display(),
                e.kind(),
                root.display()
            ),
        ),
    }
}

/// The config's raw form and every problem serde finds in it: an unknown key, a bad value or a
/// bad platform does not hide the next one. The first problem comes from parsing the text (with
/// its line and column); the key it names is then removed from a parsed copy and deserializing
/// goes on, so that the following problems are found too. The raw form is what is left once
/// every bad key is removed (`None` when that is not a config), for validation to go on.
fn deserialize(text: &str) -> (Option<RawConfig>, Vec<(String, String)>) {
    let de = match toml::Deserializer::parse(text) {
        Ok(de) => de,
        Err(e) => return (None, vec![(String::new(), toml_message(&e, text))]),
    };
    let first = match serde_path_to_error::deserialize::<_, RawConfig>(de) {
        Ok(raw) => return (Some(raw), Vec::new()),
        Err(e) => e,
    };
    let key = |path: &serde_path_to_error::Path| match path.to_string() {
        p if p == "." => String::new(),
        p => p,
    };
    let mut problems = vec![(key(first.path()), toml_message(first.inner(), text))];
    let Ok(mut value) = toml::from_str::<toml::Value>(text) else {
        return (None, problems);
    };
    let mut path = first.path().clone();
    for _ in 0..100 {
        if !remove_path(&mut value, &path) {
            break;
        }
        match serde_path_to_error::deserialize::<_, RawConfig>(value.clone()) {
            Ok(raw) => return (Some(raw), problems),
            Err(e) => {
                let k = key(e.path());
                let msg = e.inner().message().trim().to_string();
                // A value removed above is now missing: that is the same problem again.
                if msg.starts_with("missing field") {
                    break;
                }
                let msg = match line_of(text, &k) {
                    Some(line) => format!("line {line}: {msg}"),
                    None => msg,
                };
                problems.push((k, msg));
                path = e.path().clone();
            }
        }
    }
    (None, problems)
}

/// Removes the value at `path` (a key of a table, an element of an array); false when there is
/// nothing there to remove.
fn remove_path(value: &mut toml::Value, path: &serde_path_to_error::Path) -> bool {
    use serde_path_to_error::Segment;
    let segments: Vec<&Segment> = path.iter().collect();
    let Some((last, parents)) = segments.split_last() else {
        return false;
    };
    let mut cur = value;
    for seg in parents {
        cur = match (seg, cur) {
            (Segment::Map { key }, toml::Value::Table(t)) => match t.get_mut(key) {
                Some(v) => v,
                None => return false,
            },
            (Segment::Seq { index }, toml::Value::Array(a)) => match a.get_mut(*index) {
                Some(v) => v,
                None => return false,
            },
            _ => return false,
        };
    }
    match (last, cur) {
        (Segment::Map { key }, toml::Value::Table(t)) => t.remove(key).is_some(),
        (Segment::Seq { index }, toml::Value::Array(a)) if *index < a.len() => {
            a.remove(*index);
            true
        }
        _ => false,
    }
}

/// The line of the first `name =` (the last part of a dotted key path) in `text`.
fn line_of(text: &str, key: &str) -> Option<usize> {
    let name = key.rsplit('.').next()?.split('[').next()?;
    if name.is_empty() {
        return None;
    }
    text.lines()
        .position(|l| {
            l.match_indices(name).any(|(i, _)| {
                let before = l[..i].chars().next_back();
                let after = l[i + name.len()..].trim_start();
                matches!(before, None | Some(' ' | '{' | ',' | '\t' | '"'))
                    && (after.starts_with('=') || after.starts_with("\" ="))
            })
        })
        .map(|i| i + 1)
}

/// A toml error as one line: `line L, column C: message`.
fn toml_message(e: &toml::de::Error, text: &str) -> String {
    let msg = e.message().trim().to_string();
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {col}: {msg}")
        }
        None => msg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("backend")).unwrap();
        std::fs::write(d.path().join("backend/Dockerfile"), "FROM scratch\n").unwrap();
        std::fs::write(d.path().join("compose.yaml"), "services: {}\n").unwrap();
        d
    }

    const GOOD: &str = r#"
[release]
name = "votive"
registries = ["ghcr.io/oxilith", "docker.io/oxilith"]
platforms = ["linux/amd64", "linux/arm64"]
tags = ["type=ref,event=branch", "type=semver,pattern={{major}}"]
latest = "auto"

[images.backend]
dockerfile = "backend/Dockerfile"
context = "backend"
build-args = { NODE_ENV = "production" }

[images.worker]
native = { cargo-bin = "worker" }
base = "scratch"
entrypoint = ["/usr/local/bin/worker"]
user = "65532:65532"

[compose]
files = ["compose.yaml"]
repository = "votive-oci"
"#;

    fn parse(root: &Path, text: &str) -> Result<Config, ConfigError> {
        Config::parse(root, Path::new("images/release.toml"), text)
    }

    #[test]
    fn good_config_loads() {
        let d = root();
        let c = parse(d.path(), GOOD).unwrap();
        assert_eq!(c.registries.len(), 2);
        assert_eq!(c.registries[1].to_string(), "docker.io/oxilith");
        assert_eq!(c.platforms_of("backend").len(), 2);
        assert_eq!(c.rules.len(), 2);
        assert_eq!(c.compose_repository().as_deref(), Some("votive-oci"));
    }

    fn error_of(text: &str) -> String {
        let d = root();
        parse(d.path(), text).unwrap_err().to_string()
    }

    #[test]
    fn unknown_key_names_key_and_file() {
        let e = error_of(&GOOD.replace("context = \"backend\"", "contxt = \"backend\""));
        assert!(e.contains("images/release.toml"), "{e}");
        assert!(e.contains("images.backend"), "{e}");
        assert!(e.contains("contxt"), "{e}");
    }

    #[test]
    fn bad_platform_is_named() {
        let e = error_of(&GOOD.replace("\"linux/arm64\"]", "\"linux/arm65\"]"));
        assert!(e.contains("release.platforms"), "{e}");
        assert!(e.contains("linux/arm65"), "{e}");
    }

    #[test]
    fn upper_case_repository_is_named() {
        let e = error_of(&GOOD.replace(
            "context = \"backend\"",
            "context = \"backend\"\nrepository = \"Clearsplit/api\"",
        ));
        assert!(e.contains("images.backend.repository"), "{e}");
        assert!(e.contains("upper-case"), "{e}");
    }

    #[test]
    fn missing_dockerfile_is_named() {
        let e = error_of(&GOOD.replace("backend/Dockerfile", "backend/Dockerfile.missing"));
        assert!(e.contains("images.backend.dockerfile"), "{e}");
        assert!(e.contains("Dockerfile.missing"), "{e}");
    }

    #[test]
    fn several_problems_are_reported_together() {
        let e = error_of(
            &GOOD
                .replace("ghcr.io/oxilith\"", "ghcr.io/Oxilith\"")
                .replace("repository = \"votive-oci\"", "repository = \"worker\""),
        );
        assert!(e.contains("2 problems"), "{e}");
        assert!(e.contains("release.registries[0]"), "{e}");
        assert!(e.contains("compose.repository"), "{e}");
    }

    #[test]
    fn duplicate_repositories_are_rejected() {
        let e = error_of(&GOOD.replace(
            "context = \"backend\"",
            "context = \"backend\"\nrepository = \"worker\"",
        ));
        assert!(e.contains("already used by images."), "{e}");
    }

    #[test]
    fn files_outside_the_workspace_are_refused() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s").unwrap();
        let d = root();
        std::fs::create_dir_all(d.path().join("files")).unwrap();
        std::fs::write(d.path().join("files/ok"), "ok").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), d.path().join("files/link"))
            .unwrap();
        std::os::unix::fs::symlink("ok", d.path().join("files/inner-link")).unwrap();
        let with_src = |src: &str| {
            GOOD.replace(
                "native = { cargo-bin = \"worker\" }",
                &format!("native = {{ files = [{{ src = \"{src}\", dst = \"/x\" }}] }}"),
            )
        };
        let cases = [
            ("/etc/hostname", "absolute path"),
            ("../../outside/secret", "leaves the workspace"),
            ("files/../../x/{arch}", "leaves the workspace"),
            ("files/link", "outside the workspace root"),
        ];
        for (src, why) in cases {
            let e = parse(d.path(), &with_src(src)).unwrap_err().to_string();
            assert!(
                e.contains("images.worker.native.files[0].src"),
                "{src}: {e}"
            );
            assert!(e.contains(why), "{src}: {e}");
        }
        parse(d.path(), &with_src("files/inner-link")).unwrap();
        let e = parse(
            d.path(),
            &GOOD.replace("\"backend/Dockerfile\"", "\"/etc/hostname\""),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("images.backend.dockerfile"), "{e}");
        let e = parse(
            d.path(),
            &GOOD.replace("context = \"backend\"", "context = \"..\""),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("images.backend.context"), "{e}");
    }

    #[test]
    fn empty_platforms_and_windows_native_images_are_refused() {
        let e = error_of(&GOOD.replace(
            "platforms = [\"linux/amd64\", \"linux/arm64\"]",
            "platforms = []",
        ));
        assert!(e.contains("release.platforms: must not be empty"), "{e}");
        let e = error_of(&GOOD.replace(
            "user = \"65532:65532\"",
            "user = \"65532:65532\"\nplatforms = [\"windows/amd64\"]",
        ));
        assert!(e.contains("images.worker.native"), "{e}");
        assert!(e.contains("Linux layers only"), "{e}");
        let e = error_of(&GOOD.replace("ghcr.io/oxilith\"", "localhost:70000/oxilith\""));
        assert!(e.contains("release.registries[0]"), "{e}");
        assert!(e.contains("1 to 65535"), "{e}");
    }

    #[test]
    fn image_names_follow_the_repository_grammar() {
        for bad in ["../../ESCAPE", "Web", "a/b", "-x", "x_"] {
            let e = error_of(&GOOD.replace("[images.worker]", &format!("[images.\"{bad}\"]")));
            assert!(e.contains("repository path component"), "{bad}: {e}");
        }
    }

    #[test]
    fn every_unknown_key_and_bad_value_is_reported_in_one_run() {
        let text = GOOD
            .replace("context = \"backend\"", "contxt = \"backend\"")
            .replace(
                "user = \"65532:65532\"",
                "user = \"65532:65532\"\nentrypont = []",
            )
            .replace("\"linux/arm64\"]", "\"linux/arm65\"]");
        let e = error_of(&text.replace("backend/Dockerfile", "backend/Dockerfile.missing"));
        assert!(e.contains("4 problems"), "{e}");
        assert!(e.contains("images.backend.dockerfile"), "{e}");
        assert!(e.contains("images.backend.contxt"), "{e}");
        assert!(e.contains("images.worker.entrypont"), "{e}");
        assert!(e.contains("release.platforms[1]"), "{e}");
        assert!(e.contains("linux/arm65"), "{e}");
    }

    #[test]
    fn bad_rule_is_named() {
        let e = error_of(&GOOD.replace("type=ref,event=branch", "type=nope"));
        assert!(e.contains("release.tags[0]"), "{e}");
    }

    #[test]
    fn syntax_error_has_a_line() {
        let e = error_of("[release\nname=1");
        assert!(e.contains("line 1"), "{e}");
    }

    #[test]
    fn compression_levels_are_checked_per_codec() {
        let with = |extra: &str| {
            GOOD.replace(
                "user = \"65532:65532\"",
                &format!("user = \"65532:65532\"\n{extra}"),
            )
        };
        let d = root();
        for ok in [
            "compression-level = 9",
            "compression = \"zstd\"\ncompression-level = 19",
            "compression = \"zstd\"\ncompression-level = 1",
        ] {
            parse(d.path(), &with(ok)).unwrap();
        }
        let e = error_of(&with("compression-level = 10"));
        assert!(e.contains("images.worker.compression-level"), "{e}");
        assert!(e.contains("gzip (0-9"), "{e}");
        for bad in [0, 20] {
            let e = error_of(&with(&format!(
                "compression = \"zstd\"\ncompression-level = {bad}"
            )));
            assert!(e.contains("zstd (1-19"), "{e}");
        }
    }
}
