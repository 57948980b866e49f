//! Parallel, deterministic gzip (the pigz scheme).
//!
//! The input is cut into fixed 1 MiB chunks. Each chunk is deflated on its own by a worker
//! thread, primed with the previous 32 KiB of input as its dictionary (so the ratio stays close
//! to a single-stream deflate), and ended with a sync flush (the last one with a final block),
//! which byte-aligns it: the chunks concatenate into one valid deflate stream. The CRC-32 of the
//! chunks is combined in order. Chunking does not depend on the number of threads, so the output
//! is byte-identical on every machine with the same deflate backend.
//!
//! Memory is bounded: a few chunks per thread are in flight, whatever the input size.

use std::io::{self, Write};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread;

use flate2::{Compress, Compression, FlushCompress, Status};

/// Uncompressed bytes per independently deflated chunk (fixed: the output depends on it).
pub const CHUNK: usize = 1 << 20;
/// Deflate's window: the dictionary handed from one chunk to the next.
const DICT: usize = 32 << 10;

/// gzip header: no name, no mtime, no extra flags, OS = 255 ("unknown"): nothing about the
/// machine or the time ends up in the blob.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

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

/// Compresses everything `produce` writes into one gzip stream written to `out`, using
/// `threads` deflate workers. Returns `out` and the number of uncompressed bytes.
pub fn compress<W, F>(out: W, level: u32, threads: usize, produce: F) -> io::Result<(W, u64)>
where
    W: Write + Send,
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    let threads = threads.max(1);
    let level = Compression::new(level.min(9));
    thread::scope(|s| {
        let (job_tx, job_rx) = sync_channel::<Job>(threads * 2);
        let job_rx = Arc::new(Mutex::new(job_rx));
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let rx = Arc::clone(&job_rx);
                s.spawn(move || worker(&rx, level))
            })
            .collect();
        let (order_tx, order_rx) = sync_channel::<Receiver<io::Result<Done>>>(threads * 2);
        let writer = s.spawn(move || write_in_order(out, &order_rx));

        let mut sink = ChunkSink {
            buf: Vec::with_capacity(CHUNK),
            dict: None,
            job_tx,
            order_tx,
        };
        let produced = produce(&mut sink).and_then(|()| sink.finish());
        drop(sink);
        let written = writer
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("gzip writer thread panicked")));
        for w in workers {
            let _ = w.join();
        }
        // The writer's own error (a full disk) explains a producer's "pipeline stopped".
        let (out, total) = written?;
        produced?;
        Ok((out, total))
    })
}

fn worker(rx: &Mutex<Receiver<Job>>, level: Compression) {
    let mut c = Compress::new(level, false);
    loop {
        let job = {
            let Ok(guard) = rx.lock() else { return };
            guard.recv()
        };
        let Ok(job) = job else { return };
        let result = deflate_chunk(&mut c, &job);
        let _ = job.reply.send(result);
    }
}

fn deflate_chunk(c: &mut Compress, job: &Job) -> io::Result<Done> {
    c.reset();
    if let Some(dict) = &job.dict {
        c.set_dictionary(dict).map_err(io::Error::other)?;
    }
    let data = &job.data;
    let flush = if job.last {
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
        match (job.last, status) {
            (true, Status::StreamEnd) => break,
            (false, _) if all_in && out.len() < out.capacity() => break,
            _ => {}
        }
    }
    Ok(Done {
        crc: crc32fast::hash(data),
        len: data.len() as u64,
        compressed: out,
    })
}

fn write_in_order<W: Write>(
    mut out: W,
    order: &Receiver<Receiver<io::Result<Done>>>,
) -> io::Result<(W, u64)> {
    out.write_all(&HEADER)?;
    let mut crc = crc32fast::Hasher::new();
    let mut total = 0u64;
    while let Ok(rx) = order.recv() {
        let done = rx
            .recv()
            .map_err(|_| io::Error::other("a gzip worker stopped"))??;
        out.write_all(&done.compressed)?;
        crc.combine(&crc32fast::Hasher::new_with_initial_len(done.crc, done.len));
        total += done.len;
    }
    out.write_all(&crc.finalize().to_le_bytes())?;
    out.write_all(&(total as u32).to_le_bytes())?;
    out.flush()?;
    Ok((out, total))
}

/// The producer's side: cuts the input into chunks and queues them.
struct ChunkSink {
    buf: Vec<u8>,
    dict: Option<Arc<Vec<u8>>>,
    job_tx: SyncSender<Job>,
    order_tx: SyncSender<Receiver<io::Result<Done>>>,
}

impl ChunkSink {
    fn send(&mut self, last: bool) -> io::Result<()> {
        let data = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        let next_dict = (!last).then(|| Arc::new(data[data.len().saturating_sub(DICT)..].to_vec()));
        let (reply, rx) = sync_channel(1);
        fn stopped<T>(_: T) -> io::Error {
            io::Error::other("the gzip pipeline stopped")
        }
        // Queue the result slot first: the writer then waits for jobs in submission order.
        self.order_tx.send(rx).map_err(stopped)?;
        self.job_tx
            .send(Job {
                data,
                dict: self.dict.take(),
                last,
                reply,
            })
            .map_err(stopped)?;
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
        let (out, n) = compress(Vec::new(), level, threads, |w| w.write_all(data)).unwrap();
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
            assert_eq!(&out[..10], &HEADER);
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
        let err = compress(Full, 1, 2, |w| w.write_all(&data)).unwrap_err();
        assert!(err.to_string().contains("disk full"), "{err}");
    }
}
