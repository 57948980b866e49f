use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::attest::artifact::{
    add_in_index, bundle_referrer, statement_referrer, PlatformAttestations,
};
use crate::attest::dsse::Bundle;
use crate::attest::input::{BuildFacts, BuilderKind, Source, Subject};
use crate::attest::provenance;
use crate::attest::sign::tests::generated_signer;
use crate::attest::sign::EcdsaP256Signer;
use crate::attest::time::Timestamp;
use crate::oci::{Descriptor, Index, MEDIA_INDEX, MEDIA_MANIFEST};

const CREATED: &str = "2024-05-01T12:00:00Z";

fn image() -> Descriptor {
    Descriptor::of(MEDIA_INDEX, b"image index")
}

fn provenance_of(digest: &Digest) -> Statement {
    let facts = BuildFacts {
        source: Source {
            repository: "https://github.com/o/r".into(),
            git_ref: "refs/tags/v1@2".into(),
            commit: "0123456789abcdef0123456789abcdef01234567".into(),
        },
        config_path: "stevedore.toml".into(),
        config_digest: Digest::of(b"config"),
        image_name: "ghcr.io/o/r".into(),
        platforms: vec!["linux/amd64".into()],
        builder_kind: BuilderKind::Native,
        builder_version: "0.1.0".into(),
        build_args: BTreeMap::new(),
        secret_args: BTreeSet::new(),
        base_images: vec![],
        cargo_lock_digest: None,
        github: None,
        started_on: Timestamp::Unix(0),
        finished_on: Timestamp::Unix(60),
    };
    let subject = Subject {
        name: "ghcr.io/o/r".into(),
        digest: digest.clone(),
    };
    provenance::statement(&subject, &facts).unwrap()
}

fn unsigned() -> (Manifest, Vec<u8>) {
    let a = statement_referrer(&image(), &provenance_of(&image().digest), CREATED);
    (a.manifest, a.blobs[1].1.clone())
}

fn signed(signer: &EcdsaP256Signer) -> (Manifest, Vec<u8>) {
    let st = provenance_of(&image().digest);
    let bundle = Bundle::sign_statement(signer, &st.to_bytes()).unwrap();
    let a = bundle_referrer(&image(), &bundle, &st.predicate_type, CREATED);
    (a.manifest, a.blobs[1].1.clone())
}

fn failed(checks: &[Check]) -> Vec<&'static str> {
    checks.iter().filter(|c| !c.ok).map(|c| c.name).collect()
}

fn names(checks: &[Check]) -> Vec<&'static str> {
    checks.iter().map(|c| c.name).collect()
}

#[test]
fn unsigned_provenance_passes_every_check_it_can_make() {
    let (m, layer) = unsigned();
    let d = image().digest;
    let verdict = verify_layer(
        &m,
        &layer,
        Expected {
            subject: &d,
            public_key: None,
            source_repository: Some("https://github.com/o/r"),
            keyless: &NO_KEYLESS,
        },
    );
    assert!(verdict.is_verified_provenance(), "{verdict:#?}");
    let checks = verdict.checks;
    assert_eq!(
        names(&checks),
        [
            "layer digest",
            "manifest subject",
            "statement",
            "statement subject",
            "predicate type",
            "source repository"
        ]
    );
}

#[test]
fn signed_bundle_passes_with_its_key() {
    let signer = generated_signer();
    let (m, layer) = signed(&signer);
    let (d, key) = (image().digest, signer.public_key());
    let checks = verify_layer(
        &m,
        &layer,
        Expected {
            subject: &d,
            public_key: Some(&key),
            source_repository: None,
            keyless: &NO_KEYLESS,
        },
    )
    .checks;
    assert!(all_ok(&checks), "{checks:#?}");
    assert!(names(&checks).contains(&"signature"));
}

#[test]
fn signed_bundle_without_a_key_says_the_signature_was_not_checked() {
    let (m, layer) = signed(&generated_signer());
    let d = image().digest;
    let checks = verify_layer(
        &m,
        &layer,
        Expected {
            subject: &d,
            public_key: None,
            source_repository: Some("https://github.com/o/r"),
            keyless: &NO_KEYLESS,
        },
    )
    .checks;
    assert!(all_ok(&checks), "{checks:#?}");
    assert!(!names(&checks).contains(&"signature"));
    assert!(
        checks[0].detail.contains("signature is not checked"),
        "{}",
        checks[0].detail
    );
}

#[test]
fn each_problem_fails_its_own_check() {
    let signer = generated_signer();
    let other = generated_signer().public_key();
    let own = signer.public_key();
    let (signed_m, signed_layer) = signed(&signer);
    let (unsigned_m, unsigned_layer) = unsigned();
    let d = image().digest;
    let stranger = Digest::of(b"another image");
    let mut tampered = unsigned_layer.clone();
    tampered[10] ^= 1;
    let expect = |subject, key, repo| Expected {
        subject,
        public_key: key,
        source_repository: repo,
        keyless: &NO_KEYLESS,
    };
    for (name, m, layer, expected, want) in [
        (
            "changed layer",
            &unsigned_m,
            &tampered,
            expect(&d, None, None),
            vec!["layer digest"],
        ),
        (
            "other image",
            &unsigned_m,
            &unsigned_layer,
            expect(&stranger, None, None),
            vec!["manifest subject", "statement subject"],
        ),
        (
            "other key",
            &signed_m,
            &signed_layer,
            expect(&d, Some(&other), None),
            vec!["signature"],
        ),
        (
            "unsigned but key given",
            &unsigned_m,
            &unsigned_layer,
            expect(&d, Some(&own), None),
            vec!["signature"],
        ),
        (
            "other repository",
            &unsigned_m,
            &unsigned_layer,
            expect(&d, None, Some("https://github.com/evil/r")),
            vec!["source repository"],
        ),
    ] {
        let checks = verify_layer(m, layer, expected).checks;
        assert_eq!(failed(&checks), want, "{name}: {checks:#?}");
        assert!(
            checks
                .iter()
                .filter(|c| !c.ok)
                .all(|c| !c.detail.is_empty()),
            "{name}"
        );
    }
}

#[test]
fn repository_spelling_variants_match() {
    let (m, layer) = unsigned();
    let d = image().digest;
    for repo in [
        "https://github.com/o/r",
        "https://github.com/o/r/",
        "https://github.com/o/r.git",
        "https://GitHub.com/O/R",
    ] {
        let checks = verify_layer(
            &m,
            &layer,
            Expected {
                subject: &d,
                public_key: None,
                source_repository: Some(repo),
                keyless: &NO_KEYLESS,
            },
        )
        .checks;
        assert!(all_ok(&checks), "{repo}: {checks:#?}");
    }
}

#[test]
fn buildkit_attestation_manifest_layers_verify_against_the_platform_manifest() {
    let amd = Descriptor::of(MEDIA_MANIFEST, b"amd64");
    let index = Index::new(vec![amd.clone()]);
    let att = PlatformAttestations {
        manifest: amd.digest.clone(),
        statements: vec![provenance_of(&amd.digest)],
    };
    let out = add_in_index(&index, &[att]).unwrap();
    let entry = &out.index.manifests[1];
    let (_, bytes) = out
        .blobs
        .iter()
        .find(|(d, _)| d.digest == entry.digest)
        .unwrap();
    let m: Manifest = serde_json::from_slice(bytes).unwrap();
    let (_, layer) = out
        .blobs
        .iter()
        .find(|(d, _)| d.digest == m.layers[0].digest)
        .unwrap();
    let checks = verify_layer(
        &m,
        layer,
        Expected {
            subject: &amd.digest,
            public_key: None,
            source_repository: Some("https://github.com/o/r"),
            keyless: &NO_KEYLESS,
        },
    )
    .checks;
    assert!(all_ok(&checks), "{checks:#?}");
    assert!(
        !names(&checks).contains(&"manifest subject"),
        "in-index manifests have no subject"
    );
}

#[test]
fn garbage_layers_stop_at_the_first_failed_check() {
    let mut m = unsigned().0;
    let junk = b"not json".to_vec();
    m.layers[0] = Descriptor::of(MEDIA_IN_TOTO, &junk);
    let d = image().digest;
    let checks = verify_layer(
        &m,
        &junk,
        Expected {
            subject: &d,
            public_key: None,
            source_repository: None,
            keyless: &NO_KEYLESS,
        },
    )
    .checks;
    assert_eq!(failed(&checks), ["statement"]);
    assert_eq!(checks.last().unwrap().name, "statement");
}

/// An SPDX Statement, signed, about `digest`.
fn signed_sbom(signer: &EcdsaP256Signer, digest: &Digest) -> (Manifest, Vec<u8>) {
    let subject = Subject {
        name: "ghcr.io/o/r".into(),
        digest: digest.clone(),
    };
    let st = Statement::new(
        &subject,
        crate::attest::PREDICATE_SPDX,
        serde_json::json!({"spdxVersion": "SPDX-2.3"}),
    );
    let bundle = Bundle::sign_statement(signer, &st.to_bytes()).unwrap();
    let a = bundle_referrer(&image(), &bundle, &st.predicate_type, CREATED);
    (a.manifest, a.blobs[1].1.clone())
}

#[test]
fn a_relabelled_sbom_is_not_provenance_whatever_its_annotations_say() {
    let signer = generated_signer();
    let key = signer.public_key();
    let d = image().digest;
    let (mut m, layer) = signed_sbom(&signer, &d);
    // The attacker rewrites every annotation they can reach to claim SLSA provenance.
    for a in [&mut m.annotations, &mut m.layers[0].annotations] {
        a.insert(
            ANNOTATION_PREDICATE_TYPE.into(),
            PREDICATE_SLSA_PROVENANCE.into(),
        );
        a.insert(
            ANNOTATION_BUNDLE_PREDICATE_TYPE.into(),
            PREDICATE_SLSA_PROVENANCE.into(),
        );
    }
    let verdict = verify_layer(
        &m,
        &layer,
        Expected {
            subject: &d,
            public_key: Some(&key),
            source_repository: Some("https://github.com/o/r"),
            keyless: &NO_KEYLESS,
        },
    );
    assert!(verdict.ok(), "the SBOM itself is genuine: {verdict:#?}");
    assert_eq!(
        verdict.predicate_type.as_deref(),
        Some("https://spdx.dev/Document")
    );
    assert!(!verdict.is_verified_provenance());
    let noted = verdict
        .checks
        .iter()
        .find(|c| c.name == "predicate type")
        .unwrap();
    assert!(noted.detail.contains("ignored"), "{}", noted.detail);
}

#[test]
fn a_statement_about_another_digest_is_never_provenance_of_this_one() {
    let signer = generated_signer();
    let key = signer.public_key();
    let (m, layer) = signed(&signer);
    let other = Digest::of(b"unsigned malware");
    let verdict = verify_layer(
        &m,
        &layer,
        Expected {
            subject: &other,
            public_key: Some(&key),
            source_repository: None,
            keyless: &NO_KEYLESS,
        },
    );
    assert!(!verdict.is_verified_provenance());
    assert!(verdict
        .checks
        .iter()
        .any(|c| c.name == "statement subject" && !c.ok));
}

#[test]
fn a_bundle_of_another_payload_type_is_refused_without_a_key_too() {
    let signer = generated_signer();
    let st = provenance_of(&image().digest);
    let envelope =
        crate::attest::dsse::Envelope::sign(&signer, "text/plain", &st.to_bytes()).unwrap();
    let mut bundle = Bundle::sign_statement(&signer, &st.to_bytes()).unwrap();
    bundle.dsse_envelope = envelope;
    let a = bundle_referrer(&image(), &bundle, &st.predicate_type, CREATED);
    let d = image().digest;
    for key in [None, Some(signer.public_key())] {
        let verdict = verify_layer(
            &a.manifest,
            &a.blobs[1].1,
            Expected {
                subject: &d,
                public_key: key.as_ref(),
                source_repository: None,
                keyless: &NO_KEYLESS,
            },
        );
        assert!(!verdict.is_verified_provenance(), "{verdict:#?}");
        assert!(verdict.predicate_type.is_none());
    }
}

#[test]
fn a_failed_check_from_a_problem_keeps_its_fix_apart() {
    let err = anyhow::Error::from(crate::problem::Problem::registry(
        "the tag holds something other than an image index",
        "re-run to merge again",
    ))
    .context("sha256-abc");
    let check = Check::failed("manifest", &err);
    assert!(!check.ok);
    assert_eq!(
        check.detail,
        "sha256-abc: the tag holds something other than an image index"
    );
    assert_eq!(check.fix.as_deref(), Some("re-run to merge again"));
    let plain = Check::failed("manifest", &anyhow::anyhow!("404"));
    assert_eq!((plain.detail.as_str(), plain.fix), ("404", None));
}

/// No keyless requirement.
static NO_KEYLESS: KeylessPolicy = KeylessPolicy {
    trusted_root: None,
    identity: None,
    issuer: None,
    repository: None,
};

/// A keyless bundle made by tests/verify_sigstore_bundle/make_bundle.py (a test CA's
/// Fulcio-style certificate for octo/app's release workflow) about `sha256:aaaa…`, as the layer
/// of a referrer of that digest.
fn keyless() -> (Manifest, Vec<u8>, Digest) {
    let layer = include_bytes!("../sigstore_bundle/testdata/v03.json").to_vec();
    let digest: Digest = format!("sha256:{}", "a".repeat(64)).parse().unwrap();
    let (mut m, _) = signed(&generated_signer());
    m.layers = vec![Descriptor::of(MEDIA_SIGSTORE_BUNDLE, &layer)];
    m.subject = Some(Descriptor::new(MEDIA_INDEX, digest.clone(), 100));
    (m, layer, digest)
}

fn trusting_test_ca() -> KeylessPolicy {
    let pem = include_bytes!("../sigstore_bundle/testdata/root.pem");
    KeylessPolicy {
        trusted_root: Some(
            crate::attest::sigstore_bundle::TrustedRoot::parse("root.pem", pem).unwrap(),
        ),
        ..KeylessPolicy::default()
    }
}

#[test]
fn a_keyless_bundle_names_its_signer_and_what_was_not_checked() {
    let (m, layer, d) = keyless();
    let expect = |keyless| Expected {
        subject: &d,
        public_key: None,
        source_repository: Some("https://github.com/octo/app"),
        keyless,
    };
    let verdict = verify_layer(&m, &layer, expect(&NO_KEYLESS));
    assert!(verdict.is_verified_provenance(), "{verdict:#?}");
    assert!(names(&verdict.checks).contains(&"signature"));
    assert!(!names(&verdict.checks).contains(&"certificate chain"));
    let signer = verdict.signer.as_ref().unwrap();
    assert_eq!(
        signer.subject(),
        Some("https://github.com/octo/app/.github/workflows/release.yml@refs/heads/main")
    );
    assert_eq!(verdict.not_checked.len(), 3, "{:?}", verdict.not_checked);

    let policy = trusting_test_ca();
    let verdict = verify_layer(&m, &layer, expect(&policy));
    assert!(verdict.is_verified_provenance(), "{verdict:#?}");
    assert!(names(&verdict.checks).contains(&"certificate chain"));
    assert_eq!(verdict.not_checked.len(), 2, "{:?}", verdict.not_checked);
}

#[test]
fn a_required_certificate_refuses_unsigned_and_key_signed_attestations() {
    let policy = trusting_test_ca();
    let d = image().digest;
    for (m, layer) in [unsigned(), signed(&generated_signer())] {
        let verdict = verify_layer(
            &m,
            &layer,
            Expected {
                subject: &d,
                public_key: None,
                source_repository: None,
                keyless: &policy,
            },
        );
        assert_eq!(failed(&verdict.checks), ["signature"], "{verdict:#?}");
        let check = verdict.checks.iter().find(|c| !c.ok).unwrap();
        assert!(
            check
                .detail
                .contains("a certificate from root.pem is required"),
            "{check:?}"
        );
        assert!(check.fix.as_deref().unwrap().contains("--key"), "{check:?}");
        assert!(!verdict.is_verified_provenance());
    }
}
