//! The small vocabularies of the config that later stages act on: where provenance and SBOMs
//! go, who signs them, and the compose artifact's OCI version and allowances.

use serde::{Deserialize, Serialize};

/// `compose.oci-version`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum ComposeOciVersion {
    #[default]
    #[serde(rename = "auto")]
    Auto,
    #[serde(rename = "1.1")]
    V1_1,
    #[serde(rename = "1.0")]
    V1_0,
}

/// `compose.allow`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ComposeAllow {
    BindMounts,
    SensitiveData,
}

/// `release.provenance`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProvenanceMode {
    #[default]
    Referrers,
    Index,
    Both,
    Off,
}

impl ProvenanceMode {
    pub fn referrers(self) -> bool {
        matches!(self, ProvenanceMode::Referrers | ProvenanceMode::Both)
    }

    pub fn index(self) -> bool {
        matches!(self, ProvenanceMode::Index | ProvenanceMode::Both)
    }
}

/// `release.sbom`: where an image's SPDX SBOM comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SbomMode {
    /// `cargo-bin` images: the crates the binary links; other images: syft when it is on PATH
    /// (else none, with a warning).
    #[default]
    Auto,
    /// As `auto`, but syft is required for the other images.
    Syft,
    /// No SBOM for any image.
    Off,
}

/// `release.signing`: who signs the attestations of a release made by the generated workflows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SigningMode {
    /// stevedore signs its own attestations with `STEVEDORE_SIGNING_KEY` (the repository
    /// secret) when it is set; unsigned otherwise.
    #[default]
    Key,
    /// GitHub's keyless attestations: the release job hands the digests it pushed to
    /// `actions/attest-build-provenance` (a Sigstore bundle per image, pushed to the registry,
    /// verified by `gh attestation verify`); no signing key is passed to stevedore.
    Github,
}

impl SigningMode {
    pub fn is_key(&self) -> bool {
        *self == SigningMode::Key
    }
}
