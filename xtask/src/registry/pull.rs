//! Pulling: a blob downloaded into an OCI layout, verified against its digest.

use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use futures_util::StreamExt as _;
use reqwest::{Method, StatusCode};

use crate::oci::Digest;

use super::transport::*;
use super::*;

impl Registry {
    /// `GET /v2/<repo>/blobs/<digest>`, streamed into `into` (never whole in memory) and
    /// checked against `digest` and `size` before it is stored. Redirects (to a CDN) are
    /// followed without the credentials. A broken or stalled transfer is retried from the
    /// start; `progress` gets the bytes received so far in the current try.
    pub async fn download_blob(
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
        let url = self.url(&format!("v2/{repo}/blobs/{digest}"));
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
                loop {
                    let chunk = match tokio::time::timeout(self.opts.idle_timeout, body.next())
                        .await
                    {
                        Err(_) => {
                            return Err(Step::Retry {
                                reason: format!(
                                    "no data for {}s (stalled download)",
                                    self.opts.idle_timeout.as_secs()
                                ),
                                after: None,
                            })
                        }
                        Ok(None) => break,
                        Ok(Some(Err(e))) => {
                            return Err(Step::Retry {
                                reason: error_chain(&e.without_url()),
                                after: None,
                            })
                        }
                        Ok(Some(Ok(c))) => c,
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
