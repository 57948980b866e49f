//! The compose artifact: what `docker compose publish` pushes, built from the workspace's compose
//! files so that `docker compose -f oci://REF up` runs the release.
//!
//! The steps, one module each (files are read, nothing is printed; only [`stage`] reaches a
//! registry, to resolve the digests of images outside the release):
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
pub mod secrets;
pub mod stage;
#[cfg(test)]
mod testutil;

use std::fmt;
use std::path::PathBuf;

use crate::problem::Problem;

pub use artifact::{assemble, Artifact, ArtifactInput, ManifestForm};
pub use checks::{check, CheckReport, Finding, FindingKind};
pub use load::{load, EnvFile, Project, SourceFile};
pub use pin::{pin_images, ImagePins, ReleaseImage, Unpinned};

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

/// Which manifest form to push (compose's `--oci-version`): `Auto` is 1.1 first, 1.0 when the
/// registry rejects it with a 4xx other than 401/403/407.
pub use crate::plan::ComposeOciVersion as OciVersion;

/// What went wrong while reading or assembling: the [`Problem`] (with its fix), which file, and
/// a finer kind the compose tests match on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeError {
    pub kind: ErrorKind,
    /// The file concerned, relative to the workspace root when it is inside it.
    pub file: Option<PathBuf>,
    pub problem: Problem,
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
            problem: Problem::compose(problem, fix),
        }
    }

    /// The problem, its reason naming the file (`file: reason`), for the stages to return.
    pub fn into_problem(self) -> Problem {
        match &self.file {
            Some(file) => self.problem.within(file.display()),
            None => self.problem,
        }
    }
}

impl fmt::Display for ComposeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.clone().into_problem())
    }
}

impl std::error::Error for ComposeError {}
