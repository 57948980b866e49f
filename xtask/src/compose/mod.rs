//! The compose artifact: what `docker compose publish` pushes, built from the workspace's compose
//! files so that `docker compose -f oci://REF up` runs the release.
//!
//! The stages, one module each, all pure (files are read, nothing is printed or sent):
//! - [`load`]: reads the compose files, the `extends` parents and the env files, all inside the
//!   workspace, and validates each file against compose-spec's JSON schema ([`schema`]);
//! - [`checks`]: compose's pre-publish checks (local includes, build without image, bind mounts,
//!   secret-looking values), as a list of findings;
//! - [`pin`]: the `image-digests.yaml` override pinning every service image to a digest;
//! - [`artifact`]: the blobs and the manifest, OCI 1.1 or 1.0 form.
//!
//! Matches Docker Compose v2.40.3 (`internal/oci/push.go`, `pkg/compose/publish.go`,
//! `pkg/compose/transform/replace.go`, `pkg/remote/oci.go`) and compose-go v2.9.1, whose schema
//! `compose-spec.json` is vendored here unchanged (`schema/compose-spec.json` of
//! compose-spec/compose-go at tag v2.9.1, Apache-2.0).

pub mod artifact;
pub mod checks;
pub mod interp;
pub mod load;
pub mod pin;
pub mod schema;
mod secrets;
#[cfg(test)]
mod testutil;
pub mod yaml;

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

pub use artifact::{assemble, Artifact, ArtifactInput, ManifestForm};
pub use checks::{check, CheckReport, Finding, FindingKind};
pub use load::{load, EnvFile, Project, SourceFile};
pub use pin::{pin_images, ImagePins, ReleaseImage};

/// One compose artifact to publish, as plain data (the config maps onto it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeSpec {
    /// Compose files in `-f` order, relative to the workspace root.
    pub files: Vec<PathBuf>,
    /// The repository the artifact is pushed to, e.g. `votive-oci`.
    pub repository: String,
    /// Publish the services' env files (compose's `--with-env`).
    pub env_files: bool,
    pub oci_version: OciVersion,
    /// Pin images the release does not build to their registry's index digest.
    pub resolve_external: bool,
    pub allow_bind_mounts: bool,
    pub allow_sensitive: bool,
}

/// Which manifest form to push (compose's `--oci-version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum OciVersion {
    /// 1.1 first, 1.0 when the registry rejects it with a 4xx other than 401/403/407.
    #[default]
    #[serde(rename = "auto")]
    Auto,
    #[serde(rename = "1.1")]
    V1_1,
    #[serde(rename = "1.0")]
    V1_0,
}

/// A finding that may be published anyway (`allow = [...]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Allow {
    BindMounts,
    SensitiveData,
}

/// One `[compose]` table (or one `[[compose]]` entry) as written in the config.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawCompose {
    pub files: Vec<PathBuf>,
    pub repository: String,
    #[serde(default)]
    pub env_files: bool,
    #[serde(default)]
    pub oci_version: OciVersion,
    #[serde(default = "yes")]
    pub resolve_external: bool,
    #[serde(default)]
    pub allow: Vec<Allow>,
}

fn yes() -> bool {
    true
}

impl From<RawCompose> for ComposeSpec {
    fn from(raw: RawCompose) -> Self {
        ComposeSpec {
            allow_bind_mounts: raw.allow.contains(&Allow::BindMounts),
            allow_sensitive: raw.allow.contains(&Allow::SensitiveData),
            files: raw.files,
            repository: raw.repository,
            env_files: raw.env_files,
            oci_version: raw.oci_version,
            resolve_external: raw.resolve_external,
        }
    }
}

/// `compose` in the config: one table (`[compose]`) or an array of tables (`[[compose]]`), so
/// that a release can publish several artifacts and the single-table form keeps working.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ComposeEntries(pub Vec<RawCompose>);

impl<'de> Deserialize<'de> for ComposeEntries {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = ComposeEntries;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a [compose] table or [[compose]] tables")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                let one =
                    RawCompose::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(ComposeEntries(vec![one]))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<Self::Value, A::Error> {
                let many = Vec::<RawCompose>::deserialize(
                    serde::de::value::SeqAccessDeserializer::new(seq),
                )?;
                Ok(ComposeEntries(many))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// What went wrong while reading or assembling, with how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeError {
    pub kind: ErrorKind,
    /// The file concerned, relative to the workspace root when it is inside it.
    pub file: Option<PathBuf>,
    pub problem: String,
    pub fix: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A file could not be read.
    Read,
    /// A path resolves outside the workspace root.
    OutsideWorkspace,
    /// Not YAML, or not a mapping at the top.
    Syntax,
    /// Fails compose-spec's schema.
    Schema,
    /// An `env_file` or `extends.file` that cannot be rewritten or resolved.
    Path,
    /// An image reference that cannot be parsed or resolved.
    Image,
    /// Refused by the pre-publish checks (see [`CheckReport`]).
    Refused,
}

impl ComposeError {
    pub fn new(kind: ErrorKind, file: Option<PathBuf>, problem: String, fix: &str) -> Self {
        ComposeError {
            kind,
            file,
            problem,
            fix: fix.to_string(),
        }
    }
}

impl fmt::Display for ComposeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}: ", file.display())?;
        }
        write!(f, "{}", self.problem)?;
        if !self.fix.is_empty() {
            write!(f, "\n  fix: {}", self.fix)?;
        }
        Ok(())
    }
}

impl std::error::Error for ComposeError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Config {
        compose: ComposeEntries,
    }

    #[test]
    fn one_table_and_an_array_of_tables_both_read() {
        let one: Config =
            toml::from_str("[compose]\nfiles = [\"compose.yaml\"]\nrepository = \"app-oci\"\n")
                .unwrap();
        assert_eq!(one.compose.0.len(), 1);
        let spec = ComposeSpec::from(one.compose.0[0].clone());
        assert!(spec.resolve_external && !spec.env_files);
        assert_eq!(spec.oci_version, OciVersion::Auto);

        let many: Config = toml::from_str(
            "[[compose]]\nfiles = [\"a.yaml\"]\nrepository = \"a-oci\"\nallow = [\"bind-mounts\"]\n\
             oci-version = \"1.0\"\n[[compose]]\nfiles = [\"b.yaml\"]\nrepository = \"b-oci\"\n\
             env-files = true\nresolve-external = false\n",
        )
        .unwrap();
        let specs: Vec<ComposeSpec> = many.compose.0.into_iter().map(Into::into).collect();
        assert_eq!(specs.len(), 2);
        assert!(specs[0].allow_bind_mounts && !specs[0].allow_sensitive);
        assert_eq!(specs[0].oci_version, OciVersion::V1_0);
        assert!(specs[1].env_files && !specs[1].resolve_external);
    }

    #[test]
    fn unknown_keys_and_values_are_refused() {
        for bad in [
            "[compose]\nfiles = []\nrepository = \"r\"\nfile = \"x\"\n",
            "[compose]\nfiles = []\nrepository = \"r\"\nallow = [\"everything\"]\n",
            "[compose]\nfiles = []\nrepository = \"r\"\noci-version = \"2\"\n",
        ] {
            assert!(toml::from_str::<Config>(bad).is_err(), "{bad}");
        }
    }
}
