//! Recognising secret-looking values: sensitive key names, well-known token shapes, and
//! high-entropy strings. Compose runs a secret scanner (DefangLabs/secret-detector) over the
//! files it publishes; this is a small, dependency-free counterpart with the same intent.

use super::interp;

/// Whether an environment variable or config key names a secret (`DB_PASSWORD`, `apiKey`, …).
/// `*_FILE`/`*_PATH`/`*_DIR` keys name where a secret is, not the secret.
pub fn is_sensitive_key(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    if ["_file", "_path", "_dir", "_url_file"]
        .iter()
        .any(|s| lower.ends_with(s))
    {
        return false;
    }
    const PARTS: &[&str] = &[
        "password",
        "passwd",
        "passphrase",
        "secret",
        "token",
        "api_key",
        "apikey",
        "api-key",
        "private_key",
        "privatekey",
        "access_key",
        "credential",
    ];
    const WORDS: &[&str] = &["auth", "pwd", "pass", "pat"];
    PARTS.iter().any(|p| lower.contains(p))
        || lower
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| WORDS.contains(&w))
}

/// The text of `value` that would be published literally: references removed, the literal
/// defaults of `${VAR:-default}` kept (a default is published as written).
pub fn literal_text(value: &str) -> String {
    interp::with_defaults(value).text
}

/// Whether a literal value under a sensitive key is a secret (not empty, not a flag or a number,
/// not a path to a mounted secret).
pub fn is_secret_value(literal: &str) -> bool {
    let v = literal.trim();
    if v.is_empty() || v.starts_with("/run/secrets/") {
        return false;
    }
    let lower = v.to_ascii_lowercase();
    let flag = [
        "true", "false", "yes", "no", "on", "off", "none", "null", "disabled", "enabled",
    ];
    !(flag.contains(&lower.as_str()) || v.bytes().all(|b| b.is_ascii_digit()) && v.len() < 6)
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

/// A value shown in a finding: never in full.
pub fn redact(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() >= 12 {
        format!("{}…", chars[..2].iter().collect::<String>())
    } else {
        "<redacted>".to_string()
    }
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
            ("POSTGRES_PASSWORD_FILE", false),
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
    fn values_are_never_shown_in_full() {
        assert_eq!(redact("hunter2"), "<redacted>");
        assert_eq!(redact("ghp_0123456789abcdef"), "gh…");
    }

    #[test]
    fn flags_numbers_and_secret_paths_are_not_secret_values() {
        for (v, want) in [
            ("true", false),
            ("", false),
            ("8080", false),
            ("/run/secrets/db", false),
            ("hunter2", true),
        ] {
            assert_eq!(is_secret_value(v), want, "{v}");
        }
    }
}
