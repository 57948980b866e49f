//! Credentials: where they come from, the variable names, redaction.

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
    resolve_where(false, host, vars, config, helper)
}

/// [`resolve_with`], `in_actions` saying whether the run is a GitHub Actions job.
fn resolve_where(
    in_actions: bool,
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
        in_actions,
        &|k| vars.get(k).cloned(),
        &|_| {
            config
                .clone()
                .ok_or_else(|| std::io::ErrorKind::NotFound.into())
        },
        helper,
    )
}

fn dave(secret: &str) -> Credentials {
    Credentials {
        credential: Credential::Basic {
            user: "dave".into(),
            secret: Secret::new(secret),
        },
        source: Source::Anonymous,
    }
}

#[test]
fn redaction_sees_through_json_and_percent_escapes() {
    let secret = "Pa55/w0rd+s3cr\u{e9}t";
    let creds = dave(secret);
    let pair_b64 = base64::engine::general_purpose::STANDARD.encode(format!("dave:{secret}"));
    let json = |s: &str| {
        // PHP's json_encode: `/` as `\/`, non-ASCII and (with JSON_HEX_*) `+` as \uXXXX.
        s.replace('/', "\\/")
            .replace('+', "\\u002b")
            .replace('\u{e9}', "\\u00e9")
    };
    let pct = |s: &str, upper: bool| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else if upper {
                    format!("%{b:02X}")
                } else {
                    format!("%{b:02x}")
                }
            })
            .collect::<String>()
    };
    for echoed in [
        format!("denied: {}", json(secret)),
        format!(r#"{{"message":"bad password {}"}}"#, json(secret)),
        format!("denied: {}", pct(secret, true)),
        format!("denied: {}", pct(secret, false)),
        format!("denied: {}", pct(&pct(secret, true), false)),
        format!("user=dave&password={}", pct(secret, true)),
        format!("auth {}", json(&pair_b64)),
        format!("auth {}", pct(&pair_b64, false)),
        format!("Authorization: Basic {}", json(&pair_b64)),
        format!("seen {}", json(&format!("dave:{secret}"))),
    ] {
        let out = creds.redact(&echoed);
        for piece in ["w0rd", "s3cr", &pair_b64[8..20]] {
            assert!(!out.contains(piece), "{echoed} → {out}");
        }
        assert!(!decode_escapes(&out).contains("w0rd"), "{echoed} → {out}");
        assert!(out.contains("<redacted>"), "{echoed} → {out}");
    }
    // Text without a secret keeps its escapes.
    let url = "GET /v2/a%2Fb/manifests/x: not found \\/";
    assert_eq!(creds.redact(url), url);
}

#[test]
fn escapes_decode() {
    assert_eq!(
        decode_escapes(r#"a\/b\u002Bc\u002bd\\e\"f"#),
        "a/b+c+d\\e\"f"
    );
    assert_eq!(decode_escapes("%2B%2b%zz%4"), "++%zz%4");
    assert_eq!(decode_escapes("%252B"), "+");
    assert_eq!(
        decode_escapes(r"\ud83d\ude00 \uD800x \u12"),
        "\u{1f600} \\uD800x \\u12"
    );
    assert_eq!(decode_escapes("caf%C3%A9"), "caf\u{e9}");
}

#[test]
fn every_host_has_its_own_variable() {
    for (host, var) in [
        ("ghcr.io", Some("STEVEDORE_AUTH_GHCR_IO")),
        ("docker.io", Some("STEVEDORE_AUTH_DOCKER_IO")),
        ("localhost:5000", Some("STEVEDORE_AUTH_LOCALHOST_5000")),
        ("127.0.0.1:5000", Some("STEVEDORE_AUTH_127_0_0_1_5000")),
        ("10.0.0.1", Some("STEVEDORE_AUTH_10_0_0_1")),
        (
            "registry.example.com",
            Some("STEVEDORE_AUTH_REGISTRY_EXAMPLE_COM"),
        ),
        (
            "registry-example.com",
            Some("STEVEDORE_AUTH_REGISTRY__EXAMPLE_COM"),
        ),
        (
            "Registry-Example.COM",
            Some("STEVEDORE_AUTH_REGISTRY__EXAMPLE_COM"),
        ),
        (
            "xn--bcher-kva.de:443",
            Some("STEVEDORE_AUTH_XN____BCHER__KVA_DE_443"),
        ),
        ("a-b.c-d:8080", Some("STEVEDORE_AUTH_A__B_C__D_8080")),
        // Names no variable spells: credentials from docker's config.
        ("[::1]:5000", None),
        ("registry.5000", None),
        ("1.2.3:4", None),
    ] {
        assert_eq!(env_var_for(host).as_deref(), var, "{host}");
        if let Some(v) = var {
            assert_eq!(
                host_of_env_var(v).as_deref(),
                Some(normalize_key(host).as_str())
            );
        }
    }
    for bad in [
        "STEVEDORE_AUTH_",
        "STEVEDORE_AUTH_A___B",
        "STEVEDORE_AUTH__A",
        "X_A",
    ] {
        assert_eq!(host_of_env_var(bad), None, "{bad}");
    }
}

#[test]
fn no_two_hosts_share_a_variable() {
    // Every host of a small alphabet, up to 6 characters: each spelled name reads back
    // as its host, so no two hosts read the same variable.
    let alphabet = ['a', '1', '.', '-', ':'];
    let mut hosts = vec![String::new()];
    let mut seen: HashMap<String, String> = HashMap::new();
    for _ in 0..6 {
        hosts = hosts
            .iter()
            .flat_map(|h| alphabet.iter().map(move |c| format!("{h}{c}")))
            .collect();
        for host in &hosts {
            if let Some(var) = env_var_for(host) {
                if let Some(other) = seen.insert(var.clone(), host.clone()) {
                    panic!("{host} and {other} both read {var}");
                }
            }
        }
    }
    assert!(seen.len() > 500, "{}", seen.len());
}

#[test]
fn a_colliding_former_name_is_never_sent_to_the_other_host() {
    let vars = [("STEVEDORE_AUTH_REGISTRY_EXAMPLE_COM", "dot:secret")];
    let c = resolve_with("registry.example.com", &vars, None, &no_helper).unwrap();
    assert_eq!(c.user(), Some("dot"));
    let c = resolve_with("registry-example.com", &vars, None, &no_helper).unwrap();
    assert_eq!(
        c.source,
        Source::Anonymous,
        "the dotted host's secret stays home"
    );
    let c = resolve_with(
        "registry-example.com",
        &[("STEVEDORE_AUTH_REGISTRY__EXAMPLE_COM", "dash:secret")],
        None,
        &no_helper,
    )
    .unwrap();
    assert_eq!(c.user(), Some("dash"));
    // The error for a host that needs credentials names the right variable, and why the
    // one that is set is not used.
    let env = |k: &str| (k == vars[0].0).then(|| vars[0].1.to_string());
    let how = how_to_set("registry-example.com", &env);
    assert!(
        how.contains("set STEVEDORE_AUTH_REGISTRY__EXAMPLE_COM="),
        "{how}"
    );
    assert!(
        how.contains("STEVEDORE_AUTH_REGISTRY_EXAMPLE_COM is set, but that name stands for registry.example.com"),
        "{how}"
    );
    assert!(!how.contains("dot:secret"), "{how}");
    let how = how_to_set("[::1]:5000", &|_| None);
    assert!(how.contains("docker login [::1]:5000"), "{how}");
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
    let vars = [("GITHUB_TOKEN", "ghs_x"), ("GITHUB_ACTOR", "octocat")];
    let c = resolve_where(true, "ghcr.io", &vars, None, &no_helper).unwrap();
    assert_eq!(
        (c.user(), &c.source),
        (Some("octocat"), &Source::GithubToken)
    );
    let c = resolve_where(true, "docker.io", &vars, None, &no_helper).unwrap();
    assert_eq!(c.source, Source::Anonymous);
    // Outside a GitHub Actions job (the fact, not a variable read here), GITHUB_TOKEN is not
    // ghcr.io's credential.
    let c = resolve_where(false, "ghcr.io", &vars, None, &no_helper).unwrap();
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
