use super::*;
use crate::attest::sign::tests::generated_signer;

#[test]
fn pae_matches_the_dsse_spec_vector() {
    assert_eq!(
        pae("http://example.com/HelloWorld", b"hello world"),
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
    );
    assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
}

#[test]
fn pae_counts_bytes_not_characters() {
    assert_eq!(
        pae("t", "é".as_bytes()),
        "DSSEv1 1 t 2 é".as_bytes().to_vec()
    );
}

#[test]
fn signed_bundle_verifies_and_returns_the_statement() {
    let signer = generated_signer();
    let statement = br#"{"_type":"https://in-toto.io/Statement/v1"}"#;
    let bundle = Bundle::sign_statement(&signer, statement).unwrap();
    let parsed = Bundle::parse(&bundle.to_bytes()).unwrap();
    assert_eq!(parsed, bundle);
    assert_eq!(
        parsed.verify(&signer.public_key()).unwrap(),
        statement.to_vec()
    );
    assert_eq!(
        parsed.verification_material.public_key.hint,
        signer.key_hint()
    );
}

#[test]
fn bundle_json_has_the_v03_shape() {
    let signer = generated_signer();
    let bundle = Bundle::sign_statement(&signer, b"{}").unwrap();
    let v: serde_json::Value = serde_json::from_slice(&bundle.to_bytes()).unwrap();
    assert_eq!(
        v["mediaType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    assert_eq!(
        v["verificationMaterial"]["publicKey"]["hint"],
        signer.key_hint()
    );
    assert_eq!(
        v["verificationMaterial"]["tlogEntries"],
        serde_json::json!([])
    );
    assert_eq!(
        v["verificationMaterial"]["timestampVerificationData"],
        serde_json::json!({})
    );
    assert_eq!(
        v["dsseEnvelope"]["payloadType"],
        "application/vnd.in-toto+json"
    );
    assert_eq!(v["dsseEnvelope"]["payload"], "e30=");
    assert!(
        v["dsseEnvelope"]["signatures"][0]["sig"]
            .as_str()
            .unwrap()
            .len()
            > 80
    );
}

/// Changes a signed bundle.
type Tamper = fn(&mut Bundle);

#[test]
fn tampering_or_another_key_fails_verification() {
    let signer = generated_signer();
    let bundle = Bundle::sign_statement(&signer, b"{\"a\":1}").unwrap();
    let cases: [(&str, Tamper); 4] = [
        ("payload", |b| {
            b.dsse_envelope.payload = B64.encode(b"{\"a\":2}")
        }),
        ("payload type", |b| {
            b.dsse_envelope.payload_type = "application/json".into()
        }),
        ("signature", |b| {
            b.dsse_envelope.signatures[0].sig = B64.encode([0u8; 70])
        }),
        ("no signature", |b| b.dsse_envelope.signatures.clear()),
    ];
    for (what, tamper) in cases {
        let mut b = bundle.clone();
        tamper(&mut b);
        assert!(b.verify(&signer.public_key()).is_err(), "{what}");
    }
    let other = generated_signer();
    let err = bundle.verify(&other.public_key()).unwrap_err().to_string();
    assert!(
        err.contains(&signer.key_hint()) && err.contains(&other.key_hint()),
        "{err}"
    );
}

#[test]
fn other_bundle_versions_are_refused() {
    let signer = generated_signer();
    let mut bundle = Bundle::sign_statement(&signer, b"{}").unwrap();
    bundle.media_type = "application/vnd.dev.sigstore.bundle+json;version=0.1".into();
    let err = Bundle::parse(&bundle.to_bytes()).unwrap_err().to_string();
    assert!(err.contains("v0.3"), "{err}");
}
