//! Base images for the native builder: `scratch`, an image in a registry (`alpine:3.20`,
//! `ghcr.io/org/image:tag`, `host:port/repo@sha256:…`, pulled by digest through the cache
//! layout of [`super::pull`]), or an image in an OCI layout on disk (`oci:PATH[:REF]`). The
//! base's blobs are copied into our layout untouched.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use super::pull::{no_variant, pick_platform, Puller};
use crate::oci::layout::Layout;
use crate::oci::platform::Platform;
use crate::oci::reference::ImageRef;
use crate::oci::{
    Descriptor, Digest, ImageConfig, Index, Manifest, DOCKER_LAYER_GZIP, DOCKER_LIST,
    DOCKER_MANIFEST, MEDIA_INDEX, MEDIA_LAYER_GZIP, MEDIA_MANIFEST,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    Scratch,
    /// An OCI layout on disk and the name of the image in it (the only one when `None`).
    Oci {
        path: PathBuf,
        name: Option<String>,
    },
    /// A registry reference, as written (`alpine:3.20`).
    Registry(String),
}

/// The base's parts the new image is built on.
#[derive(Debug, Clone, Default)]
pub struct BaseImage {
    pub config: ImageConfig,
    pub layers: Vec<Descriptor>,
    /// `org.opencontainers.image.base.name` / `.digest`, when there is a base.
    pub name: Option<String>,
    pub digest: Option<Digest>,
}

impl Base {
    /// Parses `base`; relative `oci:` paths are resolved against `root`.
    pub fn parse(base: &str, root: &Path) -> Base {
        let base = base.trim();
        if base == "scratch" {
            return Base::Scratch;
        }
        let Some(rest) = base.strip_prefix("oci:") else {
            return Base::Registry(base.to_string());
        };
        if root.join(rest).join("oci-layout").is_file() {
            return Base::Oci {
                path: root.join(rest),
                name: None,
            };
        }
        // `PATH:NAME`, where NAME may itself hold a colon (`alpine:3.20`): the first split
        // whose left side is a directory wins.
        for (i, _) in rest.match_indices(':') {
            let (path, name) = (&rest[..i], &rest[i + 1..]);
            if root.join(path).is_dir() {
                return Base::Oci {
                    path: root.join(path),
                    name: Some(name.to_string()).filter(|n| !n.is_empty()),
                };
            }
        }
        let (path, name) = match rest.split_once(':') {
            Some((p, n)) => (p, Some(n.to_string())),
            None => (rest, None),
        };
        Base::Oci {
            path: root.join(path),
            name,
        }
    }

    /// Resolves the base for `platform` (pulling it with `pull` when it is in a registry) and
    /// copies its blobs into `into`.
    pub fn load(&self, platform: &Platform, into: &Layout, pull: &Puller) -> Result<BaseImage> {
        match self {
            Base::Scratch => Ok(BaseImage::default()),
            Base::Registry(r) => {
                let image = ImageRef::parse(r).map_err(|e| {
                    anyhow!(
                        "base image {e}: write a registry reference (alpine:3.20, ghcr.io/org/image:tag, host:port/repo@sha256:…), oci:PATH[:NAME] for an OCI layout, or scratch"
                    )
                })?;
                let pulled = pull.pull(r, &image, platform)?;
                let src = Layout::open(&pulled.layout)?;
                let top = src.resolve(&pulled.name)?;
                let mut base = load_from(&src, &top, r.trim(), platform, into)?;
                base.name = Some(r.trim().to_string());
                base.digest = Some(pulled.digest);
                Ok(base)
            }
            Base::Oci { path, name } => load_oci(path, name.as_deref(), platform, into),
        }
    }
}

fn load_oci(
    path: &Path,
    name: Option<&str>,
    platform: &Platform,
    into: &Layout,
) -> Result<BaseImage> {
    if !path.join("oci-layout").is_file() {
        bail!(crate::problem::Problem::config(
            format!(
                "base image: {} is not an OCI image layout (no oci-layout file)",
                path.display()
            ),
            "check the path in `base = \"oci:PATH[:NAME]\"`"
        ));
    }
    let src = Layout::open(path)?;
    let top = match name {
        Some(n) => src
            .resolve(n)
            .with_context(|| format!("base image: no image named {n:?} in {}", path.display()))?,
        None => {
            let index = src.index()?;
            match index.manifests.as_slice() {
                [one] => one.clone(),
                [] => bail!("base image: the OCI layout {} is empty", path.display()),
                _ => bail!(crate::problem::Problem::config(
                    format!(
                        "base image: the OCI layout {} holds {} images",
                        path.display(),
                        index.manifests.len()
                    ),
                    format!("name one with base = \"oci:{}:NAME\"", path.display())
                )),
            }
        }
    };
    let shown = format!(
        "oci:{}{}",
        path.display(),
        name.map(|n| format!(":{n}")).unwrap_or_default()
    );
    load_from(&src, &top, &shown, platform, into)
}

/// The `platform` image of `top` (an index or a manifest) in `src`, its blobs copied into
/// `into`. `shown` names the base in messages.
fn load_from(
    src: &Layout,
    top: &Descriptor,
    shown: &str,
    platform: &Platform,
    into: &Layout,
) -> Result<BaseImage> {
    let manifest_desc = match top.media_type.as_str() {
        MEDIA_INDEX | DOCKER_LIST => {
            let index: Index = src.read_json(&top.digest)?;
            pick_platform(&index, platform)
                .ok_or_else(|| anyhow!(no_variant(shown, &index, platform)))?
        }
        MEDIA_MANIFEST | DOCKER_MANIFEST => top.clone(),
        other => bail!("base image {shown}: unsupported media type {other}"),
    };
    let manifest: Manifest = src.read_json(&manifest_desc.digest)?;
    let config: ImageConfig = src.read_json(&manifest.config.digest)?;
    let base_platform = Platform::new(&config.os, &config.architecture, config.variant.as_deref());
    if base_platform.normalized() != platform.normalized() {
        bail!("base image {shown} is {base_platform}, not {platform}");
    }
    for layer in &manifest.layers {
        into.copy_blob_from(src, layer)
            .with_context(|| format!("base image {shown}"))?;
    }
    Ok(BaseImage {
        config,
        layers: manifest.layers.into_iter().map(oci_layer).collect(),
        name: Some(shown.to_string()),
        digest: Some(manifest_desc.digest),
    })
}

/// A Docker v2 layer descriptor as its OCI equivalent (same bytes, same digest), for our OCI
/// manifest.
fn oci_layer(mut d: Descriptor) -> Descriptor {
    if d.media_type == DOCKER_LAYER_GZIP {
        d.media_type = MEDIA_LAYER_GZIP.into();
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bases() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("base/oci")).unwrap();
        std::fs::write(d.path().join("base/oci/oci-layout"), "{}").unwrap();
        let root = d.path();
        assert_eq!(Base::parse("scratch", root), Base::Scratch);
        assert_eq!(
            Base::parse("alpine:3.20", root),
            Base::Registry("alpine:3.20".into())
        );
        assert_eq!(
            Base::parse("oci:base/oci", root),
            Base::Oci {
                path: root.join("base/oci"),
                name: None
            }
        );
        assert_eq!(
            Base::parse("oci:base/oci:alpine:3.20", root),
            Base::Oci {
                path: root.join("base/oci"),
                name: Some("alpine:3.20".into())
            }
        );
        let pull = Puller::new(
            root.join("cache"),
            Default::default(),
            std::sync::Arc::new(crate::progress::Silent),
        );
        let err = Base::parse("Alpine:3", root)
            .load(
                &Platform::linux_amd64(),
                &Layout::create(&root.join("l")).unwrap(),
                &pull,
            )
            .unwrap_err()
            .to_string();
        assert!(err.contains("upper-case"), "{err}");
        let err = Base::parse("oci:nowhere:x", root)
            .load(
                &Platform::linux_amd64(),
                &Layout::create(&root.join("l")).unwrap(),
                &pull,
            )
            .unwrap_err()
            .to_string();
        assert!(err.contains("not an OCI image layout"), "{err}");
    }
}
