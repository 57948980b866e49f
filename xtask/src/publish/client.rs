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
//! too), and the `Authorization` header goes only to the registry's own scheme, host and port.
//! Every text that came from a registry is redacted ([`Credentials::redact`]) before it reaches
//! a message.
//!
//! Every request has a connect timeout and an idle timeout (no byte moved and no answer for
//! that long: the request is abandoned and retried). Connection errors, 408, 429 and 5xx are
//! retried with exponential backoff and jitter, honouring `Retry-After`, a bounded number of
//! times. A 401 refreshes the token once and retries. Blob uploads stream from the layout file:
//! one monolithic PUT with `Content-Length` up to [`ClientOptions::chunk_size`] (a failed upload
//! restarts with a new session), larger blobs as a resumable session of PATCHes of one chunk
//! each (see [`Registry::upload_blob`]).

use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use base64::Engine as _;
use futures_util::StreamExt as _;
use reqwest::header::HeaderValue;
use reqwest::{Method, StatusCode, Url};

use super::auth::{Credential, Credentials};
use crate::oci::reference::{is_loopback_host, public_url};
use crate::oci::Digest;

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

/// Default [`ClientOptions::chunk_size`].
pub const DEFAULT_CHUNK_SIZE: u64 = 16 << 20;
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Pull,
    Push,
}

/// One registry host, its credentials and its token cache.
pub struct Registry {
    /// The host as written in the config (`docker.io`, `ghcr.io`, `127.0.0.1:5000`).
    pub name: String,
    /// The host the API is reached at (`registry-1.docker.io` for Docker Hub).
    pub api_host: String,
    pub creds: Credentials,
    base: Url,
    http: reqwest::Client,
    /// Headers by `(repository, repository also pulled from)` and when they were obtained.
    tokens: tokio::sync::Mutex<TokenCache>,
    /// Every token the token server issued, so that an echo of one is redacted.
    issued: std::sync::Mutex<Vec<String>>,
    /// The `realm` and `service` of the registry's bearer challenge, once asked for (`None`:
    /// the registry gave no bearer challenge on `/v2/`).
    challenge: tokio::sync::OnceCell<Option<(Url, Option<String>)>>,
    /// The token scope asked for: `pull,push` (publishing) or `pull` ([`Registry::for_pull`]).
    operation: Operation,
    opts: ClientOptions,
    log: Log,
    /// Blob bytes handed to the network, retried and abandoned tries included.
    sent: Arc<AtomicU64>,
}

type TokenCache = HashMap<(String, Option<String>), (Option<HeaderValue>, Instant)>;

/// Cached tokens are refreshed after this long even without a 401 (Docker Hub's last ~5 min).
const TOKEN_TTL: Duration = Duration::from_secs(240);

impl Registry {
    /// Sets up the client for `name` (reached at `api_host`). For loopback and insecure hosts,
    /// HTTPS is tried first and plain HTTP used when the registry speaks only that.
    pub async fn connect(
        name: &str,
        api_host: &str,
        creds: Credentials,
        opts: &ClientOptions,
        log: Log,
    ) -> Result<Registry> {
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
        let http = builder.build().context("cannot set up the HTTP client")?;

        let plain_allowed = is_loopback_host(api_host) || opts.may_be_plain(name, api_host);
        let https = Url::parse(&format!("https://{api_host}/"))
            .with_context(|| format!("invalid registry host {api_host:?}"))?;
        let base = if plain_allowed {
            let probe = |url: Url| {
                let http = http.clone();
                async move {
                    tokio::time::timeout(
                        Duration::from_secs(10),
                        http.get(url.join("v2/").expect("static path")).send(),
                    )
                    .await
                    .map_err(|_| anyhow!("no answer within 10 s"))?
                    .map_err(|e| anyhow!(error_chain(&e)))
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
            base,
            http,
            tokens: Default::default(),
            issued: Default::default(),
            challenge: Default::default(),
            operation: Operation::Push,
            opts: opts.clone(),
            log,
            sent: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Asks for pull-only tokens (reading base images), so read-only credentials suffice.
    pub fn for_pull(mut self) -> Registry {
        self.operation = Operation::Pull;
        self
    }

    /// Blob bytes sent to this registry so far, retried and abandoned tries included (the
    /// bytes of the blobs pushed, plus what faults wasted).
    pub fn bytes_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &str {
        self.base.scheme()
    }

    fn url(&self, path: &str) -> Url {
        self.base
            .join(path)
            .expect("registry paths are valid URL paths")
    }

    /// Removes every form of the credentials and every issued token from a message that may
    /// echo them.
    fn scrub(&self, msg: &str) -> String {
        let mut out = self.creds.redact(msg);
        for token in self.issued.lock().expect("issued tokens").iter() {
            out = out.replace(token.as_str(), "<redacted>");
        }
        out
    }

    /// A registry's error body as one short, redacted line (`: CODE message`).
    fn summary(&self, body: &[u8]) -> String {
        error_summary(self.scrub(&String::from_utf8_lossy(body)).as_bytes())
    }

    /// Refuses a URL the registry handed out (upload `Location`) that would take its traffic
    /// from HTTPS to plain HTTP.
    fn refuse_downgrade(&self, url: &Url) -> Result<(), Step> {
        if self.base.scheme() == "https" && url.scheme() != "https" {
            return Err(Step::Fatal(anyhow!(
                "{}: the registry speaks HTTPS but sent stevedore to {} (plain HTTP): refused, \
                 nothing was sent there. Fix the URL the registry advertises (distribution's \
                 `http.host`, or the TLS proxy in front of it)",
                self.name,
                public_url(url.as_str())
            )));
        }
        Ok(())
    }

    /// Whether plain HTTP may carry credentials to a token realm: only when the registry
    /// itself is plain HTTP, and the realm's host is one plain HTTP is allowed for (loopback or
    /// `release.insecure-registries`).
    fn check_realm(&self, realm: &Url) -> Result<()> {
        if realm.scheme() == "https" {
            return Ok(());
        }
        let host = realm.host_str().unwrap_or_default();
        let host_port = match realm.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        };
        let plain_host = is_loopback_host(&host_port) || self.opts.may_be_plain(host, &host_port);
        if realm.scheme() == "http" && self.base.scheme() == "http" && plain_host {
            return Ok(());
        }
        let why = if self.base.scheme() == "https" {
            "the registry speaks HTTPS, so its token server must too"
        } else {
            "credentials go over plain HTTP only to loopback hosts and release.insecure-registries"
        };
        bail!(
            "{}: the registry's token realm {} is not HTTPS ({why}): refused, no credential was \
             sent. Configure the registry to advertise an https:// token realm",
            self.name,
            public_url(realm.as_str())
        )
    }

    /// The `Authorization` header for pushing to `repo`: a bearer token for
    /// `repository:<repo>:pull,push` (`:pull` after [`Registry::for_pull`]) from the registry's
    /// token server, basic auth for registries that ask for it, or nothing. `refresh` drops the
    /// cached token.
    pub async fn authorization(&self, repo: &str, refresh: bool) -> Result<Option<HeaderValue>> {
        self.cached_authorization(repo, None, refresh).await
    }

    /// [`Registry::authorization`], cached per `(repo, mount_from)`; with `mount_from`, a token
    /// that also grants `repository:<mount_from>:pull` (see [`Registry::mount_token`]).
    async fn cached_authorization(
        &self,
        repo: &str,
        mount_from: Option<&str>,
        refresh: bool,
    ) -> Result<Option<HeaderValue>> {
        let key = (repo.to_string(), mount_from.map(str::to_string));
        let mut cache = self.tokens.lock().await;
        if !refresh {
            if let Some((h, at)) = cache.get(&key) {
                if at.elapsed() < TOKEN_TTL {
                    return Ok(h.clone());
                }
            }
        }
        let header = match mount_from {
            None => self.fetch_authorization(repo).await?,
            Some(from) => Some(self.mount_token(repo, from).await?),
        };
        cache.insert(key, (header.clone(), Instant::now()));
        Ok(header)
    }

    /// The token handshake: a bearer token for one repository scope when the registry gave a
    /// bearer challenge, else basic auth with the credentials (or nothing, anonymous).
    async fn fetch_authorization(&self, repo: &str) -> Result<Option<HeaderValue>> {
        let actions = match self.operation {
            Operation::Push => "pull,push",
            Operation::Pull => "pull",
        };
        if self.bearer_challenge().await?.is_some() {
            let scope = format!("repository:{repo}:{actions}");
            return Ok(Some(self.token(repo, &[scope]).await?));
        }
        match &self.creds.credential {
            Credential::Basic { user, secret } => {
                let raw = format!("{user}:{}", secret.expose());
                Ok(Some(sensitive(&format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(raw)
                ))?))
            }
            Credential::Anonymous => Ok(None),
        }
    }

    /// A bearer token for pushing to `repo` and pulling from `from`, which a cross-repository
    /// mount needs: one token request with two `scope` parameters.
    async fn mount_token(&self, repo: &str, from: &str) -> Result<HeaderValue> {
        self.token(
            repo,
            &[
                format!("repository:{repo}:pull,push"),
                format!("repository:{from}:pull"),
            ],
        )
        .await
    }

    /// A token for `scopes` from the realm and service of the registry's bearer challenge,
    /// asked with the user's credentials (basic auth) when there are any. The realm is checked
    /// first ([`Registry::check_realm`]): no credential goes over plain HTTP to it.
    async fn token(&self, repo: &str, scopes: &[String]) -> Result<HeaderValue> {
        let Some((realm, service)) = self.bearer_challenge().await? else {
            bail!("{}: no bearer challenge on /v2/", self.name);
        };
        self.check_realm(realm)?;
        let mut url = realm.clone();
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = service {
                q.append_pair("service", s);
            }
            for scope in scopes {
                q.append_pair("scope", scope);
            }
        }
        let token = self
            .retry_auth(|| async {
                let mut req = self.http.get(url.clone());
                if let Credential::Basic { user, secret } = &self.creds.credential {
                    req = req.basic_auth(user, Some(secret.expose()));
                }
                let resp = self.check(self.send(req, None).await?).await?;
                if !resp.status().is_success() {
                    let status = resp.status();
                    let body = self.body(resp).await.unwrap_or_default();
                    return Err(Step::Fatal(anyhow!(
                        "{}: the token server refused the credentials from {} for {repo}: {status}{}",
                        self.name,
                        self.creds.source,
                        self.summary(&body)
                    )));
                }
                let body: serde_json::Value = serde_json::from_slice(&self.body(resp).await?)
                    .map_err(|_| anyhow!("{}: the token server's answer is not JSON", self.name))?;
                ["token", "access_token"]
                    .iter()
                    .find_map(|k| body[k].as_str().filter(|t| !t.is_empty()))
                    .map(str::to_string)
                    .ok_or_else(|| {
                        Step::Fatal(anyhow!("{}: the token server gave no token", self.name))
                    })
            })
            .await?;
        self.issued
            .lock()
            .expect("issued tokens")
            .push(token.clone());
        sensitive(&format!("Bearer {token}"))
    }

    /// The `realm` and `service` of the registry's `WWW-Authenticate: Bearer` challenge to an
    /// anonymous `GET /v2/` (asked once); `None` when it gave none (basic auth, or open).
    async fn bearer_challenge(&self) -> Result<&Option<(Url, Option<String>)>> {
        self.challenge
            .get_or_try_init(|| {
                self.retry_auth(|| async {
                    let resp = self
                        .send(self.request(Method::GET, self.url("v2/"), &None), None)
                        .await?;
                    if resp.status().is_server_error()
                        || resp.status() == StatusCode::TOO_MANY_REQUESTS
                    {
                        return Err(Step::Retry {
                            reason: format!("/v2/ answered {}", resp.status()),
                            after: None,
                        });
                    }
                    let challenge = resp
                        .headers()
                        .get_all(reqwest::header::WWW_AUTHENTICATE)
                        .iter()
                        .filter_map(|v| parse_bearer_challenge(v.to_str().ok()?))
                        .next();
                    match challenge {
                        None => Ok(None),
                        Some((realm, service)) => {
                            let realm = self.base.join(&realm).map_err(|_| {
                                anyhow!("{}: the token realm {realm:?} is not a URL", self.name)
                            })?;
                            Ok(Some((realm, service)))
                        }
                    }
                })
            })
            .await
    }

    /// Runs an authentication step with retries (connection errors, 408, 429, 5xx).
    async fn retry_auth<T, F, Fut>(&self, mut op: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Step>>,
    {
        let mut tries = 0;
        loop {
            tries += 1;
            let reason = match op().await {
                Ok(v) => return Ok(v),
                Err(Step::Fatal(e)) => return Err(e),
                Err(Step::Unauthorized(why)) => bail!(
                    "{}: the token server refused the credentials from {}: {}",
                    self.name,
                    self.creds.source,
                    self.scrub(&why)
                ),
                Err(Step::Retry { reason, .. }) => self.scrub(&reason),
            };
            if tries >= self.opts.max_tries {
                bail!(
                    "{}: authentication failed after {tries} tries: {reason}",
                    self.name
                );
            }
            let wait = backoff(tries, self.opts.base_backoff, self.opts.max_backoff);
            (self.log)(&format!(
                "retry: {} authentication in {:.1}s ({reason}; try {}/{})",
                self.name,
                wait.as_secs_f64(),
                tries + 1,
                self.opts.max_tries
            ));
            tokio::time::sleep(wait).await;
        }
    }

    /// Runs `op` with retries: `op` gets the `Authorization` header and the try number.
    pub async fn run<T, F, Fut>(&self, repo: &str, what: &str, mut op: F) -> Result<T>
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
                        bail!(
                            "{what}: {} refused push to {}/{repo}: the credentials from {}{} were accepted, \
                             but the token they got grants no push access to {repo} ({}): give them write \
                             access to the repository (or use credentials that have it), then re-run",
                            self.name,
                            self.name,
                            self.creds.source,
                            self.creds
                                .user()
                                .map(|u| format!(" (user {u})"))
                                .unwrap_or_default(),
                            self.scrub(&msg)
                        );
                    }
                    if refreshed {
                        bail!(
                            "{what}: {} refused the credentials from {} ({}): check them, then re-run",
                            self.name,
                            self.creds.source,
                            self.scrub(&msg)
                        );
                    }
                    // An expired token: fetch a new one and try again at once.
                    refreshed = true;
                    refresh = true;
                    attempt -= 1;
                    if self.creds.credential == Credential::Anonymous {
                        bail!(
                            "{what}: {} requires credentials and none were found: set {} or run `docker login {}`",
                            self.name,
                            super::auth::env_var_name(&self.name),
                            self.name
                        );
                    }
                }
                Err(Step::Retry { reason, after }) => {
                    last = self.scrub(&reason);
                    if attempt >= self.opts.max_tries {
                        break;
                    }
                    let wait = match after {
                        Some(d) if d > Duration::from_secs(300) => bail!(
                            "{what}: {} asks to wait {}s before retrying ({last}): try again later",
                            self.name,
                            d.as_secs()
                        ),
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

    /// Whether a 401 (`msg`, from [`Registry::check`]) that a fresh token did not cure means the
    /// token lacks push on `repo`: its claims say so, or the registry's challenge says
    /// `error="insufficient_scope"` (Distribution's answer to a pull-only token).
    fn push_denied(&self, repo: &str, auth: &Option<HeaderValue>, msg: &str) -> bool {
        if self.operation != Operation::Push {
            return false;
        }
        let token = auth
            .as_ref()
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "));
        match token {
            Some(t) => {
                token_grants_push(t, repo) == Some(false) || msg.contains("insufficient_scope")
            }
            None => false,
        }
    }

    /// Sends one request, abandoning it when nothing moved for the idle timeout.
    async fn send(
        &self,
        req: reqwest::RequestBuilder,
        activity: Option<&Activity>,
    ) -> Result<reqwest::Response, Step> {
        let local = Activity::new();
        let activity = activity.unwrap_or(&local);
        activity.touch();
        let fut = req.send();
        tokio::pin!(fut);
        loop {
            tokio::select! {
                r = &mut fut => {
                    return r.map_err(|e| {
                        if e.is_redirect() {
                            Step::Fatal(anyhow!("{}: {}", self.name, error_chain(&e.without_url())))
                        } else {
                            Step::Retry {
                                reason: error_chain(&e.without_url()),
                                after: None,
                            }
                        }
                    });
                }
                _ = tokio::time::sleep(Duration::from_millis(500)) => {
                    if activity.idle() > self.opts.idle_timeout {
                        return Err(Step::Retry {
                            reason: format!(
                                "no progress for {}s (stalled connection)",
                                self.opts.idle_timeout.as_secs()
                            ),
                            after: None,
                        });
                    }
                }
            }
        }
    }

    /// Reads a small response body with the idle timeout.
    async fn body(&self, resp: reqwest::Response) -> Result<bytes::Bytes, Step> {
        match tokio::time::timeout(self.opts.idle_timeout, resp.bytes()).await {
            Ok(Ok(b)) => Ok(b),
            Ok(Err(e)) => Err(Step::Retry {
                reason: error_chain(&e.without_url()),
                after: None,
            }),
            Err(_) => Err(Step::Retry {
                reason: "response body stalled".into(),
                after: None,
            }),
        }
    }

    /// Turns retryable and auth statuses into [`Step`]s; passes the rest through.
    async fn check(&self, resp: reqwest::Response) -> Result<reqwest::Response, Step> {
        let status = resp.status();
        let retryable = status == StatusCode::REQUEST_TIMEOUT
            || status == StatusCode::TOO_MANY_REQUESTS
            || status.is_server_error();
        if status != StatusCode::UNAUTHORIZED && !retryable {
            return Ok(resp);
        }
        let after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        // A bearer challenge's `error="insufficient_scope"`: the token is valid, its grant is not.
        let scope_error = resp
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("error=\"insufficient_scope\""));
        let body = self.body(resp).await.unwrap_or_default();
        let mut reason = format!("{status}{}", self.summary(&body));
        if scope_error {
            reason.push_str(" (insufficient_scope)");
        }
        if status == StatusCode::UNAUTHORIZED {
            Err(Step::Unauthorized(reason))
        } else {
            Err(Step::Retry { reason, after })
        }
    }

    /// An error for an unexpected status.
    async fn unexpected(&self, what: &str, resp: reqwest::Response) -> Step {
        let status = resp.status();
        let body = self.body(resp).await.unwrap_or_default();
        let hint = match status {
            StatusCode::FORBIDDEN => {
                format!(
                    " (the credentials from {} may lack push access)",
                    self.creds.source
                )
            }
            StatusCode::NOT_FOUND => {
                " (does the repository exist, and may these credentials create it?)".into()
            }
            _ => String::new(),
        };
        Step::Fatal(anyhow!(
            "{what}: {} answered {status}{}{hint}",
            self.name,
            self.summary(&body)
        ))
    }

    fn request(
        &self,
        method: Method,
        url: Url,
        auth: &Option<HeaderValue>,
    ) -> reqwest::RequestBuilder {
        // The credentials go to the registry's own origin only: scheme, host and port.
        let same_origin = url.scheme() == self.base.scheme()
            && url.host_str() == self.base.host_str()
            && url.port_or_known_default() == self.base.port_or_known_default();
        let mut req = self.http.request(method, url);
        if let (Some(h), true) = (auth, same_origin) {
            req = req.header(reqwest::header::AUTHORIZATION, h.clone());
        }
        req
    }

    /// `HEAD /v2/<repo>/blobs/<digest>`.
    pub async fn blob_exists(&self, repo: &str, digest: &Digest) -> Result<bool> {
        let what = format!("check blob {} in {}/{repo}", short(digest), self.name);
        let url = self.url(&format!("v2/{repo}/blobs/{digest}"));
        self.run(repo, &what, |auth, _| {
            let req = self.request(Method::HEAD, url.clone(), &auth);
            let what = &what;
            async move {
                let resp = self.check(self.send(req, None).await?).await?;
                match resp.status() {
                    s if s.is_success() => Ok(true),
                    StatusCode::NOT_FOUND => Ok(false),
                    _ => Err(self.unexpected(what, resp).await),
                }
            }
        })
        .await
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
        let what = format!("upload blob {} to {}/{repo}", short(digest), self.name);
        let on_disk = std::fs::metadata(path)
            .with_context(|| {
                format!(
                    "blob {digest} is missing from the layout ({})",
                    path.display()
                )
            })?
            .len();
        if on_disk != size {
            bail!(
                "blob {digest} in the layout is {on_disk} bytes, its descriptor says {size}: the layout is corrupt; rebuild it"
            );
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
        self.run(repo, &blob.what, |auth, _| {
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
                let resp = self.check(self.send(req, Some(&activity)).await?).await?;
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
                        let body = self.body(resp).await.unwrap_or_default();
                        let summary = self.summary(&body);
                        if summary.contains("DIGEST_INVALID") {
                            Err(Step::Fatal(anyhow!(
                                "{what}: the registry computed another digest{summary}: the layout blob is corrupt; rebuild"
                            )))
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
    async fn open_upload(
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
    async fn mount_authorization(
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
    fn refuse_mount(&self, blob: &BlobRef<'_>, from: &str, why: &str) {
        blob.mount_refused.store(true, Ordering::SeqCst);
        (self.log)(&format!(
            "note: {} refused to mount {} from {from} ({why}): uploading it",
            self.name,
            short(blob.digest)
        ));
    }

    /// A request body streaming `len` bytes of `path` from `offset` (never more than a read
    /// buffer in memory). Each piece touches `activity`, counts into [`Registry::bytes_sent`]
    /// and reports `offset + bytes so far` to `progress`.
    async fn file_body(
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
    /// Each request is one [`Registry::run`] (with its retries, backoff, `Retry-After` and token
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
    async fn upload_chunked(
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
                .run(blob.repo, what, |auth, _| {
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
    async fn resume_point(
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
                        let body = self.body(resp).await.unwrap_or_default();
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
    async fn patch_chunk(
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
        let resp = self.check(self.send(req, Some(&activity)).await?).await?;
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
                let body = self.body(resp).await.unwrap_or_default();
                Ok(ChunkStep::Refused(format!("{s}{}", self.summary(&body))))
            }
            _ => Err(self.unexpected(what, resp).await),
        }
    }

    /// The PUT `?digest=` (no body) that completes a chunked upload.
    async fn finish_chunked(
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
                let body = self.body(resp).await.unwrap_or_default();
                let summary = self.summary(&body);
                if summary.contains("DIGEST_INVALID") {
                    // A session mixed up by a broken request gets one fresh start; twice, the
                    // layout's blob is what is wrong.
                    let mut s = state.lock().expect("upload state");
                    if s.digest_refused {
                        return Err(Step::Fatal(anyhow!(
                            "{what}: the registry computed another digest{summary}: the layout blob is corrupt; rebuild"
                        )));
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

    /// The `Location` of an answer, resolved against the registry's URL; an error when it
    /// would downgrade HTTPS to plain HTTP.
    fn location(&self, resp: &reqwest::Response) -> Result<Option<Url>, Step> {
        let Some(loc) = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
        else {
            return Ok(None);
        };
        let Ok(url) = self.base.join(loc) else {
            return Ok(None);
        };
        self.refuse_downgrade(&url)?;
        Ok(Some(url))
    }

    /// `HEAD /v2/<repo>/manifests/<reference>`: the digest it points at, if any.
    pub async fn manifest_digest(&self, repo: &str, reference: &str) -> Result<Option<Digest>> {
        let what = format!(
            "check manifest {}",
            display_ref(&self.name, repo, reference)
        );
        let url = self.url(&format!("v2/{repo}/manifests/{reference}"));
        self.run(repo, &what, |auth, _| {
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
        self.run(repo, &what, |auth, _| {
            let req = self
                .request(Method::PUT, url.clone(), &auth)
                .header(reqwest::header::CONTENT_TYPE, media_type)
                .body(bytes.clone());
            let what = &what;
            async move {
                let resp = self.check(self.send(req, None).await?).await?;
                if !resp.status().is_success() {
                    return Err(self.unexpected(what, resp).await);
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
        let what = format!("fetch manifest {}/{repo}@{}", self.name, short(digest));
        let url = self.url(&format!("v2/{repo}/manifests/{digest}"));
        self.run(repo, &what, |auth, _| {
            let req = self
                .request(Method::GET, url.clone(), &auth)
                .header(reqwest::header::ACCEPT, MANIFEST_ACCEPT);
            let what = &what;
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
                let body = self.body(resp).await?;
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
        self.run(repo, &what, |auth, _| {
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
                        Ok(Some((media, self.body(resp).await?.to_vec())))
                    }
                    StatusCode::NOT_FOUND => Ok(None),
                    _ => Err(self.unexpected(what, resp).await),
                }
            }
        })
        .await
    }

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
        let what = format!("download blob {} from {}/{repo}", short(digest), self.name);
        let url = self.url(&format!("v2/{repo}/blobs/{digest}"));
        self.run(repo, &what, |auth, _| {
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

    /// Whether these credentials may push to `repo` (for `login-check`).
    pub async fn check_login(&self, repo: &str) -> LoginStatus {
        let header = match self.authorization(repo, true).await {
            Ok(h) => h,
            Err(e) => return LoginStatus::Refused(self.scrub(&format!("{e:#}"))),
        };
        let is_bearer = header
            .as_ref()
            .and_then(|h| h.to_str().ok())
            .is_some_and(|h| h.starts_with("Bearer "));
        if is_bearer {
            let token = header
                .as_ref()
                .and_then(|h| h.to_str().ok())
                .and_then(|h| h.strip_prefix("Bearer "))
                .unwrap_or_default();
            return LoginStatus::Token {
                push: token_grants_push(token, repo),
            };
        }
        let req = self.request(Method::GET, self.url("v2/"), &header);
        match self.send(req, None).await {
            Ok(resp) if resp.status().is_success() => {
                if header.is_some() {
                    LoginStatus::BasicAccepted
                } else {
                    LoginStatus::Open
                }
            }
            Ok(resp) if resp.status() == StatusCode::UNAUTHORIZED => {
                LoginStatus::Refused(if header.is_some() {
                    format!(
                        "401: the credentials from {} were refused",
                        self.creds.source
                    )
                } else {
                    "401: credentials required, none found".into()
                })
            }
            Ok(resp) => LoginStatus::Refused(format!("/v2/ answered {}", resp.status())),
            Err(Step::Retry { reason, .. }) | Err(Step::Unauthorized(reason)) => {
                LoginStatus::Refused(self.scrub(&reason))
            }
            Err(Step::Fatal(e)) => LoginStatus::Refused(self.scrub(&format!("{e:#}"))),
        }
    }
}

/// A blob being uploaded, as the upload steps see it.
struct BlobRef<'a> {
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
enum Opened {
    Mounted,
    /// An upload session at this URL.
    Session(Url),
}

/// A chunked upload's progress, kept across the tries of its requests.
#[derive(Debug, Default)]
struct Resumable {
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
enum Resume {
    Mounted,
    /// The blob is in the repository already.
    Present,
    At(Url, u64),
    /// The session is gone (why): upload the blob in one PUT instead.
    Lost(String),
}

/// What one step of a chunked upload did.
enum ChunkStep {
    More,
    Done(Uploaded),
    /// The registry refused a chunk (why): upload in one PUT instead.
    Refused(String),
    /// The registry lost the session (why): upload in one PUT instead.
    Lost(String),
}

/// The offset after the `Range: 0-<last>` of an upload answer (`None` without one).
fn upload_range(resp: &reqwest::Response) -> Option<u64> {
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

/// Last time bytes moved for a request (shared with its body stream).
#[derive(Clone)]
pub struct Activity(Arc<AtomicU64>, Instant);

impl Activity {
    pub fn new() -> Activity {
        Activity(Arc::new(AtomicU64::new(0)), Instant::now())
    }

    pub fn touch(&self) {
        self.0
            .store(self.1.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    pub fn idle(&self) -> Duration {
        self.1
            .elapsed()
            .saturating_sub(Duration::from_millis(self.0.load(Ordering::Relaxed)))
    }
}

impl Default for Activity {
    fn default() -> Self {
        Activity::new()
    }
}

fn sensitive(v: &str) -> Result<HeaderValue> {
    let mut h = HeaderValue::from_str(v)
        .map_err(|_| anyhow!("credentials contain characters not allowed in an HTTP header"))?;
    h.set_sensitive(true);
    Ok(h)
}

/// `host/repo:tag` or `host/repo@<digest12>`, for logs.
fn display_ref(host: &str, repo: &str, reference: &str) -> String {
    match reference.strip_prefix("sha256:") {
        Some(hex) => format!("{host}/{repo}@{}", &hex[..hex.len().min(12)]),
        None => format!("{host}/{repo}:{reference}"),
    }
}

/// First 12 hex characters of a digest, for logs.
pub fn short(d: &Digest) -> &str {
    &d.hex()[..12]
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

/// `: CODE message` from a registry error body (`{"errors":[{"code","message"}]}`), short.
pub fn error_summary(body: &[u8]) -> String {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        return if text.is_empty() {
            String::new()
        } else {
            format!(": {}", text.chars().take(200).collect::<String>())
        };
    };
    let parts: Vec<String> = v["errors"]
        .as_array()
        .map(|errs| {
            errs.iter()
                .map(|e| {
                    format!(
                        "{} {}",
                        e["code"].as_str().unwrap_or_default(),
                        e["message"].as_str().unwrap_or_default()
                    )
                    .trim()
                    .to_string()
                })
                .collect()
        })
        .unwrap_or_default();
    if parts.is_empty() {
        String::new()
    } else {
        format!(
            ": {}",
            parts.join("; ").chars().take(300).collect::<String>()
        )
    }
}

/// Exponential backoff with ±25 % jitter: `base · 2^(try-1)`, capped at `cap`.
pub fn backoff(try_no: u32, base: Duration, cap: Duration) -> Duration {
    let exp = base.saturating_mul(1u32 << (try_no.saturating_sub(1)).min(16));
    let d = exp.min(cap);
    // Jitter from the clock (no RNG needed): a factor in [0.75, 1.25).
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |t| t.subsec_nanos() as u64);
    let mix = nanos.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 54; // 0..1024
    d.mul_f64(0.75 + mix as f64 / 2048.0)
}

/// `Retry-After`: delay-seconds or an HTTP date.
pub fn parse_retry_after(v: &str, now: SystemTime) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = parse_http_date(v)?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
fn parse_http_date(v: &str) -> Option<SystemTime> {
    let rest = v.split_once(", ")?.1;
    let mut it = rest.split_whitespace();
    let day: u64 = it.next()?.parse().ok()?;
    let month = match it.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = it.next()?.parse().ok()?;
    let mut hms = it.next()?.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if it.next()? != "GMT" || day == 0 || day > 31 || h > 23 || m > 59 || s > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + (h * 3600 + m * 60 + s) as i64;
    u64::try_from(secs)
        .ok()
        .map(|s| UNIX_EPOCH + Duration::from_secs(s))
}

/// The `realm` and `service` of a `WWW-Authenticate: Bearer realm="…",service="…",…`
/// challenge (`None` for another scheme or without a realm).
pub fn parse_bearer_challenge(v: &str) -> Option<(String, Option<String>)> {
    let (scheme, mut rest) = v.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let (mut realm, mut service) = (None, None);
    loop {
        rest = rest.trim_start_matches([' ', ',']);
        if rest.is_empty() {
            break;
        }
        let (key, after) = rest.split_once('=')?;
        let after = after.trim_start();
        let (value, next) = match after.strip_prefix('"') {
            // A quoted-string, with `\` escapes.
            Some(quoted) => {
                let (mut value, mut escaped, mut end) = (String::new(), false, None);
                for (i, c) in quoted.char_indices() {
                    match (escaped, c) {
                        (false, '\\') => escaped = true,
                        (false, '"') => {
                            end = Some(i + 1);
                            break;
                        }
                        _ => {
                            value.push(c);
                            escaped = false;
                        }
                    }
                }
                (value, &quoted[end?..])
            }
            None => {
                let end = after.find(',').unwrap_or(after.len());
                (after[..end].trim().to_string(), &after[end..])
            }
        };
        match key.trim().to_ascii_lowercase().as_str() {
            "realm" => realm = Some(value),
            "service" => service = Some(value),
            _ => {}
        }
        rest = next;
    }
    Some((realm?, service))
}

/// Whether a JWT bearer token's `access` claim grants `push` on `repo`; `None` for opaque
/// tokens. The token is only decoded, never printed.
pub fn token_grants_push(token: &str, repo: &str) -> Option<bool> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let access = claims["access"].as_array()?;
    Some(access.iter().any(|a| {
        a["type"] == "repository"
            && a["name"] == repo
            && a["actions"]
                .as_array()
                .is_some_and(|acts| acts.iter().any(|x| x == "push" || x == "*"))
    }))
}

/// A redirect policy that refuses to follow a redirect from HTTPS to plain HTTP (credentials
/// and blobs would go in plaintext), and stops after 10 hops.
fn refuse_redirect_downgrade(attempt: reqwest::redirect::Attempt<'_>) -> reqwest::redirect::Action {
    let downgrade = attempt.url().scheme() != "https"
        && attempt.previous().iter().any(|u| u.scheme() == "https");
    if downgrade {
        let msg = format!(
            "a redirect from HTTPS to {} (plain HTTP) was refused: fix the registry's redirect",
            public_url(attempt.url().as_str())
        );
        attempt.error(msg)
    } else if attempt.previous().len() > 10 {
        attempt.error("more than 10 redirects")
    } else {
        attempt.follow()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_770); // Sun, 06 Nov 1994 08:49:30 GMT
        assert_eq!(parse_retry_after("1", now), Some(Duration::from_secs(1)));
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(7))
        );
        // A date in the past: retry now.
        assert_eq!(
            parse_retry_after("Sat, 05 Nov 1994 08:49:37 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(
            parse_retry_after("Sun, 06 Foo 1994 08:49:37 GMT", now),
            None
        );
        assert_eq!(
            parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"),
            Some(UNIX_EPOCH)
        );
        assert_eq!(
            parse_http_date("Tue, 29 Feb 2000 12:00:00 GMT"),
            Some(UNIX_EPOCH + Duration::from_secs(951_825_600))
        );
    }

    #[test]
    fn chunk_sizes_and_upload_ranges_parse() {
        assert_eq!(parse_chunk_size("4MiB"), Some(4 << 20));
        assert_eq!(parse_chunk_size(" 16 M "), Some(16 << 20));
        assert_eq!(parse_chunk_size("8388608"), Some(8 << 20));
        assert_eq!(parse_chunk_size("512KiB"), Some(512 << 10));
        assert_eq!(parse_chunk_size("1"), Some(MIN_CHUNK_SIZE));
        assert_eq!(parse_chunk_size("0"), Some(0));
        assert_eq!(parse_chunk_size("off"), Some(0));
        assert_eq!(parse_chunk_size("4 parsecs"), None);
        assert_eq!(parse_chunk_size(""), None);
        assert_eq!(parse_upload_range("0-1048575"), Some(1 << 20));
        assert_eq!(parse_upload_range("bytes=0-99"), Some(100));
        assert_eq!(parse_upload_range("0-0"), Some(0));
        assert_eq!(parse_upload_range("5-9"), None);
        assert_eq!(parse_upload_range("junk"), None);
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(2);
        for (try_no, nominal) in [(1, 100), (2, 200), (3, 400), (4, 800), (5, 1600), (9, 2000)] {
            let d = backoff(try_no, base, cap).as_millis() as u64;
            assert!(
                d >= nominal * 3 / 4 && d <= nominal * 5 / 4,
                "try {try_no}: {d} ms vs {nominal}"
            );
        }
        assert!(backoff(40, base, cap) <= Duration::from_millis(2500));
    }

    #[test]
    fn registry_errors_summarise() {
        let body = br#"{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}"#;
        assert_eq!(error_summary(body), ": TOOMANYREQUESTS slow down");
        assert_eq!(error_summary(b""), "");
        assert_eq!(error_summary(b"plain text"), ": plain text");
    }

    #[test]
    fn jwt_push_claims() {
        let enc = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        let token = |claims: &str| format!("{}.{}.sig", enc("{}"), enc(claims));
        let push =
            r#"{"access":[{"type":"repository","name":"org/app","actions":["pull","push"]}]}"#;
        let pull = r#"{"access":[{"type":"repository","name":"org/app","actions":["pull"]}]}"#;
        assert_eq!(token_grants_push(&token(push), "org/app"), Some(true));
        assert_eq!(token_grants_push(&token(pull), "org/app"), Some(false));
        assert_eq!(token_grants_push(&token(push), "org/other"), Some(false));
        assert_eq!(token_grants_push("opaque-token", "org/app"), None);
    }

    #[test]
    fn bearer_challenges_parse() {
        let ghcr =
            r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:o/a:pull""#;
        assert_eq!(
            parse_bearer_challenge(ghcr),
            Some(("https://ghcr.io/token".into(), Some("ghcr.io".into())))
        );
        let odd = r#"bearer scope="a,b", service = svc , realm="http://h/t?x=\"1\"""#;
        assert_eq!(
            parse_bearer_challenge(odd),
            Some((r#"http://h/t?x="1""#.into(), Some("svc".into())))
        );
        assert_eq!(parse_bearer_challenge(r#"Basic realm="x""#), None);
        assert_eq!(parse_bearer_challenge(r#"Bearer service="x""#), None);
        assert_eq!(
            parse_bearer_challenge(r#"Bearer realm="unterminated"#),
            None
        );
    }
}
