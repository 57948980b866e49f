use super::*;
use crate::compose::testutil::Workspace;

fn text(file: &SourceFile) -> String {
    String::from_utf8(file.published_bytes()).unwrap()
}

#[test]
fn compose_files_are_read_in_order_and_named_by_base_name() {
    let ws = Workspace::new(&[
        ("compose.yaml", "services:\n  web:\n    image: nginx\n"),
        (
            "deploy/compose.prod.yaml",
            "services:\n  web:\n    restart: always\n",
        ),
    ]);
    let project = ws
        .load(&["compose.yaml", "deploy/compose.prod.yaml"])
        .unwrap();
    let names: Vec<(String, String)> = project
        .files
        .iter()
        .map(|f| (f.path.clone(), f.layer_name()))
        .collect();
    assert_eq!(
        names,
        [
            ("compose.yaml".into(), "compose.yaml".into()),
            (
                "deploy/compose.prod.yaml".into(),
                "compose.prod.yaml".into()
            )
        ]
    );
    assert_eq!(
        text(&project.files[0]),
        "services:\n  web:\n    image: nginx\n"
    );
}

#[test]
fn env_file_paths_are_rewritten_in_place_to_their_hash() {
    let cases = [
        (
            "    env_file: ./app.env # keep me\n",
            format!("    env_file: {} # keep me\n", "{app}"),
        ),
        (
            "    env_file: \"app.env\"\n",
            format!("    env_file: {}\n", "{app}"),
        ),
        (
            "    env_file:\n      - app.env\n      - conf/other.env\n",
            format!(
                "    env_file:\n      - {}\n      - {}\n",
                "{app}", "{other}"
            ),
        ),
        (
            "    env_file: [app.env, conf/other.env]\n",
            format!("    env_file: [{}, {}]\n", "{app}", "{other}"),
        ),
        (
            "    env_file:\n      - path: ${ENV_FILE:-app.env}\n        required: true\n",
            format!(
                "    env_file:\n      - path: {}\n        required: true\n",
                "{app}"
            ),
        ),
        (
            "    env_file:\n      - path: missing.env\n        required: false\n",
            format!(
                "    env_file:\n      - path: {}\n        required: false\n",
                "{missing}"
            ),
        ),
    ];
    for (service_tail, want_tail) in cases {
        let head = "services:\n  web:\n    image: nginx\n";
        let ws = Workspace::new(&[
            ("compose.yaml", &format!("{head}{service_tail}")),
            ("app.env", "A=1\n"),
            ("conf/other.env", "B=2\n"),
        ]);
        let project = ws.load(&["compose.yaml"]).unwrap();
        let want_tail = want_tail
            .replace("{app}", &hashed(&ws.abs("app.env"), "env"))
            .replace("{other}", &hashed(&ws.abs("conf/other.env"), "env"))
            .replace("{missing}", &hashed(&ws.abs("missing.env"), "env"));
        assert_eq!(
            text(&project.files[0]),
            format!("{head}{want_tail}"),
            "{service_tail}"
        );
    }
}

#[test]
fn env_files_are_collected_once_with_their_users_and_content() {
    let ws = Workspace::new(&[
        (
            "compose.yaml",
            "services:\n  a:\n    image: x\n    env_file: app.env\n  b:\n    image: y\n    env_file:\n      - app.env\n      - path: opt.env\n        required: false\n",
        ),
        ("app.env", "A=1\n"),
    ]);
    let project = ws.load(&["compose.yaml"]).unwrap();
    let env: Vec<(&str, bool, usize)> = project
        .env_files
        .iter()
        .map(|e| (e.path.as_str(), e.content.is_some(), e.used_by.len()))
        .collect();
    assert_eq!(env, [("app.env", true, 2), ("opt.env", false, 1)]);
    assert_eq!(
        project.env_files[0].layer_name,
        hashed(&ws.abs("app.env"), "env")
    );
}

#[test]
fn paths_in_compose_files_are_relative_to_the_first_files_directory() {
    let ws = Workspace::new(&[
        ("deploy/compose.yaml", "services:\n  web:\n    image: x\n"),
        (
            "deploy/override.yaml",
            "services:\n  web:\n    env_file: app.env\n",
        ),
        ("deploy/app.env", "A=1\n"),
    ]);
    let project = ws
        .load(&["deploy/compose.yaml", "deploy/override.yaml"])
        .unwrap();
    assert_eq!(project.env_files[0].path, "deploy/app.env");
}

#[test]
fn extends_parents_are_read_rewritten_and_named_by_hash() {
    let ws = Workspace::new(&[
        (
            "compose.yaml",
            "services:\n  web:\n    extends:\n      file: common/base.yaml\n      service: base\n",
        ),
        (
            "common/base.yaml",
            "services:\n  base:\n    image: nginx\n    env_file: base.env\n    extends:\n      file: root.yaml\n      service: root\n",
        ),
        ("common/root.yaml", "services:\n  root:\n    image: busybox\n"),
        ("common/base.env", "A=1\n"),
    ]);
    let project = ws.load(&["compose.yaml"]).unwrap();
    let base = hashed(&ws.abs("common/base.yaml"), "yaml");
    assert!(text(&project.files[0]).contains(&format!("file: {base}\n")));
    let parents: Vec<(&str, String)> = project
        .extends
        .iter()
        .map(|f| (f.path.as_str(), f.layer_name()))
        .collect();
    assert_eq!(
        parents,
        [
            ("common/base.yaml", base),
            (
                "common/root.yaml",
                hashed(&ws.abs("common/root.yaml"), "yaml")
            )
        ]
    );
    let parent = text(&project.extends[0]);
    assert!(
        parent.contains(&hashed(&ws.abs("common/base.env"), "env")),
        "{parent}"
    );
    assert!(
        parent.contains(&hashed(&ws.abs("common/root.yaml"), "yaml")),
        "{parent}"
    );
    assert_eq!(
        project.services()["web"].image,
        Some(("nginx".into(), "common/base.yaml".into()))
    );
}

#[test]
fn images_merge_over_the_files_and_come_from_same_file_extends() {
    let ws = Workspace::new(&[
        (
            "compose.yaml",
            "services:\n  base:\n    image: app:1\n  web:\n    extends: base\n  worker:\n    build: .\n",
        ),
        ("override.yaml", "services:\n  base:\n    image: app:2\n"),
    ]);
    let services = ws
        .load(&["compose.yaml", "override.yaml"])
        .unwrap()
        .services();
    assert_eq!(
        services["base"].image,
        Some(("app:2".into(), "override.yaml".into()))
    );
    assert_eq!(
        services["web"].image,
        Some(("app:1".into(), "compose.yaml".into()))
    );
    assert_eq!(
        services["worker"],
        ServiceView {
            image: None,
            has_build: true
        }
    );
}

#[test]
fn paths_outside_the_workspace_are_refused_naming_the_key() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.env"), "A=1\n").unwrap();
    let ws = Workspace::new(&[("compose.yaml", "services:\n  web:\n    image: x\n")]);
    std::os::unix::fs::symlink(
        outside.path().join("secret.env"),
        ws.root().join("link.env"),
    )
    .unwrap();
    let outside_env = outside.path().join("secret.env");
    let cases = [
        ("env_file: link.env".to_string(), "services.web.env_file[0]"),
        (
            format!("env_file: {}", outside_env.display()),
            "services.web.env_file[0]",
        ),
        (
            format!(
                "extends:\n      file: {}\n      service: x",
                outside_env.display()
            ),
            "services.web.extends.file",
        ),
    ];
    for (line, key) in cases {
        std::fs::write(
            ws.root().join("compose.yaml"),
            format!("services:\n  web:\n    image: x\n    {line}\n"),
        )
        .unwrap();
        let err = ws.load(&["compose.yaml"]).unwrap_err();
        assert_eq!(err.kind, ErrorKind::OutsideWorkspace, "{line}: {err}");
        assert!(err.problem.reason.contains(key), "{err}");
        assert!(err.problem.reason.contains("secret.env"), "{err}");
    }
    let err = ws.load(&["../escape.yaml"]).unwrap_err();
    assert!(
        matches!(err.kind, ErrorKind::Read | ErrorKind::OutsideWorkspace),
        "{err}"
    );
}

#[test]
fn unreadable_or_invalid_files_are_errors_of_their_kind() {
    let cases = [
        (
            "services:\n  web:\n    image: [\n",
            ErrorKind::Syntax,
            "line",
        ),
        ("- just\n- a list\n", ErrorKind::Syntax, "mapping"),
        (
            "services:\n  web:\n    image: x\n    ports:\n      - target: [1]\n",
            ErrorKind::Schema,
            "services.web.ports[0].target",
        ),
        (
            "services:\n  web:\n    image: x\n    env_file: gone.env\n",
            ErrorKind::Read,
            "env_file",
        ),
        (
            "services:\n  web:\n    image: x\n    env_file: ${ENV_FILE}\n",
            ErrorKind::Path,
            "ENV_FILE",
        ),
    ];
    for (src, kind, text) in cases {
        let ws = Workspace::new(&[("compose.yaml", src)]);
        let err = ws.load(&["compose.yaml"]).unwrap_err();
        assert_eq!(err.kind, kind, "{src}: {err}");
        assert!(err.problem.reason.contains(text), "{src}: {err}");
        assert_eq!(
            err.file.as_deref(),
            Some(std::path::Path::new("compose.yaml"))
        );
    }
}

#[test]
fn hashes_are_sha256_hex_of_the_path() {
    assert_eq!(
        hashed("", "env"),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.env"
    );
}

#[test]
fn images_are_inherited_through_an_extends_chain_across_files() {
    let ws = Workspace::new(&[
        (
            "compose.yaml",
            "services:\n  web:\n    extends:\n      file: base.yaml\n      service: base\n",
        ),
        (
            "base.yaml",
            "services:\n  base:\n    extends:\n      file: root.yaml\n      service: root\n",
        ),
        ("root.yaml", "services:\n  root:\n    image: busybox\n"),
    ]);
    let services = ws.load(&["compose.yaml"]).unwrap().services();
    assert_eq!(
        services["web"].image,
        Some(("busybox".into(), "root.yaml".into()))
    );
}
