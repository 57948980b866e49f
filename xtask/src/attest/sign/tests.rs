use ring::signature::EcdsaKeyPair;

use super::*;

/// A fresh P-256 key as PKCS#8 PEM text (generated at test time; no key is committed).
pub(crate) fn generated_pem() -> String {
    let rng = SystemRandom::new();
    let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
    let b64 = B64.encode(doc.as_ref());
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    pem("PRIVATE KEY", &lines.join("\n"))
}

/// PEM text: `body` between the BEGIN and END lines of `label` (the armour is assembled here,
/// so that no source line holds a private key's header).
pub(crate) fn pem(label: &str, body: &str) -> String {
    let dashes = "-".repeat(5);
    format!("{dashes}BEGIN {label}{dashes}\n{body}\n{dashes}END {label}{dashes}\n")
}

pub(crate) fn generated_signer() -> EcdsaP256Signer {
    EcdsaP256Signer::from_pkcs8_pem(&generated_pem()).unwrap()
}

#[test]
fn signature_verifies_with_the_public_key_through_its_pem() {
    let signer = generated_signer();
    let sig = signer.sign(b"message").unwrap();
    let public = PublicKey::from_pem(&signer.public_key().to_pem()).unwrap();
    public.verify(b"message", &sig).unwrap();
    assert_eq!(public.hint(), signer.key_hint());
}

#[test]
fn changed_message_or_other_key_fails() {
    let signer = generated_signer();
    let sig = signer.sign(b"message").unwrap();
    assert!(signer.public_key().verify(b"messagE", &sig).is_err());
    let other = generated_signer();
    let err = other.public_key().verify(b"message", &sig).unwrap_err();
    assert!(err.to_string().contains(&other.key_hint()), "{err}");
}

#[test]
fn key_hint_is_base64_sha256_of_the_spki() {
    let signer = generated_signer();
    let pem = signer.public_key().to_pem();
    let spki = SubjectPublicKeyInfoDer::from_pem_slice(pem.as_bytes()).unwrap();
    assert_eq!(spki.as_ref().len(), 91);
    assert_eq!(signer.key_hint(), B64.encode(Sha256::digest(spki.as_ref())));
    assert_eq!(B64.decode(signer.key_hint()).unwrap().len(), 32);
}

#[test]
fn debug_output_never_contains_the_private_key() {
    let pem = generated_pem();
    let signer = EcdsaP256Signer::from_pkcs8_pem(&pem).unwrap();
    let debug = format!("{signer:?}");
    assert!(debug.contains(&signer.key_hint()), "{debug}");
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = B64.decode(body).unwrap();
    // Every 8-byte window of the key material must be absent from the Debug text, in hex
    // and in base64.
    for w in der.windows(8) {
        let hex: String = w.iter().map(|b| format!("{b:02x}")).collect();
        assert!(!debug.contains(&hex), "{debug}");
        assert!(!debug.contains(&B64.encode(w)[..8]), "{debug}");
    }
}

#[test]
fn unusable_keys_are_refused_with_the_fix_and_without_quoting_them() {
    let sec1 = pem("EC PRIVATE KEY", "MHcCAQEEIC1hZg==");
    let pkcs8_garbage = pem("PRIVATE KEY", "AAECAwQFBgc=");
    let public_given = generated_signer().public_key().to_pem();
    for (pem, fix) in [
        ("not a key", "PKCS#8"),
        (sec1.as_str(), "openssl pkcs8 -topk8"),
        (pkcs8_garbage.as_str(), "openssl genpkey"),
        (public_given.as_str(), "PKCS#8"),
    ] {
        let err = EcdsaP256Signer::from_pkcs8_pem(pem)
            .unwrap_err()
            .to_string();
        assert!(err.contains(fix), "{pem}: {err}");
        assert!(
            !err.contains("MHcCAQEEIC1hZg") && !err.contains("AAECAwQFBgc"),
            "{err}"
        );
    }
}

#[test]
fn public_keys_other_than_p256_pem_are_refused() {
    // An Ed25519 SubjectPublicKeyInfo (RFC 8410 example key).
    let ed25519 = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n";
    for (pem, fix) in [(ed25519, "P-256"), ("junk", "openssl pkey -pubout")] {
        let err = PublicKey::from_pem(pem).unwrap_err().to_string();
        assert!(err.contains(fix), "{err}");
    }
}
