//! What a release that changed nothing costs: counted by a proxy in front of each real
//! `docker-registry`. A no-op push of N images × T tags makes at most N × (T + 1) requests per
//! registry (one per tag, one per image), and only reads; a floating tag that names another
//! index is judged on that index's own revision annotation, read once.

mod support;

use support::proxy::{Fault, Proxy};
use support::*;

const IMAGES: [&str; 3] = ["api", "web", "worker"];

/// The proxy's log lines (`METHOD path -> status`) since the `from`-th request.
fn since(proxy: &Proxy, from: usize) -> Vec<String> {
    proxy.log().into_iter().skip(from).collect()
}

#[test]
fn a_noop_push_costs_at_most_one_request_per_tag_and_one_per_image_per_registry() {
    if !have("docker-registry") {
        skipped("SKIPPED: docker-registry is needed");
        return;
    }
    let (reg_a, reg_b) = (Registry::plain(), Registry::plain());
    let proxy_a = Proxy::start(&reg_a.host, |_| Fault::Pass);
    let proxy_b = Proxy::start(&reg_b.host, |_| Fault::Pass);
    let ws = Workspace::new(
        &[
            format!("{}/team", proxy_a.host),
            format!("{}/team", proxy_b.host),
        ],
        &IMAGES,
        "",
    );
    assert_ok(&ws.xtask(&["build"], &[]));
    assert_ok(&ws.xtask(&["push"], &[]));
    for name in IMAGES {
        let index = ws.layout().resolve(&format!("{name}:{VERSION}")).unwrap();
        let bytes = ws.layout().read_blob(&index.digest).unwrap();
        assert_tags(&reg_a, &format!("team/{name}"), &bytes);
        assert_tags(&reg_b, &format!("team/{name}"), &bytes);
    }

    let (from_a, from_b) = (proxy_a.requests(), proxy_b.requests());
    let out = ws.xtask(&["push"], &[]);
    assert_ok(&out);
    let text = output_text(&out);
    assert!(text.contains("0 blob(s) pushed"), "{text}");
    assert!(text.contains("0 moved"), "{text}");
    let budget = IMAGES.len() * (TAGS.len() + 1);
    for (proxy, from) in [(&proxy_a, from_a), (&proxy_b, from_b)] {
        let log = since(proxy, from);
        assert!(
            log.len() <= budget,
            "{} requests to {} for a no-op push of {} images × {} tags (at most {budget}):\n{}",
            log.len(),
            proxy.host,
            IMAGES.len(),
            TAGS.len(),
            log.join("\n")
        );
        // Only reads: nothing written, no blob or manifest body fetched.
        assert!(
            log.iter()
                .all(|l| l.starts_with("HEAD ") || l.starts_with("GET /v2/ ")),
            "{}",
            log.join("\n")
        );
    }
}

#[test]
fn an_older_commit_released_after_a_newer_one_leaves_latest_reading_the_index_annotation_once() {
    if !have("docker-registry") || !have("skopeo") {
        skipped("SKIPPED: docker-registry and skopeo are needed");
        return;
    }
    let registry = Registry::plain();
    let proxy = Proxy::start(&registry.host, |_| Fault::Pass);
    let repo = Repo::init();
    let mut config = ReleaseToml::new("demo")
        .registries([format!("{}/demo", proxy.host)])
        .tags(["type=ref,event=branch", "type=sha"])
        .string("latest", "true");
    for name in IMAGES {
        config = config.image(
            name,
            r#"native = { files = [{ src = "hello.txt", dst = "/hello.txt" }] }"#,
        );
    }
    repo.write("images/release.toml", config.build());
    repo.write(".gitignore", "target/\n");
    repo.write("hello.txt", "A\n");
    repo.commit("A");
    let a = repo.head();
    repo.write("hello.txt", "B\n");
    repo.commit("B");
    let b = repo.head();
    // Two CI runs on main finishing out of order: B's first, then A's.
    let push = |sha: &str| {
        let env = [("GITHUB_REF", "refs/heads/main"), ("GITHUB_SHA", sha)];
        let env = [
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_REPOSITORY", "o/r"),
            env[0],
            env[1],
        ];
        assert_ok(&repo.xtask(&["build"], &env));
        repo.xtask(&["push"], &env)
    };
    assert_ok(&push(&b));
    let b_index: Vec<Vec<u8>> = IMAGES
        .iter()
        .map(|n| registry.inspect_raw(&format!("demo/{n}:latest")).unwrap())
        .collect();

    repo.git(&["checkout", "-q", &a]);
    let from = proxy.requests();
    let out = push(&a);
    assert_ok(&out);
    let text = output_text(&out);
    assert!(
        text.contains("kept") && text.contains("newer commit"),
        "{text}"
    );
    for (n, b_bytes) in IMAGES.iter().zip(&b_index) {
        for tag in ["latest", "main"] {
            let now = registry.inspect_raw(&format!("demo/{n}:{tag}")).unwrap();
            assert_eq!(
                &now, b_bytes,
                "demo/{n}:{tag} moved back to the older commit"
            );
        }
        let own = registry
            .inspect_raw(&format!("demo/{n}:sha-{}", &a[..7]))
            .unwrap();
        assert_ne!(&own, b_bytes, "A's own tag of {n} moved");
    }
    // The commit behind `latest` and `main` (the same index) comes from the index's own
    // annotation: one GET of it per image, no platform manifest or config read.
    let log = since(&proxy, from);
    let gets: Vec<&String> = log.iter().filter(|l| l.starts_with("GET ")).collect();
    let index_reads = gets
        .iter()
        .filter(|l| l.contains("/manifests/sha256:"))
        .count();
    assert!(index_reads <= IMAGES.len(), "{}", log.join("\n"));
    assert!(
        !gets.iter().any(|l| l.contains("/blobs/")),
        "a config was read: {}",
        log.join("\n")
    );
}
