//! The foundation from outside: `cargo xtask tags|plan|version` on real git repositories made
//! by the tests, locally and under GitHub Actions variables.

mod support;

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use support::{output_text, xtask, Repo};

const SEMVER_RULES: &str = r#"tags = ["type=semver,pattern=v{{version}}", "type=semver,pattern={{major}}.{{minor}}", "type=semver,pattern={{major}}"]"#;

/// A git repository with a valid config (one Dockerfile image) and one commit.
fn new_repo(tag_rules: &str) -> Repo {
    let repo = Repo::init();
    repo.write("app/Dockerfile", "FROM scratch\nCOPY . /\n");
    repo.write(
        "images/release.toml",
        format!(
            r#"[release]
name = "votive"
registries = ["ghcr.io/oxilith", "docker.io/oxilith"]
platforms = ["linux/amd64", "linux/arm64"]
{tag_rules}
latest = "auto"

[images.backend]
dockerfile = "app/Dockerfile"
context = "app"
"#
        ),
    );
    repo.commit("first");
    repo
}

/// `tags --json` in `repo`, parsed.
fn tags_json(repo: &Repo, env: &[(&str, &str)]) -> Value {
    let out = repo.xtask(&["tags", "--json"], env);
    assert!(
        out.status.success(),
        "tags --json failed: {}",
        output_text(&out)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn tags(v: &Value) -> Vec<String> {
    v["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect()
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(c))
}

/// A repository with `v2.0.0` on an older commit and `head_tag` on HEAD.
fn tagged(head_tag: &str, older: &[&str]) -> Repo {
    let repo = new_repo(SEMVER_RULES);
    for t in older {
        repo.git(&["tag", t]);
    }
    repo.commit("second");
    repo.git(&["tag", head_tag]);
    repo
}

#[test]
fn semver_floating_tags_follow_the_highest_version() {
    let cases: &[(&str, &[&str], &[&str])] = &[
        ("v1.2.3", &["v2.0.0"], &["v1.2.3", "1.2", "1"]),
        (
            "v2.1.0",
            &["v2.0.0", "v1.9.0"],
            &["v2.1.0", "2.1", "2", "latest"],
        ),
        ("v0.3.1", &[], &["v0.3.1", "0.3", "latest"]),
        ("v1.3.0-rc.1", &["v1.2.0"], &["v1.3.0-rc.1"]),
        ("v1.9.1", &["v1.10.0"], &["v1.9.1", "1.9"]),
    ];
    for (head, older, want) in cases {
        let repo = tagged(head, older);
        let v = tags_json(&repo, &[]);
        assert_eq!(tags(&v), *want, "HEAD tagged {head}, older tags {older:?}");
        let version = head.trim_start_matches('v');
        assert_eq!(v["version"], *version);
        let refs = v["images"]["backend"].as_array().unwrap();
        assert_eq!(refs.len(), want.len() * 2, "{v}");
        assert_eq!(refs[0], format!("ghcr.io/oxilith/backend:{}", want[0]));
        assert!(refs.contains(&Value::from(format!(
            "docker.io/oxilith/backend:{}",
            want[0]
        ))));
    }
}

#[test]
fn version_command_prints_the_release_version() {
    let repo = tagged("v1.2.3", &[]);
    let out = repo.xtask(&["version"], &[]);
    support::assert_ok(&out);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1.2.3");

    repo.commit("after the tag");
    let out = repo.xtask(&["version"], &[]);
    let dev = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(dev.starts_with("1.2.3-1-g"), "{dev}");
}

#[test]
fn github_actions_gives_the_same_tags_as_git() {
    // Tag push.
    let repo = tagged("v1.2.3", &["v2.0.0"]);
    let sha = repo.head();
    let local = tags_json(&repo, &[]);
    // In Actions the checkout is detached: the same answer must come from the variables.
    repo.git(&["checkout", "-q", "--detach"]);
    let gh = tags_json(
        &repo,
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_REF", "refs/tags/v1.2.3"),
            ("GITHUB_SHA", &sha),
        ],
    );
    assert_eq!(gh["tags"], local["tags"]);
    assert_eq!(gh["images"], local["images"]);
    assert_eq!(gh["version"], local["version"]);

    // Branch push one commit after a release, with branch and sha rules.
    let repo = new_repo(
        r#"tags = ["type=ref,event=branch", "type=sha,prefix={{branch}}-,enable={{is_default_branch}}"]"#,
    );
    repo.git(&["tag", "v1.0.0"]);
    repo.commit("after the release");
    let sha = repo.head();
    let local = tags_json(&repo, &[]);
    assert_eq!(local["version"], format!("1.0.0-1-g{}", &sha[..7]));
    assert_eq!(
        tags(&local),
        vec!["main".to_string(), format!("main-{}", &sha[..7])]
    );
    repo.git(&["checkout", "-q", "--detach"]);
    let gh = tags_json(
        &repo,
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_REF", "refs/heads/main"),
            ("GITHUB_SHA", &sha),
        ],
    );
    assert_eq!(gh["tags"], local["tags"]);
    assert_eq!(gh["images"], local["images"]);
    assert_eq!(gh["version"], local["version"]);
}

#[test]
fn github_outputs_are_written() {
    let repo = tagged("v1.2.3", &[]);
    let sha = repo.head();
    let out_file = repo.path().join("gh-output");
    let out = repo.xtask(
        &["tags"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "release"),
            ("GITHUB_REF", "refs/tags/v1.2.3"),
            ("GITHUB_SHA", &sha),
            ("GITHUB_OUTPUT", out_file.to_str().unwrap()),
        ],
    );
    support::assert_ok(&out);
    let written = std::fs::read_to_string(&out_file).unwrap();
    assert!(written.contains("version=1.2.3\n"), "{written}");
    assert!(written.contains("tags<<"), "{written}");
    assert!(written.contains("\nv1.2.3\n1.2\n1\nlatest\n"), "{written}");
    assert!(written.contains("json={"), "{written}");
}

#[test]
fn branch_names_become_valid_tags() {
    let repo = new_repo(r#"tags = ["type=ref,event=branch"]"#);
    repo.git(&["checkout", "-q", "-b", "feature/Login#12"]);
    let v = tags_json(&repo, &[]);
    let t = tags(&v);
    assert_eq!(t.len(), 1, "{v}");
    assert!(valid_tag(&t[0]), "{t:?}");
    assert_eq!(t[0], "feature-Login-12");
    assert!(!v["rewritten"].as_array().unwrap().is_empty(), "{v}");

    let long = format!("feature/{}", "x".repeat(192));
    assert_eq!(long.len(), 200);
    repo.git(&["checkout", "-q", "-b", &long]);
    let v = tags_json(&repo, &[]);
    let t = tags(&v);
    assert_eq!(t.len(), 1, "{v}");
    assert!(t[0].len() <= 128, "{} chars", t[0].len());
    assert!(valid_tag(&t[0]), "{t:?}");
    // The rewrite is reported on stderr for people.
    let out = repo.xtask(&["tags"], &[]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("rewritten"),
        "{}",
        output_text(&out)
    );
}

#[test]
fn pull_requests_use_the_head_commit_and_branch() {
    let repo = new_repo(r#"tags = ["type=ref,event=pr", "type=sha", "type=raw,value={{branch}}"]"#);
    let head = repo.head();
    let event = repo.path().join("event.json");
    std::fs::write(
        &event,
        format!(
            r#"{{"pull_request":{{"number":42,"head":{{"sha":"{head}","ref":"feat/x"}},"base":{{"ref":"main"}}}}}}"#
        ),
    )
    .unwrap();
    let v = tags_json(
        &repo,
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "pull_request"),
            ("GITHUB_REF", "refs/pull/42/merge"),
            ("GITHUB_SHA", "ffffffffffffffffffffffffffffffffffffffff"),
            ("GITHUB_HEAD_REF", "feat/x"),
            ("GITHUB_BASE_REF", "main"),
            ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
        ],
    );
    assert_eq!(
        tags(&v),
        vec![
            "pr-42".to_string(),
            "feat-x".to_string(),
            format!("sha-{}", &head[..7])
        ]
    );
}

fn config_error(edit: impl Fn(&str) -> String) -> String {
    let repo = new_repo(SEMVER_RULES);
    let path = repo.path().join("images/release.toml");
    let text_now = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, edit(&text_now)).unwrap();
    let out = repo.xtask(&["tags", "--json"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert!(out.stdout.is_empty(), "{}", output_text(&out));
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(err.contains("images/release.toml"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn bad_configs_fail_naming_file_and_key() {
    let err = config_error(|t| t.replace("context = \"app\"", "context = \"app\"\ncontxt = 1"));
    assert!(
        err.contains("images.backend") && err.contains("contxt"),
        "{err}"
    );

    let err = config_error(|t| t.replace("\"linux/arm64\"", "\"linux/arm65\""));
    assert!(
        err.contains("release.platforms") && err.contains("linux/arm65"),
        "{err}"
    );

    let err = config_error(|t| {
        t.replace(
            "context = \"app\"",
            "context = \"app\"\nrepository = \"Clearsplit/api\"",
        )
    });
    assert!(
        err.contains("images.backend.repository") && err.contains("Clearsplit/api"),
        "{err}"
    );

    let err = config_error(|t| t.replace("app/Dockerfile", "app/Missing.Dockerfile"));
    assert!(
        err.contains("images.backend.dockerfile") && err.contains("Missing.Dockerfile"),
        "{err}"
    );

    let err = config_error(|t| t.replace("[release]", "[release]\nsurprise = true"));
    assert!(err.contains("surprise"), "{err}");
}

#[test]
fn workspaces_without_git_history_get_clear_answers() {
    let dir = tempfile::tempdir().unwrap();
    let root: PathBuf = dir.path().into();
    std::fs::create_dir_all(root.join("app")).unwrap();
    std::fs::write(root.join("app/Dockerfile"), "FROM scratch\n").unwrap();
    std::fs::create_dir_all(root.join("images")).unwrap();
    std::fs::write(
        root.join("images/release.toml"),
        "[release]\nname = \"x\"\n[images.app]\ndockerfile = \"app/Dockerfile\"\n",
    )
    .unwrap();
    let out = xtask(
        &root,
        &["tags"],
        &[(
            "GIT_CEILING_DIRECTORIES",
            root.parent().unwrap().to_str().unwrap(),
        )],
    );
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not inside a git repository"),
        "{}",
        output_text(&out)
    );

    Command::new("git")
        .args(["init", "-q"])
        .current_dir(&root)
        .status()
        .unwrap();
    let out = xtask(&root, &["tags"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no commits yet"),
        "{}",
        output_text(&out)
    );

    let out = xtask(&root, &["tags", "--no-such-flag"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));

    let missing = root.join("nowhere");
    let out = xtask(&missing, &["tags"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
}

#[test]
fn detached_head_builds_commit_tags_only() {
    let repo = new_repo(r#"tags = ["type=ref,event=branch", "type=sha,format=long"]"#);
    let sha = repo.head();
    repo.git(&["checkout", "-q", "--detach"]);
    let v = tags_json(&repo, &[]);
    assert_eq!(tags(&v), vec![format!("sha-{sha}")]);
}

#[test]
fn plan_json_has_the_documented_shape() {
    let repo = tagged("v1.2.3", &[]);
    let out = repo.xtask(&["plan", "--json"], &[]);
    support::assert_ok(&out);
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["schema"], 1);
    assert_eq!(plan["version"], "1.2.3");
    assert_eq!(plan["git"]["source_date_epoch"], 1_714_564_800);
    assert_eq!(plan["git"]["build_date"], "2024-05-01T12:00:00Z");
    let img = &plan["images"][0];
    assert_eq!(img["name"], "backend");
    assert_eq!(
        img["platforms"],
        serde_json::json!(["linux/amd64", "linux/arm64"])
    );
    assert_eq!(img["builder"]["kind"], "dockerfile");
    assert_eq!(img["build_args"]["VERSION"], "1.2.3");
    assert_eq!(img["build_args"]["GIT_COMMIT"], &repo.head()[..7]);
    assert_eq!(img["build_args"]["BUILD_DATE"], "2024-05-01T12:00:00Z");
    assert_eq!(img["labels"]["org.opencontainers.image.version"], "1.2.3");
    assert_eq!(
        img["labels"]["org.opencontainers.image.revision"],
        repo.head()
    );
    assert_eq!(img["layout_name"], "backend:1.2.3");
    assert_eq!(img["targets"][1]["api_host"], "registry-1.docker.io");
    assert_eq!(img["targets"][1]["repository"], "oxilith/backend");
}

#[test]
fn the_stevedore_binary_is_the_same_program() {
    let ws = support::Workspace::new(&["127.0.0.1:1/demo".to_string()], &["app"], "");
    let xtask = ws.xtask(&["plan", "--json"], &[]);
    let stevedore = std::process::Command::new(env!("CARGO_BIN_EXE_stevedore"))
        .arg("-C")
        .arg(ws.path())
        .args(["plan", "--json"])
        .env("DOCKER_CONFIG", support::no_docker_credentials())
        .env_remove("GITHUB_ACTIONS")
        .env_remove("CI")
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .unwrap();
    assert!(
        stevedore.status.success(),
        "{}",
        support::output_text(&stevedore)
    );
    assert_eq!(stevedore.stdout, xtask.stdout);
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_stevedore"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("Usage: stevedore"));
}

/// `tags --json` in GitHub Actions mode: `event` is written as the event file.
fn actions_tags(repo: &Repo, event: &str, vars: &[(&str, &str)]) -> Value {
    let path = repo.path().join("event.json");
    std::fs::write(&path, event).unwrap();
    let mut env = vec![
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_PATH", path.to_str().unwrap()),
    ];
    env.extend_from_slice(vars);
    tags_json(repo, &env)
}

#[test]
fn metadata_action_short_form_rules_give_their_value() {
    // A field without `=` is the value, and a rule without `type=` is a raw rule.
    let repo = new_repo(
        r#"tags = ["type=ref,event=branch", "type=raw,my", "custom", "type=raw,{{branch}}-x"]"#,
    );
    let sha = repo.head();
    let want = ["main", "my", "custom", "main-x"];
    assert_eq!(tags(&tags_json(&repo, &[])), want);
    let v = actions_tags(
        &repo,
        r#"{"repository": {"default_branch": "main"}}"#,
        &[
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_REF", "refs/heads/main"),
            ("GITHUB_SHA", &sha),
        ],
    );
    assert_eq!(tags(&v), want);
}

#[test]
fn pull_request_target_is_tagged_as_the_pull_request() {
    // The job checks out the base branch; the pull request's head is another commit.
    let repo = new_repo(
        r#"tags = ["type=ref,event=branch", "type=ref,event=pr", "type=raw,value={{base_ref}}-base", "type=sha"]"#,
    );
    let base = repo.head();
    repo.git(&["checkout", "-q", "-b", "feat/x"]);
    repo.commit("the pull request");
    let head = repo.head();
    repo.git(&["checkout", "-q", "main"]);
    let event = format!(
        r#"{{"number": 15, "pull_request": {{"number": 15, "head": {{"sha": "{head}", "ref": "feat/x"}}, "base": {{"ref": "main"}}}}, "repository": {{"default_branch": "main"}}}}"#
    );
    let vars = [
        ("GITHUB_EVENT_NAME", "pull_request_target"),
        // GitHub's pull_request_target runs on the base branch's ref and last commit.
        ("GITHUB_REF", "refs/heads/main"),
        ("GITHUB_SHA", base.as_str()),
        ("GITHUB_HEAD_REF", "feat/x"),
        ("GITHUB_BASE_REF", "main"),
    ];
    // event=pr fires, event=branch does not, {{base_ref}} is the base branch, and the sha is
    // the head commit's (with or without DOCKER_METADATA_PR_HEAD_SHA).
    let want = [
        "pr-15".to_string(),
        "main-base".to_string(),
        format!("sha-{}", &head[..7]),
    ];
    let v = actions_tags(&repo, &event, &vars);
    assert_eq!(tags(&v), want, "{v}");
    let mut with_head_sha = vars.to_vec();
    with_head_sha.push(("DOCKER_METADATA_PR_HEAD_SHA", "true"));
    assert_eq!(tags(&actions_tags(&repo, &event, &with_head_sha)), want);

    // Without the pull request's number the ref cannot be known: a clear error.
    std::fs::write(repo.path().join("event.json"), "{}").unwrap();
    let mut env = vars.to_vec();
    let path = repo.path().join("event.json");
    env.push(("GITHUB_ACTIONS", "true"));
    env.push(("GITHUB_EVENT_PATH", path.to_str().unwrap()));
    let out = repo.xtask(&["tags", "--json"], &env);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert!(
        output_text(&out).contains("no pull request `number`"),
        "{}",
        output_text(&out)
    );
}

#[test]
fn pep440_rules_tag_pep440_releases() {
    let rules = r#"tags = ["type=pep440,pattern={{version}}", "type=pep440,pattern={{major}}.{{minor}}", "type=pep440,pattern={{major}}"]"#;
    let cases: &[(&str, &[&str])] = &[
        ("1.2", &["1.2", "1", "latest"]),
        ("1.2.3rc2", &["1.2.3rc2"]),
        ("v1.2.3rc2", &["1.2.3rc2"]),
        ("1.2post1", &["1.2.post1"]),
    ];
    for (name, want) in cases {
        let repo = new_repo(rules);
        repo.git(&["tag", name]);
        repo.git(&["checkout", "-q", "--detach"]);
        let sha = repo.head();
        let git_ref = format!("refs/tags/{name}");
        let v = actions_tags(
            &repo,
            r#"{"base_ref": null}"#,
            &[
                ("GITHUB_EVENT_NAME", "push"),
                ("GITHUB_REF", &git_ref),
                ("GITHUB_SHA", &sha),
            ],
        );
        assert_eq!(tags(&v), *want, "tag {name}: {v}");
    }
}

#[test]
fn dates_render_in_an_iana_time_zone() {
    // The test repositories commit at 2024-05-01T12:00:00Z; SOURCE_DATE_EPOCH is `{{date}}`'s
    // instant (2020-01-10T00:30:00Z).
    let repo = new_repo(
        r#"tags = ["type=raw,value=d-{{date 'YYYYMMDD-HHmmss' tz='Asia/Tokyo'}}", "type=raw,value=src-{{commit_date 'YYYYMMDD-HHmmss' tz='Asia/Tokyo'}}", "type=raw,value=utc-{{commit_date 'HHmm'}}", "type=raw,value=iso-{{commit_date YYYY}}"]"#,
    );
    let sha = repo.head();
    let want = [
        "d-20200110-093000",
        "src-20240501-210000",
        "utc-1200",
        "iso-2024-05-01T12-00-00Z",
    ];
    let epoch = [("SOURCE_DATE_EPOCH", "1578616200")];
    assert_eq!(tags(&tags_json(&repo, &epoch)), want);
    let v = actions_tags(
        &repo,
        r#"{"repository": {"default_branch": "main"}}"#,
        &[
            ("GITHUB_EVENT_NAME", "schedule"),
            ("GITHUB_REF", "refs/heads/main"),
            ("GITHUB_SHA", &sha),
            ("SOURCE_DATE_EPOCH", "1578616200"),
        ],
    );
    assert_eq!(tags(&v), want);
    // The unquoted format is said, not silently taken.
    let out = repo.xtask(&["tags"], &epoch);
    support::assert_ok(&out);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("'YYYY'"),
        "{}",
        output_text(&out)
    );
    // An unknown zone is refused, naming the rule key and the fix.
    let bad = new_repo(r#"tags = ["type=raw,value={{date 'YYYY' tz='Asia/Tokio'}}"]"#);
    let out = bad.xtask(&["tags"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert!(
        output_text(&out).contains("Asia/Tokyo"),
        "{}",
        output_text(&out)
    );
}

#[test]
fn base_ref_of_a_tag_push_comes_from_the_push_payload() {
    let repo = new_repo(r#"tags = ["type=ref,event=tag", "type=raw,value={{base_ref}}-{{tag}}"]"#);
    repo.git(&["tag", "v1.0.0"]);
    let sha = repo.head();
    let vars = [
        ("GITHUB_EVENT_NAME", "push"),
        ("GITHUB_REF", "refs/tags/v1.0.0"),
        ("GITHUB_SHA", sha.as_str()),
    ];
    let v = actions_tags(&repo, r#"{"base_ref": "refs/heads/master"}"#, &vars);
    assert_eq!(tags(&v), ["v1.0.0", "master-v1.0.0", "latest"]);
    let v = actions_tags(&repo, r#"{"base_ref": null}"#, &vars);
    // No base_ref: `-v1.0.0` loses its leading `-` and is the tag rule's tag again.
    assert_eq!(tags(&v), ["v1.0.0", "latest"]);
}
