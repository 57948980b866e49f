//! Attestations: what an image was built from (SLSA provenance), what a native Rust image
//! contains (an SPDX SBOM), how either is signed (DSSE inside a Sigstore bundle), and how they
//! are stored next to the image in a registry (OCI 1.1 referrers, the `sha256-<hex>` fallback
//! tag, or BuildKit's attestation manifests inside the image index).
//!
//! Most of it is plain data in, documents and bytes out. The exceptions: [`stage`] reads the
//! OCI layout and `Cargo.lock` and writes the attestations into the layout; [`discover`] finds
//! and checks an image's attestations in a registry for `verify`; [`cargo_deps::cargo_metadata`],
//! [`cargo_deps::rustc_cfg`] and [`syft`] run a process (each in its own function). Nothing here
//! prints.

pub mod artifact;
pub mod cargo_cfg;
pub mod cargo_deps;
pub mod discover;
pub mod dsse;
#[cfg(test)]
mod external_check;
pub mod input;
pub mod provenance;
pub mod sign;
pub mod sigstore_bundle;
pub mod spdx;
pub mod spdx_license;
pub mod stage;
pub mod statement;
pub mod syft;
pub mod time;
pub mod verify;

pub use input::{BaseImage, BuildFacts, BuilderKind, GithubContext, Source, Subject};
pub use statement::Statement;

/// The in-toto Statement media type: a referrer's `artifactType` and layer media type, and a
/// DSSE envelope's `payloadType`.
pub const MEDIA_IN_TOTO: &str = "application/vnd.in-toto+json";
/// A Sigstore bundle (v0.3) as JSON.
pub const MEDIA_SIGSTORE_BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// `predicateType` of SLSA Provenance v1.
pub const PREDICATE_SLSA_PROVENANCE: &str = "https://slsa.dev/provenance/v1";
/// `predicateType` of an SPDX document (the value BuildKit uses).
pub const PREDICATE_SPDX: &str = "https://spdx.dev/Document";
