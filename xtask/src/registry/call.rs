//! One call to a registry: a request carrying the token for its repository, retried with
//! backoff (honouring `Retry-After`), its token renewed once on a 401 ([`Registry::with_retries`]);
//! and the frame most calls share: build the request, send it, check its status, read the
//! answer ([`Registry::exchange`]).

use std::future::Future;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use reqwest::header::HeaderValue;
use reqwest::{Method, Url};

use super::body::Over;
use super::credentials::Credential;
use super::transport::backoff;
use super::*;
use crate::oci::Digest;

impl Registry {
    /// Runs `op` with retries: `op` gets the `Authorization` header and the try number.
    pub async fn with_retries<T, F, Fut>(&self, repo: &str, what: &str, mut op: F) -> Result<T>
    where
        F: FnMut(Option<HeaderValue>, u32) -> Fut,
        Fut: Future<Output = Result<T, Step>>,
    {
        let mut refreshed = false;
        let mut refresh = false;
        let mut last = String::new();
        let mut attempt = 0;
        while attempt < self.opts.max_tries {
            attempt += 1;
            let auth = self.authorization(repo, refresh).await?;
            refresh = false;
            match op(auth.clone(), attempt).await {
                Ok(v) => return Ok(v),
                Err(Step::Fatal(e)) => return Err(e),
                Err(Step::Unauthorized(msg)) => {
                    if refreshed && self.push_denied(repo, &auth, &msg) {
                        bail!(crate::problem::Problem::credentials(
                            format!(
                                "{what}: {} refused push to {}/{repo}: the credentials from {}{} were accepted, \
                                 but the token they got grants no push access to {repo} ({})",
                                self.name,
                                self.name,
                                self.creds.source,
                                self.creds
                                    .user()
                                    .map(|u| format!(" (user {u})"))
                                    .unwrap_or_default(),
                                self.scrub(&msg)
                            ),
                            "give them write access to the repository (or use credentials that have it), then re-run"
                        ));
                    }
                    if refreshed {
                        bail!(crate::problem::Problem::credentials(
                            format!(
                                "{what}: {} refused the credentials from {} ({})",
                                self.name,
                                self.creds.source,
                                self.scrub(&msg)
                            ),
                            "check them, then re-run"
                        ));
                    }
                    // An expired token: fetch a new one and try again at once.
                    refreshed = true;
                    refresh = true;
                    attempt -= 1;
                    if self.creds.credential == Credential::Anonymous {
                        bail!(crate::problem::Problem::credentials(
                            format!(
                                "{what}: {} requires credentials and none were found",
                                self.name
                            ),
                            self.how_to_set.clone()
                        ));
                    }
                }
                Err(Step::Retry { reason, after }) => {
                    last = self.scrub(&reason);
                    if attempt >= self.opts.max_tries {
                        break;
                    }
                    let wait = match after {
                        Some(d) if d > Duration::from_secs(300) => {
                            bail!(crate::problem::Problem::registry(
                                format!(
                                    "{what}: {} asks to wait {}s before retrying ({last})",
                                    self.name,
                                    d.as_secs()
                                ),
                                "try again later"
                            ))
                        }
                        Some(d) => d,
                        None => backoff(attempt, self.opts.base_backoff, self.opts.max_backoff),
                    };
                    (self.log)(&format!(
                        "retry: {what} in {:.1}s ({last}; try {}/{})",
                        wait.as_secs_f64(),
                        attempt + 1,
                        self.opts.max_tries
                    ));
                    tokio::time::sleep(wait).await;
                }
            }
        }
        bail!(
            "{what}: gave up after {} tries: {last}",
            self.opts.max_tries
        )
    }

    /// One request with [`Registry::with_retries`]: `method` to `url` with the token, headers
    /// added by `headers`; the answer, once [`Registry::check`] let it through (no 401, no
    /// retryable status), goes to `answer`.
    pub(super) async fn exchange<T, H, A, Fut>(
        &self,
        repo: &str,
        what: &str,
        (method, url): (Method, &Url),
        headers: H,
        answer: A,
    ) -> Result<T>
    where
        H: Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
        A: Fn(reqwest::Response) -> Fut,
        Fut: Future<Output = Result<T, Step>>,
    {
        self.with_retries(repo, what, |auth, _| {
            let req = headers(self.request(method.clone(), url.clone(), &auth));
            let answer = &answer;
            async move { answer(self.check(self.send(req, None).await?).await?).await }
        })
        .await
    }

    /// `GET url` of content addressed by `digest`, into memory: `(content type, bytes)`,
    /// refused past `limit` bytes (a `kind`), the bytes checked against the digest.
    pub(super) async fn get_verified(
        &self,
        repo: &str,
        url: &Url,
        what: &str,
        accept: Option<&str>,
        digest: &Digest,
        (limit, kind): (u64, &'static str),
    ) -> Result<(String, Vec<u8>)> {
        let headers = |req: reqwest::RequestBuilder| match accept {
            Some(a) => req.header(reqwest::header::ACCEPT, a),
            None => req,
        };
        self.exchange(repo, what, (Method::GET, url), headers, |resp| async move {
            if !resp.status().is_success() {
                return Err(self.unexpected(what, resp).await);
            }
            let media = header(&resp, reqwest::header::CONTENT_TYPE).unwrap_or_default();
            let body = self
                .read_capped(resp, limit, Over::Refuse(kind), what)
                .await?;
            if Digest::of(&body) != *digest {
                return Err(Step::Fatal(anyhow!(
                    "{what}: content does not match its digest"
                )));
            }
            Ok((media, body.to_vec()))
        })
        .await
    }

    /// `v2/<repo>/manifests/<reference>`.
    pub(super) fn manifest_url(&self, repo: &str, reference: &str) -> Url {
        self.url(&format!("v2/{repo}/manifests/{reference}"))
    }

    /// `v2/<repo>/blobs/<digest>`.
    pub(super) fn blob_url(&self, repo: &str, digest: &Digest) -> Url {
        self.url(&format!("v2/{repo}/blobs/{digest}"))
    }
}

/// A header of an answer as text (`None` when absent or not text).
pub(super) fn header(
    resp: &reqwest::Response,
    name: impl reqwest::header::AsHeaderName,
) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(String::from)
}
