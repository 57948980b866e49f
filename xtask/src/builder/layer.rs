//! Reproducible layers: a tar of files streamed through the parallel gzip (or zstd) into the
//! layout.
//!
//! Entries are sorted, parent directories are created, owners are fixed (uid/gid 0 unless
//! configured), every mtime is `SOURCE_DATE_EPOCH`, file modes are normalised (0755 when the
//! source is executable, else 0644, unless configured) and headers are plain GNU headers with no
//! user/group names and no PAX records. The tar's sha256 (the `diff_id`) and the blob's sha256
//! are computed while streaming: a layer is never held in memory.
//!
//! Rebuilds are cheap: a cache keyed by the inputs' metadata (path, size, mtime, inode, mode,
//! destination, owner, epoch, codec and level) maps to the blob and diff_id already in the
//! layout.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::compress::{self, Codec};
use crate::config::Compression;
use crate::oci::layout::{write_atomic, Layout};
use crate::oci::{Descriptor, Digest, MEDIA_LAYER_GZIP};

/// Default gzip level: level 1 keeps a 200 MB layer at disk speed on two cores; the size gain
/// of higher levels is small for typical binaries (set `compression-level` to trade).
pub const DEFAULT_GZIP_LEVEL: u32 = 1;
/// Default zstd level: zstd's own default, about as fast as level 1 and a little smaller.
pub const DEFAULT_ZSTD_LEVEL: u32 = 3;

/// Bump when the layer format changes, so old cache entries are not reused.
const CACHE_VERSION: &str = "stevedore-layer-v1";

/// One file placed in a layer.
#[derive(Debug, Clone)]
pub struct LayerFile {
    pub src: PathBuf,
    /// Absolute path in the image.
    pub dst: String,
    /// Permission bits; default: 0755 if the source is executable by its owner, else 0644.
    pub mode: Option<u32>,
    pub uid: u32,
    pub gid: u32,
}

#[derive(Debug, Clone)]
pub struct LayerSpec {
    pub files: Vec<LayerFile>,
    /// `SOURCE_DATE_EPOCH`: every entry's mtime.
    pub epoch: i64,
    pub compression: Compression,
    /// Codec level (gzip 0-9, zstd 1-19).
    pub level: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuiltLayer {
    pub descriptor: Descriptor,
    pub diff_id: Digest,
    /// Re-used from a previous build.
    #[serde(skip)]
    pub cached: bool,
}

enum Entry<'a> {
    Dir,
    File(&'a LayerFile, fs::Metadata),
}

/// Builds (or re-uses) the layer described by `spec` in `layout`. `cache_dir` holds the
/// rebuild cache; `None` disables it.
pub fn build(layout: &Layout, cache_dir: Option<&Path>, spec: &LayerSpec) -> Result<BuiltLayer> {
    let entries = entries(spec)?;
    let key = cache_key(spec, &entries);
    let cache_file = cache_dir.map(|d| d.join(format!("{}.json", key.hex())));
    if let Some(hit) = cache_file.as_deref().and_then(|f| cached(layout, f)) {
        return Ok(hit);
    }

    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let (descriptor, diff_id) = match spec.compression {
        Compression::Gzip => write_layer(
            layout,
            &compress::Gzip::new(spec.level),
            MEDIA_LAYER_GZIP,
            threads,
            &entries,
            spec.epoch,
        )?,
        #[cfg(feature = "zstd")]
        Compression::Zstd => write_layer(
            layout,
            &compress::Zstd::new(spec.level),
            crate::oci::MEDIA_LAYER_ZSTD,
            threads,
            &entries,
            spec.epoch,
        )?,
        #[cfg(not(feature = "zstd"))]
        Compression::Zstd => bail!("{ZSTD_DISABLED}"),
    };
    let layer = BuiltLayer {
        descriptor,
        diff_id,
        cached: false,
    };
    if let Some(f) = cache_file {
        // The cache is an optimisation: failing to write it never fails a build.
        if let Some(dir) = f.parent() {
            let _ = fs::create_dir_all(dir);
        }
        let _ = write_atomic(&f, &serde_json::to_vec(&layer)?);
    }
    Ok(layer)
}

/// Why `compression = "zstd"` fails in a build without the `zstd` feature, and the fix.
pub const ZSTD_DISABLED: &str = "zstd layers need stevedore built with its `zstd` cargo feature \
     (libzstd, off by default to keep the first build fast): run `cargo xtask` as \
     `cargo run -p xtask --features zstd -- ...`, or add `--features zstd` to the `xtask` alias \
     in .cargo/config.toml; or set compression = \"gzip\"";

/// Streams the tar of `entries` through `codec` into a new blob; returns its descriptor and
/// the tar's digest (the `diff_id`).
fn write_layer<C: Codec>(
    layout: &Layout,
    codec: &C,
    media_type: &str,
    threads: usize,
    entries: &BTreeMap<String, Entry<'_>>,
    epoch: i64,
) -> Result<(Descriptor, Digest)> {
    let blob = layout.blob_writer()?;
    let mut diff = Sha256::new();
    let (blob, _) = compress::compress(blob, codec, threads, |out| {
        let mut tar = tar::Builder::new(HashWriter {
            inner: out,
            hasher: &mut diff,
        });
        write_tar(&mut tar, entries, epoch)?;
        tar.into_inner()?;
        Ok(())
    })?;
    let descriptor = blob.finish(media_type)?;
    Ok((descriptor, Digest::from_sha256(diff.finalize().into())))
}

fn cached(layout: &Layout, file: &Path) -> Option<BuiltLayer> {
    let layer: BuiltLayer = serde_json::from_slice(&fs::read(file).ok()?).ok()?;
    let on_disk = fs::metadata(layout.blob_path(&layer.descriptor.digest)).ok()?;
    let intact = on_disk.len() == layer.descriptor.size
        && layout
            .has_intact_blob(&layer.descriptor.digest)
            .unwrap_or(false);
    intact.then_some(BuiltLayer {
        cached: true,
        ..layer
    })
}

/// Every entry of the layer, by path in the tar (`usr/local/bin/x`, directories end in `/`).
fn entries(spec: &LayerSpec) -> Result<BTreeMap<String, Entry<'_>>> {
    let mut out: BTreeMap<String, Entry<'_>> = BTreeMap::new();
    for f in &spec.files {
        let rel = normalize_dst(&f.dst)?;
        let meta = fs::metadata(&f.src)
            .with_context(|| format!("cannot read {} (for {})", f.src.display(), f.dst))?;
        if !meta.is_file() {
            bail!("{} is not a regular file (for {})", f.src.display(), f.dst);
        }
        let mut parent = Path::new(&rel).parent();
        while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
            let key = format!("{}/", p.display());
            if out.contains_key(key.trim_end_matches('/')) {
                bail!(
                    "{} is a file, but {} is placed inside it",
                    p.display(),
                    f.dst
                );
            }
            out.insert(key, Entry::Dir);
            parent = p.parent();
        }
        if out.contains_key(&format!("{rel}/")) {
            bail!("{} is both a directory and a file in the image", f.dst);
        }
        if out.insert(rel, Entry::File(f, meta)).is_some() {
            bail!("{} is placed twice in the image", f.dst);
        }
    }
    Ok(out)
}

/// `/usr/local/bin/x` → `usr/local/bin/x`; rejects empty paths and `..`.
fn normalize_dst(dst: &str) -> Result<String> {
    let parts: Vec<&str> = dst
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.is_empty() || parts.contains(&"..") || !dst.starts_with('/') {
        bail!("{dst:?} is not an absolute file path inside the image");
    }
    Ok(parts.join("/"))
}

fn file_mode(f: &LayerFile, meta: &fs::Metadata) -> u32 {
    f.mode.unwrap_or(if meta.mode() & 0o100 != 0 {
        0o755
    } else {
        0o644
    })
}

fn write_tar<W: Write>(
    tar: &mut tar::Builder<W>,
    entries: &BTreeMap<String, Entry<'_>>,
    epoch: i64,
) -> io::Result<()> {
    let mtime = epoch.max(0) as u64;
    for (path, entry) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(mtime);
        match entry {
            Entry::Dir => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_uid(0);
                h.set_gid(0);
                h.set_size(0);
                tar.append_data(&mut h, path, io::empty())?;
            }
            Entry::File(f, meta) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(file_mode(f, meta));
                h.set_uid(f.uid.into());
                h.set_gid(f.gid.into());
                h.set_size(meta.len());
                let file = File::open(&f.src)?;
                let reader = ExactReader {
                    inner: file.take(meta.len()),
                    left: meta.len(),
                    path: &f.src,
                };
                tar.append_data(&mut h, path, reader)?;
            }
        }
    }
    Ok(())
}

/// Reads exactly the size recorded in the header, or fails (a file that shrank while being
/// read would otherwise corrupt the tar).
struct ExactReader<'a, R> {
    inner: R,
    left: u64,
    path: &'a Path,
}

impl<R: Read> Read for ExactReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.left > 0 && !buf.is_empty() {
            return Err(io::Error::other(format!(
                "{} changed while being read",
                self.path.display()
            )));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

struct HashWriter<'a, W: ?Sized> {
    inner: &'a mut W,
    hasher: &'a mut Sha256,
}

impl<W: Write + ?Sized> Write for HashWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The codec's name in the cache key (gzip keeps the key it always had).
fn codec_name(c: Compression) -> &'static str {
    match c {
        Compression::Gzip => "gzip",
        Compression::Zstd => "zstd",
    }
}

fn cache_key(spec: &LayerSpec, entries: &BTreeMap<String, Entry<'_>>) -> Digest {
    let mut h = Sha256::new();
    let mut line = |s: String| {
        h.update(s.as_bytes());
        h.update(b"\n");
    };
    line(format!(
        "{CACHE_VERSION} epoch={} {}={} chunk={}",
        spec.epoch,
        codec_name(spec.compression),
        spec.level,
        compress::CHUNK
    ));
    for (path, entry) in entries {
        match entry {
            Entry::Dir => line(format!("dir {path}")),
            Entry::File(f, m) => line(format!(
                "file {path} src={} size={} mtime={}.{} ino={} dev={} ctime={}.{} mode={:o} uid={} gid={}",
                f.src.display(),
                m.len(),
                m.mtime(),
                m.mtime_nsec(),
                m.ino(),
                m.dev(),
                m.ctime(),
                m.ctime_nsec(),
                file_mode(f, m),
                f.uid,
                f.gid
            )),
        }
    }
    Digest::from_sha256(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dir: &Path, name: &str, body: &[u8]) -> PathBuf {
        let p = dir.join(name);
        fs::write(&p, body).unwrap();
        p
    }

    fn list(layout: &Layout, layer: &BuiltLayer) -> Vec<(String, u32, u64, u64)> {
        let blob = layout.open_blob(&layer.descriptor.digest).unwrap();
        let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(blob));
        ar.entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    e.path().unwrap().display().to_string(),
                    h.mode().unwrap(),
                    h.mtime().unwrap(),
                    h.uid().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn layers_are_sorted_reproducible_and_cached() {
        let src = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let layout = Layout::create(out.path()).unwrap();
        let a = file(src.path(), "a", b"alpha");
        let b = file(src.path(), "b", b"beta");
        let spec = LayerSpec {
            files: vec![
                LayerFile {
                    src: b,
                    dst: "/usr/bin/b".into(),
                    mode: Some(0o755),
                    uid: 65532,
                    gid: 65532,
                },
                LayerFile {
                    src: a,
                    dst: "/etc/a".into(),
                    mode: None,
                    uid: 0,
                    gid: 0,
                },
            ],
            epoch: 1_700_000_000,
            compression: Compression::Gzip,
            level: 1,
        };
        let one = build(&layout, None, &spec).unwrap();
        let two = build(&layout, None, &spec).unwrap();
        assert_eq!(one.descriptor, two.descriptor);
        assert_eq!(one.diff_id, two.diff_id);
        assert_eq!(
            list(&layout, &one),
            vec![
                ("etc/".into(), 0o755, 1_700_000_000, 0),
                ("etc/a".into(), 0o644, 1_700_000_000, 0),
                ("usr/".into(), 0o755, 1_700_000_000, 0),
                ("usr/bin/".into(), 0o755, 1_700_000_000, 0),
                ("usr/bin/b".into(), 0o755, 1_700_000_000, 65532),
            ]
        );
        let cache = out.path().join("cache");
        assert!(!build(&layout, Some(&cache), &spec).unwrap().cached);
        let again = build(&layout, Some(&cache), &spec).unwrap();
        assert!(again.cached);
        assert_eq!(again.descriptor, one.descriptor);
        // A changed input misses the cache.
        std::thread::sleep(std::time::Duration::from_millis(10));
        fs::write(&spec.files[1].src, b"ALPHA").unwrap();
        let changed = build(&layout, Some(&cache), &spec).unwrap();
        assert!(!changed.cached);
        assert_ne!(changed.descriptor.digest, one.descriptor.digest);
    }

    #[test]
    fn conflicting_paths_are_rejected() {
        let src = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let layout = Layout::create(out.path()).unwrap();
        let a = file(src.path(), "a", b"x");
        let f = |dst: &str| LayerFile {
            src: a.clone(),
            dst: dst.into(),
            mode: None,
            uid: 0,
            gid: 0,
        };
        for files in [
            vec![f("/x"), f("/x")],
            vec![f("/x"), f("/x/y")],
            vec![f("/x/y"), f("/x")],
            vec![f("/../x")],
        ] {
            let spec = LayerSpec {
                files,
                epoch: 0,
                compression: Compression::Gzip,
                level: 1,
            };
            assert!(build(&layout, None, &spec).is_err());
        }
        let spec = LayerSpec {
            files: vec![LayerFile {
                src: src.path().join("missing"),
                ..f("/m")
            }],
            epoch: 0,
            compression: Compression::Gzip,
            level: 1,
        };
        let err = build(&layout, None, &spec).unwrap_err().to_string();
        assert!(err.contains("missing"), "{err}");
    }

    fn two_files(src: &Path) -> Vec<LayerFile> {
        let a = file(src, "a", &b"alpha ".repeat(300_000));
        let b = file(src, "b", b"beta");
        vec![
            LayerFile {
                src: a,
                dst: "/etc/a".into(),
                mode: None,
                uid: 0,
                gid: 0,
            },
            LayerFile {
                src: b,
                dst: "/usr/bin/b".into(),
                mode: Some(0o755),
                uid: 0,
                gid: 0,
            },
        ]
    }

    #[test]
    fn cache_key_covers_codec_and_level() {
        let src = tempfile::tempdir().unwrap();
        let files = two_files(src.path());
        let spec = |compression, level| LayerSpec {
            files: files.clone(),
            epoch: 0,
            compression,
            level,
        };
        let key = |s: &LayerSpec| cache_key(s, &entries(s).unwrap());
        let gz1 = key(&spec(Compression::Gzip, 1));
        assert_eq!(gz1, key(&spec(Compression::Gzip, 1)));
        assert_ne!(gz1, key(&spec(Compression::Gzip, 6)));
        assert_ne!(gz1, key(&spec(Compression::Zstd, 1)));
        assert_ne!(
            key(&spec(Compression::Zstd, 3)),
            key(&spec(Compression::Zstd, 19))
        );
    }

    #[cfg(not(feature = "zstd"))]
    #[test]
    fn zstd_without_the_feature_says_how_to_enable_it() {
        let src = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let layout = Layout::create(out.path()).unwrap();
        let spec = LayerSpec {
            files: two_files(src.path()),
            epoch: 0,
            compression: Compression::Zstd,
            level: 3,
        };
        let err = build(&layout, None, &spec).unwrap_err().to_string();
        assert!(err.contains("--features zstd"), "{err}");
    }

    #[cfg(feature = "zstd")]
    #[test]
    fn zstd_layers_hold_the_same_tar_as_gzip_layers() {
        let src = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let layout = Layout::create(out.path()).unwrap();
        let cache = out.path().join("cache");
        let files = two_files(src.path());
        let spec = |compression, level| LayerSpec {
            files: files.clone(),
            epoch: 1_700_000_000,
            compression,
            level,
        };
        let gz = build(&layout, Some(&cache), &spec(Compression::Gzip, 1)).unwrap();
        let zs = build(&layout, Some(&cache), &spec(Compression::Zstd, 3)).unwrap();
        // The gzip entry of the cache is not taken for the zstd layer.
        assert!(!zs.cached);
        assert_eq!(zs.descriptor.media_type, crate::oci::MEDIA_LAYER_ZSTD);
        assert_ne!(zs.descriptor.digest, gz.descriptor.digest);

        let read = |layer: &BuiltLayer| {
            let mut v = Vec::new();
            layout
                .open_blob(&layer.descriptor.digest)
                .unwrap()
                .read_to_end(&mut v)
                .unwrap();
            v
        };
        let mut tar_gz = Vec::new();
        flate2::read::GzDecoder::new(&read(&gz)[..])
            .read_to_end(&mut tar_gz)
            .unwrap();
        let tar_zst = zstd::stream::decode_all(&read(&zs)[..]).unwrap();
        assert_eq!(tar_zst, tar_gz);
        assert_eq!(zs.diff_id, gz.diff_id);
        assert_eq!(
            zs.diff_id,
            Digest::from_sha256(Sha256::digest(&tar_zst).into())
        );

        // Reproducible, cached, and a new level is a new layer.
        let again = build(&layout, Some(&cache), &spec(Compression::Zstd, 3)).unwrap();
        assert!(again.cached);
        assert_eq!(again.descriptor, zs.descriptor);
        let other = build(&layout, None, &spec(Compression::Zstd, 19)).unwrap();
        assert_eq!(other.diff_id, zs.diff_id);
        assert_ne!(other.descriptor.digest, zs.descriptor.digest);
        let fresh = tempfile::tempdir().unwrap();
        let fresh = Layout::create(fresh.path()).unwrap();
        assert_eq!(
            build(&fresh, None, &spec(Compression::Zstd, 3))
                .unwrap()
                .descriptor,
            zs.descriptor
        );
    }
}
