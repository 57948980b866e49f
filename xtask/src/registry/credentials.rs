//! Registry credentials, from where users already keep them. In this order:
//!
//! 1. the environment: `STEVEDORE_AUTH_<HOST>=user:secret`, where `<HOST>` is the registry host
//!    as written in the config, upper-cased, every character other than `A-Z0-9` turned into
//!    `_` (`ghcr.io` → `STEVEDORE_AUTH_GHCR_IO`, `docker.io` → `STEVEDORE_AUTH_DOCKER_IO`,
//!    `localhost:5000` → `STEVEDORE_AUTH_LOCALHOST_5000`); in GitHub Actions, `GITHUB_TOKEN`
//!    (user `GITHUB_ACTOR`) for `ghcr.io`;
//! 2. docker's `config.json` (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`):
//!    `credHelpers.<host>`, `auths.<host>` (`auth` = base64 `user:pass`, or `identitytoken`),
//!    then `credsStore`; helpers run as `docker-credential-<name> get` with the host on stdin;
//! 3. anonymous.
//!
//! Secrets are held in [`Secret`], whose `Debug` and `Display` print `<redacted>`.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use base64::Engine as _;

/// A password or token. Never printed: `Debug` and `Display` show `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// What is sent to the registry (or its token server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    Anonymous,
    /// User name and password or access token. An `identitytoken` from `docker login` is sent
    /// as the password of user `<token>`.
    Basic {
        user: String,
        secret: Secret,
    },
}

/// Where a credential came from (printed by `login-check`; holds no secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Env(String),
    GithubToken,
    DockerAuths { file: PathBuf, key: String },
    Helper { helper: String, file: PathBuf },
    Anonymous,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Env(var) => write!(f, "environment variable {var}"),
            Source::GithubToken => f.write_str("GITHUB_TOKEN (GitHub Actions)"),
            Source::DockerAuths { file, key } => {
                write!(f, "{} (auths.\"{key}\")", file.display())
            }
            Source::Helper { helper, file } => {
                write!(f, "docker-credential-{helper} (from {})", file.display())
            }
            Source::Anonymous => f.write_str("anonymous (no credentials found)"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Credentials {
    pub credential: Credential,
    pub source: Source,
}

impl Credentials {
    pub fn anonymous() -> Credentials {
        Credentials {
            credential: Credential::Anonymous,
            source: Source::Anonymous,
        }
    }

    /// The user name, if any (never the secret).
    pub fn user(&self) -> Option<&str> {
        match &self.credential {
            Credential::Basic { user, .. } => Some(user),
            Credential::Anonymous => None,
        }
    }

    /// The secret, if any: used to scrub messages that may echo it.
    pub fn secret(&self) -> Option<&Secret> {
        match &self.credential {
            Credential::Basic { secret, .. } => Some(secret),
            Credential::Anonymous => None,
        }
    }

    /// `msg` with every form of the secret that stevedore sends removed: the raw secret,
    /// `user:secret`, its base64 (padded or not, standard or URL-safe alphabet), and any
    /// `Basic …` / `Bearer …` credential a registry echoes back. For every text that came from
    /// a registry and leaves the process (errors, `-v` logs, summaries, metadata files).
    pub fn redact(&self, msg: &str) -> String {
        let mut out = redact_auth_schemes(msg);
        if let Credential::Basic { user, secret } = &self.credential {
            let secret = secret.expose();
            if !secret.is_empty() {
                let pair = format!("{user}:{secret}");
                let engines = [
                    &base64::engine::general_purpose::STANDARD,
                    &base64::engine::general_purpose::STANDARD_NO_PAD,
                    &base64::engine::general_purpose::URL_SAFE,
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                ];
                let mut forms: Vec<String> = engines.iter().map(|e| e.encode(&pair)).collect();
                forms.push(pair);
                forms.push(secret.to_string());
                // Longest first, so `user:secret` goes before the secret inside it.
                forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
                for form in forms {
                    out = out.replace(&form, "<redacted>");
                }
            }
        }
        out
    }
}

/// Replaces the credential after every `Basic` / `Bearer` auth scheme word (as an echoed
/// `Authorization` header shows it) with `<redacted>`. A credential is a run of at least 8
/// base64/token characters with a digit, a symbol or mixed case, so that prose such as
/// "bearer challenge" stays readable.
pub fn redact_auth_schemes(msg: &str) -> String {
    static PATTERN: std::sync::OnceLock<regex_lite::Regex> = std::sync::OnceLock::new();
    let re = PATTERN.get_or_init(|| {
        regex_lite::Regex::new(r"(?i)\b(basic|bearer)(\s+)([A-Za-z0-9+/=._~-]{8,})")
            .expect("static pattern")
    });
    re.replace_all(msg, |c: &regex_lite::Captures<'_>| {
        let cred = &c[3];
        let lower = cred.chars().any(|ch| ch.is_ascii_lowercase());
        let upper = cred.chars().any(|ch| ch.is_ascii_uppercase());
        let other = cred.chars().any(|ch| !ch.is_ascii_alphabetic());
        if other || (lower && upper) {
            format!("{}{}<redacted>", &c[1], &c[2])
        } else {
            c[0].to_string()
        }
    })
    .into_owned()
}

/// `STEVEDORE_AUTH_<HOST>` for `host`.
pub fn env_var_name(host: &str) -> String {
    let mut s = String::from("STEVEDORE_AUTH_");
    for c in host.chars() {
        s.push(if c.is_ascii_alphanumeric() {
            c.to_ascii_uppercase()
        } else {
            '_'
        });
    }
    s
}

/// Splits `user:secret` (the secret may contain `:`).
pub fn parse_user_secret(s: &str) -> Option<(String, Secret)> {
    let (user, secret) = s.split_once(':')?;
    if user.is_empty() || secret.is_empty() {
        return None;
    }
    Some((user.to_string(), Secret::new(secret)))
}

/// The docker config directory: `$DOCKER_CONFIG`, else `~/.docker`.
pub fn docker_config_path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(d) = env("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(Path::new(&d).join("config.json"));
    }
    env("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| Path::new(&h).join(".docker/config.json"))
}

/// The canonical host of a `config.json` key: scheme and path removed, Docker Hub's
/// aliases (`https://index.docker.io/v1/`, `registry-1.docker.io`) mapped to `docker.io`.
pub fn normalize_key(key: &str) -> String {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = k.split('/').next().unwrap_or_default().to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            "docker.io".into()
        }
        _ => host,
    }
}

/// What docker helpers are asked for: Docker Hub's historical key, else the host.
fn helper_server_url(host: &str) -> String {
    if host == "docker.io" {
        "https://index.docker.io/v1/".into()
    } else {
        host.to_string()
    }
}

/// Runs a credential helper; `Ok(None)` when it has nothing for this host.
pub type HelperFn<'a> = dyn Fn(&str, &str) -> Result<Option<(String, Secret)>> + 'a;

/// Finds the credentials for `host` (as written in the config: `ghcr.io`, `docker.io`,
/// `127.0.0.1:5000`).
pub fn resolve(
    host: &str,
    env: &dyn Fn(&str) -> Option<String>,
    read_file: &dyn Fn(&Path) -> std::io::Result<String>,
    helper: &HelperFn,
) -> Result<Credentials> {
    let host = normalize_key(host);
    let var = env_var_name(&host);
    if let Some(v) = env(&var).filter(|v| !v.is_empty()) {
        let (user, secret) = parse_user_secret(&v)
            .with_context(|| format!("{var} must be `user:secret` (the value is not shown)"))?;
        return Ok(Credentials {
            credential: Credential::Basic { user, secret },
            source: Source::Env(var),
        });
    }
    if host == "ghcr.io" && env("GITHUB_ACTIONS").as_deref() == Some("true") {
        if let Some(token) = env("GITHUB_TOKEN").filter(|t| !t.is_empty()) {
            let user = env("GITHUB_ACTOR")
                .filter(|a| !a.is_empty())
                .unwrap_or_else(|| "github-actions".into());
            return Ok(Credentials {
                credential: Credential::Basic {
                    user,
                    secret: Secret::new(token),
                },
                source: Source::GithubToken,
            });
        }
    }
    let Some(file) = docker_config_path(env) else {
        return Ok(Credentials::anonymous());
    };
    let text = match read_file(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Credentials::anonymous()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", file.display())),
    };
    from_docker_config(&host, &file, &text, helper)
}

/// Looks `host` up in the text of a docker `config.json`.
pub fn from_docker_config(
    host: &str,
    file: &Path,
    text: &str,
    helper: &HelperFn,
) -> Result<Credentials> {
    let doc: serde_json::Value = serde_json::from_str(text)
        .with_context(|| format!("{} is not valid JSON", file.display()))?;
    let run_helper = |name: &str| -> Result<Option<Credentials>> {
        Ok(
            helper(name, &helper_server_url(host))?.map(|(user, secret)| Credentials {
                credential: Credential::Basic { user, secret },
                source: Source::Helper {
                    helper: name.to_string(),
                    file: file.to_path_buf(),
                },
            }),
        )
    };
    if let Some(helpers) = doc["credHelpers"].as_object() {
        for (key, name) in helpers {
            if normalize_key(key) == host {
                if let Some(name) = name.as_str() {
                    if let Some(c) = run_helper(name)? {
                        return Ok(c);
                    }
                }
            }
        }
    }
    if let Some(auths) = doc["auths"].as_object() {
        // Prefer an exact key, then any key naming the same host.
        let mut entries: Vec<(&String, &serde_json::Value)> = auths
            .iter()
            .filter(|(k, _)| normalize_key(k) == host)
            .collect();
        entries.sort_by_key(|(k, _)| k.as_str() != host);
        for (key, entry) in entries {
            let source = Source::DockerAuths {
                file: file.to_path_buf(),
                key: key.clone(),
            };
            if let Some(token) = entry["identitytoken"].as_str().filter(|t| !t.is_empty()) {
                return Ok(Credentials {
                    credential: Credential::Basic {
                        user: "<token>".into(),
                        secret: Secret::new(token),
                    },
                    source,
                });
            }
            if let Some(auth) = entry["auth"].as_str().filter(|a| !a.is_empty()) {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(auth.trim())
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .and_then(|s| parse_user_secret(&s));
                let Some((user, secret)) = decoded else {
                    bail!(
                        "{}: auths.\"{key}\".auth is not base64 of `user:password` (the value is not shown)",
                        file.display()
                    );
                };
                return Ok(Credentials {
                    credential: Credential::Basic { user, secret },
                    source,
                });
            }
            if let (Some(user), Some(pass)) =
                (entry["username"].as_str(), entry["password"].as_str())
            {
                return Ok(Credentials {
                    credential: Credential::Basic {
                        user: user.into(),
                        secret: Secret::new(pass),
                    },
                    source,
                });
            }
        }
    }
    if let Some(store) = doc["credsStore"].as_str().filter(|s| !s.is_empty()) {
        if let Some(c) = run_helper(store)? {
            return Ok(c);
        }
    }
    Ok(Credentials::anonymous())
}

/// Runs `docker-credential-<name> get` with `server` on stdin.
pub fn run_helper(name: &str, server: &str) -> Result<Option<(String, Secret)>> {
    let program = format!("docker-credential-{name}");
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| {
            format!(
                "the docker config names credential helper {name:?} but {program} cannot be run"
            )
        })?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(server.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        if msg.to_ascii_lowercase().contains("not found") {
            return Ok(None);
        }
        // Helper output is not echoed: it could hold a secret.
        bail!("{program} get failed for {server} ({})", out.status);
    }
    parse_helper_output(&out.stdout)
        .with_context(|| format!("{program} get: unexpected output (not shown)"))
}

/// Parses `{"ServerURL":…,"Username":…,"Secret":…}`.
pub fn parse_helper_output(stdout: &[u8]) -> Result<Option<(String, Secret)>> {
    let v: serde_json::Value = serde_json::from_slice(stdout).context("not JSON")?;
    let secret = v["Secret"].as_str().unwrap_or_default();
    if secret.is_empty() {
        return Ok(None);
    }
    let user = v["Username"].as_str().unwrap_or_default();
    let user = if user.is_empty() { "<token>" } else { user };
    Ok(Some((user.to_string(), Secret::new(secret))))
}

/// [`resolve`] with the process environment, the file system and real helpers.
pub fn resolve_from_env(host: &str) -> Result<Credentials> {
    resolve(
        host,
        &|k| std::env::var(k).ok(),
        &|p| std::fs::read_to_string(p),
        &run_helper,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_removes_every_form_of_a_basic_credential() {
        let creds = Credentials {
            credential: Credential::Basic {
                user: "dave".into(),
                secret: Secret::new("s3cr3t-Pa55"),
            },
            source: Source::Anonymous,
        };
        let b64 = base64::engine::general_purpose::STANDARD.encode("dave:s3cr3t-Pa55");
        let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("dave:s3cr3t-Pa55");
        for echoed in [
            "denied: s3cr3t-Pa55".to_string(),
            "denied: dave:s3cr3t-Pa55".to_string(),
            format!("Authorization: Basic {b64}"),
            format!("auth={b64url}"),
            format!("Authorization: Basic {}…", &b64[..10]),
            "authorization: Bearer eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl".to_string(),
        ] {
            let out = creds.redact(&echoed);
            assert!(!out.contains("s3cr3t"), "{out}");
            assert!(!out.contains(&b64[..10]), "{out}");
            assert!(!out.contains(&b64url[..10]), "{out}");
            assert!(!out.contains("eyJzdWIi"), "{out}");
            assert!(out.contains("<redacted>"), "{out}");
        }
    }

    #[test]
    fn redaction_keeps_prose_about_auth_schemes() {
        let creds = Credentials::anonymous();
        for prose in [
            "no bearer challenge on /v2/",
            "basic auth accepted",
            "Bearer realm=\"https://h/token\",service=\"h\"",
        ] {
            assert_eq!(creds.redact(prose), prose);
        }
    }
    use std::collections::HashMap;

    fn no_helper(_: &str, _: &str) -> Result<Option<(String, Secret)>> {
        panic!("no helper expected")
    }

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn resolve_with(
        host: &str,
        vars: &[(&str, &str)],
        config: Option<&str>,
        helper: &HelperFn,
    ) -> Result<Credentials> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let config = config.map(String::from);
        resolve(
            host,
            &|k| vars.get(k).cloned(),
            &|_| {
                config
                    .clone()
                    .ok_or_else(|| std::io::ErrorKind::NotFound.into())
            },
            helper,
        )
    }

    #[test]
    fn env_var_names() {
        assert_eq!(env_var_name("ghcr.io"), "STEVEDORE_AUTH_GHCR_IO");
        assert_eq!(
            env_var_name("localhost:5000"),
            "STEVEDORE_AUTH_LOCALHOST_5000"
        );
        assert_eq!(
            env_var_name("127.0.0.1:5000"),
            "STEVEDORE_AUTH_127_0_0_1_5000"
        );
        assert_eq!(env_var_name("docker.io"), "STEVEDORE_AUTH_DOCKER_IO");
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "<redacted> <redacted>");
        let c = Credential::Basic {
            user: "me".into(),
            secret: s,
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn user_secret_split_keeps_colons_in_secret() {
        let (u, s) = parse_user_secret("me:a:b").unwrap();
        assert_eq!((u.as_str(), s.expose()), ("me", "a:b"));
        assert!(parse_user_secret("nocolon").is_none());
        assert!(parse_user_secret(":x").is_none());
    }

    #[test]
    fn environment_wins_over_docker_config() {
        let cfg = format!(r#"{{"auths":{{"ghcr.io":{{"auth":"{}"}}}}}}"#, b64("a:b"));
        let c = resolve_with(
            "ghcr.io",
            &[
                ("STEVEDORE_AUTH_GHCR_IO", "env:tok"),
                ("DOCKER_CONFIG", "/d"),
            ],
            Some(&cfg),
            &no_helper,
        )
        .unwrap();
        assert_eq!(c.user(), Some("env"));
        assert_eq!(c.source, Source::Env("STEVEDORE_AUTH_GHCR_IO".into()));
        let err = resolve_with(
            "ghcr.io",
            &[("STEVEDORE_AUTH_GHCR_IO", "oops")],
            None,
            &no_helper,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("STEVEDORE_AUTH_GHCR_IO") && !err.contains("oops"),
            "{err}"
        );
    }

    #[test]
    fn github_token_for_ghcr_in_actions_only() {
        let vars = [
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_TOKEN", "ghs_x"),
            ("GITHUB_ACTOR", "octocat"),
        ];
        let c = resolve_with("ghcr.io", &vars, None, &no_helper).unwrap();
        assert_eq!(
            (c.user(), &c.source),
            (Some("octocat"), &Source::GithubToken)
        );
        let c = resolve_with("docker.io", &vars, None, &no_helper).unwrap();
        assert_eq!(c.source, Source::Anonymous);
        let c = resolve_with("ghcr.io", &vars[1..], None, &no_helper).unwrap();
        assert_eq!(c.source, Source::Anonymous);
    }

    #[test]
    fn docker_config_auths_and_docker_hub_key() {
        let cfg = format!(
            r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{}"}},
                          "127.0.0.1:5000":{{"auth":"{}"}},
                          "ghcr.io":{{"identitytoken":"idtok"}}}}}}"#,
            b64("hub:pw"),
            b64("local:pw2")
        );
        let vars = [("DOCKER_CONFIG", "/cfg")];
        let c = resolve_with("docker.io", &vars, Some(&cfg), &no_helper).unwrap();
        assert_eq!(c.user(), Some("hub"));
        assert_eq!(c.secret().unwrap().expose(), "pw");
        assert_eq!(
            c.source,
            Source::DockerAuths {
                file: "/cfg/config.json".into(),
                key: "https://index.docker.io/v1/".into()
            }
        );
        let c = resolve_with("127.0.0.1:5000", &vars, Some(&cfg), &no_helper).unwrap();
        assert_eq!(c.user(), Some("local"));
        let c = resolve_with("ghcr.io", &vars, Some(&cfg), &no_helper).unwrap();
        assert_eq!(c.user(), Some("<token>"));
        assert_eq!(c.secret().unwrap().expose(), "idtok");
        let c = resolve_with("quay.io", &vars, Some(&cfg), &no_helper).unwrap();
        assert_eq!(c.source, Source::Anonymous);
        // No config file at all: anonymous.
        let c = resolve_with("quay.io", &vars, None, &no_helper).unwrap();
        assert_eq!(c.source, Source::Anonymous);
    }

    #[test]
    fn bad_auth_entry_is_named_without_its_value() {
        let cfg = r#"{"auths":{"ghcr.io":{"auth":"bm9jb2xvbg=="}}}"#; // "nocolon"
        let err = resolve_with("ghcr.io", &[("DOCKER_CONFIG", "/c")], Some(cfg), &no_helper)
            .unwrap_err()
            .to_string();
        assert!(err.contains("auths.\"ghcr.io\".auth"), "{err}");
        assert!(!err.contains("nocolon") && !err.contains("bm9j"), "{err}");
    }

    #[test]
    fn helpers_per_host_then_store() {
        let cfg = r#"{"credHelpers":{"ghcr.io":"gh"},"credsStore":"desktop",
                      "auths":{"https://index.docker.io/v1/":{}}}"#;
        let helper = |name: &str, server: &str| -> Result<Option<(String, Secret)>> {
            Ok(match (name, server) {
                ("gh", "ghcr.io") => Some(("ghuser".into(), Secret::new("t1"))),
                ("desktop", "https://index.docker.io/v1/") => {
                    Some(("hubuser".into(), Secret::new("t2")))
                }
                _ => None,
            })
        };
        let vars = [("HOME", "/home/me")];
        let c = resolve_with("ghcr.io", &vars, Some(cfg), &helper).unwrap();
        assert_eq!(c.user(), Some("ghuser"));
        assert!(matches!(c.source, Source::Helper { ref helper, .. } if helper == "gh"));
        let c = resolve_with("docker.io", &vars, Some(cfg), &helper).unwrap();
        assert_eq!(c.user(), Some("hubuser"));
        let c = resolve_with("quay.io", &vars, Some(cfg), &helper).unwrap();
        assert_eq!(c.source, Source::Anonymous);
    }

    #[test]
    fn helper_output_parsing() {
        let (u, s) = parse_helper_output(br#"{"ServerURL":"x","Username":"u","Secret":"s"}"#)
            .unwrap()
            .unwrap();
        assert_eq!((u.as_str(), s.expose()), ("u", "s"));
        let (u, _) = parse_helper_output(br#"{"Username":"","Secret":"s"}"#)
            .unwrap()
            .unwrap();
        assert_eq!(u, "<token>");
        assert!(parse_helper_output(br#"{"Secret":""}"#).unwrap().is_none());
        assert!(parse_helper_output(b"garbage").is_err());
    }

    #[test]
    fn keys_normalise() {
        assert_eq!(normalize_key("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(normalize_key("registry-1.docker.io"), "docker.io");
        assert_eq!(normalize_key("https://GHCR.io"), "ghcr.io");
        assert_eq!(normalize_key("localhost:5000"), "localhost:5000");
    }
}
