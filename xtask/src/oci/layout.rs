//! An OCI image layout on disk: `oci-layout`, `index.json`, `blobs/sha256/…`.
//!
//! The layout is the hand-off between stages. Blobs are content-addressed and written once,
//! atomically (temp file, fsync, rename) and verified against their digest; `index.json` is
//! rewritten atomically, so an interrupted build never leaves a half-written blob or a name
//! pointing at nothing.
//!
//! The layout heals: a blob is reused only after its content was checked against its digest
//! (a stamp in `.stevedore-verified/` keyed by the file's inode, size and modification time
//! saves re-hashing an untouched blob), and a corrupt one is replaced. `index.json` is updated
//! under an exclusive lock (`index.json.lock`), re-read inside it, so concurrent builds into
//! one layout never lose a name. Temp files left by processes that died are removed when the
//! layout is opened for writing.

use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{bail, Context, Result};
use sha2::{Digest as _, Sha256};

use crate::oci::{self, Descriptor, Digest, Index, ANNOTATION_REF_NAME};

const OCI_LAYOUT: &str = r#"{"imageLayoutVersion":"1.0.0"}"#;

/// An OCI image layout directory.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// Opens the layout at `dir` for writing, creating an empty one if the directory has none;
    /// temp files of processes that are gone are removed.
    pub fn create(dir: &Path) -> Result<Layout> {
        if dir.join("oci-layout").is_file() {
            let layout = Layout::open(dir)?;
            layout.remove_stale_temps();
            return Ok(layout);
        }
        fs::create_dir_all(dir.join("blobs/sha256"))
            .with_context(|| format!("cannot create the OCI layout directory {}", dir.display()))?;
        let layout = Layout {
            root: dir.to_path_buf(),
        };
        write_atomic(&dir.join("oci-layout"), OCI_LAYOUT.as_bytes())?;
        if !dir.join("index.json").exists() {
            layout.write_index(&Index::new(Vec::new()))?;
        }
        Ok(layout)
    }

    /// Opens an existing layout.
    pub fn open(dir: &Path) -> Result<Layout> {
        let marker = dir.join("oci-layout");
        let text = fs::read_to_string(&marker).with_context(|| {
            format!(
                "{} is not an OCI image layout (no readable oci-layout file): run `cargo xtask build` first, or pass the right --layout",
                dir.display()
            )
        })?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{}: invalid JSON", marker.display()))?;
        if v["imageLayoutVersion"] != "1.0.0" {
            bail!(
                "{}: unsupported imageLayoutVersion {}",
                marker.display(),
                v["imageLayoutVersion"]
            );
        }
        fs::create_dir_all(dir.join("blobs/sha256"))?;
        Ok(Layout {
            root: dir.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(digest.hex())
    }

    /// Whether a file for `digest` is there (see [`Layout::has_intact_blob`] before reusing it).
    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// Whether the layout holds blob `digest` with content that matches it. A blob is re-hashed
    /// unless its verified stamp (inode, size, modification time) still matches the file; a
    /// corrupt blob is removed, so that the next write puts the right content in its place.
    pub fn has_intact_blob(&self, digest: &Digest) -> Result<bool> {
        let path = self.blob_path(digest);
        let Ok(meta) = fs::metadata(&path) else {
            return Ok(false);
        };
        let stamp = self.stamp_path(digest);
        if fs::read_to_string(&stamp).is_ok_and(|s| s == stamp_of(&meta)) {
            return Ok(true);
        }
        if self.verify_blob(digest)? {
            self.stamp(digest);
            return Ok(true);
        }
        let _ = fs::remove_file(&stamp);
        fs::remove_file(&path).with_context(|| {
            format!(
                "blob {} does not match its digest and cannot be removed",
                path.display()
            )
        })?;
        Ok(false)
    }

    /// Records that blob `digest` was checked (best effort: a missing stamp only costs a
    /// re-hash).
    fn stamp(&self, digest: &Digest) {
        if let Ok(meta) = fs::metadata(self.blob_path(digest)) {
            let stamp = self.stamp_path(digest);
            let _ = fs::create_dir_all(stamp.parent().expect("stamp dir"));
            let _ = write_atomic(&stamp, stamp_of(&meta).as_bytes());
        }
    }

    fn stamp_path(&self, digest: &Digest) -> PathBuf {
        self.root.join(".stevedore-verified").join(digest.hex())
    }

    /// Stores `bytes` as a blob and describes it.
    pub fn write_blob(&self, media_type: &str, bytes: &[u8]) -> Result<Descriptor> {
        let desc = Descriptor::of(media_type, bytes);
        if !self.has_intact_blob(&desc.digest)? {
            write_atomic(&self.blob_path(&desc.digest), bytes)?;
            self.stamp(&desc.digest);
        }
        Ok(desc)
    }

    /// Stores a JSON document as a blob (the exact bytes are kept).
    pub fn write_json<T: serde::Serialize>(&self, media_type: &str, doc: &T) -> Result<Descriptor> {
        self.write_blob(media_type, &oci::to_bytes(doc))
    }

    /// A writer that streams a blob to a temp file, hashing as it goes; `finish` moves it into
    /// place under its digest.
    pub fn blob_writer(&self) -> Result<BlobWriter> {
        let tmp = self.temp_path();
        let file = File::create(&tmp)
            .with_context(|| format!("cannot create a temp blob in {}", self.root.display()))?;
        Ok(BlobWriter {
            layout: self.clone(),
            tmp,
            file: Some(io::BufWriter::with_capacity(1 << 20, file)),
            hasher: Sha256::new(),
            size: 0,
        })
    }

    /// Reads a whole blob, checking its digest.
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let path = self.blob_path(digest);
        let bytes = fs::read(&path)
            .with_context(|| format!("blob {digest} is missing from {}", self.root.display()))?;
        if Digest::of(&bytes) != *digest {
            bail!(
                "blob {} does not match its digest: the layout is corrupt; delete it and rebuild",
                path.display()
            );
        }
        Ok(bytes)
    }

    /// Opens a blob for streaming (the caller checks the digest if it needs to).
    pub fn open_blob(&self, digest: &Digest) -> Result<File> {
        File::open(self.blob_path(digest))
            .with_context(|| format!("blob {digest} is missing from {}", self.root.display()))
    }

    /// Re-hashes a blob on disk; false when missing or corrupt.
    pub fn verify_blob(&self, digest: &Digest) -> Result<bool> {
        let Ok(file) = File::open(self.blob_path(digest)) else {
            return Ok(false);
        };
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(Digest::from_sha256(hasher.finalize().into()) == *digest)
    }

    /// Copies the blob `desc` from another layout (streamed), unless already here. The copy is
    /// checked against the digest and size: a corrupt source blob is never stored.
    pub fn copy_blob_from(&self, src: &Layout, desc: &Descriptor) -> Result<()> {
        if self.has_intact_blob(&desc.digest)? {
            return Ok(());
        }
        let mut from = src.open_blob(&desc.digest)?;
        let mut w = self.blob_writer()?;
        io::copy(&mut from, &mut w).with_context(|| {
            format!(
                "cannot copy blob {} from {}",
                desc.digest,
                src.root.display()
            )
        })?;
        if w.digest() != desc.digest || w.size() != desc.size {
            // Dropping the writer removes the temp file.
            bail!(
                "blob {} in {} does not match its descriptor (digest {}, {} bytes; expected {} bytes): the source layout is corrupt",
                desc.digest,
                src.root.display(),
                w.digest(),
                w.size(),
                desc.size
            );
        }
        w.finish(&desc.media_type)?;
        Ok(())
    }

    /// Parses a JSON blob.
    pub fn read_json<T: serde::de::DeserializeOwned>(&self, digest: &Digest) -> Result<T> {
        let bytes = self.read_blob(digest)?;
        serde_json::from_slice(&bytes).with_context(|| format!("blob {digest} is not valid JSON"))
    }

    /// The layout's `index.json`.
    pub fn index(&self) -> Result<Index> {
        let path = self.root.join("index.json");
        let bytes = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a valid OCI index", path.display()))
    }

    fn write_index(&self, index: &Index) -> Result<()> {
        let mut bytes = serde_json::to_vec_pretty(index)?;
        bytes.push(b'\n');
        write_atomic(&self.root.join("index.json"), &bytes)
    }

    /// Reads `index.json`, applies `change` and writes it back, all under an exclusive lock on
    /// `index.json.lock`, so that concurrent writers never lose each other's names.
    fn update_index(&self, change: impl FnOnce(&mut Index) -> bool) -> Result<()> {
        let lock_path = self.root.join("index.json.lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("cannot open {}", lock_path.display()))?;
        lock.lock()
            .with_context(|| format!("cannot lock {}", lock_path.display()))?;
        let mut index = self.index()?;
        if change(&mut index) {
            self.write_index(&index)?;
        }
        Ok(())
    }

    /// Names `desc` in `index.json` as `name` (replacing any entry of that name). The blob it
    /// points at must already be in the layout.
    pub fn set_ref(&self, name: &str, desc: &Descriptor) -> Result<()> {
        if !self.has_blob(&desc.digest) {
            bail!(
                "refusing to name {name}: blob {} is not in the layout",
                desc.digest
            );
        }
        let mut desc = desc.clone();
        desc.annotations
            .insert(ANNOTATION_REF_NAME.to_string(), name.to_string());
        self.update_index(|index| {
            index.manifests.retain(|d| d.ref_name() != Some(name));
            index.manifests.push(desc);
            index
                .manifests
                .sort_by(|a, b| a.ref_name().cmp(&b.ref_name()));
            true
        })
    }

    /// Removes the entry named `name`, if any.
    pub fn remove_ref(&self, name: &str) -> Result<()> {
        self.update_index(|index| {
            let before = index.manifests.len();
            index.manifests.retain(|d| d.ref_name() != Some(name));
            index.manifests.len() != before
        })
    }

    /// The descriptor named `name` in `index.json`.
    pub fn resolve(&self, name: &str) -> Result<Descriptor> {
        let index = self.index()?;
        index
            .manifests
            .into_iter()
            .find(|d| d.ref_name() == Some(name))
            .with_context(|| {
                format!(
                    "{} has no image named {name:?}: run `cargo xtask build` for this version first",
                    self.root.display()
                )
            })
    }

    /// Every named entry: `(name, descriptor)`.
    pub fn refs(&self) -> Result<Vec<(String, Descriptor)>> {
        Ok(self
            .index()?
            .manifests
            .into_iter()
            .filter_map(|d| d.ref_name().map(|n| (n.to_string(), d.clone())))
            .collect())
    }

    /// Removes `.tmp-<pid>-*` blobs and `.<name>.tmp-<pid>` files whose process is gone (an
    /// interrupted build). Best effort.
    fn remove_stale_temps(&self) {
        for dir in [self.root.clone(), self.root.join("blobs")] {
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if let Some(pid) = temp_owner(&name) {
                    if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
                        let _ = fs::remove_file(e.path());
                    }
                }
            }
        }
    }

    fn temp_path(&self) -> PathBuf {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        self.root
            .join("blobs")
            .join(format!(".tmp-{}-{n}", std::process::id()))
    }
}

/// Streams a blob into a layout; see [`Layout::blob_writer`].
pub struct BlobWriter {
    layout: Layout,
    tmp: PathBuf,
    file: Option<io::BufWriter<File>>,
    hasher: Sha256,
    size: u64,
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self
            .file
            .as_mut()
            .expect("BlobWriter used after finish")
            .write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().map_or(Ok(()), |f| f.flush())
    }
}

impl BlobWriter {
    /// Syncs and moves the blob into place; returns its descriptor.
    pub fn finish(mut self, media_type: &str) -> Result<Descriptor> {
        let file = self.file.take().expect("finish called once");
        let file = file.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        let digest = Digest::from_sha256(self.hasher.clone().finalize().into());
        let dest = self.layout.blob_path(&digest);
        if self.layout.has_intact_blob(&digest)? {
            fs::remove_file(&self.tmp)?;
        } else {
            fs::rename(&self.tmp, &dest)
                .with_context(|| format!("cannot move blob into {}", dest.display()))?;
            self.layout.stamp(&digest);
        }
        Ok(Descriptor::new(media_type, digest, self.size))
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The digest of the bytes written so far.
    pub fn digest(&self) -> Digest {
        Digest::from_sha256(self.hasher.clone().finalize().into())
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// What a verified stamp records of a blob file.
fn stamp_of(meta: &fs::Metadata) -> String {
    format!(
        "{} {} {}.{:09}",
        meta.ino(),
        meta.len(),
        meta.mtime(),
        meta.mtime_nsec()
    )
}

/// The process id in a temp file name this module makes (`.tmp-<pid>-<n>`,
/// `.<name>.tmp-<pid>`).
fn temp_owner(name: &str) -> Option<u32> {
    let (_, rest) = name.split_once(".tmp-")?;
    rest.split('-').next()?.parse().ok()
}

/// Writes `bytes` to `path` atomically: temp file in the same directory, fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| -> io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::{MEDIA_INDEX, MEDIA_LAYER_TAR};

    #[test]
    fn blobs_are_content_addressed_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(&dir.path().join("oci")).unwrap();
        let a = layout.write_blob(MEDIA_LAYER_TAR, b"hello").unwrap();
        let again = layout.write_blob(MEDIA_LAYER_TAR, b"hello").unwrap();
        assert_eq!(a, again);
        assert_eq!(layout.read_blob(&a.digest).unwrap(), b"hello");

        let mut w = layout.blob_writer().unwrap();
        w.write_all(b"hel").unwrap();
        w.write_all(b"lo").unwrap();
        let streamed = w.finish(MEDIA_LAYER_TAR).unwrap();
        assert_eq!(streamed, a);

        layout.set_ref("app:1.0.0", &a).unwrap();
        layout.set_ref("app:1.0.0", &a).unwrap();
        assert_eq!(layout.refs().unwrap().len(), 1);
        assert_eq!(layout.resolve("app:1.0.0").unwrap().digest, a.digest);
        assert!(layout.resolve("app:2").is_err());

        let missing = Descriptor::of(MEDIA_INDEX, b"not stored");
        assert!(layout.set_ref("x:1", &missing).is_err());
        layout.remove_ref("app:1.0.0").unwrap();
        assert!(layout.refs().unwrap().is_empty());
        // No temp files are left behind.
        let leftovers: Vec<_> = fs::read_dir(dir.path().join("oci/blobs"))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn dropped_writer_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(dir.path()).unwrap();
        let mut w = layout.blob_writer().unwrap();
        w.write_all(b"partial").unwrap();
        drop(w);
        let n = fs::read_dir(dir.path().join("blobs")).unwrap().count();
        assert_eq!(n, 1, "only blobs/sha256 remains");
    }

    #[test]
    fn corrupt_blob_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(dir.path()).unwrap();
        let d = layout.write_blob(MEDIA_LAYER_TAR, b"data").unwrap();
        fs::write(layout.blob_path(&d.digest), b"tampered").unwrap();
        assert!(layout.read_blob(&d.digest).is_err());
        assert!(!layout.verify_blob(&d.digest).unwrap());
    }

    #[test]
    fn corrupt_blob_is_replaced_by_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(dir.path()).unwrap();
        let d = layout.write_blob(MEDIA_LAYER_TAR, b"data").unwrap();
        assert!(layout.has_intact_blob(&d.digest).unwrap());
        // Same size, one byte flipped.
        fs::write(layout.blob_path(&d.digest), b"dbta").unwrap();
        assert!(!layout.has_intact_blob(&d.digest).unwrap());
        layout.write_blob(MEDIA_LAYER_TAR, b"data").unwrap();
        assert_eq!(layout.read_blob(&d.digest).unwrap(), b"data");
        // A streamed write repairs it too.
        fs::write(layout.blob_path(&d.digest), b"dbta").unwrap();
        let mut w = layout.blob_writer().unwrap();
        w.write_all(b"data").unwrap();
        w.finish(MEDIA_LAYER_TAR).unwrap();
        assert_eq!(layout.read_blob(&d.digest).unwrap(), b"data");
    }

    #[test]
    fn concurrent_writers_keep_every_name() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(dir.path()).unwrap();
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let layout = layout.clone();
                std::thread::spawn(move || {
                    for round in 0..10 {
                        let d = layout
                            .write_blob(MEDIA_INDEX, format!("{i}-{round}").as_bytes())
                            .unwrap();
                        layout.set_ref(&format!("img{i}:{round}"), &d).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(layout.refs().unwrap().len(), 80);
    }

    #[test]
    fn stale_temp_files_of_dead_processes_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        Layout::create(dir.path()).unwrap();
        // Pid 4194305 is above Linux's pid_max limit: never a live process.
        let stale = dir.path().join("blobs/.tmp-4194305-0");
        let live = dir
            .path()
            .join(format!("blobs/.tmp-{}-99", std::process::id()));
        fs::write(&stale, b"x").unwrap();
        fs::write(&live, b"x").unwrap();
        Layout::create(dir.path()).unwrap();
        assert!(!stale.exists());
        assert!(live.exists());
        assert_eq!(temp_owner(".index.json.tmp-42"), Some(42));
        assert_eq!(temp_owner("index.json"), None);
    }

    #[test]
    fn open_rejects_non_layouts() {
        let dir = tempfile::tempdir().unwrap();
        let err = Layout::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("not an OCI image layout"), "{err}");
    }
}
