//! A release never claims what is not true: a modified tree is refused (or published as
//! `-dirty` only), `GITHUB_SHA` must be the checkout, `merge` never publishes a partial
//! platform set, and the index is the same bytes whichever path built it.

mod support;

use support::*;

#[test]
fn a_dirty_tree_is_refused_naming_the_file_or_published_as_dirty_only() {
    if !have("docker-registry") || !have("skopeo") {
        skipped("SKIPPED: docker-registry and skopeo are needed");
        return;
    }
    let registry = Registry::plain();
    let ws = Workspace::new(&[format!("{}/demo", registry.host)], &["app"], "");
    ws.write("files/hello.txt", "changed, not committed\n");
    let out = ws.xtask(&["release"], &[]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("files/hello.txt"), "{text}");
    assert!(text.contains("--allow-dirty"), "{text}");
    assert!(registry.tags("demo/app").is_empty(), "nothing pushed");
    // push refuses it too.
    let out = ws.xtask(&["push"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));

    let out = ws.xtask(&["version"], &[]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1.2.3-dirty");
    let meta = ws.path().join("target/release.json");
    let out = ws.xtask(
        &[
            "release",
            "--allow-dirty",
            "--metadata-file",
            meta.to_str().unwrap(),
        ],
        &[],
    );
    assert_ok(&out);
    assert_eq!(registry.tags("demo/app"), ["1.2.3-dirty"]);
    let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(&meta).unwrap()).unwrap();
    assert_eq!(meta["version"], "1.2.3-dirty");
    assert!(meta["images"]["app"]["digest"].is_string(), "{meta}");
    // Its provenance says it is the dirty build's image, through the fallback tag.
    assert_eq!(registry.referrer_tags("demo/app").len(), 1);
}

#[test]
fn github_sha_that_is_not_the_checkout_is_refused() {
    let ws = Workspace::new(&["127.0.0.1:1/demo".to_string()], &["app"], "");
    let head = ws.head();
    let other = "deadbeef00000000000000000000000000000000";
    let env = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_SHA", other),
        ("GITHUB_REF", "refs/heads/main"),
        ("GITHUB_EVENT_NAME", "push"),
        ("GITHUB_REPOSITORY", "o/r"),
    ];
    let out = ws.xtask(&["tags"], &env);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains(other) && text.contains(&head), "{text}");
}

#[test]
fn merge_refuses_a_partial_platform_set_and_matches_the_release_index() {
    if !have("docker-registry") || !have("skopeo") {
        skipped("SKIPPED: docker-registry and skopeo are needed");
        return;
    }
    let registry = Registry::plain();
    let ws = Workspace::new(&[format!("{}/demo", registry.host)], &["app"], "");
    let mut files = Vec::new();
    for arch in ["amd64", "arm64"] {
        let layout = ws.path().join(format!("layout-{arch}"));
        let file = ws.path().join(format!("digests-{arch}.json"));
        let platform = format!("linux/{arch}");
        let out = ws.xtask(
            &[
                "build",
                "--platform",
                &platform,
                "--output",
                layout.to_str().unwrap(),
            ],
            &[],
        );
        assert_ok(&out);
        let out = ws.xtask(
            &[
                "push",
                "--by-digest",
                "--layout",
                layout.to_str().unwrap(),
                "--digest-file",
                file.to_str().unwrap(),
            ],
            &[],
        );
        assert_ok(&out);
        files.push(file);
    }
    // One platform's file of two: refused, no tag anywhere.
    let out = ws.xtask(&["merge", files[0].to_str().unwrap()], &[]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("linux/arm64"), "{text}");
    assert!(registry.tags("demo/app").is_empty());

    let meta = ws.path().join("merged.json");
    let out = ws.xtask(
        &[
            "merge",
            files[0].to_str().unwrap(),
            files[1].to_str().unwrap(),
            "--metadata-file",
            meta.to_str().unwrap(),
        ],
        &[],
    );
    assert_ok(&out);
    let merged: serde_json::Value = serde_json::from_slice(&std::fs::read(&meta).unwrap()).unwrap();
    let merged_digest = merged["images"]["app"]["digest"]
        .as_str()
        .unwrap()
        .to_string();

    // A single release of the same commit writes the same index.
    let out = ws.xtask(&["build"], &[]);
    assert_ok(&out);
    let release_digest = ws.layout().resolve("app:1.2.3").unwrap().digest.to_string();
    assert_eq!(merged_digest, release_digest);
}

#[test]
fn floating_tags_never_move_back_to_an_older_commit() {
    if !have("docker-registry") || !have("skopeo") {
        skipped("SKIPPED: docker-registry and skopeo are needed");
        return;
    }
    let registry = Registry::plain();
    let repo = Repo::init();
    repo.write(
        "images/release.toml",
        ReleaseToml::new("demo")
            .registries([format!("{}/demo", registry.host)])
            .tags(["type=ref,event=branch", "type=sha"])
            .string("latest", "true")
            .image(
                "app",
                r#"native = { files = [{ src = "hello.txt", dst = "/hello.txt" }] }"#,
            )
            .build(),
    );
    repo.write("hello.txt", "A\n");
    repo.commit("A");
    let a = repo.head();
    repo.write("hello.txt", "B\n");
    repo.commit("B");
    let b = repo.head();
    // Two Actions runs on main finishing out of order: B's first, then A's.
    let actions = |sha: &str| {
        vec![
            ("GITHUB_ACTIONS", "true".to_string()),
            ("GITHUB_REF", "refs/heads/main".to_string()),
            ("GITHUB_SHA", sha.to_string()),
            ("GITHUB_EVENT_NAME", "push".to_string()),
            ("GITHUB_REPOSITORY", "o/r".to_string()),
        ]
    };
    let run = |sha: &str| {
        let env = actions(sha);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        repo.xtask(&["release"], &env)
    };
    let out = run(&b);
    assert_ok(&out);
    let b_index = registry.inspect_raw("demo/app:latest").unwrap();
    assert_eq!(registry.inspect_raw("demo/app:main").unwrap(), b_index);

    repo.git(&["checkout", "-q", &a]);
    let out = run(&a);
    assert_ok(&out);
    let text = output_text(&out);
    assert!(
        text.contains("kept") && text.contains("newer commit"),
        "{text}"
    );
    assert_eq!(registry.inspect_raw("demo/app:latest").unwrap(), b_index);
    assert_eq!(registry.inspect_raw("demo/app:main").unwrap(), b_index);
    let a_tag = format!("demo/app:sha-{}", &a[..7]);
    assert_ne!(
        registry.inspect_raw(&a_tag).unwrap(),
        b_index,
        "A's own tag moved"
    );

    // --force-tags moves them anyway.
    let env = actions(&a);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = repo.xtask(&["release", "--force-tags"], &env);
    assert_ok(&out);
    assert_ne!(registry.inspect_raw("demo/app:latest").unwrap(), b_index);
}

#[test]
fn a_release_whose_rules_give_no_tag_publishes_nothing() {
    let repo = Repo::init();
    repo.write(
        "images/release.toml",
        ReleaseToml::new("demo")
            .registries(["127.0.0.1:1/demo"])
            .tags(["type=semver,pattern={{version}}"])
            .image(
                "app",
                r#"native = { files = [{ src = "hello.txt", dst = "/hello.txt" }] }"#,
            )
            .build(),
    );
    repo.write("hello.txt", "hi\n");
    repo.commit("no version tag");
    for cmd in [&["release"][..], &["push"][..]] {
        let out = repo.xtask(cmd, &[]);
        let text = output_text(&out);
        assert_eq!(out.status.code(), Some(1), "{cmd:?}: {text}");
        assert!(text.contains("give no tag"), "{cmd:?}: {text}");
        assert!(!text.contains("no registries configured"), "{text}");
    }
}

#[test]
fn a_registry_that_never_answers_fails_the_release_quickly_with_one_message() {
    // A loopback port that accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let held = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    {
        let held = held.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                held.lock().unwrap().push(conn);
            }
        });
    }
    let ws = Workspace::new(&[format!("{host}/demo")], &["a", "b", "c"], "");
    let start = std::time::Instant::now();
    let out = ws.xtask(
        &["release"],
        &[("STEVEDORE_TIMEOUT", "2"), ("STEVEDORE_RETRIES", "2")],
    );
    let elapsed = start.elapsed();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("no answer"), "{text}");
    assert!(
        elapsed < std::time::Duration::from_secs(40),
        "took {elapsed:?}: {text}"
    );
    assert_eq!(text.matches("cannot reach registry").count(), 1, "{text}");
}

#[test]
fn an_interrupt_while_tags_move_says_which_moved_and_how_to_finish() {
    use support::proxy::{Fault, Proxy};
    if !have_all(&["docker-registry", "skopeo"]) {
        return;
    }
    let registry = Registry::plain();
    // Tag PUTs (not by digest) to the `latest` tag stall; the rest passes.
    let proxy = Proxy::start(&registry.host, |r| {
        if r.method == "PUT" && r.path.ends_with("/manifests/latest") {
            Fault::Stall(std::time::Duration::from_secs(60))
        } else {
            Fault::Pass
        }
    });
    let ws = Workspace::new(&[format!("{}/demo", proxy.host)], &["app"], "");
    let out = ws.xtask(&["build"], &[]);
    assert_ok(&out);
    let child = xtask_command(ws.path(), &["push", "--concurrency", "1"], &[])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while proxy.faults() == 0 && start.elapsed() < std::time::Duration::from_secs(60) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(proxy.faults() > 0, "the latest tag PUT never came");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("interrupted while moving tags"), "{text}");
    assert!(text.contains("Not moved"), "{text}");
    assert!(text.contains(":latest"), "{text}");
    assert!(text.contains("run the same command again"), "{text}");
}

#[test]
fn build_args_render_templates_and_version_takes_the_configured_form() {
    let ws = Workspace::new(&["127.0.0.1:1/demo".to_string()], &["app"], "");
    let config = std::fs::read_to_string(ws.path().join("images/release.toml")).unwrap();
    ws.write(
        "images/release.toml",
        config.replace(
            "[images.app]\n",
            "[images.app]\nbuild-args = { VERSION = \"v{{version}}\", REVISION = \"{{sha}}\" }\n",
        ),
    );
    ws.commit("version form");
    ws.git(&["tag", "-f", "v1.2.3"]);
    let out = ws.xtask(&["plan", "--json"], &[]);
    assert_ok(&out);
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let args = &plan["images"][0]["build_args"];
    assert_eq!(args["VERSION"], "v1.2.3");
    assert_eq!(args["REVISION"], plan["git"]["short_sha"]);
    // BUILD_DATE stays the commit time (reproducible builds).
    assert_eq!(args["BUILD_DATE"], plan["git"]["build_date"]);
}
