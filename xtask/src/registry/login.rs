//! The login check: whether the registry would let a push through.

use anyhow::Result;
use reqwest::{Method, StatusCode};

use std::collections::BTreeMap;

use super::token::*;
use super::*;

impl Registry {
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

/// Per host (`host → (api host, repositories)`): where the credentials come from and whether a
/// push is allowed, per repository; with `probe_referrers`, whether the registry has the OCI 1.1
/// referrers API (informational: without it attestations go to the `sha256-<hex>` fallback
/// tag). Returns the lines and whether every check passed.
pub fn check(
    by_host: &BTreeMap<String, (String, Vec<String>)>,
    clients: &Clients,
    probe_referrers: bool,
) -> Result<(Vec<String>, bool)> {
    clients.block_on(async {
        let mut lines = Vec::new();
        let mut ok = true;
        for (host, (api_host, repos)) in by_host {
            let creds = match clients.credentials(host) {
                Ok(c) => c,
                Err(e) => {
                    ok = false;
                    lines.push(format!("{host}: credentials: error: {e:#}"));
                    continue;
                }
            };
            let user = creds
                .user()
                .map(|u| format!(" (user {u})"))
                .unwrap_or_default();
            lines.push(format!("{host}: credentials from {}{user}", creds.source));
            let reg = match clients.client(host, api_host, Operation::Push).await {
                Ok(r) => r,
                Err(e) => {
                    ok = false;
                    lines.push(format!("  cannot reach {host}: {e:#}"));
                    continue;
                }
            };
            for repo in repos {
                let line = match reg.check_login(repo).await {
                    LoginStatus::Open => "ok: the registry asks for no credentials".to_string(),
                    LoginStatus::BasicAccepted => "ok: credentials accepted (basic auth)".into(),
                    LoginStatus::Token { push: Some(true) } => "ok: push token granted".into(),
                    LoginStatus::Token { push: None } => {
                        "ok: token granted (its scope cannot be inspected)".into()
                    }
                    LoginStatus::Token { push: Some(false) } => {
                        ok = false;
                        "refused: the token does not grant push".into()
                    }
                    LoginStatus::Refused(why) => {
                        ok = false;
                        format!("refused: {why}")
                    }
                };
                lines.push(format!("  {host}/{repo}: {line}"));
            }
            if let (true, Some(repo)) = (probe_referrers, repos.first()) {
                lines.push(format!("  {host}: {}", referrers_support(&reg, repo).await));
            }
        }
        Ok((lines, ok))
    })?
}

/// Whether `reg` has the referrers API, asked about a subject that does not exist: a registry
/// with the API answers an empty index (OCI distribution spec 1.1: it "MUST NOT return a 404"),
/// one without answers 404.
async fn referrers_support(reg: &Registry, repo: &str) -> String {
    let nothing = crate::oci::Digest::of(b"stevedore doctor: referrers API probe");
    match reg.referrers(repo, &nothing).await {
        Ok(Some(_)) => "referrers API: yes (attestations are found through it)".into(),
        Ok(None) => "referrers API: no (attestations go to the sha256-<hex> fallback tag, which `verify` reads)".into(),
        Err(e) => format!("referrers API: could not tell ({})", reg.scrub(&format!("{e:#}"))),
    }
}
