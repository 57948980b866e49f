use super::*;

#[test]
fn image_names_split_into_prefix_and_repository() {
    type Want<'a> = Option<(&'a str, &'a str, Option<&'a str>)>;
    let cases: &[(&str, Want)] = &[
        (
            "ghcr.io/acme/api:1.0",
            Some(("ghcr.io/acme", "api", Some("1.0"))),
        ),
        ("name/app", Some(("docker.io/name", "app", None))),
        ("localhost:5000/app", Some(("localhost:5000", "app", None))),
        (
            "registry.lan:5000/a/b/web:dev",
            Some(("registry.lan:5000/a/b", "web", Some("dev"))),
        ),
        ("app", None),
        ("ghcr.io/acme/API", None),
    ];
    for (input, want) in cases {
        let got = ImageName::parse(input).map(|(n, t)| (n.prefix, n.repository, t));
        let want = want.map(|(p, r, t)| (p.to_string(), r.to_string(), t.map(str::to_string)));
        assert_eq!(got, want, "{input}");
    }
}

#[test]
fn paths_join_inside_the_root_only() {
    let cases: &[(&str, &str, Option<&str>)] = &[
        ("", ".", Some(".")),
        ("", "./backend", Some("backend")),
        ("deploy", "../backend", Some("backend")),
        ("deploy", "..", Some(".")),
        ("", "../x", None),
        ("a", "/abs", None),
        ("a/b", "c/./Dockerfile", Some("a/b/c/Dockerfile")),
    ];
    for (base, rel, want) in cases {
        assert_eq!(join(base, rel).as_deref(), *want, "{base} + {rel}");
    }
}

#[test]
fn names_become_repository_components() {
    let cases = [
        ("Web_UI", "web_ui"),
        ("my app", "my-app"),
        ("api.dev", "api.dev"),
        ("--x--", "x"),
        ("Ünïcode", "n-code"),
    ];
    for (raw, want) in cases {
        assert_eq!(component(raw), want, "{raw}");
    }
}

#[test]
fn inputs_are_found_outside_skipped_directories() {
    let dir = tempfile::tempdir().unwrap();
    let write = |rel: &str| {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "x").unwrap();
    };
    for f in [
        "Dockerfile",
        "api/Dockerfile",
        "web/web.Dockerfile",
        "web/Dockerfile.dev",
        "node_modules/x/Dockerfile",
        "vendor/x/Dockerfile",
        "vendor/x/docker-bake.hcl",
        ".devcontainer/Dockerfile",
        "tests/e2e/docker/docker-compose.yml",
        "docker/Dockerfile.j2",
        "docker/dockerfile",
        "docker/base.dockerfile",
        "target/Dockerfile",
        "docker-bake.hcl",
        "deploy/compose.yaml",
        ".github/workflows/release.yml",
        ".github/workflows/notes.txt",
        "README.md",
    ] {
        write(f);
    }
    let inputs = find_inputs(dir.path()).unwrap();
    assert_eq!(
        inputs,
        Inputs {
            dockerfiles: vec![
                "Dockerfile".into(),
                "api/Dockerfile".into(),
                "docker/base.dockerfile".into(),
                "docker/dockerfile".into(),
                "web/Dockerfile.dev".into(),
                "web/web.Dockerfile".into()
            ],
            bake_files: vec!["docker-bake.hcl".into()],
            compose_files: vec!["deploy/compose.yaml".into()],
            workflows: vec![".github/workflows/release.yml".into()],
            refused: vec![],
            skipped: [
                (".devcontainer/Dockerfile", "a development container"),
                ("docker/Dockerfile.j2", "a template"),
                ("tests/e2e/docker/docker-compose.yml", "a test"),
                ("vendor/x/Dockerfile", "vendored"),
                ("vendor/x/docker-bake.hcl", "vendored"),
            ]
            .iter()
            .map(|(p, why)| {
                let full = inputs
                    .skipped
                    .iter()
                    .find(|s| s.0 == *p)
                    .map(|s| s.1.clone());
                assert!(full.as_deref().unwrap_or("").contains(why), "{p}: {full:?}");
                (p.to_string(), full.unwrap_or_default())
            })
            .collect(),
        }
    );
}
