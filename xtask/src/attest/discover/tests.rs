use std::collections::BTreeMap;

use super::*;
use crate::attest::artifact::{ANNOTATION_REFERENCE_TYPE, REFERENCE_TYPE_ATTESTATION};
use crate::attest::MEDIA_SIGSTORE_BUNDLE;
use crate::oci::{Descriptor, MEDIA_MANIFEST};

fn referrer(name: &[u8], annotations: &[(&str, &str)]) -> Descriptor {
    let mut d = Descriptor::of(MEDIA_MANIFEST, name);
    d.artifact_type = Some(MEDIA_SIGSTORE_BUNDLE.into());
    d.annotations = annotations
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    d
}

fn in_index_entry(name: &[u8], about: &Digest) -> Descriptor {
    let mut d = Descriptor::of(MEDIA_MANIFEST, name);
    d.annotations = BTreeMap::from([
        (ANNOTATION_REFERENCE_DIGEST.into(), about.to_string()),
        (
            ANNOTATION_REFERENCE_TYPE.into(),
            REFERENCE_TYPE_ATTESTATION.into(),
        ),
    ]);
    d
}

#[test]
fn a_referrer_is_checked_against_the_verified_digest_whatever_it_annotates() {
    let verified = Digest::of(b"image B");
    let replayed_from = Digest::of(b"image A");
    let index = Index::new(vec![referrer(
        b"A's signed attestation",
        &[(ANNOTATION_REFERENCE_DIGEST, replayed_from.as_str())],
    )]);
    for place in [Place::ReferrersApi, Place::FallbackTag] {
        let found = referrer_candidates(&index, &verified, place);
        assert_eq!(found.place, Some(place));
        assert_eq!(found.candidates.len(), 1);
        assert_eq!(found.candidates[0].subject, verified);
    }
}

#[test]
fn referrers_that_are_not_attestations_are_not_candidates() {
    let verified = Digest::of(b"image");
    let mut other = Descriptor::of(MEDIA_MANIFEST, b"a compose artifact");
    other.artifact_type = Some("application/vnd.docker.compose.project".into());
    let found = referrer_candidates(&Index::new(vec![other]), &verified, Place::FallbackTag);
    assert!(found.candidates.is_empty());
    assert_eq!(found.place, None);
}

#[test]
fn candidates_are_bounded() {
    let verified = Digest::of(b"image");
    let entries: Vec<Descriptor> = (0..MAX_CANDIDATES + 5)
        .map(|i| referrer(format!("entry {i}").as_bytes(), &[]))
        .collect();
    let found = referrer_candidates(&Index::new(entries), &verified, Place::FallbackTag);
    assert_eq!(found.candidates.len(), MAX_CANDIDATES);
    assert_eq!(found.ignored.len(), 5);
}

#[test]
fn an_in_index_attestation_counts_only_for_a_platform_manifest_of_the_same_index() {
    let amd = Descriptor::of(MEDIA_MANIFEST, b"amd64");
    let elsewhere = Digest::of(b"a platform manifest of another image");
    let own = in_index_entry(b"attestation of amd64", &amd.digest);
    let foreign = in_index_entry(b"attestation of another image", &elsewhere);
    let mut unnamed = in_index_entry(b"names nothing", &amd.digest);
    unnamed.annotations.remove(ANNOTATION_REFERENCE_DIGEST);
    // An attestation entry naming another attestation entry is not about a platform manifest.
    let about_attestation = in_index_entry(b"about an attestation", &own.digest);
    let index = Index::new(vec![
        amd.clone(),
        own.clone(),
        foreign.clone(),
        unnamed.clone(),
        about_attestation.clone(),
    ]);
    let found = in_index_candidates(&index);
    assert_eq!(found.place, Some(Place::ImageIndex));
    assert_eq!(
        found.candidates,
        [Candidate {
            manifest: own.digest.clone(),
            place: Place::ImageIndex,
            subject: amd.digest.clone(),
        }]
    );
    let ignored: Vec<&Digest> = found.ignored.iter().map(|(d, _)| d).collect();
    assert_eq!(
        ignored,
        [&foreign.digest, &unnamed.digest, &about_attestation.digest]
    );
    assert!(found.ignored[0]
        .1
        .contains("not a platform manifest of this index"));
}

#[test]
fn an_index_without_attestation_entries_has_no_candidates() {
    let index = Index::new(vec![Descriptor::of(MEDIA_MANIFEST, b"amd64")]);
    assert_eq!(in_index_candidates(&index), Found::default());
}

#[test]
fn sigstore_bundles_of_every_version_are_candidates_and_other_artifacts_are_not() {
    let subject = Digest::of(b"image");
    let typed = |name: &[u8], artifact_type: &str| {
        let mut d = Descriptor::of(MEDIA_MANIFEST, name);
        d.artifact_type = Some(artifact_type.into());
        d
    };
    let index = Index::new(vec![
        typed(b"v0.3", "application/vnd.dev.sigstore.bundle.v0.3+json"),
        typed(
            b"v0.2",
            "application/vnd.dev.sigstore.bundle+json;version=0.2",
        ),
        typed(b"statement", "application/vnd.in-toto+json"),
        typed(b"sbom", "application/spdx+json"),
        typed(
            b"signature",
            "application/vnd.dev.cosign.simplesigning.v1+json",
        ),
    ]);
    let found = referrer_candidates(&index, &subject, Place::FallbackTag);
    let names: Vec<Digest> = found
        .candidates
        .iter()
        .map(|c| c.manifest.clone())
        .collect();
    assert_eq!(
        names,
        [
            Digest::of(b"v0.3"),
            Digest::of(b"v0.2"),
            Digest::of(b"statement")
        ]
    );
}
