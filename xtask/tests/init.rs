//! `init` from outside: a repository holding a `docker-bake.hcl`, a compose file and a
//! docker/metadata-action workflow gets a config whose `tags --json`, for each GitHub event,
//! gives the tags metadata-action's README documents for the same `tags`/`flavor` inputs.

mod support;

use serde_json::Value;
use support::{output_text, Repo};

/// metadata-action's README, "Usage" → "Semver": this `tags` input and its table of events
/// (docker/metadata-action README.md, section "Semver"; read at commit dc80280 of
/// github.com/docker/metadata-action).
const SEMVER_TAGS: &str = "            type=ref,event=branch
            type=ref,event=pr
            type=semver,pattern={{version}}
            type=semver,pattern={{major}}.{{minor}}
";

fn workflow(flavor: &str) -> String {
    format!(
        "name: ci
on:
  push:
    branches: ['master']
    tags: ['v*']
  pull_request:
    branches: ['master']
jobs:
  docker:
    runs-on: ubuntu-latest
    steps:
      - name: Docker meta
        id: meta
        uses: docker/metadata-action@v5
        with:
          images: |
            name/app
          tags: |
{SEMVER_TAGS}{flavor}      - name: Build
        uses: docker/bake-action@v6
        with:
          files: |
            ./docker-bake.hcl
            ${{{{ steps.meta.outputs.bake-file }}}}
          targets: app
"
    )
}

const BAKE: &str = r#"variable "GREETING" {
  default = "hello"
}

// metadata-action's placeholder (README, "Bake definition").
target "docker-metadata-action" {}

group "default" {
  targets = ["app"]
}

target "app" {
  inherits = ["docker-metadata-action"]
  context = "app"
  platforms = ["linux/amd64", "linux/arm64"]
  args = { GREETING = "${GREETING}" }
}
"#;

const COMPOSE: &str = "services:
  app:
    build:
      context: app
    image: name/app:${TAG:-latest}
    ports: ['8080:8080']
  cache:
    image: redis:7
";

/// The fixture: bake, compose, a metadata-action workflow with `flavor` (may be empty), a
/// Dockerfile; committed, no config yet.
fn fixture(flavor: &str) -> Repo {
    let repo = Repo::init();
    repo.write("docker-bake.hcl", BAKE);
    repo.write("compose.yaml", COMPOSE);
    repo.write(".github/workflows/docker.yml", workflow(flavor));
    repo.write("app/Dockerfile", "FROM scratch\nCOPY . /\n");
    repo.write("app/hello.txt", "hello\n");
    repo.commit("app");
    repo
}

/// Runs `init` (asserting success), commits the config, returns init's stdout.
fn init(repo: &Repo) -> String {
    let out = repo.xtask(&["init"], &[]);
    assert!(out.status.success(), "init failed: {}", output_text(&out));
    repo.commit("config");
    String::from_utf8(out.stdout).unwrap()
}

/// `tags --json` under GitHub Actions variables (`GITHUB_SHA` is HEAD), parsed.
fn tags_in_actions(repo: &Repo, env: &[(&str, &str)]) -> Value {
    let sha = repo.head();
    let mut all: Vec<(&str, &str)> = vec![("GITHUB_ACTIONS", "true"), ("GITHUB_SHA", &sha)];
    all.extend_from_slice(env);
    let out = repo.xtask(&["tags", "--json"], &all);
    assert!(out.status.success(), "tags --json: {}", output_text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn push(repo: &Repo, git_ref: &str) -> Value {
    tags_in_actions(
        repo,
        &[("GITHUB_EVENT_NAME", "push"), ("GITHUB_REF", git_ref)],
    )
}

fn tags(v: &Value) -> Vec<String> {
    v["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn bake_compose_and_metadata_action_give_metadata_actions_documented_tags() {
    let repo = fixture("");
    let report = init(&repo);
    for want in [
        "docker-bake.hcl:12  target \"app\" → images.app",
        "docker-bake.hcl:15  target \"app\" platforms → release.platforms",
        ".github/workflows/docker.yml:17  metadata-action image docker.io/name/app → release.registries and images.app",
        ".github/workflows/docker.yml:19  tags \"type=ref,event=branch\" → release.tags[0]\n",
        // The documented difference a floating pattern meets is named where it is mapped.
        "tags \"type=semver,pattern={{major}}.{{minor}}\" → release.tags[3] (differs from metadata-action: a floating tag: it moves only when this is the highest release",
        "compose.yaml:4  service \"app\" build → images.app (dockerfile, context)",
        "compose.yaml  the compose file → compose",
    ] {
        assert!(report.contains(want), "{want:?} not in:\n{report}");
    }
    let config = std::fs::read_to_string(repo.path().join("images/release.toml")).unwrap();
    assert!(
        config.contains("registries = [\"docker.io/name\"]"),
        "{config}"
    );
    assert!(
        config.contains("[compose]\nfiles = [\"compose.yaml\"]"),
        "{config}"
    );

    // The table of README "Usage" → "Semver", row by row (master is this repository's main
    // branch in the README; `main` behaves the same, README "type=ref").
    let cases: &[(&str, &[&str])] = &[
        ("refs/heads/master", &["master"]),
        ("refs/heads/releases/v1", &["releases-v1"]),
        ("refs/heads/main", &["main"]),
    ];
    for (git_ref, want) in cases {
        let v = push(&repo, git_ref);
        assert_eq!(tags(&v), *want, "push {git_ref}");
        let refs: Vec<String> = want
            .iter()
            .map(|t| format!("docker.io/name/app:{t}"))
            .collect();
        assert_eq!(
            v["images"]["app"],
            serde_json::json!(refs),
            "push {git_ref}"
        );
    }
    repo.git(&["tag", "v1.2.3"]);
    assert_eq!(
        tags(&push(&repo, "refs/tags/v1.2.3")),
        ["1.2.3", "1.2", "latest"],
        "push tag v1.2.3"
    );
    repo.git(&["tag", "v2.0.8-beta.67"]);
    assert_eq!(
        tags(&push(&repo, "refs/tags/v2.0.8-beta.67")),
        ["2.0.8-beta.67"],
        "push tag v2.0.8-beta.67 (a prerelease extends only {{{{version}}}})"
    );

    // pull_request, refs/pull/2/merge → pr-2.
    let head = repo.head();
    let event = repo.path().join("event.json");
    std::fs::write(
        &event,
        format!(
            r#"{{"pull_request":{{"number":2,"head":{{"sha":"{head}","ref":"feature"}},"base":{{"ref":"master"}}}}}}"#
        ),
    )
    .unwrap();
    let v = tags_in_actions(
        &repo,
        &[
            ("GITHUB_EVENT_NAME", "pull_request"),
            ("GITHUB_REF", "refs/pull/2/merge"),
            ("GITHUB_HEAD_REF", "feature"),
            ("GITHUB_BASE_REF", "master"),
            ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
        ],
    );
    assert_eq!(tags(&v), ["pr-2"], "pull_request refs/pull/2/merge");
}

#[test]
fn flavor_latest_and_suffix_follow_metadata_actions_flavor_input() {
    // README "`flavor` input": `latest=false` turns the latest tag off; `suffix=` is "a global
    // suffix for each generated tag", and not for `latest` unless `onlatest=true`.
    let repo = fixture("          flavor: |\n            latest=false\n            suffix=-slim\n");
    let report = init(&repo);
    assert!(
        report.contains("flavor latest=false → release.latest"),
        "{report}"
    );
    repo.git(&["tag", "v1.2.3"]);
    assert_eq!(
        tags(&push(&repo, "refs/tags/v1.2.3")),
        ["1.2.3-slim", "1.2-slim"]
    );
    assert_eq!(tags(&push(&repo, "refs/heads/master")), ["master-slim"]);
}

#[test]
fn an_existing_config_is_kept_unless_forced() {
    let repo = fixture("");
    init(&repo);
    let path = repo.path().join("images/release.toml");
    std::fs::write(&path, "# mine\n").unwrap();
    let out = repo.xtask(&["init"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("images/release.toml") && err.contains("--force"),
        "{}",
        output_text(&out)
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "# mine\n");

    // --dry-run prints the draft and leaves the file alone.
    let out = repo.xtask(&["init", "--dry-run"], &[]);
    support::assert_ok(&out);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("[images.app]"), "{printed}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("mapped:"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "# mine\n");

    let out = repo.xtask(&["init", "--force"], &[]);
    support::assert_ok(&out);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), printed);
}

#[test]
fn inputs_it_cannot_map_are_reported_with_their_place_and_reason() {
    let repo = Repo::init();
    repo.write(
        "docker-bake.hcl",
        r#"function "tagged" {
  params = [v]
  result = "acme/app:${v}"
}
target "app" {
  context = "."
  tags = [tagged("1")]
  secret = ["id=npm,src=.npmrc"]
}
"#,
    );
    repo.write("Dockerfile", "FROM scratch\n");
    repo.write("compose.yaml", "services:\n  app:\n    build: .\n");
    repo.write(
        "deploy/compose.yaml",
        "services:\n  web:\n    image: ghcr.io/acme/app:1\n    volumes: ['./site:/usr/share/nginx/html']\n",
    );
    repo.write(
        ".github/workflows/ci.yaml",
        "jobs:\n  j:\n    steps:\n      - uses: docker/metadata-action@v5\n        with:\n          images: ghcr.io/${{ github.repository }}\n          tags: |\n            type=ref,event=branch\n            type=raw,value=latest,enable=${{ github.ref == 'refs/heads/main' }}\n",
    );
    repo.commit("inputs");
    let out = repo.xtask(&["init"], &[]);
    support::assert_ok(&out);
    let report = String::from_utf8_lossy(&out.stdout);
    let not_mapped = report.split("not mapped:").nth(1).unwrap_or("");
    for want in [
        "docker-bake.hcl:1  function \"tagged\": functions are not evaluated",
        "docker-bake.hcl:7  target \"app\" tags: tags = [tagged(\"1\")]: functions are not evaluated",
        "docker-bake.hcl:8  target \"app\" secret: no config key",
        "compose.yaml  the compose file as a compose artifact: compose would refuse to publish it: compose.yaml:3: service \"app\" has `build:` and no `image:`",
        "deploy/compose.yaml  services.web.volumes[0]: bind mount of \"./site\"",
        ".github/workflows/ci.yaml:6  images \"ghcr.io/${{ github.repository }}\": a `${{ … }}` expression",
        ".github/workflows/ci.yaml:9  tags \"type=raw,value=latest,enable=${{ github.ref == 'refs/heads/main' }}\"",
    ] {
        assert!(not_mapped.contains(want), "{want:?} not in:\n{report}");
    }
    // The file compose would publish once its bind mount is dealt with is written commented
    // out, with the finding: no written config fails its own release.
    let config = std::fs::read_to_string(repo.path().join("images/release.toml")).unwrap();
    assert!(
        config.contains("bind mount of \"./site\"")
            && config.contains("# [[compose]]\n# files = [\"deploy/compose.yaml\"]"),
        "{config}"
    );
    assert!(!config.contains("\n[compose]"), "{config}");
    // What could be mapped still makes a config that works.
    let out = repo.xtask(&["plan", "--json"], &[]);
    support::assert_ok(&out);
}

#[test]
fn a_repository_with_only_dockerfiles_gets_one_image_each() {
    let repo = Repo::init();
    repo.write("Dockerfile", "FROM scratch\n");
    repo.write("services/api/Dockerfile", "FROM scratch\n");
    repo.write("web/web.Dockerfile", "FROM scratch\n");
    repo.write("node_modules/pkg/Dockerfile", "FROM scratch\n");
    repo.commit("dockerfiles");
    init(&repo);
    let out = repo.xtask(&["plan", "--json"], &[]);
    support::assert_ok(&out);
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut images: Vec<(String, String, String)> = plan["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap().to_string(),
                i["builder"]["dockerfile"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                i["builder"]["context"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    images.sort();
    let root_name = {
        let dir = repo.path().canonicalize().unwrap();
        let n = dir
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_ascii_lowercase();
        n.trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
            .to_string()
    };
    let mut want = vec![
        (root_name, "Dockerfile".to_string(), ".".to_string()),
        (
            "api".into(),
            "services/api/Dockerfile".into(),
            "services/api".into(),
        ),
        ("web".into(), "web/web.Dockerfile".into(), "web".into()),
    ];
    want.sort();
    assert_eq!(images, want);
}

#[test]
fn a_repository_with_nothing_to_build_is_an_error() {
    let repo = Repo::init();
    repo.write("README.md", "hi\n");
    repo.commit("docs");
    let out = repo.xtask(&["init"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no image found"));
    assert!(!repo.path().join("images/release.toml").exists());
}

/// The most common metadata-action input, `images: ghcr.io/${{ github.repository }}`, names
/// the repository the checkout's `origin` points at: init writes it out, and the references
/// are the ones the workflow would push.
#[test]
fn github_repository_in_images_is_the_origin_remotes_repository() {
    let repo = Repo::init();
    repo.write(
        ".github/workflows/docker.yml",
        workflow("").replace("name/app", "ghcr.io/${{ github.repository }}"),
    );
    repo.write("app/Dockerfile", "FROM scratch\nCOPY . /\n");
    repo.write("app/hello.txt", "hello\n");
    repo.git(&["remote", "add", "origin", "git@github.com:Acme/App.git"]);
    repo.commit("app");
    let report = init(&repo);
    assert!(
        report.contains("ghcr.io/acme/app (the repository of remote.origin.url)"),
        "{report}"
    );
    let config = std::fs::read_to_string(repo.path().join("images/release.toml")).unwrap();
    assert!(
        config.contains("registries = [\"ghcr.io/acme\"]"),
        "{config}"
    );
    let v = push(&repo, "refs/heads/main");
    assert_eq!(
        v["images"]["app"],
        serde_json::json!(["ghcr.io/acme/app:main"]),
        "{v}"
    );
}

/// One image the config's validation refuses (its build context leaves the workspace through a
/// symbolic link) is left out and reported; the other images are still written.
#[test]
fn an_image_the_validation_refuses_is_dropped_not_the_whole_draft() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("Dockerfile"), "FROM scratch\n").unwrap();
    let repo = Repo::init();
    repo.write("app/Dockerfile", "FROM scratch\n");
    std::os::unix::fs::symlink(outside.path(), repo.path().join("ext")).unwrap();
    repo.write(
        "compose.yaml",
        "services:\n  ext:\n    build: ext\n    image: ghcr.io/a/ext\n  app:\n    build: app\n    image: ghcr.io/a/app\n",
    );
    repo.commit("two images");
    let out = repo.xtask(&["init"], &[]);
    let report = output_text(&out);
    assert!(out.status.success(), "{report}");
    assert!(
        report.contains("images.ext: left out: stevedore's validation refuses it")
            && report.contains("outside the workspace root"),
        "{report}"
    );
    assert!(
        report.contains("wrote images/release.toml: 1 image;"),
        "{report}"
    );
    let config = std::fs::read_to_string(repo.path().join("images/release.toml")).unwrap();
    assert!(
        config.contains("[images.app]") && !config.contains("[images.ext]"),
        "{config}"
    );
}
