//! Finding an image's attestations in a registry and checking each, as `cosign
//! verify-attestation` and `gh attestation verify` do: everything a pusher or a hostile
//! registry can write (the referrers answer, the `sha256-<hex>` fallback index, descriptors and
//! their annotations) is only a hint for where to look. What decides is the digest being
//! verified and the signed Statement (see [`super::verify`]).
//!
//! Places, in order (the first that holds a candidate is used):
//! 1. the referrers API (`GET /v2/<name>/referrers/<digest>`);
//! 2. the fallback tag `sha256-<hex>` (an empty referrers answer falls back to it too);
//! 3. BuildKit's in-index form: `unknown/unknown` attestation manifests inside the very index
//!    being verified. Only there does `vnd.docker.reference.digest` count, and only when it names
//!    one of that index's own platform manifests: the Statement must then be about that one.

use anyhow::Result;

use crate::oci::referrers_tag::fallback_tag;
use crate::oci::{Digest, Index, Manifest};
use crate::registry::Registry;

use super::artifact::{attestation_referrers, is_attestation_entry, ANNOTATION_REFERENCE_DIGEST};
use super::sign::PublicKey;
use super::sigstore_bundle::KeylessPolicy;
use super::verify::{verify_layer, Check, Expected, LayerVerdict};

/// At most this many candidate attestation manifests are checked (the rest are reported).
pub const MAX_CANDIDATES: usize = 64;
/// At most this many layers of one attestation manifest are read.
pub const MAX_LAYERS: usize = 16;
/// The largest attestation layer read (a Statement or a bundle; SBOMs of big images run to a
/// few MiB).
pub const MAX_LAYER_BYTES: u64 = 32 << 20;

/// Where an attestation was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    ReferrersApi,
    FallbackTag,
    ImageIndex,
}

impl Place {
    pub fn as_str(self) -> &'static str {
        match self {
            Place::ReferrersApi => "referrers API",
            Place::FallbackTag => "fallback tag",
            Place::ImageIndex => "image index",
        }
    }
}

/// An attestation manifest to check, and the digest its Statements must be about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub manifest: Digest,
    pub place: Place,
    /// The digest being verified, or (in-index form only) one of its own platform manifests.
    pub subject: Digest,
}

/// What was found for a digest: the candidates of the first place that has any, and the
/// entries passed over with the reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    pub place: Option<Place>,
    pub candidates: Vec<Candidate>,
    pub ignored: Vec<(Digest, String)>,
}

impl Found {
    /// Takes `candidate` while fewer than [`MAX_CANDIDATES`] are; else reports it ignored.
    fn admit(&mut self, candidate: Candidate) {
        if self.candidates.len() >= MAX_CANDIDATES {
            self.ignored.push((
                candidate.manifest,
                format!("more than {MAX_CANDIDATES} attestations: not checked"),
            ));
            return;
        }
        self.place = Some(candidate.place);
        self.candidates.push(candidate);
    }
}

/// One attestation manifest and what was checked of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub candidate: Candidate,
    /// Problems with the manifest itself (it could not be read, has no layer, too many…).
    pub problems: Vec<Check>,
    pub layers: Vec<LayerVerdict>,
}

impl Checked {
    pub fn ok(&self) -> bool {
        self.problems.iter().all(|c| c.ok) && self.layers.iter().all(LayerVerdict::ok)
    }
}

/// Finds the candidates for `subject` (the digest being verified) in `repo`.
pub async fn find(reg: &Registry, repo: &str, subject: &Digest) -> Result<Found> {
    if let Some(index) = reg.referrers(repo, subject).await? {
        let found = referrer_candidates(&index, subject, Place::ReferrersApi);
        if !found.candidates.is_empty() {
            return Ok(found);
        }
    }
    let fallback = reg.fallback_index(repo, &fallback_tag(subject)).await?;
    if let Some(index) = fallback.index {
        let found = referrer_candidates(&index, subject, Place::FallbackTag);
        if !found.candidates.is_empty() {
            return Ok(found);
        }
    }
    let (_, bytes) = reg.read_manifest_verified(repo, subject).await?;
    match serde_json::from_slice::<Index>(&bytes) {
        Ok(index) => Ok(in_index_candidates(&index)),
        Err(_) => Ok(Found::default()),
    }
}

/// The candidates of a referrers index (API answer or fallback tag). Their subject is always
/// the digest being verified, whatever an entry's annotations say.
pub fn referrer_candidates(index: &Index, subject: &Digest, place: Place) -> Found {
    let mut found = Found::default();
    for d in attestation_referrers(index) {
        found.admit(Candidate {
            manifest: d.digest.clone(),
            place,
            subject: subject.clone(),
        });
    }
    found
}

/// The BuildKit attestation manifests of `index` (the verified index itself), each about the
/// platform manifest its `vnd.docker.reference.digest` names, when that is one of the index's
/// own runnable manifests.
pub fn in_index_candidates(index: &Index) -> Found {
    let mut found = Found::default();
    let platform_manifests: Vec<&Digest> = index
        .manifests
        .iter()
        .filter(|d| !is_attestation_entry(d))
        .map(|d| &d.digest)
        .collect();
    for d in index.manifests.iter().filter(|d| is_attestation_entry(d)) {
        let named = d
            .annotations
            .get(ANNOTATION_REFERENCE_DIGEST)
            .and_then(|v| v.parse::<Digest>().ok());
        match named {
            Some(target) if platform_manifests.contains(&&target) => found.admit(Candidate {
                manifest: d.digest.clone(),
                place: Place::ImageIndex,
                subject: target,
            }),
            Some(target) => found.ignored.push((
                d.digest.clone(),
                format!("it is about {target}, which is not a platform manifest of this index"),
            )),
            None => found.ignored.push((
                d.digest.clone(),
                format!("it names no platform manifest ({ANNOTATION_REFERENCE_DIGEST})"),
            )),
        }
    }
    found
}

/// Fetches one attestation manifest and its layers (each checked against its digest and a
/// size limit), and checks them against `candidate.subject`.
pub async fn check(
    reg: &Registry,
    repo: &str,
    candidate: &Candidate,
    key: Option<&PublicKey>,
    source_repository: Option<&str>,
    keyless: &KeylessPolicy,
) -> Checked {
    let mut checked = Checked {
        candidate: candidate.clone(),
        problems: Vec::new(),
        layers: Vec::new(),
    };
    let fail = |detail: String| Check {
        name: "manifest",
        ok: false,
        detail,
        fix: None,
    };
    let manifest: Manifest = match reg.read_manifest_verified(repo, &candidate.manifest).await {
        Ok((_, bytes)) => match serde_json::from_slice(&bytes) {
            Ok(m) => m,
            Err(e) => {
                checked
                    .problems
                    .push(fail(format!("not an image manifest: {e}")));
                return checked;
            }
        },
        Err(e) => {
            checked.problems.push(Check::failed("manifest", &e));
            return checked;
        }
    };
    if manifest.layers.is_empty() {
        checked
            .problems
            .push(fail("the attestation has no layer".into()));
        return checked;
    }
    if manifest.layers.len() > MAX_LAYERS {
        checked.problems.push(fail(format!(
            "{} layers: an attestation manifest has at most {MAX_LAYERS}",
            manifest.layers.len()
        )));
        return checked;
    }
    let expected = Expected {
        subject: &candidate.subject,
        public_key: key,
        source_repository,
        keyless,
    };
    for layer in &manifest.layers {
        let refused = |detail: String| LayerVerdict::failed("layer digest", detail);
        if layer.size > MAX_LAYER_BYTES {
            checked.layers.push(refused(format!(
                "{}: {} bytes, more than the {} MiB an attestation layer may have",
                layer.digest,
                layer.size,
                MAX_LAYER_BYTES >> 20
            )));
            continue;
        }
        match reg.read_blob_capped(repo, &layer.digest).await {
            Ok(bytes) => checked
                .layers
                .push(verify_layer(&manifest, &bytes, expected)),
            Err(e) => checked
                .layers
                .push(refused(format!("{}: {e:#}", layer.digest))),
        }
    }
    checked
}

#[cfg(test)]
mod tests;
