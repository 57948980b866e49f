//! A Dockerfile image whose inputs did not change is not built again: its platform manifest,
//! still intact in the layout, is reused. The key covers everything the build reads: the
//! driver and platform, the Dockerfile, its target, build args and labels (so the commit and
//! the version), `SOURCE_DATE_EPOCH`, the digest every registry `FROM` image has now (asked
//! again on every build, so a moved tag rebuilds), and the name, type, size, mode and
//! modification time of every file in the context (stevedore's own state and `.git` left
//! out: a new commit changes the labels). buildah's own layer cache still serves a build whose
//! key changed.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::Result;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::oci::layout::{write_atomic, Layout};
use crate::oci::{Descriptor, Digest, Manifest};

/// Bump when what a key covers changes.
const CACHE_VERSION: &str = "stevedore-dockerfile-v1";

/// The inputs of one platform's build.
pub struct Inputs<'a> {
    pub driver: &'a str,
    pub platform: &'a str,
    pub dockerfile: &'a [u8],
    pub target: Option<&'a str>,
    pub build_args: &'a std::collections::BTreeMap<String, String>,
    pub labels: &'a std::collections::BTreeMap<String, String>,
    pub epoch: i64,
    /// `(FROM reference as written, digest it resolves to now)`.
    pub bases: &'a [(String, Digest)],
    pub context: &'a Path,
    /// Left out of the context walk (stevedore's state).
    pub skip: &'a Path,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    manifest: Descriptor,
    size: u64,
}

/// The cache key of `inputs`.
pub fn key(inputs: &Inputs<'_>) -> Result<Digest> {
    let mut h = Sha256::new();
    let mut field = |name: &str, value: &[u8]| {
        h.update(name.as_bytes());
        h.update((value.len() as u64).to_le_bytes());
        h.update(value);
    };
    field("version", CACHE_VERSION.as_bytes());
    field("driver", inputs.driver.as_bytes());
    field("platform", inputs.platform.as_bytes());
    field("dockerfile", inputs.dockerfile);
    field("target", inputs.target.unwrap_or_default().as_bytes());
    for (k, v) in inputs.build_args {
        field("arg", format!("{k}={v}").as_bytes());
    }
    for (k, v) in inputs.labels {
        field("label", format!("{k}={v}").as_bytes());
    }
    field("epoch", &inputs.epoch.to_le_bytes());
    for (written, digest) in inputs.bases {
        field("from", format!("{written} {digest}").as_bytes());
    }
    let mut files = Vec::new();
    walk(inputs.context, inputs.context, inputs.skip, &mut files)?;
    files.sort();
    for f in files {
        field("file", f.as_bytes());
    }
    Ok(Digest::from_sha256(h.finalize().into()))
}

/// One line per context entry: path, type, size, mode, mtime (and a link's target).
fn walk(base: &Path, dir: &Path, skip: &Path, out: &mut Vec<String>) -> Result<()> {
    for e in fs::read_dir(dir)? {
        let e = e?;
        let path = e.path();
        if path == skip || (dir == base && e.file_name() == ".git") {
            continue;
        }
        let meta = fs::symlink_metadata(&path)?;
        let rel = path
            .strip_prefix(base)
            .unwrap_or(&path)
            .display()
            .to_string();
        let kind = if meta.is_dir() {
            "d"
        } else if meta.file_type().is_symlink() {
            "l"
        } else {
            "f"
        };
        let link = if kind == "l" {
            fs::read_link(&path)?.display().to_string()
        } else {
            String::new()
        };
        out.push(format!(
            "{rel}\0{kind}\0{}\0{:o}\0{}.{}\0{link}",
            meta.len(),
            meta.mode(),
            meta.mtime(),
            meta.mtime_nsec()
        ));
        if meta.is_dir() {
            walk(base, &path, skip, out)?;
        }
    }
    Ok(())
}

/// The platform manifest built for `key` before, when it and every blob it needs are still
/// intact in `layout`: `(manifest descriptor, manifest + config + layers size)`.
pub fn lookup(layout: &Layout, cache_dir: &Path, key: &Digest) -> Option<(Descriptor, u64)> {
    let file = cache_dir.join(format!("dockerfile-{}.json", key.hex()));
    let entry: Entry = serde_json::from_slice(&fs::read(file).ok()?).ok()?;
    if !layout.has_intact_blob(&entry.manifest.digest).ok()? {
        return None;
    }
    let manifest: Manifest = layout.read_json(&entry.manifest.digest).ok()?;
    for d in std::iter::once(&manifest.config).chain(&manifest.layers) {
        if !layout.has_intact_blob(&d.digest).ok()? {
            return None;
        }
    }
    Some((entry.manifest, entry.size))
}

/// Remembers what `key` built (best effort: a failed write only costs a rebuild).
pub fn store(cache_dir: &Path, key: &Digest, manifest: &Descriptor, size: u64) {
    let entry = Entry {
        manifest: manifest.clone(),
        size,
    };
    if let Ok(bytes) = serde_json::to_vec(&entry) {
        let _ = fs::create_dir_all(cache_dir);
        let _ = write_atomic(
            &cache_dir.join(format!("dockerfile-{}.json", key.hex())),
            &bytes,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn the_key_follows_every_input() {
        let d = tempfile::tempdir().unwrap();
        let ctx = d.path().join("ctx");
        fs::create_dir_all(ctx.join("src")).unwrap();
        fs::create_dir_all(ctx.join("target/stevedore")).unwrap();
        fs::write(ctx.join("src/a.txt"), "a").unwrap();
        let skip = ctx.join("target/stevedore");
        let args = BTreeMap::new();
        let labels = BTreeMap::new();
        let bases = vec![("base:1".to_string(), Digest::of(b"base v1"))];
        let inputs = |df: &'static [u8], bases: &[(String, Digest)]| -> Digest {
            key(&Inputs {
                driver: "buildah",
                platform: "linux/amd64",
                dockerfile: df,
                target: None,
                build_args: &args,
                labels: &labels,
                epoch: 1,
                bases,
                context: &ctx,
                skip: &skip,
            })
            .unwrap()
        };
        let first = inputs(b"FROM base:1", &bases);
        assert_eq!(first, inputs(b"FROM base:1", &bases), "stable");
        // stevedore's own state does not count.
        fs::write(skip.join("state"), "x").unwrap();
        assert_eq!(first, inputs(b"FROM base:1", &bases));
        assert_ne!(first, inputs(b"FROM base:2", &bases), "Dockerfile");
        let moved = vec![("base:1".to_string(), Digest::of(b"base v2"))];
        assert_ne!(first, inputs(b"FROM base:1", &moved), "a moved tag");
        fs::write(ctx.join("src/b.txt"), "b").unwrap();
        assert_ne!(first, inputs(b"FROM base:1", &bases), "a new file");
    }
}
