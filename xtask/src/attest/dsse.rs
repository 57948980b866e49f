//! DSSE envelopes and the Sigstore bundle (v0.3) that carries one.
//!
//! A DSSE signature covers the pre-authentication encoding (PAE) of the payload type and the
//! payload bytes, never the base64 text: `DSSEv1 <len> <type> <len> <payload>`.

use anyhow::{bail, Context, Result};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::sign::{PublicKey, Signer};
use super::MEDIA_SIGSTORE_BUNDLE;

/// `PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths in ASCII
/// decimal bytes.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// A DSSE envelope (JSON field names as in DSSE and the Sigstore protobuf specs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    /// The payload, standard base64.
    pub payload: String,
    pub payload_type: String,
    pub signatures: Vec<Signature>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// Standard base64 of the signature over PAE.
    pub sig: String,
    /// An unauthenticated hint at the key; stevedore writes the key hint.
    #[serde(default)]
    pub keyid: String,
}

impl Envelope {
    /// Signs `payload` as `payload_type` with `signer`.
    pub fn sign(signer: &dyn Signer, payload_type: &str, payload: &[u8]) -> Result<Envelope> {
        let sig = signer.sign(&pae(payload_type, payload))?;
        Ok(Envelope {
            payload: B64.encode(payload),
            payload_type: payload_type.into(),
            signatures: vec![Signature {
                sig: B64.encode(sig),
                keyid: signer.key_hint(),
            }],
        })
    }

    /// The decoded payload.
    pub fn payload_bytes(&self) -> Result<Vec<u8>> {
        B64.decode(&self.payload)
            .context("the DSSE payload is not standard base64: the envelope is corrupt; recreate the attestation")
    }

    /// The payload if one signature verifies with `key` over PAE(payloadType, payload).
    pub fn verify(&self, key: &PublicKey) -> Result<Vec<u8>> {
        let payload = self.payload_bytes()?;
        let message = pae(&self.payload_type, &payload);
        if self.signatures.is_empty() {
            bail!("the DSSE envelope has no signature: sign it (STEVEDORE_SIGNING_KEY) or verify without --key");
        }
        for s in &self.signatures {
            let Ok(sig) = B64.decode(&s.sig) else {
                continue;
            };
            if key.verify(&message, &sig).is_ok() {
                return Ok(payload);
            }
        }
        let signed_by: Vec<&str> = self.signatures.iter().map(|s| s.keyid.as_str()).collect();
        bail!(
            "no signature verifies with the public key {} (signatures name keys {:?}): the payload was changed, or it was signed with another key; verify with the public key of the signing key",
            key.hint(),
            signed_by
        )
    }
}

/// A Sigstore bundle v0.3 for key-based signing (no transparency-log entry, no timestamp).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    pub media_type: String,
    pub verification_material: VerificationMaterial,
    pub dsse_envelope: Envelope,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationMaterial {
    pub public_key: PublicKeyIdentifier,
    #[serde(default)]
    pub tlog_entries: Vec<serde_json::Value>,
    #[serde(default)]
    pub timestamp_verification_data: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKeyIdentifier {
    /// Base64 of the sha256 of the DER SubjectPublicKeyInfo.
    pub hint: String,
}

impl Bundle {
    /// Signs `statement` (in-toto JSON bytes) into a bundle.
    pub fn sign_statement(signer: &dyn Signer, statement: &[u8]) -> Result<Bundle> {
        let envelope = Envelope::sign(signer, super::MEDIA_IN_TOTO, statement)?;
        Ok(Bundle {
            media_type: MEDIA_SIGSTORE_BUNDLE.into(),
            verification_material: VerificationMaterial {
                public_key: PublicKeyIdentifier {
                    hint: signer.key_hint(),
                },
                tlog_entries: Vec::new(),
                timestamp_verification_data: serde_json::json!({}),
            },
            dsse_envelope: envelope,
        })
    }

    /// Parses a bundle, refusing other media types.
    pub fn parse(bytes: &[u8]) -> Result<Bundle> {
        let bundle: Bundle = serde_json::from_slice(bytes).context(
            "not a Sigstore bundle with a publicKey and a dsseEnvelope (keyless bundles are not supported yet)",
        )?;
        if bundle.media_type != MEDIA_SIGSTORE_BUNDLE {
            bail!(
                "bundle media type {:?} is not {MEDIA_SIGSTORE_BUNDLE}: only v0.3 bundles are read",
                bundle.media_type
            );
        }
        Ok(bundle)
    }

    /// The compact JSON stored as the referrer's layer.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a bundle always serialises")
    }

    /// The signed Statement bytes if the envelope verifies with `key`.
    pub fn verify(&self, key: &PublicKey) -> Result<Vec<u8>> {
        if self.dsse_envelope.payload_type != super::MEDIA_IN_TOTO {
            bail!(
                "the envelope carries {:?}, not an in-toto Statement ({})",
                self.dsse_envelope.payload_type,
                super::MEDIA_IN_TOTO
            );
        }
        self.dsse_envelope.verify(key)
    }
}

#[cfg(test)]
mod tests;
