//! Signing keys: the [`Signer`] trait (so keyless Fulcio signing can come later), an ECDSA
//! P-256 signer from a PKCS#8 PEM key (`STEVEDORE_SIGNING_KEY`), and the public key that
//! verifies its signatures. The cryptography is *ring*'s; SPKI parsing is rustls-webpki's.

use std::fmt;

use anyhow::{anyhow, bail, Result};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_ASN1_SIGNING};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{PrivateKeyDer, SubjectPublicKeyInfoDer};
use sha2::{Digest as _, Sha256};

/// Something that signs DSSE PAE bytes.
pub trait Signer {
    /// Names the key for a verifier (written as the bundle's `publicKey.hint` and the DSSE
    /// `keyid`): base64 of the sha256 of the DER SubjectPublicKeyInfo.
    fn key_hint(&self) -> String;
    /// The signature over `pae`, in the encoding the verifier expects (ASN.1 DER for ECDSA).
    fn sign(&self, pae: &[u8]) -> Result<Vec<u8>>;
}

/// The DER prefix of a P-256 SubjectPublicKeyInfo (RFC 5480): SEQUENCE { SEQUENCE {
/// id-ecPublicKey, prime256v1 }, BIT STRING (65-byte uncompressed point) }.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// The private key, which never prints (no `Debug`, no `Display`).
struct SecretKey(EcdsaKeyPair);

/// ECDSA P-256 with SHA-256, the key type `cosign generate-key-pair` and most KMSs make.
pub struct EcdsaP256Signer {
    key: SecretKey,
    rng: SystemRandom,
    spki_der: Vec<u8>,
}

impl fmt::Debug for EcdsaP256Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EcdsaP256Signer")
            .field("key_hint", &self.key_hint())
            .finish_non_exhaustive()
    }
}

impl EcdsaP256Signer {
    /// Loads an unencrypted PKCS#8 PEM P-256 key (PEM label `PRIVATE KEY`), e.g. the
    /// contents of `STEVEDORE_SIGNING_KEY`. Errors never quote the key.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self> {
        let der = PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|_| {
            crate::problem::Problem::usage(
                "the signing key is not a PEM private key",
                "give the text of a PKCS#8 key (PEM label `PRIVATE KEY`), e.g. from `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`",
            )
        })?;
        let pkcs8 = match der {
            PrivateKeyDer::Pkcs8(k) => k,
            PrivateKeyDer::Sec1(_) => bail!(crate::problem::Problem::usage(
                "the signing key is a SEC1 `EC PRIVATE KEY`",
                "convert it to PKCS#8 with `openssl pkcs8 -topk8 -nocrypt -in key.pem -out key.p8.pem`"
            )),
            _ => bail!("the signing key is not an EC key: stevedore signs with ECDSA P-256 (PKCS#8, PEM label `PRIVATE KEY`)"),
        };
        Self::from_pkcs8_der(pkcs8.secret_pkcs8_der())
    }

    /// Loads a DER PKCS#8 P-256 key.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self> {
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, der, &rng).map_err(|_| {
            crate::problem::Problem::usage(
                "the signing key is not an ECDSA P-256 PKCS#8 key (encrypted keys and other curves are not supported)",
                "make one with `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`",
            )
        })?;
        let mut spki_der = P256_SPKI_PREFIX.to_vec();
        spki_der.extend_from_slice(pair.public_key().as_ref());
        Ok(EcdsaP256Signer {
            key: SecretKey(pair),
            rng,
            spki_der,
        })
    }

    /// The public key, to hand to verifiers.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            spki_der: self.spki_der.clone(),
        }
    }
}

impl Signer for EcdsaP256Signer {
    fn key_hint(&self) -> String {
        key_hint(&self.spki_der)
    }

    fn sign(&self, pae: &[u8]) -> Result<Vec<u8>> {
        let sig = self
            .key
            .0
            .sign(&self.rng, pae)
            .map_err(|_| anyhow!("ECDSA signing failed (no system randomness?)"))?;
        Ok(sig.as_ref().to_vec())
    }
}

/// Base64 of the sha256 of a DER SubjectPublicKeyInfo.
fn key_hint(spki_der: &[u8]) -> String {
    B64.encode(Sha256::digest(spki_der))
}

/// An ECDSA P-256 public key (DER SubjectPublicKeyInfo).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    spki_der: Vec<u8>,
}

impl PublicKey {
    /// Reads a PEM `-----BEGIN PUBLIC KEY-----` (what `cosign generate-key-pair` writes to
    /// `cosign.pub`, or `openssl pkey -pubout`).
    pub fn from_pem(pem: &str) -> Result<PublicKey> {
        let spki = SubjectPublicKeyInfoDer::from_pem_slice(pem.as_bytes()).map_err(|e| {
            crate::problem::Problem::usage(
                format!("the public key is not a PEM `-----BEGIN PUBLIC KEY-----` ({e})"),
                "export it with `openssl pkey -pubout -in key.pem`",
            )
        })?;
        let key = PublicKey {
            spki_der: spki.as_ref().to_vec(),
        };
        // Refuse a key that is not P-256 now rather than at the first verification.
        if webpki::RawPublicKeyEntity::try_from(&spki).is_err()
            || !key.spki_der.starts_with(&P256_SPKI_PREFIX)
        {
            bail!("the public key is not an ECDSA P-256 key: stevedore signs with P-256; give the public half of the signing key");
        }
        Ok(key)
    }

    /// PEM `-----BEGIN PUBLIC KEY-----`, 64 base64 characters a line.
    pub fn to_pem(&self) -> String {
        let b64 = B64.encode(&self.spki_der);
        let mut out = String::from("-----BEGIN PUBLIC KEY-----\n");
        for line in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
            out.push('\n');
        }
        out.push_str("-----END PUBLIC KEY-----\n");
        out
    }

    /// Base64 of the sha256 of the DER SubjectPublicKeyInfo (the bundle's `publicKey.hint`).
    pub fn hint(&self) -> String {
        key_hint(&self.spki_der)
    }

    /// Checks an ASN.1 DER ECDSA P-256 SHA-256 signature over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<()> {
        let spki = SubjectPublicKeyInfoDer::from(self.spki_der.as_slice());
        let entity = webpki::RawPublicKeyEntity::try_from(&spki)
            .map_err(|e| anyhow!("the public key cannot be parsed: {e}"))?;
        entity
            .verify_signature(webpki::ring::ECDSA_P256_SHA256, message, signature)
            .map_err(|_| {
                anyhow!(
                    "the signature does not verify with public key {}",
                    self.hint()
                )
            })
    }
}

#[cfg(test)]
pub(crate) mod tests;
