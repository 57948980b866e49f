//! Tokens: the `/v2/` bearer challenge, token requests with the user's credentials (several
//! scopes for a cross-repository mount), the token cache, and the checks on a token realm.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use base64::Engine as _;
use reqwest::header::HeaderValue;
use reqwest::{Method, StatusCode, Url};

use super::credentials::Credential;
use crate::oci::reference::{is_loopback_host, public_url};

use super::body::{Over, MAX_TOKEN};
use super::transport::*;
use super::*;

/// Cached tokens are refreshed after this long even without a 401 (Docker Hub's last ~5 min).
pub(super) const TOKEN_TTL: Duration = Duration::from_secs(240);

impl Registry {
    /// Whether plain HTTP may carry credentials to a token realm: only when the registry
    /// itself is plain HTTP, and the realm's host is one plain HTTP is allowed for (loopback or
    /// `release.insecure-registries`).
    ///
    /// A realm on a loopback or link-local host (a cloud metadata service, a local daemon) is
    /// refused unless the registry itself is on such a host ([`realm_host_refused`]).
    pub(super) fn check_realm(&self, realm: &Url) -> Result<()> {
        let realm_host = realm.host_str().unwrap_or_default();
        let registry_host = self.base.host_str().unwrap_or_default();
        if let Some(kind) = realm_host_refused(realm_host, registry_host) {
            bail!(crate::problem::Problem::registry(
                format!(
                    "{}: the registry's token realm {} is on a {kind} host, and the registry is \
                     not: refused, no credential was sent (a registry may not send stevedore's \
                     credentials to this machine or its link-local services)",
                    self.name,
                    public_url(realm.as_str())
                ),
                "Configure the registry to advertise a token realm on its own network"
            ));
        }
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
        bail!(crate::problem::Problem::registry(
            format!(
                "{}: the registry's token realm {} is not HTTPS ({why}): refused, no credential \
                 was sent",
                self.name,
                public_url(realm.as_str())
            ),
            "Configure the registry to advertise an https:// token realm"
        ))
    }

    /// The `Authorization` header for pushing to `repo`: a bearer token for
    /// `repository:<repo>:pull,push` (`:pull` for a client of [`Operation::Pull`]) from the registry's
    /// token server, basic auth for registries that ask for it, or nothing. `refresh` drops the
    /// cached token.
    pub async fn authorization(&self, repo: &str, refresh: bool) -> Result<Option<HeaderValue>> {
        self.cached_authorization(repo, None, refresh).await
    }

    /// [`Registry::authorization`], cached per `(repo, mount_from)`; with `mount_from`, a token
    /// that also grants `repository:<mount_from>:pull` (see [`Registry::mount_token`]).
    pub(super) async fn cached_authorization(
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
    pub(super) async fn fetch_authorization(&self, repo: &str) -> Result<Option<HeaderValue>> {
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
    pub(super) async fn mount_token(&self, repo: &str, from: &str) -> Result<HeaderValue> {
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
    pub(super) async fn token(&self, repo: &str, scopes: &[String]) -> Result<HeaderValue> {
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
                    let body = self.error_body(resp).await;
                    return Err(Step::Fatal(
                        crate::problem::Problem::credentials(
                            format!(
                                "{}: the token server refused the credentials from {} for {repo}: {status}{}",
                                self.name,
                                self.creds.source,
                                self.summary(&body)
                            ),
                            "check them, then re-run",
                        )
                        .into(),
                    ));
                }
                let what = format!("ask for a token for {}/{repo}", self.name);
                let body = self
                    .read_capped(resp, MAX_TOKEN, Over::Refuse("token answer"), &what)
                    .await?;
                let body: serde_json::Value = serde_json::from_slice(&body)
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
    pub(super) async fn bearer_challenge(&self) -> Result<&Option<(Url, Option<String>)>> {
        let outcome = self
            .challenge
            .get_or_init(|| async {
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
                .await
                .map_err(|e| format!("{e:#}"))
            })
            .await;
        match outcome {
            Ok(challenge) => Ok(challenge),
            Err(why) => bail!("{why}"),
        }
    }

    /// Runs an authentication step with retries (connection errors, 408, 429, 5xx).
    pub(super) async fn retry_auth<T, F, Fut>(&self, mut op: F) -> Result<T>
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
                Err(Step::Unauthorized(why)) => bail!(crate::problem::Problem::credentials(
                    format!(
                        "{}: the token server refused the credentials from {}: {}",
                        self.name,
                        self.creds.source,
                        self.scrub(&why)
                    ),
                    "check them, then re-run"
                )),
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

    /// Whether a 401 (`msg`, from [`Registry::check`]) that a fresh token did not cure means the
    /// token lacks push on `repo`: its claims say so, or the registry's challenge says
    /// `error="insufficient_scope"` (Distribution's answer to a pull-only token).
    pub(super) fn push_denied(&self, repo: &str, auth: &Option<HeaderValue>, msg: &str) -> bool {
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
}

/// Why a token realm on `realm_host` is refused for a registry reached at `registry_host`
/// (both as in a URL: `127.0.0.1`, `[::1]`, `auth.example.com`): `Some("loopback")` or
/// `Some("link-local")` when the realm is on such a host and the registry is on neither.
pub fn realm_host_refused(realm_host: &str, registry_host: &str) -> Option<&'static str> {
    let kind = local_kind(realm_host)?;
    local_kind(registry_host).is_none().then_some(kind)
}

/// `loopback` (`localhost`, `*.localhost`, 127.0.0.0/8, `::1`, the unspecified addresses),
/// `link-local` (169.254.0.0/16, fe80::/10), IPv4-mapped IPv6 forms included; `None` for
/// other hosts. Names are not resolved.
pub fn local_kind(host: &str) -> Option<&'static str> {
    use std::net::{Ipv4Addr, Ipv6Addr};
    let v4 = |ip: Ipv4Addr| {
        if ip.is_loopback() || ip.is_unspecified() {
            Some("loopback")
        } else if ip.is_link_local() {
            Some("link-local")
        } else {
            None
        }
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        let ip: Ipv6Addr = inner.split('%').next()?.parse().ok()?;
        return if ip.is_loopback() || ip.is_unspecified() {
            Some("loopback")
        } else if ip.segments()[0] & 0xffc0 == 0xfe80 {
            Some("link-local")
        } else {
            ip.to_ipv4_mapped().and_then(v4)
        };
    }
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return v4(ip);
    }
    (host == "localhost" || host.ends_with(".localhost")).then_some("loopback")
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
