//! Hostile repositories, run through the binary: a directory name written to smuggle TOML into
//! the config `init` drafts, YAML alias bombs in compose files and workflows, and secret build
//! args that `init` must not copy or show.

mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use support::{output_text, run_limited, xtask_command, Repo};

/// A directory name that closes a comment's line and writes `[images.pwn]` with a
/// `native.command` running `id` on the host at the next `build`.
const CRAFTED: &str = "x'''\n[images.pwn]\nnative.command = ['id']\n#";

/// `levels` anchors, each a sequence of `fan` aliases of the one before: 9 × 9 expands to
/// 9^9 (387 million) nodes from under 500 bytes.
fn alias_bomb(levels: usize, fan: usize) -> String {
    let mut text = String::from("a0: &a0 [\"lol\"]\n");
    for i in 1..=levels {
        let items = vec![format!("*a{}", i - 1); fan].join(",");
        text.push_str(&format!("a{i}: &a{i} [{items}]\n"));
    }
    text
}

/// The binary under an address-space limit of 1 GiB (the shell's `ulimit -v`), killed after
/// 60 s: a run that needs more memory aborts (exit 134), one that needs more time fails the
/// test. Returns the output and how long it took.
fn bounded(dir: &Path, args: &[&str]) -> (Output, Duration) {
    let inner = xtask_command(dir, args, &[]);
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("ulimit -v 1048576 && exec \"$@\"")
        .arg("sh")
        .arg(inner.get_program())
        .args(inner.get_args());
    for (k, v) in inner.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let start = Instant::now();
    let out = run_limited(cmd, Duration::from_secs(60));
    (out, start.elapsed())
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn written_config(repo: &Repo) -> toml::Table {
    let text = std::fs::read_to_string(repo.path().join("images/release.toml")).unwrap();
    toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

#[test]
fn init_on_a_repository_with_a_crafted_directory_name_writes_no_extra_key() {
    let repo = Repo::init();
    repo.write("app/Dockerfile", "FROM scratch\n");
    repo.write(&format!("{CRAFTED}/Dockerfile"), "FROM scratch\n");
    // The same text as a compose build context (a value, not a path on disk).
    repo.write(
        "compose.yaml",
        format!(
            "services:\n  evil:\n    build:\n      context: {CRAFTED:?}\n    image: ghcr.io/a/evil\n"
        ),
    );
    repo.commit("crafted");

    let out = repo.xtask(&["init"], &[]);
    support::assert_ok(&out);
    let config = written_config(&repo);
    let keys: Vec<&str> = config.keys().map(String::as_str).collect();
    assert_eq!(keys, ["images", "release"], "{config:#?}");
    let images: Vec<&str> = config["images"]
        .as_table()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(images, ["app"], "{config:#?}");
    let app = config["images"]["app"].as_table().unwrap();
    let app_keys: Vec<&str> = app.keys().map(String::as_str).collect();
    assert_eq!(app_keys, ["context", "dockerfile"], "{config:#?}");
    let release_keys: Vec<&str> = config["release"]
        .as_table()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(release_keys, ["name", "platforms", "registries"]);

    // The count printed is the images written; the refused path is named, escaped.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("wrote images/release.toml: 1 image;"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("{CRAFTED:?}")) && stdout.contains("control characters"),
        "{stdout}"
    );
    assert!(!stdout.contains("\n[images.pwn]"), "{stdout}");

    // What stevedore reads from it is that one image.
    let plan = repo.xtask(&["plan", "--json"], &[]);
    support::assert_ok(&plan);
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    let names: Vec<&str> = plan["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["app"]);
}

#[test]
fn an_alias_bomb_ends_with_exit_1_in_bounded_time_and_memory() {
    let bomb = alias_bomb(9, 9);
    assert!(bomb.len() < 600, "{} bytes", bomb.len());

    // init: the bomb as a compose file, then as a workflow.
    for (file, content) in [
        ("compose.yaml", format!("{bomb}services: {{}}\n")),
        (
            ".github/workflows/docker.yml",
            format!("{bomb}jobs: {{}}\n"),
        ),
    ] {
        let repo = Repo::init();
        repo.write("app/Dockerfile", "FROM scratch\n");
        repo.write(file, &content);
        repo.commit("bomb");
        let (out, took) = bounded(repo.path(), &["init"]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "init, {file}: {}",
            output_text(&out)
        );
        let err = stderr(&out);
        assert!(
            err.contains(file) && err.contains("excessive aliasing") && err.contains("fix:"),
            "{err}"
        );
        assert!(took < Duration::from_secs(30), "init took {took:?}");
        assert!(!repo.path().join("images/release.toml").exists());
    }

    // compose and release: a workspace whose compose file is the bomb.
    let repo = Repo::init();
    repo.write("files/hello.txt", "hello\n");
    repo.write(".gitignore", "target/\n");
    repo.write("compose.yaml", format!("{bomb}services: {{}}\n"));
    repo.write(
        "images/release.toml",
        "[release]\nname = \"demo\"\nregistries = [\"127.0.0.1:9/acme\"]\nplatforms = [\"linux/amd64\"]\n\
         [images.app]\nnative = { files = [{ src = \"files/hello.txt\", dst = \"/hello.txt\" }] }\n\
         [compose]\nfiles = [\"compose.yaml\"]\nrepository = \"demo-oci\"\n",
    );
    repo.commit("bomb");
    let build = repo.xtask(&["build"], &[]);
    support::assert_ok(&build);
    for args in [&["compose"][..], &["release"][..]] {
        let (out, took) = bounded(repo.path(), args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            output_text(&out)
        );
        let err = stderr(&out);
        assert!(
            err.contains("compose.yaml") && err.contains("excessive aliasing"),
            "{args:?}: {err}"
        );
        assert!(took < Duration::from_secs(30), "{args:?} took {took:?}");
    }
}

#[test]
fn init_keeps_secret_build_args_by_name_and_shows_no_part_of_their_value() {
    let token = "npm_Zq8rT2vLx9KmW4pYc7NbJ3dHs6FgA1eU0iOo";
    let repo = Repo::init();
    repo.write("app/Dockerfile", "FROM scratch\n");
    repo.write(
        "compose.yaml",
        format!(
            "services:\n  app:\n    build:\n      context: app\n      args:\n        NPM_TOKEN: {token}\n        NODE_ENV: production\n    image: ghcr.io/acme/app\n"
        ),
    );
    repo.commit("app");
    let out = repo.xtask(&["init"], &[]);
    support::assert_ok(&out);
    let text = std::fs::read_to_string(repo.path().join("images/release.toml")).unwrap();
    let shown = format!(
        "{}{}{text}",
        stderr(&out),
        String::from_utf8_lossy(&out.stdout)
    );
    // Not the value, nor its first characters (init printed "np…" before).
    assert!(!shown.contains("npm_") && !shown.contains("np…"), "{shown}");
    assert!(!shown.contains(&token[4..12]), "{shown}");
    let config = written_config(&repo);
    assert_eq!(
        config["release"]["secret-build-args"],
        toml::Value::Array(vec!["NPM_TOKEN".into()])
    );
    let args = config["images"]["app"]["build-args"].as_table().unwrap();
    assert_eq!(args.keys().collect::<Vec<_>>(), ["NODE_ENV"]);
    assert!(shown.contains("build arg NPM_TOKEN"), "{shown}");
}
