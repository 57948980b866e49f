//! Transport: one request to a registry (sent with an idle timeout, its status turned into a
//! [`Step`]), the checks on every URL a registry hands back, redaction, and backoff. Knows
//! nothing of tokens: [`super::call`] runs requests with them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, Result};
use reqwest::header::HeaderValue;
use reqwest::{Method, StatusCode, Url};

use crate::oci::reference::public_url;

use super::*;

impl Registry {
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
                        let host = e.url().and_then(|u| u.host_str()).unwrap_or(&self.api_host).to_string();
                        let chain = error_chain(&e.without_url());
                        if redirect {
                            Step::Fatal(anyhow!("{}: {chain}", self.name))
                        } else if is_dns_failure(&chain) {
                            // Retrying will not make the name resolve.
                            Step::Fatal(cannot_resolve(&self.name, &host, &chain))
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

/// Whether an [`error_chain`] says a host name could not be resolved (getaddrinfo's failures,
/// as hyper reports them).
pub fn is_dns_failure(chain: &str) -> bool {
    chain.contains("dns error")
        || chain.contains("failed to lookup address information")
        || chain.contains("Name or service not known")
        || chain.contains("No address associated with hostname")
}

/// "cannot resolve host …", with the fix: a name that does not resolve is not retried.
pub(super) fn cannot_resolve(registry: &str, host: &str, chain: &str) -> anyhow::Error {
    anyhow!(
        "{registry}: cannot resolve host {host} ({chain}): check the host name (release.registries, \
         release.mirrors or the image reference) and this machine's DNS"
    )
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
