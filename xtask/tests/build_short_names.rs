//! Dockerfiles name their bases the way Docker reads them (`FROM golang:1-alpine` is
//! `docker.io/library/golang:1-alpine`, `tonistiigi/xx` is `docker.io/tonistiigi/xx`), and
//! buildah builds them so, whatever the machine's `registries.conf` says. Docker Hub is a local
//! registry here, reached through `release.mirrors`: no test touches the internet.

mod support;

use std::path::Path;

use support::*;

/// Publishes a small two-platform image (`/hello.txt`) as `<host>/<namespace>/<name>` (tags
/// `v1.2.3`, `1.2`, `1`, `latest`) and copies its `1` tag to each of `also` (`repo:tag`).
fn publish(registry: &Registry, namespace: &str, name: &str, also: &[&str]) {
    let ws = Workspace::new(&[format!("{}/{namespace}", registry.host)], &[name], "");
    let out = ws.xtask(&["release"], &[]);
    assert!(out.status.success(), "{}", output_text(&out));
    for to in also {
        let out = skopeo(
            &[
                "copy",
                "--all",
                "--src-tls-verify=false",
                "--dest-tls-verify=false",
            ],
            &[],
            &[
                &format!("docker://{}/{namespace}/{name}:1", registry.host),
                &format!("docker://{}/{to}", registry.host),
            ],
        );
        assert!(out.status.success(), "skopeo copy: {}", output_text(&out));
    }
}

/// The paths in every layer of the first platform of `name` in the workspace's layout.
fn files_of(ws: &Path, name: &str) -> Vec<String> {
    let layout = xtask::oci::layout::Layout::open(&ws.join("target/stevedore/oci")).unwrap();
    let index: xtask::oci::Index = layout
        .read_json(&layout.resolve(name).unwrap().digest)
        .unwrap();
    let manifest: xtask::oci::Manifest = layout.read_json(&index.manifests[0].digest).unwrap();
    let mut names = Vec::new();
    for l in &manifest.layers {
        let bytes = layout.read_blob(&l.digest).unwrap();
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
        for e in tar.entries().unwrap() {
            names.push(e.unwrap().path().unwrap().display().to_string());
        }
    }
    names.sort();
    names
}

#[test]
fn short_names_build_under_buildah_from_a_docker_hub_mirror() {
    if !have_all(&["buildah", "skopeo", "docker-registry"]) {
        skipped("buildah, skopeo or docker-registry missing: short-name build not run");
        return;
    }
    // "Docker Hub": library/golang (also as library/fedora, a name the machine's
    // registries.conf.d may alias to another registry) and tonistiigi/xx.
    let hub = Registry::plain();
    publish(
        &hub,
        "library",
        "golang",
        &["library/golang:1-alpine", "library/fedora:40"],
    );
    publish(&hub, "tonistiigi", "xx", &[]);

    let dockerfile = "ARG GO=1\nARG XX=tonistiigi/xx:1\n\
                      FROM --platform=$BUILDPLATFORM tonistiigi/xx:1.2 AS xx\n\
                      FROM golang:${GO}-alpine AS from-arg-tag\n\
                      FROM ${XX} AS from-arg\n\
                      FROM golang:1-alpine\n\
                      COPY --from=xx /hello.txt /xx.txt\n\
                      COPY --from=fedora:40 /hello.txt /fedora.txt\n\
                      COPY --from=from-arg-tag /hello.txt /arg-tag.txt\n\
                      COPY --from=from-arg /hello.txt /arg.txt\n\
                      COPY app.txt /app.txt\n";
    let config = format!(
        "[release]\nname = \"demo\"\nregistries = [\"127.0.0.1:1/demo\"]\n\
         platforms = [\"linux/amd64\"]\ntags = [\"type=semver,pattern={{{{version}}}}\"]\n\
         mirrors = {{ \"docker.io\" = \"{}\" }}\n\
         [images.web]\ndockerfile = \"Dockerfile\"\ncontext = \".\"\nbuilder = \"buildah\"\n",
        hub.host
    );
    let repo = Repo::release(&[
        ("images/release.toml", config.as_str()),
        ("Dockerfile", dockerfile),
        ("app.txt", "app\n"),
        (".gitignore", "target/\n"),
    ]);
    let cache = tempfile::tempdir().unwrap();
    let cache_dir = cache.path().display().to_string();
    let env = [("XDG_CACHE_HOME", cache_dir.as_str())];
    let out = repo.xtask(&["build"], &env);
    assert!(out.status.success(), "{}", output_text(&out));
    let files = files_of(repo.path(), "web:1.2.3");
    for f in [
        "hello.txt",
        "xx.txt",
        "fedora.txt",
        "arg-tag.txt",
        "arg.txt",
        "app.txt",
    ] {
        assert!(files.iter().any(|n| n == f), "{f} not in {files:?}");
    }
    // stevedore resolved the same names to digests (through the mirror): unchanged inputs,
    // the image is reused.
    let again = repo.xtask(&["build"], &env);
    assert!(again.status.success(), "{}", output_text(&again));
    assert!(
        output_text(&again).contains("inputs unchanged"),
        "{}",
        output_text(&again)
    );
}

#[test]
fn a_native_base_from_docker_hub_comes_from_its_mirror() {
    if !have_all(&["skopeo", "docker-registry"]) {
        skipped("skopeo or docker-registry missing: mirrored native base not run");
        return;
    }
    let hub = Registry::plain();
    publish(&hub, "library", "golang", &["library/golang:1-alpine"]);
    let config = format!(
        "[release]\nname = \"demo\"\nregistries = [\"127.0.0.1:1/demo\"]\n\
         platforms = [\"linux/amd64\", \"linux/arm64\"]\ntags = [\"type=semver,pattern={{{{version}}}}\"]\n\
         mirrors = {{ \"index.docker.io\" = \"{}/\" }}\n\
         [images.app]\nbase = \"golang:1-alpine\"\n\
         native = {{ files = [{{ src = \"app.txt\", dst = \"/app.txt\" }}] }}\n",
        hub.host
    );
    let repo = Repo::release(&[
        ("images/release.toml", config.as_str()),
        ("app.txt", "app\n"),
        (".gitignore", "target/\n"),
    ]);
    let out = repo.xtask(&["build"], &[]);
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(
        output_text(&out).contains(&format!("from {}", hub.host)),
        "{}",
        output_text(&out)
    );
    let files = files_of(repo.path(), "app:1.2.3");
    assert_eq!(files, ["app.txt", "hello.txt"]);
}
