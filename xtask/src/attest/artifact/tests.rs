use serde_json::json;

use super::*;
use crate::attest::input::Subject;
use crate::attest::sign::tests::generated_signer;
use crate::oci::{MEDIA_INDEX, MEDIA_LAYER_GZIP};

const CREATED: &str = "2024-05-01T12:00:00Z";

fn image_index() -> (Index, Descriptor, Descriptor) {
    let mut amd = Descriptor::of(MEDIA_MANIFEST, b"amd64 manifest");
    amd.platform = Some(DescriptorPlatform {
        architecture: "amd64".into(),
        os: "linux".into(),
        variant: None,
        os_version: None,
    });
    let mut arm = Descriptor::of(MEDIA_MANIFEST, b"arm64 manifest");
    arm.platform = Some(DescriptorPlatform {
        architecture: "arm64".into(),
        os: "linux".into(),
        variant: None,
        os_version: None,
    });
    (Index::new(vec![amd.clone(), arm.clone()]), amd, arm)
}

fn statement_about(digest: &Digest, predicate_type: &str) -> Statement {
    let subject = Subject {
        name: "ghcr.io/o/app".into(),
        digest: digest.clone(),
    };
    Statement::new(&subject, predicate_type, json!({"x": 1}))
}

#[test]
fn empty_descriptor_is_the_well_known_one() {
    let d = empty_descriptor();
    assert_eq!(d.media_type, "application/vnd.oci.empty.v1+json");
    assert_eq!(d.size, 2);
    assert_eq!(
        d.digest.as_str(),
        "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    );
}

#[test]
fn statement_referrer_points_at_its_subject_with_an_empty_config() {
    let index_desc = Descriptor::of(MEDIA_INDEX, b"index");
    let st = statement_about(&index_desc.digest, "https://slsa.dev/provenance/v1");
    let a = statement_referrer(&index_desc, &st, CREATED);
    let m: serde_json::Value = serde_json::from_slice(&a.manifest_bytes).unwrap();
    assert_eq!(m["artifactType"], "application/vnd.in-toto+json");
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );
    assert_eq!(
        m["subject"],
        json!({"mediaType": MEDIA_INDEX, "digest": index_desc.digest.as_str(), "size": 5})
    );
    assert_eq!(m["layers"][0]["mediaType"], "application/vnd.in-toto+json");
    assert_eq!(
        m["layers"][0]["annotations"]["in-toto.io/predicate-type"],
        "https://slsa.dev/provenance/v1"
    );
    assert_eq!(
        m["annotations"]["in-toto.io/predicate-type"],
        "https://slsa.dev/provenance/v1"
    );
    assert_eq!(
        m["annotations"]["org.opencontainers.image.created"],
        CREATED
    );
    assert_eq!(a.descriptor.digest, Digest::of(&a.manifest_bytes));
    assert_eq!(
        a.descriptor.artifact_type.as_deref(),
        Some("application/vnd.in-toto+json")
    );
    assert_eq!(a.descriptor.annotations, a.manifest.annotations);
    assert_eq!(a.blobs[0], (empty_descriptor(), b"{}".to_vec()));
    assert_eq!(a.blobs[1].1, st.to_bytes());
    assert_eq!(a.blobs[1].0.digest, Digest::of(&st.to_bytes()));
}

#[test]
fn bundle_referrer_is_shaped_like_actions_attest() {
    let (_, amd, _) = image_index();
    let st = statement_about(&amd.digest, "https://spdx.dev/Document");
    let bundle = Bundle::sign_statement(&generated_signer(), &st.to_bytes()).unwrap();
    let a = bundle_referrer(&amd, &bundle, &st.predicate_type, CREATED);
    let m: serde_json::Value = serde_json::from_slice(&a.manifest_bytes).unwrap();
    assert_eq!(
        m["artifactType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    assert_eq!(
        m["layers"][0]["mediaType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    assert_eq!(
        m["annotations"]["dev.sigstore.bundle.content"],
        "dsse-envelope"
    );
    assert_eq!(
        m["annotations"]["dev.sigstore.bundle.predicateType"],
        "https://spdx.dev/Document"
    );
    assert!(
        m["subject"].get("platform").is_none(),
        "subject is media type, digest and size only"
    );
    assert_eq!(a.blobs[1].1, bundle.to_bytes());
}

#[test]
fn merge_referrers_adds_once_and_keeps_what_was_there() {
    let first = Descriptor::of(MEDIA_MANIFEST, b"first referrer");
    let mut foreign = Descriptor::of(MEDIA_MANIFEST, b"a cosign signature");
    foreign.artifact_type = Some("application/vnd.dev.cosign.artifact.sig.v1+json".into());
    let second = Descriptor::of(MEDIA_MANIFEST, b"second referrer");

    let created = merge_referrers(None, first.clone()).unwrap();
    assert_eq!(created.manifests, vec![first.clone()]);
    assert_eq!(created.media_type.as_deref(), Some(MEDIA_INDEX));

    let existing = Index::new(vec![foreign.clone(), first.clone()]);
    for (name, existing, new, want) in [
        (
            "already listed",
            Some(existing.clone()),
            first.clone(),
            None,
        ),
        (
            "appended after others",
            Some(existing.clone()),
            second.clone(),
            Some(vec![foreign.clone(), first.clone(), second.clone()]),
        ),
        (
            "new index",
            None,
            second.clone(),
            Some(vec![second.clone()]),
        ),
    ] {
        let got = merge_referrers(existing, new).map(|i| i.manifests);
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn fallback_tag_is_the_digest_with_a_dash() {
    let d = Digest::of(b"x");
    assert_eq!(fallback_tag(&d), format!("sha256-{}", d.hex()));
}

#[test]
fn in_index_appends_one_attestation_manifest_per_platform() {
    let (index, amd, arm) = image_index();
    let atts = [
        PlatformAttestations {
            manifest: amd.digest.clone(),
            statements: vec![
                statement_about(&amd.digest, "https://slsa.dev/provenance/v1"),
                statement_about(&amd.digest, "https://spdx.dev/Document"),
            ],
        },
        PlatformAttestations {
            manifest: arm.digest.clone(),
            statements: vec![statement_about(
                &arm.digest,
                "https://slsa.dev/provenance/v1",
            )],
        },
    ];
    let got = add_in_index(&index, &atts).unwrap();
    assert_eq!(got.index.manifests.len(), 4);
    assert_eq!(
        got.index.manifests[..2],
        index.manifests[..],
        "runnable entries unchanged"
    );
    for (entry, platform_digest, layers) in [
        (&got.index.manifests[2], &amd.digest, 2),
        (&got.index.manifests[3], &arm.digest, 1),
    ] {
        let p = entry.platform.as_ref().unwrap();
        assert_eq!(
            (p.os.as_str(), p.architecture.as_str()),
            ("unknown", "unknown")
        );
        assert_eq!(
            entry.annotations["vnd.docker.reference.type"],
            "attestation-manifest"
        );
        assert_eq!(
            entry.annotations["vnd.docker.reference.digest"],
            platform_digest.as_str()
        );
        let (_, bytes) = got
            .blobs
            .iter()
            .find(|(d, _)| d.digest == entry.digest)
            .unwrap();
        let m: Manifest = serde_json::from_slice(bytes).unwrap();
        assert_eq!(m.layers.len(), layers);
        assert!(m.layers.iter().all(|l| l.media_type == MEDIA_IN_TOTO
            && l.annotations.contains_key("in-toto.io/predicate-type")));
        let (_, config) = got
            .blobs
            .iter()
            .find(|(d, _)| d.digest == m.config.digest)
            .unwrap();
        let config: serde_json::Value = serde_json::from_slice(config).unwrap();
        assert_eq!(config["architecture"], "unknown");
        assert_eq!(
            config["rootfs"]["diff_ids"].as_array().unwrap().len(),
            layers
        );
        for l in &m.layers {
            assert!(got
                .blobs
                .iter()
                .any(|(d, b)| d.digest == l.digest && Digest::of(b) == l.digest));
        }
    }
}

#[test]
fn in_index_replaces_an_older_attestation_for_the_same_platform() {
    let (index, amd, _) = image_index();
    let att = |pt: &str| PlatformAttestations {
        manifest: amd.digest.clone(),
        statements: vec![statement_about(&amd.digest, pt)],
    };
    let once = add_in_index(&index, &[att("https://slsa.dev/provenance/v1")]).unwrap();
    let twice = add_in_index(&once.index, &[att("https://spdx.dev/Document")]).unwrap();
    assert_eq!(twice.index.manifests.len(), 3);
    assert_ne!(twice.index.manifests[2], once.index.manifests[2]);
}

#[test]
fn in_index_refuses_statements_that_do_not_fit() {
    let (index, amd, arm) = image_index();
    let stranger = Digest::of(b"not in the index");
    for (name, att, fix) in [
        (
            "unknown manifest",
            PlatformAttestations {
                manifest: stranger.clone(),
                statements: vec![statement_about(&stranger, "t")],
            },
            "not a platform manifest",
        ),
        (
            "wrong subject",
            PlatformAttestations {
                manifest: amd.digest.clone(),
                statements: vec![statement_about(&arm.digest, "t")],
            },
            "does not name",
        ),
        (
            "nothing to attach",
            PlatformAttestations {
                manifest: amd.digest.clone(),
                statements: vec![],
            },
            "no Statement",
        ),
    ] {
        let err = add_in_index(&index, &[att]).unwrap_err().to_string();
        assert!(err.contains(fix), "{name}: {err}");
    }
}

#[test]
fn layer_media_types_of_images_are_not_attestation_entries() {
    let plain = Descriptor::of(MEDIA_LAYER_GZIP, b"l");
    assert!(!is_attestation_entry(&plain));
}

#[test]
fn readers_find_attestations_in_both_forms() {
    let (index, amd, arm) = image_index();
    let st = statement_about(&index_digest(&index), "https://slsa.dev/provenance/v1");
    let unsigned = statement_referrer(&amd, &st, CREATED).descriptor;
    let bundle = Bundle::sign_statement(&generated_signer(), &st.to_bytes()).unwrap();
    let signed = bundle_referrer(&amd, &bundle, &st.predicate_type, CREATED).descriptor;
    let mut cosign_sig = Descriptor::of(MEDIA_MANIFEST, b"sig");
    cosign_sig.artifact_type = Some("application/vnd.dev.cosign.artifact.sig.v1+json".into());
    let referrers = Index::new(vec![unsigned.clone(), cosign_sig, signed.clone()]);
    assert_eq!(attestation_referrers(&referrers), [&unsigned, &signed]);

    let att = PlatformAttestations {
        manifest: arm.digest.clone(),
        statements: vec![statement_about(
            &arm.digest,
            "https://slsa.dev/provenance/v1",
        )],
    };
    let with = add_in_index(&index, &[att]).unwrap().index;
    assert_eq!(
        in_index_attestations(&with, &arm.digest),
        [&with.manifests[2]]
    );
    assert!(in_index_attestations(&with, &amd.digest).is_empty());
}

fn index_digest(index: &Index) -> Digest {
    Digest::of(&oci::to_bytes(index))
}
