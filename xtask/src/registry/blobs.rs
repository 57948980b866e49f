//! Blobs: existence checks, uploads (one PUT, or a resumable session of chunked PATCHes that
//! resumes from what the registry confirmed), cross-repository mounts.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use futures_util::StreamExt as _;
use reqwest::header::HeaderValue;
use reqwest::{Method, StatusCode, Url};

use crate::oci::Digest;

use super::body::transfer_deadline;
use super::transport::*;
use super::*;

impl Registry {
    /// `HEAD /v2/<repo>/blobs/<digest>`; no request when this run already knows the blob is
    /// there ([`Registry::known_present`]).
    pub async fn blob_exists(&self, repo: &str, digest: &Digest) -> Result<bool> {
        if self.known_present(repo, digest) {
            return Ok(true);
        }
        let what = &format!("check blob {} in {}/{repo}", digest.short(), self.name);
        let url = self.blob_url(repo, digest);
        let there = self
            .exchange(
                repo,
                what,
                (Method::HEAD, &url),
                |r| r,
                |resp| async move {
                    match resp.status() {
                        s if s.is_success() => Ok(true),
                        StatusCode::NOT_FOUND => Ok(false),
                        _ => Err(self.unexpected(what, resp).await),
                    }
                },
            )
            .await?;
        if there {
            self.note_present(repo, digest);
        }
        Ok(there)
    }

    /// Uploads the blob stored at `path` (size `size`) to `repo`, first trying a mount from
    /// `mount_from` (another repository of this registry) when given. `progress` is called
    /// with the bytes the registry holds or is being sent in the current try (it goes back
    /// when a try loses bytes).
    ///
    /// Blobs up to [`ClientOptions::chunk_size`] go in one streamed PUT, and a failed try
    /// starts over with a new session. Larger blobs go in chunks that survive a failed try
    /// ([`Registry::upload_chunked`]).
    pub async fn upload_blob(
        &self,
        repo: &str,
        digest: &Digest,
        size: u64,
        path: &Path,
        mount_from: Option<&str>,
        progress: Arc<dyn Fn(u64) + Send + Sync>,
    ) -> Result<Uploaded> {
        let done = self
            .upload_blob_once(repo, digest, size, path, mount_from, progress)
            .await?;
        self.note_present(repo, digest);
        Ok(done)
    }

    async fn upload_blob_once(
        &self,
        repo: &str,
        digest: &Digest,
        size: u64,
        path: &Path,
        mount_from: Option<&str>,
        progress: Arc<dyn Fn(u64) + Send + Sync>,
    ) -> Result<Uploaded> {
        let what = format!("upload blob {} to {}/{repo}", digest.short(), self.name);
        let on_disk = std::fs::metadata(path)
            .with_context(|| {
                format!(
                    "blob {digest} is missing from the layout ({})",
                    path.display()
                )
            })?
            .len();
        if on_disk != size {
            bail!(crate::problem::Problem::new(
                crate::problem::Kind::NotBuilt,
                format!("blob {digest} in the layout is {on_disk} bytes, its descriptor says {size}: the layout is corrupt"),
                "rebuild it"
            ));
        }
        let blob = BlobRef {
            repo,
            digest,
            size,
            path,
            mount_from,
            mount_refused: AtomicBool::new(false),
            what,
        };
        if self.opts.chunk_size > 0 && size > self.opts.chunk_size {
            if let Some(u) = self.upload_chunked(&blob, progress.clone()).await? {
                return Ok(u);
            }
            // The registry refused chunks: one PUT, as for a small blob.
        }
        let blob = &blob;
        self.with_retries(repo, &blob.what, |auth, _| {
            let progress = progress.clone();
            async move {
                let what = &blob.what;
                progress(0);
                // 1. Open a session (or mount).
                let mut url = match self.open_upload(blob, &auth).await? {
                    Opened::Mounted => return Ok(Uploaded::Mounted),
                    Opened::Session(url) => url,
                };
                // 2. One PUT streaming the file.
                url.query_pairs_mut().append_pair("digest", digest.as_str());
                let activity = Activity::new();
                let body = self.file_body(path, 0, size, &activity, progress).await?;
                let req = self
                    .request(Method::PUT, url, &auth)
                    .header(reqwest::header::CONTENT_LENGTH, size)
                    .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                    .body(body);
                let deadline = transfer_deadline(self.opts.idle_timeout, size);
                let resp = self
                    .check(self.send_within(req, Some(&activity), Some(deadline)).await?)
                    .await?;
                match resp.status() {
                    StatusCode::CREATED | StatusCode::NO_CONTENT | StatusCode::OK => {
                        Ok(Uploaded::Pushed)
                    }
                    // GHCR sometimes forgets sessions under load: start over.
                    StatusCode::NOT_FOUND => Err(Step::Retry {
                        reason: format!("{what}: upload session lost (404)"),
                        after: None,
                    }),
                    StatusCode::BAD_REQUEST => {
                        let body = self.error_body(resp).await;
                        let summary = self.summary(&body);
                        if summary.contains("DIGEST_INVALID") {
                            Err(Step::Fatal(
                                crate::problem::Problem::new(
                                    crate::problem::Kind::NotBuilt,
                                    format!("{what}: the registry computed another digest{summary}: the layout blob is corrupt"),
                                    "rebuild",
                                )
                                .into(),
                            ))
                        } else {
                            Err(Step::Fatal(anyhow!("{what}: 400 Bad Request{summary}")))
                        }
                    }
                    _ => Err(self.unexpected(what, resp).await),
                }
            }
        })
        .await
    }

    /// Opens an upload session for the blob, or mounts it from `mount_from` when that was not
    /// refused before (any refusal: upload normally, and do not ask again).
    pub(super) async fn open_upload(
        &self,
        blob: &BlobRef<'_>,
        auth: &Option<HeaderValue>,
    ) -> Result<Opened, Step> {
        let (repo, digest, what) = (blob.repo, blob.digest, &blob.what);
        let mount = blob
            .mount_from
            .filter(|_| !blob.mount_refused.load(Ordering::SeqCst));
        if let Some(from) = mount {
            let mut url = self.url(&format!("v2/{repo}/blobs/uploads/"));
            url.query_pairs_mut()
                .append_pair("mount", digest.as_str())
                .append_pair("from", from);
            // A token registry wants a token that also grants pull on `from`; an expired one
            // (401 without `insufficient_scope`) is renewed once.
            let mut refreshed = false;
            let outcome = loop {
                let mount_auth = match self.mount_authorization(repo, from, auth, refreshed).await {
                    Ok(h) => h,
                    Err(e) => break Err(self.scrub(&format!("{e:#}"))),
                };
                let req = self
                    .request(Method::POST, url.clone(), &mount_auth)
                    .header(reqwest::header::CONTENT_LENGTH, 0);
                // A transient failure is retried like any other; any refusal (401, 403, 404,
                // …) means: upload normally.
                let resp = self.send(req, None).await?;
                let expired = resp.status() == StatusCode::UNAUTHORIZED
                    && !resp
                        .headers()
                        .get(reqwest::header::WWW_AUTHENTICATE)
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|v| v.contains("insufficient_scope"));
                if expired && !refreshed && mount_auth != *auth {
                    refreshed = true;
                    continue;
                }
                break Ok(resp);
            };
            match outcome {
                Ok(resp) => match resp.status() {
                    StatusCode::CREATED => return Ok(Opened::Mounted),
                    StatusCode::ACCEPTED => {
                        if let Some(l) = self.location(&resp)? {
                            return Ok(Opened::Session(l));
                        }
                    }
                    s if s == StatusCode::REQUEST_TIMEOUT
                        || s == StatusCode::TOO_MANY_REQUESTS
                        || s.is_server_error() =>
                    {
                        self.check(resp).await?;
                    }
                    s => self.refuse_mount(blob, from, &s.to_string()),
                },
                Err(why) => self.refuse_mount(blob, from, &why),
            }
        }
        let req = self
            .request(
                Method::POST,
                self.url(&format!("v2/{repo}/blobs/uploads/")),
                auth,
            )
            .header(reqwest::header::CONTENT_LENGTH, 0);
        let resp = self.check(self.send(req, None).await?).await?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(self.unexpected(what, resp).await);
        }
        self.location(&resp)?
            .map(Opened::Session)
            .ok_or_else(|| Step::Fatal(anyhow!("{what}: the registry gave no upload location")))
    }

    /// The `Authorization` header for mounting into `repo` from `from`: on a token registry
    /// (`auth`, the header for `repo`, is a bearer token) one also granting pull on `from`,
    /// else `auth` itself.
    pub(super) async fn mount_authorization(
        &self,
        repo: &str,
        from: &str,
        auth: &Option<HeaderValue>,
        refresh: bool,
    ) -> Result<Option<HeaderValue>> {
        let bearer = auth
            .as_ref()
            .and_then(|h| h.to_str().ok())
            .is_some_and(|h| h.starts_with("Bearer "));
        if !bearer {
            return Ok(auth.clone());
        }
        self.cached_authorization(repo, Some(from), refresh).await
    }

    /// A mount was refused (`why`): upload the blob, and do not ask again.
    pub(super) fn refuse_mount(&self, blob: &BlobRef<'_>, from: &str, why: &str) {
        blob.mount_refused.store(true, Ordering::SeqCst);
        (self.log)(&format!(
            "note: {} refused to mount {} from {from} ({why}): uploading it",
            self.name,
            blob.digest.short()
        ));
    }

    /// A request body streaming `len` bytes of `path` from `offset` (never more than a read
    /// buffer in memory). Each piece touches `activity`, counts into [`Registry::bytes_sent`]
    /// and reports `offset + bytes so far` to `progress`.
    pub(super) async fn file_body(
        &self,
        path: &Path,
        offset: u64,
        len: u64,
        activity: &Activity,
        progress: Arc<dyn Fn(u64) + Send + Sync>,
    ) -> Result<reqwest::Body, Step> {
        use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};
        let mut file = tokio::fs::File::open(path)
            .await
            .with_context(|| format!("cannot open {}", path.display()))?;
        if offset > 0 {
            file.seek(std::io::SeekFrom::Start(offset))
                .await
                .with_context(|| format!("cannot read {}", path.display()))?;
        }
        let (activity, sent) = (activity.clone(), self.sent.clone());
        let mut at = offset;
        let stream = tokio_util::io::ReaderStream::with_capacity(file.take(len), 256 * 1024).map(
            move |chunk| {
                if let Ok(c) = &chunk {
                    activity.touch();
                    sent.fetch_add(c.len() as u64, Ordering::Relaxed);
                    at += c.len() as u64;
                    progress(at);
                }
                chunk
            },
        );
        Ok(reqwest::Body::wrap_stream(stream))
    }

    /// A resumable upload in chunks of [`ClientOptions::chunk_size`] (OCI distribution spec,
    /// "pushing a blob in chunks"): a session (POST, or the answer to a refused mount), one
    /// PATCH per chunk with `Content-Range`, `Content-Length` and
    /// `Content-Type: application/octet-stream`, each sent to the `Location` the previous
    /// answer gave, then a PUT `?digest=` without a body.
    ///
    /// Each request is one [`Registry::with_retries`] (with its retries, backoff, `Retry-After` and token
    /// refresh), while the session and the offset the registry confirmed live across tries.
    /// After a failed request the registry's offset is unknown: the next try asks
    /// (`GET <session>`: 204 with `Range: 0-<last>`) and goes on from `last + 1`, re-reading the
    /// file there. A session the registry no longer knows (404; Distribution 2.x also drops a
    /// session that received part of a broken PATCH) or that could not be asked about twice
    /// in a row ends the chunked upload, unless the blob turns out to be there already (a
    /// finishing PUT whose answer was lost).
    ///
    /// `None` when the session was lost that way, or when the registry refuses chunked uploads (a 4xx to a PATCH other than 401, 404
    /// and 416): the caller uploads the blob in one PUT instead.
    pub(super) async fn upload_chunked(
        &self,
        blob: &BlobRef<'_>,
        progress: Arc<dyn Fn(u64) + Send + Sync>,
    ) -> Result<Option<Uploaded>> {
        let (size, what) = (blob.size, &blob.what);
        let chunk = self.opts.chunk_size;
        let state = std::sync::Mutex::new(Resumable::default());
        let state = &state;
        loop {
            let step = self
                .with_retries(blob.repo, what, |auth, _| {
                    let progress = progress.clone();
                    async move {
                        let (url, offset) = match self.resume_point(blob, &auth, state).await? {
                            Resume::Mounted => return Ok(ChunkStep::Done(Uploaded::Mounted)),
                            Resume::Present => return Ok(ChunkStep::Done(Uploaded::Pushed)),
                            Resume::At(url, offset) => (url, offset),
                            Resume::Lost(why) => return Ok(ChunkStep::Lost(why)),
                        };
                        progress(offset);
                        // Until this request's answer is known, the registry's offset is not.
                        state.lock().expect("upload state").resync = true;
                        if offset < size {
                            self.patch_chunk(blob, &auth, url, offset, chunk, progress, state)
                                .await
                        } else {
                            self.finish_chunked(blob, &auth, url, state).await
                        }
                    }
                })
                .await?;
            match step {
                ChunkStep::More => {}
                ChunkStep::Done(u) => {
                    if u == Uploaded::Pushed {
                        progress(size);
                    }
                    return Ok(Some(u));
                }
                ChunkStep::Refused(why) => {
                    (self.log)(&format!(
                        "note: {what}: {} refused a chunk ({why}): uploading the blob in one request",
                        self.name
                    ));
                    return Ok(None);
                }
                ChunkStep::Lost(why) => {
                    (self.log)(&format!(
                        "note: {what}: the upload session is gone ({why}): uploading the blob in one request"
                    ));
                    return Ok(None);
                }
            }
        }
    }

    /// Where a chunked upload stands: the session's URL and the registry's offset, after
    /// asking the registry when the last request failed; a fresh session (or a mount) when
    /// there is none or it is gone.
    pub(super) async fn resume_point(
        &self,
        blob: &BlobRef<'_>,
        auth: &Option<HeaderValue>,
        state: &std::sync::Mutex<Resumable>,
    ) -> Result<Resume, Step> {
        let what = &blob.what;
        let (session, resync, failures) = {
            let s = state.lock().expect("upload state");
            (s.session.clone(), s.resync, s.status_failures)
        };
        if let Some((url, offset)) = session {
            if !resync {
                return Ok(Resume::At(url, offset));
            }
            let mut gone = format!("status unknown after {failures} failed queries");
            if failures < 2 {
                let req = self.request(Method::GET, url.clone(), auth);
                let resp = match self.send(req, None).await {
                    Ok(r) => self.check(r).await,
                    Err(e) => Err(e),
                };
                let resp = match resp {
                    Ok(r) => r,
                    Err(Step::Retry { reason, after }) => {
                        state.lock().expect("upload state").status_failures += 1;
                        return Err(Step::Retry {
                            reason: format!("upload status: {reason}"),
                            after,
                        });
                    }
                    Err(e) => return Err(e),
                };
                let status = resp.status();
                let next = upload_range(&resp).filter(|n| *n <= blob.size);
                match next {
                    Some(next) if status.is_success() => {
                        let url = self.location(&resp)?.unwrap_or(url);
                        (self.log)(&format!(
                            "resume: {what} from byte {next} of {} ({} confirmed before)",
                            blob.size, offset
                        ));
                        let mut s = state.lock().expect("upload state");
                        s.session = Some((url.clone(), next));
                        s.resync = false;
                        s.status_failures = 0;
                        return Ok(Resume::At(url, next));
                    }
                    _ => {
                        let body = self.error_body(resp).await;
                        gone = format!("{status}{}", self.summary(&body));
                    }
                }
            }
            let gone = self.scrub(&gone);
            // A finishing PUT whose answer was lost leaves no session, but the blob.
            let url = self.url(&format!("v2/{}/blobs/{}", blob.repo, blob.digest));
            let resp = self
                .check(
                    self.send(self.request(Method::HEAD, url, auth), None)
                        .await?,
                )
                .await?;
            if resp.status().is_success() {
                return Ok(Resume::Present);
            }
            state.lock().expect("upload state").session = None;
            // A registry that drops sessions on broken requests (Distribution 2.x does) would
            // drop a fresh one at the next cut too, with every chunk sent before it: one
            // request for the whole blob loses at most what that request sent.
            return Ok(Resume::Lost(gone));
        }
        // No session yet, or a fresh start after one DIGEST_INVALID (at most two sessions).
        match self.open_upload(blob, auth).await? {
            Opened::Mounted => Ok(Resume::Mounted),
            Opened::Session(url) => {
                let mut s = state.lock().expect("upload state");
                s.session = Some((url.clone(), 0));
                s.resync = false;
                s.status_failures = 0;
                Ok(Resume::At(url, 0))
            }
        }
    }

    /// One PATCH of the chunk at `offset`; records the registry's new offset and `Location`.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn patch_chunk(
        &self,
        blob: &BlobRef<'_>,
        auth: &Option<HeaderValue>,
        url: Url,
        offset: u64,
        chunk: u64,
        progress: Arc<dyn Fn(u64) + Send + Sync>,
        state: &std::sync::Mutex<Resumable>,
    ) -> Result<ChunkStep, Step> {
        let what = &blob.what;
        let end = offset.saturating_add(chunk).min(blob.size);
        let activity = Activity::new();
        let body = self
            .file_body(blob.path, offset, end - offset, &activity, progress.clone())
            .await?;
        let req = self
            .request(Method::PATCH, url.clone(), auth)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .header(
                reqwest::header::CONTENT_RANGE,
                format!("{offset}-{}", end - 1),
            )
            .header(reqwest::header::CONTENT_LENGTH, end - offset)
            .body(body);
        let deadline = transfer_deadline(self.opts.idle_timeout, end - offset);
        let resp = self
            .check(
                self.send_within(req, Some(&activity), Some(deadline))
                    .await?,
            )
            .await?;
        match resp.status() {
            StatusCode::ACCEPTED | StatusCode::NO_CONTENT | StatusCode::OK => {
                // The registry's word on its offset (its `Range`), else what was sent.
                let next = match upload_range(&resp) {
                    Some(n) if n <= blob.size => n,
                    _ => end,
                };
                if next <= offset {
                    return Err(Step::Retry {
                        reason: format!(
                            "{what}: the registry kept none of the chunk at {offset} (Range ends at {next})"
                        ),
                        after: None,
                    });
                }
                let url = self.location(&resp)?.unwrap_or(url);
                progress(next);
                let mut s = state.lock().expect("upload state");
                s.session = Some((url, next));
                s.resync = false;
                s.status_failures = 0;
                Ok(ChunkStep::More)
            }
            StatusCode::RANGE_NOT_SATISFIABLE => Err(Step::Retry {
                reason: format!("{what}: the registry is not at byte {offset} (416)"),
                after: None,
            }),
            StatusCode::NOT_FOUND => Err(Step::Retry {
                reason: format!("{what}: upload session lost (404)"),
                after: None,
            }),
            // No chunked uploads here (or not like this): the caller falls back to one PUT.
            s @ (StatusCode::BAD_REQUEST
            | StatusCode::METHOD_NOT_ALLOWED
            | StatusCode::LENGTH_REQUIRED
            | StatusCode::PAYLOAD_TOO_LARGE
            | StatusCode::UNSUPPORTED_MEDIA_TYPE) => {
                let body = self.error_body(resp).await;
                Ok(ChunkStep::Refused(format!("{s}{}", self.summary(&body))))
            }
            _ => Err(self.unexpected(what, resp).await),
        }
    }

    /// The PUT `?digest=` (no body) that completes a chunked upload.
    pub(super) async fn finish_chunked(
        &self,
        blob: &BlobRef<'_>,
        auth: &Option<HeaderValue>,
        mut url: Url,
        state: &std::sync::Mutex<Resumable>,
    ) -> Result<ChunkStep, Step> {
        let what = &blob.what;
        url.query_pairs_mut()
            .append_pair("digest", blob.digest.as_str());
        let req = self
            .request(Method::PUT, url, auth)
            .header(reqwest::header::CONTENT_LENGTH, 0);
        let resp = self.check(self.send(req, None).await?).await?;
        match resp.status() {
            StatusCode::CREATED | StatusCode::NO_CONTENT | StatusCode::OK => {
                Ok(ChunkStep::Done(Uploaded::Pushed))
            }
            StatusCode::NOT_FOUND => Err(Step::Retry {
                reason: format!("{what}: upload session lost (404)"),
                after: None,
            }),
            StatusCode::BAD_REQUEST => {
                let body = self.error_body(resp).await;
                let summary = self.summary(&body);
                if summary.contains("DIGEST_INVALID") {
                    // A session mixed up by a broken request gets one fresh start; twice, the
                    // layout's blob is what is wrong.
                    let mut s = state.lock().expect("upload state");
                    if s.digest_refused {
                        return Err(Step::Fatal(
                            crate::problem::Problem::new(
                                crate::problem::Kind::NotBuilt,
                                format!("{what}: the registry computed another digest{summary}: the layout blob is corrupt"),
                                "rebuild",
                            )
                            .into(),
                        ));
                    }
                    s.digest_refused = true;
                    s.session = None;
                    s.resync = false;
                    Err(Step::Retry {
                        reason: format!("{what}: the registry computed another digest{summary}; uploading it again"),
                        after: None,
                    })
                } else if summary.contains("BLOB_UPLOAD") || summary.contains("SIZE_INVALID") {
                    Err(Step::Retry {
                        reason: format!("{what}: 400 Bad Request{summary}"),
                        after: None,
                    })
                } else {
                    Err(Step::Fatal(anyhow!("{what}: 400 Bad Request{summary}")))
                }
            }
            _ => Err(self.unexpected(what, resp).await),
        }
    }
}

/// A blob being uploaded, as the upload steps see it.
pub(super) struct BlobRef<'a> {
    repo: &'a str,
    digest: &'a Digest,
    size: u64,
    path: &'a Path,
    mount_from: Option<&'a str>,
    /// The registry refused the mount once: do not ask again.
    mount_refused: AtomicBool,
    /// `upload blob <digest> to <registry>/<repo>`, for messages.
    what: String,
}

/// What opening an upload gave.
pub(super) enum Opened {
    Mounted,
    /// An upload session at this URL.
    Session(Url),
}

/// A chunked upload's progress, kept across the tries of its requests.
#[derive(Debug, Default)]
pub(super) struct Resumable {
    /// The session (the last `Location` given) and the bytes the registry confirmed.
    session: Option<(Url, u64)>,
    /// The last request failed: the registry's offset is unknown until asked.
    resync: bool,
    /// Status queries that failed in a row (two, and the session is given up).
    status_failures: u32,
    /// A finishing PUT was refused with DIGEST_INVALID once.
    digest_refused: bool,
}

/// Where a chunked upload goes on from.
pub(super) enum Resume {
    Mounted,
    /// The blob is in the repository already.
    Present,
    At(Url, u64),
    /// The session is gone (why): upload the blob in one PUT instead.
    Lost(String),
}

/// What one step of a chunked upload did.
pub(super) enum ChunkStep {
    More,
    Done(Uploaded),
    /// The registry refused a chunk (why): upload in one PUT instead.
    Refused(String),
    /// The registry lost the session (why): upload in one PUT instead.
    Lost(String),
}

/// The offset after the `Range: 0-<last>` of an upload answer (`None` without one).
pub(super) fn upload_range(resp: &reqwest::Response) -> Option<u64> {
    parse_upload_range(resp.headers().get(reqwest::header::RANGE)?.to_str().ok()?)
}

/// `0-<last>` (or `bytes=0-<last>`) → `last + 1`; `0-0` means nothing yet (Distribution sends
/// it for an empty session; chunks are never a single byte).
pub fn parse_upload_range(v: &str) -> Option<u64> {
    let v = v.trim();
    let v = v.strip_prefix("bytes=").unwrap_or(v);
    let (first, last) = v.split_once('-')?;
    if first.trim() != "0" {
        return None;
    }
    let last: u64 = last.trim().parse().ok()?;
    Some(if last == 0 { 0 } else { last + 1 })
}
