//! Pulling a base image from a registry into a cache OCI layout (`target/stevedore/base`),
//! from which [`super::base`] copies its blobs into the build layout untouched.
//!
//! A reference is resolved once per build (a tag → the digest of its index or manifest; the
//! same digest serves every platform of every image using that reference), then everything is
//! fetched by digest: the index, the platform's manifest, its config and layers. Blobs are
//! streamed to disk and verified against their digest before they are stored; what the cache
//! already holds is never fetched again, and a reference pinned by digest whose blobs are all
//! cached needs no network at all. The pulled image is named in the cache layout
//! `<host>/<repository>[:<tag>]@<digest>`.
//!
//! Registries are reached through the run's session ([`Clients`]), the publisher's: the same
//! credentials (`STEVEDORE_AUTH_<HOST>`, docker's `config.json`, anonymous), TLS
//! (`release.ca-files`, `SSL_CERT_FILE`), plain HTTP for loopback hosts and
//! `release.insecure-registries`, the same runtime and clients.
//! A host with a mirror in `release.mirrors` is reached at its mirror (the cache names the
//! image as written).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use futures_util::StreamExt as _;

use crate::oci::layout::Layout;
use crate::oci::platform::Platform;
use crate::oci::reference::ImageRef;
use crate::oci::{
    Descriptor, Digest, Index, Manifest, DOCKER_LIST, DOCKER_MANIFEST, MEDIA_INDEX, MEDIA_MANIFEST,
};
use crate::progress::{human_bytes, human_duration, Shared};
use crate::registry::{Clients, Operation, Registry};

/// Blobs downloaded at once.
const CONCURRENCY: usize = 4;

/// Pulls base images for one build; see the module documentation.
pub struct Puller {
    cache_dir: PathBuf,
    /// The run's registry session.
    clients: Arc<Clients>,
    /// Where progress lines go.
    log: Shared,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Canonical reference → the resolved index or manifest.
    resolved: HashMap<String, Descriptor>,
}

/// Where a pulled image is, for one platform.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The cache layout.
    pub layout: PathBuf,
    /// The image's name in the cache layout.
    pub name: String,
    /// What the reference resolved to (an index, or a single manifest).
    pub digest: Digest,
}

impl Puller {
    /// The run's registry session (for builders that hand credentials to their own tools).
    pub fn clients(&self) -> &Clients {
        &self.clients
    }

    /// A puller caching into `cache_dir`, reaching registries through `clients`.
    pub fn new(cache_dir: PathBuf, clients: Arc<Clients>, log: Shared) -> Puller {
        Puller {
            cache_dir,
            clients,
            log,
            state: Mutex::new(State::default()),
        }
    }

    /// The cache layout directory.
    pub fn cache_dir(&self) -> &Path {
        &self.cache_dir
    }

    /// The digest `image` (written as `written`) points at now: its index, or its manifest.
    /// Asked once per run (a HEAD; pinned references need no network).
    pub fn resolve_digest(&self, written: &str, image: &ImageRef) -> Result<Digest> {
        let mut st = self
            .state
            .lock()
            .map_err(|_| anyhow!("base image puller poisoned by an earlier panic"))?;
        let key = image.to_string();
        if let Some(d) = st.resolved.get(&key) {
            return Ok(d.digest.clone());
        }
        let cache = Layout::create(&self.cache_dir)?;
        let d = self.resolve(&cache, written, image)?;
        st.resolved.insert(key, d.clone());
        Ok(d.digest)
    }

    /// Makes sure `platform` of `image` (written as `written`) is in the cache layout.
    pub fn pull(&self, written: &str, image: &ImageRef, platform: &Platform) -> Result<Pulled> {
        let mut st = self
            .state
            .lock()
            .map_err(|_| anyhow!("base image puller poisoned by an earlier panic"))?;
        let cache = Layout::create(&self.cache_dir)?;
        let shown = shown(written, image);
        let src = self.clients.settings().pull_source(image);
        let key = image.to_string();
        let top = match st.resolved.get(&key) {
            Some(d) => d.clone(),
            None => {
                let d = self.resolve(&cache, written, image)?;
                st.resolved.insert(key, d.clone());
                d
            }
        };
        let manifest_desc = if is_index(&top.media_type) {
            let index: Index = cache.read_json(&top.digest)?;
            pick_platform(&index, platform)
                .ok_or_else(|| anyhow!(no_variant(&shown, &index, platform)))?
        } else {
            top.clone()
        };
        if is_index(&manifest_desc.media_type) {
            bail!("base image {shown}: nested image indexes are not supported");
        }
        if !cache.has_intact_blob(&manifest_desc.digest)? {
            let reg = self.registry(written, &src)?;
            let digest = &manifest_desc.digest;
            let (media, bytes) = self
                .clients
                .block_on(reg.read_manifest(&src.repository, digest.as_str()))?
                .with_context(|| format!("base image {shown} ({platform})"))?
                .ok_or_else(|| {
                    anyhow!(
                        "base image {shown}: registry {} lists manifest {digest} for {platform} but does not have it",
                        src.host
                    )
                })?;
            if Digest::of(&bytes) != *digest {
                bail!(
                    "base image {shown}: the manifest registry {} sent for {platform} does not match its digest {digest}",
                    src.host
                );
            }
            cache.write_blob(&media_type_of(&media, &bytes), &bytes)?;
        }
        let manifest: Manifest = cache
            .read_json(&manifest_desc.digest)
            .with_context(|| format!("base image {shown} ({platform}): not an image manifest"))?;
        let wanted: Vec<Descriptor> = std::iter::once(manifest.config.clone())
            .chain(manifest.layers.iter().cloned())
            .collect();
        let missing: Vec<Descriptor> = wanted
            .iter()
            .filter(|d| {
                std::fs::metadata(cache.blob_path(&d.digest)).map_or(true, |m| m.len() != d.size)
            })
            .cloned()
            .collect();
        if missing.is_empty() {
            self.log.line(&format!(
                "[base {shown} {platform}] {} blobs already cached",
                wanted.len()
            ));
        } else {
            let reg = self.registry(written, &src)?;
            let bytes: u64 = missing.iter().map(|d| d.size).sum();
            self.log.line(&format!(
                "[base {shown} {platform}] pulling {} of {} blobs ({}) from {}",
                missing.len(),
                wanted.len(),
                human_bytes(bytes),
                src.host
            ));
            let started = Instant::now();
            let results: Vec<Result<()>> = self.clients.block_on(async {
                futures_util::stream::iter(missing.iter().map(|d| {
                    let (reg, cache, repository) = (reg.clone(), &cache, &src.repository);
                    async move {
                        reg.download_blob_to(
                            repository,
                            &d.digest,
                            d.size,
                            &d.media_type,
                            cache,
                            Arc::new(|_| {}),
                        )
                        .await
                    }
                }))
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await
            })?;
            for r in results {
                r.with_context(|| format!("base image {shown} ({platform})"))?;
            }
            self.log.line(&format!(
                "[base {shown} {platform}] pulled {} in {}",
                human_bytes(bytes),
                human_duration(started.elapsed())
            ));
        }
        // Everything the platform needs is here: name the image (for `oci:` tools too).
        let name = match &image.digest {
            Some(_) => image.to_string(),
            None => format!("{image}@{}", top.digest),
        };
        cache.set_ref(&name, &top)?;
        Ok(Pulled {
            layout: self.cache_dir.clone(),
            name,
            digest: top.digest,
        })
    }

    /// The index or manifest `image` points at, stored in the cache.
    fn resolve(&self, cache: &Layout, written: &str, image: &ImageRef) -> Result<Descriptor> {
        let shown = shown(written, image);
        let src = self.clients.settings().pull_source(image);
        // Pinned and cached: no network.
        if let Some(d) = &image.digest {
            if cache.has_intact_blob(d)? {
                let bytes = cache.read_blob(d)?;
                return Ok(Descriptor::new(
                    &media_type_of("", &bytes),
                    d.clone(),
                    bytes.len() as u64,
                ));
            }
        }
        let reg = self.registry(written, &src)?;
        let not_found = || {
            anyhow::Error::from(crate::problem::Problem::registry(
                format!(
                    "base image {shown} not found in registry {} (credentials: {})",
                    src.host, reg.creds.source
                ),
                "check the name and tag, or that you are logged in",
            ))
        };
        let context = || {
            format!(
                "base image {shown}: cannot resolve it in registry {} (check the name and tag, or that you are logged in)",
                src.host
            )
        };
        let reference = image.reference();
        if image.digest.is_none() {
            // A HEAD (free of Docker Hub's pull limits) tells whether the cache has it.
            let head = self
                .clients
                .block_on(reg.manifest_digest(&src.repository, &reference))?
                .with_context(context)?;
            if let Some(d) = head.filter(|d| cache.has_intact_blob(d).unwrap_or(false)) {
                let bytes = cache.read_blob(&d)?;
                self.log.line(&format!("[base {shown}] {d} (cached)"));
                return Ok(Descriptor::new(
                    &media_type_of("", &bytes),
                    d,
                    bytes.len() as u64,
                ));
            }
        }
        let (media, bytes) = self
            .clients
            .block_on(reg.read_manifest(&src.repository, &reference))?
            .with_context(context)?
            .ok_or_else(not_found)?;
        let digest = Digest::of(&bytes);
        if let Some(want) = &image.digest {
            if *want != digest {
                bail!(
                    "base image {shown}: registry {} sent a manifest whose digest is {digest}, not {want}",
                    src.host
                );
            }
        }
        let media = media_type_of(&media, &bytes);
        if !matches!(
            media.as_str(),
            MEDIA_INDEX | DOCKER_LIST | MEDIA_MANIFEST | DOCKER_MANIFEST
        ) {
            bail!(
                "base image {shown}: unsupported manifest type {media:?} (an OCI or Docker v2 image or index is needed)"
            );
        }
        self.log.line(&format!("[base {shown}] {digest}"));
        cache.write_blob(&media, &bytes)
    }

    /// The pull-only client for `image`'s registry, from the run's session.
    fn registry(&self, written: &str, image: &ImageRef) -> Result<Arc<Registry>> {
        self.clients
            .client_blocking(&image.host, &image.api_host(), Operation::Pull)
            .with_context(|| {
                format!(
                    "base image {}: cannot connect to registry {}",
                    shown(written, image),
                    image.host
                )
            })
    }
}

/// "base image X has no linux/arm64 variant (it has: …)".
pub(super) fn no_variant(shown: &str, index: &Index, platform: &Platform) -> String {
    let have: Vec<String> = index
        .manifests
        .iter()
        .filter_map(|d| d.platform.as_ref())
        .map(|p| p.to_platform().to_string())
        .collect();
    format!(
        "base image {shown} has no {platform} variant (it has: {})",
        have.join(", ")
    )
}

/// The manifest of `index` for `platform` (`linux/arm64` matches `linux/arm64/v8`).
pub fn pick_platform(index: &Index, platform: &Platform) -> Option<Descriptor> {
    let want = platform.normalized();
    index
        .manifests
        .iter()
        .find(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| p.to_platform().normalized() == want)
        })
        .cloned()
}

/// The reference as written, with its canonical form when that differs.
fn shown(written: &str, image: &ImageRef) -> String {
    let written = written.trim();
    let canonical = image.to_string();
    if written == canonical {
        canonical
    } else {
        format!("{written} ({canonical})")
    }
}

fn is_index(media_type: &str) -> bool {
    media_type == MEDIA_INDEX || media_type == DOCKER_LIST
}

/// A manifest's media type: its `mediaType` field, else the `Content-Type` the registry sent,
/// else guessed from its shape.
fn media_type_of(content_type: &str, bytes: &[u8]) -> String {
    let known = |m: &str| {
        matches!(
            m,
            MEDIA_INDEX | DOCKER_LIST | MEDIA_MANIFEST | DOCKER_MANIFEST
        )
    };
    let doc: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
    if let Some(m) = doc["mediaType"].as_str().filter(|m| known(m)) {
        return m.to_string();
    }
    let header = content_type.split(';').next().unwrap_or_default().trim();
    if known(header) {
        return header.to_string();
    }
    if doc.get("manifests").is_some() {
        MEDIA_INDEX.into()
    } else if doc.get("layers").is_some() {
        MEDIA_MANIFEST.into()
    } else {
        header.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_are_found() {
        let idx = br#"{"schemaVersion":2,"manifests":[]}"#;
        assert_eq!(media_type_of("", idx), MEDIA_INDEX);
        assert_eq!(
            media_type_of(&format!("{DOCKER_LIST}; charset=utf-8"), idx),
            DOCKER_LIST
        );
        let m = format!(r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","layers":[]}}"#);
        assert_eq!(
            media_type_of("application/json", m.as_bytes()),
            DOCKER_MANIFEST
        );
        assert_eq!(
            media_type_of("", br#"{"schemaVersion":2,"layers":[]}"#),
            MEDIA_MANIFEST
        );
        assert_eq!(
            media_type_of(
                "application/vnd.docker.distribution.manifest.v1+prettyjws",
                b"{}"
            ),
            "application/vnd.docker.distribution.manifest.v1+prettyjws"
        );
    }

    #[test]
    fn shown_names_both_forms() {
        let r = ImageRef::parse("alpine:3.20").unwrap();
        assert_eq!(
            shown("alpine:3.20", &r),
            "alpine:3.20 (docker.io/library/alpine:3.20)"
        );
        let r = ImageRef::parse("ghcr.io/o/r:1").unwrap();
        assert_eq!(shown(" ghcr.io/o/r:1 ", &r), "ghcr.io/o/r:1");
    }
}
