//! The client for one registry host: its HTTP client (TLS, timeouts, the scheme it speaks), its
//! credentials, the bearer challenge it gave and the tokens it issued. One per host and
//! [`Operation`] for a whole run, handed out by [`super::Clients`].

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use reqwest::header::HeaderValue;
use reqwest::Url;

use super::credentials::Credentials;
use super::transport::{cannot_resolve, is_dns_failure, refuse_redirect_downgrade};
use super::{error_chain, ClientOptions, Log, Operation};
use crate::oci::reference::is_loopback_host;
use crate::oci::Digest;

/// A bearer challenge: the token realm and the service.
pub(super) type Challenge = (Url, Option<String>);

/// Headers by `(repository, repository also pulled from)` and when they were obtained.
pub(super) type TokenCache = HashMap<(String, Option<String>), (Option<HeaderValue>, Instant)>;

/// One registry host, its credentials and its token cache.
pub struct Registry {
    /// The host as written in the config (`docker.io`, `ghcr.io`, `127.0.0.1:5000`).
    pub name: String,
    /// The host the API is reached at (`registry-1.docker.io` for Docker Hub).
    pub api_host: String,
    pub creds: Credentials,
    /// How to give this host credentials (for the message when it wants some and has none).
    pub(super) how_to_set: String,
    pub(super) base: Url,
    pub(super) http: reqwest::Client,
    /// Headers by `(repository, repository also pulled from)` and when they were obtained.
    /// The cache is this client's own: its tokens are for its [`Operation`]'s scope.
    pub(super) tokens: tokio::sync::Mutex<TokenCache>,
    /// Every token the token server issued, so that an echo of one is redacted (shared with
    /// the client of the same host for the other operation).
    pub(super) issued: Arc<std::sync::Mutex<Vec<String>>>,
    /// The `realm` and `service` of the registry's bearer challenge, once asked for (`None`:
    /// the registry gave no bearer challenge on `/v2/`).
    /// The outcome is kept, a failure too: a registry that did not answer its handshake is
    /// not asked again for every blob. Shared with the client of the same host for the
    /// other operation.
    pub(super) challenge: Arc<tokio::sync::OnceCell<Result<Option<Challenge>, String>>>,
    /// The token scope asked for: `pull,push` (publishing) or `pull` (reading: base images,
    /// compose images, `verify`), so that read-only credentials suffice there.
    pub(super) operation: Operation,
    pub(super) opts: ClientOptions,
    pub(super) log: Log,
    /// Blob bytes handed to the network, retried and abandoned tries included.
    pub(super) sent: Arc<AtomicU64>,
    /// What this run already knows the registry holds: `(repository, digest)` of the blobs and
    /// manifests a `HEAD` found, a mount or `PUT` stored. Not asked about again in the same run
    /// (content by digest does not change; tags are never kept here). Shared with the client
    /// of the same host for the other operation.
    pub(super) known: Arc<std::sync::Mutex<HashSet<(String, Digest)>>>,
}

/// The HTTP client of a session (TLS roots, the extra CA files, timeouts, the redirect
/// policy): built once, shared by every registry of the run (its connection pool keeps one
/// set of connections per host).
pub(super) fn http_client(opts: &ClientOptions) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::custom(refuse_redirect_downgrade))
        .connect_timeout(opts.connect_timeout)
        .pool_idle_timeout(Duration::from_secs(30))
        .user_agent(concat!("stevedore/", env!("CARGO_PKG_VERSION")));
    let mut certs = Vec::new();
    for pem in &opts.ca_pems {
        certs.extend(
            reqwest::Certificate::from_pem_bundle(pem)
                .context("a CA file (release.ca-files or SSL_CERT_FILE) is not valid PEM")?,
        );
    }
    if !certs.is_empty() {
        builder = builder.tls_certs_merge(certs);
    }
    builder.build().context("cannot set up the HTTP client")
}

impl Registry {
    /// Sets up the client for `name` (reached at `api_host`) over `http` (the session's HTTP
    /// client, see [`http_client`]). For loopback and insecure hosts, HTTPS is tried first and
    /// plain HTTP used when the registry speaks only that.
    pub(super) async fn connect(
        name: &str,
        api_host: &str,
        (creds, how_to_set): (Credentials, String),
        http: reqwest::Client,
        opts: &ClientOptions,
        log: Log,
    ) -> Result<Registry> {
        let plain_allowed = is_loopback_host(api_host) || opts.may_be_plain(name, api_host);
        let https = Url::parse(&format!("https://{api_host}/"))
            .with_context(|| format!("invalid registry host {api_host:?}"))?;
        let base = if plain_allowed {
            // One bounded try per scheme (the idle timeout, at most 10 s): a registry that
            // accepts connections and never answers fails here, once.
            let wait = opts.idle_timeout.min(Duration::from_secs(10));
            let probe = |url: Url| {
                let http = http.clone();
                async move {
                    tokio::time::timeout(
                        wait,
                        http.get(url.join("v2/").expect("static path")).send(),
                    )
                    .await
                    .map_err(|_| anyhow!("no answer within {} s", wait.as_secs()))?
                    .map_err(|e| {
                        let chain = error_chain(&e);
                        match is_dns_failure(&chain) {
                            true => cannot_resolve(name, api_host, &chain),
                            false => anyhow!(chain),
                        }
                    })
                }
            };
            match probe(https.clone()).await {
                Ok(_) => https,
                Err(tls_err) => {
                    let plain = Url::parse(&format!("http://{api_host}/"))?;
                    match probe(plain.clone()).await {
                        Ok(r) if matches!(r.status().as_u16(), 200 | 401) => plain,
                        _ => {
                            return Err(tls_err).with_context(|| {
                                format!("cannot reach registry {name} over HTTPS or HTTP")
                            })
                        }
                    }
                }
            }
        } else {
            https
        };
        Ok(Registry {
            name: name.to_string(),
            api_host: api_host.to_string(),
            creds,
            how_to_set,
            base,
            http,
            tokens: Default::default(),
            issued: Default::default(),
            challenge: Default::default(),
            operation: Operation::Push,
            opts: opts.clone(),
            log,
            sent: Arc::new(AtomicU64::new(0)),
            known: Default::default(),
        })
    }

    /// The client of the same host for `operation`: the same HTTP client (its connection
    /// pool), scheme, credentials, bearer challenge and redaction list, its own token cache
    /// (its tokens are for another scope).
    pub(super) fn sibling(&self, operation: Operation) -> Registry {
        Registry {
            name: self.name.clone(),
            api_host: self.api_host.clone(),
            creds: self.creds.clone(),
            how_to_set: self.how_to_set.clone(),
            base: self.base.clone(),
            http: self.http.clone(),
            tokens: Default::default(),
            issued: self.issued.clone(),
            challenge: self.challenge.clone(),
            operation,
            opts: self.opts.clone(),
            log: self.log.clone(),
            sent: self.sent.clone(),
            known: self.known.clone(),
        }
    }

    /// Blob bytes sent to this registry so far, retried and abandoned tries included (the
    /// bytes of the blobs pushed, plus what faults wasted).
    pub fn bytes_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Whether this run already knows that `repo` holds the blob or manifest `digest` (a
    /// `HEAD` found it, a mount or `PUT` stored it).
    pub fn known_present(&self, repo: &str, digest: &Digest) -> bool {
        self.known
            .lock()
            .is_ok_and(|k| k.contains(&(repo.to_string(), digest.clone())))
    }

    /// Records that `repo` holds the blob or manifest `digest`, so that it is not asked about
    /// again in this run.
    pub fn note_present(&self, repo: &str, digest: &Digest) {
        if let Ok(mut k) = self.known.lock() {
            k.insert((repo.to_string(), digest.clone()));
        }
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &str {
        self.base.scheme()
    }

    pub(super) fn url(&self, path: &str) -> Url {
        self.base
            .join(path)
            .expect("registry paths are valid URL paths")
    }
}
