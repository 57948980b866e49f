//! The compose OCI artifact: blobs and manifest, as Docker Compose v2.40.3 writes them
//! (`internal/oci/push.go` `DescriptorForComposeFile`, `DescriptorForEnvFile`,
//! `generateManifest`; `pkg/compose/publish.go` `createLayers`).
//!
//! Layers, in order: the compose files as given; the local `extends` parents
//! (`com.docker.compose.extends: "true"`); the env files (with env files); `image-digests.yaml`
//! (when pinning). Every layer descriptor carries its content inline (`data`), as v2.40.3 does.
//! Compose iterates Go maps for the extends parents and env files, so its order varies from run
//! to run; here it is the order in which they are first named, so the artifact is reproducible.

use std::collections::BTreeMap;

use base64::Engine as _;

use super::load::{Project, SourceFile};
use super::pin::ImagePins;
use super::OciVersion;
use crate::oci::{to_bytes, Descriptor, Manifest, MEDIA_EMPTY, MEDIA_MANIFEST};

pub const ARTIFACT_TYPE: &str = "application/vnd.docker.compose.project";
pub const MEDIA_COMPOSE_FILE: &str = "application/vnd.docker.compose.file+yaml";
pub const MEDIA_ENV_FILE: &str = "application/vnd.docker.compose.envfile";
pub const MEDIA_CONFIG_1_0: &str = "application/vnd.docker.compose.config.empty.v1+json";
pub const ANNOTATION_VERSION: &str = "com.docker.compose.version";
pub const ANNOTATION_FILE: &str = "com.docker.compose.file";
pub const ANNOTATION_EXTENDS: &str = "com.docker.compose.extends";
pub const ANNOTATION_ENVFILE: &str = "com.docker.compose.envfile";
pub const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";
pub const IMAGE_DIGESTS_FILE: &str = "image-digests.yaml";

/// The manifest form to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestForm {
    /// `artifactType` set, config is the OCI empty descriptor.
    Oci11,
    /// No `artifactType`; config media type `application/vnd.docker.compose.config.empty.v1+json`.
    Oci10,
}

impl OciVersion {
    /// The form to push first.
    pub fn first_form(self) -> ManifestForm {
        match self {
            OciVersion::Auto | OciVersion::V1_1 => ManifestForm::Oci11,
            OciVersion::V1_0 => ManifestForm::Oci10,
        }
    }

    /// The form to retry with when the registry answers the first with a 4xx other than
    /// 401/403/407 (compose's `isNonAuthClientError`); only in `auto`.
    pub fn fallback_form(self) -> Option<ManifestForm> {
        (self == OciVersion::Auto).then_some(ManifestForm::Oci10)
    }
}

/// What the artifact is made of.
#[derive(Debug, Clone, Copy)]
pub struct ArtifactInput<'a> {
    pub project: &'a Project,
    /// Publish the env files (`--with-env`).
    pub env_files: bool,
    /// The `image-digests.yaml` override, when pinning.
    pub image_pins: Option<&'a ImagePins>,
    /// `com.docker.compose.version`, e.g. `v2.40.3` or stevedore's own version.
    pub compose_version: &'a str,
    /// `org.opencontainers.image.created`, RFC 3339 (the commit time, for reproducibility).
    pub created: &'a str,
}

/// A ready-to-push artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// Every blob, in push order: the config, then the layers.
    pub blobs: Vec<(Descriptor, Vec<u8>)>,
    pub manifest: Vec<u8>,
    /// Describes `manifest` (media type, digest, size, `com.docker.compose.version`, and the
    /// artifact type in the 1.1 form).
    pub manifest_descriptor: Descriptor,
}

/// Builds the artifact in the given form.
pub fn assemble(input: &ArtifactInput, form: ManifestForm) -> Artifact {
    let mut layers: Vec<(Descriptor, Vec<u8>)> = vec![];
    for file in &input.project.files {
        layers.push(compose_layer(file, input.compose_version));
    }
    for file in &input.project.extends {
        let (mut d, bytes) = compose_layer(file, input.compose_version);
        d.annotations
            .insert(ANNOTATION_EXTENDS.into(), "true".into());
        layers.push((d, bytes));
    }
    if input.env_files {
        for env in &input.project.env_files {
            let Some(content) = &env.content else {
                continue;
            };
            let mut d = inline(MEDIA_ENV_FILE, content);
            d.annotations
                .insert(ANNOTATION_VERSION.into(), input.compose_version.into());
            d.annotations
                .insert(ANNOTATION_ENVFILE.into(), env.layer_name.clone());
            layers.push((d, content.clone()));
        }
    }
    if let Some(pins) = input.image_pins {
        let bytes = pins.to_yaml();
        layers.push(file_layer(IMAGE_DIGESTS_FILE, bytes, input.compose_version));
    }

    let (config, artifact_type) = match form {
        ManifestForm::Oci11 => (inline(MEDIA_EMPTY, b"{}"), Some(ARTIFACT_TYPE.to_string())),
        ManifestForm::Oci10 => (inline(MEDIA_CONFIG_1_0, b"{}"), None),
    };
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(MEDIA_MANIFEST.into()),
        artifact_type: artifact_type.clone(),
        config: config.clone(),
        layers: layers.iter().map(|(d, _)| d.clone()).collect(),
        subject: None,
        annotations: BTreeMap::from([(ANNOTATION_CREATED.into(), input.created.into())]),
    };
    let manifest = to_bytes(&manifest);
    let mut manifest_descriptor = Descriptor::of(MEDIA_MANIFEST, &manifest);
    manifest_descriptor
        .annotations
        .insert(ANNOTATION_VERSION.into(), input.compose_version.into());
    manifest_descriptor.artifact_type = artifact_type;

    let mut blobs = vec![(config, b"{}".to_vec())];
    blobs.extend(layers);
    Artifact {
        blobs,
        manifest,
        manifest_descriptor,
    }
}

fn inline(media_type: &str, bytes: &[u8]) -> Descriptor {
    let mut d = Descriptor::of(media_type, bytes);
    d.data = Some(base64::engine::general_purpose::STANDARD.encode(bytes));
    d
}

fn compose_layer(file: &SourceFile, version: &str) -> (Descriptor, Vec<u8>) {
    file_layer(&file.layer_name(), file.published_bytes(), version)
}

fn file_layer(name: &str, bytes: Vec<u8>, version: &str) -> (Descriptor, Vec<u8>) {
    let mut d = inline(MEDIA_COMPOSE_FILE, &bytes);
    d.annotations
        .insert(ANNOTATION_VERSION.into(), version.into());
    d.annotations.insert(ANNOTATION_FILE.into(), name.into());
    (d, bytes)
}

#[cfg(test)]
mod tests;
