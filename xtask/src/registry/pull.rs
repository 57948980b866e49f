//! Reading blobs: a small one into memory, bounded ([`Registry::read_blob_capped`]), or any
//! into an OCI layout, streamed ([`Registry::download_blob_to`]); both verified against their
//! digest.

use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use reqwest::{Method, StatusCode};

use crate::oci::Digest;

use super::body::{paced_next, transfer_deadline, MAX_SMALL_BLOB};
use super::*;

impl Registry {
    /// `GET /v2/<repo>/blobs/<digest>` of a small blob (an image config, an attestation layer)
    /// into memory, checked against its digest; refused when larger than [`MAX_SMALL_BLOB`].
    pub async fn read_blob_capped(&self, repo: &str, digest: &Digest) -> Result<Vec<u8>> {
        let what = format!("fetch blob {}/{repo}@{}", self.name, digest.short());
        let url = self.blob_url(repo, digest);
        let limit = (MAX_SMALL_BLOB, "blob");
        let (_, bytes) = self
            .get_verified(repo, &url, &what, None, digest, limit)
            .await?;
        Ok(bytes)
    }

    /// `GET /v2/<repo>/blobs/<digest>`, streamed into `into` (never whole in memory) and
    /// checked against `digest` and `size` before it is stored (never more than `size` bytes
    /// are read). Redirects (to a CDN) are followed without the credentials. A broken, stalled
    /// or trickling transfer (one that misses [`transfer_deadline`] for its size) is retried
    /// from the start; `progress` gets the bytes received so far in the current try.
    pub async fn download_blob_to(
        &self,
        repo: &str,
        digest: &Digest,
        size: u64,
        media_type: &str,
        into: &crate::oci::layout::Layout,
        progress: Arc<dyn Fn(u64) + Send + Sync>,
    ) -> Result<()> {
        use std::io::Write as _;
        let what = format!("download blob {} from {}/{repo}", digest.short(), self.name);
        let url = self.blob_url(repo, digest);
        self.with_retries(repo, &what, |auth, _| {
            let req = self.request(Method::GET, url.clone(), &auth);
            let what = &what;
            let progress = progress.clone();
            async move {
                progress(0);
                let resp = self.check(self.send(req, None).await?).await?;
                if resp.status() == StatusCode::NOT_FOUND {
                    return Err(Step::Fatal(anyhow!(
                        "{what}: {} has no such blob, though the image's manifest lists it",
                        self.name
                    )));
                }
                if !resp.status().is_success() {
                    return Err(self.unexpected(what, resp).await);
                }
                let mut w = into.blob_writer().map_err(Step::Fatal)?;
                let mut body = resp.bytes_stream();
                // A byte now and then would reset an idle timer forever: the whole transfer
                // has a deadline scaled by its size.
                let idle = self.opts.idle_timeout;
                let deadline = transfer_deadline(idle, size);
                let started = std::time::Instant::now();
                loop {
                    let got = || format!("{} of {size} bytes", w.size());
                    let Some(chunk) = paced_next(&mut body, idle, started, deadline, got).await?
                    else {
                        break;
                    };
                    w.write_all(&chunk)
                        .with_context(|| format!("{what}: cannot write to the layout"))?;
                    progress(w.size());
                    if w.size() > size {
                        return Err(Step::Fatal(anyhow!(
                            "{what}: the registry sent more than the {size} bytes its manifest lists"
                        )));
                    }
                }
                if w.size() < size {
                    // A connection closed early: try again.
                    return Err(Step::Retry {
                        reason: format!("transfer ended after {} of {size} bytes", w.size()),
                        after: None,
                    });
                }
                if w.digest() != *digest {
                    return Err(Step::Fatal(anyhow!(
                        "{what}: the content does not match its digest (got {})",
                        w.digest()
                    )));
                }
                w.finish(media_type)?;
                Ok(())
            }
        })
        .await
    }
}
