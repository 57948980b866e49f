//! What each stage put into the OCI layout, for publish: the builder, attest and compose each
//! return one list of [`LayoutEntry`]s (the images, the attestations, the compose artifacts),
//! named as the plan names them ([`super::names`]) and addressed to the plan's targets. Publish
//! pushes those lists; nothing matches names afterwards.

use super::PushTarget;
use crate::oci::Descriptor;

/// One index or manifest a stage wrote into the layout.
#[derive(Debug, Clone)]
pub struct LayoutEntry {
    /// Its name in the layout (the plan's).
    pub layout_name: String,
    /// What that name held when the stage wrote it.
    pub descriptor: Descriptor,
    pub content: Content,
    /// Where publish pushes it (the plan's targets: registry, repository, references).
    pub targets: Vec<PushTarget>,
}

/// What a layout entry is, and so how publish pushes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// The index of the plan's image `image`: pushed with the tags of its targets' references.
    Image { image: String },
    /// An attestation of the plan's image `image`, a referrer of one of its manifests: pushed
    /// untagged (it is found through its `subject`).
    Attestation { image: String },
    /// A compose artifact (one per registry), pushed with the release's tags. `fallback`: the
    /// layout name of its OCI 1.0 form, pushed instead where the registry refuses this one.
    Compose {
        repository: String,
        fallback: Option<String>,
    },
}

impl LayoutEntry {
    /// The image this entry is (an index of the plan's images), if it is one.
    pub fn image(&self) -> Option<&str> {
        match &self.content {
            Content::Image { image } => Some(image),
            _ => None,
        }
    }
}

/// The entries of `lists` in order, where a later entry of the same layout name replaces an
/// earlier one in its place (attest's in-index form rewrites an image's index).
pub fn latest(lists: &[&[LayoutEntry]]) -> Vec<LayoutEntry> {
    let mut out: Vec<LayoutEntry> = Vec::new();
    for e in lists.iter().flat_map(|l| l.iter()) {
        match out.iter_mut().find(|o| o.layout_name == e.layout_name) {
            Some(o) => *o = e.clone(),
            None => out.push(e.clone()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, bytes: &[u8], content: Content) -> LayoutEntry {
        LayoutEntry {
            layout_name: name.into(),
            descriptor: Descriptor::of(crate::oci::MEDIA_INDEX, bytes),
            content,
            targets: vec![],
        }
    }

    #[test]
    fn a_later_entry_of_the_same_name_replaces_the_earlier_in_its_place() {
        let image = |n: &str| Content::Image { image: n.into() };
        let built = [
            entry("web:1.2.3", b"a", image("web")),
            entry("api:1.2.3", b"b", image("api")),
        ];
        let attested = [
            entry(
                "attest/web/provenance:1.2.3",
                b"c",
                Content::Attestation {
                    image: "web".into(),
                },
            ),
            entry("web:1.2.3", b"d", image("web")),
        ];
        let all = latest(&[&built, &attested]);
        let names: Vec<&str> = all.iter().map(|e| e.layout_name.as_str()).collect();
        assert_eq!(
            names,
            ["web:1.2.3", "api:1.2.3", "attest/web/provenance:1.2.3"]
        );
        assert_eq!(all[0].descriptor, attested[1].descriptor);
        assert_eq!(all[0].image(), Some("web"));
        assert_eq!(all[2].image(), None);
    }
}
