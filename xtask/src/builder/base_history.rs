//! Base images whose config lists no `history` (legal in the OCI image spec; some tools write
//! them) under buildah. buildah (1.28) builds the first step on such a base, then refuses the
//! next step that makes a layer: "history lists 2 non-empty layers, but we have 4 layers on
//! disk". When a build fails so, each `FROM` base without history is given to buildah again
//! from a private OCI layout holding a copy of it whose config lists one history entry per
//! layer (the layers untouched, so the image built has the same layers); everything else in
//! the config stays as it was.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};

use super::image_names::from_refs;
use super::pull::Puller;
use crate::oci::layout::Layout;
use crate::oci::platform::Platform;
use crate::oci::{Descriptor, Manifest, MEDIA_INDEX, MEDIA_MANIFEST};

/// What buildah says when it meets a base without history.
pub fn is_history_failure(output: &str) -> bool {
    output.contains("history lists") && output.contains("layers on disk")
}

/// The `FROM` images of `dockerfile` (as written) that list no history for `platform`, each
/// mapped to a copy with history in the OCI layout `dir` (`oci:DIR:NAME`, for buildah).
/// Pulled with `pull` (its cache keeps them for the next build).
pub fn with_history(
    dockerfile: &str,
    platform: &Platform,
    pull: &Puller,
    dir: &Path,
) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (written, image) in from_refs(dockerfile) {
        if out.contains_key(&written) {
            continue;
        }
        let pulled = pull.pull(&written, &image, platform)?;
        let cache = Layout::open(&pulled.layout)?;
        let top = cache.resolve(&pulled.name)?;
        let manifest_desc = match top.media_type.as_str() {
            MEDIA_MANIFEST | crate::oci::DOCKER_MANIFEST => top.clone(),
            _ => {
                let index: crate::oci::Index = cache.read_json(&top.digest)?;
                match super::pull::pick_platform(&index, platform) {
                    Some(d) => d,
                    None => continue, // buildah names the missing platform itself
                }
            }
        };
        let manifest: Manifest = cache.read_json(&manifest_desc.digest)?;
        let config: serde_json::Value = cache.read_json(&manifest.config.digest)?;
        let Some(patched) = add_history(&config, manifest.layers.len()) else {
            continue;
        };
        let layout = Layout::create(dir)?;
        for layer in &manifest.layers {
            layout
                .copy_blob_from(&cache, layer)
                .with_context(|| format!("base image {written}"))?;
        }
        let config_desc =
            layout.write_blob(&manifest.config.media_type, &crate::oci::to_bytes(&patched))?;
        let mut manifest = manifest;
        manifest.config = Descriptor::new(
            &manifest.config.media_type,
            config_desc.digest,
            config_desc.size,
        );
        let media = if manifest_desc.media_type == MEDIA_INDEX {
            MEDIA_MANIFEST.to_string()
        } else {
            manifest_desc.media_type.clone()
        };
        let desc = layout.write_json(&media, &manifest)?;
        let name = format!("base-{}", out.len());
        layout.set_ref(&name, &desc)?;
        out.insert(written, format!("oci:{}:{name}", dir.display()));
    }
    Ok(out)
}

/// `config` with one history entry per layer, when it lists none and has `layers` layers.
fn add_history(config: &serde_json::Value, layers: usize) -> Option<serde_json::Value> {
    let listed = config
        .get("history")
        .and_then(|h| h.as_array())
        .is_some_and(|h| !h.is_empty());
    if listed || layers == 0 {
        return None;
    }
    let mut patched = config.clone();
    let entry = serde_json::json!({
        "created_by": "stevedore: a layer of the base image, whose config lists no history",
    });
    patched["history"] = serde_json::Value::Array(vec![entry; layers]);
    Some(patched)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_is_added_only_where_none_is_listed() {
        let bare = serde_json::json!({"architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": ["sha256:a", "sha256:b"]}, "x-kept": 1});
        let patched = add_history(&bare, 2).unwrap();
        assert_eq!(patched["history"].as_array().unwrap().len(), 2);
        assert_eq!(patched["x-kept"], 1);
        let mut empty = bare.clone();
        empty["history"] = serde_json::json!([]);
        assert!(add_history(&empty, 2).is_some());
        assert_eq!(add_history(&patched, 2), None);
        assert_eq!(add_history(&bare, 0), None);
        assert!(is_history_failure(
            "internal error: history lists 2 non-empty layers, but we have 4 layers on disk"
        ));
    }
}
