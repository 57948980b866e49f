//! Attestations as OCI artifacts: OCI 1.1 referrers (with the `sha256-<hex>` fallback tag for
//! registries without the referrers API), and BuildKit's attestation manifests inside the
//! image index (`provenance = "index"`).

use std::collections::BTreeMap;

use anyhow::{bail, Result};

use crate::oci::{
    self, ContainerConfig, Descriptor, DescriptorPlatform, Digest, ImageConfig, Index, Manifest,
    RootFs, MEDIA_CONFIG, MEDIA_EMPTY, MEDIA_MANIFEST,
};

use super::dsse::Bundle;
use super::statement::Statement;
use super::{MEDIA_IN_TOTO, MEDIA_SIGSTORE_BUNDLE};

/// Layer annotation (and manifest annotation on referrers): the Statement's predicate type.
pub const ANNOTATION_PREDICATE_TYPE: &str = "in-toto.io/predicate-type";
/// On a bundle referrer: what the bundle holds (`dsse-envelope`).
pub const ANNOTATION_BUNDLE_CONTENT: &str = "dev.sigstore.bundle.content";
/// On a bundle referrer: the predicate type of the signed Statement.
pub const ANNOTATION_BUNDLE_PREDICATE_TYPE: &str = "dev.sigstore.bundle.predicateType";
/// When the artifact was made (RFC 3339).
pub const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";
/// BuildKit: marks an index entry as an attestation manifest.
pub const ANNOTATION_REFERENCE_TYPE: &str = "vnd.docker.reference.type";
/// BuildKit: the platform manifest an attestation manifest is about.
pub const ANNOTATION_REFERENCE_DIGEST: &str = "vnd.docker.reference.digest";
pub const REFERENCE_TYPE_ATTESTATION: &str = "attestation-manifest";

/// The OCI empty blob `{}`.
pub const EMPTY_JSON: &[u8] = b"{}";

/// The OCI empty descriptor (`application/vnd.oci.empty.v1+json`, `{}`, size 2).
pub fn empty_descriptor() -> Descriptor {
    Descriptor::of(MEDIA_EMPTY, EMPTY_JSON)
}

/// A manifest to push and the blobs it needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Artifact {
    pub manifest: Manifest,
    /// The bytes to PUT (their digest is `descriptor.digest`).
    pub manifest_bytes: Vec<u8>,
    /// The manifest's descriptor, carrying its `artifactType` and annotations: the entry for a
    /// referrers index.
    pub descriptor: Descriptor,
    /// Config and layer blobs, pushed before the manifest.
    pub blobs: Vec<(Descriptor, Vec<u8>)>,
}

/// A referrer holding an unsigned Statement (`artifactType` `application/vnd.in-toto+json`).
/// `subject` is the image index or platform manifest; `created` is RFC 3339.
pub fn statement_referrer(subject: &Descriptor, statement: &Statement, created: &str) -> Artifact {
    let annotations = BTreeMap::from([
        (
            ANNOTATION_PREDICATE_TYPE.to_string(),
            statement.predicate_type.clone(),
        ),
        (ANNOTATION_CREATED.to_string(), created.to_string()),
    ]);
    let mut layer = Descriptor::of(MEDIA_IN_TOTO, &statement.to_bytes());
    layer.annotations.insert(
        ANNOTATION_PREDICATE_TYPE.into(),
        statement.predicate_type.clone(),
    );
    referrer(
        subject,
        MEDIA_IN_TOTO,
        (layer, statement.to_bytes()),
        annotations,
    )
}

/// A referrer holding a Sigstore bundle, as `actions/attest` and cosign v3 write it.
pub fn bundle_referrer(
    subject: &Descriptor,
    bundle: &Bundle,
    predicate_type: &str,
    created: &str,
) -> Artifact {
    let annotations = BTreeMap::from([
        (
            ANNOTATION_BUNDLE_CONTENT.to_string(),
            "dsse-envelope".to_string(),
        ),
        (
            ANNOTATION_BUNDLE_PREDICATE_TYPE.to_string(),
            predicate_type.to_string(),
        ),
        (ANNOTATION_CREATED.to_string(), created.to_string()),
    ]);
    let bytes = bundle.to_bytes();
    let layer = Descriptor::of(MEDIA_SIGSTORE_BUNDLE, &bytes);
    referrer(subject, MEDIA_SIGSTORE_BUNDLE, (layer, bytes), annotations)
}

fn referrer(
    subject: &Descriptor,
    artifact_type: &str,
    layer: (Descriptor, Vec<u8>),
    annotations: BTreeMap<String, String>,
) -> Artifact {
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(MEDIA_MANIFEST.into()),
        artifact_type: Some(artifact_type.into()),
        config: empty_descriptor(),
        layers: vec![layer.0.clone()],
        subject: Some(Descriptor::new(
            &subject.media_type,
            subject.digest.clone(),
            subject.size,
        )),
        annotations: annotations.clone(),
    };
    let manifest_bytes = oci::to_bytes(&manifest);
    let mut descriptor = Descriptor::of(MEDIA_MANIFEST, &manifest_bytes);
    descriptor.artifact_type = Some(artifact_type.into());
    descriptor.annotations = annotations;
    Artifact {
        manifest,
        manifest_bytes,
        descriptor,
        blobs: vec![(empty_descriptor(), EMPTY_JSON.to_vec()), layer],
    }
}

pub use crate::oci::referrers_tag::{fallback_tag, merge_referrers};

/// The Statements BuildKit-style attestation manifest will hold for one platform manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct PlatformAttestations {
    /// The platform manifest's digest; every Statement must name it as a subject.
    pub manifest: Digest,
    pub statements: Vec<Statement>,
}

/// An image index with attestation manifests, and the blobs to write for them.
#[derive(Debug, Clone, PartialEq)]
pub struct InIndex {
    pub index: Index,
    /// Attestation manifests, their configs and their layers.
    pub blobs: Vec<(Descriptor, Vec<u8>)>,
}

/// `index` with one BuildKit attestation manifest per entry of `attestations` appended
/// (platform `unknown/unknown`, `vnd.docker.reference.*` annotations). Runnable entries stay
/// as they are; an older attestation manifest for the same platform manifest is replaced.
pub fn add_in_index(index: &Index, attestations: &[PlatformAttestations]) -> Result<InIndex> {
    let mut out = index.clone();
    let mut blobs = Vec::new();
    for att in attestations {
        if !index
            .manifests
            .iter()
            .any(|d| d.digest == att.manifest && !is_attestation_entry(d))
        {
            bail!(
                "{} is not a platform manifest of the image index: attest the manifests the index lists",
                att.manifest
            );
        }
        if att.statements.is_empty() {
            bail!("no Statement to attach to {}", att.manifest);
        }
        let mut layers = Vec::new();
        for st in &att.statements {
            if !st.names_subject(att.manifest.hex()) {
                bail!(
                    "a {} Statement does not name {} as its subject: make the Statement about the platform manifest it is attached to",
                    st.predicate_type,
                    att.manifest
                );
            }
            let bytes = st.to_bytes();
            let mut layer = Descriptor::of(MEDIA_IN_TOTO, &bytes);
            layer
                .annotations
                .insert(ANNOTATION_PREDICATE_TYPE.into(), st.predicate_type.clone());
            layers.push(layer.clone());
            blobs.push((layer, bytes));
        }
        let config = ImageConfig {
            architecture: "unknown".into(),
            os: "unknown".into(),
            config: Some(ContainerConfig::default()),
            rootfs: RootFs {
                kind: "layers".into(),
                diff_ids: layers.iter().map(|l| l.digest.clone()).collect(),
            },
            ..ImageConfig::default()
        };
        let config_bytes = oci::to_bytes(&config);
        let config_desc = Descriptor::of(MEDIA_CONFIG, &config_bytes);
        blobs.push((config_desc.clone(), config_bytes));
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(MEDIA_MANIFEST.into()),
            artifact_type: None,
            config: config_desc,
            layers,
            subject: None,
            annotations: BTreeMap::new(),
        };
        let manifest_bytes = oci::to_bytes(&manifest);
        let mut entry = Descriptor::of(MEDIA_MANIFEST, &manifest_bytes);
        entry.platform = Some(DescriptorPlatform {
            architecture: "unknown".into(),
            os: "unknown".into(),
            variant: None,
            os_version: None,
        });
        entry.annotations = BTreeMap::from([
            (
                ANNOTATION_REFERENCE_DIGEST.to_string(),
                att.manifest.to_string(),
            ),
            (
                ANNOTATION_REFERENCE_TYPE.to_string(),
                REFERENCE_TYPE_ATTESTATION.to_string(),
            ),
        ]);
        blobs.push((entry.clone(), manifest_bytes));
        out.manifests.retain(|d| {
            !(is_attestation_entry(d)
                && d.annotations.get(ANNOTATION_REFERENCE_DIGEST)
                    == Some(&att.manifest.to_string()))
        });
        out.manifests.push(entry);
    }
    Ok(InIndex { index: out, blobs })
}

/// The entries of a referrers index (API answer or fallback tag) that are attestations
/// stevedore reads: unsigned Statements and Sigstore bundles.
pub fn attestation_referrers(referrers: &Index) -> Vec<&Descriptor> {
    referrers
        .manifests
        .iter()
        .filter(|d| match d.artifact_type.as_deref() {
            Some(t) => t == MEDIA_IN_TOTO || super::sigstore_bundle::is_bundle_media_type(t),
            None => false,
        })
        .collect()
}

/// The BuildKit attestation manifests of an image index that are about `platform_manifest`.
pub fn in_index_attestations<'a>(
    index: &'a Index,
    platform_manifest: &Digest,
) -> Vec<&'a Descriptor> {
    index
        .manifests
        .iter()
        .filter(|d| {
            is_attestation_entry(d)
                && d.annotations
                    .get(ANNOTATION_REFERENCE_DIGEST)
                    .map(String::as_str)
                    == Some(platform_manifest.as_str())
        })
        .collect()
}

/// True for a BuildKit attestation-manifest entry of an image index.
pub fn is_attestation_entry(d: &Descriptor) -> bool {
    d.annotations
        .get(ANNOTATION_REFERENCE_TYPE)
        .map(String::as_str)
        == Some(REFERENCE_TYPE_ATTESTATION)
}

#[cfg(test)]
mod tests;
