use super::*;
use crate::compose::load::hashed;
use crate::compose::testutil::Workspace;
use crate::oci::Digest;
use serde_json::{json, Value};

const CREATED: &str = "2026-11-30T10:00:00Z";

fn project() -> (Workspace, Project) {
    let ws = Workspace::new(&[
        (
            "compose.yaml",
            "services:\n  web:\n    image: app:1\n    env_file: app.env\n    extends:\n      file: base.yaml\n      service: base\n",
        ),
        ("compose.prod.yaml", "services:\n  web:\n    restart: always\n"),
        ("base.yaml", "services:\n  base:\n    image: app:1\n"),
        ("app.env", "LOG=debug\n"),
    ]);
    let project = ws.load(&["compose.yaml", "compose.prod.yaml"]).unwrap();
    (ws, project)
}

fn input<'a>(project: &'a Project, pins: Option<&'a ImagePins>) -> ArtifactInput<'a> {
    ArtifactInput {
        project,
        env_files: true,
        image_pins: pins,
        compose_version: "v2.40.3",
        created: CREATED,
    }
}

fn manifest(a: &Artifact) -> Value {
    serde_json::from_slice(&a.manifest).unwrap()
}

#[test]
fn layers_come_in_compose_order_with_compose_annotations() {
    let (_ws, project) = project();
    let pins = ImagePins {
        services: vec![("web".into(), "docker.io/library/app:1@sha256:1111111111111111111111111111111111111111111111111111111111111111".into())],
        unpinned: vec![],
    };
    let a = assemble(&input(&project, Some(&pins)), ManifestForm::Oci11);
    let layers: Vec<(String, String, Option<String>)> = manifest(&a)["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let ann = &l["annotations"];
            let name = ann[ANNOTATION_FILE]
                .as_str()
                .or(ann[ANNOTATION_ENVFILE].as_str());
            (
                l["mediaType"].as_str().unwrap().to_string(),
                name.unwrap().to_string(),
                ann[ANNOTATION_EXTENDS].as_str().map(str::to_string),
            )
        })
        .collect();
    let file = MEDIA_COMPOSE_FILE.to_string();
    assert_eq!(
        layers,
        [
            (file.clone(), "compose.yaml".into(), None),
            (file.clone(), "compose.prod.yaml".into(), None),
            (
                file.clone(),
                hashed(&_ws.abs("base.yaml"), "yaml"),
                Some("true".into())
            ),
            (
                MEDIA_ENV_FILE.into(),
                hashed(&_ws.abs("app.env"), "env"),
                None
            ),
            (file, IMAGE_DIGESTS_FILE.into(), None),
        ]
    );
    for l in manifest(&a)["layers"].as_array().unwrap() {
        assert_eq!(l["annotations"][ANNOTATION_VERSION], "v2.40.3");
    }
}

#[test]
fn every_blob_matches_its_descriptor_and_carries_its_data_inline() {
    let (_ws, project) = project();
    for form in [ManifestForm::Oci11, ManifestForm::Oci10] {
        let a = assemble(&input(&project, None), form);
        assert_eq!(a.blobs.len(), 1 + 4);
        for (d, bytes) in &a.blobs {
            assert_eq!(d.digest, Digest::of(bytes));
            assert_eq!(d.size, bytes.len() as u64);
            let data = base64::engine::general_purpose::STANDARD
                .decode(d.data.as_ref().unwrap())
                .unwrap();
            assert_eq!(&data, bytes);
        }
        assert_eq!(a.manifest_descriptor.digest, Digest::of(&a.manifest));
        assert_eq!(a.manifest_descriptor.size, a.manifest.len() as u64);
        let m = manifest(&a);
        let layer_digests: Vec<&str> = m["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["digest"].as_str().unwrap())
            .collect();
        let blob_digests: Vec<&str> = a.blobs[1..]
            .iter()
            .map(|(d, _)| d.digest.as_str())
            .collect();
        assert_eq!(layer_digests, blob_digests);
    }
}

#[test]
fn the_two_manifest_forms_differ_only_in_artifact_type_and_config() {
    let (_ws, project) = project();
    let cases = [
        (
            ManifestForm::Oci11,
            json!("application/vnd.docker.compose.project"),
            json!({"mediaType": "application/vnd.oci.empty.v1+json", "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "size": 2, "data": "e30="}),
        ),
        (
            ManifestForm::Oci10,
            Value::Null,
            json!({"mediaType": "application/vnd.docker.compose.config.empty.v1+json", "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "size": 2, "data": "e30="}),
        ),
    ];
    for (form, artifact_type, config) in cases {
        let a = assemble(&input(&project, None), form);
        let m = manifest(&a);
        assert_eq!(m["schemaVersion"], 2);
        assert_eq!(m["mediaType"], "application/vnd.oci.image.manifest.v1+json");
        assert_eq!(m["artifactType"], artifact_type);
        assert_eq!(m["config"], config);
        assert_eq!(
            m["annotations"],
            json!({"org.opencontainers.image.created": CREATED})
        );
        assert_eq!(a.blobs[0].1, b"{}");
        assert_eq!(
            a.manifest_descriptor
                .artifact_type
                .as_ref()
                .map(|s| json!(s))
                .unwrap_or(Value::Null),
            artifact_type
        );
    }
}

#[test]
fn env_files_are_left_out_without_env_and_the_bytes_are_reproducible() {
    let (_ws, project) = project();
    let mut without = input(&project, None);
    without.env_files = false;
    let a = assemble(&without, ManifestForm::Oci11);
    assert!(a.blobs.iter().all(|(d, _)| d.media_type != MEDIA_ENV_FILE));
    assert_eq!(assemble(&without, ManifestForm::Oci11), a);
    let compose = String::from_utf8(a.blobs[1].1.clone()).unwrap();
    assert!(
        compose.contains(&format!(
            "env_file: {}\n",
            hashed(&_ws.abs("app.env"), "env")
        )),
        "{compose}"
    );
}

#[test]
fn oci_version_chooses_the_first_form_and_the_fallback() {
    let cases = [
        (
            OciVersion::Auto,
            ManifestForm::Oci11,
            Some(ManifestForm::Oci10),
        ),
        (OciVersion::V1_1, ManifestForm::Oci11, None),
        (OciVersion::V1_0, ManifestForm::Oci10, None),
    ];
    for (v, first, fallback) in cases {
        assert_eq!(
            (v.first_form(), v.fallback_form()),
            (first, fallback),
            "{v:?}"
        );
    }
}
