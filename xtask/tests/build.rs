//! `cargo xtask build` from outside, on git repositories made by the tests: native and
//! Dockerfile (buildah) images for two platforms, reproducibility across builds and clones,
//! and failures that name the image, the platform and the cause while leaving the layout valid.

mod support;

use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use support::{git, have, output_text, xtask, Repo};
use xtask::oci::layout::Layout;
use xtask::oci::{Descriptor, ImageConfig, Index, Manifest, MEDIA_INDEX};

/// The layout is valid: `index.json` parses, every blob it reaches exists and matches its
/// digest, and no temp file is left anywhere in it.
fn assert_layout_valid(dir: &Path) {
    let layout = Layout::open(dir).unwrap();
    let index = layout.index().expect("index.json parses");
    let mut todo: Vec<Descriptor> = index.manifests.clone();
    while let Some(d) = todo.pop() {
        assert!(
            layout.verify_blob(&d.digest).unwrap(),
            "blob {} missing or corrupt",
            d.digest
        );
        if d.media_type == MEDIA_INDEX {
            let i: Index = layout.read_json(&d.digest).unwrap();
            todo.extend(i.manifests);
        } else if d.media_type.contains("manifest") {
            let m: Manifest = layout.read_json(&d.digest).unwrap();
            todo.push(m.config);
            todo.extend(m.layers);
        }
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            assert!(
                !name.contains(".tmp"),
                "temp file left: {}",
                e.path().display()
            );
            if e.path().is_dir() {
                stack.push(e.path());
            }
        }
    }
}

/// The build driver's temp output (`target/stevedore/tmp`) is gone.
fn assert_no_temp_left(repo: &Repo) {
    let tmp = repo.path().join("target/stevedore/tmp");
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

/// `(platform, manifest, config)` of each platform of the index named `name`.
fn platforms(layout: &Layout, name: &str) -> Vec<(String, Manifest, ImageConfig)> {
    let desc = layout.resolve(name).unwrap();
    let index: Index = layout.read_json(&desc.digest).unwrap();
    index
        .manifests
        .iter()
        .map(|d| {
            let m: Manifest = layout.read_json(&d.digest).unwrap();
            let c: ImageConfig = layout.read_json(&m.config.digest).unwrap();
            let p = d.platform.as_ref().expect("index entries carry a platform");
            (format!("{}/{}", p.os, p.architecture), m, c)
        })
        .collect()
}

/// The files of a gzip layer: `(path, contents)`.
fn layer_files(layout: &Layout, layer: &Descriptor) -> Vec<(String, Vec<u8>)> {
    let blob = layout.open_blob(&layer.digest).unwrap();
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(blob));
    ar.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let path = e.path().unwrap().display().to_string();
            let mut body = Vec::new();
            e.read_to_end(&mut body).unwrap();
            (path, body)
        })
        .filter(|(p, _)| !p.ends_with('/'))
        .collect()
}

const NATIVE_IMAGE: &str = r#"
[images.tool]
native = { files = [{ src = "bin/{arch}/app", dst = "/usr/local/bin/app", mode = "0755" }] }
entrypoint = ["/usr/local/bin/app"]
env = { GREETING = "hi" }
ports = ["8080"]
user = "65532:65532"
"#;

fn release_toml(images: &str) -> String {
    format!(
        r#"[release]
name = "demo"
registries = ["registry.example/demo"]
platforms = ["linux/amd64", "linux/arm64"]
tags = ["type=semver,pattern={{{{version}}}}"]
licenses = "MIT"
{images}"#
    )
}

const APP_FILES: [(&str, &str); 2] = [
    ("bin/amd64/app", "app for amd64\n"),
    ("bin/arm64/app", "app for arm64\n"),
];

/// One native image and one Dockerfile image, two platforms each.
#[test]
fn native_and_dockerfile_images_for_two_platforms() {
    if !have("buildah") || !have("skopeo") {
        support::skipped("SKIPPED: buildah and skopeo are needed (apt-get install buildah skopeo)");
        return;
    }
    let config = release_toml(&format!(
        "{NATIVE_IMAGE}\n[images.web]\ndockerfile = \"web/Dockerfile\"\ncontext = \".\"\nbuilder = \"buildah\"\n"
    ));
    let dockerfile = "FROM scratch\nARG TARGETARCH\nARG VERSION\nLABEL version=$VERSION\n\
                      COPY bin/${TARGETARCH}/app /app\nENTRYPOINT [\"/app\"]\n";
    let mut files = APP_FILES.to_vec();
    files.push(("images/release.toml", &config));
    files.push(("web/Dockerfile", dockerfile));
    let repo = Repo::release(&files);
    let sha = repo.git(&["rev-parse", "HEAD"]);

    let out = repo.xtask(&["build", "--output", "out/oci"], &[]);
    support::assert_ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("[web linux/amd64,linux/arm64]"),
        "{}",
        output_text(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("tool:1.2.3 index sha256:"), "{stdout}");
    assert!(stdout.contains("web:1.2.3 index sha256:"), "{stdout}");

    let dir = repo.path().join("out/oci");
    assert_layout_valid(&dir);
    let layout = Layout::open(&dir).unwrap();
    for image in ["tool", "web"] {
        let raw = Command::new("skopeo")
            .args(["inspect", "--raw"])
            .arg(format!("oci:{}:{image}:1.2.3", dir.display()))
            .output()
            .unwrap();
        assert!(raw.status.success(), "skopeo: {raw:?}");
        let index: Index = serde_json::from_slice(&raw.stdout).unwrap();
        assert_eq!(index.media_type.as_deref(), Some(MEDIA_INDEX));
        let archs: Vec<&str> = index
            .manifests
            .iter()
            .map(|d| d.platform.as_ref().unwrap().architecture.as_str())
            .collect();
        assert_eq!(archs, ["amd64", "arm64"], "{image}");

        for (platform, manifest, config) in platforms(&layout, &format!("{image}:1.2.3")) {
            let arch = platform.trim_start_matches("linux/");
            assert_eq!(config.architecture, arch, "{image} {platform}");
            assert_eq!(config.os, "linux");
            let c = config.config.as_ref().unwrap();
            let label = |k: &str| c.labels.get(k).map(String::as_str);
            assert_eq!(label("org.opencontainers.image.version"), Some("1.2.3"));
            assert_eq!(
                label("org.opencontainers.image.revision"),
                Some(sha.as_str())
            );
            assert_eq!(label("org.opencontainers.image.title"), Some(image));
            assert_eq!(label("org.opencontainers.image.licenses"), Some("MIT"));
            assert_eq!(
                label("org.opencontainers.image.created"),
                Some("2024-05-01T12:00:00Z")
            );
            let want_file = format!("app for {arch}\n").into_bytes();
            let all: Vec<(String, Vec<u8>)> = manifest
                .layers
                .iter()
                .flat_map(|l| layer_files(&layout, l))
                .collect();
            if image == "web" {
                // The VERSION build arg reached the Dockerfile.
                assert_eq!(label("version"), Some("1.2.3"), "{image} {platform}");
                assert!(all.contains(&("app".into(), want_file)), "{all:?}");
            } else {
                assert_eq!(
                    c.entrypoint.as_deref(),
                    Some(&["/usr/local/bin/app".to_string()][..])
                );
                assert_eq!(c.user.as_deref(), Some("65532:65532"));
                assert!(c.env.contains(&"GREETING=hi".to_string()), "{:?}", c.env);
                assert!(c.exposed_ports.contains_key("8080/tcp"));
                assert_eq!(config.created.as_deref(), Some("2024-05-01T12:00:00Z"));
                assert_eq!(config.rootfs.diff_ids.len(), manifest.layers.len());
                assert_eq!(all, vec![("usr/local/bin/app".to_string(), want_file)]);
            }
        }
    }
    assert_no_temp_left(&repo);
}

/// The native image, built twice and from a second clone, has one digest.
#[test]
fn native_builds_are_reproducible_across_builds_and_clones() {
    let config = release_toml(NATIVE_IMAGE);
    let mut files = APP_FILES.to_vec();
    files.push(("images/release.toml", &config));
    let repo = Repo::release(&files);
    let index_digest = |dir: &Path| -> String {
        let layout = Layout::open(&dir.join("target/stevedore/oci")).unwrap();
        layout.resolve("tool:1.2.3").unwrap().digest.to_string()
    };

    let out = repo.xtask(&["build"], &[]);
    support::assert_ok(&out);
    let first = index_digest(repo.path());

    let start = Instant::now();
    let out = repo.xtask(&["build"], &[]);
    support::assert_ok(&out);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("layer unchanged"),
        "{}",
        output_text(&out)
    );
    eprintln!("rebuild took {:?}", start.elapsed());
    assert_eq!(index_digest(repo.path()), first, "rebuild");

    // Without the cache (a fresh compression) and without the layout: same digest.
    std::fs::remove_dir_all(repo.path().join("target")).unwrap();
    let out = repo.xtask(&["build"], &[]);
    support::assert_ok(&out);
    assert_eq!(index_digest(repo.path()), first, "fresh build");

    let clone = tempfile::tempdir().unwrap();
    let dest = clone.path().join("second");
    git(
        clone.path(),
        &["clone", "-q", &repo.path().display().to_string(), "second"],
    );
    git(&dest, &["checkout", "-q", "v1.2.3"]);
    let out = xtask(&dest, &["build"], &[]);
    support::assert_ok(&out);
    assert_eq!(index_digest(&dest), first, "second clone");
    assert_layout_valid(&dest.join("target/stevedore/oci"));
}

fn assert_names(err: &str, parts: &[&str]) {
    for p in parts {
        assert!(err.contains(p), "expected {p:?} in:\n{err}");
    }
}

/// Failures name the image, the platform and the cause; the layout stays valid.
#[test]
fn failures_name_image_platform_and_cause() {
    let buildah = have("buildah");
    let broken = |name: &str, body: &str| format!("[images.{name}]\n{body}\n");
    let config = release_toml(&format!(
        "{NATIVE_IMAGE}\n{}{}{}{}{}{}",
        broken(
            "missing-file",
            "native = { files = [{ src = \"bin/{arch}/nope\", dst = \"/nope\" }] }"
        ),
        broken(
            "bad-dockerfile",
            "dockerfile = \"bad/Dockerfile\"\ncontext = \".\"\nbuilder = \"buildah\""
        ),
        broken(
            "failing-run",
            "dockerfile = \"run/Dockerfile\"\ncontext = \".\"\nbuilder = \"buildah\"\nplatforms = [\"linux/amd64\"]"
        ),
        broken(
            "no-base",
            "native = { files = [{ src = \"bin/amd64/app\", dst = \"/app\" }] }\nbase = \"oci:bases/none:base:1\""
        ),
        broken(
            "registry-base",
            "native = { files = [{ src = \"bin/amd64/app\", dst = \"/app\" }] }\nbase = \"127.0.0.1:1/base:1\""
        ),
        broken(
            "no-builder",
            "dockerfile = \"web/Dockerfile\"\ncontext = \".\"\nbuilder = \"buildah\""
        ),
    ));
    let mut files = APP_FILES.to_vec();
    files.push(("images/release.toml", &config));
    files.push(("bad/Dockerfile", "FROMM scratch\nCOPY nothing /\n"));
    files.push(("run/Dockerfile", "FROM scratch\nRUN exit 3\n"));
    files.push(("web/Dockerfile", "FROM scratch\nCOPY bin/amd64/app /app\n"));
    let repo = Repo::release(&files);
    let layout_dir = repo.path().join("target/stevedore/oci");

    // A good image first: failures must leave it named and intact.
    let out = repo.xtask(&["build", "--image", "tool"], &[]);
    support::assert_ok(&out);
    let good = Layout::open(&layout_dir)
        .unwrap()
        .resolve("tool:1.2.3")
        .unwrap();

    let fail = |args: &[&str], env: &[(&str, &str)]| -> String {
        let out = xtask(repo.path(), args, env);
        assert!(
            !out.status.success(),
            "expected a failure: {}",
            output_text(&out)
        );
        assert_layout_valid(&layout_dir);
        let layout = Layout::open(&layout_dir).unwrap();
        assert_eq!(layout.resolve("tool:1.2.3").unwrap(), good);
        assert_eq!(layout.refs().unwrap().len(), 1, "no other name was added");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };

    let err = fail(&["build", "--image", "missing-file"], &[]);
    assert_names(
        &err,
        &[
            "image missing-file",
            "linux/amd64",
            "bin/amd64/nope",
            "does not exist",
        ],
    );

    let err = fail(&["build", "--image", "no-base"], &[]);
    assert_names(
        &err,
        &[
            "image no-base",
            "linux/amd64",
            "bases/none",
            "not an OCI image layout",
        ],
    );

    let err = fail(&["build", "--image", "registry-base"], &[]);
    assert_names(
        &err,
        &[
            "image registry-base",
            "linux/amd64",
            "127.0.0.1:1/base:1",
            "cannot connect to registry",
        ],
    );

    // A missing builder: PATH holds git only.
    let bin = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        String::from_utf8(
            Command::new("sh")
                .args(["-c", "command -v git"])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap()
        .trim(),
        bin.path().join("git"),
    )
    .unwrap();
    let path = bin.path().display().to_string();
    let env = [("PATH", path.as_str())];
    let err = fail(
        &[
            "build",
            "--image",
            "no-builder",
            "--platform",
            "linux/amd64",
        ],
        &env,
    );
    assert_names(
        &err,
        &[
            "image no-builder linux/amd64",
            "buildah is not installed",
            "apt-get install buildah",
        ],
    );
    // The same through a publishing release: it fails before building anything.
    let err = fail(&["release", "--image", "no-builder"], &env);
    assert_names(&err, &["image no-builder linux/arm64", "nothing was built"]);
    // A dry run lists it as skipped, with the fix.
    let out = xtask(
        repo.path(),
        &["release", "--dry-run", "--image", "no-builder"],
        &env,
    );
    support::assert_ok(&out);
    assert_names(
        &String::from_utf8_lossy(&out.stdout),
        &[
            "skipped no-builder linux/amd64: buildah is not installed",
            "fix: apt-get install buildah",
        ],
    );

    if !buildah {
        support::skipped(
            "SKIPPED the Dockerfile failures: buildah is not installed (apt-get install buildah)",
        );
        return;
    }
    let err = fail(&["build", "--image", "bad-dockerfile"], &[]);
    assert_names(
        &err,
        &[
            "image bad-dockerfile (linux/amd64, linux/arm64)",
            "buildah build failed",
            "| ",
        ],
    );
    let err = fail(&["build", "--image", "failing-run"], &[]);
    assert_names(
        &err,
        &[
            "image failing-run (linux/amd64)",
            "buildah build failed",
            "| ",
        ],
    );
    assert_no_temp_left(&repo);
}

/// A base image from an OCI layout on disk: its layer is re-used untouched, its config
/// inherited where ours sets nothing.
#[test]
fn native_image_on_an_oci_layout_base() {
    let config = release_toml(
        "[images.base]\nnative = { files = [{ src = \"bin/{arch}/app\", dst = \"/base/app\" }] }\n\
         workdir = \"/base\"\ncmd = [\"/base/app\"]\n\
         [images.top]\nnative = { files = [{ src = \"bin/{arch}/app\", dst = \"/top/app\" }] }\n\
         base = \"oci:target/stevedore/oci:base:1.2.3\"\nenv = { X = \"1\" }\n",
    );
    let mut files = APP_FILES.to_vec();
    files.push(("images/release.toml", &config));
    let repo = Repo::release(&files);
    let out = repo.xtask(&["build", "--image", "base"], &[]);
    support::assert_ok(&out);
    let out = repo.xtask(&["build", "--image", "top"], &[]);
    support::assert_ok(&out);
    let layout = Layout::open(&repo.path().join("target/stevedore/oci")).unwrap();
    let base = platforms(&layout, "base:1.2.3");
    let top = platforms(&layout, "top:1.2.3");
    for ((bp, bm, _), (tp, tm, tc)) in base.iter().zip(&top) {
        assert_eq!(bp, tp);
        assert_eq!(tm.layers.len(), 2);
        assert_eq!(tm.layers[0], bm.layers[0], "base layer re-used untouched");
        let c = tc.config.as_ref().unwrap();
        assert_eq!(c.working_dir.as_deref(), Some("/base"));
        assert_eq!(c.cmd.as_deref(), Some(&["/base/app".to_string()][..]));
        assert!(c.env.contains(&"X=1".to_string()));
        assert_eq!(tc.history.len(), 2);
        assert!(tm
            .annotations
            .contains_key("org.opencontainers.image.base.digest"));
    }
    assert_layout_valid(&repo.path().join("target/stevedore/oci"));
}
