use super::*;

fn one(text: &str) -> Bake {
    read("docker-bake.hcl", text)
}

fn names(b: &Bake) -> Vec<&str> {
    b.images.iter().map(|i| i.name.as_str()).collect()
}

fn not_mapped(b: &Bake) -> Vec<String> {
    b.notes
        .not_mapped
        .iter()
        .map(|n| format!("{}: {}", n.from, n.what))
        .collect()
}

#[test]
fn targets_map_to_images_with_every_build_key() {
    let b = one(r#"
variable "REGISTRY" {
  default = "ghcr.io/acme"
}
variable "TAG" {
  default = "dev"
}

group "default" {
  targets = ["api", "web"]
}

target "api" {
  context    = "services/api"
  dockerfile = "build/Dockerfile"
  target     = "runtime"
  args       = { NODE_ENV = "production", PORT = 8080 }
  labels     = { "org.example.team" = "core" }
  platforms  = ["linux/amd64", "linux/arm64"]
  tags       = ["${REGISTRY}/api:${TAG}", "docker.io/acme/api:latest"]
  cache-to   = ["type=gha,mode=max"]
}

target "web" {
  context = "web"
}
"#);
    assert_eq!(names(&b), ["api", "web"]);
    let api = &b.images[0];
    assert_eq!(api.context, "services/api");
    assert_eq!(api.dockerfile, "services/api/build/Dockerfile");
    assert_eq!(api.target.as_deref(), Some("runtime"));
    assert_eq!(api.build_args["NODE_ENV"], "production");
    assert_eq!(api.build_args["PORT"], "8080");
    assert_eq!(api.labels["org.example.team"], "core");
    assert_eq!(api.platforms, ["linux/amd64", "linux/arm64"]);
    assert_eq!(api.cache.as_deref(), Some("gha"));
    assert_eq!(
        api.names,
        [
            ImageName {
                prefix: "ghcr.io/acme".into(),
                repository: "api".into()
            },
            ImageName {
                prefix: "docker.io/acme".into(),
                repository: "api".into()
            }
        ]
    );
    assert_eq!(api.from, Source::new("docker-bake.hcl", 13));
    let web = &b.images[1];
    assert_eq!(
        (web.context.as_str(), web.dockerfile.as_str()),
        ("web", "web/Dockerfile")
    );
    // Fixed tags and variables are reported, each with its line.
    let nm = not_mapped(&b);
    for want in [
        "docker-bake.hcl:2: variable \"REGISTRY\"",
        "docker-bake.hcl:20: target \"api\" tag \"dev\"",
        "docker-bake.hcl:20: target \"api\" tag \"latest\"",
    ] {
        assert!(nm.contains(&want.to_string()), "{want} not in {nm:#?}");
    }
    let mapped: Vec<String> = b
        .notes
        .mapped
        .iter()
        .map(|m| format!("{} {} → {}", m.from, m.what, m.key))
        .collect();
    for want in [
        "docker-bake.hcl:16 target \"api\" target → images.api.target",
        "docker-bake.hcl:17 target \"api\" args → images.api.build-args",
        "docker-bake.hcl:21 target \"api\" cache-to → images.api.cache",
    ] {
        assert!(
            mapped.contains(&want.to_string()),
            "{want} not in {mapped:#?}"
        );
    }
}

#[test]
fn which_targets_are_images() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "no default group: every target not inherited from",
            r#"target "base" { args = { A = "1" } }
target "a" { inherits = ["base"] }
target "b" { inherits = ["base"] }"#,
            &["a", "b"],
        ),
        (
            "the default group, nested groups expanded",
            r#"group "default" { targets = ["front", "c"] }
group "front" { targets = ["a", "b"] }
target "a" {}
target "b" {}
target "c" {}
target "tool" {}"#,
            &["a", "b", "c"],
        ),
        (
            "metadata-action's placeholder is never an image",
            r#"target "docker-metadata-action" {}
target "build" { inherits = ["docker-metadata-action"] }"#,
            &["build"],
        ),
        (
            "target names become repository components",
            r#"target "Web_UI" {}"#,
            &["web_ui"],
        ),
    ];
    for (why, text, want) in cases {
        assert_eq!(names(&one(text)), *want, "{why}");
    }
}

#[test]
fn inherits_merges_parents_under_the_child() {
    let b = one(r#"
target "docker-metadata-action" {}
target "base" {
  context = "app"
  args = { A = "1", B = "1" }
  platforms = ["linux/amd64"]
}
target "app" {
  inherits = ["base", "docker-metadata-action"]
  args = { B = "2" }
}
"#);
    let app = &b.images[0];
    assert_eq!(app.context, "app");
    assert_eq!(
        app.build_args,
        BTreeMap::from([("A".into(), "1".into()), ("B".into(), "2".into())])
    );
    assert_eq!(app.platforms, ["linux/amd64"]);
    assert_eq!(b.uses_metadata_action, ["app"]);
}

#[test]
fn what_cannot_be_evaluated_or_mapped_is_reported() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "a function call",
            r#"function "tag" {
  params = [v]
  result = "v${v}"
}
target "a" { tags = [tag("1")] }"#,
            "docker-bake.hcl:5: target \"a\" tags",
            "functions are not evaluated, and no variable names a registry",
        ),
        (
            "an unknown variable",
            r#"target "a" { args = { V = "${NOPE}" } }"#,
            "docker-bake.hcl:1: target \"a\" args",
            "cannot be evaluated",
        ),
        (
            "a matrix",
            "target \"a\" {\n  matrix = { v = [\"1\", \"2\"] }\n}",
            "docker-bake.hcl:2: target \"a\" matrix",
            "not expanded",
        ),
        (
            "a remote context",
            r#"target "a" { context = "https://github.com/o/r.git" }"#,
            "docker-bake.hcl:1: target \"a\" context",
            "remote",
        ),
        (
            "secrets",
            "target \"a\" {\n  secret = [\"id=npm,src=.npmrc\"]\n}",
            "docker-bake.hcl:2: target \"a\" secret",
            "no config key",
        ),
        (
            "another group",
            "target \"a\" {}\ngroup \"ci\" { targets = [\"a\"] }",
            "docker-bake.hcl:2: group \"ci\" (a)",
            "releases every image together",
        ),
        (
            "bad HCL",
            "target \"a\" {\n  context = \n}",
            "docker-bake.hcl:2: the bake file",
            "not valid HCL",
        ),
    ];
    for (why, text, what, reason) in cases {
        let b = one(text);
        let found = b
            .notes
            .not_mapped
            .iter()
            .find(|n| format!("{}: {}", n.from, n.what) == *what);
        let Some(found) = found else {
            panic!(
                "{why}: {what} not reported; reported: {:#?}",
                b.notes.not_mapped
            );
        };
        assert!(found.why.contains(reason), "{why}: {found:?}");
    }
}

#[test]
fn a_bake_file_in_a_subdirectory_resolves_paths_from_where_bake_runs() {
    // vaultwarden's docker/docker-bake.hcl: `context = "."`, `dockerfile =
    // "docker/Dockerfile.debian"`, run from the root (`bake-action` `files:`).
    let b = read(
        "docker/docker-bake.hcl",
        r#"target "debian" {
  context = "."
  dockerfile = "docker/Dockerfile.debian"
}
target "api" {
  context = "api"
  dockerfile = "Dockerfile.prod"
}"#,
    );
    assert_eq!(b.images[1].context, ".");
    assert_eq!(b.images[1].dockerfile, "docker/Dockerfile.debian");
    assert_eq!(b.images[0].context, "api");
    assert_eq!(b.images[0].dockerfile, "api/Dockerfile.prod");
}
