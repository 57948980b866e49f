//! Registry credentials, from where users already keep them. In this order:
//!
//! 1. the environment: `STEVEDORE_AUTH_<HOST>=user:secret`, where `<HOST>` is the registry host
//!    as written in the config, upper-cased, each `.` and the `:` before a port written `_`,
//!    each `-` written `__` (`ghcr.io` → `STEVEDORE_AUTH_GHCR_IO`, `localhost:5000` →
//!    `STEVEDORE_AUTH_LOCALHOST_5000`, `registry-example.com` →
//!    `STEVEDORE_AUTH_REGISTRY__EXAMPLE_COM`, as Terraform spells `TF_TOKEN_<host>`). A name
//!    stands for exactly one host ([`host_of_env_var`]), and a variable is read only for that
//!    host: `registry.example.com` and `registry-example.com` never share a secret, whichever
//!    asks (a push, a base image, a compose image, `verify`). A host no name spells (an IPv6
//!    literal) takes its credentials from docker's config. In GitHub Actions, `GITHUB_TOKEN`
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

use crate::problem::Problem;
use anyhow::{bail, Context, Result};
use base64::Engine as _;

/// A password or token. Never printed: `Debug` and `Display` show `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The secret itself, for the few places that need its value: sending it (the token
    /// exchange in `registry/token.rs`, twice; the builders' docker config in
    /// `builder/registry_access.rs`) and redacting it ([`Credentials::secret_forms`] here).
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
    /// `Basic …` / `Bearer …` credential a registry echoes back; also when the registry wrote
    /// them JSON-escaped (`\/`, `\u002b`, as PHP's `json_encode` does) or percent-encoded
    /// (either hex case): see [`redact_forms`]. For every text that came from a registry and
    /// leaves the process (errors, `-v` logs, summaries, metadata files).
    pub fn redact(&self, msg: &str) -> String {
        redact_forms(msg, &self.secret_forms())
    }

    /// The forms of the secret a registry may echo: the raw secret, `user:secret` and its
    /// base64 in the four alphabets; longest first. Empty for anonymous credentials.
    pub fn secret_forms(&self) -> Vec<String> {
        let Credential::Basic { user, secret } = &self.credential else {
            return Vec::new();
        };
        let secret = secret.expose();
        if secret.is_empty() {
            return Vec::new();
        }
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
        forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        forms.dedup();
        forms
    }
}

/// `msg` with every one of `forms` (secrets, tokens) replaced by `<redacted>`, and the
/// credential after each `Basic` / `Bearer` word ([`redact_auth_schemes`]).
///
/// Forms are looked for as written and after decoding the text's escapes
/// ([`decode_escapes`]: JSON's `\/`, `\"`, `\uXXXX`…, percent-encoding in either hex case,
/// repeatedly). When a form (or an auth-scheme credential) appears only once decoded, the
/// decoded, redacted text is returned, so an escaped secret is never shown in any form.
pub fn redact_forms(msg: &str, forms: &[String]) -> String {
    let replace = |text: &str| {
        let mut out = text.to_string();
        for form in forms.iter().filter(|f| !f.is_empty()) {
            out = out.replace(form.as_str(), "<redacted>");
        }
        out
    };
    let plain = replace(msg);
    let decoded = decode_escapes(&plain);
    let decoded_redacted = redact_auth_schemes(&replace(&decoded));
    if decoded_redacted != decoded {
        decoded_redacted
    } else {
        redact_auth_schemes(&plain)
    }
}

/// `text` with its escapes undone: JSON string escapes (`\/`, `\\`, `\"`, `\n`,
/// `\uXXXX` with surrogate pairs) and percent-encoding (`%2B`, `%2b`), repeated until
/// nothing changes (at most 4 rounds, for double encodings). Bytes that do not form UTF-8
/// become U+FFFD.
pub fn decode_escapes(text: &str) -> String {
    let mut cur = text.to_string();
    for _ in 0..4 {
        let next = percent_decode(&json_unescape(&cur));
        if next == cur {
            break;
        }
        cur = next;
    }
    cur
}

/// JSON string escapes undone, leniently: anything that is not a valid escape stays as it is.
fn json_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.char_indices().peekable();
    let hex4 = |at: usize| -> Option<u32> {
        let h = s.get(at..at + 4)?;
        if h.chars().all(|c| c.is_ascii_hexdigit()) {
            u32::from_str_radix(h, 16).ok()
        } else {
            None
        }
    };
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(&(_, e)) = chars.peek() else {
            out.push(c);
            break;
        };
        let simple = match e {
            '/' => Some('/'),
            '\\' => Some('\\'),
            '"' => Some('"'),
            '\'' => Some('\''),
            'n' => Some('\n'),
            't' => Some('\t'),
            'r' => Some('\r'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            _ => None,
        };
        if let Some(d) = simple {
            chars.next();
            out.push(d);
            continue;
        }
        if e == 'u' {
            if let Some(hi) = hex4(i + 2) {
                // A surrogate pair: `\uD83D\uDE00`.
                let pair = (0xD800..0xDC00).contains(&hi)
                    && s.get(i + 6..i + 8) == Some("\\u")
                    && hex4(i + 8).is_some_and(|lo| (0xDC00..0xE000).contains(&lo));
                let (code, len) = if pair {
                    let lo = hex4(i + 8).unwrap_or_default();
                    (0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00), 12)
                } else {
                    (hi, 6)
                };
                if let Some(d) = char::from_u32(code) {
                    out.push(d);
                    // Skip the rest of the escape (the `u` and the hex digits).
                    while chars.peek().is_some_and(|&(j, _)| j < i + len) {
                        chars.next();
                    }
                    continue;
                }
            }
        }
        out.push(c);
    }
    out
}

/// Percent-encoding undone (`%2B` and `%2b`); a `%` without two hex digits stays.
fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && b[i + 1].is_ascii_hexdigit()
            && b[i + 2].is_ascii_hexdigit()
        {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("00");
            out.push(u8::from_str_radix(hex, 16).unwrap_or_default());
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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

/// The prefix of the credential variables.
pub const ENV_PREFIX: &str = "STEVEDORE_AUTH_";

/// `STEVEDORE_AUTH_<HOST>` for `host`: upper-cased, each `.` and the `:` before the port
/// written `_`, each `-` written `__` (`registry-example.com:5000` →
/// `STEVEDORE_AUTH_REGISTRY__EXAMPLE_COM_5000`). Another character (an IPv6 literal) is
/// written `_` too, but such a name spells no host: see [`env_var_for`].
pub fn env_var_name(host: &str) -> String {
    let mut s = String::from(ENV_PREFIX);
    for c in normalize_key(host).chars() {
        match c {
            c if c.is_ascii_alphanumeric() => s.push(c.to_ascii_uppercase()),
            '-' => s.push_str("__"),
            _ => s.push('_'),
        }
    }
    s
}

/// The variable that holds `host`'s credentials, when a variable name can spell it: the
/// name of [`env_var_name`] if [`host_of_env_var`] reads it back as `host`, else `None`
/// (IPv6 literals, a last label of digits without a port: use docker's `config.json`).
pub fn env_var_for(host: &str) -> Option<String> {
    let var = env_var_name(host);
    (host_of_env_var(&var).as_deref() == Some(normalize_key(host).as_str())).then_some(var)
}

/// The one host a `STEVEDORE_AUTH_<NAME>` variable stands for (lower case): in `<NAME>`, a
/// run of two `_` per `-` (`__` → `-`, `____` → `--`), a single `_` a `.`, except before a
/// last part of digits, which is the port (`LOCALHOST_5000` → `localhost:5000`), unless the
/// whole name is an IPv4 address (`10_0_0_1` → `10.0.0.1`; `127_0_0_1_5000` →
/// `127.0.0.1:5000`). `None` for a name no host has (an odd run of three or more `_`, a
/// leading or trailing `_`).
pub fn host_of_env_var(var: &str) -> Option<String> {
    let name = var.strip_prefix(ENV_PREFIX)?.to_ascii_lowercase();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    // Alternating parts and separators: `a`, `.`, `b`, `-`, `c`…
    let mut parts: Vec<String> = vec![String::new()];
    let mut seps: Vec<String> = Vec::new();
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '_' {
            parts.last_mut().expect("one part").push(c);
            continue;
        }
        let mut run = 1;
        while chars.peek() == Some(&'_') {
            chars.next();
            run += 1;
        }
        let sep = match run {
            1 => ".".to_string(),
            n if n % 2 == 0 => "-".repeat(n / 2),
            _ => return None,
        };
        seps.push(sep);
        parts.push(String::new());
    }
    if parts.iter().any(String::is_empty) {
        return None;
    }
    let numeric = |p: &String| p.chars().all(|c| c.is_ascii_digit());
    let ipv4 = parts.len() == 4 && seps.iter().all(|s| s == ".") && parts.iter().all(numeric);
    let port = parts.len() > 1
        && !ipv4
        && seps.last().is_some_and(|s| s == ".")
        && parts.last().is_some_and(numeric);
    let mut host = String::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            let last = i == parts.len() - 1;
            host.push_str(if last && port { ":" } else { &seps[i - 1] });
        }
        host.push_str(part);
    }
    Some(host)
}

/// What the credential variable of `host` was named before the `-` → `__` spelling (every
/// character other than `A-Z0-9` as `_`), when that differs: such a variable is never read
/// for `host` (it stands for another host), but its presence is worth a word in an error.
pub fn former_env_var_name(host: &str) -> Option<String> {
    let mut s = String::from(ENV_PREFIX);
    for c in normalize_key(host).chars() {
        s.push(if c.is_ascii_alphanumeric() {
            c.to_ascii_uppercase()
        } else {
            '_'
        });
    }
    (s != env_var_name(host)).then_some(s)
}

/// How to give `host` credentials: `set STEVEDORE_AUTH_… or run docker login …`, with a word
/// when the variable of the former spelling is set (it stands for another host).
pub fn how_to_set(host: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    let login = format!("run `docker login {host}`");
    let mut out = match env_var_for(host) {
        Some(var) => format!("set {var}=user:secret or {login}"),
        None => format!("{login} (no STEVEDORE_AUTH_ name spells this host)"),
    };
    if let Some(former) = former_env_var_name(host).filter(|v| env(v).is_some()) {
        let other = host_of_env_var(&former).unwrap_or_else(|| "no host".into());
        out.push_str(&format!(
            " ({former} is set, but that name stands for {other}, not {host}: it is not sent here)"
        ));
    }
    out
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
///
/// `github_actions` is the fact that this runs in a GitHub Actions job (read once, in
/// `facts::github`): there, `GITHUB_TOKEN` is `ghcr.io`'s credential.
pub fn resolve(
    host: &str,
    github_actions: bool,
    env: &dyn Fn(&str) -> Option<String>,
    read_file: &dyn Fn(&Path) -> std::io::Result<String>,
    helper: &HelperFn,
) -> Result<Credentials> {
    let host = normalize_key(host);
    // Only the variable that spells this host exactly: a secret goes to the one host its
    // name stands for (`registry-example.com` never reads STEVEDORE_AUTH_REGISTRY_EXAMPLE_COM,
    // which is registry.example.com's).
    if let Some(var) = env_var_for(&host) {
        if let Some(v) = env(&var).filter(|v| !v.is_empty()) {
            let (user, secret) = parse_user_secret(&v).ok_or_else(|| {
                Problem::credentials(
                    format!("{var} must be `user:secret` (the value is not shown)"),
                    format!("set {var} to the user, a colon and the password or token"),
                )
            })?;
            return Ok(Credentials {
                credential: Credential::Basic { user, secret },
                source: Source::Env(var),
            });
        }
    }
    if host == "ghcr.io" && github_actions {
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
                    bail!(Problem::credentials(
                        format!(
                            "{}: auths.\"{key}\".auth is not base64 of `user:password` (the value is not shown)",
                            file.display()
                        ),
                        format!("run `docker login {key}` again, or remove the entry")
                    ));
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
        .map_err(|e| {
            Problem::credentials(
                format!(
                    "the docker config names credential helper {name:?} but {program} cannot be run ({e})"
                ),
                format!("install {program}, or remove credsStore/credHelpers from the docker config"),
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
        bail!(Problem::credentials(
            format!("{program} get failed for {server} ({})", out.status),
            format!("run `{program} get` by hand to see why, or `docker login {server}` again")
        ));
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

/// Where a run's registry credentials come from. The default, [`FromEnvironment`], reads the
/// process environment and docker's config; a test hands its own to
/// [`super::Clients::new`] instead, without touching the process environment.
pub trait CredentialSource: Send + Sync {
    /// The credentials for `host` (as written in the config).
    fn credentials(&self, host: &str) -> Result<Credentials>;
    /// How to give `host` credentials, for the message when it asked and had none.
    fn how_to_set(&self, host: &str) -> String;
}

/// [`resolve`] with the process environment, the file system and real helpers.
#[derive(Debug, Clone, Copy, Default)]
pub struct FromEnvironment {
    /// The job runs in GitHub Actions (`facts::github::in_github_actions`).
    pub github_actions: bool,
}

impl CredentialSource for FromEnvironment {
    fn credentials(&self, host: &str) -> Result<Credentials> {
        resolve(
            host,
            self.github_actions,
            &|k| std::env::var(k).ok(),
            &|p| std::fs::read_to_string(p),
            &run_helper,
        )
    }

    fn how_to_set(&self, host: &str) -> String {
        how_to_set(host, &|k| std::env::var(k).ok())
    }
}

/// The same credentials for every host, from no environment (tests).
#[derive(Debug, Clone)]
pub struct Fixed(pub Credentials);

impl CredentialSource for Fixed {
    fn credentials(&self, _: &str) -> Result<Credentials> {
        Ok(self.0.clone())
    }

    fn how_to_set(&self, host: &str) -> String {
        format!("give the session credentials for {host}")
    }
}

#[cfg(test)]
mod tests;
