//! The roots a keyless signing certificate must chain to (`verify --trusted-root FILE`): PEM CA
//! certificates, or Sigstore's `trusted_root.json` (what `gh attestation trusted-root` prints,
//! one JSON document a line; only its `certificateAuthorities` are read). The chain is checked
//! by rustls-webpki, for code signing.

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, UnixTime};
use serde::Deserialize;

/// The largest trusted-root file read.
pub const MAX_FILE_BYTES: usize = 1 << 20;
/// At most this many certificate authorities, and certificates in a chain.
const MAX_AUTHORITIES: usize = 64;
const MAX_CHAIN: usize = 8;

/// The extended key usage a signing certificate must carry: code signing (1.3.6.1.5.5.7.3.3).
const EKU_CODE_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];

/// What webpki may check signatures of a chain with (Fulcio's CAs use ECDSA P-384).
static CHAIN_ALGORITHMS: &[&dyn rustls_pki_types::SignatureVerificationAlgorithm] = &[
    webpki::ring::ECDSA_P256_SHA256,
    webpki::ring::ECDSA_P256_SHA384,
    webpki::ring::ECDSA_P384_SHA256,
    webpki::ring::ECDSA_P384_SHA384,
    webpki::ring::ED25519,
    webpki::ring::RSA_PKCS1_2048_8192_SHA256,
    webpki::ring::RSA_PKCS1_2048_8192_SHA384,
    webpki::ring::RSA_PKCS1_2048_8192_SHA512,
];

/// One certificate authority: its chain (issuing certificate first, root last) and, from a
/// `trusted_root.json`, when it issued certificates.
#[derive(Debug, Clone)]
struct Authority {
    chain: Vec<CertificateDer<'static>>,
    valid_from: Option<i64>,
    valid_until: Option<i64>,
}

/// The trusted certificate authorities, from one file.
#[derive(Debug, Clone)]
pub struct TrustedRoot {
    /// The file, as given (for messages).
    pub file: String,
    authorities: Vec<Authority>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TrustedRootJson {
    #[serde(default)]
    certificate_authorities: Vec<AuthorityJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthorityJson {
    cert_chain: ChainJson,
    #[serde(default)]
    valid_for: Option<ValidFor>,
}

#[derive(Deserialize)]
struct ChainJson {
    certificates: Vec<RawBytes>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawBytes {
    pub raw_bytes: String,
}

#[derive(Deserialize)]
struct ValidFor {
    start: Option<String>,
    end: Option<String>,
}

impl TrustedRoot {
    /// Reads `bytes` (the contents of `file`): a `trusted_root.json` (or several, one a line)
    /// when it starts with `{`, else PEM certificates, each one trusted.
    pub fn parse(file: &str, bytes: &[u8]) -> Result<TrustedRoot> {
        if bytes.len() > MAX_FILE_BYTES {
            bail!(
                "{} bytes, more than the {} KiB a trusted root may have",
                bytes.len(),
                MAX_FILE_BYTES >> 10
            );
        }
        let authorities = if bytes.trim_ascii_start().starts_with(b"{") {
            from_json(bytes)?
        } else {
            from_pem(bytes)?
        };
        if authorities.is_empty() {
            bail!("it holds no CA certificate");
        }
        if authorities.len() > MAX_AUTHORITIES {
            bail!("more than {MAX_AUTHORITIES} certificate authorities");
        }
        Ok(TrustedRoot {
            file: file.to_string(),
            authorities,
        })
    }

    /// How many certificate authorities are trusted.
    pub fn len(&self) -> usize {
        self.authorities.len()
    }

    pub fn is_empty(&self) -> bool {
        self.authorities.is_empty()
    }

    /// Checks that `leaf` chains to one of the authorities that was valid at `at` (seconds since
    /// the epoch), through the authorities' own intermediates and `bundle_chain` (untrusted
    /// certificates the bundle carries), with every certificate valid at `at` and the leaf
    /// allowed to sign code.
    pub fn verify(&self, leaf: &[u8], bundle_chain: &[Vec<u8>], at: i64) -> Result<()> {
        let valid: Vec<&Authority> = self
            .authorities
            .iter()
            .filter(|a| {
                a.valid_from.is_none_or(|s| s <= at) && a.valid_until.is_none_or(|e| at < e)
            })
            .collect();
        if valid.is_empty() {
            bail!(
                "none of its certificate authorities issued certificates at {}",
                show_time(at)
            );
        }
        let mut anchors = Vec::new();
        let mut intermediates: Vec<CertificateDer<'_>> = bundle_chain
            .iter()
            .take(MAX_CHAIN)
            .map(|c| CertificateDer::from(c.as_slice()))
            .collect();
        for a in &valid {
            let (root, rest) = a.chain.split_last().expect("a chain is never empty");
            anchors.push(webpki::anchor_from_trusted_cert(root).map_err(|e| {
                anyhow!("a CA certificate of the trusted root cannot be read: {e}")
            })?);
            intermediates.extend(rest.iter().cloned());
        }
        let leaf = CertificateDer::from(leaf);
        let ee = webpki::EndEntityCert::try_from(&leaf)
            .map_err(|e| anyhow!("the signing certificate cannot be read: {e}"))?;
        let time = UnixTime::since_unix_epoch(Duration::from_secs(at.max(0) as u64));
        ee.verify_for_usage(
            CHAIN_ALGORITHMS,
            &anchors,
            &intermediates,
            time,
            webpki::KeyUsage::required(EKU_CODE_SIGNING),
            None,
            None,
        )
        .map(|_| ())
        .map_err(|e| match e {
            webpki::Error::UnknownIssuer => anyhow!("the certificate does not chain to any CA of the trusted root (it was issued by another CA)"),
            webpki::Error::RequiredEkuNotFoundContext(_) => {
                anyhow!("the certificate is not for code signing (no code-signing extended key usage)")
            }
            other => anyhow!("the certificate chain does not verify: {other}"),
        })
    }
}

/// PEM certificates: each root (self-issued) certificate is an authority, and the others are
/// intermediates that may link a leaf to them (a v0.3 bundle carries only its leaf). A file of
/// intermediates alone trusts each of them.
fn from_pem(bytes: &[u8]) -> Result<Vec<Authority>> {
    let mut roots = Vec::new();
    let mut intermediates = Vec::new();
    for cert in CertificateDer::pem_slice_iter(bytes).take(MAX_AUTHORITIES + 1) {
        let cert = cert.map_err(|e| anyhow!("not PEM certificates: {e}"))?;
        let root = super::certificate::is_self_issued(&cert)
            .map_err(|e| anyhow!("a certificate that cannot be read: {e:#}"))?;
        if root {
            roots.push(cert.into_owned());
        } else {
            intermediates.push(cert.into_owned());
        }
    }
    let authority = |anchor: CertificateDer<'static>, others: &[CertificateDer<'static>]| {
        let mut chain = others.to_vec();
        chain.push(anchor);
        Authority {
            chain,
            valid_from: None,
            valid_until: None,
        }
    };
    Ok(if roots.is_empty() {
        intermediates
            .into_iter()
            .map(|c| authority(c, &[]))
            .collect()
    } else {
        roots
            .into_iter()
            .map(|r| authority(r, &intermediates))
            .collect()
    })
}

fn from_json(bytes: &[u8]) -> Result<Vec<Authority>> {
    let mut out = Vec::new();
    for doc in serde_json::Deserializer::from_slice(bytes).into_iter::<TrustedRootJson>() {
        let doc = doc.context("not a Sigstore trusted_root.json")?;
        for ca in doc.certificate_authorities {
            if ca.cert_chain.certificates.is_empty() || ca.cert_chain.certificates.len() > MAX_CHAIN
            {
                bail!(
                    "a certificate authority with {} certificates",
                    ca.cert_chain.certificates.len()
                );
            }
            let chain = ca
                .cert_chain
                .certificates
                .iter()
                .map(|c| B64.decode(&c.raw_bytes).map(CertificateDer::from))
                .collect::<Result<Vec<_>, _>>()
                .context("a certificate's rawBytes is not base64")?;
            let (valid_from, valid_until) = match &ca.valid_for {
                Some(v) => (
                    parse_time(v.start.as_deref())?,
                    parse_time(v.end.as_deref())?,
                ),
                None => (None, None),
            };
            out.push(Authority {
                chain,
                valid_from,
                valid_until,
            });
            if out.len() > MAX_AUTHORITIES {
                return Ok(out);
            }
        }
    }
    Ok(out)
}

fn parse_time(text: Option<&str>) -> Result<Option<i64>> {
    text.map(|t| {
        t.parse::<jiff::Timestamp>()
            .map(|ts| ts.as_second())
            .with_context(|| format!("validFor time {t:?} is not RFC 3339"))
    })
    .transpose()
}

/// Seconds since the epoch as `2026-12-07T09:00:00Z`.
pub fn show_time(at: i64) -> String {
    jiff::Timestamp::from_second(at).map_or_else(|_| at.to_string(), |t| t.to_string())
}
