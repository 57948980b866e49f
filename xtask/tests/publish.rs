//! `cargo xtask push` / `merge` / `login-check` against real registries started by the tests
//! (see `support`): every tag in every registry, equal to the layout's bytes; all-or-nothing
//! tagging; resume without re-uploading; no secret in any output.

mod support;

use std::path::Path;

use serde_json::Value;
use support::proxy::{Fault, Proxy};
use support::*;

fn metadata(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn plain_http_push_then_noop_repush() {
    let reg = Registry::plain();
    let ws = Workspace::new(&[format!("{}/team", reg.host)], &["app", "web"], "");
    let layout = ws.layout();
    let app = write_image(&layout, &small_image("app", 1), VERSION);
    let web = write_image(&layout, &small_image("web", 2), VERSION);
    let meta = ws.path().join("meta.json");
    let out = ws.xtask(&["push", "--metadata-file", meta.to_str().unwrap()], &[]);
    assert_ok(&out);
    support::assert_tags(&reg, "team/app", &app.index_bytes);
    support::assert_tags(&reg, "team/web", &web.index_bytes);
    let m = metadata(&meta);
    // 2 images × (2 configs + 1 shared + 2 own layers) = 10 blob pushes, but the shared layer is
    // uploaded once and mounted into the second repository.
    assert_eq!(m["uploads"]["pushed"], 9, "{m:#}");
    assert_eq!(m["uploads"]["mounted"], 1, "{m:#}");
    assert_eq!(m["images"]["app"]["digest"], app.index.digest.to_string());
    assert_eq!(
        m["images"]["app"]["platforms"]["linux/arm64"],
        app.manifests[1].digest.to_string()
    );
    let refs: Vec<&str> = m["images"]["web"]["references"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        refs.contains(&format!("{}/team/web:v1.2.3", reg.host).as_str()),
        "{refs:?}"
    );
    assert!(refs.contains(&format!("{}/team/web@{}", reg.host, web.index.digest).as_str()));

    // A no-op re-push uploads nothing and moves nothing (here as a GitHub Actions job, which
    // also writes the step outputs and summary).
    let head = ws.git(&["rev-parse", "HEAD"]);
    let gh_out = ws.path().join("gh-output");
    let gh_summary = ws.path().join("gh-summary.md");
    let start = std::time::Instant::now();
    let out = ws.xtask(
        &["push", "--metadata-file", meta.to_str().unwrap()],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_REF", "refs/tags/v1.2.3"),
            ("GITHUB_SHA", &head),
            ("GITHUB_OUTPUT", gh_out.to_str().unwrap()),
            ("GITHUB_STEP_SUMMARY", gh_summary.to_str().unwrap()),
        ],
    );
    assert_ok(&out);
    let m = metadata(&meta);
    assert_eq!(m["uploads"]["pushed"], 0, "{m:#}");
    assert_eq!(m["uploads"]["mounted"], 0, "{m:#}");
    assert_eq!(m["uploads"]["exists"], 10, "{m:#}");
    assert_eq!(m["tags_moved"], 0, "{m:#}");
    assert_eq!(m["manifests_pushed"], 0, "{m:#}");
    assert!(start.elapsed().as_secs_f64() < 5.0, "{:?}", start.elapsed());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("0 blob(s) pushed"), "{stderr}");
    let outputs = std::fs::read_to_string(&gh_out).unwrap();
    assert!(
        outputs.contains(&format!("\"app\":\"{}\"", app.index.digest)),
        "{outputs}"
    );
    assert!(
        outputs.contains(&format!("{}/team/web:latest", reg.host)),
        "{outputs}"
    );
    let summary = std::fs::read_to_string(&gh_summary).unwrap();
    assert!(
        summary.contains("| app | linux/amd64, linux/arm64 |"),
        "{summary}"
    );
}

fn refs_of(m: &Value, image: &str) -> Vec<String> {
    m["images"][image]["references"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// Two images × two platforms to two registries at once, one of them with
/// htpasswd auth through a docker config.json `auths` entry; every tag equals the layout's
/// index bytes; `skopeo copy` of a tag gives back the layout's blobs; no secret in any output.
#[test]
fn two_registries_one_with_auth_from_docker_config() {
    let open = Registry::plain();
    let locked = Registry::with_auth("pusher", "s3cret-Pa55word");
    let ws = Workspace::new(
        &[format!("{}/org", open.host), locked.host.clone()],
        &["app", "web"],
        "",
    );
    let layout = ws.layout();
    let app = write_image(&layout, &small_image("app", 3), VERSION);
    let web = write_image(&layout, &small_image("web", 4), VERSION);
    let cfg = docker_config(&[(&locked.host, "pusher", "s3cret-Pa55word")]);
    let out = ws.xtask(
        &["-v", "push"],
        &[("DOCKER_CONFIG", cfg.path().to_str().unwrap())],
    );
    assert_ok(&out);
    let text = output_text(&out);
    assert!(!text.contains("s3cret-Pa55word"), "secret leaked:\n{text}");
    let b64 = std::fs::read_to_string(cfg.path().join("config.json")).unwrap();
    let b64 = b64
        .split("\"auth\": \"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert!(!text.contains(b64), "encoded secret leaked:\n{text}");
    assert!(
        text.contains("config.json"),
        "-v names the credential source:\n{text}"
    );

    support::assert_tags(&open, "org/app", &app.index_bytes);
    support::assert_tags(&open, "org/web", &web.index_bytes);
    support::assert_tags(&locked, "app", &app.index_bytes);
    support::assert_tags(&locked, "web", &web.index_bytes);

    // Copy a tag back out and compare with the layout.
    let out_dir = tempfile::tempdir().unwrap();
    let dest = format!("oci:{}:x", out_dir.path().display());
    let out = skopeo(
        &["copy", "--all", "--preserve-digests", "--quiet"],
        &locked
            .skopeo_flags()
            .into_iter()
            .map(|f| f.replacen("--", "--src-", 1))
            .collect::<Vec<_>>(),
        &[&format!("docker://{}/web:v1.2.3", locked.host), &dest],
    );
    assert_ok(&out);
    let copied = xtask::oci::layout::Layout::open(out_dir.path()).unwrap();
    assert_eq!(copied.resolve("x").unwrap().digest, web.index.digest);
    for (digest, _) in &web.blobs {
        assert!(copied.verify_blob(digest).unwrap(), "{digest} copied back");
    }
}

/// TLS verified with a CA given in `release.ca-files`; without it the push fails with a TLS
/// error and moves nothing.
#[test]
fn tls_registry_with_ca_from_config() {
    let reg = Registry::tls();
    let ca = std::fs::read(reg.ca_file.as_ref().unwrap()).unwrap();
    let ws = Workspace::with_files(
        std::slice::from_ref(&reg.host),
        &["app"],
        "ca-files = [\"certs/test-ca.pem\"]",
        &[("certs/test-ca.pem", &ca)],
    );
    let app = write_image(&ws.layout(), &small_image("app", 5), VERSION);
    let out = ws.xtask(&["push"], &[]);
    assert_ok(&out);
    support::assert_tags(&reg, "app", &app.index_bytes);

    // The same registry without the CA: refused, nothing tagged.
    let reg2 = Registry::tls();
    let ws2 = Workspace::new(std::slice::from_ref(&reg2.host), &["app"], "");
    write_image(&ws2.layout(), &small_image("app", 5), VERSION);
    let out = ws2.xtask(&["push"], &[("SSL_CERT_FILE", "/nonexistent")]);
    assert!(!out.status.success(), "{}", output_text(&out));
    let text = output_text(&out);
    assert!(text.to_lowercase().contains("certificate"), "{text}");
    assert!(reg2.tags("app").is_empty());
}

/// One registry refuses (wrong password): the command fails, no tag moved in
/// either registry; with the credential fixed, the re-run uploads only what is missing
/// (nothing again to the registry that already has it: counted at the proxy).
#[test]
fn wrong_password_moves_no_tag_and_rerun_resumes() {
    let open = Registry::plain();
    let proxy = Proxy::start(&open.host, |_| Fault::Pass);
    let locked = Registry::with_auth("pusher", "right-password");
    let ws = Workspace::new(
        &[proxy.host.clone(), locked.host.clone()],
        &["app", "web"],
        "",
    );
    let layout = ws.layout();
    let app = write_image(&layout, &small_image("app", 6), VERSION);
    let web = write_image(&layout, &small_image("web", 7), VERSION);
    let unique: u64 = {
        let mut all: Vec<_> = app.blobs.iter().chain(&web.blobs).cloned().collect();
        all.sort();
        all.dedup();
        all.iter().map(|(_, s)| s).sum()
    };
    let meta = ws.path().join("meta.json");
    let bad = docker_config(&[(&locked.host, "pusher", "wrong-password")]);
    let out = ws.xtask(
        &["-v", "push", "--metadata-file", meta.to_str().unwrap()],
        &[("DOCKER_CONFIG", bad.path().to_str().unwrap())],
    );
    assert!(!out.status.success(), "{}", output_text(&out));
    let text = output_text(&out);
    assert!(text.contains("no tag was moved"), "{text}");
    assert!(text.contains("re-run"), "{text}");
    assert!(text.contains(&locked.host), "{text}");
    assert!(!text.contains("wrong-password"), "secret leaked:\n{text}");
    for repo in ["app", "web"] {
        assert!(open.tags(repo).is_empty(), "no tag in the open registry");
        assert!(
            locked.tags(repo).is_empty(),
            "no tag in the locked registry"
        );
    }
    // The open registry got every blob once.
    let first_bytes = proxy.upload_bytes();
    assert!(first_bytes >= unique, "{first_bytes} < {unique}");

    let good = docker_config(&[(&locked.host, "pusher", "right-password")]);
    let out = ws.xtask(
        &["push", "--metadata-file", meta.to_str().unwrap()],
        &[("DOCKER_CONFIG", good.path().to_str().unwrap())],
    );
    assert_ok(&out);
    let m = metadata(&meta);
    // Only the locked registry's blobs: 9 pushed + 1 mounted; the open one had all 10.
    assert_eq!(m["uploads"]["pushed"], 9, "{m:#}");
    assert_eq!(m["uploads"]["mounted"], 1, "{m:#}");
    assert_eq!(m["uploads"]["exists"], 10, "{m:#}");
    let second = proxy.upload_bytes() - first_bytes;
    // Only the index and tag manifests went through the proxy the second time.
    assert!(
        second < 20_000,
        "re-uploaded {second} bytes to the open registry"
    );
    support::assert_tags(&open, "app", &app.index_bytes);
    support::assert_tags(&locked, "web", &web.index_bytes);
}

/// A proxy that cuts connections mid-body, answers 500s, 429s with
/// `Retry-After: 1` and stalls once: the push succeeds and uploads at most 1.2× the data.
#[test]
fn faults_are_retried_and_bytes_stay_bounded() {
    let reg = Registry::plain();
    // The first large blob PUT is always cut mid-body; then every 20th request.
    // The first blob HEAD stalls (longer than STEVEDORE_TIMEOUT).
    let cut_one = std::sync::atomic::AtomicBool::new(false);
    let stall_one = std::sync::atomic::AtomicBool::new(false);
    let once = |flag: &std::sync::atomic::AtomicBool| {
        !flag.swap(true, std::sync::atomic::Ordering::SeqCst)
    };
    let proxy = Proxy::start(&reg.host, move |r| match r.n {
        _ if r.method == "PUT" && r.content_length.unwrap_or(0) > 1_000_000 && once(&cut_one) => {
            Fault::ResetMidBody
        }
        _ if r.method == "HEAD" && r.path.contains("/blobs/") && once(&stall_one) => {
            Fault::Stall(std::time::Duration::from_secs(6))
        }
        n if n % 20 == 6 => Fault::ResetMidBody,
        n if n % 11 == 4 => Fault::Status(429),
        n if n % 17 == 9 => Fault::Status(500),
        _ => Fault::Pass,
    });
    let ws = Workspace::new(std::slice::from_ref(&proxy.host), &["app", "web"], "");
    let layout = ws.layout();
    let big = |name: &str, seed| ImageSpec {
        name: name.into(),
        platforms: vec![("linux", "amd64"), ("linux", "arm64")],
        shared: vec![(99, 1_500_000)],
        own: vec![
            (seed, 1_000_000),
            (seed + 50, 1_000_000),
            (seed + 90, 1_000_000),
        ],
    };
    let app = write_image(&layout, &big("app", 11), VERSION);
    let web = write_image(&layout, &big("web", 12), VERSION);
    let mut all: Vec<_> = app.blobs.iter().chain(&web.blobs).cloned().collect();
    all.sort();
    all.dedup();
    let unique: u64 = all.iter().map(|(_, s)| s).sum();
    let meta = ws.path().join("meta.json");
    let out = ws.xtask(
        &["push", "--metadata-file", meta.to_str().unwrap()],
        &[("STEVEDORE_TIMEOUT", "2")],
    );
    assert_ok(&out);
    let text = output_text(&out);
    assert!(proxy.faults() >= 5, "{:?}", proxy.log());
    let log = proxy.log();
    assert!(
        log.iter()
            .any(|l| l.starts_with("PUT /v2/") && l.ends_with("reset")),
        "{log:#?}"
    );
    assert!(text.contains("retry:"), "{text}");
    assert!(text.contains("429"), "{text}");
    assert!(text.contains("stalled"), "{text}");
    support::assert_tags(&reg, "app", &app.index_bytes);
    support::assert_tags(&reg, "web", &web.index_bytes);
    let sent = proxy.upload_bytes();
    eprintln!(
        "uploaded {sent} bytes for {unique} unique ({:.3}×), {} faults",
        sent as f64 / unique as f64,
        proxy.faults()
    );
    assert!(
        sent as f64 <= unique as f64 * 1.2,
        "uploaded {sent} bytes for {unique} unique: {:#?}",
        proxy.log()
    );
    let m = metadata(&meta);
    // The shared layer is uploaded once and mounted into the second repository.
    assert_eq!(m["uploads"]["bytes"].as_u64().unwrap(), unique);
    assert_eq!(m["uploads"]["mounted"], 1);
}

/// A 401 in the middle of a release (an expired token): the token is refreshed and the
/// request retried. The first blob upload and the first manifest PUT are refused once each (by
/// what they are, not by their place in the run, which concurrency reorders).
#[test]
fn unauthorized_mid_release_refreshes_and_continues() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let reg = Registry::with_auth("u", "p4ss");
    let (upload, manifest) = (AtomicBool::new(false), AtomicBool::new(false));
    let proxy = Proxy::start(&reg.host, move |r| {
        let once = |flag: &AtomicBool| !flag.swap(true, Ordering::SeqCst);
        let first_upload = r.method == "POST" && r.path.contains("/blobs/uploads/");
        let first_manifest = r.method == "PUT" && r.path.contains("/manifests/");
        if (first_upload && once(&upload)) || (first_manifest && once(&manifest)) {
            Fault::Status(401)
        } else {
            Fault::Pass
        }
    });
    let ws = Workspace::new(std::slice::from_ref(&proxy.host), &["app"], "");
    let app = write_image(&ws.layout(), &small_image("app", 8), VERSION);
    let var = format!("STEVEDORE_AUTH_{}", proxy.host.replace(['.', ':'], "_"));
    let out = ws.xtask(&["-v", "push"], &[(&var, "u:p4ss")]);
    assert_ok(&out);
    assert!(proxy.faults() == 2);
    assert!(!output_text(&out).contains("p4ss"));
    let raw = reg.inspect_raw("app:v1.2.3").unwrap();
    assert_eq!(raw, app.index_bytes);
}

/// Matrix builds: one job per platform pushes by digest (no tags) and writes a digest file;
/// `merge` assembles the multi-platform index and moves the tags.
#[test]
fn by_digest_per_platform_then_merge() {
    let reg = Registry::plain();
    let ws = Workspace::new(std::slice::from_ref(&reg.host), &["app"], "");
    let mut files = Vec::new();
    let mut descs = Vec::new();
    for (i, arch) in ["amd64", "arm64"].into_iter().enumerate() {
        let dir = ws.path().join(format!("layout-{arch}"));
        let layout = xtask::oci::layout::Layout::create(&dir).unwrap();
        let spec = ImageSpec {
            name: "app".into(),
            platforms: vec![("linux", arch)],
            shared: vec![(7, 100_000)],
            own: vec![(20 + i as u64, 50_000)],
        };
        let w = write_image(&layout, &spec, VERSION);
        descs.push(w.manifests[0].clone());
        let file = ws.path().join(format!("digests-{arch}.json"));
        let out = ws.xtask(
            &[
                "push",
                "--by-digest",
                "--layout",
                dir.to_str().unwrap(),
                "--digest-file",
                file.to_str().unwrap(),
            ],
            &[],
        );
        assert_ok(&out);
        assert!(reg.tags("app").is_empty(), "--by-digest moves no tag");
        files.push(file);
    }
    // Merging needs every platform's file of every image (order does not matter).
    let meta = ws.path().join("meta.json");
    let out = ws.xtask(
        &[
            "merge",
            files[1].to_str().unwrap(),
            files[0].to_str().unwrap(),
            "--metadata-file",
            meta.to_str().unwrap(),
        ],
        &[],
    );
    assert_ok(&out);
    // The index carries the image's org.opencontainers.image.* annotations, as `release` writes.
    let plan: serde_json::Value =
        serde_json::from_slice(&ws.xtask(&["plan", "--json"], &[]).stdout).unwrap();
    let mut index = xtask::oci::Index::new(descs.clone());
    for (k, v) in plan["images"][0]["labels"].as_object().unwrap() {
        if k.starts_with("org.opencontainers.image.") {
            index
                .annotations
                .insert(k.clone(), v.as_str().unwrap().to_string());
        }
    }
    let expected = xtask::oci::to_bytes(&index);
    support::assert_tags(&reg, "app", &expected);
    let m = metadata(&meta);
    assert_eq!(
        m["images"]["app"]["digest"],
        xtask::oci::Digest::of(&expected).to_string()
    );
    assert!(refs_of(&m, "app").contains(&format!("{}/app:1.2", reg.host)));

    // A platform manifest missing from the registry: merge refuses, no tag moves.
    let reg2 = Registry::plain();
    let ws2 = Workspace::new(std::slice::from_ref(&reg2.host), &["app"], "");
    let out = ws2.xtask(
        &[
            "merge",
            files[0].to_str().unwrap(),
            files[1].to_str().unwrap(),
        ],
        &[],
    );
    assert!(!out.status.success());
    let text = output_text(&out);
    assert!(text.contains("--by-digest"), "{text}");
    assert!(reg2.tags("app").is_empty());
}

#[test]
fn login_check_reports_source_and_grant_without_secrets() {
    let reg = Registry::with_auth("robot", "tok-123-secret");
    let ws = Workspace::new(&[format!("{}/ns", reg.host)], &["app"], "");
    let var = format!("STEVEDORE_AUTH_{}", reg.host.replace(['.', ':'], "_"));
    let out = ws.xtask(&["-v", "login-check"], &[(&var, "robot:tok-123-secret")]);
    assert_ok(&out);
    let text = output_text(&out);
    assert!(text.contains(&var), "{text}");
    assert!(text.contains("accepted"), "{text}");
    assert!(!text.contains("tok-123-secret"), "{text}");

    let out = ws.xtask(&["login-check"], &[(&var, "robot:wrong-secret-999")]);
    assert!(!out.status.success());
    let text = output_text(&out);
    assert!(text.contains("refused"), "{text}");
    assert!(!text.contains("wrong-secret-999"), "{text}");

    let out = ws.xtask(&["login-check"], &[]);
    assert!(!out.status.success());
    assert!(
        output_text(&out).contains("anonymous"),
        "{}",
        output_text(&out)
    );
}

#[test]
fn missing_image_says_build_first() {
    let reg = Registry::plain();
    let ws = Workspace::new(std::slice::from_ref(&reg.host), &["app", "web"], "");
    write_image(&ws.layout(), &small_image("app", 1), VERSION);
    let out = ws.xtask(&["push"], &[]);
    assert!(!out.status.success());
    let text = output_text(&out);
    assert!(text.contains("web:1.2.3"), "{text}");
    assert!(text.contains("cargo xtask build"), "{text}");
    assert!(
        reg.tags("app").is_empty(),
        "nothing pushed when the layout is incomplete"
    );
}

/// `credHelpers` in config.json: `docker-credential-<name> get` runs with the host on stdin.
#[test]
fn credential_helper_from_docker_config() {
    use std::os::unix::fs::PermissionsExt;
    let reg = Registry::with_auth("helper-user", "helper-secret-42");
    let ws = Workspace::new(std::slice::from_ref(&reg.host), &["app"], "");
    let app = write_image(&ws.layout(), &small_image("app", 9), VERSION);
    let bin = tempfile::tempdir().unwrap();
    let helper = bin.path().join("docker-credential-fake");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread host\n[ \"$1\" = get ] && [ \"$host\" = \"{}\" ] || exit 1\n\
             echo '{{\"ServerURL\":\"'$host'\",\"Username\":\"helper-user\",\"Secret\":\"helper-secret-42\"}}'\n",
            reg.host
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cfg = tempfile::tempdir().unwrap();
    std::fs::write(
        cfg.path().join("config.json"),
        format!(r#"{{"credHelpers":{{"{}":"fake"}}}}"#, reg.host),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let env = [
        ("DOCKER_CONFIG", cfg.path().to_str().unwrap()),
        ("PATH", path.as_str()),
    ];
    let out = ws.xtask(&["-v", "login-check"], &env);
    assert_ok(&out);
    assert!(output_text(&out).contains("docker-credential-fake"));
    let out = ws.xtask(&["-v", "push"], &env);
    assert_ok(&out);
    assert!(!output_text(&out).contains("helper-secret-42"));
    support::assert_tags(&reg, "app", &app.index_bytes);
}
