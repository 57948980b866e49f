//! The unit of a publish (blobs, manifests, tags), its targets, and an image read from the
//! layout as one.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};

use crate::oci::layout::Layout;
use crate::oci::{self, Descriptor, Digest, Index, Manifest};
use crate::plan::ImagePlan;
use crate::problem::{Kind, Problem};
use crate::registry::Registry;

/// A manifest document with its exact bytes.
#[derive(Debug, Clone)]
pub(super) struct Doc {
    pub(super) desc: Descriptor,
    pub(super) bytes: bytes::Bytes,
    /// The manifest this one refers to (an attestation's image); `None` for images.
    pub(super) subject: Option<Digest>,
}

/// A blob of the layout.
#[derive(Debug, Clone)]
pub(super) struct Blob {
    pub(super) digest: Digest,
    pub(super) size: u64,
    pub(super) path: PathBuf,
}

/// One unit of a publish, pushed to each of its targets: its blobs, then its manifests by
/// digest (in order, then `top`), then, once every unit reached every target, its tags.
///
/// An image is a unit (layers and configs; platform manifests; the index). Anything else that
/// is blobs plus manifests plus tags (a compose artifact, an attestation with its `subject`)
/// is one more unit on the same scheduler and the same all-or-nothing tag step.
#[derive(Debug, Clone)]
pub(super) struct Unit {
    /// The name messages and the report use (the image's name).
    pub(super) name: String,
    /// The manifest the tags point at (an image's index); `None` with `--by-digest`.
    pub(super) top: Option<Doc>,
    /// Manifests pushed by digest before `top` (an image's platform manifests).
    pub(super) manifests: Vec<Doc>,
    /// Manifests that must already be in the registry (`merge`).
    pub(super) expect: Vec<Descriptor>,
    pub(super) blobs: Vec<Blob>,
    /// The tags moved to `top` in every target; empty with `--by-digest`.
    pub(super) tags: Vec<String>,
    pub(super) targets: Vec<Target>,
    /// An artifact (compose, attestation) rather than an image: reported apart.
    pub(super) artifact: bool,
    /// Pushed instead of `top` (same blobs) where a registry refuses `top` with a 4xx other
    /// than 401/403/407: the OCI 1.0 form of a compose artifact.
    pub(super) fallback: Option<Doc>,
    /// Per target (`display`): the fallback, when it was pushed instead of `top`.
    pub(super) fell_back: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
}

impl Unit {
    /// The manifest the tags of target `t` point at.
    pub(super) fn top_for(&self, t: &Target) -> Option<&Doc> {
        let fell_back = self
            .fell_back
            .lock()
            .expect("fallback set")
            .contains(&t.display);
        match (&self.fallback, fell_back) {
            (Some(f), true) => Some(f),
            _ => self.top.as_ref(),
        }
    }
}

/// Reads a manifest named `name` in the layout, and the blobs it references, as a `Doc`.
pub(super) fn load_artifact(layout: &Layout, name: &str) -> Result<(Doc, Vec<Blob>)> {
    let desc = layout.resolve(name)?;
    let bytes = layout
        .read_blob(&desc.digest)
        .with_context(|| format!("artifact {name}: run the release again to rebuild it"))?;
    let manifest: Manifest = serde_json::from_slice(&bytes)
        .with_context(|| format!("artifact {name}: the manifest is not valid JSON"))?;
    let mut blobs = Vec::new();
    for d in std::iter::once(&manifest.config).chain(&manifest.layers) {
        if !layout.has_intact_blob(&d.digest)? {
            bail!(
                "artifact {name}: blob {} is missing from the layout or corrupt: run the release again",
                d.digest
            );
        }
        if !blobs.iter().any(|b: &Blob| b.digest == d.digest) {
            blobs.push(Blob {
                digest: d.digest.clone(),
                size: d.size,
                path: layout.blob_path(&d.digest),
            });
        }
    }
    let mut desc = desc.clone();
    desc.annotations.remove(oci::ANNOTATION_REF_NAME);
    Ok((
        Doc {
            desc,
            bytes: bytes.into(),
            subject: manifest.subject.as_ref().map(|s| s.digest.clone()),
        },
        blobs,
    ))
}

/// A repository a unit goes to.
#[derive(Clone)]
pub(super) struct Target {
    pub(super) registry: Arc<Registry>,
    /// Repository path on the registry.
    pub(super) repo: String,
    /// `host/repo` as users write it.
    pub(super) display: String,
    /// The plan's target: the references pushed there.
    pub(super) target: crate::plan::PushTarget,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display)
    }
}

pub(super) fn platform_label(d: &Descriptor) -> String {
    match &d.platform {
        Some(p) => match &p.variant {
            Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
            None => format!("{}/{}", p.os, p.architecture),
        },
        None => "unknown".into(),
    }
}

pub(super) fn is_index(media_type: &str) -> bool {
    media_type == oci::MEDIA_INDEX || media_type == oci::DOCKER_LIST
}

/// `image` is not in `layout`.
pub(super) fn not_built(layout: &Layout, image: &ImagePlan) -> Problem {
    Problem::new(
        Kind::NotBuilt,
        format!(
            "image {} ({}) is not in the OCI layout {}",
            image.name,
            image.layout_name,
            layout.root().display()
        ),
        "run `cargo xtask build` first (for this version), or pass --layout",
    )
}

/// Reads what the layout holds for `image`: the index, its manifests and their blobs.
pub(super) fn load_image(layout: &Layout, image: &ImagePlan) -> Result<(Doc, Vec<Doc>, Vec<Blob>)> {
    let top = layout
        .resolve(&image.layout_name)
        .map_err(|_| not_built(layout, image))?;
    load_image_at(layout, image, &top)
}

/// [`load_image`] with its top descriptor already resolved (`top`).
pub(super) fn load_image_at(
    layout: &Layout,
    image: &ImagePlan,
    top: &Descriptor,
) -> Result<(Doc, Vec<Doc>, Vec<Blob>)> {
    let read_doc = |d: &Descriptor| -> Result<Doc> {
        let bytes = layout
            .read_blob(&d.digest)
            .with_context(|| format!("image {}: run `cargo xtask build` again", image.name))?;
        let mut desc = d.clone();
        desc.annotations.remove(oci::ANNOTATION_REF_NAME);
        Ok(Doc {
            desc,
            bytes: bytes.into(),
            subject: None,
        })
    };
    let top = read_doc(top)?;
    let manifests: Vec<Doc> = if is_index(&top.desc.media_type) {
        let index: Index = serde_json::from_slice(&top.bytes)
            .with_context(|| format!("image {}: the index is not valid JSON", image.name))?;
        index
            .manifests
            .iter()
            .map(|d| {
                if is_index(&d.media_type) {
                    bail!("image {}: nested indexes are not supported", image.name);
                }
                read_doc(d)
            })
            .collect::<Result<_>>()?
    } else {
        vec![top.clone()]
    };
    let mut blobs: BTreeMap<Digest, Blob> = BTreeMap::new();
    for m in &manifests {
        let manifest: Manifest = serde_json::from_slice(&m.bytes).with_context(|| {
            format!(
                "image {}: manifest {} is not an image manifest",
                image.name, m.desc.digest
            )
        })?;
        for d in std::iter::once(&manifest.config).chain(&manifest.layers) {
            if !layout.has_intact_blob(&d.digest)? {
                return Err(Problem::new(
                    Kind::NotBuilt,
                    format!(
                        "image {}: blob {} is missing from the layout {} or its content does not \
                         match its digest",
                        image.name,
                        d.digest,
                        layout.root().display()
                    ),
                    "run `cargo xtask build` again to repair it",
                )
                .into());
            }
            blobs.entry(d.digest.clone()).or_insert_with(|| Blob {
                digest: d.digest.clone(),
                size: d.size,
                path: layout.blob_path(&d.digest),
            });
        }
    }
    let platforms = if is_index(&top.desc.media_type) {
        manifests
    } else {
        Vec::new()
    };
    Ok((top, platforms, blobs.into_values().collect()))
}

/// An image of a merge: its index, the manifests pushed from the layout, the manifests
/// expected in the registry, and the blobs pushed.
pub(super) type MergedImage = (Doc, Vec<Doc>, Vec<Descriptor>, Vec<Blob>);

/// Reads what the layout of a `merge` holds for `image`: its index, the manifests of the index
/// the layout has every blob of (pushed, with those blobs), and the others (the platform
/// manifests the matrix jobs pushed: expected in the registry).
pub(super) fn load_merged_image(layout: &Layout, image: &ImagePlan) -> Result<MergedImage> {
    let desc = layout
        .resolve(&image.layout_name)
        .map_err(|_| not_built(layout, image))?;
    let bytes = layout.read_blob(&desc.digest)?;
    let index: Index = serde_json::from_slice(&bytes)
        .with_context(|| format!("image {}: the merged index is not valid JSON", image.name))?;
    let mut desc = desc.clone();
    desc.annotations.remove(oci::ANNOTATION_REF_NAME);
    let top = Doc {
        desc,
        bytes: bytes.into(),
        subject: None,
    };
    let (mut manifests, mut expect, mut blobs) = (Vec::new(), Vec::new(), Vec::new());
    for d in &index.manifests {
        let local = layout
            .read_blob(&d.digest)
            .ok()
            .and_then(|b| Some((serde_json::from_slice::<Manifest>(&b).ok()?, b)));
        let Some((m, bytes)) = local.filter(|(m, _)| {
            std::iter::once(&m.config)
                .chain(&m.layers)
                .all(|b| layout.has_intact_blob(&b.digest).unwrap_or(false))
        }) else {
            expect.push(d.clone());
            continue;
        };
        for b in std::iter::once(&m.config).chain(&m.layers) {
            if !blobs.iter().any(|o: &Blob| o.digest == b.digest) {
                blobs.push(Blob {
                    digest: b.digest.clone(),
                    size: b.size,
                    path: layout.blob_path(&b.digest),
                });
            }
        }
        manifests.push(Doc {
            desc: d.clone(),
            bytes: bytes.into(),
            subject: None,
        });
    }
    Ok((top, manifests, expect, blobs))
}
