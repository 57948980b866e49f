use super::super::{bake, compose, workflow};
use super::*;

const BAKE: &str = r#"target "docker-metadata-action" {}
group "default" { targets = ["api", "web"] }
target "api" {
  inherits = ["docker-metadata-action"]
  context = "api"
  platforms = ["linux/amd64", "linux/arm64"]
  tags = ["ghcr.io/acme/shop-api:dev"]
}
target "web" {
  context = "web"
  platforms = ["linux/amd64"]
}
"#;

const COMPOSE: &str = "services:
  api:
    build: ./api
    image: ghcr.io/acme/shop-api
  web:
    build:
      context: web
      args:
        MODE: prod
    image: ghcr.io/acme/web
  worker:
    build: worker
    image: ghcr.io/acme/worker
";

const WORKFLOW: &str = "jobs:
  j:
    steps:
      - uses: docker/metadata-action@v5
        with:
          images: docker.io/acme/shop-api
          tags: |
            type=ref,event=branch
            type=semver,pattern={{version}}
          flavor: latest=true
";

fn found() -> Found {
    Found {
        default_name: "shop".into(),
        dockerfiles: vec![
            "api/Dockerfile".into(),
            "web/Dockerfile".into(),
            "worker/Dockerfile".into(),
            "tools/Dockerfile".into(),
        ],
        bake: vec![bake::read("docker-bake.hcl", BAKE)],
        compose: vec![compose::read("compose.yaml", COMPOSE).unwrap()],
        workflows: vec![workflow::read(".github/workflows/release.yml", WORKFLOW, None).unwrap()],
        ..Default::default()
    }
}

#[test]
fn one_image_per_build_from_every_source() {
    let d = merge(found()).unwrap();
    let images: Vec<(&str, &str, Option<&str>)> = d
        .images
        .iter()
        .map(|i| {
            (
                i.build.name.as_str(),
                i.build.dockerfile.as_str(),
                i.repository.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        images,
        [
            ("api", "api/Dockerfile", Some("shop-api")),
            ("web", "web/Dockerfile", None),
            ("worker", "worker/Dockerfile", None),
        ]
    );
    // Nothing publishes tools/Dockerfile (no tag, no workflow, no compose image): a helper.
    assert!(
        d.notes
            .not_mapped
            .iter()
            .any(
                |n| n.from.file == "tools/Dockerfile" && n.why.contains("nothing")
                    || n.why
                        .contains("no workflow, bake tag or compose file publishes it")
            ),
        "{:#?}",
        d.notes.not_mapped
    );
    // compose's args join bake's target.
    assert_eq!(d.images[1].build.build_args["MODE"], "prod");
    // metadata-action's image comes first, then bake's and compose's prefixes.
    assert_eq!(d.registries, ["docker.io/acme", "ghcr.io/acme"]);
    assert_eq!(d.platforms, ["linux/amd64", "linux/arm64"]);
    assert_eq!(d.images[1].platforms, Some(vec!["linux/amd64".to_string()]));
    assert_eq!(d.images[0].platforms, None);
    assert_eq!(
        d.tags,
        ["type=ref,event=branch", "type=semver,pattern={{version}}"]
    );
    assert_eq!(d.latest.as_deref(), Some("true"));
    assert_eq!(d.name, "shop-api");
    assert_eq!(
        d.compose,
        [ComposeDraft {
            files: vec!["compose.yaml".into()],
            repository: "shop-api-oci".into()
        }]
    );
    let keys: Vec<String> = d
        .notes
        .mapped
        .iter()
        .map(|m| format!("{} → {}", m.from, m.key))
        .collect();
    for want in [
        ".github/workflows/release.yml:8 → release.tags[0]",
        ".github/workflows/release.yml:10 → release.latest",
        ".github/workflows/release.yml:6 → release.registries and images.api",
        "compose.yaml:3 → images.api",
    ] {
        assert!(keys.contains(&want.to_string()), "{want} not in {keys:#?}");
    }
}

#[test]
fn conflicts_are_reported_not_hidden() {
    let cases: &[(&str, Found, &str, &str)] = &[
        (
            "two builds with one name",
            Found {
                default_name: "x".into(),
                compose: vec![compose::read(
                    "compose.yaml",
                    "services:\n  api:\n    build: api\n    image: a/api\n",
                ).unwrap()],
                bake: vec![bake::read("docker-bake.hcl", "target \"api\" { context = \"v2\" }")],
                ..Default::default()
            },
            "image name \"api\"",
            "this one is images.api-2",
        ),
        (
            "a build arg set twice",
            Found {
                default_name: "x".into(),
                bake: vec![bake::read(
                    "docker-bake.hcl",
                    "target \"api\" {\n  args = { A = \"1\" }\n}",
                )],
                compose: vec![compose::read(
                    "compose.yaml",
                    "services:\n  api:\n    build:\n      context: .\n      args: { A: \"2\" }\n    image: a/api\n",
                ).unwrap()],
                ..Default::default()
            },
            "build arg A=\"2\"",
            "already has A=\"1\"",
        ),
        (
            "a compose file compose would not publish",
            Found {
                default_name: "x".into(),
                compose: vec![compose::read("compose.yaml", "services:\n  api:\n    build: .\n").unwrap()],
                ..Default::default()
            },
            "the compose file as a compose artifact",
            "no `image:`",
        ),
        (
            "a repository that is another image's name",
            Found {
                default_name: "x".into(),
                bake: vec![bake::read(
                    "docker-bake.hcl",
                    "target \"api\" {\n  context = \"api\"\n}\ntarget \"backend\" {\n  context = \"backend\"\n  tags = [\"ghcr.io/a/api:1\"]\n}",
                )],
                ..Default::default()
            },
            "repository \"api\"",
            "images.api is pushed there already: images.backend keeps its own name",
        ),
        (
            "a compose file that runs none of the release's images",
            Found {
                default_name: "x".into(),
                dockerfiles: vec!["Dockerfile".into()],
                compose: vec![compose::read(
                    "compose.yaml",
                    "services:\n  db:\n    image: postgres:16\n",
                ).unwrap()],
                ..Default::default()
            },
            "the compose file as a compose artifact",
            "none of its services runs an image this release builds",
        ),
        (
            "one image, two repository names",
            Found {
                default_name: "x".into(),
                bake: vec![bake::read(
                    "docker-bake.hcl",
                    "target \"api\" {\n  tags = [\"ghcr.io/a/api:1\", \"docker.io/a/backend:1\"]\n}",
                )],
                ..Default::default()
            },
            "docker.io/a/backend",
            "one repository name in every registry",
        ),
        (
            "a build arg stevedore sets",
            Found {
                default_name: "x".into(),
                bake: vec![bake::read(
                    "docker-bake.hcl",
                    "target \"api\" {\n  args = { VERSION = \"dev\" }\n}",
                )],
                ..Default::default()
            },
            "build arg VERSION=\"dev\"",
            "stevedore sets VERSION",
        ),
        (
            "a build arg that looks like a template",
            Found {
                default_name: "x".into(),
                bake: vec![bake::read(
                    "docker-bake.hcl",
                    "target \"api\" {\n  args = { FMT = \"{{json .}}\" }\n}",
                )],
                ..Default::default()
            },
            "build arg FMT=\"{{json .}}\"",
            "stevedore template",
        ),
        (
            "no platforms anywhere",
            Found {
                default_name: "x".into(),
                dockerfiles: vec!["Dockerfile".into()],
                ..Default::default()
            },
            "platforms",
            "linux/amd64 written",
        ),
    ];
    for (why, found, what, reason) in cases {
        let d = merge(found.clone()).unwrap();
        assert!(
            d.notes
                .not_mapped
                .iter()
                .any(|n| n.what == *what && n.why.contains(reason)),
            "{why}: {:#?}",
            d.notes.not_mapped
        );
    }
}

#[test]
fn nothing_to_build_is_an_error() {
    let err = merge(Found {
        default_name: "x".into(),
        workflows: vec![workflow::read("w.yml", WORKFLOW, None).unwrap()],
        ..Default::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("no image found"), "{err}");
}

#[test]
fn only_dockerfiles_give_one_image_each_and_the_default_platform() {
    let d = merge(Found {
        default_name: "shop".into(),
        dockerfiles: vec!["Dockerfile".into(), "api/Dockerfile".into()],
        ..Default::default()
    })
    .unwrap();
    let names: Vec<&str> = d.images.iter().map(|i| i.build.name.as_str()).collect();
    assert_eq!(names, ["shop", "api"]);
    assert_eq!(d.platforms, ["linux/amd64"]);
    assert!(d.registries.is_empty());
    assert!(d.tags.is_empty());
    assert!(d.compose.is_empty());
}

/// A secret-looking build arg (bake or compose, by name or by value) goes to
/// `release.secret-build-args` by name; its value is in no key, no note and not the config.
#[test]
fn secret_looking_build_args_are_kept_by_name_only() {
    let token = "npm_0123456789abcdefghijABCDEFGHIJ0123";
    let found = Found {
        default_name: "x".into(),
        bake: vec![bake::read(
            "docker-bake.hcl",
            &format!(
                "target \"api\" {{\n  context = \"api\"\n  args = {{ NPM_TOKEN = \"{token}\", MODE = \"prod\" }}\n}}"
            ),
        )],
        compose: vec![compose::read(
            "compose.yaml",
            &format!(
                "services:\n  web:\n    build:\n      context: web\n      args:\n        - UPSTREAM={token}\n        - DB_PASSWORD=${{DB_PASSWORD}}\n      labels:\n        com.example.api-key: hunter2hunter2\n    image: a/web\n"
            ),
        )
        .unwrap()],
        ..Default::default()
    };
    let draft = merge(found).unwrap();
    assert_eq!(
        draft.secret_build_args,
        ["DB_PASSWORD", "NPM_TOKEN", "UPSTREAM"]
    );
    let api = &draft
        .images
        .iter()
        .find(|i| i.build.name == "api")
        .unwrap()
        .build;
    assert_eq!(
        api.build_args,
        BTreeMap::from([("MODE".to_string(), "prod".to_string())])
    );
    let web = &draft
        .images
        .iter()
        .find(|i| i.build.name == "web")
        .unwrap()
        .build;
    assert!(
        web.build_args.is_empty() && web.labels.is_empty(),
        "{web:?}"
    );
    let text = crate::init::render::render(&draft);
    let notes = format!("{:?}", draft.notes);
    for shown in [&text, &notes] {
        assert!(
            !shown.contains(token) && !shown.contains("hunter2"),
            "{shown}"
        );
        assert!(!shown.contains("npm_"), "{shown}");
    }
    for what in [
        "build arg NPM_TOKEN",
        "build arg UPSTREAM",
        "label com.example.api-key",
    ] {
        assert!(
            draft.notes.not_mapped.iter().any(|n| n.what == what),
            "{what}: {notes}"
        );
    }
    assert!(text.contains("secret-build-args = [\"DB_PASSWORD\", \"NPM_TOKEN\", \"UPSTREAM\"]"));
}

#[test]
fn labels_stevedore_sets_itself_are_reported_not_written() {
    let found = Found {
        default_name: "x".into(),
        bake: vec![bake::read(
            "docker-bake.hcl",
            "target \"api\" {\n  context = \"api\"\n  labels = {\n    \"org.opencontainers.image.source\" = \"https://github.com/o/r\"\n    \"org.opencontainers.image.revision\" = \"abc\"\n    \"com.example.team\" = \"core\"\n  }\n}",
        )],
        ..Default::default()
    };
    let draft = merge(found).unwrap();
    let api = &draft.images[0].build;
    assert_eq!(
        api.labels,
        BTreeMap::from([("com.example.team".to_string(), "core".to_string())])
    );
    for key in [
        "org.opencontainers.image.source",
        "org.opencontainers.image.revision",
    ] {
        let note = draft
            .notes
            .not_mapped
            .iter()
            .find(|n| n.what == format!("label {key}"))
            .unwrap_or_else(|| panic!("{key} not reported: {:?}", draft.notes));
        assert!(note.why.contains("set by stevedore"), "{}", note.why);
    }
    // What init writes passes the config's own validation.
    let text = crate::init::render::render(&draft);
    assert!(!text.contains("org.opencontainers.image"), "{text}");
}

#[test]
fn image_only_compose_services_name_the_images_and_the_rest_are_left_out() {
    // khoj's shape: `khoj` is the project's image, `khoj-computer` its `computer` image; the
    // database is someone else's; `lint` is published by nothing.
    let found = Found {
        default_name: "khoj".into(),
        dockerfiles: vec![
            "Dockerfile".into(),
            "computer.Dockerfile".into(),
            "hack/lint.Dockerfile".into(),
        ],
        compose: vec![compose::read(
            "docker-compose.yml",
            "services:\n  db:\n    image: docker.io/pgvector/pgvector:pg15\n  computer:\n    image: ghcr.io/khoj-ai/khoj-computer:latest\n  server:\n    image: ghcr.io/khoj-ai/khoj:latest\n",
        )
        .unwrap()],
        workflows: vec![workflow::read(
            ".github/workflows/ci.yml",
            "on:\n  push:\n    branches: [master]\njobs: {}\n",
            None,
        )
        .unwrap()],
        ..Default::default()
    };
    let d = merge(found).unwrap();
    let images: Vec<(&str, Option<&str>)> = d
        .images
        .iter()
        .map(|i| (i.build.name.as_str(), i.repository.as_deref()))
        .collect();
    assert_eq!(
        images,
        [("khoj", None), ("computer", Some("khoj-computer"))]
    );
    assert_eq!(d.registries, ["ghcr.io/khoj-ai"]);
    assert_eq!(
        d.default_branch.as_ref().map(|b| b.1.as_str()),
        Some("master")
    );
    for (what, why) in [
        (
            "image \"lint\"",
            "no workflow, bake tag or compose file publishes it",
        ),
        (
            "image docker.io/pgvector/pgvector",
            "not an image this release builds",
        ),
    ] {
        assert!(
            d.notes
                .not_mapped
                .iter()
                .any(|n| n.what == what && n.why.contains(why)),
            "{what}: {:#?}",
            d.notes.not_mapped
        );
    }
}

#[test]
fn the_remotes_default_branch_wins_over_the_workflows_branches() {
    let found = Found {
        default_name: "x".into(),
        dockerfiles: vec!["Dockerfile".into()],
        origin_head: Some("dev".into()),
        workflows: vec![workflow::read(
            ".github/workflows/ci.yml",
            "on:\n  push:\n    branches: [main]\njobs: {}\n",
            None,
        )
        .unwrap()],
        ..Default::default()
    };
    let d = merge(found).unwrap();
    assert_eq!(d.default_branch.map(|b| b.1), Some("dev".to_string()));
}

#[test]
fn a_dev_stage_before_the_final_stage_gives_a_dev_variant() {
    let found = Found {
        default_name: "x".into(),
        dockerfiles: vec!["frontend/Dockerfile".into(), "api/Dockerfile".into()],
        stages: BTreeMap::from([
            (
                "frontend/Dockerfile".to_string(),
                vec!["base".to_string(), "dev".to_string(), "prod".to_string()],
            ),
            (
                "api/Dockerfile".to_string(),
                vec!["build".to_string(), "".to_string()],
            ),
        ]),
        ..Default::default()
    };
    let d = merge(found).unwrap();
    let images: Vec<(&str, Option<&str>, bool)> = d
        .images
        .iter()
        .map(|i| {
            (
                i.build.name.as_str(),
                i.build.target.as_deref(),
                i.build.dev_variant,
            )
        })
        .collect();
    assert_eq!(
        images,
        [
            ("frontend", None, false),
            ("api", None, false),
            ("frontend-dev", Some("dev"), true)
        ]
    );
    let text = crate::init::render::render(&d);
    assert!(
        text.contains(
            "[images.frontend-dev]  # frontend/Dockerfile\ndockerfile = \"frontend/Dockerfile\"\ncontext = \"frontend\"\ntarget = \"dev\"\nflavor = { suffix = \"-dev\", onlatest = true }\n"
        ),
        "{text}"
    );
}

#[test]
fn metadata_actions_images_go_to_the_build_its_tags_feed() {
    let found = Found {
        default_name: "x".into(),
        dockerfiles: vec!["api/Dockerfile".into(), "web/Dockerfile".into()],
        workflows: vec![workflow::read(
            ".github/workflows/r.yml",
            "jobs:\n  j:\n    steps:\n      - id: meta\n        uses: docker/metadata-action@v5\n        with:\n          images: ghcr.io/acme/backend\n      - uses: docker/build-push-action@v6\n        with:\n          context: api\n          push: true\n          tags: ${{ steps.meta.outputs.tags }}\n",
            None,
        )
        .unwrap()],
        ..Default::default()
    };
    let d = merge(found).unwrap();
    let images: Vec<(&str, Option<&str>)> = d
        .images
        .iter()
        .map(|i| (i.build.name.as_str(), i.repository.as_deref()))
        .collect();
    // web/Dockerfile is published by nothing: left out.
    assert_eq!(images, [("api", Some("backend"))]);
    assert_eq!(d.registries, ["ghcr.io/acme"]);
}

#[test]
fn a_script_release_pushes_where_its_job_logs_in_under_the_shared_namespace() {
    let r = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let cases: &[(&str, &[&str], Option<&str>)] = &[
        ("ghcr.io", &["docker.io/searxng"], Some("ghcr.io/searxng")),
        (
            "ghcr.io",
            &["docker.io/louislam", "quay.io/louislam"],
            Some("ghcr.io/louislam"),
        ),
        // Two namespaces, or none to copy: the login is reported, not guessed.
        ("ghcr.io", &["docker.io/a", "quay.io/b"], None),
        ("ghcr.io", &[], None),
        ("ghcr.io", &["localhost:5000"], None),
    ];
    for (host, registries, want) in cases {
        assert_eq!(
            script_registry(host, &r(registries)).as_deref(),
            *want,
            "{host} {registries:?}"
        );
    }
}

#[test]
fn a_build_arg_holding_a_template_stevedore_does_not_know_is_left_out_and_reported() {
    let wf = r#"on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: docker/build-push-action@v6
        with:
          push: true
          tags: ghcr.io/acme/app:latest
          build-args: |
            PIHOLE_DOCKER_TAG={{meta.version}}
            MODE=production
            V=${{ steps.meta.outputs.version }}
"#;
    let found = Found {
        default_name: "app".into(),
        dockerfiles: vec!["Dockerfile".into()],
        workflows: vec![workflow::read(".github/workflows/release.yml", wf, None).unwrap()],
        ..Default::default()
    };
    let d = merge(found).unwrap();
    let args = &d.images[0].build.build_args;
    assert!(!args.contains_key("PIHOLE_DOCKER_TAG"), "{args:?}");
    assert_eq!(args.get("MODE").map(String::as_str), Some("production"));
    assert_eq!(args.get("V").map(String::as_str), Some("{{version}}"));
    assert!(d
        .notes
        .not_mapped
        .iter()
        .any(|n| n.what == "build arg PIHOLE_DOCKER_TAG" && n.why.contains("{{meta.version}}")));
}

#[test]
fn only_goreleasers_dockerfiles_is_an_error_that_says_so() {
    let found = Found {
        default_name: "filebrowser".into(),
        goreleaser: vec![super::super::goreleaser::read(
            ".goreleaser.yml",
            "dockers:\n  - dockerfile: Dockerfile\n    image_templates: ['filebrowser/filebrowser:{{ .Tag }}']\n",
        )
        .unwrap()],
        ..Default::default()
    };
    let e = format!("{:#}", merge(found).unwrap_err());
    assert!(
        e.contains("the only Dockerfiles here are GoReleaser's"),
        "{e}"
    );
    assert!(e.contains("multi-stage build"), "{e}");
}

#[test]
fn a_ci_machine_registry_is_no_release_destination_and_its_rules_come_last() {
    let wf = r#"on: push
jobs:
  base:
    runs-on: ubuntu-latest
    steps:
      - id: meta-base
        uses: docker/metadata-action@v5
        with:
          images: localhost:5000/acme/app
          tags: type=raw,value=base
  release:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        flavor: [debian, alpine]
    steps:
      - id: meta
        uses: docker/metadata-action@v5
        with:
          images: |
            acme/app
            ghcr.io/acme/app
          tags: |
            type=semver,pattern={{version}}
            type=ref,event=${{ matrix.flavor == 'x' && 'tag' || 'tag' }}
            type=semver,pattern={{version}}
      - uses: docker/build-push-action@v6
        with:
          push: true
          tags: ${{ steps.meta.outputs.tags }}
"#;
    let found = Found {
        default_name: "app".into(),
        dockerfiles: vec!["Dockerfile".into()],
        workflows: vec![workflow::read(".github/workflows/release.yml", wf, None).unwrap()],
        ..Default::default()
    };
    let d = merge(found).unwrap();
    assert_eq!(d.registries, vec!["docker.io/acme", "ghcr.io/acme"]);
    assert_eq!(d.tags, vec!["type=semver,pattern={{version}}"]);

    let mut draft = Draft {
        registries: vec![
            "localhost:5000/acme".into(),
            "ghcr.io/acme".into(),
            "127.0.0.1:5000/x".into(),
            "registry.localhost/y".into(),
        ],
        ..Default::default()
    };
    let mut notes = Notes::default();
    local_registries_out(&mut draft, &mut notes);
    assert_eq!(draft.registries, vec!["ghcr.io/acme"]);
    assert!(notes
        .not_mapped
        .iter()
        .any(|n| n.what == "registry localhost:5000/acme"));
}
