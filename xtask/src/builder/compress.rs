//! Parallel, deterministic layer compression (the pigz scheme), for gzip and zstd.
//!
//! The input is cut into fixed 1 MiB chunks, each compressed on its own by a worker thread; a
//! writer thread puts the results back in input order. Chunking does not depend on the number
//! of threads, so the output is byte-identical on every machine with the same codec backend.
//! Memory is bounded: a few chunks per thread are in flight, whatever the input size.
//!
//! - [`Gzip`]: each chunk is deflated primed with the previous 32 KiB of input as its
//!   dictionary (so the ratio stays close to a single-stream deflate), and ended with a sync
//!   flush (the last one with a final block), which byte-aligns it: the chunks concatenate into
//!   one valid deflate stream inside one gzip member. The CRC-32 of the chunks is combined in
//!   order for the trailer.
//! - `Zstd` (cargo feature `zstd`): each chunk is one complete zstd frame (content size and
//!   checksum included); concatenated frames are one valid zstd stream.

use std::io::{self, Write};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread;

use flate2::{Compress, Compression, FlushCompress, Status};

/// Uncompressed bytes per independently compressed chunk (fixed: the output depends on it).
pub const CHUNK: usize = 1 << 20;

/// A chunk compressor driven by [`compress`].
pub trait Codec: Sync {
    /// Per-worker compressor state (made on the worker thread).
    type State;
    /// Bytes at the end of a chunk handed to the next one as its dictionary (0: none).
    const DICT: usize;
    /// Whether [`Codec::trailer`] needs the CRC-32 of the input.
    const CRC: bool;
    /// For messages: `gzip`, `zstd`.
    const NAME: &'static str;

    fn state(&self) -> io::Result<Self::State>;
    /// Compresses one chunk. `last` is set on the final chunk (which may be empty).
    fn chunk(
        &self,
        state: &mut Self::State,
        data: &[u8],
        dict: Option<&[u8]>,
        last: bool,
    ) -> io::Result<Vec<u8>>;
    /// Written before the first chunk.
    fn header(&self, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
    /// Written after the last chunk; `crc` is 0 unless [`Codec::CRC`].
    fn trailer(&self, _out: &mut dyn Write, _crc: u32, _len: u64) -> io::Result<()> {
        Ok(())
    }
}

/// Deflate's window: the dictionary handed from one chunk to the next.
const GZIP_DICT: usize = 32 << 10;

/// gzip header: no name, no mtime, no extra flags, OS = 255 ("unknown"): nothing about the
/// machine or the time ends up in the blob.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// One gzip member over a single deflate stream, on the zlib-rs backend.
#[derive(Debug, Clone, Copy)]
pub struct Gzip {
    level: Compression,
}

impl Gzip {
    /// Level 0-9 (higher values are clamped to 9).
    pub fn new(level: u32) -> Gzip {
        Gzip {
            level: Compression::new(level.min(9)),
        }
    }
}

impl Codec for Gzip {
    type State = Compress;
    const DICT: usize = GZIP_DICT;
    const CRC: bool = true;
    const NAME: &'static str = "gzip";

    fn state(&self) -> io::Result<Compress> {
        Ok(Compress::new(self.level, false))
    }

    fn chunk(
        &self,
        c: &mut Compress,
        data: &[u8],
        dict: Option<&[u8]>,
        last: bool,
    ) -> io::Result<Vec<u8>> {
        // A fresh deflate state for every chunk: zlib-rs's `reset()` leaves state behind, and a
        // chunk then compressed one byte differently depending on which worker took it and what
        // that worker compressed before (`reuse_probe` below). The allocation is small next to
        // compressing 1 MiB.
        *c = Compress::new(self.level, false);
        if let Some(dict) = dict {
            c.set_dictionary(dict).map_err(io::Error::other)?;
        }
        let flush = if last {
            FlushCompress::Finish
        } else {
            FlushCompress::Sync
        };
        let mut out = Vec::with_capacity(data.len() / 2 + 1024);
        loop {
            if out.capacity() - out.len() < 16 << 10 {
                out.reserve(data.len() / 4 + (64 << 10));
            }
            let consumed = c.total_in() as usize;
            let status = c
                .compress_vec(&data[consumed..], &mut out, flush)
                .map_err(io::Error::other)?;
            let all_in = c.total_in() as usize == data.len();
            match (last, status) {
                (true, Status::StreamEnd) => break,
                (false, _) if all_in && out.len() < out.capacity() => break,
                _ => {}
            }
        }
        Ok(out)
    }

    fn header(&self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(&GZIP_HEADER)
    }

    fn trailer(&self, out: &mut dyn Write, crc: u32, len: u64) -> io::Result<()> {
        out.write_all(&crc.to_le_bytes())?;
        out.write_all(&(len as u32).to_le_bytes())
    }
}

/// Concatenated zstd frames, one per chunk, on libzstd (the `zstd` crate).
#[cfg(feature = "zstd")]
#[derive(Debug, Clone, Copy)]
pub struct Zstd {
    level: i32,
}

#[cfg(feature = "zstd")]
impl Zstd {
    /// Highest level accepted (levels 20-22 need far more memory per worker).
    pub const MAX_LEVEL: u32 = 19;

    /// Level 1-19 (0 is zstd's default, 3; higher values are clamped to 19).
    pub fn new(level: u32) -> Zstd {
        Zstd {
            level: level.min(Self::MAX_LEVEL) as i32,
        }
    }
}

#[cfg(feature = "zstd")]
impl Codec for Zstd {
    type State = zstd::bulk::Compressor<'static>;
    const DICT: usize = 0;
    const CRC: bool = false;
    const NAME: &'static str = "zstd";

    fn state(&self) -> io::Result<Self::State> {
        let mut c = zstd::bulk::Compressor::new(self.level)?;
        // Every frame records its size and a checksum: both depend only on the chunk.
        c.include_contentsize(true)?;
        c.include_checksum(true)?;
        c.include_dictid(false)?;
        Ok(c)
    }

    fn chunk(
        &self,
        c: &mut Self::State,
        data: &[u8],
        _dict: Option<&[u8]>,
        _last: bool,
    ) -> io::Result<Vec<u8>> {
        c.compress(data)
    }
}

struct Job {
    data: Vec<u8>,
    dict: Option<Arc<Vec<u8>>>,
    last: bool,
    reply: SyncSender<io::Result<Done>>,
}

struct Done {
    compressed: Vec<u8>,
    crc: u32,
    len: u64,
}

/// Compresses everything `produce` writes into one `codec` stream written to `out`, using
/// `threads` workers. Returns `out` and the number of uncompressed bytes.
pub fn compress<W, C, F>(out: W, codec: &C, threads: usize, produce: F) -> io::Result<(W, u64)>
where
    W: Write + Send,
    C: Codec,
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    let threads = threads.max(1);
    thread::scope(|s| {
        let (job_tx, job_rx) = sync_channel::<Job>(threads * 2);
        let job_rx = Arc::new(Mutex::new(job_rx));
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let rx = Arc::clone(&job_rx);
                s.spawn(move || worker(&rx, codec))
            })
            .collect();
        let (order_tx, order_rx) = sync_channel::<Receiver<io::Result<Done>>>(threads * 2);
        let writer = s.spawn(move || write_in_order(out, codec, &order_rx));

        let mut sink = ChunkSink {
            buf: Vec::with_capacity(CHUNK),
            dict: None,
            dict_len: C::DICT,
            name: C::NAME,
            job_tx,
            order_tx,
        };
        let produced = produce(&mut sink).and_then(|()| sink.finish());
        drop(sink);
        let written = writer.join().unwrap_or_else(|_| {
            Err(io::Error::other(format!(
                "{} writer thread panicked",
                C::NAME
            )))
        });
        for w in workers {
            let _ = w.join();
        }
        // The writer's own error (a full disk) explains a producer's "pipeline stopped".
        let (out, total) = written?;
        produced?;
        Ok((out, total))
    })
}

fn worker<C: Codec>(rx: &Mutex<Receiver<Job>>, codec: &C) {
    let mut state = codec.state();
    loop {
        let job = {
            let Ok(guard) = rx.lock() else { return };
            guard.recv()
        };
        let Ok(job) = job else { return };
        let result = match &mut state {
            Ok(state) => codec
                .chunk(
                    state,
                    &job.data,
                    job.dict.as_deref().map(Vec::as_slice),
                    job.last,
                )
                .map(|compressed| Done {
                    crc: if C::CRC {
                        crc32fast::hash(&job.data)
                    } else {
                        0
                    },
                    len: job.data.len() as u64,
                    compressed,
                }),
            Err(e) => Err(io::Error::new(
                e.kind(),
                format!("cannot set up {}: {e}", C::NAME),
            )),
        };
        let _ = job.reply.send(result);
    }
}

fn write_in_order<W: Write, C: Codec>(
    mut out: W,
    codec: &C,
    order: &Receiver<Receiver<io::Result<Done>>>,
) -> io::Result<(W, u64)> {
    codec.header(&mut out)?;
    let mut crc = crc32fast::Hasher::new();
    let mut total = 0u64;
    while let Ok(rx) = order.recv() {
        let done = rx
            .recv()
            .map_err(|_| io::Error::other(format!("a {} worker stopped", C::NAME)))??;
        out.write_all(&done.compressed)?;
        if C::CRC {
            crc.combine(&crc32fast::Hasher::new_with_initial_len(done.crc, done.len));
        }
        total += done.len;
    }
    codec.trailer(&mut out, crc.finalize(), total)?;
    out.flush()?;
    Ok((out, total))
}

/// The producer's side: cuts the input into chunks and queues them.
struct ChunkSink {
    buf: Vec<u8>,
    dict: Option<Arc<Vec<u8>>>,
    dict_len: usize,
    name: &'static str,
    job_tx: SyncSender<Job>,
    order_tx: SyncSender<Receiver<io::Result<Done>>>,
}

impl ChunkSink {
    fn send(&mut self, last: bool) -> io::Result<()> {
        let data = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        let next_dict = (!last && self.dict_len > 0)
            .then(|| Arc::new(data[data.len().saturating_sub(self.dict_len)..].to_vec()));
        let (reply, rx) = sync_channel(1);
        let name = self.name;
        let stopped = |_| io::Error::other(format!("the {name} pipeline stopped"));
        // Queue the result slot first: the writer then waits for jobs in submission order.
        self.order_tx.send(rx).map_err(stopped)?;
        self.job_tx
            .send(Job {
                data,
                dict: self.dict.take(),
                last,
                reply,
            })
            .map_err(|_| io::Error::other(format!("the {name} pipeline stopped")))?;
        self.dict = next_dict;
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.send(true)
    }
}

impl Write for ChunkSink {
    fn write(&mut self, mut data: &[u8]) -> io::Result<usize> {
        let n = data.len();
        while !data.is_empty() {
            let room = CHUNK - self.buf.len();
            let take = room.min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buf.len() == CHUNK {
                self.send(false)?;
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn sample(len: usize) -> Vec<u8> {
        // Half text-like, half pseudo-random.
        let mut v = Vec::with_capacity(len);
        let mut x: u64 = 0x9e3779b97f4a7c15;
        while v.len() < len {
            if (v.len() / 100_000) % 2 == 0 {
                v.extend_from_slice(b"the quick brown fox jumps over the lazy dog ");
            } else {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                v.extend_from_slice(&x.to_le_bytes());
            }
        }
        v.truncate(len);
        v
    }

    fn gz(data: &[u8], level: u32, threads: usize) -> Vec<u8> {
        let (out, n) = compress(Vec::new(), &Gzip::new(level), threads, |w| {
            w.write_all(data)
        })
        .unwrap();
        assert_eq!(n, data.len() as u64);
        out
    }

    fn gunzip(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(data)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn round_trips_and_is_thread_count_independent() {
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 12345] {
            let data = sample(len);
            let one = gz(&data, 1, 1);
            assert_eq!(gunzip(&one), data, "len {len}");
            assert_eq!(gz(&data, 1, 4), one, "len {len}: output depends on threads");
        }
    }

    #[test]
    fn header_is_fixed_and_levels_work() {
        let data = sample(2 * CHUNK + 7);
        for level in [0, 1, 6, 9] {
            let out = gz(&data, level, 2);
            assert_eq!(&out[..10], &GZIP_HEADER);
            assert_eq!(gunzip(&out), data, "level {level}");
        }
        assert!(gz(&data, 9, 2).len() < gz(&data, 0, 2).len());
    }

    #[test]
    fn writer_errors_surface() {
        #[derive(Debug)]
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let data = sample(5 * CHUNK);
        let err = compress(Full, &Gzip::new(1), 2, |w| w.write_all(&data)).unwrap_err();
        assert!(err.to_string().contains("disk full"), "{err}");
    }

    #[cfg(feature = "zstd")]
    fn zst(data: &[u8], level: u32, threads: usize) -> Vec<u8> {
        let (out, n) = compress(Vec::new(), &Zstd::new(level), threads, |w| {
            w.write_all(data)
        })
        .unwrap();
        assert_eq!(n, data.len() as u64);
        out
    }

    #[cfg(feature = "zstd")]
    #[test]
    fn zstd_round_trips_and_is_thread_count_independent() {
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 12345] {
            let data = sample(len);
            let one = zst(&data, 3, 1);
            // Concatenated frames decode as one stream.
            assert_eq!(
                zstd::stream::decode_all(&one[..]).unwrap(),
                data,
                "len {len}"
            );
            assert_eq!(
                zst(&data, 3, 4),
                one,
                "len {len}: output depends on threads"
            );
        }
    }

    #[cfg(feature = "zstd")]
    #[test]
    fn zstd_levels_work_and_frames_are_per_chunk() {
        let data = sample(2 * CHUNK + 7);
        for level in [1, 3, 9, 19] {
            let out = zst(&data, level, 2);
            assert_eq!(&out[..4], &[0x28, 0xb5, 0x2f, 0xfd], "zstd magic");
            assert_eq!(
                zstd::stream::decode_all(&out[..]).unwrap(),
                data,
                "level {level}"
            );
        }
        // One frame per chunk: the second frame starts where the first one ends.
        let out = zst(&data, 1, 2);
        let first = zstd::zstd_safe::find_frame_compressed_size(&out).unwrap();
        assert_eq!(&out[first..first + 4], &[0x28, 0xb5, 0x2f, 0xfd]);
        assert_eq!(
            zstd::bulk::decompress(&out[..first], CHUNK).unwrap(),
            &data[..CHUNK]
        );
        assert!(zst(&data, 19, 2).len() < zst(&data, 1, 2).len());
    }
}

#[cfg(test)]
mod reuse_probe {
    use super::*;

    /// Two chunks of binary-looking data (runs of zeros, back references up to 40 KB, random
    /// words, short text) from a xorshift generator. Seed 57 is one where zlib-rs's `reset()`
    /// left state behind: the second chunk compressed one byte differently on a state that
    /// had compressed the first (found by searching seeds; real shared libraries did it for
    /// about 1 chunk in 40).
    fn binary_like(seed: u64) -> Vec<u8> {
        let mut x: u64 = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut d: Vec<u8> = Vec::with_capacity(2 * CHUNK);
        while d.len() < 2 * CHUNK {
            let r = next();
            match r % 6 {
                0 => d.extend(std::iter::repeat_n(0u8, (r >> 8) as usize % 200)),
                1 | 2 if d.len() > 40_000 => {
                    let dist = 1 + (r >> 8) as usize % 40_000;
                    let len = 3 + (r >> 30) as usize % 250;
                    let start = d.len() - dist;
                    for k in 0..len {
                        let b = d[start + k % dist];
                        d.push(b);
                    }
                }
                3 => {
                    for _ in 0..((r >> 8) % 16) {
                        d.extend_from_slice(&next().to_le_bytes());
                    }
                }
                _ => {
                    let n = (r >> 8) as usize % 24;
                    for k in 0..n {
                        d.push(b"abcdefghij_.%$ELF"[(k + (r >> 40) as usize) % 17]);
                    }
                }
            }
        }
        d.truncate(2 * CHUNK);
        d
    }

    #[test]
    fn a_chunk_compresses_the_same_on_a_used_or_a_fresh_state() {
        let gz = Gzip::new(1);
        let data = binary_like(57);
        let (a, b) = data.split_at(CHUNK);
        let dict = &a[a.len() - (32 << 10)..];
        let mut fresh = gz.state().unwrap();
        let want = gz.chunk(&mut fresh, b, Some(dict), false).unwrap();
        let mut used = gz.state().unwrap();
        gz.chunk(&mut used, a, None, false).unwrap();
        let got = gz.chunk(&mut used, b, Some(dict), false).unwrap();
        assert!(
            got == want,
            "the chunk's bytes depend on what the state compressed before"
        );
    }

    /// The layer bytes do not depend on how many workers compress it (which worker takes which
    /// chunk varies with the thread count and the machine's load).
    #[test]
    fn layer_bytes_do_not_depend_on_the_worker_count() {
        let mut data = binary_like(57);
        data.extend(binary_like(58));
        let gz = |threads: usize| {
            compress(Vec::new(), &Gzip::new(1), threads, |w| w.write_all(&data))
                .unwrap()
                .0
        };
        let one = gz(1);
        for threads in [2, 3, 4] {
            assert!(
                gz(threads) == one,
                "{threads} workers give other bytes than 1"
            );
        }
    }
}
