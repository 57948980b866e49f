//! Mozilla's root program as a PEM bundle: what `images/stevedore/ca-certificates.crt` holds.

use base64::Engine as _;

/// The header of the bundle, then every root of `webpki-root-certs` (Mozilla's program, from
/// the CCADB) as a PEM block, in the crate's order.
pub fn mozilla_bundle() -> String {
    let mut out = String::from(
        "# Mozilla's root program, from the webpki-root-certs crate (see Cargo.lock).\n\
         # Generated: STEVEDORE_WRITE_CA_BUNDLE=1 cargo test -p xtask --test ca_bundle\n",
    );
    for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        let b64 = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
        for line in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out
}

/// The DER certificates of a PEM bundle.
pub fn certificates(pem: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in pem.lines() {
        match (line.trim(), cur.as_mut()) {
            ("-----BEGIN CERTIFICATE-----", _) => cur = Some(String::new()),
            ("-----END CERTIFICATE-----", Some(b64)) => {
                out.push(
                    base64::engine::general_purpose::STANDARD
                        .decode(b64.as_bytes())
                        .expect("PEM body is base64"),
                );
                cur = None;
            }
            (l, Some(b64)) => b64.push_str(l),
            _ => {}
        }
    }
    out
}

/// Names of private roots that once slipped into the bundle from a build machine.
pub const PRIVATE_ROOT_NAMES: [&str; 2] = ["Custom Artifactory CA", "sandboxing-egress-ca"];

/// Checks that every certificate of `pem` is one of Mozilla's roots and none of
/// [`PRIVATE_ROOT_NAMES`] appears; returns how many certificates it holds.
pub fn assert_only_mozilla_roots(pem: &str) -> usize {
    let mozilla: std::collections::HashSet<Vec<u8>> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|c| c.as_ref().to_vec())
        .collect();
    let certs = certificates(pem);
    for (i, der) in certs.iter().enumerate() {
        assert!(
            mozilla.contains(der),
            "certificate {i} of the bundle is not in Mozilla's root program"
        );
        for name in PRIVATE_ROOT_NAMES {
            assert!(
                !der.windows(name.len()).any(|w| w == name.as_bytes()),
                "certificate {i} names {name:?}"
            );
        }
    }
    certs.len()
}
