//! Referrers: the OCI 1.1 referrers API (`GET /v2/<name>/referrers/<digest>`) and, for
//! registries without it (GHCR, CNCF distribution), the fallback tag `sha256-<hex>` whose image
//! index lists a subject's referrers, read with its ETag and written back with `If-Match`.

use anyhow::{anyhow, Result};
use reqwest::header::{ACCEPT, CONTENT_TYPE, ETAG, IF_MATCH};
use reqwest::{Method, StatusCode};

use crate::oci::{Digest, Index, MEDIA_INDEX};

use super::call::header;
use super::transport::display_ref;
use super::*;

/// The fallback index as read: its content (if the tag exists) and the ETag to write back
/// against.
#[derive(Debug, Clone, Default)]
pub struct FallbackIndex {
    pub index: Option<Index>,
    pub etag: Option<String>,
}

impl Registry {
    /// `GET /v2/<repo>/referrers/<subject>`: the referrers index when the registry has the
    /// API, `None` when it answers 404, 400 or 405 (no API: use the fallback tag).
    pub async fn referrers(&self, repo: &str, subject: &Digest) -> Result<Option<Index>> {
        let what = &format!("list referrers of {}/{repo}@{}", self.name, subject.short());
        let url = self.url(&format!("v2/{repo}/referrers/{subject}"));
        let accept = |req: reqwest::RequestBuilder| req.header(ACCEPT, MEDIA_INDEX);
        self.exchange(repo, what, (Method::GET, &url), accept, |resp| async move {
            match resp.status() {
                s if s.is_success() => {
                    let body = self.manifest_body(resp, what).await?;
                    let index: Index = serde_json::from_slice(&body).map_err(|_| {
                        Step::Fatal(anyhow!("{what}: the answer is not an image index"))
                    })?;
                    Ok(Some(index))
                }
                StatusCode::NOT_FOUND
                | StatusCode::BAD_REQUEST
                | StatusCode::METHOD_NOT_ALLOWED => Ok(None),
                _ => Err(self.unexpected(what, resp).await),
            }
        })
        .await
    }

    /// The index tagged `tag` (the referrers fallback tag) and its ETag; an empty
    /// [`FallbackIndex`] when the tag does not exist.
    pub async fn fallback_index(&self, repo: &str, tag: &str) -> Result<FallbackIndex> {
        let what = &format!("read {}", display_ref(&self.name, repo, tag));
        let url = self.manifest_url(repo, tag);
        let accept = |req: reqwest::RequestBuilder| req.header(ACCEPT, MEDIA_INDEX);
        self.exchange(repo, what, (Method::GET, &url), accept, |resp| async move {
            match resp.status() {
                StatusCode::NOT_FOUND => Ok(FallbackIndex::default()),
                s if s.is_success() => {
                    let etag = header(&resp, ETAG);
                    let body = self.manifest_body(resp, what).await?;
                    let index: Index = serde_json::from_slice(&body).map_err(|_| {
                        Step::Fatal(anyhow!(
                            "{what}: the tag holds something other than an image index"
                        ))
                    })?;
                    Ok(FallbackIndex {
                        index: Some(index),
                        etag,
                    })
                }
                _ => Err(self.unexpected(what, resp).await),
            }
        })
        .await
    }

    /// Writes the fallback index `bytes` (digest `digest`) to `tag`, with `If-Match: etag`
    /// when the registry gave one (a concurrent writer then makes this fail instead of losing
    /// its entry).
    pub async fn put_fallback_index(
        &self,
        repo: &str,
        tag: &str,
        bytes: &bytes::Bytes,
        etag: Option<&str>,
    ) -> Result<()> {
        let what = &format!("write {}", display_ref(&self.name, repo, tag));
        let url = self.manifest_url(repo, tag);
        let body = |req: reqwest::RequestBuilder| {
            let req = req.header(CONTENT_TYPE, MEDIA_INDEX).body(bytes.clone());
            match etag {
                Some(e) => req.header(IF_MATCH, e),
                None => req,
            }
        };
        self.exchange(repo, what, (Method::PUT, &url), body, |resp| async move {
            if resp.status() == StatusCode::PRECONDITION_FAILED {
                return Err(Step::Fatal(
                    crate::problem::Problem::registry(
                        format!("{what}: another writer changed it meanwhile"),
                        "re-run to merge again",
                    )
                    .into(),
                ));
            }
            if !resp.status().is_success() {
                return Err(self.unexpected(what, resp).await);
            }
            Ok(())
        })
        .await
    }
}
