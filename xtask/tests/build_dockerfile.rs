//! Dockerfile images built by buildah keep what the Dockerfile declares (`HEALTHCHECK`,
//! `STOPSIGNAL`, `SHELL`), never take stevedore's own state into their context, and pull their
//! `FROM` images with stevedore's credentials, leaving no secret in any file.

mod support;

use std::path::Path;
use std::process::Command;

use support::*;

fn tools() -> bool {
    have_all(&["buildah", "skopeo"])
}

fn release_toml(registry: &str, images: &str) -> String {
    ReleaseToml::new("demo")
        .registries([registry])
        .tags(["type=semver,pattern={{version}}"])
        .table(images)
        .build()
}

/// The image config of the first platform of `name`, as stored in the workspace's layout
/// (`skopeo inspect --config` shows an OCI-converted config, without `Healthcheck`).
fn config_of(ws: &Path, name: &str) -> serde_json::Value {
    let dir = ws.join("target/stevedore/oci");
    let raw = Command::new("skopeo")
        .args(["inspect", "--raw"])
        .arg(format!("oci:{}:{name}", dir.display()))
        .output()
        .unwrap();
    assert!(raw.status.success(), "skopeo: {raw:?}");
    let index: serde_json::Value = serde_json::from_slice(&raw.stdout).unwrap();
    let blob = |digest: &serde_json::Value| -> serde_json::Value {
        let hex = digest.as_str().unwrap().trim_start_matches("sha256:");
        serde_json::from_slice(&std::fs::read(dir.join("blobs/sha256").join(hex)).unwrap()).unwrap()
    };
    let manifest = blob(&index["manifests"][0]["digest"]);
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    blob(&manifest["config"]["digest"])
}

/// A buildah cache directory of the test's own (`XDG_CACHE_HOME`).
fn cache_env(dir: &Path) -> (String, String) {
    ("XDG_CACHE_HOME".into(), dir.display().to_string())
}

#[test]
fn healthcheck_stopsignal_and_shell_reach_the_image() {
    if !tools() {
        return;
    }
    let dockerfile =
        "FROM scratch\nCOPY app /app\nSTOPSIGNAL SIGQUIT\nSHELL [\"/bin/ash\", \"-c\"]\n\
                      HEALTHCHECK --interval=5s --retries=2 CMD [\"/app\",\"health\"]\n\
                      ENTRYPOINT [\"/app\"]\n";
    let config = release_toml(
        "127.0.0.1:1/demo",
        "[images.web]\ndockerfile = \"Dockerfile\"\ncontext = \".\"\nbuilder = \"buildah\"\n",
    );
    let repo = Repo::release(&[
        ("images/release.toml", config.as_str()),
        ("Dockerfile", dockerfile),
        ("app", "app\n"),
        (".gitignore", "target/\n"),
    ]);
    let cache = tempfile::tempdir().unwrap();
    let (k, v) = cache_env(cache.path());
    let out = repo.xtask(&["build"], &[(&k, &v)]);
    assert_ok(&out);
    let c = &config_of(repo.path(), "web:1.2.3")["config"];
    assert_eq!(
        c["Healthcheck"]["Test"],
        serde_json::json!(["CMD", "/app", "health"])
    );
    assert_eq!(c["Healthcheck"]["Interval"], 5_000_000_000u64);
    assert_eq!(c["Healthcheck"]["Retries"], 2);
    assert_eq!(c["StopSignal"], "SIGQUIT");
    assert_eq!(c["Shell"], serde_json::json!(["/bin/ash", "-c"]));
    // No container-runtime fields of Docker's format (they made builds irreproducible).
    assert!(c.get("Hostname").is_none(), "{c}");
    // OCI media types, readable by every tool.
    let raw = Command::new("skopeo")
        .args(["inspect", "--raw"])
        .arg(format!(
            "oci:{}:web:1.2.3",
            repo.path().join("target/stevedore/oci").display()
        ))
        .output()
        .unwrap();
    let index: serde_json::Value = serde_json::from_slice(&raw.stdout).unwrap();
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
}

#[test]
fn context_of_the_whole_workspace_never_holds_stevedore_state() {
    if !tools() {
        return;
    }
    let dockerfile = "FROM scratch\nCOPY . /src\n";
    let config = release_toml(
        "127.0.0.1:1/demo",
        "[images.all]\ndockerfile = \"Dockerfile\"\ncontext = \".\"\nbuilder = \"buildah\"\n",
    );
    let repo = Repo::release(&[
        ("images/release.toml", config.as_str()),
        ("Dockerfile", dockerfile),
        ("src/main.txt", "hello\n"),
        (".gitignore", "target/\n"),
    ]);
    let cache = tempfile::tempdir().unwrap();
    let (k, v) = cache_env(cache.path());
    let mut listings = Vec::new();
    for round in 0..3 {
        // Touch a context file (same bytes): the build runs again rather than being reused,
        // with the previous build's layout and caches now under `target/`.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(repo.path().join("src/main.txt"), "hello\n").unwrap();
        let out = repo.xtask(&["build"], &[(&k, &v)]);
        assert!(out.status.success(), "round {round}: {}", output_text(&out));
        assert!(
            !output_text(&out).contains("inputs unchanged"),
            "round {round} was built"
        );
        let layout =
            xtask::oci::layout::Layout::open(&repo.path().join("target/stevedore/oci")).unwrap();
        let index: xtask::oci::Index = layout
            .read_json(&layout.resolve("all:1.2.3").unwrap().digest)
            .unwrap();
        let manifest: xtask::oci::Manifest = layout.read_json(&index.manifests[0].digest).unwrap();
        let mut names = Vec::new();
        for l in &manifest.layers {
            let bytes = layout.read_blob(&l.digest).unwrap();
            let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
            for e in tar.entries().unwrap() {
                names.push(e.unwrap().path().unwrap().display().to_string());
            }
        }
        names.sort();
        // .git changes between builds (git refreshes its index); everything else may not.
        names.retain(|n| !n.contains(".git/"));
        assert!(
            !names.iter().any(|n| n.contains("target/stevedore")),
            "round {round}: stevedore state in the image: {names:?}"
        );
        listings.push(names);
    }
    assert_eq!(listings[0], listings[1]);
    assert_eq!(listings[1], listings[2]);
    // Unchanged, the image is reused as it is: the same size each time.
    let out = repo.xtask(&["build"], &[(&k, &v)]);
    assert!(
        output_text(&out).contains("inputs unchanged"),
        "{}",
        output_text(&out)
    );
    assert!(
        !repo.path().join("target/stevedore/buildah").exists(),
        "buildah storage is outside the workspace"
    );
}

#[test]
fn from_an_authenticated_registry_with_stevedore_credentials_only() {
    if !tools() || !have_all(&["docker-registry", "htpasswd"]) {
        return;
    }
    const PASSWORD: &str = "b4se-Pa55word";
    let registry = Registry::with_auth("builder", PASSWORD);
    let var = format!(
        "STEVEDORE_AUTH_{}",
        registry.host.replace(['.', ':'], "_").to_uppercase()
    );
    let secret = format!("builder:{PASSWORD}");

    // A base image in the registry, published by stevedore itself.
    let base = Workspace::new(&[format!("{}/base", registry.host)], &["img"], "");
    let out = base.xtask(&["release"], &[(&var, &secret)]);
    assert_ok(&out);

    let dockerfile = format!(
        "FROM {}/base/img:v1.2.3\nCOPY extra.txt /extra.txt\n",
        registry.host
    );
    let config = release_toml(
        &format!("{}/app", registry.host),
        "[images.web]\ndockerfile = \"Dockerfile\"\ncontext = \".\"\nbuilder = \"buildah\"\n\
         platforms = [\"linux/amd64\", \"linux/arm64\"]\n",
    );
    let repo = Repo::release(&[
        ("images/release.toml", config.as_str()),
        ("Dockerfile", dockerfile.as_str()),
        ("extra.txt", "extra\n"),
        (".gitignore", "target/\n"),
    ]);
    let cache = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (k, v) = cache_env(cache.path());
    let tmp_s = tmp.path().display().to_string();
    let out = repo.xtask(&["build"], &[(&k, &v), (&var, &secret), ("TMPDIR", &tmp_s)]);
    assert_ok(&out);
    assert!(!output_text(&out).contains(PASSWORD));

    // The base's file and ours are both in the image.
    let c = config_of(repo.path(), "web:1.2.3");
    assert_eq!(c["rootfs"]["diff_ids"].as_array().unwrap().len(), 2, "{c}");

    // No file left anywhere stevedore or buildah wrote holds the credential.
    let b64 = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(&secret)
    };
    for dir in [repo.path(), cache.path(), tmp.path()] {
        let leaked = files_containing(dir, &[PASSWORD.as_bytes(), b64.as_bytes()]);
        assert!(leaked.is_empty(), "files hold the credential: {leaked:?}");
    }
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "the private temp files are removed"
    );
}

/// Regular files under `dir` holding one of `needles`.
fn files_containing(dir: &Path, needles: &[&[u8]]) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(kind) = e.file_type() else { continue };
            if kind.is_dir() {
                stack.push(e.path());
            } else if kind.is_file() {
                if let Ok(bytes) = std::fs::read(e.path()) {
                    if needles
                        .iter()
                        .any(|n| bytes.windows(n.len()).any(|w| w == *n))
                    {
                        out.push(e.path());
                    }
                }
            }
        }
    }
    out
}

#[test]
fn unchanged_inputs_reuse_the_image_and_a_change_rebuilds() {
    if !tools() {
        return;
    }
    let config = release_toml(
        "127.0.0.1:1/demo",
        "[images.web]\ndockerfile = \"Dockerfile\"\ncontext = \".\"\nbuilder = \"buildah\"\n",
    );
    let repo = Repo::release(&[
        ("images/release.toml", config.as_str()),
        ("Dockerfile", "FROM scratch\nCOPY app /app\n"),
        ("app", "v1\n"),
        (".gitignore", "target/\n"),
    ]);
    let cache = tempfile::tempdir().unwrap();
    let (k, v) = cache_env(cache.path());
    let digest = |out: &std::process::Output| {
        assert_ok(out);
        let version = repo.xtask(&["version"], &[]);
        let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
        config_of(repo.path(), &format!("web:{version}"))["rootfs"]["diff_ids"].clone()
    };
    let first = repo.xtask(&["build"], &[(&k, &v)]);
    let first_layers = digest(&first);
    let again = repo.xtask(&["build"], &[(&k, &v)]);
    assert!(
        output_text(&again).contains("inputs unchanged"),
        "{}",
        output_text(&again)
    );
    assert_eq!(digest(&again), first_layers);
    // A change (uncommitted: the version says `-dirty`) is built, not reused.
    std::fs::write(repo.path().join("app"), "v2\n").unwrap();
    let changed = repo.xtask(&["build"], &[(&k, &v)]);
    assert!(!output_text(&changed).contains("inputs unchanged"));
    assert_ne!(
        digest(&changed),
        first_layers,
        "the new content is in the image"
    );

    // `clean` removes buildah's storage and stevedore's caches: the next build is a cold one.
    let buildah = cache.path().join("stevedore/buildah");
    assert!(std::fs::read_dir(&buildah).unwrap().count() > 0);
    let out = repo.xtask(&["clean"], &[(&k, &v)]);
    assert_ok(&out);
    assert_eq!(std::fs::read_dir(&buildah).unwrap().count(), 0);
    assert!(!repo.path().join("target/stevedore/cache").exists());
    assert!(
        repo.path().join("target/stevedore/oci").exists(),
        "the layout stays"
    );
}

#[test]
fn labels_the_dockerfile_or_config_sets_win_over_defaults() {
    if !tools() {
        return;
    }
    let dockerfile = "FROM scratch\nCOPY app /app\n\
                      LABEL org.opencontainers.image.title=\"My App\" org.opencontainers.image.vendor=acme\n";
    let config = release_toml(
        "127.0.0.1:1/demo",
        "[images.web]\ndockerfile = \"Dockerfile\"\ncontext = \".\"\nbuilder = \"buildah\"\n\
         labels = { \"org.opencontainers.image.vendor\" = \"from config\" }\n",
    );
    let repo = Repo::release(&[
        ("images/release.toml", config.as_str()),
        ("Dockerfile", dockerfile),
        ("app", "app\n"),
        (".gitignore", "target/\n"),
    ]);
    let cache = tempfile::tempdir().unwrap();
    let (k, v) = cache_env(cache.path());
    let out = repo.xtask(&["build"], &[(&k, &v)]);
    assert_ok(&out);
    let labels = &config_of(repo.path(), "web:1.2.3")["config"]["Labels"];
    assert_eq!(
        labels["org.opencontainers.image.title"], "My App",
        "{labels}"
    );
    assert_eq!(labels["org.opencontainers.image.vendor"], "from config");
    assert_eq!(labels["org.opencontainers.image.version"], "1.2.3");
}

#[test]
fn docker_inspect_of_the_pulled_image_shows_the_healthcheck() {
    if !tools() || !have_all(&["docker-registry", "dockerd"]) {
        return;
    }
    let registry = Registry::plain();
    let dockerfile = "FROM scratch\nCOPY app /app\nHEALTHCHECK CMD [\"/app\",\"health\"]\n";
    let config = release_toml(
        &format!("{}/demo", registry.host),
        "[images.web]\ndockerfile = \"Dockerfile\"\ncontext = \".\"\nbuilder = \"buildah\"\n",
    );
    let repo = Repo::release(&[
        ("images/release.toml", config.as_str()),
        ("Dockerfile", dockerfile),
        ("app", "app\n"),
        (".gitignore", "target/\n"),
    ]);
    let cache = tempfile::tempdir().unwrap();
    let (k, v) = cache_env(cache.path());
    let out = repo.xtask(&["release"], &[(&k, &v)]);
    assert_ok(&out);
    let dockerd = support::dockerd::Dockerd::start();
    let image = format!("{}/demo/web:1.2.3", registry.host);
    let pull = dockerd.docker(&["pull", &image]);
    assert_ok(&pull);
    let inspect = dockerd.docker(&[
        "inspect",
        "--format",
        "{{json .Config.Healthcheck}}",
        &image,
    ]);
    assert_ok(&inspect);
    let health: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(health["Test"], serde_json::json!(["CMD", "/app", "health"]));
}

#[test]
fn a_variant_from_another_target_of_the_same_dockerfile_shares_its_stages() {
    if !tools() {
        return;
    }
    let dockerfile = "FROM scratch AS base\nCOPY app /app\n\
                      FROM base AS prod\nLABEL stage=prod\n\
                      FROM base AS dev\nCOPY extra /extra\n";
    let config = release_toml(
        "127.0.0.1:1/demo",
        "[images.web]\ndockerfile = \"Dockerfile\"\ncontext = \".\"\nbuilder = \"buildah\"\ntarget = \"prod\"\n\
         [images.web-dev]\ndockerfile = \"Dockerfile\"\ncontext = \".\"\nbuilder = \"buildah\"\ntarget = \"dev\"\n\
         flavor = { suffix = \"-dev\" }\n",
    );
    let repo = Repo::release(&[
        ("images/release.toml", config.as_str()),
        ("Dockerfile", dockerfile),
        ("app", "app\n"),
        ("extra", "extra\n"),
        (".gitignore", "target/\n"),
    ]);
    let cache = tempfile::tempdir().unwrap();
    let (k, v) = cache_env(cache.path());
    let out = repo.xtask(&["build", "--image", "web"], &[(&k, &v)]);
    assert_ok(&out);
    let out = repo.xtask(&["build", "--image", "web-dev"], &[(&k, &v)]);
    assert_ok(&out);
    let text = output_text(&out);
    // The shared `base` stage (COPY app) comes from the production build's cache.
    assert!(text.contains("Using cache"), "{text}");
    let dev = &config_of(repo.path(), "web-dev:1.2.3")["rootfs"]["diff_ids"];
    let prod = &config_of(repo.path(), "web:1.2.3")["rootfs"]["diff_ids"];
    assert_eq!(dev[0], prod[0], "the same base layer");
    assert_eq!(dev.as_array().unwrap().len(), 2);
}
