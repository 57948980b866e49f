//! The CA bundle shipped in stevedore's image is Mozilla's root program and nothing else: no
//! certificate from the machine that built it. `STEVEDORE_WRITE_CA_BUNDLE=1` regenerates it
//! from the `webpki-root-certs` crate (after a `cargo update -p webpki-root-certs`).

mod support;

use std::path::Path;

use support::roots;

const BUNDLE: &str = "images/stevedore/ca-certificates.crt";

#[test]
fn shipped_ca_bundle_is_exactly_mozillas_root_program() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(BUNDLE);
    let want = roots::mozilla_bundle();
    if std::env::var_os("STEVEDORE_WRITE_CA_BUNDLE").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap();
    let n = roots::assert_only_mozilla_roots(&have);
    assert_eq!(n, webpki_root_certs::TLS_SERVER_ROOT_CERTS.len());
    assert!(
        have == want,
        "{BUNDLE} differs from webpki-root-certs: regenerate it with \
         STEVEDORE_WRITE_CA_BUNDLE=1 cargo test -p xtask --test ca_bundle"
    );
}

#[test]
fn private_roots_are_detected() {
    // The check is not vacuous: a bundle with a root that is not Mozilla's fails it.
    let mut pem = roots::mozilla_bundle();
    pem.push_str("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    let caught = std::panic::catch_unwind(|| roots::assert_only_mozilla_roots(&pem));
    assert!(caught.is_err());
}
