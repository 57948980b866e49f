//! Manifests: HEAD for a digest, PUT by digest or tag, GET by digest or reference.

use anyhow::{anyhow, Result};
use reqwest::{Method, StatusCode};

use crate::oci::Digest;

use super::body::{Over, MAX_MANIFEST, MAX_SMALL_BLOB};
use super::transport::*;
use super::*;

impl Registry {
    /// `GET /v2/<repo>/blobs/<digest>` of a small blob (an image config, an attestation layer),
    /// checked against its digest; refused when larger than [`MAX_SMALL_BLOB`].
    pub async fn fetch_blob(&self, repo: &str, digest: &Digest) -> Result<Vec<u8>> {
        let what = format!("fetch blob {}/{repo}@{}", self.name, digest.short());
        let (_, bytes) = self
            .get_verified(
                repo,
                &format!("v2/{repo}/blobs/{digest}"),
                &what,
                None,
                digest,
                (MAX_SMALL_BLOB, "blob"),
            )
            .await?;
        Ok(bytes)
    }

    /// `HEAD /v2/<repo>/manifests/<reference>`: the digest it points at, if any.
    pub async fn manifest_digest(&self, repo: &str, reference: &str) -> Result<Option<Digest>> {
        let what = format!(
            "check manifest {}",
            display_ref(&self.name, repo, reference)
        );
        let url = self.url(&format!("v2/{repo}/manifests/{reference}"));
        self.with_retries(repo, &what, |auth, _| {
            let req = self
                .request(Method::HEAD, url.clone(), &auth)
                .header(reqwest::header::ACCEPT, MANIFEST_ACCEPT);
            let what = &what;
            async move {
                let resp = self.check(self.send(req, None).await?).await?;
                match resp.status() {
                    s if s.is_success() => Ok(resp
                        .headers()
                        .get("docker-content-digest")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse().ok())
                        .or_else(|| reference.parse().ok())),
                    StatusCode::NOT_FOUND => Ok(None),
                    _ => Err(self.unexpected(what, resp).await),
                }
            }
        })
        .await
    }

    /// `PUT /v2/<repo>/manifests/<reference>` with the exact bytes whose digest is `digest`.
    /// A refusal of the document itself (a 4xx other than 401, 403 or 407) carries
    /// [`ManifestRefused`] in its error chain.
    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: &bytes::Bytes,
        digest: &Digest,
    ) -> Result<()> {
        let what = format!("push manifest {}", display_ref(&self.name, repo, reference));
        let url = self.url(&format!("v2/{repo}/manifests/{reference}"));
        self.with_retries(repo, &what, |auth, _| {
            let req = self
                .request(Method::PUT, url.clone(), &auth)
                .header(reqwest::header::CONTENT_TYPE, media_type)
                .body(bytes.clone());
            let what = &what;
            async move {
                let resp = self.check(self.send(req, None).await?).await?;
                let status = resp.status();
                if !status.is_success() {
                    let refused =
                        status.is_client_error() && !matches!(status.as_u16(), 401 | 403 | 407);
                    return Err(match self.unexpected(what, resp).await {
                        Step::Fatal(e) if refused => {
                            Step::Fatal(e.context(ManifestRefused(status.as_u16())))
                        }
                        other => other,
                    });
                }
                let echoed = resp
                    .headers()
                    .get("docker-content-digest")
                    .and_then(|v| v.to_str().ok())
                    .map(String::from);
                match echoed {
                    Some(d) if d != digest.as_str() => Err(Step::Fatal(anyhow!(
                        "{what}: the registry stored digest {d}, expected {digest}"
                    ))),
                    _ => Ok(()),
                }
            }
        })
        .await
    }

    /// `GET /v2/<repo>/manifests/<digest>`: `(media type, bytes)`, checked against the digest.
    pub async fn get_manifest(&self, repo: &str, digest: &Digest) -> Result<(String, Vec<u8>)> {
        let what = format!("fetch manifest {}/{repo}@{}", self.name, digest.short());
        let path = format!("v2/{repo}/manifests/{digest}");
        let limit = (MAX_MANIFEST, "manifest or index");
        self.get_verified(repo, &path, &what, Some(MANIFEST_ACCEPT), digest, limit)
            .await
    }

    /// `GET <path>` of content addressed by `digest`: `(content type, bytes)`, the bytes checked
    /// against the digest.
    async fn get_verified(
        &self,
        repo: &str,
        path: &str,
        what: &str,
        accept: Option<&str>,
        digest: &Digest,
        (limit, kind): (u64, &'static str),
    ) -> Result<(String, Vec<u8>)> {
        let url = self.url(path);
        self.with_retries(repo, what, |auth, _| {
            let mut req = self.request(Method::GET, url.clone(), &auth);
            if let Some(a) = accept {
                req = req.header(reqwest::header::ACCEPT, a);
            }
            async move {
                let resp = self.check(self.send(req, None).await?).await?;
                if !resp.status().is_success() {
                    return Err(self.unexpected(what, resp).await);
                }
                let media = resp
                    .headers()
                    .get(reqwest::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                let body = self
                    .read_capped(resp, limit, Over::Refuse(kind), what)
                    .await?;
                if Digest::of(&body) != *digest {
                    return Err(Step::Fatal(anyhow!(
                        "{what}: content does not match its digest"
                    )));
                }
                Ok((media, body.to_vec()))
            }
        })
        .await
    }

    /// `GET /v2/<repo>/manifests/<reference>` (a tag or a digest): `(media type, bytes)`, or
    /// `None` when the registry has no such manifest (404). The caller checks the digest.
    pub async fn fetch_manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<Option<(String, Vec<u8>)>> {
        let what = format!(
            "fetch manifest {}",
            display_ref(&self.name, repo, reference)
        );
        let url = self.url(&format!("v2/{repo}/manifests/{reference}"));
        self.with_retries(repo, &what, |auth, _| {
            let req = self
                .request(Method::GET, url.clone(), &auth)
                .header(reqwest::header::ACCEPT, MANIFEST_ACCEPT);
            let what = &what;
            async move {
                let resp = self.check(self.send(req, None).await?).await?;
                match resp.status() {
                    s if s.is_success() => {
                        let media = resp
                            .headers()
                            .get(reqwest::header::CONTENT_TYPE)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_string();
                        Ok(Some((
                            media,
                            self.manifest_body(resp, what).await?.to_vec(),
                        )))
                    }
                    StatusCode::NOT_FOUND => Ok(None),
                    _ => Err(self.unexpected(what, resp).await),
                }
            }
        })
        .await
    }
}

/// The registry refused a manifest document with this 4xx status (not an auth problem): some
/// registries refuse an `artifactType`, and compose artifacts then go in their OCI 1.0 form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManifestRefused(pub u16);

impl std::fmt::Display for ManifestRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the registry refused the manifest ({})", self.0)
    }
}

impl std::error::Error for ManifestRefused {}
