//! Transport: the client for one registry host (TLS, timeouts, the scheme it speaks), requests
//! with retries and backoff, the checks on every URL a registry hands back, and redaction.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use reqwest::header::HeaderValue;
use reqwest::{Method, StatusCode, Url};

use super::credentials::{Credential, Credentials};
use crate::oci::reference::{is_loopback_host, public_url};

use super::token::*;
use super::*;

/// One registry host, its credentials and its token cache.
/// A bearer challenge: the token realm and the service.
pub(super) type Challenge = (Url, Option<String>);

pub struct Registry {
    /// The host as written in the config (`docker.io`, `ghcr.io`, `127.0.0.1:5000`).
    pub name: String,
    /// The host the API is reached at (`registry-1.docker.io` for Docker Hub).
    pub api_host: String,
    pub creds: Credentials,
    pub(super) base: Url,
    pub(super) http: reqwest::Client,
    /// Headers by `(repository, repository also pulled from)` and when they were obtained.
    pub(super) tokens: tokio::sync::Mutex<TokenCache>,
    /// Every token the token server issued, so that an echo of one is redacted.
    pub(super) issued: std::sync::Mutex<Vec<String>>,
    /// The `realm` and `service` of the registry's bearer challenge, once asked for (`None`:
    /// the registry gave no bearer challenge on `/v2/`).
    /// The outcome is kept, a failure too: a registry that did not answer its handshake is
    /// not asked again for every blob.
    pub(super) challenge: tokio::sync::OnceCell<Result<Option<Challenge>, String>>,
    /// The token scope asked for: `pull,push` (publishing) or `pull` ([`Registry::for_pull`]).
    pub(super) operation: Operation,
    pub(super) opts: ClientOptions,
    pub(super) log: Log,
    /// Blob bytes handed to the network, retried and abandoned tries included.
    pub(super) sent: Arc<AtomicU64>,
}

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

    pub(super) fn url(&self, path: &str) -> Url {
        self.base
            .join(path)
            .expect("registry paths are valid URL paths")
    }

    /// Removes every form of the credentials and every issued token from a message that may
    /// echo them.
    pub(super) fn scrub(&self, msg: &str) -> String {
        let mut forms = self.creds.secret_forms();
        forms.extend(self.issued.lock().expect("issued tokens").iter().cloned());
        forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        super::credentials::redact_forms(msg, &forms)
    }

    /// A registry's error body as one short, redacted line (`: CODE message`): the JSON is
    /// decoded first, then redacted ([`Credentials::redact`] also decodes percent-escapes),
    /// then shortened, so that no escaped form of a secret and no cut-off piece of one is
    /// shown.
    pub(super) fn summary(&self, body: &[u8]) -> String {
        shorten(&self.scrub(&error_text(body)))
    }

    /// Refuses a URL the registry handed out (upload `Location`) that would take its traffic
    /// from HTTPS to plain HTTP.
    pub(super) fn refuse_downgrade(&self, url: &Url) -> Result<(), Step> {
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
                            super::credentials::how_to_set(&self.name, &|k| std::env::var(k).ok())
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

    /// Sends one request, abandoning it when nothing moved for the idle timeout.
    pub(super) async fn send(
        &self,
        req: reqwest::RequestBuilder,
        activity: Option<&Activity>,
    ) -> Result<reqwest::Response, Step> {
        self.send_within(req, activity, None).await
    }

    /// [`Registry::send`], also abandoning the request when it is not answered within
    /// `deadline` (an upload of `n` bytes: [`super::body::transfer_deadline`], so that a registry
    /// reading a byte now and then cannot hold it forever).
    pub(super) async fn send_within(
        &self,
        req: reqwest::RequestBuilder,
        activity: Option<&Activity>,
        deadline: Option<Duration>,
    ) -> Result<reqwest::Response, Step> {
        let started = Instant::now();
        let local = Activity::new();
        let activity = activity.unwrap_or(&local);
        activity.touch();
        let fut = req.send();
        tokio::pin!(fut);
        loop {
            tokio::select! {
                r = &mut fut => {
                    return r.map_err(|e| {
                        let redirect = e.is_redirect();
                        let chain = error_chain(&e.without_url());
                        if redirect {
                            Step::Fatal(anyhow!("{}: {chain}", self.name))
                        } else if chain.contains("UnknownIssuer")
                            || chain.contains("invalid peer certificate")
                        {
                            // Retrying will not make the certificate trusted.
                            Step::Fatal(anyhow!(
                                "{}: its TLS certificate is not trusted ({chain}): add its CA to \
                                 release.ca-files (or SSL_CERT_FILE)",
                                self.name
                            ))
                        } else {
                            Step::Retry {
                                reason: chain,
                                after: None,
                            }
                        }
                    });
                }
                _ = tokio::time::sleep(Duration::from_millis(500)) => {
                    if let Some(d) = deadline.filter(|d| started.elapsed() > *d) {
                        return Err(Step::Retry {
                            reason: format!(
                                "not done after {}s, slower than {}/s (the registry reads \
                                 the upload too slowly)",
                                d.as_secs(),
                                super::body::human_size(super::body::MIN_RATE)
                            ),
                            after: None,
                        });
                    }
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

    /// Turns retryable and auth statuses into [`Step`]s; passes the rest through.
    pub(super) async fn check(&self, resp: reqwest::Response) -> Result<reqwest::Response, Step> {
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
        let body = self.error_body(resp).await;
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
    pub(super) async fn unexpected(&self, what: &str, resp: reqwest::Response) -> Step {
        let status = resp.status();
        let body = self.error_body(resp).await;
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

    pub(super) fn request(
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

    /// The `Location` of an answer, resolved against the registry's URL; an error when it
    /// would downgrade HTTPS to plain HTTP.
    pub(super) fn location(&self, resp: &reqwest::Response) -> Result<Option<Url>, Step> {
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

pub(super) fn sensitive(v: &str) -> Result<HeaderValue> {
    let mut h = HeaderValue::from_str(v)
        .map_err(|_| anyhow!("credentials contain characters not allowed in an HTTP header"))?;
    h.set_sensitive(true);
    Ok(h)
}

/// `host/repo:tag` or `host/repo@<digest12>`, for logs.
pub(super) fn display_ref(host: &str, repo: &str, reference: &str) -> String {
    match reference.strip_prefix("sha256:") {
        Some(hex) => format!("{host}/{repo}@{}", &hex[..hex.len().min(12)]),
        None => format!("{host}/{repo}:{reference}"),
    }
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
/// Not redacted: registry messages go through [`Registry::summary`].
pub fn error_summary(body: &[u8]) -> String {
    shorten(&error_text(body))
}

/// `: CODE message; …` from a registry error body, the JSON decoded (its escapes undone), in
/// full; the body's text when it is not JSON; empty when there is nothing.
pub(super) fn error_text(body: &[u8]) -> String {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        return if text.is_empty() {
            String::new()
        } else {
            format!(": {text}")
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
        format!(": {}", parts.join("; "))
    }
}

/// At most 300 characters (one line of a message).
pub(super) fn shorten(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(300)
        .collect();
    if s.chars().count() > 300 {
        out.push('…');
    }
    out
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
pub(super) fn parse_http_date(v: &str) -> Option<SystemTime> {
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

/// A redirect policy that refuses to follow a redirect from HTTPS to plain HTTP (credentials
/// and blobs would go in plaintext), and stops after 10 hops.
pub(super) fn refuse_redirect_downgrade(
    attempt: reqwest::redirect::Attempt<'_>,
) -> reqwest::redirect::Action {
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
