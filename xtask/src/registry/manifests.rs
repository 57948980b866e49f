//! Manifests: HEAD for a digest, PUT by digest or tag, GET by digest (verified) or by
//! reference.

use anyhow::{anyhow, Result};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Method, StatusCode};

use crate::oci::Digest;

use super::body::MAX_MANIFEST;
use super::call::header;
use super::transport::display_ref;
use super::*;

impl Registry {
    /// `HEAD /v2/<repo>/manifests/<reference>`: the digest it points at, if any. A digest
    /// this run already knows is there is not asked about again ([`Registry::known_present`]);
    /// a tag always is.
    pub async fn manifest_digest(&self, repo: &str, reference: &str) -> Result<Option<Digest>> {
        let by_digest = reference.parse::<Digest>().ok();
        if let Some(d) = by_digest.as_ref().filter(|d| self.known_present(repo, d)) {
            return Ok(Some(d.clone()));
        }
        let found = match self.head_manifest(repo, reference).await? {
            Headed::Absent => None,
            Headed::Digest(d) => Some(d),
            // A registry that names no digest on `HEAD`: the manifest, read, says which it is.
            Headed::Present => match by_digest.clone() {
                Some(d) => Some(d),
                None => self
                    .read_manifest(repo, reference)
                    .await?
                    .map(|(_, bytes)| Digest::of(&bytes)),
            },
        };
        if let (Some(asked), Some(got)) = (&by_digest, &found) {
            if asked == got {
                self.note_present(repo, got);
            }
        }
        Ok(found)
    }

    async fn head_manifest(&self, repo: &str, reference: &str) -> Result<Headed> {
        let what = &format!(
            "check manifest {}",
            display_ref(&self.name, repo, reference)
        );
        let url = self.manifest_url(repo, reference);
        let accept = |req: reqwest::RequestBuilder| req.header(ACCEPT, MANIFEST_ACCEPT);
        self.exchange(
            repo,
            what,
            (Method::HEAD, &url),
            accept,
            |resp| async move {
                match resp.status() {
                    s if s.is_success() => Ok(header(&resp, "docker-content-digest")
                        .and_then(|v| v.parse().ok())
                        .map_or(Headed::Present, Headed::Digest)),
                    StatusCode::NOT_FOUND => Ok(Headed::Absent),
                    _ => Err(self.unexpected(what, resp).await),
                }
            },
        )
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
        let what = &format!("push manifest {}", display_ref(&self.name, repo, reference));
        let url = self.manifest_url(repo, reference);
        let body =
            |req: reqwest::RequestBuilder| req.header(CONTENT_TYPE, media_type).body(bytes.clone());
        self.exchange(repo, what, (Method::PUT, &url), body, |resp| async move {
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
            match header(&resp, "docker-content-digest") {
                Some(d) if d != digest.as_str() => Err(Step::Fatal(anyhow!(
                    "{what}: the registry stored digest {d}, expected {digest}"
                ))),
                _ => Ok(()),
            }
        })
        .await?;
        self.note_present(repo, digest);
        Ok(())
    }

    /// `GET /v2/<repo>/manifests/<digest>` into memory (at most [`MAX_MANIFEST`]): `(media
    /// type, bytes)`, checked against the digest; an error when the registry lacks it.
    pub async fn read_manifest_verified(
        &self,
        repo: &str,
        digest: &Digest,
    ) -> Result<(String, Vec<u8>)> {
        let what = &format!("fetch manifest {}/{repo}@{}", self.name, digest.short());
        let url = self.manifest_url(repo, digest.as_str());
        let limit = (MAX_MANIFEST, "manifest or index");
        self.get_verified(repo, &url, what, Some(MANIFEST_ACCEPT), digest, limit)
            .await
    }

    /// `GET /v2/<repo>/manifests/<reference>` (a tag or a digest) into memory (at most
    /// [`MAX_MANIFEST`]): `(media type, bytes)`, or `None` when the registry has no such
    /// manifest (404). Not checked against any digest: the caller does that.
    pub async fn read_manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<Option<(String, Vec<u8>)>> {
        let what = &format!(
            "fetch manifest {}",
            display_ref(&self.name, repo, reference)
        );
        let url = self.manifest_url(repo, reference);
        let accept = |req: reqwest::RequestBuilder| req.header(ACCEPT, MANIFEST_ACCEPT);
        self.exchange(repo, what, (Method::GET, &url), accept, |resp| async move {
            match resp.status() {
                s if s.is_success() => {
                    let media = header(&resp, CONTENT_TYPE).unwrap_or_default();
                    let body = self.manifest_body(resp, what).await?;
                    Ok(Some((media, body.to_vec())))
                }
                StatusCode::NOT_FOUND => Ok(None),
                _ => Err(self.unexpected(what, resp).await),
            }
        })
        .await
    }
}

/// What a `HEAD` of a manifest said.
enum Headed {
    Absent,
    /// There, with this `Docker-Content-Digest`.
    Digest(Digest),
    /// There, without naming its digest.
    Present,
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
