//! Hostile registries against the registry client: endless and trickling bodies end with exit
//! 1 in bounded time and memory, a password echoed JSON-escaped or percent-encoded is never
//! printed, and a credential variable goes only to the host its name spells. Against real
//! `docker-registry` instances behind a loopback front that injects the faults
//! (`support/hostile.rs`).

#[path = "support/hostile.rs"]
mod hostile;
mod support;

use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use hostile::{Act, Hostile};
use support::*;
use xtask::oci::layout::Layout;

const USER: &str = "dave";
/// `/` and `+` are what JSON (PHP's `json_encode`) and percent-encoding escape.
const PASSWORD: &str = "Pa55/w0rd+s3cret";
const INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// Runs `xtask -C dir args` with a time limit, polling its peak resident memory (VmHWM).
/// Returns the output, the wall time and the peak in MiB.
fn run_measured(
    dir: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
    limit: Duration,
) -> (Output, Duration, u64) {
    let mut cmd = xtask_command(dir, args, env);
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pump = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let out = pump(Box::new(child.stdout.take().unwrap()));
    let err = pump(Box::new(child.stderr.take().unwrap()));
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            if let Some(kib) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak_kib = peak_kib.max(kib);
            }
        }
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{args:?} took more than {limit:?}: {}",
                String::from_utf8_lossy(&err.join().unwrap())
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    };
    (output, start.elapsed(), peak_kib / 1024)
}

/// A tiny two-platform base image `base:1` pushed into `reg` with skopeo (layers of a few
/// hundred bytes: a transfer of them is due within the idle timeout plus a fraction of a
/// second).
fn push_tiny_base(reg: &Registry) {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::create(dir.path()).unwrap();
    let spec = ImageSpec {
        name: "base".into(),
        platforms: vec![("linux", "amd64"), ("linux", "arm64")],
        shared: vec![(7, 600)],
        own: vec![(3, 400)],
    };
    write_image(&layout, &spec, "1");
    let out = skopeo(
        &["copy", "--all", "--preserve-digests", "--quiet"],
        &["--dest-tls-verify=false".to_string()],
        &[
            &format!("oci:{}:base:1", dir.path().display()),
            &format!("docker://{}/base:1", reg.host),
        ],
    );
    assert!(out.status.success(), "skopeo copy: {}", output_text(&out));
}

/// A workspace with one native `files` image on `base`.
fn base_workspace(base: &str) -> Repo {
    let toml = format!(
        "[release]\nname = \"demo\"\nregistries = [\"127.0.0.1:1/demo\"]\n\
         platforms = [\"linux/amd64\", \"linux/arm64\"]\n\n\
         [images.app]\nnative = {{ files = [{{ src = \"files/hello.txt\", dst = \"/hello.txt\" }}] }}\n\
         base = \"{base}\"\nentrypoint = [\"/bin/sh\"]\n"
    );
    Repo::release(&[
        ("files/hello.txt", b"hello\n".as_slice()),
        (".gitignore", b"target/\n".as_slice()),
        ("images/release.toml", toml.as_bytes()),
    ])
}

fn tools() -> bool {
    have_all(&["docker-registry", "skopeo"])
}

#[test]
fn endless_base_image_manifest_ends_with_exit_1_in_bounded_time_and_memory() {
    if !tools() {
        return;
    }
    let reg = Registry::plain();
    push_tiny_base(&reg);
    let front = Hostile::start(&reg.host, |r| {
        if r.method == "GET" && r.path.contains("/manifests/") {
            Act::Endless(INDEX)
        } else {
            Act::Pass
        }
    });
    let ws = base_workspace(&format!("{}/base:1", front.host));
    let (out, took, peak_mib) = run_measured(
        ws.path(),
        &["build"],
        &[("STEVEDORE_TIMEOUT", "5")],
        Duration::from_secs(30),
    );
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("larger than 4 MiB") && text.contains("manifest or index"),
        "{text}"
    );
    assert!(text.contains(&format!("{}/base", front.host)), "{text}");
    assert!(
        !text.contains("panicked") && !text.contains("stalled"),
        "{text}"
    );
    assert!(took < Duration::from_secs(20), "{took:?}");
    assert!(peak_mib < 200, "peak memory {peak_mib} MiB");
    // Reading stopped at the cap (what the socket buffers held besides).
    assert!(
        front.made_up_bytes() < 64 << 20,
        "{} bytes were sent",
        front.made_up_bytes()
    );
    eprintln!(
        "endless manifest: exit 1 after {took:?}, peak {peak_mib} MiB, {} KiB sent",
        front.made_up_bytes() >> 10
    );
}

/// A release of one image to `front/sec` (the registry behind it), with `-v`.
fn release_through(front: &Hostile, env: &[(&str, &str)]) -> (Output, Duration, u64) {
    let ws = Workspace::new(&[format!("{}/sec", front.host)], &["app"], "");
    let mut env = env.to_vec();
    env.push(("STEVEDORE_TIMEOUT", "5"));
    let (out, took, peak) =
        run_measured(ws.path(), &["-v", "release"], &env, Duration::from_secs(60));
    (out, took, peak)
}

/// A release through a front that answers every GET whose path holds `path` with an endless
/// index: the registry behind it, the front, and the release's outcome, time and peak MiB.
fn release_with_endless_index(path: &'static str) -> (Registry, Hostile, Output, Duration, u64) {
    let reg = Registry::plain();
    let front = Hostile::start(&reg.host, move |r| {
        if r.method == "GET" && r.path.contains(path) {
            Act::Endless(INDEX)
        } else {
            Act::Pass
        }
    });
    let (out, took, peak_mib) = release_through(&front, &[]);
    (reg, front, out, took, peak_mib)
}

#[test]
fn endless_referrers_answer_ends_the_release_with_exit_1_before_any_tag_moves() {
    if !tools() {
        return;
    }
    let (reg, front, out, took, peak_mib) = release_with_endless_index("/referrers/");
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("list referrers of"), "{text}");
    assert!(text.contains("larger than 4 MiB"), "{text}");
    assert!(text.contains(&format!("{}/sec/app", front.host)), "{text}");
    assert!(!text.contains("panicked"), "{text}");
    assert!(peak_mib < 200, "peak memory {peak_mib} MiB");
    assert!(front.made_up_bytes() < 64 << 20);
    assert!(reg.tags("sec/app").is_empty(), "no tag moved");
    eprintln!("endless referrers: exit 1 after {took:?}, peak {peak_mib} MiB");
}

#[test]
fn endless_fallback_tag_index_ends_the_release_with_exit_1() {
    if !tools() {
        return;
    }
    let (reg, _front, out, _, peak_mib) = release_with_endless_index("/manifests/sha256-");
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("larger than 4 MiB"), "{text}");
    assert!(text.contains(":sha256-"), "names the fallback tag: {text}");
    assert!(peak_mib < 200, "peak memory {peak_mib} MiB");
    assert!(reg.tags("sec/app").is_empty(), "no tag moved");
}

#[test]
fn trickling_blob_ends_with_exit_1_in_bounded_time() {
    if !tools() {
        return;
    }
    let reg = Registry::plain();
    push_tiny_base(&reg);
    // One byte every 400 ms: an idle timer of 2 s would never fire.
    let front = Hostile::start(&reg.host, |r| {
        if r.method == "GET" && r.path.contains("/blobs/sha256:") {
            Act::Trickle(Duration::from_millis(400))
        } else {
            Act::Pass
        }
    });
    let ws = base_workspace(&format!("{}/base:1", front.host));
    let (out, took, _) = run_measured(
        ws.path(),
        &["build"],
        &[("STEVEDORE_TIMEOUT", "2"), ("STEVEDORE_RETRIES", "2")],
        Duration::from_secs(30),
    );
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("slower than 16 KiB/s") && text.contains("trickling"),
        "{text}"
    );
    assert!(text.contains("gave up after 2 tries"), "{text}");
    assert!(front.made_up_bytes() > 5, "the front did trickle");
    assert!(took < Duration::from_secs(25), "{took:?}");
    eprintln!("trickling blob: exit 1 after {took:?}");
}

/// The forms a careless registry echoes the password in.
fn json_escaped(s: &str) -> String {
    s.replace('/', "\\/").replace('+', "\\u002b")
}

fn percent_encoded(s: &str, upper: bool) -> String {
    s.bytes()
        .map(|b| match (b.is_ascii_alphanumeric(), upper) {
            (true, _) => (b as char).to_string(),
            (false, true) => format!("%{b:02X}"),
            (false, false) => format!("%{b:02x}"),
        })
        .collect()
}

#[test]
fn password_echoed_json_escaped_or_percent_encoded_is_never_printed() {
    if !have_all(&["docker-registry", "htpasswd", "skopeo"]) {
        return;
    }
    let registry = Registry::with_auth(USER, PASSWORD);
    let pair = format!("{USER}:{PASSWORD}");
    let b64 = base64::engine::general_purpose::STANDARD.encode(&pair);
    let json_body = format!(
        r#"{{"errors":[{{"code":"DENIED","message":"bad password {}"}},{{"code":"DENIED","message":"user {}"}},{{"code":"DENIED","message":"auth {}"}}]}}"#,
        json_escaped(PASSWORD),
        json_escaped(&pair),
        json_escaped(&b64)
    );
    let text_body = format!(
        "denied: password={} pass={} auth={}",
        percent_encoded(PASSWORD, true),
        percent_encoded(PASSWORD, false),
        percent_encoded(&b64, false)
    );
    for (content_type, body) in [("application/json", json_body), ("text/plain", text_body)] {
        let echo = body.clone();
        let front = Hostile::start(&registry.host, move |r| {
            if r.method == "POST" {
                Act::Answer(403, content_type, echo.clone())
            } else {
                Act::Pass
            }
        });
        let var = format!(
            "STEVEDORE_AUTH_127_0_0_1_{}",
            front.host.rsplit(':').next().unwrap()
        );
        let (out, _, _) = release_through(&front, &[(&var, &pair)]);
        let text = output_text(&out);
        assert_eq!(out.status.code(), Some(1), "{text}");
        assert!(text.contains("403"), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
        assert!(
            front.requests().iter().any(|r| r.method == "POST"),
            "the echo was sent"
        );
        let decoded = xtask::registry::credentials::decode_escapes(&text);
        for piece in ["w0rd", "s3cret", &b64[4..16], &b64[16..]] {
            assert!(
                !text.contains(piece),
                "{content_type}: {piece:?} leaked: {text}"
            );
            assert!(
                !decoded.contains(piece),
                "{content_type}: {piece:?} leaked: {text}"
            );
        }
        for form in [
            json_escaped(PASSWORD),
            percent_encoded(PASSWORD, true),
            percent_encoded(PASSWORD, false),
            json_escaped(&b64),
        ] {
            assert!(!text.contains(&form), "{form} leaked: {text}");
        }
    }
}

#[test]
fn colliding_registry_spellings_are_refused_at_plan() {
    let ws = Workspace::new(
        &[
            "registry.example.com/a".to_string(),
            "Registry.Example.com/b".to_string(),
        ],
        &["app"],
        "",
    );
    let out = ws.xtask(&["plan"], &[]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("release.registries[1]"), "{text}");
    assert!(text.contains("same credential variable"), "{text}");

    // A dot and a dash no longer meet in one name: each host has its own variable, and the
    // workflow lists each once.
    let ws = Workspace::new(
        &[
            "registry.example.com/a".to_string(),
            "registry-example.com/b".to_string(),
            "registry-example.com/c".to_string(),
        ],
        &["app"],
        "",
    );
    let out = ws.xtask(&["plan"], &[]);
    assert_ok(&out);
    let out = ws.xtask(&["ci", "generate", "--out", "wf"], &[]);
    assert_ok(&out);
    let yml = std::fs::read_to_string(ws.path().join("wf/release.yml")).unwrap();
    for key in [
        "STEVEDORE_AUTH_REGISTRY_EXAMPLE_COM:",
        "STEVEDORE_AUTH_REGISTRY__EXAMPLE_COM:",
    ] {
        assert!(yml.contains(key), "{key}: {yml}");
    }
    // No step's env: lists a key twice (a run of `KEY: ${{ secrets.… }}` lines is one env:).
    let mut keys: Vec<&str> = Vec::new();
    for line in yml.lines().map(str::trim_start) {
        if !line.contains(": ${{ secrets.") {
            keys.clear();
            continue;
        }
        let key = line.split(':').next().unwrap();
        assert!(!keys.contains(&key), "{key} twice in one env: {yml}");
        keys.push(key);
    }
}

#[test]
fn a_secret_goes_only_to_the_host_its_variable_spells() {
    if !have_all(&["docker-registry", "htpasswd"]) {
        return;
    }
    let registry = Registry::with_auth(USER, PASSWORD);
    // stevedore reaches `registry-example.test` and `registry.example.test` through this
    // front as its HTTP proxy, which records who got which Authorization header.
    let front = Hostile::start(&registry.host, |r| {
        if r.method == "CONNECT" {
            Act::Answer(502, "text/plain", "no tunnels".into())
        } else {
            Act::Pass
        }
    });
    let proxy = format!("http://{}", front.host);
    let pair = format!("{USER}:{PASSWORD}");
    let b64 = base64::engine::general_purpose::STANDARD.encode(&pair);
    let port = registry.port;
    let dotted_var = format!("STEVEDORE_AUTH_REGISTRY_EXAMPLE_TEST_{port}");
    let dashed_var = format!("STEVEDORE_AUTH_REGISTRY__EXAMPLE_TEST_{port}");
    let check = |host: &str, var: &str| {
        let ws = Workspace::new(
            &[format!("{host}/sec")],
            &["app"],
            &format!("insecure-registries = [\"{host}\"]"),
        );
        let env = [
            (var, pair.as_str()),
            ("http_proxy", proxy.as_str()),
            ("HTTP_PROXY", proxy.as_str()),
            ("https_proxy", proxy.as_str()),
            ("HTTPS_PROXY", proxy.as_str()),
            ("NO_PROXY", ""),
            ("no_proxy", ""),
            ("STEVEDORE_TIMEOUT", "5"),
        ];
        let out = ws.xtask(&["login-check"], &env);
        output_text(&out)
    };
    let sent_to = |host: &str| {
        front
            .requests()
            .iter()
            .filter(|r| {
                r.host == host && r.authorization.as_deref().is_some_and(|a| a.contains(&b64))
            })
            .count()
    };

    // The former name of the dashed host is the dotted host's variable: not sent.
    let dashed = format!("registry-example.test:{port}");
    let text = check(&dashed, &dotted_var);
    assert!(
        front.requests().iter().any(|r| r.host == dashed),
        "the dashed host was asked: {text}"
    );
    assert_eq!(sent_to(&dashed), 0, "{text}");
    assert!(text.contains("anonymous"), "{text}");
    assert!(!text.contains(PASSWORD), "{text}");

    // Its own variable: sent, and accepted.
    let text = check(&dashed, &dashed_var);
    assert!(sent_to(&dashed) > 0, "{text}");
    assert!(text.contains("credentials accepted"), "{text}");

    // The dotted host reads the dotted variable.
    let dotted = format!("registry.example.test:{port}");
    let text = check(&dotted, &dotted_var);
    assert!(sent_to(&dotted) > 0, "{text}");
    assert!(text.contains("credentials accepted"), "{text}");
}

#[test]
fn token_realm_on_loopback_is_refused_for_a_registry_that_is_not() {
    if !have_all(&["docker-registry", "openssl"]) {
        return;
    }
    use support::token::{TokenOptions, TokenServer, TokenUser};
    let server = TokenServer::start(TokenOptions {
        users: vec![TokenUser::new(USER, PASSWORD, &["pull", "push"])],
        ttl: Duration::from_secs(300),
    });
    // The registry's challenge names a token realm on 127.0.0.1.
    let registry = server.registry_with((USER, PASSWORD), false);
    assert!(server.realm.contains("127.0.0.1"), "{}", server.realm);
    let front = Hostile::start(&registry.host, |r| {
        if r.method == "CONNECT" {
            Act::Answer(502, "text/plain", "no tunnels".into())
        } else {
            Act::Pass
        }
    });
    let proxy = format!("http://{}", front.host);
    let pair = format!("{USER}:{PASSWORD}");
    let login_check = |host: &str, var: &str| {
        let ws = Workspace::new(
            &[format!("{host}/sec")],
            &["app"],
            &format!("insecure-registries = [\"{host}\"]"),
        );
        let env = [
            (var, pair.as_str()),
            ("http_proxy", proxy.as_str()),
            ("HTTP_PROXY", proxy.as_str()),
            ("https_proxy", proxy.as_str()),
            ("HTTPS_PROXY", proxy.as_str()),
            ("NO_PROXY", ""),
            ("no_proxy", ""),
            ("STEVEDORE_TIMEOUT", "5"),
        ];
        let out = ws.xtask(&["login-check"], &env);
        (out.status.code(), output_text(&out))
    };

    // The registry, reached as `registry.example.test` (not loopback), sends stevedore to a
    // realm on loopback: refused, nothing asked of the token server.
    let host = format!("registry.example.test:{}", registry.port);
    let var = format!("STEVEDORE_AUTH_REGISTRY_EXAMPLE_TEST_{}", registry.port);
    let (code, text) = login_check(&host, &var);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("token realm"), "{text}");
    assert!(text.contains("loopback host"), "{text}");
    assert!(text.contains(&server.realm), "names the realm: {text}");
    assert!(!text.contains(PASSWORD), "{text}");
    assert!(server.requests().is_empty(), "{:?}", server.requests());

    // The same registry reached on loopback (no proxy) may use its loopback token server.
    let ws = Workspace::new(&[format!("{}/sec", registry.host)], &["app"], "");
    let var = format!("STEVEDORE_AUTH_127_0_0_1_{}", registry.port);
    let out = ws.xtask(&["login-check"], &[(&var, &pair)]);
    assert_ok(&out);
    assert!(!server.requests().is_empty());
}
