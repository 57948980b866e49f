//! The facts an attestation is made from, as plain data. The pipeline fills these from the
//! plan and the build; nothing here reads the environment.

use std::collections::{BTreeMap, BTreeSet};

use crate::oci::Digest;

use super::time::Timestamp;

/// What an attestation is about: an image index or a platform manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// The image name without tag or digest (`ghcr.io/o/app`), or `_` when it has none.
    pub name: String,
    pub digest: Digest,
}

/// The source a build came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Repository URL, already stripped of credentials, query and fragment
    /// (`https://github.com/o/r`).
    pub repository: String,
    /// The git ref built (`refs/tags/v1.2.3`, `refs/heads/main`).
    pub git_ref: String,
    /// The full commit sha (40 or 64 lower-case hex).
    pub commit: String,
}

/// Which builder produced the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuilderKind {
    /// stevedore's own builder: a cargo binary on a base image, no Dockerfile.
    Native,
    Buildah,
    Buildx,
}

impl BuilderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BuilderKind::Native => "native",
            BuilderKind::Buildah => "buildah",
            BuilderKind::Buildx => "buildx",
        }
    }
}

/// A base image the build started from, resolved to a digest for one platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseImage {
    /// As written in the config or Dockerfile, e.g. `alpine:3.20`, `ghcr.io/o/base:1`,
    /// `debian@sha256:…`.
    pub reference: String,
    /// The digest it resolved to for `platform` (the platform manifest).
    pub digest: Digest,
    /// `linux/amd64`, `linux/arm/v7`, …
    pub platform: String,
}

/// The GitHub Actions run, when the build runs in one (`GITHUB_*` variables).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GithubContext {
    /// `GITHUB_SERVER_URL`, e.g. `https://github.com`.
    pub server_url: String,
    /// `GITHUB_REPOSITORY`, `owner/repo`.
    pub repository: String,
    /// `GITHUB_WORKFLOW_REF`: `owner/repo/.github/workflows/release.yml@refs/tags/v1.2.3`.
    pub workflow_ref: String,
    /// The OIDC claim `job_workflow_ref`: differs from `workflow_ref` only when the job runs
    /// a reusable workflow. `None` means "same as `workflow_ref`".
    pub job_workflow_ref: Option<String>,
    /// `GITHUB_RUN_ID`.
    pub run_id: String,
    /// `GITHUB_RUN_ATTEMPT`.
    pub run_attempt: String,
    /// `GITHUB_EVENT_NAME`.
    pub event_name: String,
}

impl GithubContext {
    /// `.github/workflows/release.yml` and `refs/tags/v1.2.3` from `workflow_ref` (a ref may
    /// itself contain `@`, so the split is at the first `@` after the path).
    pub fn workflow_path_and_ref(&self) -> (String, String) {
        let rest = self
            .workflow_ref
            .strip_prefix(&format!("{}/", self.repository))
            .unwrap_or(&self.workflow_ref);
        match rest.split_once('@') {
            Some((path, r)) => (path.to_string(), r.to_string()),
            None => (rest.to_string(), String::new()),
        }
    }

    fn server(&self) -> &str {
        self.server_url.trim_end_matches('/')
    }

    /// `<server>/<job_workflow_ref>`: the SLSA builder id of a GitHub-hosted build.
    pub fn builder_id(&self) -> String {
        let job = self.job_workflow_ref.as_ref().unwrap_or(&self.workflow_ref);
        format!("{}/{job}", self.server())
    }

    /// `<server>/<owner>/<repo>`.
    pub fn repository_url(&self) -> String {
        format!("{}/{}", self.server(), self.repository)
    }

    /// `<server>/<owner>/<repo>/actions/runs/<id>/attempts/<n>`.
    pub fn invocation_id(&self) -> String {
        format!(
            "{}/actions/runs/{}/attempts/{}",
            self.repository_url(),
            self.run_id,
            self.run_attempt
        )
    }
}

/// Everything the provenance of one image says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildFacts {
    pub source: Source,
    /// The stevedore config file, relative to the workspace root (`stevedore.toml`).
    pub config_path: String,
    /// The sha256 of the config file's bytes.
    pub config_digest: Digest,
    /// The image name without registry credentials or tag (`ghcr.io/o/app`).
    pub image_name: String,
    /// `linux/amd64`, `linux/arm64`, … in build order.
    pub platforms: Vec<String>,
    pub builder_kind: BuilderKind,
    /// The builder's version (`stevedore 0.4.0`, `buildah 1.37.2`, `buildx v0.17.1`).
    pub builder_version: String,
    /// Build arguments as given to the builder, secrets included: those named in
    /// `secret_args` are dropped before anything is written.
    pub build_args: BTreeMap<String, String>,
    /// Names of build arguments that hold secrets.
    pub secret_args: BTreeSet<String>,
    pub base_images: Vec<BaseImage>,
    /// The sha256 of `Cargo.lock` (native Rust images).
    pub cargo_lock_digest: Option<Digest>,
    pub github: Option<GithubContext>,
    pub started_on: Timestamp,
    pub finished_on: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(workflow_ref: &str, job: Option<&str>) -> GithubContext {
        GithubContext {
            server_url: "https://github.com/".into(),
            repository: "o/r".into(),
            workflow_ref: workflow_ref.into(),
            job_workflow_ref: job.map(Into::into),
            run_id: "42".into(),
            run_attempt: "2".into(),
            event_name: "push".into(),
        }
    }

    #[test]
    fn workflow_ref_splits_into_path_and_ref() {
        for (workflow_ref, path, r) in [
            (
                "o/r/.github/workflows/release.yml@refs/tags/v1.2.3",
                ".github/workflows/release.yml",
                "refs/tags/v1.2.3",
            ),
            (
                "o/r/.github/workflows/release.yml@refs/tags/pkg@1.0",
                ".github/workflows/release.yml",
                "refs/tags/pkg@1.0",
            ),
            (
                "o/r/.github/workflows/ci.yml",
                ".github/workflows/ci.yml",
                "",
            ),
        ] {
            let got = ctx(workflow_ref, None).workflow_path_and_ref();
            assert_eq!(got, (path.to_string(), r.to_string()), "{workflow_ref}");
        }
    }

    #[test]
    fn builder_id_prefers_the_job_workflow_of_a_reusable_workflow() {
        let own = ctx("o/r/.github/workflows/release.yml@refs/heads/main", None);
        assert_eq!(
            own.builder_id(),
            "https://github.com/o/r/.github/workflows/release.yml@refs/heads/main"
        );
        let reused = ctx(
            "o/r/.github/workflows/release.yml@refs/heads/main",
            Some("org/shared/.github/workflows/build.yml@refs/tags/v3"),
        );
        assert_eq!(
            reused.builder_id(),
            "https://github.com/org/shared/.github/workflows/build.yml@refs/tags/v3"
        );
    }

    #[test]
    fn invocation_id_names_the_run_attempt() {
        let c = ctx("o/r/.github/workflows/release.yml@refs/heads/main", None);
        assert_eq!(
            c.invocation_id(),
            "https://github.com/o/r/actions/runs/42/attempts/2"
        );
    }
}
