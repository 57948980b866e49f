//! Config cases, by behaviour.

use super::*;

fn root() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("backend")).unwrap();
    std::fs::write(d.path().join("backend/Dockerfile"), "FROM scratch\n").unwrap();
    std::fs::write(d.path().join("compose.yaml"), "services: {}\n").unwrap();
    d
}

const GOOD: &str = r#"
[release]
name = "votive"
registries = ["ghcr.io/oxilith", "docker.io/oxilith"]
platforms = ["linux/amd64", "linux/arm64"]
tags = ["type=ref,event=branch", "type=semver,pattern={{major}}"]
latest = "auto"

[images.backend]
dockerfile = "backend/Dockerfile"
context = "backend"
build-args = { NODE_ENV = "production" }

[images.worker]
native = { cargo-bin = "worker" }
base = "scratch"
entrypoint = ["/usr/local/bin/worker"]
user = "65532:65532"

[compose]
files = ["compose.yaml"]
repository = "votive-oci"
"#;

fn parse(root: &Path, text: &str) -> Result<Config, ConfigError> {
    Config::parse(root, Path::new("images/release.toml"), text)
}

#[test]
fn good_config_loads() {
    let d = root();
    let c = parse(d.path(), GOOD).unwrap();
    assert_eq!(c.registries.len(), 2);
    assert_eq!(c.registries[1].to_string(), "docker.io/oxilith");
    assert_eq!(c.platforms_of("backend").len(), 2);
    assert_eq!(c.rules.len(), 2);
    assert_eq!(c.compose_repository(&c.compose[0]), "votive-oci");
}

fn error_of(text: &str) -> String {
    let d = root();
    parse(d.path(), text).unwrap_err().to_string()
}

#[test]
fn unknown_key_names_key_and_file() {
    let e = error_of(&GOOD.replace("context = \"backend\"", "contxt = \"backend\""));
    assert!(e.contains("images/release.toml"), "{e}");
    assert!(e.contains("images.backend"), "{e}");
    assert!(e.contains("contxt"), "{e}");
}

#[test]
fn bad_platform_is_named() {
    let e = error_of(&GOOD.replace("\"linux/arm64\"]", "\"linux/arm65\"]"));
    assert!(e.contains("release.platforms"), "{e}");
    assert!(e.contains("linux/arm65"), "{e}");
}

#[test]
fn upper_case_repository_is_named() {
    let e = error_of(&GOOD.replace(
        "context = \"backend\"",
        "context = \"backend\"\nrepository = \"Clearsplit/api\"",
    ));
    assert!(e.contains("images.backend.repository"), "{e}");
    assert!(e.contains("upper-case"), "{e}");
}

#[test]
fn missing_dockerfile_is_named() {
    let e = error_of(&GOOD.replace("backend/Dockerfile", "backend/Dockerfile.missing"));
    assert!(e.contains("images.backend.dockerfile"), "{e}");
    assert!(e.contains("Dockerfile.missing"), "{e}");
}

#[test]
fn several_problems_are_reported_together() {
    let e = error_of(
        &GOOD
            .replace("ghcr.io/oxilith\"", "ghcr.io/Oxilith\"")
            .replace("repository = \"votive-oci\"", "repository = \"worker\""),
    );
    assert!(e.contains("2 problems"), "{e}");
    assert!(e.contains("release.registries[0]"), "{e}");
    assert!(e.contains("compose.repository"), "{e}");
}

#[test]
fn duplicate_repositories_are_rejected() {
    let e = error_of(&GOOD.replace(
        "context = \"backend\"",
        "context = \"backend\"\nrepository = \"worker\"",
    ));
    assert!(e.contains("already used by images."), "{e}");
}

#[test]
fn files_outside_the_workspace_are_refused() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), "s").unwrap();
    let d = root();
    std::fs::create_dir_all(d.path().join("files")).unwrap();
    std::fs::write(d.path().join("files/ok"), "ok").unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret"), d.path().join("files/link")).unwrap();
    std::os::unix::fs::symlink("ok", d.path().join("files/inner-link")).unwrap();
    let with_src = |src: &str| {
        GOOD.replace(
            "native = { cargo-bin = \"worker\" }",
            &format!("native = {{ files = [{{ src = \"{src}\", dst = \"/x\" }}] }}"),
        )
    };
    let cases = [
        ("/etc/hostname", "absolute path"),
        ("../../outside/secret", "leaves the workspace"),
        ("files/../../x/{arch}", "leaves the workspace"),
        ("files/link", "outside the workspace root"),
    ];
    for (src, why) in cases {
        let e = parse(d.path(), &with_src(src)).unwrap_err().to_string();
        assert!(
            e.contains("images.worker.native.files[0].src"),
            "{src}: {e}"
        );
        assert!(e.contains(why), "{src}: {e}");
    }
    parse(d.path(), &with_src("files/inner-link")).unwrap();
    let e = parse(
        d.path(),
        &GOOD.replace("\"backend/Dockerfile\"", "\"/etc/hostname\""),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("images.backend.dockerfile"), "{e}");
    let e = parse(
        d.path(),
        &GOOD.replace("context = \"backend\"", "context = \"..\""),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("images.backend.context"), "{e}");
}

#[test]
fn empty_platforms_and_windows_native_images_are_refused() {
    let e = error_of(&GOOD.replace(
        "platforms = [\"linux/amd64\", \"linux/arm64\"]",
        "platforms = []",
    ));
    assert!(e.contains("release.platforms: must not be empty"), "{e}");
    let e = error_of(&GOOD.replace(
        "user = \"65532:65532\"",
        "user = \"65532:65532\"\nplatforms = [\"windows/amd64\"]",
    ));
    assert!(e.contains("images.worker.native"), "{e}");
    assert!(e.contains("Linux layers only"), "{e}");
    let e = error_of(&GOOD.replace("ghcr.io/oxilith\"", "localhost:70000/oxilith\""));
    assert!(e.contains("release.registries[0]"), "{e}");
    assert!(e.contains("1 to 65535"), "{e}");
}

#[test]
fn image_names_follow_the_repository_grammar() {
    for bad in ["../../ESCAPE", "Web", "a/b", "-x", "x_"] {
        let e = error_of(&GOOD.replace("[images.worker]", &format!("[images.\"{bad}\"]")));
        assert!(e.contains("repository path component"), "{bad}: {e}");
    }
}

#[test]
fn every_unknown_key_and_bad_value_is_reported_in_one_run() {
    let text = GOOD
        .replace("context = \"backend\"", "contxt = \"backend\"")
        .replace(
            "user = \"65532:65532\"",
            "user = \"65532:65532\"\nentrypont = []",
        )
        .replace("\"linux/arm64\"]", "\"linux/arm65\"]");
    let e = error_of(&text.replace("backend/Dockerfile", "backend/Dockerfile.missing"));
    assert!(e.contains("4 problems"), "{e}");
    assert!(e.contains("images.backend.dockerfile"), "{e}");
    assert!(e.contains("images.backend.contxt"), "{e}");
    assert!(e.contains("images.worker.entrypont"), "{e}");
    assert!(e.contains("release.platforms[1]"), "{e}");
    assert!(e.contains("linux/arm65"), "{e}");
}

#[test]
fn bad_rule_is_named() {
    let e = error_of(&GOOD.replace("type=ref,event=branch", "type=nope"));
    assert!(e.contains("release.tags[0]"), "{e}");
}

#[test]
fn syntax_error_has_a_line() {
    let e = error_of("[release\nname=1");
    assert!(e.contains("line 1"), "{e}");
}

#[test]
fn compression_levels_are_checked_per_codec() {
    let with = |extra: &str| {
        GOOD.replace(
            "user = \"65532:65532\"",
            &format!("user = \"65532:65532\"\n{extra}"),
        )
    };
    let d = root();
    for ok in [
        "compression-level = 9",
        "compression = \"zstd\"\ncompression-level = 19",
        "compression = \"zstd\"\ncompression-level = 1",
    ] {
        parse(d.path(), &with(ok)).unwrap();
    }
    let e = error_of(&with("compression-level = 10"));
    assert!(e.contains("images.worker.compression-level"), "{e}");
    assert!(e.contains("gzip (0-9"), "{e}");
    for bad in [0, 20] {
        let e = error_of(&with(&format!(
            "compression = \"zstd\"\ncompression-level = {bad}"
        )));
        assert!(e.contains("zstd (1-19"), "{e}");
    }
}

#[test]
fn one_compose_table_and_an_array_of_tables_both_read() {
    let d = root();
    std::fs::write(d.path().join("b.yaml"), "services: {}\n").unwrap();
    let c = parse(d.path(), GOOD).unwrap();
    assert_eq!(c.compose.len(), 1);
    assert!(c.compose[0].resolve_external && !c.compose[0].env_files);
    assert_eq!(c.compose[0].oci_version, ComposeOciVersion::Auto);
    let many = GOOD.replace(
        "[compose]\nfiles = [\"compose.yaml\"]\nrepository = \"votive-oci\"",
        "[[compose]]\nfiles = [\"compose.yaml\"]\nrepository = \"a-oci\"\nallow = [\"bind-mounts\"]\n\
         oci-version = \"1.0\"\n[[compose]]\nfiles = [\"b.yaml\"]\nrepository = \"b-oci\"\n\
         env-files = true\nresolve-external = false",
    );
    let c = parse(d.path(), &many).unwrap();
    assert_eq!(c.compose.len(), 2);
    assert_eq!(c.compose[0].allow, vec![ComposeAllow::BindMounts]);
    assert_eq!(c.compose[0].oci_version, ComposeOciVersion::V1_0);
    assert!(c.compose[1].env_files && !c.compose[1].resolve_external);
}

#[test]
fn bad_compose_keys_and_values_are_named() {
    for (bad, key) in [
        ("file = \"x\"", "compose"),
        ("allow = [\"everything\"]", "compose.allow"),
        ("oci-version = \"2\"", "compose.oci-version"),
    ] {
        let e = error_of(&GOOD.replace(
            "repository = \"votive-oci\"",
            &format!("repository = \"votive-oci\"\n{bad}"),
        ));
        assert!(e.contains(key), "{bad}: {e}");
    }
    let two_same = GOOD.replace(
        "[compose]\nfiles = [\"compose.yaml\"]\nrepository = \"votive-oci\"",
        "[[compose]]\nfiles = [\"compose.yaml\"]\nrepository = \"x-oci\"\n\
         [[compose]]\nfiles = [\"compose.yaml\"]\nrepository = \"x-oci\"",
    );
    let e = error_of(&two_same);
    assert!(e.contains("compose[1].repository"), "{e}");
    assert!(e.contains("already used"), "{e}");
}

#[test]
fn build_args_may_use_templates_and_give_version_its_form() {
    let d = root();
    let ok = GOOD.replace(
        "build-args = { NODE_ENV = \"production\" }",
        "build-args = { VERSION = \"v{{version}}\", REF = \"{{branch}}-{{sha}}\" }",
    );
    parse(d.path(), &ok).unwrap();
    let e = error_of(&GOOD.replace(
        "build-args = { NODE_ENV = \"production\" }",
        "build-args = { WHEN = \"{{date 'YYYY'}}\" }",
    ));
    assert!(e.contains("images.backend.build-args.WHEN"), "{e}");
}

#[test]
fn sbom_key_reads_its_three_values_and_names_itself_when_bad() {
    let d = root();
    let with = |v: &str| GOOD.replace("latest = \"auto\"", &format!("latest = \"auto\"\n{v}"));
    assert_eq!(parse(d.path(), GOOD).unwrap().release.sbom, SbomMode::Auto);
    for (text, want) in [
        ("sbom = \"auto\"", SbomMode::Auto),
        ("sbom = \"syft\"", SbomMode::Syft),
        ("sbom = \"off\"", SbomMode::Off),
    ] {
        assert_eq!(parse(d.path(), &with(text)).unwrap().release.sbom, want);
    }
    for bad in ["sbom = \"cyclonedx\"", "sbom = true", "sbom = \"Syft\""] {
        let e = error_of(&with(bad));
        assert!(e.contains("release.sbom"), "{bad}: {e}");
        assert!(e.contains("images/release.toml"), "{bad}: {e}");
    }
}
