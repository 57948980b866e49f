//! `doctor`: exit 1 on a machine missing a toolchain or a credential, naming each problem with
//! its fix; exit 0 when a release would pass its preflight.

mod support;

use support::*;
use xtask::oci::layout::Layout;
use xtask::oci::Digest;

#[test]
fn doctor_names_each_missing_piece_with_its_fix() {
    if !have_all(&["docker-registry", "htpasswd"]) {
        return;
    }
    let registry = Registry::with_auth("ci", "Pa55-doctor");
    let ws = Workspace::new(&[format!("{}/demo", registry.host)], &["app"], "");
    let config = std::fs::read_to_string(ws.path().join("images/release.toml")).unwrap();
    ws.write(
        "images/release.toml",
        format!(
            "{config}\n[images.tool]\nnative = {{ command = [\"no-such-tool-xyz\", \"build\"], \
             files = [{{ src = \"files/hello.txt\", dst = \"/hello.txt\" }}] }}\n"
        ),
    );
    ws.commit("a tool image");
    ws.git(&["tag", "-f", "v1.2.3"]);
    let out = ws.xtask(&["doctor"], &[]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("PROBLEM build tool"), "{text}");
    assert!(text.contains("no-such-tool-xyz"), "{text}");
    assert!(text.contains("PROBLEM registries"), "{text}");
    assert!(text.contains("STEVEDORE_AUTH_"), "{text}");
    assert!(text.contains("ok      build app"), "{text}");

    // With the tool image gone and the credential given: all in place.
    ws.write("images/release.toml", config);
    ws.commit("no tool image");
    ws.git(&["tag", "-f", "v1.2.3"]);
    let var = format!(
        "STEVEDORE_AUTH_{}",
        registry.host.replace(['.', ':'], "_").to_uppercase()
    );
    let out = ws.xtask(&["doctor"], &[(&var, "ci:Pa55-doctor")]);
    assert_ok(&out);
    let text = output_text(&out);
    assert!(
        text.contains("a release would pass its preflight"),
        "{text}"
    );
    assert!(!text.contains("Pa55-doctor"), "{text}");
    // CNCF distribution 2.8 has no referrers API: doctor says where attestations go instead.
    assert!(
        text.contains("referrers API: no (attestations go to the sha256-<hex> fallback tag"),
        "{text}"
    );
}

/// A Dockerfile image built with buildx: doctor asks `docker buildx inspect` for the builder's
/// driver. The default `docker` driver cannot export an OCI layout, so it is a problem with its
/// fix; `docker-container` passes. buildx is not installed here, so `docker` is a stand-in
/// script answering `buildx version` and `buildx inspect` as buildx does (its output format is
/// copied from `docker buildx inspect`), and nothing is built.
#[test]
fn doctor_refuses_a_buildx_builder_whose_driver_cannot_export_oci() {
    let ws = Workspace::with_files(
        &["127.0.0.1:9/demo".to_string()],
        &[],
        "builder = \"buildx\"",
        &[
            ("app/Dockerfile", b"FROM scratch\nCOPY hello.txt /\n"),
            ("app/hello.txt", b"hi\n"),
        ],
    );
    let config = std::fs::read_to_string(ws.path().join("images/release.toml")).unwrap();
    ws.write(
        "images/release.toml",
        format!("{config}\n[images.app]\ndockerfile = \"app/Dockerfile\"\n"),
    );
    ws.commit("a Dockerfile image");
    ws.git(&["tag", "-f", "v1.2.3"]);
    let bin = tempfile::tempdir().unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for (driver, ok) in [("docker", false), ("docker-container", true)] {
        let script = format!(
            "#!/bin/sh\ncase \"$1 $2\" in\n  'buildx version') echo 'github.com/docker/buildx v0.19.3';;\n  \
             'buildx inspect') printf 'Name:          default\\nDriver:        {driver}\\n\\nNodes:\\nName: default\\n';;\n  \
             *) echo \"stand-in docker: $*\" >&2; exit 1;;\nesac\n"
        );
        let docker = bin.path().join("docker");
        std::fs::write(&docker, script).unwrap();
        std::os::unix::fs::PermissionsExt::set_mode(
            &mut std::fs::metadata(&docker).unwrap().permissions(),
            0o755,
        );
        std::fs::set_permissions(&docker, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let out = ws.xtask(&["doctor"], &[("PATH", &path)]);
        let text = output_text(&out);
        assert_eq!(out.status.code(), Some(1), "{text}"); // the registry is unreachable
        let build_line = text
            .lines()
            .find(|l| l.contains("build app linux/amd64"))
            .unwrap_or_else(|| panic!("no build line for app:\n{text}"));
        if ok {
            assert!(
                build_line.starts_with("ok") && build_line.contains("docker-container driver"),
                "{text}"
            );
        } else {
            assert!(build_line.starts_with("PROBLEM"), "{text}");
            assert!(
                text.contains("uses the \"docker\" driver, which cannot export an OCI layout")
                    && text.contains("docker buildx create --use --driver docker-container"),
                "{text}"
            );
        }
    }
}

/// A workspace tagged `v1.2.3` publishing to `registry` with `images` (TOML) and `files`.
fn workspace(registry: &str, images: &str, files: &[(&str, &[u8])]) -> Workspace {
    let ws = Workspace::with_files(&[registry.to_string()], &[], "", files);
    let config = std::fs::read_to_string(ws.path().join("images/release.toml")).unwrap();
    ws.write("images/release.toml", format!("{config}\n{images}"));
    ws.commit("images");
    ws.git(&["tag", "-f", "v1.2.3"]);
    ws
}

/// Cross-compiling is the usual multi-platform Dockerfile: the compiler runs on the build
/// platform (`--platform=$BUILDPLATFORM`), the image only copies what it made. Building it for
/// six platforms needs no emulation; a stage the target does not reach (`test`) is not built.
#[test]
fn doctor_passes_a_cross_compiling_target_on_a_machine_without_qemu() {
    if !have_all(&["docker-registry", "buildah"]) {
        skipped("docker-registry or buildah missing: cross-compiling doctor not run");
        return;
    }
    let registry = Registry::plain();
    let dockerfile = b"FROM --platform=$BUILDPLATFORM tonistiigi/xx AS xx\n\
        FROM --platform=$BUILDPLATFORM golang:1-alpine AS build\n\
        COPY --from=xx / /\nARG TARGETPLATFORM\nRUN xx-go build -o /out/app .\n\
        FROM alpine:3 AS test\nCOPY --from=build /out/app /app\nRUN /app --selftest\n\
        FROM scratch\nCOPY --from=build /out/app /app\nENTRYPOINT [\"/app\"]\n";
    let platforms = "platforms = [\"linux/amd64\", \"linux/arm64\", \"linux/arm/v7\", \
                     \"linux/ppc64le\", \"linux/s390x\", \"linux/riscv64\"]";
    let image = format!(
        "[images.app]\ndockerfile = \"app/Dockerfile\"\nbuilder = \"buildah\"\n{platforms}\n"
    );
    let ws = workspace(
        &format!("{}/demo", registry.host),
        &image,
        &[
            ("app/Dockerfile", dockerfile),
            ("app/main.go", b"package main\n"),
        ],
    );
    let out = ws.xtask(&["doctor"], &[]);
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    for p in [
        "linux/arm64",
        "linux/arm/v7",
        "linux/s390x",
        "linux/riscv64",
    ] {
        assert!(
            text.contains(&format!("ok      build app {p}: buildah")),
            "{p}: {text}"
        );
    }

    // The test stage runs its RUN on the target platform: with it as the target, a platform
    // this machine cannot run is a problem, named with its stage.
    let host = xtask::oci::platform::Platform::host().unwrap();
    let foreign = if host.arch == "riscv64" {
        "s390x"
    } else {
        "riscv64"
    };
    if std::path::Path::new(&format!("/proc/sys/fs/binfmt_misc/qemu-{foreign}")).exists() {
        skipped("this machine emulates riscv64: the test-stage half not run");
        return;
    }
    let ws = workspace(
        &format!("{}/demo", registry.host),
        &format!("{image}target = \"test\"\n"),
        &[
            ("app/Dockerfile", dockerfile),
            ("app/main.go", b"package main\n"),
        ],
    );
    let out = ws.xtask(&["doctor"], &[]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "PROBLEM build app linux/{foreign}: the Dockerfile's test stage has RUN steps for linux/{foreign}"
        )),
        "{text}"
    );
}

/// A compose `env_file` that is missing fails the release before it builds: doctor says so.
#[test]
fn doctor_names_a_missing_compose_env_file() {
    if !have("docker-registry") {
        skipped("docker-registry missing: compose env_file doctor not run");
        return;
    }
    let registry = Registry::plain();
    let compose = format!(
        "services:\n  app:\n    image: {}/demo/app:v1.2.3\n    env_file: ./config/app.env\n",
        registry.host
    );
    let images = "[images.app]\nnative = { files = [{ src = \"files/hello.txt\", dst = \"/hello.txt\" }] }\n\
                  [compose]\nfiles = [\"compose.yaml\"]\nrepository = \"stack\"\nenv-files = true\n";
    let ws = workspace(
        &format!("{}/demo", registry.host),
        images,
        &[("compose.yaml", compose.as_bytes())],
    );
    let out = ws.xtask(&["doctor"], &[]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let line = text
        .lines()
        .find(|l| l.starts_with("PROBLEM compose"))
        .unwrap_or_else(|| panic!("no compose problem:\n{text}"));
    assert!(
        line.contains("services.app.env_file[0]") && line.contains("app.env"),
        "{text}"
    );
    assert!(text.contains("create the env file"), "{text}");

    // With the file there, compose passes.
    ws.write("config/app.env", "GREETING=hi\n");
    ws.commit("env file");
    ws.git(&["tag", "-f", "v1.2.3"]);
    let out = ws.xtask(&["doctor"], &[]);
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("ok      compose stack"), "{text}");
}

/// A registry host that does not resolve is named as such, at once: no retries, no talk of
/// authentication. (`.invalid` never resolves, RFC 2606.)
#[test]
fn doctor_names_a_host_that_does_not_resolve_without_retrying() {
    let ws = workspace(
        "registry.invalid/demo",
        "[images.app]\nnative = { files = [{ src = \"files/hello.txt\", dst = \"/hello.txt\" }] }\n",
        &[],
    );
    let started = std::time::Instant::now();
    let out = ws.xtask(&["doctor"], &[]);
    let took = started.elapsed();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("PROBLEM registries: cannot resolve host registry.invalid"),
        "{text}"
    );
    assert!(!text.contains("authentication failed"), "{text}");
    assert!(!text.contains("retry"), "{text}");
    assert!(
        took < std::time::Duration::from_secs(15),
        "took {took:?}: {text}"
    );
}

/// A release pins the compose file's external images to their registry digest: doctor resolves
/// each one first, naming an image that is not in its registry and a host that does not resolve,
/// and checks push access to the compose artifact's own repository.
#[test]
fn doctor_resolves_external_compose_images_and_checks_the_artifact_repository() {
    if !have_all(&["docker-registry", "skopeo"]) {
        skipped("docker-registry or skopeo missing: external compose images doctor not run");
        return;
    }
    let registry = Registry::plain();
    let compose = |extra: &str| {
        format!(
            "services:\n  app:\n    image: {host}/demo/app:v1.2.3\n  db:\n    image: {host}/library/postgres:16\n{extra}",
            host = registry.host
        )
    };
    let images = "[images.app]\nnative = { files = [{ src = \"files/hello.txt\", dst = \"/hello.txt\" }] }\n\
                  [compose]\nfiles = [\"compose.yaml\"]\nrepository = \"stack\"\n";
    let unresolvable = "  cache:\n    image: redis.invalid/redis:7\n";
    let ws = workspace(
        &format!("{}/demo", registry.host),
        images,
        &[("compose.yaml", compose(unresolvable).as_bytes())],
    );
    let out = ws.xtask(&["doctor"], &[]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let problem = |image: &str| {
        text.lines()
            .find(|l| l.starts_with("PROBLEM compose stack") && l.contains(image))
            .unwrap_or_else(|| panic!("no problem named {image}:\n{text}"))
            .to_string()
    };
    assert!(
        problem(&format!("{}/library/postgres:16", registry.host)).contains("not in its registry"),
        "{text}"
    );
    assert!(
        problem("redis.invalid/redis:7").contains("cannot resolve host"),
        "{text}"
    );
    // The release's own image is pinned to what it pushes, never resolved.
    assert!(!text.contains("demo/app:v1.2.3 resolves"), "{text}");
    // The artifact's repository is checked for push access like the images'.
    assert!(
        text.contains(&format!("  {}/demo/stack: ok", registry.host)),
        "{text}"
    );

    // With the base image in the registry and the unresolvable service gone, doctor passes and
    // says the digest the release will pin.
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::create(dir.path()).unwrap();
    write_image(&layout, &small_image("postgres", 3), "16");
    let copy = std::process::Command::new("skopeo")
        .args([
            "copy",
            "--all",
            "--preserve-digests",
            "--quiet",
            "--dest-tls-verify=false",
        ])
        .arg(format!("oci:{}:postgres:16", dir.path().display()))
        .arg(format!("docker://{}/library/postgres:16", registry.host))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(copy.status.success(), "skopeo copy: {}", output_text(&copy));
    let digest = Digest::of(&registry.inspect_raw("library/postgres:16").unwrap());
    ws.write("compose.yaml", compose(""));
    ws.commit("no cache service");
    ws.git(&["tag", "-f", "v1.2.3"]);
    let out = ws.xtask(&["doctor"], &[]);
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!(
            "ok      compose stack: {}/library/postgres:16 resolves to {digest}",
            registry.host
        )),
        "{text}"
    );
}
