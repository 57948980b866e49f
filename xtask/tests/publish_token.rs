//! The bearer-token flow of GHCR and Docker Hub, for real: a `docker-registry` with
//! `auth.token` trusting a token server run by the test (see `support::token`). `GET /v2/` →
//! 401 `WWW-Authenticate: Bearer realm=…,service=…,scope=…` → token request with the user's
//! basic credentials → `Authorization: Bearer <JWT>` on every registry request.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;
use support::proxy::{Fault, Proxy};
use support::token::{TokenOptions, TokenServer, TokenUser};
use support::*;

const PUSHER: (&str, &str) = ("pusher", "pusher-Pa55-9f3k");
const READER: (&str, &str) = ("reader", "reader-Pa55-7q2z");

fn server(ttl: Duration) -> TokenServer {
    TokenServer::start(TokenOptions {
        users: vec![
            TokenUser::new(PUSHER.0, PUSHER.1, &["pull", "push"]),
            TokenUser::new(READER.0, READER.1, &["pull"]),
        ],
        ttl,
    })
}

fn metadata(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// No password, no `user:password` in base64 and no token the server issued in `text`.
fn assert_no_secrets(text: &str, server: &TokenServer) {
    for (user, password) in [PUSHER, READER] {
        assert!(!text.contains(password), "password leaked:\n{text}");
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        assert!(!text.contains(&b64), "encoded credentials leaked:\n{text}");
    }
    for token in server.tokens() {
        // The signature alone would do to spot it, and the claims are not secret.
        let sig = token.rsplit('.').next().unwrap();
        assert!(!text.contains(sig), "a token leaked:\n{text}");
    }
}

fn auth_var(host: &str) -> String {
    format!("STEVEDORE_AUTH_{}", host.replace(['.', ':'], "_"))
}

/// Two images to a token registry with credentials from a docker `config.json`: every tag
/// equals the layout's index (`skopeo`, doing the token flow itself, checks); the layer the
/// images share is mounted across repositories, the token covering both (pull on the source).
#[test]
fn push_with_bearer_tokens_from_docker_config() {
    let server = server(Duration::from_secs(300));
    let reg = server.registry(PUSHER);
    let ws = Workspace::new(&[format!("{}/team", reg.host)], &["app", "web"], "");
    let layout = ws.layout();
    let app = write_image(&layout, &small_image("app", 1), VERSION);
    let web = write_image(&layout, &small_image("web", 2), VERSION);
    let cfg = docker_config(&[(&reg.host, PUSHER.0, PUSHER.1)]);
    let meta = ws.path().join("meta.json");
    let out = ws.xtask(
        &["-v", "push", "--metadata-file", meta.to_str().unwrap()],
        &[("DOCKER_CONFIG", cfg.path().to_str().unwrap())],
    );
    assert!(
        out.status.success(),
        "{}\n--- registry log\n{}\n--- token requests\n{:#?}",
        output_text(&out),
        reg.log(),
        server.requests()
    );
    let text = output_text(&out);
    assert_no_secrets(&text, &server);
    support::assert_tags(&reg, "team/app", &app.index_bytes);
    support::assert_tags(&reg, "team/web", &web.index_bytes);

    // 2 images × (2 configs + 1 shared + 2 own layers) = 10 blobs. The layer both images share
    // is uploaded to the first repository and mounted into the second, with a token that grants
    // push on the target and pull on the source (one token request with both scopes).
    let m = metadata(&meta);
    let counts = (
        m["uploads"]["pushed"].as_u64(),
        m["uploads"]["mounted"].as_u64(),
    );
    assert_eq!(counts, (Some(9), Some(1)), "{m:#}\n{text}");
    assert!(!text.contains("refused to mount"), "{text}");
    let both: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.scopes.len() == 2)
        .collect();
    assert!(
        both.iter().any(|r| {
            let (target, source) = (&r.scopes[0], &r.scopes[1]);
            r.status == 200
                && [target, source]
                    .iter()
                    .all(|s| s.starts_with("repository:team/"))
                && target.ends_with(":pull,push")
                && source.ends_with(":pull")
                && target != source
        }),
        "no token request with both scopes: {:#?}",
        server.requests()
    );

    let requests = server.requests();
    assert!(!requests.is_empty());
    for r in &requests {
        assert_eq!(r.status, 200, "{requests:#?}");
    }
    // stevedore's token requests (skopeo's ask for pull only) asked for push on its
    // repositories and got it.
    let push_grants: Vec<&String> = requests
        .iter()
        .flat_map(|r| &r.granted)
        .filter(|(_, acts)| acts.iter().any(|a| a == "push"))
        .map(|(name, _)| name)
        .collect();
    assert!(
        push_grants.iter().any(|n| *n == "team/app"),
        "{requests:#?}"
    );
    assert!(
        push_grants.iter().any(|n| *n == "team/web"),
        "{requests:#?}"
    );
}

/// Tokens valid for 2 s, and a registry slowed down (150 ms per request) so that the release
/// takes longer than that: tokens expire mid-release, the registry answers 401, stevedore
/// fetches a new token and goes on. Credentials from `STEVEDORE_AUTH_<HOST>`.
#[test]
fn expiring_tokens_are_refreshed_mid_release() {
    let ttl = Duration::from_secs(2);
    let server = server(ttl);
    let reg = server.registry(PUSHER);
    let proxy = Proxy::start(&reg.host, |r| {
        if r.path != "/v2/" {
            std::thread::sleep(Duration::from_millis(150));
        }
        Fault::Pass
    });
    let ws = Workspace::new(std::slice::from_ref(&proxy.host), &["app", "web"], "");
    let layout = ws.layout();
    let spec = |name: &str, seed| ImageSpec {
        name: name.into(),
        platforms: vec![("linux", "amd64"), ("linux", "arm64")],
        shared: vec![(7, 100_000)],
        own: vec![(seed, 100_000), (seed + 50, 50_000)],
    };
    let app = write_image(&layout, &spec("app", 21), VERSION);
    let web = write_image(&layout, &spec("web", 22), VERSION);
    let var = auth_var(&proxy.host);
    let secret = format!("{}:{}", PUSHER.0, PUSHER.1);
    let start = Instant::now();
    let out = ws.xtask(&["-v", "push"], &[(&var, &secret)]);
    let took = start.elapsed();
    let requests = server.requests();
    assert!(
        out.status.success(),
        "{}\n--- registry log\n{}\n--- proxy log\n{:#?}",
        output_text(&out),
        reg.log(),
        proxy.log()
    );
    assert_no_secrets(&output_text(&out), &server);
    support::assert_tags(&reg, "app", &app.index_bytes);
    support::assert_tags(&reg, "web", &web.index_bytes);
    // The registry refused expired tokens mid-release (not only the first, token-less
    // `/v2/` probes), and new ones were fetched.
    let log = proxy.log();
    let refused: Vec<&String> = log
        .iter()
        .filter(|l| l.ends_with("-> 401") && !l.contains(" /v2/ "))
        .collect();
    eprintln!(
        "push took {took:?}; {} token requests; {} requests refused with 401",
        requests.len(),
        refused.len()
    );
    assert!(took > ttl, "the push took only {took:?}");
    assert!(!refused.is_empty(), "no token expired: {log:#?}");
    assert!(requests.len() > 2, "{requests:#?}");
}

/// A user whose tokens grant only pull: the push fails naming the registry and repository and
/// saying push was refused, and no tag moves; `login-check` says push is not granted for that
/// user, and granted for the other.
#[test]
fn pull_only_token_refuses_push_and_login_check_says_so() {
    let server = server(Duration::from_secs(300));
    let reg = server.registry(PUSHER);
    let ws = Workspace::new(&[format!("{}/team", reg.host)], &["app"], "");
    write_image(&ws.layout(), &small_image("app", 3), VERSION);
    let var = auth_var(&reg.host);
    let reader = format!("{}:{}", READER.0, READER.1);
    let start = Instant::now();
    let out = ws.xtask(&["-v", "push"], &[(&var, &reader)]);
    assert!(!out.status.success(), "{}", output_text(&out));
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
    let text = output_text(&out);
    eprintln!("{text}");
    assert_no_secrets(&text, &server);
    assert!(text.contains(&format!("{}/team/app", reg.host)), "{text}");
    assert!(text.contains("push"), "{text}");
    assert!(text.contains("no push access"), "{text}");
    assert!(text.contains("no tag was moved"), "{text}");
    assert!(reg.tags("team/app").is_empty(), "a tag moved");

    let out = ws.xtask(&["-v", "login-check"], &[(&var, &reader)]);
    assert!(!out.status.success(), "{}", output_text(&out));
    let text = output_text(&out);
    assert_no_secrets(&text, &server);
    assert!(text.contains("(user reader)"), "{text}");
    assert!(text.contains("does not grant push"), "{text}");

    let pusher = format!("{}:{}", PUSHER.0, PUSHER.1);
    let out = ws.xtask(&["-v", "login-check"], &[(&var, &pusher)]);
    assert_ok(&out);
    let text = output_text(&out);
    assert_no_secrets(&text, &server);
    assert!(text.contains("push token granted"), "{text}");

    // Wrong password: the token server refuses; said so, without the secret.
    let out = ws.xtask(&["-v", "login-check"], &[(&var, "pusher:not-the-Pa55word")]);
    assert!(!out.status.success());
    let text = output_text(&out);
    assert!(!text.contains("not-the-Pa55word"), "{text}");
    assert!(text.contains("refused"), "{text}");
}
