//! Looks for secret values in what a layout would publish: every blob reachable from a
//! manifest or index (the index, the manifests, the configs, and every layer decompressed:
//! gzip, and zstd with the `zstd` feature). Read 1 MiB at a time; a layer that
//! decompresses to more than [`MAX_RATIO`] times its size (and at least [`MIN_CAP`]) is refused
//! rather than read on.
//!
//! What it does not see: a value inside a file that is itself compressed or encoded within a
//! layer (a `.gz` in the image, a base64 form the caller did not list).

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};

use aho_corasick::AhoCorasick;
use anyhow::{bail, Context, Result};

use super::layout::Layout;
use super::{Descriptor, Digest, Index, Manifest};
use super::{DOCKER_LIST, DOCKER_MANIFEST, MEDIA_INDEX, MEDIA_MANIFEST};

/// The largest ratio of decompressed to compressed bytes read (gzip cannot exceed ~1032).
pub const MAX_RATIO: u64 = 1100;
/// The least a layer may decompress to, whatever its compressed size.
pub const MIN_CAP: u64 = 1 << 30;
/// The largest manifest or index read (distribution's limit).
const MAX_MANIFEST: u64 = 4 << 20;
/// Bytes read and searched at a time.
const CHUNK: usize = 1 << 20;
/// Indexes inside indexes followed at most this deep.
const MAX_DEPTH: usize = 4;

/// A secret to look for: what it is called in messages (never its value) and the byte forms
/// it may take in a blob (as is, JSON-escaped, …).
#[derive(Debug, Clone)]
pub struct Needle {
    pub label: String,
    pub forms: Vec<Vec<u8>>,
}

/// Values shorter than this are not looked for: they would be found by chance.
pub const MIN_SECRET_LEN: usize = 8;

impl Needle {
    /// A secret value in the forms it takes in a blob: as is, JSON-escaped as serde and Go's
    /// `encoding/json` write it (Go also escapes `<`, `>`, `&` and U+2028/9: the configs
    /// buildah and BuildKit write), and the `extra` forms the caller knows of (base64, …).
    /// `None` when the value is shorter than [`MIN_SECRET_LEN`].
    pub fn of_secret(label: &str, value: &str, extra: &[String]) -> Option<Needle> {
        if value.len() < MIN_SECRET_LEN {
            return None;
        }
        let json = serde_json::to_string(value).unwrap_or_default();
        let json = json
            .strip_prefix('"')
            .and_then(|j| j.strip_suffix('"'))
            .unwrap_or(value)
            .to_string();
        let go = json
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026")
            .replace('\u{2028}', "\\u2028")
            .replace('\u{2029}', "\\u2029");
        let mut forms: Vec<Vec<u8>> = Vec::new();
        for f in [value.to_string(), json, go]
            .into_iter()
            .chain(extra.iter().cloned())
        {
            if !f.is_empty() && !forms.contains(&f.as_bytes().to_vec()) {
                forms.push(f.into_bytes());
            }
        }
        Some(Needle {
            label: label.to_string(),
            forms,
        })
    }
}

/// Where a secret was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The [`Needle::label`] found.
    pub label: String,
    pub blob: Digest,
    /// Which blob, in words: `layer 2 of linux/amd64`, `the config of linux/arm64`, …
    pub place: String,
}

/// A compiled set of needles.
pub struct Scanner {
    matcher: AhoCorasick,
    /// The needle of each pattern.
    owner: Vec<usize>,
    labels: Vec<String>,
    /// Blobs already read (clean): each is read once per scanner.
    seen: HashSet<Digest>,
    /// The longest form, in bytes.
    longest: usize,
    /// Bytes read, decompressed (for the report).
    pub bytes: u64,
    pub blobs: usize,
}

impl Scanner {
    /// `None` when there is nothing to look for.
    pub fn new(needles: &[Needle]) -> Result<Option<Scanner>> {
        let mut patterns = Vec::new();
        let mut owner = Vec::new();
        for (i, n) in needles.iter().enumerate() {
            for f in n.forms.iter().filter(|f| !f.is_empty()) {
                patterns.push(f.clone());
                owner.push(i);
            }
        }
        if patterns.is_empty() {
            return Ok(None);
        }
        let matcher = AhoCorasick::new(&patterns).context("cannot compile the secret matcher")?;
        let longest = patterns.iter().map(Vec::len).max().unwrap_or(0);
        Ok(Some(Scanner {
            longest,
            matcher,
            owner,
            labels: needles.iter().map(|n| n.label.clone()).collect(),
            seen: HashSet::new(),
            bytes: 0,
            blobs: 0,
        }))
    }

    /// The first needle in `reader`, read to its end (or to the first hit): 1 MiB at a time,
    /// each chunk searched with the last `longest - 1` bytes of the one before (a value that
    /// straddles two reads is found), with the matcher's SIMD prefilters.
    fn find_in(&mut self, mut reader: impl Read) -> io::Result<Option<String>> {
        let keep = self.longest.saturating_sub(1);
        let mut buf = vec![0u8; CHUNK + keep];
        let mut have = 0;
        loop {
            let n = match reader.read(&mut buf[have..]) {
                Ok(0) => return Ok(None),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.bytes += n as u64;
            have += n;
            if let Some(m) = self.matcher.find(&buf[..have]) {
                return Ok(Some(
                    self.labels[self.owner[m.pattern().as_usize()]].clone(),
                ));
            }
            if have > keep {
                buf.copy_within(have - keep..have, 0);
                have = keep;
            }
        }
    }

    /// Every blob reachable from `top` (an index or a manifest): the first secret found.
    pub fn scan(&mut self, layout: &Layout, top: &Descriptor) -> Result<Option<Hit>> {
        self.walk(layout, top, "", 0)
    }

    fn walk(
        &mut self,
        layout: &Layout,
        desc: &Descriptor,
        platform: &str,
        depth: usize,
    ) -> Result<Option<Hit>> {
        let mt = desc.media_type.as_str();
        let is_index = mt == MEDIA_INDEX || mt == DOCKER_LIST;
        let is_manifest = mt == MEDIA_MANIFEST || mt == DOCKER_MANIFEST;
        let platform = match &desc.platform {
            Some(p) => {
                format!("{}/{}", p.os, p.architecture)
                    + &p.variant
                        .as_ref()
                        .map(|v| format!("/{v}"))
                        .unwrap_or_default()
            }
            None => platform.to_string(),
        };
        let of = |what: &str| match platform.as_str() {
            "" => what.to_string(),
            p => format!("{what} of {p}"),
        };
        if !is_index && !is_manifest {
            return self.blob(layout, desc, of("the blob"));
        }
        if desc.size > MAX_MANIFEST {
            bail!(
                "{} {} is {} bytes, more than the {MAX_MANIFEST} a manifest may be",
                of(if is_index {
                    "the index"
                } else {
                    "the manifest"
                }),
                desc.digest,
                desc.size
            );
        }
        let what = of(if is_index {
            "the index"
        } else {
            "the manifest"
        });
        if let Some(hit) = self.blob(layout, desc, what)? {
            return Ok(Some(hit));
        }
        if is_index {
            if depth >= MAX_DEPTH {
                bail!(
                    "indexes nested more than {MAX_DEPTH} deep at {}",
                    desc.digest
                );
            }
            let index: Index = layout.read_json(&desc.digest)?;
            for m in &index.manifests {
                if let Some(hit) = self.walk(layout, m, &platform, depth + 1)? {
                    return Ok(Some(hit));
                }
            }
            return Ok(None);
        }
        let manifest: Manifest = layout.read_json(&desc.digest)?;
        if let Some(hit) = self.blob(layout, &manifest.config, of("the config"))? {
            return Ok(Some(hit));
        }
        for (i, layer) in manifest.layers.iter().enumerate() {
            let place = of(&format!("layer {}", i + 1));
            if let Some(hit) = self.blob(layout, layer, place)? {
                return Ok(Some(hit));
            }
        }
        Ok(None)
    }

    /// One blob: as is, or decompressed when it starts with a gzip or zstd header.
    fn blob(&mut self, layout: &Layout, desc: &Descriptor, place: String) -> Result<Option<Hit>> {
        if self.seen.contains(&desc.digest) {
            return Ok(None);
        }
        let file = layout.open_blob(&desc.digest)?;
        let found = self
            .read_blob(file, desc.size)
            .with_context(|| format!("checking {place} ({}) for secrets", desc.digest))?;
        self.blobs += 1;
        self.seen.insert(desc.digest.clone());
        Ok(found.map(|label| Hit {
            label,
            blob: desc.digest.clone(),
            place,
        }))
    }

    fn read_blob(&mut self, file: File, size: u64) -> Result<Option<String>> {
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let head = reader.fill_buf()?;
        let cap = size.saturating_mul(MAX_RATIO).max(MIN_CAP);
        if head.starts_with(&[0x1f, 0x8b]) {
            let gz = flate2::read::MultiGzDecoder::new(reader);
            return Ok(self.find_in(Capped::new(gz, cap))?);
        }
        if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            return self.zstd(reader, cap);
        }
        Ok(self.find_in(reader)?)
    }

    #[cfg(feature = "zstd")]
    fn zstd(&mut self, reader: BufReader<File>, cap: u64) -> Result<Option<String>> {
        let z = zstd::stream::read::Decoder::with_buffer(reader)?;
        Ok(self.find_in(Capped::new(z, cap))?)
    }

    #[cfg(not(feature = "zstd"))]
    fn zstd(&mut self, _reader: BufReader<File>, _cap: u64) -> Result<Option<String>> {
        bail!(
            "a zstd-compressed blob, which this stevedore cannot read (built without the `zstd` \
             feature): build stevedore with `--features zstd`"
        )
    }
}

/// Fails once more than `cap` bytes came through (a decompression bomb).
struct Capped<R> {
    inner: R,
    left: u64,
    cap: u64,
}

impl<R> Capped<R> {
    fn new(inner: R, cap: u64) -> Capped<R> {
        Capped {
            inner,
            left: cap,
            cap,
        }
    }
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.left {
            return Err(io::Error::other(format!(
                "it decompresses to more than {} bytes",
                self.cap
            )));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests;
