//! Bundles made by tests/verify_sigstore_bundle/make_bundle.py (Python `cryptography`): a test
//! CA (root and intermediate, P-384) issued a Fulcio-style leaf (P-256) for the workflow
//! `https://github.com/octo/app/.github/workflows/release.yml@refs/heads/main` (v0.3; v0.2 at
//! `refs/tags/v1.0.0`, with the intermediate in its chain), each signing a provenance about
//! `sha256:aaaa…`. `other-ca.json` is the same from another CA; `p384.json` signs with a P-384
//! key; `server-auth.json`'s certificate is for TLS servers, not code signing. `root.pem` (the
//! test CA's intermediate and root) and `other-root.pem` are the CAs' certificates.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use super::*;

const V03: &[u8] = include_bytes!("testdata/v03.json");
const V02: &[u8] = include_bytes!("testdata/v02.json");
const OTHER_CA: &[u8] = include_bytes!("testdata/other-ca.json");
const ROOT: &[u8] = include_bytes!("testdata/root.pem");
const OTHER_ROOT: &[u8] = include_bytes!("testdata/other-root.pem");
const WORKFLOW: &str = "https://github.com/octo/app/.github/workflows/release.yml@refs/heads/main";

fn root(pem: &[u8]) -> TrustedRoot {
    TrustedRoot::parse("root.pem", pem).unwrap()
}

fn policy(trusted: Option<&[u8]>) -> KeylessPolicy {
    KeylessPolicy {
        trusted_root: trusted.map(root),
        ..KeylessPolicy::default()
    }
}

fn edited(bytes: &[u8], edit: impl FnOnce(&mut serde_json::Value)) -> SigstoreBundle {
    let mut v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    edit(&mut v);
    SigstoreBundle::parse(&serde_json::to_vec(&v).unwrap()).unwrap()
}

#[test]
fn v03_and_v02_bundles_carry_their_certificates() {
    let v03 = SigstoreBundle::parse(V03).unwrap();
    assert_eq!(
        v03.media_type,
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    assert!(matches!(&v03.material, Material::Certificate { chain, .. } if chain.is_empty()));
    assert_eq!((v03.tlog_entries, v03.timestamps), (1, 0));
    let v02 = SigstoreBundle::parse(V02).unwrap();
    assert_eq!(
        v02.media_type,
        "application/vnd.dev.sigstore.bundle+json;version=0.2"
    );
    assert!(matches!(&v02.material, Material::Certificate { chain, .. } if chain.len() == 1));
}

#[test]
fn an_unconstrained_keyless_bundle_verifies_and_says_what_it_did_not_check() {
    let bundle = SigstoreBundle::parse(V03).unwrap();
    let v = verify_keyless(&bundle, &KeylessPolicy::default());
    assert!(
        matches!(&v.signature, Step::Ok(d) if d.contains("ECDSA P-256")),
        "{v:?}"
    );
    let statement: serde_json::Value = serde_json::from_slice(v.payload.as_ref().unwrap()).unwrap();
    assert_eq!(statement["subject"][0]["digest"]["sha256"], "a".repeat(64));
    assert!(matches!(v.chain, Step::NotChecked(_)));
    assert!(matches!(v.signer, Step::NotChecked(_)));
    let notes = v.not_checked.join("\n");
    assert!(notes.contains("no --trusted-root"), "{notes}");
    assert!(notes.contains("1 Rekor entry"), "{notes}");
    assert!(notes.contains("not constrained"), "{notes}");
    let id = v.identity.unwrap();
    assert_eq!(id.subject(), Some(WORKFLOW));
    assert_eq!(id.issuer(), Some(GITHUB_ACTIONS_ISSUER));
    assert_eq!(
        id.repository().as_deref(),
        Some("https://github.com/octo/app")
    );
    assert_eq!(id.git_ref(), Some("refs/heads/main"));
    assert_eq!(
        id.commit(),
        Some("0123456789abcdef0123456789abcdef01234567")
    );
    assert_eq!(id.workflow(), Some(WORKFLOW));
    assert_eq!(id.extension(11), Some("github-hosted"));
    assert_eq!(id.not_after - id.not_before, 11 * 60);
}

#[test]
fn the_chain_is_checked_against_the_trusted_root() {
    for bundle in [V03, V02] {
        let v = verify_keyless(&SigstoreBundle::parse(bundle).unwrap(), &policy(Some(ROOT)));
        assert!(
            matches!(&v.chain, Step::Ok(d) if d.contains("code signing")),
            "{v:?}"
        );
        assert!(!v.not_checked.iter().any(|n| n.contains("trusted-root")));
    }
    let v = verify_keyless(
        &SigstoreBundle::parse(V03).unwrap(),
        &policy(Some(OTHER_ROOT)),
    );
    assert!(
        matches!(&v.chain, Step::Failed { detail, .. } if detail.contains("does not chain")),
        "{v:?}"
    );
    let v = verify_keyless(
        &SigstoreBundle::parse(OTHER_CA).unwrap(),
        &policy(Some(ROOT)),
    );
    assert!(
        matches!(&v.chain, Step::Failed { fix, .. } if fix.contains("--trusted-root")),
        "{v:?}"
    );
    assert!(
        matches!(v.signature, Step::Ok(_)),
        "its own signature is fine"
    );
}

#[test]
fn a_trusted_root_json_is_read_with_its_validity() {
    // Fulcio's form: the intermediate, then the root.
    let chain: Vec<serde_json::Value> = rustls_pki_types::CertificateDer::pem_slice_iter(ROOT)
        .map(|c| serde_json::json!({"rawBytes": B64.encode(c.unwrap().as_ref())}))
        .collect();
    assert_eq!(chain.len(), 2);
    let doc = |start: &str, end: &str| {
        serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [],
            "certificateAuthorities": [{
                "subject": {"organization": "stevedore test", "commonName": "test"},
                "uri": "https://fulcio.test",
                "certChain": {"certificates": chain},
                "validFor": {"start": start, "end": end},
            }],
        })
        .to_string()
    };
    use rustls_pki_types::pem::PemObject as _;
    let bundle = SigstoreBundle::parse(V03).unwrap();
    let jsonl = format!(
        "{}\n{}\n",
        doc("2099-01-01T00:00:00Z", "2100-01-01T00:00:00Z"),
        doc("2020-01-01T00:00:00.000Z", "2090-01-01T00:00:00Z")
    );
    let trusted = TrustedRoot::parse("trusted_root.json", jsonl.as_bytes()).unwrap();
    assert_eq!(trusted.len(), 2);
    let v = verify_keyless(
        &bundle,
        &KeylessPolicy {
            trusted_root: Some(trusted),
            ..KeylessPolicy::default()
        },
    );
    assert!(matches!(v.chain, Step::Ok(_)), "{v:?}");
    let expired = doc("2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z");
    let trusted = TrustedRoot::parse("trusted_root.json", expired.as_bytes()).unwrap();
    let v = verify_keyless(
        &bundle,
        &KeylessPolicy {
            trusted_root: Some(trusted),
            ..KeylessPolicy::default()
        },
    );
    assert!(
        matches!(&v.chain, Step::Failed { detail, .. } if detail.contains("none of its certificate authorities")),
        "{v:?}"
    );
}

#[test]
fn bad_trusted_roots_are_refused() {
    for (bytes, want) in [
        (&b""[..], "no CA certificate"),
        (b"hello", "no CA certificate"),
        (b"{\"certificateAuthorities\": 3}", "trusted_root.json"),
        (b"{\"certificateAuthorities\": [{\"certChain\": {\"certificates\": []}}]}", "0 certificates"),
        (b"{\"certificateAuthorities\": [{\"certChain\": {\"certificates\": [{\"rawBytes\": \"!\"}]}}]}", "base64"),
    ] {
        let err = format!("{:#}", TrustedRoot::parse("f", bytes).unwrap_err());
        assert!(err.contains(want), "{want}: {err}");
    }
    let big = vec![b'x'; trust::MAX_FILE_BYTES + 1];
    assert!(TrustedRoot::parse("f", &big).is_err());
}

#[test]
fn a_changed_payload_or_signature_does_not_verify() {
    let payload = edited(V03, |v| {
        let p = B64
            .decode(v["dsseEnvelope"]["payload"].as_str().unwrap())
            .unwrap();
        let text = String::from_utf8(p)
            .unwrap()
            .replace("refs/heads/main", "refs/heads/evil");
        v["dsseEnvelope"]["payload"] = B64.encode(text).into();
    });
    let signature = edited(V03, |v| {
        let mut s = B64
            .decode(v["dsseEnvelope"]["signatures"][0]["sig"].as_str().unwrap())
            .unwrap();
        let last = s.len() - 1;
        s[last] ^= 1;
        v["dsseEnvelope"]["signatures"][0]["sig"] = B64.encode(s).into();
    });
    let no_signature = edited(V03, |v| {
        v["dsseEnvelope"]["signatures"] = serde_json::json!([])
    });
    let other_type = edited(V03, |v| {
        v["dsseEnvelope"]["payloadType"] = "text/plain".into()
    });
    for (bundle, want) in [
        (payload, "was changed"),
        (signature, "was changed"),
        (no_signature, "no signature"),
        (other_type, "not an in-toto Statement"),
    ] {
        let v = verify_keyless(&bundle, &policy(Some(ROOT)));
        assert!(
            matches!(&v.signature, Step::Failed { detail, .. } if detail.contains(want)),
            "{want}: {v:?}"
        );
        assert_eq!(v.payload, None);
    }
}

#[test]
fn the_signer_is_held_to_what_is_required() {
    let bundle = SigstoreBundle::parse(V03).unwrap();
    let with = |identity: Option<&str>, issuer: Option<&str>, repo: Option<&str>, trusted: bool| {
        let p = KeylessPolicy {
            trusted_root: trusted.then(|| root(ROOT)),
            identity: identity.map(str::to_string),
            issuer: issuer.map(str::to_string),
            repository: repo.map(|r| repository_url(r).unwrap()),
        };
        verify_keyless(&bundle, &p).signer
    };
    let ok = |s: Step| matches!(s, Step::Ok(_));
    assert!(ok(with(Some(WORKFLOW), None, None, true)));
    assert!(ok(with(None, None, Some("octo/app"), true)));
    assert!(ok(with(
        None,
        None,
        Some("https://github.com/Octo/App.git"),
        true
    )));
    assert!(ok(with(
        Some(WORKFLOW),
        Some(GITHUB_ACTIONS_ISSUER),
        Some("octo/app"),
        true
    )));
    let failed = |s: Step, want: &str| match s {
        Step::Failed { detail, fix } => assert!(
            detail.contains(want) || fix.contains(want),
            "{want}: {detail} / {fix}"
        ),
        other => panic!("{want}: {other:?}"),
    };
    failed(
        with(None, None, Some("someone/else"), true),
        "repository https://github.com/someone/else required",
    );
    failed(
        with(
            Some("https://github.com/octo/app/.github/workflows/other.yml@refs/heads/main"),
            None,
            None,
            true,
        ),
        "the certificate names",
    );
    failed(
        with(None, Some("https://gitlab.com"), None, true),
        "issuer https://gitlab.com required",
    );
    failed(
        with(None, Some("https://gitlab.com"), Some("octo/app"), true),
        "issuer",
    );
    failed(with(None, None, Some("octo/app"), false), "--trusted-root");
}

#[test]
fn malformed_bundles_are_refused_with_the_reason() {
    let mut v: serde_json::Value = serde_json::from_slice(V03).unwrap();
    let cert = v["verificationMaterial"]["certificate"].clone();
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|v| {
                v["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=9".into()
            }),
            "none of the versions",
        ),
        (
            Box::new(|v| v["verificationMaterial"]["publicKey"] = serde_json::json!({"hint": "k"})),
            "exactly one",
        ),
        (
            Box::new(|v| {
                v["verificationMaterial"] = serde_json::json!({});
            }),
            "exactly one",
        ),
        (
            Box::new(|v| {
                v.as_object_mut().unwrap().remove("dsseEnvelope");
                v["messageSignature"] = serde_json::json!({});
            }),
            "message signature",
        ),
        (
            Box::new(move |v| {
                v["verificationMaterial"]
                    .as_object_mut()
                    .unwrap()
                    .remove("certificate");
                v["verificationMaterial"]["x509CertificateChain"] =
                    serde_json::json!({"certificates": vec![cert.clone(); 9]});
            }),
            "9 certificates",
        ),
        (
            Box::new(|v| v["verificationMaterial"]["certificate"]["rawBytes"] = "%%".into()),
            "base64",
        ),
        (
            Box::new(|v| {
                v["dsseEnvelope"]["signatures"] =
                    serde_json::json!(vec![serde_json::json!({"sig": ""}); 17])
            }),
            "17 signatures",
        ),
    ];
    for (edit, want) in cases {
        let mut doc = v.clone();
        edit(&mut doc);
        let err = format!(
            "{:#}",
            SigstoreBundle::parse(&serde_json::to_vec(&doc).unwrap()).unwrap_err()
        );
        assert!(err.contains(want), "{want}: {err}");
    }
    assert!(SigstoreBundle::parse(b"[]").is_err());
    // A certificate that is not one: refused when read, never a panic.
    v["verificationMaterial"]["certificate"]["rawBytes"] =
        B64.encode(b"\x30\x03\x02\x01\x01").into();
    let bundle = SigstoreBundle::parse(&serde_json::to_vec(&v).unwrap()).unwrap();
    let verdict = verify_keyless(&bundle, &KeylessPolicy::default());
    assert!(
        matches!(&verdict.signature, Step::Failed { detail, .. } if detail.contains("cannot be read")),
        "{verdict:?}"
    );
}

#[test]
fn repository_arguments_become_urls() {
    for (arg, want) in [
        ("octo/app", Some("https://github.com/octo/app")),
        ("octo/app/", Some("https://github.com/octo/app")),
        (
            "https://ghe.example.com/octo/app",
            Some("https://ghe.example.com/octo/app"),
        ),
        ("octo", None),
        ("octo/app/extra", None),
        ("octo//app", None),
        ("octo/a pp", None),
        ("", None),
    ] {
        assert_eq!(repository_url(arg).ok().as_deref(), want, "{arg}");
    }
}

#[test]
fn bundle_media_types_are_known_by_their_prefix() {
    for t in [
        "application/vnd.dev.sigstore.bundle.v0.3+json",
        "application/vnd.dev.sigstore.bundle+json;version=0.2",
        "application/vnd.dev.sigstore.bundle+json",
    ] {
        assert!(is_bundle_media_type(t), "{t}");
    }
    assert!(!is_bundle_media_type("application/vnd.in-toto+json"));
}

#[test]
fn a_p384_signing_key_verifies_too() {
    let bundle = SigstoreBundle::parse(include_bytes!("testdata/p384.json")).unwrap();
    let v = verify_keyless(&bundle, &policy(Some(ROOT)));
    assert!(
        matches!(&v.signature, Step::Ok(d) if d.contains("ECDSA P-384")),
        "{v:?}"
    );
    assert!(matches!(v.chain, Step::Ok(_)), "{v:?}");
}

#[test]
fn a_certificate_not_for_code_signing_does_not_chain() {
    let bundle = SigstoreBundle::parse(include_bytes!("testdata/server-auth.json")).unwrap();
    let v = verify_keyless(&bundle, &policy(Some(ROOT)));
    assert!(matches!(v.signature, Step::Ok(_)), "{v:?}");
    assert!(
        matches!(&v.chain, Step::Failed { detail, .. } if detail.contains("not for code signing")),
        "{v:?}"
    );
}
