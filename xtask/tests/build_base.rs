//! Native images on a base image pulled from a registry: a real `docker-registry` on a free
//! loopback port, a two-platform base pushed into it with skopeo, `cargo xtask build`.

mod support;

use std::path::Path;

use support::{
    have, output_text, skopeo, small_image, write_image, ImageSpec, Registry, Repo, WrittenImage,
};
use xtask::oci::layout::Layout;
use xtask::oci::{Digest, ImageConfig, Index, Manifest, MEDIA_INDEX};

fn tools() -> bool {
    if have("skopeo") && have("docker-registry") {
        return true;
    }
    support::skipped("SKIPPED: skopeo and docker-registry are needed");
    false
}

/// Whether `tool` can be started (`htpasswd` has no `--version`).
fn runs(tool: &str) -> bool {
    std::process::Command::new(tool)
        .stdin(std::process::Stdio::null())
        .output()
        .is_ok()
}

/// Writes `spec` into a fresh layout and copies it into `reg` as `repo:tag`; returns what was
/// written and the digest the registry holds for the tag.
fn push_base(reg: &Registry, spec: &ImageSpec, repo: &str, tag: &str) -> (WrittenImage, Digest) {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::create(dir.path()).unwrap();
    let written = write_image(&layout, spec, tag);
    let mut flags = vec![match &reg.cert_dir {
        Some(d) => format!("--dest-cert-dir={}", d.display()),
        None => "--dest-tls-verify=false".to_string(),
    }];
    if let Some((u, p)) = &reg.creds {
        flags.push(format!("--dest-creds={u}:{p}"));
    }
    let out = skopeo(
        &["copy", "--all", "--preserve-digests", "--quiet"],
        &flags,
        &[
            &format!("oci:{}:{}:{tag}", dir.path().display(), spec.name),
            &format!("docker://{}/{repo}:{tag}", reg.host),
        ],
    );
    assert!(out.status.success(), "skopeo copy: {}", output_text(&out));
    let raw = reg
        .inspect_raw(&format!("{repo}:{tag}"))
        .expect("the base is in the registry");
    (written, Digest::of(&raw))
}

/// A workspace with one native `files` image `app` on `base`, for both platforms.
fn workspace(base: &str) -> Repo {
    workspace_with(base, "", &[])
}

/// [`workspace`] with more `[release]` keys and files.
fn workspace_with(base: &str, release: &str, files: &[(&str, &[u8])]) -> Repo {
    let toml = format!(
        "[release]\nname = \"demo\"\nregistries = [\"127.0.0.1:1/demo\"]\n{release}\n\
         platforms = [\"linux/amd64\", \"linux/arm64\"]\n\n\
         [images.app]\nnative = {{ files = [{{ src = \"files/hello.txt\", dst = \"/hello.txt\" }}] }}\n\
         base = \"{base}\"\nentrypoint = [\"/bin/sh\"]\n"
    );
    let mut all: Vec<(&str, &[u8])> = vec![
        ("files/hello.txt", b"hello\n".as_slice()),
        (".gitignore", b"target/\n".as_slice()),
        ("images/release.toml", toml.as_bytes()),
    ];
    all.extend_from_slice(files);
    Repo::release(&all)
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The layout opens, every name points at a stored blob, no temp file is left.
fn assert_layout_valid(dir: &Path) {
    let layout = Layout::open(dir).unwrap();
    for (name, d) in layout.refs().unwrap() {
        assert!(layout.verify_blob(&d.digest).unwrap(), "{name} dangles");
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.join("blobs"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
}

#[test]
fn native_image_on_a_registry_base() {
    if !tools() {
        return;
    }
    let reg = Registry::plain();
    let (base, base_digest) = push_base(&reg, &small_image("base", 3), "base", "1");
    let base_ref = format!("{}/base:1", reg.host);
    let repo = workspace(&base_ref);

    let out = repo.xtask(&["build"], &[]);
    support::assert_ok(&out);
    let err = stderr(&out);
    assert!(err.contains("pulling"), "{err}");

    let layout_dir = repo.path().join("target/stevedore/oci");
    let raw = skopeo(
        &["inspect", "--raw"],
        &[],
        &[&format!("oci:{}:app:1.2.3", layout_dir.display())],
    );
    support::assert_ok(&raw);
    let index: Index = serde_json::from_slice(&raw.stdout).unwrap();
    assert_eq!(index.media_type.as_deref(), Some(MEDIA_INDEX));
    assert_eq!(index.manifests.len(), 2);
    let layout = Layout::open(&layout_dir).unwrap();
    let base_layout_manifests: Vec<Manifest> = {
        // The base's platform manifests, as written (the registry holds the same bytes).
        let dir = tempfile::tempdir().unwrap();
        let l = Layout::create(dir.path()).unwrap();
        let again = write_image(&l, &small_image("base", 3), "1");
        assert_eq!(again.index.digest, base.index.digest, "deterministic");
        again
            .manifests
            .iter()
            .map(|d| l.read_json(&d.digest).unwrap())
            .collect()
    };
    for (i, desc) in index.manifests.iter().enumerate() {
        let platform = desc.platform.as_ref().unwrap();
        let manifest: Manifest = layout.read_json(&desc.digest).unwrap();
        let base_manifest = &base_layout_manifests[i];
        assert_eq!(
            base.manifests[i].platform.as_ref().unwrap().architecture,
            platform.architecture
        );
        let n = base_manifest.layers.len();
        assert_eq!(manifest.layers.len(), n + 1, "{platform:?}");
        for (ours, theirs) in manifest.layers[..n].iter().zip(&base_manifest.layers) {
            assert_eq!(
                ours.digest, theirs.digest,
                "base layers are reused untouched"
            );
            assert_eq!(ours.size, theirs.size);
            assert!(layout.verify_blob(&ours.digest).unwrap());
        }
        assert!(!base_manifest
            .layers
            .iter()
            .any(|l| l.digest == manifest.layers[n].digest));
        assert_eq!(
            manifest.annotations["org.opencontainers.image.base.digest"],
            base_digest.to_string()
        );
        assert_eq!(
            manifest.annotations["org.opencontainers.image.base.name"],
            base_ref
        );
        let config: ImageConfig = layout.read_json(&manifest.config.digest).unwrap();
        assert_eq!(config.architecture, platform.architecture);
        assert_eq!(config.rootfs.diff_ids.len(), n + 1);
        let labels = &config.config.as_ref().unwrap().labels;
        assert_eq!(labels["org.opencontainers.image.title"], "app");
    }
    // The cache layout names the pulled image by its reference and digest.
    let cache = Layout::open(&repo.path().join("target/stevedore/base")).unwrap();
    let cached = cache.resolve(&format!("{base_ref}@{base_digest}")).unwrap();
    assert_eq!(cached.digest, base_digest);

    // A second build resolves the tag again but downloads nothing, and gives the same image.
    let first = layout.resolve("app:1.2.3").unwrap();
    let out = repo.xtask(&["build"], &[]);
    support::assert_ok(&out);
    let err = stderr(&out);
    assert!(!err.contains("pulling"), "{err}");
    assert_eq!(err.matches("blobs already cached").count(), 2, "{err}");
    assert_eq!(layout.resolve("app:1.2.3").unwrap(), first);

    // Pinned by digest and cached: no registry needed at all.
    drop(reg);
    let pinned = workspace(&format!("{base_ref}@{base_digest}"));
    std::fs::create_dir_all(pinned.path().join("target/stevedore")).unwrap();
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(repo.path().join("target/stevedore/base"))
        .arg(pinned.path().join("target/stevedore/base"))
        .status()
        .unwrap();
    assert!(status.success());
    let out = pinned.xtask(&["build"], &[]);
    support::assert_ok(&out);
    let manifest: Manifest = {
        let l = Layout::open(&pinned.path().join("target/stevedore/oci")).unwrap();
        let index: Index = l
            .read_json(&l.resolve("app:1.2.3").unwrap().digest)
            .unwrap();
        l.read_json(&index.manifests[0].digest).unwrap()
    };
    assert_eq!(
        manifest.annotations["org.opencontainers.image.base.digest"],
        base_digest.to_string()
    );
}

#[test]
fn unknown_base_image_fails_and_leaves_the_layout_valid() {
    if !tools() {
        return;
    }
    let reg = Registry::plain();
    let (_, _) = push_base(
        &reg,
        &ImageSpec {
            name: "amd".into(),
            platforms: vec![("linux", "amd64")],
            shared: vec![(7, 1000)],
            own: vec![],
        },
        "amd",
        "1",
    );

    let missing = format!("{}/nope:1", reg.host);
    let repo = workspace(&missing);
    let out = repo.xtask(&["build"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let err = stderr(&out);
    for want in [
        "image app",
        "linux/amd64",
        missing.as_str(),
        "not found in registry",
        "check the name and tag",
    ] {
        assert!(err.contains(want), "{want:?} missing from:\n{err}");
    }
    let layout_dir = repo.path().join("target/stevedore/oci");
    assert_layout_valid(&layout_dir);
    assert!(Layout::open(&layout_dir)
        .unwrap()
        .refs()
        .unwrap()
        .is_empty());

    // A tag that does not exist in an existing repository.
    let repo = workspace(&format!("{}/amd:2", reg.host));
    let out = repo.xtask(&["build"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert!(
        stderr(&out).contains("not found in registry"),
        "{}",
        output_text(&out)
    );

    // A base without the platform: named, with what it has.
    let repo = workspace(&format!("{}/amd:1", reg.host));
    let out = repo.xtask(&["build"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let err = stderr(&out);
    for want in [
        "linux/arm64",
        "has no linux/arm64 variant",
        "it has: linux/amd64",
    ] {
        assert!(err.contains(want), "{want:?} missing from:\n{err}");
    }
    let layout_dir = repo.path().join("target/stevedore/oci");
    assert_layout_valid(&layout_dir);
    assert!(Layout::open(&layout_dir)
        .unwrap()
        .refs()
        .unwrap()
        .is_empty());

    // Nothing listening.
    let port = support::free_port();
    let repo = workspace(&format!("127.0.0.1:{port}/base:1"));
    let out = repo.xtask(&["build"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let err = stderr(&out);
    for want in [
        "image app",
        "linux/amd64",
        "cannot connect to registry",
        &format!("127.0.0.1:{port}/base:1"),
    ] {
        assert!(err.contains(want), "{want:?} missing from:\n{err}");
    }
    assert_layout_valid(&repo.path().join("target/stevedore/oci"));
}

#[test]
fn registry_base_over_tls_with_credentials() {
    if !tools() || !runs("openssl") || !runs("htpasswd") {
        support::skipped("SKIPPED: openssl and htpasswd are needed too");
        return;
    }
    let reg = Registry::start(support::RegistryOptions {
        tls: true,
        htpasswd: Some(("puller".into(), "s3cret-pull".into())),
        ..Default::default()
    });
    let (_, base_digest) = push_base(&reg, &small_image("base", 4), "org/base", "1");
    let base_ref = format!("{}/org/base:1", reg.host);
    let ca = std::fs::read(reg.ca_file.as_ref().unwrap()).unwrap();
    let repo = workspace_with(
        &base_ref,
        "ca-files = [\"certs/ca.crt\"]",
        &[("certs/ca.crt", ca.as_slice())],
    );
    let var = format!("STEVEDORE_AUTH_127_0_0_1_{}", reg.port);

    // Without credentials: refused, and the message says how to log in.
    let out = repo.xtask(&["build"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    let err = stderr(&out);
    for want in [base_ref.as_str(), "linux/amd64", "logged in", var.as_str()] {
        assert!(err.contains(want), "{want:?} missing from:\n{err}");
    }

    let out = repo.xtask(&["build"], &[(&var, "puller:s3cret-pull")]);
    support::assert_ok(&out);
    assert!(!output_text(&out).contains("s3cret-pull"));
    let layout = Layout::open(&repo.path().join("target/stevedore/oci")).unwrap();
    let index: Index = layout
        .read_json(&layout.resolve("app:1.2.3").unwrap().digest)
        .unwrap();
    for d in &index.manifests {
        let m: Manifest = layout.read_json(&d.digest).unwrap();
        assert_eq!(
            m.annotations["org.opencontainers.image.base.digest"],
            base_digest.to_string()
        );
        assert_eq!(m.layers.len(), 3);
    }
}
