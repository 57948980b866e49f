//! Bounded reads: every body a registry sends is read while it streams, with a cap on its size
//! and a deadline that grows with the bytes it carries. An endless answer ends at its cap, a
//! trickling one (a byte now and then, which would reset an idle timer forever) when it falls
//! below [`MIN_RATE`]; neither is ever buffered whole first.
//!
//! The caps: manifests and indexes (referrers answers and fallback-tag indexes too)
//! [`MAX_MANIFEST`], as distribution enforces; token answers [`MAX_TOKEN`]; error bodies
//! [`MAX_ERROR_BODY`] (the rest is not read); small blobs read into memory (image configs,
//! attestation layers) [`MAX_SMALL_BLOB`]. Blob downloads to disk are bounded by the size
//! their descriptor gives and by [`transfer_deadline`].

use std::time::{Duration, Instant};

use anyhow::anyhow;
use futures_util::StreamExt as _;

use super::*;

/// The largest manifest or index accepted (distribution refuses to store larger ones).
pub const MAX_MANIFEST: u64 = 4 << 20;
/// The largest token-server answer accepted.
pub const MAX_TOKEN: u64 = 64 << 10;
/// How much of an error body is read (only its start is ever shown).
pub const MAX_ERROR_BODY: u64 = 8 << 10;
/// The largest blob read into memory: an image config, an attestation layer (SBOMs of large
/// images run to tens of MiB).
pub const MAX_SMALL_BLOB: u64 = 64 << 20;
/// The slowest transfer accepted, in bytes per second, once the idle timeout of grace is
/// spent: 16 KiB/s (a 1 GiB layer may take 18 hours).
pub const MIN_RATE: u64 = 16 << 10;

/// How long a transfer of `size` bytes may take: the idle timeout, plus the size at
/// [`MIN_RATE`].
pub fn transfer_deadline(idle: Duration, size: u64) -> Duration {
    idle.saturating_add(Duration::from_secs_f64(size as f64 / MIN_RATE as f64))
}

/// `4 MiB`, `64 KiB`, `512 B`.
pub fn human_size(n: u64) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} B")
    }
}

/// What a capped read does with a body over its cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Over {
    /// Refuse it (a document that must be whole): a fatal error naming `what` it was.
    Refuse(&'static str),
    /// Keep the first bytes and stop reading (error bodies).
    Truncate,
}

/// The next chunk of a body whose whole transfer must end within `deadline` of `started`, and
/// each chunk come within `idle`: `None` at its end; a retryable step when it stalls or
/// trickles (`got` says what arrived so far, for the message), or breaks.
pub(super) async fn paced_next<S>(
    stream: &mut S,
    idle: Duration,
    started: Instant,
    deadline: Duration,
    got: impl FnOnce() -> String,
) -> Result<Option<bytes::Bytes>, Step>
where
    S: futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin,
{
    let left = deadline.saturating_sub(started.elapsed());
    let retry = |reason: String| Step::Retry {
        reason,
        after: None,
    };
    match tokio::time::timeout(idle.min(left), stream.next()).await {
        Err(_) if left <= idle => Err(retry(format!(
            "{} in {:.0}s, slower than {}/s (a trickling transfer)",
            got(),
            started.elapsed().as_secs_f64(),
            human_size(MIN_RATE)
        ))),
        Err(_) => Err(retry(format!(
            "no data for {}s: {} (stalled transfer)",
            idle.as_secs(),
            got()
        ))),
        Ok(None) => Ok(None),
        Ok(Some(Err(e))) => Err(retry(error_chain(&e.without_url()))),
        Ok(Some(Ok(c))) => Ok(Some(c)),
    }
}

impl Registry {
    /// Reads `resp`'s body, at most `limit` bytes, while it streams. `what` names the
    /// operation (`fetch manifest host/repo:tag`) for messages. A body over the limit is
    /// refused or truncated per `over`; one that stalls for the idle timeout, or that comes
    /// slower than [`MIN_RATE`] after the idle timeout's grace, is abandoned (retried).
    pub(super) async fn read_capped(
        &self,
        resp: reqwest::Response,
        limit: u64,
        over: Over,
        what: &str,
    ) -> Result<bytes::Bytes, Step> {
        let too_big = |kind: &str| {
            Step::Fatal(anyhow!(
                "{what}: {} sent a {kind} larger than {}, the most stevedore reads: refused, \
                 reading stopped (the registry, or a proxy in front of it, is broken or hostile)",
                self.name,
                human_size(limit)
            ))
        };
        if let (Some(n), Over::Refuse(kind)) = (resp.content_length(), over) {
            if n > limit {
                return Err(too_big(kind));
            }
        }
        let idle = self.opts.idle_timeout;
        let started = Instant::now();
        let mut out: Vec<u8> = Vec::new();
        let mut stream = resp.bytes_stream();
        loop {
            // The pace: the idle timeout of grace, then at least MIN_RATE on average.
            let allowed = transfer_deadline(idle, out.len() as u64);
            let got = || format!("{} sent {} bytes", self.name, out.len());
            let Some(chunk) = paced_next(&mut stream, idle, started, allowed, got).await? else {
                break;
            };
            let room = limit.saturating_sub(out.len() as u64) as usize;
            if chunk.len() > room {
                match over {
                    Over::Refuse(kind) => return Err(too_big(kind)),
                    Over::Truncate => {
                        out.extend_from_slice(&chunk[..room]);
                        break;
                    }
                }
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out.into())
    }

    /// The start of an error answer's body ([`MAX_ERROR_BODY`]); empty when it cannot be read.
    pub(super) async fn error_body(&self, resp: reqwest::Response) -> bytes::Bytes {
        self.read_capped(resp, MAX_ERROR_BODY, Over::Truncate, "read an error answer")
            .await
            .unwrap_or_default()
    }

    /// A manifest or index body (at most [`MAX_MANIFEST`]).
    pub(super) async fn manifest_body(
        &self,
        resp: reqwest::Response,
        what: &str,
    ) -> Result<bytes::Bytes, Step> {
        self.read_capped(resp, MAX_MANIFEST, Over::Refuse("manifest or index"), what)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_grow_with_the_size() {
        let idle = Duration::from_secs(60);
        assert_eq!(transfer_deadline(idle, 0), idle);
        assert_eq!(
            transfer_deadline(idle, 16 << 20),
            idle + Duration::from_secs(1024)
        );
        assert_eq!(
            transfer_deadline(Duration::from_secs(2), MIN_RATE * 3),
            Duration::from_secs(5)
        );
        // A huge size saturates instead of overflowing.
        assert!(transfer_deadline(idle, u64::MAX) > Duration::from_secs(1 << 40));
    }

    #[test]
    fn sizes_print_in_binary_units() {
        assert_eq!(human_size(MAX_MANIFEST), "4 MiB");
        assert_eq!(human_size(MAX_TOKEN), "64 KiB");
        assert_eq!(human_size(MAX_ERROR_BODY), "8 KiB");
        assert_eq!(human_size(1000), "1000 B");
    }
}
