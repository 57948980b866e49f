//! Parsers and policies of the registry client.

use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;

use super::transport::parse_http_date;
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
    let push = r#"{"access":[{"type":"repository","name":"org/app","actions":["pull","push"]}]}"#;
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

#[test]
fn token_realms_on_loopback_or_link_local_hosts_are_refused_for_other_registries() {
    use super::token::{local_kind, realm_host_refused};
    for (realm, registry, refused) in [
        ("auth.example.com", "registry.example.com", None),
        ("127.0.0.1", "registry.example.com", Some("loopback")),
        ("127.8.9.10", "registry.example.com", Some("loopback")),
        ("localhost", "registry.example.com", Some("loopback")),
        (
            "metadata.localhost.",
            "registry.example.com",
            Some("loopback"),
        ),
        ("[::1]", "registry.example.com", Some("loopback")),
        ("0.0.0.0", "registry.example.com", Some("loopback")),
        (
            "[::ffff:127.0.0.1]",
            "registry.example.com",
            Some("loopback"),
        ),
        (
            "169.254.169.254",
            "registry.example.com",
            Some("link-local"),
        ),
        ("[fe80::1]", "registry.example.com", Some("link-local")),
        ("[febf::1]", "203.0.113.7", Some("link-local")),
        (
            "[::ffff:169.254.169.254]",
            "registry.example.com",
            Some("link-local"),
        ),
        ("[fec0::1]", "registry.example.com", None),
        ("10.0.0.1", "registry.example.com", None),
        // The registry is on such a host itself: a local token server is fine.
        ("127.0.0.1", "127.0.0.1", None),
        ("localhost", "[::1]", None),
        ("169.254.1.1", "169.254.1.2", None),
    ] {
        assert_eq!(
            realm_host_refused(realm, registry),
            refused,
            "{realm} for {registry}"
        );
    }
    assert_eq!(local_kind("example.com"), None);
    assert_eq!(local_kind("[2001:db8::1]"), None);
}

#[test]
fn error_summaries_are_redacted_before_they_are_shortened() {
    // A long message with the secret at its end: shortened after redaction, no piece of the
    // secret survives the cut.
    let creds = super::credentials::Credentials {
        credential: super::credentials::Credential::Basic {
            user: "dave".into(),
            secret: super::credentials::Secret::new("Pa55/w0rd+s3cret"),
        },
        source: super::credentials::Source::Anonymous,
    };
    let body = format!(
        r#"{{"errors":[{{"code":"DENIED","message":"{} Pa55\/w0rd\u002bs3cret"}}]}}"#,
        "x".repeat(290)
    );
    let text = super::transport::error_text(body.as_bytes());
    let shown = super::transport::shorten(&creds.redact(&text));
    assert!(
        !shown.contains("Pa55") && !shown.contains("w0rd"),
        "{shown}"
    );
    assert!(shown.chars().count() <= 301, "{}", shown.len());
}
