//! Recognising secret-looking values: sensitive key names, well-known token shapes, and
//! high-entropy strings. Compose runs a secret scanner (DefangLabs/secret-detector) over the
//! files it publishes; this is a small, dependency-free counterpart with the same intent.

use super::interp;

/// Words of a key that name a secret wherever they are (`DB_PASSWORD`, `dbPassword`,
/// `MYSQL_ROOT_PASSWORD`, `client_secret`, `GITHUB_TOKEN`, `GOOGLE_CREDENTIALS`).
const SECRET_PARTS: &[&str] = &["password", "passwd", "passphrase", "secret", "credential"];
/// Whole words that name a secret (`DB_PW`, `BASIC_AUTH`, `GITHUB_PAT`, `REDIS_PASS`).
const SECRET_WORDS: &[&str] = &["pwd", "pw", "pass", "auth", "pat", "token", "apitoken"];
/// Words ending in `pass` that are not passwords.
const NOT_PASS: &[&str] = &[
    "bypass",
    "compass",
    "overpass",
    "underpass",
    "surpass",
    "trespass",
];
/// `<word>_KEY` / `<word>Key` that is a secret key (`API_KEY`, `ENCRYPTION_KEY`, `JWT_SIGNING_KEY`).
const KEY_QUALIFIERS: &[&str] = &[
    "api",
    "private",
    "access",
    "secret",
    "encryption",
    "signing",
    "sign",
    "master",
    "app",
    "license",
    "licence",
    "session",
    "hmac",
    "cipher",
    "crypt",
    "crypto",
    "jwt",
    "client",
    "consumer",
    "account",
    "shared",
    "service",
    "storage",
    "enc",
    "auth",
    "webhook",
    "root",
    "admin",
    "deploy",
    "ssh",
    "gpg",
    "pgp",
    "aes",
    "sas",
    "subscription",
    "cookie",
    "csrf",
];
/// A last word that makes the key name something about a secret, not the secret
/// (`PASSWORD_FILE`, `TOKEN_URL`, `AWS_ACCESS_KEY_ID`, `SECRET_NAME`, `AUTH_ENABLED`).
const NOT_A_SECRET: &[&str] = &[
    "file",
    "files",
    "path",
    "dir",
    "directory",
    "name",
    "names",
    "id",
    "ids",
    "type",
    "mode",
    "enabled",
    "disabled",
    "required",
    "length",
    "size",
    "ttl",
    "expiry",
    "expires",
    "expiration",
    "timeout",
    "header",
    "field",
    "algorithm",
    "alg",
    "policy",
    "provider",
    "url",
    "uri",
    "host",
    "hostname",
    "port",
    "endpoint",
    "user",
    "username",
    "location",
    "ref",
    "arn",
    "version",
    "method",
    "strategy",
    "scheme",
    "format",
    "prefix",
    "suffix",
    "backend",
    "source",
    "count",
    "limit",
    "rotation",
    "lifetime",
    "tokens",
    "env",
    "var",
    "issuer",
    "audience",
];

/// The words of a key, lower-cased: split at every character that is not a letter or digit,
/// and at camel-case humps (`JWTSigningKey` → `jwt`, `signing`, `key`).
fn words(key: &str) -> Vec<String> {
    let mut out = vec![];
    for part in key.split(|c: char| !c.is_ascii_alphanumeric()) {
        let chars: Vec<char> = part.chars().collect();
        let mut word = String::new();
        for (i, &c) in chars.iter().enumerate() {
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1);
            let hump = c.is_ascii_uppercase()
                && prev.is_some_and(|p| {
                    p.is_ascii_lowercase()
                        || p.is_ascii_digit()
                        || (p.is_ascii_uppercase() && next.is_some_and(|n| n.is_ascii_lowercase()))
                });
            if hump && !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            word.push(c.to_ascii_lowercase());
        }
        if !word.is_empty() {
            out.push(word);
        }
    }
    out
}

/// Whether a key (an environment variable, a build arg, a label, any mapping key, a command
/// line flag without its dashes) names a secret. Keys that name where a secret is or something
/// about it (`*_FILE`, `*_PATH`, `*_URL`, `*_ID`, `*_NAME`, …) do not.
pub fn is_sensitive_key(key: &str) -> bool {
    let words = words(key);
    let Some(last) = words.last() else {
        return false;
    };
    if NOT_A_SECRET.contains(&last.as_str()) {
        return false;
    }
    let secret_key = |w: &str| {
        w.strip_suffix("key")
            .is_some_and(|q| KEY_QUALIFIERS.contains(&q))
    };
    words.iter().enumerate().any(|(i, w)| {
        SECRET_PARTS.iter().any(|p| w.contains(p))
            || SECRET_WORDS.contains(&w.as_str())
            || (w.contains("token") && !w.starts_with("tokeniz") && w != "tokens")
            || (w.ends_with("pass") && !NOT_PASS.contains(&w.as_str()))
            || secret_key(w)
            || (w == "key" && i > 0 && KEY_QUALIFIERS.contains(&words[i - 1].as_str()))
    })
}

/// Whether `KEY=value` (a build arg, a label) holds or names a secret: a sensitive key with a
/// literal or referenced value (`NPM_TOKEN=${NPM_TOKEN}` names one), or a token-shaped value.
pub fn looks_secret(key: &str, value: &str) -> bool {
    let literal = literal_text(value);
    (is_sensitive_key(key) && (is_secret_value(&literal) || interp::has_reference(value)))
        || token_kind(&literal).is_some()
}

/// The text of `value` that would be published literally: references removed, the literal
/// defaults of `${VAR:-default}` and alternatives of `${VAR:+alternative}` kept (both are
/// published as written).
pub fn literal_text(value: &str) -> String {
    interp::with_literals(value).text
}

/// Whether a literal value under a sensitive key is a secret: not empty, not a flag or a small
/// number, not a reference resolved when the container runs (`$VAR`, written `$$VAR`), not a
/// path to a file (`/run/secrets/db`, `/etc/app/credentials.json`).
pub fn is_secret_value(literal: &str) -> bool {
    let v = literal.trim();
    if v.is_empty() || v.starts_with('$') || is_file_path(v) {
        return false;
    }
    let lower = v.to_ascii_lowercase();
    let flag = [
        "true", "false", "yes", "no", "on", "off", "none", "null", "disabled", "enabled",
    ];
    !(flag.contains(&lower.as_str()) || v.bytes().all(|b| b.is_ascii_digit()) && v.len() < 6)
}

/// `/a/b`, `./a`, `~/a`, `/a.json`: a path to a file, not a secret.
fn is_file_path(v: &str) -> bool {
    let rest = ["/", "./", "../", "~/"]
        .iter()
        .find_map(|p| v.strip_prefix(p));
    let Some(rest) = rest else {
        return false;
    };
    let path_chars = v
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b));
    path_chars && (rest.contains('/') || rest.contains('.') || !v.starts_with('/'))
}

/// The words of a command line, as a POSIX shell splits them (quotes removed; no expansion).
pub fn shell_words(line: &str) -> Vec<String> {
    let mut words = vec![];
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                word.extend(chars.by_ref().take_while(|&c| c != '\''));
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => word.extend(chars.next()),
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.extend(chars.next());
            }
            c if c.is_whitespace() || c == ';' || c == '&' || c == '|' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// A secret on a command line (its words, literal text): `--password=x`, `--password x`,
/// `-token=x`, mysql's `-px`, `PGPASSWORD=x cmd`, redis-cli's `-a x`, curl's `-u user:x`.
/// Values resolved when the container runs (`-p$$MYSQL_PASSWORD`) are not secrets.
pub fn command_secret(words: &[String]) -> Option<&'static str> {
    const FOUND: Option<&str> = Some("secret on a command line");
    let tool = |w: &String| w.rsplit('/').next().unwrap_or(w).to_string();
    let mysql = words
        .iter()
        .map(tool)
        .any(|t| t.starts_with("mysql") || t.starts_with("mariadb"));
    let redis_cli = words.iter().map(tool).any(|t| t == "redis-cli");
    let curl = words.iter().map(tool).any(|t| t == "curl");
    for (i, word) in words.iter().enumerate() {
        let next = words.get(i + 1).filter(|n| !n.starts_with('-'));
        let secret_next = next.is_some_and(|v| is_secret_value(v));
        let Some(flag) = word.strip_prefix('-') else {
            // `PGPASSWORD=… psql`: an environment assignment before the command.
            match word.split_once('=') {
                Some((name, value)) if is_sensitive_key(name) && is_secret_value(value) => {
                    return FOUND
                }
                _ => continue,
            }
        };
        let long = flag.starts_with('-');
        let flag = flag.trim_start_matches('-');
        if let Some((name, value)) = flag.split_once('=') {
            if is_sensitive_key(name) && is_secret_value(value) {
                return FOUND;
            }
            continue;
        }
        if (long || flag.len() > 1) && is_sensitive_key(flag) && secret_next {
            return FOUND;
        }
        if !long && mysql {
            // mysql, mysqladmin, mysqldump: `-p<password>` attached (`-p` alone prompts).
            if let Some(value) = flag.strip_prefix('p').filter(|v| !v.is_empty()) {
                if is_secret_value(value) {
                    return FOUND;
                }
            }
        }
        if redis_cli && word == "-a" && secret_next {
            return FOUND;
        }
        let user = word == "-u" || word == "--user";
        if curl && user && next.is_some_and(|v| has_user_password(v)) {
            return FOUND;
        }
    }
    None
}

/// `user:password` with a literal password.
fn has_user_password(v: &str) -> bool {
    v.split_once(':').is_some_and(|(_, pw)| is_secret_value(pw))
}

/// What kind of secret a literal text contains, if any: a known token shape, a password in a
/// URL, a private key, or a high-entropy string.
pub fn token_kind(text: &str) -> Option<&'static str> {
    if text.contains("-----BEGIN") && text.contains("PRIVATE KEY") {
        return Some("private key");
    }
    if has_url_password(text) {
        return Some("password in a URL");
    }
    let without_digests = strip_digests(text);
    for token in without_digests
        .split(|c: char| !(c.is_ascii_alphanumeric() || "+/=_-.".contains(c)))
        .filter(|t| t.len() >= 16)
    {
        if let Some(kind) = token.split('=').find_map(shape) {
            return Some(kind);
        }
        if high_entropy(token) {
            return Some("high-entropy string");
        }
    }
    None
}

const SHAPES: &[(&str, usize, &str)] = &[
    ("ghp_", 30, "GitHub token"),
    ("gho_", 30, "GitHub token"),
    ("ghu_", 30, "GitHub token"),
    ("ghs_", 30, "GitHub token"),
    ("ghr_", 30, "GitHub token"),
    ("github_pat_", 20, "GitHub token"),
    ("glpat-", 20, "GitLab token"),
    ("AKIA", 16, "AWS access key id"),
    ("ASIA", 16, "AWS access key id"),
    ("sk-", 20, "API secret key"),
    ("sk_live_", 16, "Stripe key"),
    ("rk_live_", 16, "Stripe key"),
    ("xoxb-", 20, "Slack token"),
    ("xoxp-", 20, "Slack token"),
    ("xoxa-", 20, "Slack token"),
    ("npm_", 30, "npm token"),
    ("AIza", 30, "Google API key"),
    ("hf_", 30, "Hugging Face token"),
];

fn shape(token: &str) -> Option<&'static str> {
    for (prefix, min_rest, kind) in SHAPES {
        if let Some(rest) = token.strip_prefix(prefix) {
            let body = rest.bytes().filter(|b| b.is_ascii_alphanumeric()).count();
            if body >= *min_rest {
                return Some(kind);
            }
        }
    }
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() == 3 && parts[0].starts_with("eyJ") && parts[1].starts_with("eyJ") {
        return Some("JSON web token");
    }
    None
}

/// Shannon entropy in bits per character.
pub fn entropy(s: &str) -> f64 {
    let mut counts = [0usize; 256];
    for b in s.bytes() {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// A random-looking hex (≥ 32 chars, ≥ 3 bits/char) or base64 (≥ 20 chars, upper, lower and
/// digits, ≥ 4 bits/char) token.
fn high_entropy(token: &str) -> bool {
    let t = token.trim_end_matches('=');
    let hex = t.len() >= 32 && t.bytes().all(|b| b.is_ascii_hexdigit());
    if hex {
        return entropy(t) >= 3.0;
    }
    let mixed = t.bytes().any(|b| b.is_ascii_uppercase())
        && t.bytes().any(|b| b.is_ascii_lowercase())
        && t.bytes().any(|b| b.is_ascii_digit());
    t.len() >= 20 && mixed && !t.contains("..") && entropy(t) >= 4.0
}

fn strip_digests(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("sha256:").or_else(|| rest.find("sha512:")) {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 7..];
        let hex = tail.bytes().take_while(u8::is_ascii_hexdigit).count();
        rest = &tail[hex..];
    }
    out.push_str(rest);
    out
}

/// `scheme://user:password@host` with a literal, non-empty password.
fn has_url_password(text: &str) -> bool {
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let after = &rest[i + 3..];
        let authority = after.split(['/', ' ', '"', '\'']).next().unwrap_or("");
        if let Some((userinfo, _)) = authority.rsplit_once('@') {
            if let Some((_, password)) = userinfo.split_once(':') {
                if !password.is_empty() {
                    return true;
                }
            }
        }
        rest = after;
    }
    false
}

/// A value shown in a finding: no part of it.
pub fn redact(_value: &str) -> String {
    "<redacted>".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_keys_are_recognised() {
        let cases = [
            ("POSTGRES_PASSWORD", true),
            ("dbPassword", true),
            ("GITHUB_TOKEN", true),
            ("ANTHROPIC_API_KEY", true),
            ("apiKey", true),
            ("JWT_SECRET", true),
            ("AUTH", true),
            ("BASIC_AUTH", true),
            ("AWS_SECRET_ACCESS_KEY", true),
            ("ENCRYPTION_KEY", true),
            ("PGPASS", true),
            ("JWT_SIGNING_KEY", true),
            ("JWTSigningKey", true),
            ("STRIPE_API_KEY", true),
            ("SERVICE_PRIVATE_KEY", true),
            ("APP_SECRET", true),
            ("GCP_CREDENTIALS", true),
            ("DB_PW", true),
            ("requirepass", true),
            ("api-token", true),
            ("SECRET_KEY_BASE", true),
            ("POSTGRES_PASSWORD_FILE", false),
            ("AWS_ACCESS_KEY_ID", false),
            ("TOKEN_URL", false),
            ("SECRET_NAME", false),
            ("AUTH_ENABLED", false),
            ("MAX_TOKENS", false),
            ("TOKENIZERS_PARALLELISM", false),
            ("BYPASS_CACHE", false),
            ("CACHE_KEY", false),
            ("AUTHOR", false),
            ("PATH", false),
            ("PORT", false),
            ("LOG_LEVEL", false),
        ];
        for (key, want) in cases {
            assert_eq!(is_sensitive_key(key), want, "{key}");
        }
    }

    #[test]
    fn token_shapes_and_high_entropy_strings_are_found() {
        // A private key's PEM header, assembled so that no source line holds one.
        let key_header = format!(
            "{dashes}BEGIN RSA {label}{dashes}\nMIIE",
            dashes = "-".repeat(5),
            label = "PRIVATE KEY"
        );
        let cases = [
            ("ghp_0123456789abcdefghijABCDEFGHIJ012345", Some("GitHub token")),
            ("key=AKIAIOSFODNN7EXAMPLE", Some("AWS access key id")),
            ("sk-ant-api03-abcdefghijklmnopqrstuvwxyz", Some("API secret key")),
            ("postgres://app:hunter2@db:5432/app", Some("password in a URL")),
            (key_header.as_str(), Some("private key")),
            ("Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MEFCQ0RFRkdI", Some("high-entropy string")),
            ("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Some("high-entropy string")),
            ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", Some("JSON web token")),
            ("postgres://app:@db:5432/app", None),
            ("ghcr.io/oxilith/votive-backend:v1@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", None),
            ("/usr/share/nginx/html/index.html", None),
            ("CMD-SHELL pg_isready -U postgres", None),
            ("redis-server --appendonly yes", None),
        ];
        for (text, want) in cases {
            assert_eq!(token_kind(text), want, "{text}");
        }
    }

    #[test]
    fn literal_text_keeps_defaults_and_drops_references() {
        assert_eq!(literal_text("${A}"), "");
        assert_eq!(literal_text("${A:-hunter2}"), "hunter2");
        assert_eq!(literal_text("x${A}y"), "xy");
    }

    #[test]
    fn no_part_of_a_value_is_shown() {
        for v in ["hunter2", "ghp_0123456789abcdefghijABCDEFGHIJ012345"] {
            assert_eq!(redact(v), "<redacted>");
        }
    }

    #[test]
    fn shell_words_follow_quotes() {
        assert_eq!(
            shell_words(r#"sh -c 'PGPASSWORD=a b psql' "x \"y\"" z\ w;ls"#),
            ["sh", "-c", "PGPASSWORD=a b psql", "x \"y\"", "z w", "ls"]
        );
    }

    #[test]
    fn flags_numbers_and_secret_paths_are_not_secret_values() {
        for (v, want) in [
            ("true", false),
            ("", false),
            ("8080", false),
            ("/run/secrets/db", false),
            ("/etc/gcp/credentials.json", false),
            ("$MYSQL_PASSWORD", false),
            ("/hunter2", true),
            ("hunter2", true),
        ] {
            assert_eq!(is_secret_value(v), want, "{v}");
        }
    }
}
