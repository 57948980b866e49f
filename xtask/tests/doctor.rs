//! `doctor`: exit 1 on a machine missing a toolchain or a credential, naming each problem with
//! its fix; exit 0 when a release would pass its preflight.

mod support;

use support::*;

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
