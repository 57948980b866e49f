//! The referrers of a manifest without the OCI 1.1 referrers API: the fallback tag
//! `sha256-<hex of the subject digest>` names an image index listing them (distribution spec,
//! "Referrers Tag Schema"). Read it, add what is new, write it back.

use super::{Descriptor, Digest, Index};

/// The tag of the referrers fallback index of `subject`: `sha256-<hex>`.
pub fn fallback_tag(subject: &Digest) -> String {
    format!("sha256-{}", subject.hex())
}

/// The fallback index with `new` added, or `None` if it already lists `new`'s digest (nothing
/// to write). Entries already there are kept as they are, in order.
pub fn merge_referrers(existing: Option<Index>, new: Descriptor) -> Option<Index> {
    let mut index = existing.unwrap_or_else(|| Index::new(Vec::new()));
    if index.manifests.iter().any(|d| d.digest == new.digest) {
        return None;
    }
    index.manifests.push(new);
    Some(index)
}
