//! Sigstore bundles as `actions/attest-build-provenance` (`@actions/attest`, sigstore-js) and
//! `cosign` store them: v0.1 to v0.3, signed with a key (`publicKey`) or keyless (a Fulcio
//! certificate: `certificate` in v0.3, `x509CertificateChain` before), around a DSSE envelope.
//!
//! A keyless bundle is checked offline as far as it can be: the DSSE signature over PAE with the
//! certificate's public key (ECDSA P-256 or P-384), the certificate's chain to a trusted root
//! when one is given (rustls-webpki, code signing, judged at the certificate's issue time), and
//! the signer's identity read from the certificate ([`certificate`]) against what the verifier
//! requires. The transparency log entry and signed timestamps are not checked, and the verdict
//! says so.

use anyhow::{anyhow, bail, Context, Result};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use rustls_pki_types::CertificateDer;
use serde::Deserialize;

use super::dsse::{pae, Envelope};
use super::MEDIA_IN_TOTO;

pub mod certificate;
pub mod der;
pub mod trust;

pub use certificate::Identity;
pub use trust::TrustedRoot;

/// Every Sigstore bundle media type starts so (`…bundle+json;version=0.2`,
/// `…bundle.v0.3+json`); `gh attestation verify` picks referrers by this prefix too.
pub const MEDIA_BUNDLE_PREFIX: &str = "application/vnd.dev.sigstore.bundle";
/// The bundle versions read, as their `mediaType` spells them.
const KNOWN_MEDIA_TYPES: &[&str] = &[
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
    "application/vnd.dev.sigstore.bundle.v0.3+json",
];
/// The largest bundle parsed (as large as an attestation layer may be: SBOMs are big).
pub const MAX_BUNDLE_BYTES: usize = 32 << 20;
/// At most this many certificates in a chain and signatures in an envelope.
const MAX_CERTIFICATES: usize = 8;
const MAX_SIGNATURES: usize = 16;
/// The largest certificate read (Fulcio's are about 1.5 KiB).
const MAX_CERTIFICATE_BYTES: usize = 16 << 10;
/// The OIDC issuer of GitHub Actions, required with `--repo` unless another is given.
pub const GITHUB_ACTIONS_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// True for a Sigstore bundle media type (a layer's or a referrer's `artifactType`).
pub fn is_bundle_media_type(media_type: &str) -> bool {
    media_type.starts_with(MEDIA_BUNDLE_PREFIX)
}

/// Who signed a bundle, as the bundle says (nothing here is trusted yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Material {
    /// Signed with a key the verifier must bring; the hint names it.
    PublicKey { hint: String },
    /// Keyless: the signing certificate (DER) and any further certificates the bundle carries.
    Certificate { leaf: Vec<u8>, chain: Vec<Vec<u8>> },
}

/// A parsed bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigstoreBundle {
    pub media_type: String,
    pub material: Material,
    pub envelope: Envelope,
    /// Transparency log entries and RFC 3161 timestamps the bundle carries (none checked).
    pub tlog_entries: usize,
    pub timestamps: usize,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BundleJson {
    media_type: String,
    verification_material: MaterialJson,
    dsse_envelope: Option<Envelope>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MaterialJson {
    public_key: Option<HintJson>,
    certificate: Option<trust::RawBytes>,
    x509_certificate_chain: Option<ChainJson>,
    #[serde(default)]
    tlog_entries: Vec<serde_json::Value>,
    #[serde(default)]
    timestamp_verification_data: Option<TimestampsJson>,
}

#[derive(Deserialize)]
struct HintJson {
    #[serde(default)]
    hint: String,
}

#[derive(Deserialize)]
struct ChainJson {
    certificates: Vec<trust::RawBytes>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TimestampsJson {
    #[serde(default)]
    rfc3161_timestamps: Vec<serde_json::Value>,
}

impl SigstoreBundle {
    /// Parses a bundle of a known version that carries a DSSE envelope.
    pub fn parse(bytes: &[u8]) -> Result<SigstoreBundle> {
        if bytes.len() > MAX_BUNDLE_BYTES {
            bail!(
                "the bundle is {} bytes, more than the {} MiB read",
                bytes.len(),
                MAX_BUNDLE_BYTES >> 20
            );
        }
        let json: BundleJson = serde_json::from_slice(bytes).context(
            "not a Sigstore bundle (JSON with mediaType, verificationMaterial and dsseEnvelope)",
        )?;
        if !KNOWN_MEDIA_TYPES.contains(&json.media_type.as_str()) {
            bail!(
                "bundle media type {:?} is none of the versions read (0.1 to 0.3)",
                json.media_type
            );
        }
        let envelope = json.dsse_envelope.ok_or_else(|| {
            anyhow!("the bundle carries a message signature, not a DSSE envelope: it signs a blob, not an attestation")
        })?;
        if envelope.signatures.len() > MAX_SIGNATURES {
            bail!(
                "the envelope has {} signatures, more than {MAX_SIGNATURES}",
                envelope.signatures.len()
            );
        }
        let m = json.verification_material;
        let material = match (m.public_key, m.certificate, m.x509_certificate_chain) {
            (Some(k), None, None) => Material::PublicKey { hint: k.hint },
            (None, Some(c), None) => Material::Certificate {
                leaf: certificate_bytes(&c)?,
                chain: Vec::new(),
            },
            (None, None, Some(chain)) => {
                if chain.certificates.is_empty() || chain.certificates.len() > MAX_CERTIFICATES {
                    bail!("x509CertificateChain holds {} certificates (1 to {MAX_CERTIFICATES} are read)", chain.certificates.len());
                }
                let mut certs = chain
                    .certificates
                    .iter()
                    .map(certificate_bytes)
                    .collect::<Result<Vec<_>>>()?;
                let leaf = certs.remove(0);
                Material::Certificate { leaf, chain: certs }
            }
            _ => bail!("verificationMaterial must hold exactly one of publicKey, certificate and x509CertificateChain"),
        };
        Ok(SigstoreBundle {
            media_type: json.media_type,
            material,
            envelope,
            tlog_entries: m.tlog_entries.len(),
            timestamps: m
                .timestamp_verification_data
                .map_or(0, |t| t.rfc3161_timestamps.len()),
        })
    }
}

fn certificate_bytes(raw: &trust::RawBytes) -> Result<Vec<u8>> {
    let der = B64
        .decode(&raw.raw_bytes)
        .context("a certificate's rawBytes is not base64")?;
    if der.len() > MAX_CERTIFICATE_BYTES {
        bail!(
            "a certificate of {} bytes, more than {} KiB",
            der.len(),
            MAX_CERTIFICATE_BYTES >> 10
        );
    }
    Ok(der)
}

/// What a verifier requires of keyless signatures.
#[derive(Debug, Clone, Default)]
pub struct KeylessPolicy {
    /// The roots the certificate must chain to (`--trusted-root`).
    pub trusted_root: Option<TrustedRoot>,
    /// A subject alternative name the certificate must carry (`--certificate-identity`).
    pub identity: Option<String>,
    /// The OIDC issuer (`--certificate-oidc-issuer`).
    pub issuer: Option<String>,
    /// The source repository URI (`--repo OWNER/REPO`, as `https://github.com/OWNER/REPO`).
    pub repository: Option<String>,
}

impl KeylessPolicy {
    /// True when attestations must be signed by a certificate: a trusted root or a signer was
    /// asked for.
    pub fn requires_certificate(&self) -> bool {
        self.trusted_root.is_some() || self.constrains_signer()
    }

    /// True when the signer's identity is constrained.
    pub fn constrains_signer(&self) -> bool {
        self.identity.is_some() || self.issuer.is_some() || self.repository.is_some()
    }

    /// The issuer required: the one given, else GitHub Actions' when a repository is required.
    fn required_issuer(&self) -> Option<&str> {
        self.issuer
            .as_deref()
            .or(self.repository.as_ref().map(|_| GITHUB_ACTIONS_ISSUER))
    }

    /// What is required, for messages: `repository https://github.com/o/r, issuer …`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(i) = &self.identity {
            parts.push(format!("identity {i}"));
        }
        if let Some(r) = &self.repository {
            parts.push(format!("repository {r}"));
        }
        if let Some(i) = self.required_issuer() {
            parts.push(format!("issuer {i}"));
        }
        parts.join(", ")
    }
}

/// The outcome of one step of a keyless verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Ok(String),
    Failed {
        detail: String,
        fix: String,
    },
    /// Not checked (offline, or not asked for): why, for the report.
    NotChecked(String),
}

/// The verdict on a keyless bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeylessVerdict {
    /// What the certificate says (when it could be read).
    pub identity: Option<Identity>,
    /// The DSSE signature with the certificate's key: `Ok` or `Failed`.
    pub signature: Step,
    /// The signed Statement bytes, when the signature verified.
    pub payload: Option<Vec<u8>>,
    pub chain: Step,
    pub signer: Step,
    /// What was not checked, said plainly.
    pub not_checked: Vec<String>,
}

/// Checks a keyless bundle: the signature with its certificate's key, the chain to the trusted
/// root (if any), and the signer against `policy`.
pub fn verify_keyless(bundle: &SigstoreBundle, policy: &KeylessPolicy) -> KeylessVerdict {
    let mut verdict = KeylessVerdict {
        identity: None,
        signature: Step::NotChecked(String::new()),
        payload: None,
        chain: Step::NotChecked(String::new()),
        signer: Step::NotChecked(String::new()),
        not_checked: Vec::new(),
    };
    let Material::Certificate { leaf, chain } = &bundle.material else {
        verdict.signature = Step::Failed {
            detail: "the bundle is signed with a key, not a certificate".into(),
            fix: "verify it with --key PUB.pem".into(),
        };
        return verdict;
    };
    let identity = match certificate::identity(leaf) {
        Ok(i) => i,
        Err(e) => {
            verdict.signature = Step::Failed {
                detail: format!("the bundle's certificate cannot be read: {e:#}"),
                fix: "the bundle is corrupt or not a Sigstore bundle: recreate the attestation"
                    .into(),
            };
            return verdict;
        }
    };
    match signed_with_certificate(&bundle.envelope, leaf) {
        Ok((payload, curve)) => {
            verdict.signature = Step::Ok(format!(
                "DSSE signature verifies with the certificate's {curve} key"
            ));
            verdict.payload = Some(payload);
        }
        Err(e) => {
            verdict.signature = Step::Failed {
                detail: format!("{e:#}"),
                fix: "the attestation was changed after it was signed: do not trust it; attest the image again".into(),
            };
        }
    }
    verdict.chain = check_chain(policy, &identity, leaf, chain);
    verdict.signer = check_signer(policy, &identity, &verdict.chain);
    if let Step::NotChecked(why) = &verdict.chain {
        verdict.not_checked.push(why.clone());
    }
    verdict.not_checked.push(format!(
        "the transparency log and timestamps: the bundle's {} Rekor entr{} and {} RFC 3161 timestamp{} are not checked offline, so that the signature was made while the certificate was valid is not proven",
        bundle.tlog_entries,
        if bundle.tlog_entries == 1 { "y" } else { "ies" },
        bundle.timestamps,
        if bundle.timestamps == 1 { "" } else { "s" },
    ));
    if let Step::NotChecked(why) = &verdict.signer {
        verdict.not_checked.push(why.clone());
    }
    verdict.identity = Some(identity);
    verdict
}

/// The payload and the key's curve, when a signature of the envelope verifies over PAE with the
/// certificate's public key.
fn signed_with_certificate(envelope: &Envelope, leaf: &[u8]) -> Result<(Vec<u8>, &'static str)> {
    if envelope.payload_type != MEDIA_IN_TOTO {
        bail!(
            "the envelope carries {:?}, not an in-toto Statement ({MEDIA_IN_TOTO})",
            envelope.payload_type
        );
    }
    if envelope.signatures.is_empty() {
        bail!("the DSSE envelope has no signature");
    }
    let payload = envelope.payload_bytes()?;
    let message = pae(&envelope.payload_type, &payload);
    let cert = CertificateDer::from(leaf);
    let ee = webpki::EndEntityCert::try_from(&cert)
        .map_err(|e| anyhow!("the bundle's certificate cannot be read: {e}"))?;
    let curves: [(&dyn rustls_pki_types::SignatureVerificationAlgorithm, &str); 2] = [
        (webpki::ring::ECDSA_P256_SHA256, "ECDSA P-256"),
        (webpki::ring::ECDSA_P384_SHA384, "ECDSA P-384"),
    ];
    for s in &envelope.signatures {
        let Ok(sig) = B64.decode(&s.sig) else {
            continue;
        };
        for (alg, curve) in curves {
            if ee.verify_signature(alg, &message, &sig).is_ok() {
                return Ok((payload, curve));
            }
        }
    }
    bail!("no signature of the DSSE envelope verifies with the public key of the bundle's certificate: the payload or the signature was changed")
}

fn check_chain(
    policy: &KeylessPolicy,
    identity: &Identity,
    leaf: &[u8],
    chain: &[Vec<u8>],
) -> Step {
    let Some(root) = &policy.trusted_root else {
        return Step::NotChecked("the certificate chain: no --trusted-root was given, so nothing shows the certificate comes from Sigstore's Fulcio or any CA you trust: anyone can make a certificate naming this identity".into());
    };
    let at = identity.not_before;
    match root.verify(leaf, chain, at) {
        Ok(()) => Step::Ok(format!(
            "chains to {} ({} CA{}), code signing, valid at its issue time {} (the signing time is not proven offline)",
            root.file,
            root.len(),
            if root.len() == 1 { "" } else { "s" },
            trust::show_time(at)
        )),
        Err(e) => Step::Failed {
            detail: format!("{e:#} ({})", root.file),
            fix: "give the root of the CA that issued it with --trusted-root (for GitHub's attestations: `gh attestation trusted-root > trusted_root.json`), or do not trust this attestation".into(),
        },
    }
}

fn check_signer(policy: &KeylessPolicy, identity: &Identity, chain: &Step) -> Step {
    if !policy.constrains_signer() {
        return Step::NotChecked("who signed: not constrained; require a signer with --certificate-identity URI, --certificate-oidc-issuer URL or --repo OWNER/REPO".into());
    }
    let wanted = policy.describe();
    match chain {
        Step::Ok(_) => {}
        Step::NotChecked(_) => return Step::Failed {
            detail: format!("{wanted} required, but the certificate is not checked against a trusted root, so anyone could have made it"),
            fix: "give --trusted-root FILE (PEM CA certificates, or `gh attestation trusted-root > trusted_root.json`)".into(),
        },
        Step::Failed { .. } => return Step::Failed {
            detail: format!("{wanted} required, but the certificate does not chain to the trusted root, so what it names proves nothing"),
            fix: "see the certificate chain check".into(),
        },
    }
    let mut wrong = Vec::new();
    if let Some(want) = &policy.identity {
        if !identity.names.iter().any(|n| n.as_str() == want) {
            let names: Vec<&str> = identity.names.iter().map(|n| n.as_str()).collect();
            wrong.push(format!(
                "identity {want} required, the certificate names {names:?}"
            ));
        }
    }
    if let Some(want) = &policy.repository {
        let have = identity.repository();
        if !have.as_deref().is_some_and(|h| same_repository(h, want)) {
            wrong.push(format!(
                "repository {want} required, the certificate names {}",
                have.as_deref().unwrap_or("none")
            ));
        }
    }
    if let Some(want) = policy.required_issuer() {
        if identity.issuer() != Some(want) {
            wrong.push(format!(
                "issuer {want} required, the certificate names {}",
                identity.issuer().unwrap_or("none")
            ));
        }
    }
    if wrong.is_empty() {
        Step::Ok(format!("{wanted}: as required"))
    } else {
        Step::Failed {
            detail: wrong.join("; "),
            fix: "this image was attested by someone else: do not trust it, or require the signer it names".into(),
        }
    }
}

/// Repository URLs compared without letter case, a trailing `/` or `.git`.
fn same_repository(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        let s = s.trim().trim_end_matches('/');
        s.strip_suffix(".git").unwrap_or(s).to_ascii_lowercase()
    };
    norm(a) == norm(b)
}

/// `OWNER/REPO` (or a repository URL) as the URL a Fulcio certificate names.
pub fn repository_url(arg: &str) -> Result<String> {
    let url = if arg.contains("://") {
        arg.trim_end_matches('/').to_string()
    } else {
        format!("https://github.com/{}", arg.trim_end_matches('/'))
    };
    let path = url.split_once("://").map_or("", |(_, rest)| rest);
    let parts: Vec<&str> = path.split('/').collect();
    let ok = parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
        });
    if !ok {
        bail!("{arg:?} is not OWNER/REPO (or https://HOST/OWNER/REPO)");
    }
    Ok(url)
}

#[cfg(test)]
mod tests;
