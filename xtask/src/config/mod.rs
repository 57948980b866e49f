//! `images/release.toml`: the release description, its types and its validation.
//!
//! Every key is known: an unknown key is an error naming the key and the file, so that a typo
//! never silently changes a release. Everything that can be checked before anything runs is
//! checked here, and every problem is reported at once, each naming the file and the key.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::oci::platform::Platform;
use crate::oci::reference::RegistryPrefix;
use crate::problem::Problem;
pub use crate::tag_rules::{Flavor, Latest, Rule};

pub mod build_arg_templates;
pub mod checks;
mod modes;
mod parse;
#[cfg(test)]
mod tests;
mod validate;

use parse::deserialize;
pub use validate::resolve_inside;

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
    /// `[compose]` or `[[compose]]`: the compose artifacts, in order.
    pub compose: Vec<Compose>,
    /// Parsed forms of `release.registries`, in order.
    pub registries: Vec<RegistryPrefix>,
    /// Parsed forms of `release.tags`, in order.
    pub rules: Vec<Rule>,
    /// Parsed per-image tag rules (`images.<name>.tags`).
    pub image_rules: BTreeMap<String, Vec<Rule>>,
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
    /// Registry mirrors for base images: `{ "docker.io" = "mirror.gcr.io" }` pulls every
    /// `FROM` / `base` image of that host from the mirror instead (same repository path, under
    /// the mirror's namespace when it has one), in stevedore and in buildah.
    #[serde(default)]
    pub mirrors: BTreeMap<String, String>,
    /// Extra CA certificates (PEM) trusted for registries, relative to the workspace root.
    #[serde(default)]
    pub ca_files: Vec<PathBuf>,
    /// Concurrent uploads per registry.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Default builder for Dockerfile images.
    #[serde(default)]
    pub builder: BuilderKind,
    /// Where SLSA provenance (and SBOMs) go: `referrers` (OCI 1.1 referrers, with the
    /// `sha256-<hex>` fallback tag), `index` (BuildKit's attestation manifests inside the image
    /// index), `both`, or `off`.
    #[serde(default)]
    pub provenance: ProvenanceMode,
    /// Attest every platform manifest too, not only the image index.
    #[serde(default)]
    pub provenance_per_platform: bool,
    /// Build args whose values are secrets: left out of provenance and output.
    #[serde(default)]
    pub secret_build_args: Vec<String>,
    /// SBOMs: `auto` (cargo-bin: the crates linked; others: syft when on PATH), `syft` (syft
    /// required for non-cargo images), `off`.
    #[serde(default)]
    pub sbom: SbomMode,
    /// Who signs the attestations in the generated workflows: `key` (stevedore, with
    /// `STEVEDORE_SIGNING_KEY` when it is set) or `github` (GitHub's keyless attestations,
    /// `actions/attest-build-provenance`, for the digests stevedore pushed).
    #[serde(default, skip_serializing_if = "SigningMode::is_key")]
    pub signing: SigningMode,
}

pub use modes::{ProvenanceMode, SbomMode, SigningMode};

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
    /// buildx: the builder to use (`docker buildx create --name …`, e.g. a `remote` or
    /// `kubernetes` driver for builds that outgrow one runner).
    pub builder_name: Option<String>,
    /// buildx: a layer cache kept between runs: `gha` (GitHub Actions cache), `registry`
    /// (`<first repository>:buildcache`) or `local` (`target/stevedore/buildx-cache`).
    pub cache: Option<String>,
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
    /// This image's own tag rules (a `-dev` variant), instead of `release.tags`.
    pub tags: Option<Vec<String>>,
    /// This image's own flavor (e.g. `{ suffix = "-dev" }`), instead of `release.flavor`.
    pub flavor: Option<Flavor>,
    /// This image's own `latest`, instead of `release.latest`.
    pub latest: Option<Latest>,
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

/// One compose artifact (`[compose]`, or one of several `[[compose]]` tables).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Compose {
    /// Compose files in `-f` order, relative to the workspace root.
    pub files: Vec<PathBuf>,
    /// Repository of the compose artifact under each registry prefix (default: release name).
    pub repository: Option<String>,
    /// Publish the services' env files (compose's `--with-env`).
    #[serde(default)]
    pub env_files: bool,
    /// `auto` (1.1, then 1.0 when the registry refuses it), `1.1` or `1.0`.
    #[serde(default)]
    pub oci_version: ComposeOciVersion,
    /// Pin images the release does not build to their registry digest.
    #[serde(default = "default_true")]
    pub resolve_external: bool,
    /// Findings that may be published anyway: `bind-mounts`, `sensitive-data`.
    #[serde(default)]
    pub allow: Vec<ComposeAllow>,
}

fn default_true() -> bool {
    true
}

pub use modes::{ComposeAllow, ComposeOciVersion};

/// `[compose]` (one table) or `[[compose]]` (several).
#[derive(Debug, Clone, Default)]
struct ComposeTables(Vec<Compose>);

impl<'de> Deserialize<'de> for ComposeTables {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = ComposeTables;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a [compose] table or [[compose]] tables")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<ComposeTables, A::Error> {
                let one = Compose::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(ComposeTables(vec![one]))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<ComposeTables, A::Error> {
                let many =
                    Vec::<Compose>::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))?;
                Ok(ComposeTables(many))
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    release: Release,
    #[serde(default)]
    images: BTreeMap<String, Image>,
    #[serde(default)]
    compose: ComposeTables,
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

/// Every problem found in a config file, each naming the file and the key, with its fix on its
/// own line when one can be said.
#[derive(Debug)]
pub struct ConfigError {
    pub file: PathBuf,
    /// The key (empty for the file as a whole) and the problem there.
    pub problems: Vec<(String, Problem)>,
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
        for (key, problem) in &self.problems {
            let msg = &problem.reason;
            if key.is_empty() {
                write!(f, "\n  {}: {msg}", self.file.display())?;
            } else {
                write!(f, "\n  {}: {key}: {msg}", self.file.display())?;
            }
            if !problem.fix.is_empty() {
                write!(f, "\n    fix: {}", problem.fix)?;
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
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: shown.clone(),
            problems: vec![(
                String::new(),
                Problem::config(
                    format!("cannot read the release config ({e})"),
                    "create it, or point at another with --config or -C",
                ),
            )],
        })?;
        Config::parse(root, &shown, &text)
    }

    /// Parses and validates config text (`shown` names the file in messages).
    pub fn parse(root: &Path, shown: &Path, text: &str) -> Result<Config, ConfigError> {
        let (raw, problems) = deserialize(text);
        let mut problems: Vec<(String, Problem)> = problems
            .into_iter()
            .map(|(key, msg)| (key, Problem::config(msg, "")))
            .collect();
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
            compose: raw.compose.0,
            registries: Vec::new(),
            rules: Vec::new(),
            image_rules: BTreeMap::new(),
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

    /// The repository of compose artifact `c` (default: the release name).
    pub fn compose_repository(&self, c: &Compose) -> String {
        c.repository
            .clone()
            .unwrap_or_else(|| self.release.name.clone())
    }
}
