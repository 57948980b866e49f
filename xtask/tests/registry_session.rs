//! One release, one registry session: a real `docker-registry` with bearer-token auth (the token
//! server of `support::token`), reached through a counting loopback proxy. The release pulls
//! its base image from that registry, its compose file names the same image (which the compose
//! stage pins to its digest), and it pushes the image, its attestation and the compose
//! artifact there. The token server records every token request; the proxy every request.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use support::proxy::{Fault, Proxy};
use support::token::{TokenOptions, TokenServer, TokenUser};
use support::*;
use xtask::oci::layout::Layout;

const PUSHER: (&str, &str) = ("pusher", "pusher-Pa55-9f3k");

/// Copies `small_image(name)` into `reg` as `repo:tag` with skopeo (which does the token flow
/// itself, with the pusher's credentials).
fn push_with_skopeo(reg: &Registry, name: &str, repo: &str, tag: &str) {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::create(dir.path()).unwrap();
    write_image(&layout, &small_image(name, 3), tag);
    let out = skopeo(
        &["copy", "--all", "--preserve-digests", "--quiet"],
        &[
            "--dest-tls-verify=false".to_string(),
            format!("--dest-creds={}:{}", PUSHER.0, PUSHER.1),
        ],
        &[
            &format!("oci:{}:{name}:{tag}", dir.path().display()),
            &format!("docker://{}/{repo}:{tag}", reg.host),
        ],
    );
    assert!(out.status.success(), "skopeo copy: {}", output_text(&out));
}

/// A workspace releasing `app` (native, on `base`) to `<host>/acme`, with a compose artifact
/// whose file names `app` and the base image itself.
fn workspace(host: &str, base: &str) -> Repo {
    let toml = format!(
        "[release]\nname = \"demo\"\nregistries = [\"{host}/acme\"]\nplatforms = [\"linux/amd64\"]\n\
         tags = [\"type=semver,pattern=v{{{{version}}}}\"]\n\n\
         [images.app]\nnative = {{ files = [{{ src = \"files/hello.txt\", dst = \"/hello.txt\" }}] }}\n\
         base = \"{base}\"\nentrypoint = [\"/bin/sh\"]\n\n\
         [compose]\nfiles = [\"compose.yaml\"]\nrepository = \"stack-oci\"\n"
    );
    let compose = format!(
        "services:\n  app:\n    image: {host}/acme/app:${{TAG:-latest}}\n    network_mode: none\n\
         \x20 base:\n    image: {base}\n    network_mode: none\n    command: [\"echo\", \"base runs\"]\n"
    );
    Repo::release(&[
        ("files/hello.txt", b"hello\n".as_slice()),
        (".gitignore", b"target/\n".as_slice()),
        ("images/release.toml", toml.as_bytes()),
        ("compose.yaml", compose.as_bytes()),
    ])
}

/// Each token is asked for once per registry and scope, the runtime starts once, and the
/// registry is connected to (probed, its bearer challenge read) once, for a whole release that
/// pulls a base image, pins a compose image and pushes.
#[test]
fn a_release_opens_one_registry_session() {
    if !have_all(&["docker-registry", "skopeo", "openssl"]) {
        return;
    }
    let server = TokenServer::start(TokenOptions {
        users: vec![TokenUser::new(PUSHER.0, PUSHER.1, &["pull", "push"])],
        ttl: Duration::from_secs(600),
    });
    let reg = server.registry(PUSHER);
    push_with_skopeo(&reg, "base", "library/base", "1");
    let proxy = Proxy::start(&reg.host, |_| Fault::Pass);
    let base = format!("{}/library/base:1", proxy.host);
    let repo = workspace(&proxy.host, &base);
    let auth = format!(
        "STEVEDORE_AUTH_{}",
        proxy.host.replace(['.', ':'], "_").to_ascii_uppercase()
    );
    let secret = format!("{}:{}", PUSHER.0, PUSHER.1);

    let before = server.requests().len();
    let out = repo.xtask(&["-v", "release"], &[(&auth, &secret)]);
    let text = output_text(&out);
    assert!(
        out.status.success(),
        "{text}\n--- proxy log\n{:#?}",
        proxy.log()
    );
    // The release did what this test counts for: pulled the base, pinned the compose image,
    // pushed the image and the compose artifact.
    assert!(text.contains("pulling"), "{text}");
    let pushed: Vec<&str> = text.lines().filter(|l| l.starts_with("pushed ")).collect();
    assert!(
        pushed.iter().any(|l| l.contains("/acme/app:v1.2.3")),
        "{text}"
    );
    assert!(
        pushed.iter().any(|l| l.contains("/acme/stack-oci:v1.2.3")),
        "{text}"
    );

    // Every token request of the release, by the scopes it asked for: each exactly once.
    let mut asked: BTreeMap<Vec<String>, usize> = BTreeMap::new();
    for r in &server.requests()[before..] {
        assert_eq!(r.status, 200, "{:#?}", server.requests());
        *asked.entry(r.scopes.clone()).or_default() += 1;
    }
    let twice: Vec<_> = asked.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "tokens asked for more than once: {twice:#?}\n{text}"
    );
    // The base image's pull token served both the build's pull and the compose stage's pin.
    let base_pull = vec!["repository:library/base:pull".to_string()];
    assert_eq!(asked.get(&base_pull), Some(&1), "{asked:#?}");
    for repo in ["acme/app", "acme/stack-oci"] {
        let push = vec![format!("repository:{repo}:pull,push")];
        assert_eq!(asked.get(&push), Some(&1), "{repo}: {asked:#?}");
    }

    // One runtime and one connection handshake for the registry, from the `-v` log.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let count = |needle: &str| stderr.lines().filter(|l| l.contains(needle)).count();
    assert_eq!(
        count("registry session: async runtime started"),
        1,
        "{stderr}"
    );
    assert_eq!(
        count(&format!("registry session: connected to {}", proxy.host)),
        1,
        "{stderr}"
    );
    // …and from the proxy: the scheme probe and the bearer challenge are the only requests to
    // `/v2/` itself, once each.
    let probes = proxy
        .log()
        .iter()
        .filter(|l| l.starts_with("GET /v2/ "))
        .count();
    assert_eq!(probes, 2, "{:#?}", proxy.log());
}
