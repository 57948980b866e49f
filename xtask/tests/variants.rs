//! Per-image tag rules, flavor and latest: a `-dev` variant beside its production image takes
//! its own suffixed tags and never `latest`.

mod support;

use support::*;

#[test]
fn a_dev_variant_takes_its_suffixed_tags_and_never_latest() {
    if !have("docker-registry") || !have("skopeo") {
        skipped("SKIPPED: docker-registry and skopeo are needed");
        return;
    }
    let registry = Registry::plain();
    let ws = Workspace::new(&[format!("{}/web", registry.host)], &["frontend"], "");
    let config = std::fs::read_to_string(ws.path().join("images/release.toml")).unwrap();
    ws.write(
        "images/release.toml",
        format!(
            "{config}\n[images.frontend-dev]\n\
             native = {{ files = [{{ src = \"files/hello.txt\", dst = \"/hello.txt\" }}] }}\n\
             flavor = {{ suffix = \"-dev\", onlatest = true }}\n"
        ),
    );
    ws.commit("dev variant");
    ws.git(&["tag", "-f", "v1.2.3"]);

    let out = ws.xtask(&["release"], &[]);
    assert_ok(&out);
    assert_eq!(registry.tags("web/frontend"), TAGS.to_vec());
    assert_eq!(
        registry.tags("web/frontend-dev"),
        ["1-dev", "1.2-dev", "latest-dev", "v1.2.3-dev"]
    );
}

/// A variant published in the same repository (`server:v1.2.3` and `server:v1.2.3-alpine`, as
/// vaultwarden does) is told apart by its flavor; a variant whose tags would overwrite the
/// other image's (`latest` without `onlatest`) is refused before anything is built.
#[test]
fn a_variant_in_the_same_repository_takes_its_suffixed_tags_beside_the_main_image() {
    if !have("docker-registry") || !have("skopeo") {
        skipped("SKIPPED: docker-registry and skopeo are needed");
        return;
    }
    let registry = Registry::plain();
    let ws = Workspace::new(&[format!("{}/vw", registry.host)], &["server"], "");
    let config = std::fs::read_to_string(ws.path().join("images/release.toml")).unwrap();
    let variant = |flavor: &str| {
        format!(
            "{config}\n[images.server-alpine]\nrepository = \"server\"\n\
             native = {{ files = [{{ src = \"files/hello.txt\", dst = \"/alpine.txt\" }}] }}\n\
             flavor = {flavor}\n"
        )
    };

    // `latest` for both: refused, naming both images, the tag and the fix.
    ws.write("images/release.toml", variant("{ suffix = \"-alpine\" }"));
    ws.commit("alpine variant");
    ws.git(&["tag", "-f", "v1.2.3"]);
    let out = ws.xtask(&["release"], &[]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("images.server and images.server-alpine publish to the same repository")
            && text.contains("\"latest\"")
            && text.contains("onlatest = true"),
        "{text}"
    );
    assert!(registry.tags("vw/server").is_empty(), "nothing pushed");

    ws.write(
        "images/release.toml",
        variant("{ suffix = \"-alpine\", onlatest = true }"),
    );
    ws.commit("alpine variant on latest too");
    ws.git(&["tag", "-f", "v1.2.3"]);
    let out = ws.xtask(&["release"], &[]);
    assert_ok(&out);
    let mut tags = registry.tags("vw/server");
    tags.sort();
    assert_eq!(
        tags,
        [
            "1",
            "1-alpine",
            "1.2",
            "1.2-alpine",
            "latest",
            "latest-alpine",
            "v1.2.3",
            "v1.2.3-alpine"
        ]
    );
    let main = registry.inspect_raw("vw/server:v1.2.3").unwrap();
    let alpine = registry.inspect_raw("vw/server:v1.2.3-alpine").unwrap();
    assert_ne!(main, alpine, "two images, not one under two names");
    assert_eq!(registry.inspect_raw("vw/server:latest").unwrap(), main);
    assert_eq!(
        registry.inspect_raw("vw/server:latest-alpine").unwrap(),
        alpine
    );
}
