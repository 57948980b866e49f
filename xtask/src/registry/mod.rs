//! A registry client over reqwest and rustls (ring provider), wrapped for what real registries
//! need.
//!
//! The token handshake (the `/v2/` challenge, the token request with the user's credentials,
//! the basic-auth fallback) is done here: stevedore checks every URL a registry hands it before
//! a credential goes there (a token realm over plain HTTP, an upload `Location` or a redirect
//! that downgrades HTTPS to HTTP), and asks for tokens with several scopes when needed (a
//! cross-repository mount needs push on the target and pull on the source).
//!
//! Credentials go only over TLS to the registry that asked for them: once a registry spoke
//! HTTPS, nothing for it goes over plain HTTP (Location, redirects, token realms; loopback
//! too). Registry requests carry `Authorization` only to the registry's own scheme, host and
//! port; the user and secret go as Basic auth to the token realm the registry names (as
//! Docker does), which may be another HTTPS host, but never one on a loopback or link-local
//! address unless the registry is on one too ([`token::realm_host_refused`]). Every text that
//! came from a registry is redacted ([`credentials::redact_forms`], after decoding its JSON and
//! percent escapes) before it reaches a message.
//!
//! Every request has a connect timeout and an idle timeout (no byte moved and no answer for
//! that long: the request is abandoned and retried). Every body is read while it streams,
//! capped by what it is (4 MiB for a manifest or index) and held to a minimum pace
//! ([`body`]); a blob download has a deadline scaled by its size. Connection errors, 408, 429 and 5xx are
//! retried with exponential backoff and jitter, honouring `Retry-After`, a bounded number of
//! times. A 401 refreshes the token once and retries. Blob uploads stream from the layout file:
//! one monolithic PUT with `Content-Length` up to [`ClientOptions::chunk_size`] (a failed upload
//! restarts with a new session), larger blobs as a resumable session of PATCHes of one chunk
//! each (see [`Registry::upload_blob`]).
//!
//! One run has one session ([`Clients`]): one async runtime, one client per registry host
//! (one connection pool, one bearer handshake) shared by the build's base-image pulls, the
//! compose resolver, publish and `verify`, and one credential source, so that each token is
//! asked for once per registry and scope.
//!
//! Split by job: [`session`] (the run's clients), [`client`] (one host's client),
//! [`transport`] (one request, URL checks, redaction, backoff), [`token`] (challenges, tokens,
//! scopes), [`call`] (a request with its token and retries, and the request frame),
//! [`credentials`] (where credentials come from), [`blobs`] (uploads, chunked resume,
//! mounts), [`manifests`], [`pull`] (downloads), [`referrers`], [`login`] (the login check),
//! [`body`] (bounded reads).

pub mod blobs;
pub mod body;
mod call;
mod client;
pub mod credentials;
pub mod login;
pub mod manifests;
pub mod pull;
pub mod referrers;
mod session;
#[cfg(test)]
mod tests;
pub mod token;
pub mod transport;

use std::sync::Arc;
use std::time::Duration;

pub use blobs::parse_upload_range;
pub use client::Registry;
pub use manifests::ManifestRefused;
pub use session::Clients;
pub use token::{parse_bearer_challenge, token_grants_push};
pub use transport::{backoff, error_summary, parse_retry_after, Activity};

/// How to reach registries, from the config: hosts allowed over plain HTTP and extra CA files.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `release.insecure-registries`.
    pub insecure: Vec<String>,
    /// `release.ca-files`, resolved against the workspace root.
    pub ca_files: Vec<std::path::PathBuf>,
    /// `release.mirrors`: a registry host → where its base images are pulled from instead.
    pub mirrors: std::collections::BTreeMap<String, crate::oci::reference::RegistryPrefix>,
}

impl Settings {
    /// Where the base image `image` is pulled from: the same repository under its host's
    /// mirror (`docker.io/library/golang` → `mirror.lan/library/golang`), else `image` itself.
    pub fn pull_source(
        &self,
        image: &crate::oci::reference::ImageRef,
    ) -> crate::oci::reference::ImageRef {
        let Some(mirror) = self.mirrors.get(&image.host) else {
            return image.clone();
        };
        let repository = match mirror.namespace.as_str() {
            "" => image.repository.clone(),
            ns => format!("{ns}/{}", image.repository),
        };
        crate::oci::reference::ImageRef {
            host: mirror.host.clone(),
            repository,
            ..image.clone()
        }
    }
}

/// Accept header for manifest requests.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.docker.distribution.manifest.v2+json";

/// Tuning shared by every registry of a run.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Hosts reached over plain HTTP besides loopback ones (`release.insecure-registries`).
    pub insecure: Vec<String>,
    /// Extra trusted CA certificates (PEM), from `release.ca-files` and `SSL_CERT_FILE`.
    pub ca_pems: Vec<Vec<u8>>,
    pub connect_timeout: Duration,
    /// A request with no progress (no byte sent, no answer) for this long is abandoned.
    pub idle_timeout: Duration,
    /// Tries per operation (first try included).
    pub max_tries: u32,
    /// First backoff delay; doubles each retry, capped at `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// Blobs larger than this are uploaded in chunks of this size (resumable PATCHes); smaller
    /// ones in one PUT. 0: always one PUT.
    pub chunk_size: u64,
}

/// Default [`ClientOptions::chunk_size`]. Every chunk is a request the registry finishes
/// (distribution writes its hash state) before the next starts: 16 MiB cost a 4 × 79 MiB push
/// 7 points against 4 parallel monolithic `curl` PUTs (`scripts/bench-big-blobs.sh`: 1.10×
/// against 1.03× at 64 MiB), while a layer under 64 MiB resends little when it breaks.
pub const DEFAULT_CHUNK_SIZE: u64 = 64 << 20;

/// The smallest chunk accepted from `STEVEDORE_CHUNK_SIZE` (registries on object storage want
/// large parts; tiny chunks only add requests).
pub const MIN_CHUNK_SIZE: u64 = 256 << 10;

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            insecure: Vec::new(),
            ca_pems: Vec::new(),
            connect_timeout: Duration::from_secs(15),
            idle_timeout: Duration::from_secs(60),
            max_tries: 6,
            base_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(15),
            chunk_size: DEFAULT_CHUNK_SIZE,
        }
    }
}

impl ClientOptions {
    /// Whether `release.insecure-registries` lets `name` (as configured) or `api_host` be
    /// reached over plain HTTP.
    pub fn may_be_plain(&self, name: &str, api_host: &str) -> bool {
        self.insecure.iter().any(|h| h == name || h == api_host)
    }

    /// Defaults with `STEVEDORE_TIMEOUT` (idle timeout, seconds), `STEVEDORE_RETRIES` (tries
    /// per operation) and `STEVEDORE_CHUNK_SIZE` (see [`parse_chunk_size`]) from the
    /// environment.
    pub fn from_env() -> ClientOptions {
        let mut o = ClientOptions::default();
        let num = |k: &str| {
            std::env::var(k)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        if let Some(s) = num("STEVEDORE_TIMEOUT").filter(|s| *s > 0) {
            o.idle_timeout = Duration::from_secs(s);
        }
        if let Some(n) = num("STEVEDORE_RETRIES").filter(|n| *n > 0) {
            o.max_tries = n.min(20) as u32;
        }
        if let Some(c) = std::env::var("STEVEDORE_CHUNK_SIZE")
            .ok()
            .and_then(|v| parse_chunk_size(&v))
        {
            o.chunk_size = c;
        }
        o
    }
}

/// `STEVEDORE_CHUNK_SIZE`: bytes (`8388608`) or with a binary suffix (`8MiB`, `8M`, `512KiB`,
/// `1GiB`); `0` or `off` turns chunked uploads off. Values below [`MIN_CHUNK_SIZE`] are raised to
/// it; unparsable values are ignored (`None`).
pub fn parse_chunk_size(v: &str) -> Option<u64> {
    let v = v.trim();
    if v.eq_ignore_ascii_case("off") {
        return Some(0);
    }
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return None,
    };
    let bytes = n.checked_mul(mult)?;
    Some(if bytes == 0 {
        0
    } else {
        bytes.max(MIN_CHUNK_SIZE)
    })
}

/// An error and its sources on one line.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

/// Installs rustls' ring crypto provider (once per process).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Logger for retries and verbose detail (never given a secret).
pub type Log = Arc<dyn Fn(&str) + Send + Sync>;

/// How one try of an operation ended, when it did not succeed.
#[derive(Debug)]
pub enum Step {
    /// Worth another try (connection error, 408, 429, 5xx, stall), after `after` if the
    /// registry said so.
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// 401: refresh the token and try again (once).
    Unauthorized(String),
    /// Retrying will not help.
    Fatal(anyhow::Error),
}

impl From<anyhow::Error> for Step {
    fn from(e: anyhow::Error) -> Step {
        Step::Fatal(e)
    }
}

/// What an upload did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uploaded {
    Pushed,
    Mounted,
}

/// A token check for `login-check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginStatus {
    /// No credentials needed to talk to the registry (it may still refuse writes).
    Open,
    /// Basic auth accepted on `/v2/`.
    BasicAccepted,
    /// A bearer token was granted; `Some(true)` when its claims list `push` for the repository,
    /// `None` when the token is opaque.
    Token {
        push: Option<bool>,
    },
    Refused(String),
}

/// What the tokens asked for allow: `pull,push` (publishing) or `pull` (reading base images).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Pull,
    Push,
}
