//! A base image whose config lists no `history` (legal per the OCI image spec) builds under
//! buildah: buildah 1.28 alone fails on the second step that makes a layer ("history lists 2
//! non-empty layers, but we have 4 layers on disk").

mod support;

use std::path::Path;

use support::*;
use xtask::oci::layout::Layout;

/// A gzip'd tar layer holding one file `name`.
fn layer(name: &str) -> (Vec<u8>, xtask::oci::Digest) {
    let mut tar = tar::Builder::new(Vec::new());
    let data = format!("{name}\n");
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_cksum();
    tar.append_data(&mut header, name, data.as_bytes()).unwrap();
    let raw = tar.into_inner().unwrap();
    let diff_id = xtask::oci::Digest::of(&raw);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &raw).unwrap();
    (gz.finish().unwrap(), diff_id)
}

/// An OCI layout at `dir` holding `base:1`: linux/amd64, two layers (`/a.txt`, `/b.txt`), a
/// config without `history`.
fn history_less_base(dir: &Path) {
    let layout = Layout::create(dir).unwrap();
    let mut layers = Vec::new();
    let mut diff_ids = Vec::new();
    for name in ["a.txt", "b.txt"] {
        let (gz, diff_id) = layer(name);
        layers.push(
            layout
                .write_blob("application/vnd.oci.image.layer.v1.tar+gzip", &gz)
                .unwrap(),
        );
        diff_ids.push(diff_id.to_string());
    }
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
    });
    assert!(config.get("history").is_none());
    let config = layout
        .write_blob(
            "application/vnd.oci.image.config.v1+json",
            &serde_json::to_vec(&config).unwrap(),
        )
        .unwrap();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config, "layers": layers,
    });
    let m = layout
        .write_blob(
            "application/vnd.oci.image.manifest.v1+json",
            &serde_json::to_vec(&manifest).unwrap(),
        )
        .unwrap();
    layout.set_ref("base:1", &m).unwrap();
}

#[test]
fn a_base_without_history_builds_under_buildah() {
    if !have_all(&["buildah", "skopeo", "docker-registry"]) {
        skipped("buildah, skopeo or docker-registry missing: history-less base not run");
        return;
    }
    let registry = Registry::plain();
    let src = tempfile::tempdir().unwrap();
    history_less_base(src.path());
    let out = skopeo(
        &["copy", "--dest-tls-verify=false"],
        &[],
        &[
            &format!("oci:{}:base:1", src.path().display()),
            &format!("docker://{}/nohist/base:1", registry.host),
        ],
    );
    assert!(out.status.success(), "skopeo copy: {}", output_text(&out));

    let dockerfile = format!(
        "FROM {}/nohist/base:1\nCOPY c.txt /c.txt\nCOPY d.txt /d.txt\n",
        registry.host
    );
    let config = "[release]\nname = \"demo\"\nregistries = [\"127.0.0.1:1/demo\"]\n\
                  platforms = [\"linux/amd64\"]\ntags = [\"type=semver,pattern={{version}}\"]\n\
                  [images.web]\ndockerfile = \"Dockerfile\"\ncontext = \".\"\nbuilder = \"buildah\"\n";
    let repo = Repo::release(&[
        ("images/release.toml", config),
        ("Dockerfile", dockerfile.as_str()),
        ("c.txt", "c\n"),
        ("d.txt", "d\n"),
        (".gitignore", "target/\n"),
    ]);
    let cache = tempfile::tempdir().unwrap();
    let cache_dir = cache.path().display().to_string();
    let out = repo.xtask(&["build"], &[("XDG_CACHE_HOME", &cache_dir)]);
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("lists no history"), "{text}");

    // The base's two layers, untouched, then ours; a history entry for each.
    let layout = Layout::open(&repo.path().join("target/stevedore/oci")).unwrap();
    let index: xtask::oci::Index = layout
        .read_json(&layout.resolve("web:1.2.3").unwrap().digest)
        .unwrap();
    let manifest: xtask::oci::Manifest = layout.read_json(&index.manifests[0].digest).unwrap();
    let config: serde_json::Value = layout.read_json(&manifest.config.digest).unwrap();
    let diff_ids = config["rootfs"]["diff_ids"].as_array().unwrap();
    assert_eq!(diff_ids.len(), 4, "{config}");
    for (i, name) in ["a.txt", "b.txt"].iter().enumerate() {
        assert_eq!(diff_ids[i], layer(name).1.to_string(), "{config}");
    }
    let non_empty = config["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["empty_layer"] != true)
        .count();
    assert_eq!(non_empty, 4, "{config}");
}
