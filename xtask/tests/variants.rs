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
