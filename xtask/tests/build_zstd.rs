//! `compression = "zstd"` on a native image: with the `zstd` feature, the layers are zstd
//! (checked with skopeo and the `zstd` CLI) and copy into a real registry; without it, the
//! build fails saying how to enable it.
//!
//! Run with the feature: `cargo test -p xtask --features zstd --test build_zstd`.

mod support;

use support::Repo;

/// Text bigger than a compression chunk (1 MiB), so the layer holds several zstd frames.
fn big_text(arch: &str) -> Vec<u8> {
    let mut v = Vec::new();
    let mut i = 0u64;
    while v.len() < 3 << 20 {
        v.extend_from_slice(format!("{arch} line {i}: the quick brown fox\n").as_bytes());
        i += 1;
    }
    v
}

/// A repository with one native `files` image `app` (two platforms, per-platform files),
/// compressed with zstd.
fn workspace(level: Option<u32>) -> Repo {
    let level = level
        .map(|l| format!("compression-level = {l}\n"))
        .unwrap_or_default();
    let toml = format!(
        "[release]\nname = \"demo\"\nplatforms = [\"linux/amd64\", \"linux/arm64\"]\n\n\
         [images.app]\nnative = {{ files = [\
         {{ src = \"files/{{arch}}/hello.txt\", dst = \"/hello.txt\" }}, \
         {{ src = \"files/{{arch}}/big.txt\", dst = \"/data/big.txt\" }}] }}\n\
         compression = \"zstd\"\n{level}"
    );
    let (amd, arm) = (big_text("amd64"), big_text("arm64"));
    Repo::release(&[
        ("files/amd64/hello.txt", b"hello amd64\n".as_slice()),
        ("files/arm64/hello.txt", b"hello arm64\n".as_slice()),
        ("files/amd64/big.txt", &amd),
        ("files/arm64/big.txt", &arm),
        (".gitignore", b"target/\n"),
        ("images/release.toml", toml.as_bytes()),
    ])
}

#[cfg(not(feature = "zstd"))]
#[test]
fn zstd_without_the_feature_says_how_to_enable_it() {
    let repo = workspace(None);
    let out = repo.xtask(&["build"], &[]);
    let text = support::output_text(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("images.app.compression = \"zstd\""), "{text}");
    assert!(text.contains("--features zstd"), "{text}");
}

#[cfg(feature = "zstd")]
mod with_feature {
    use std::path::Path;
    use std::process::Command;

    use super::support::{self, have, output_text, skopeo};
    use super::{big_text, workspace};
    use xtask::oci::{Digest, Index, Manifest, MEDIA_INDEX, MEDIA_LAYER_ZSTD};

    /// Decompresses a blob with the `zstd` CLI; returns the tar's files `(path, contents)`.
    fn unzstd_files(blob: &Path) -> Vec<(String, Vec<u8>)> {
        let out = Command::new("zstd")
            .args(["-d", "-c", "-q"])
            .arg(blob)
            .output()
            .expect("zstd is installed (apt-get install zstd)");
        assert!(out.status.success(), "zstd -d: {out:?}");
        let mut ar = tar::Archive::new(&out.stdout[..]);
        let mut files = Vec::new();
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            if e.header().entry_type().is_file() {
                let path = e.path().unwrap().display().to_string();
                let mut body = Vec::new();
                std::io::Read::read_to_end(&mut e, &mut body).unwrap();
                files.push((path, body));
            }
        }
        files
    }

    #[test]
    fn zstd_layers_build_decompress_and_push() {
        assert!(have("zstd"), "the zstd CLI is needed: apt-get install zstd");
        let repo = workspace(Some(9));
        let out = repo.xtask(&["build"], &[]);
        support::assert_ok(&out);
        let dir = repo.path().join("target/stevedore/oci");
        let source = format!("oci:{}:app:1.2.3", dir.display());

        let raw = skopeo(&["inspect", "--raw"], &[], &[&source]);
        support::assert_ok(&raw);
        let index: Index = serde_json::from_slice(&raw.stdout).unwrap();
        assert_eq!(index.media_type.as_deref(), Some(MEDIA_INDEX));
        assert_eq!(index.manifests.len(), 2);

        for d in &index.manifests {
            let arch = d.platform.as_ref().unwrap().architecture.clone();
            let blob = |digest: &Digest| dir.join("blobs/sha256").join(digest.hex());
            let m: Manifest =
                serde_json::from_slice(&std::fs::read(blob(&d.digest)).unwrap()).expect("manifest");
            assert_eq!(m.layers.len(), 1, "{arch}");
            let layer = &m.layers[0];
            assert_eq!(layer.media_type, MEDIA_LAYER_ZSTD, "{arch}");
            let files = unzstd_files(&blob(&layer.digest));
            assert_eq!(
                files,
                vec![
                    ("data/big.txt".to_string(), big_text(&arch)),
                    (
                        "hello.txt".to_string(),
                        format!("hello {arch}\n").into_bytes()
                    ),
                ],
                "{arch}"
            );
        }

        // Into a real registry, unchanged.
        let reg = support::Registry::plain();
        let copy = skopeo(
            &["copy", "--all", "--preserve-digests", "--quiet"],
            &["--dest-tls-verify=false".to_string()],
            &[&source, &format!("docker://{}/demo/app:1.2.3", reg.host)],
        );
        assert!(copy.status.success(), "skopeo copy: {}", output_text(&copy));
        let pushed = reg.inspect_raw("demo/app:1.2.3").expect("pushed");
        assert_eq!(pushed, raw.stdout, "the registry holds the layout's index");
        // `skopeo inspect --raw` of each platform's manifest shows the zstd layer.
        for d in &index.manifests {
            let m = reg
                .inspect_raw(&format!("demo/app@{}", d.digest))
                .expect("platform manifest pushed");
            let m: Manifest = serde_json::from_slice(&m).unwrap();
            assert_eq!(m.layers[0].media_type, MEDIA_LAYER_ZSTD);
        }

        // A rebuild reuses the layers; a clone of the same commit gives the same index.
        let again = repo.xtask(&["build"], &[]);
        support::assert_ok(&again);
        assert!(
            String::from_utf8_lossy(&again.stderr).contains("layer unchanged"),
            "{}",
            output_text(&again)
        );
        let raw_again = skopeo(&["inspect", "--raw"], &[], &[&source]);
        assert_eq!(raw_again.stdout, raw.stdout);
        let clone = tempfile::tempdir().unwrap();
        support::git(
            clone.path(),
            &["clone", "-q", &repo.path().display().to_string(), "."],
        );
        let out = support::xtask(clone.path(), &["build"], &[]);
        support::assert_ok(&out);
        let cloned = skopeo(
            &["inspect", "--raw"],
            &[],
            &[&format!(
                "oci:{}:app:1.2.3",
                clone.path().join("target/stevedore/oci").display()
            )],
        );
        assert_eq!(cloned.stdout, raw.stdout, "same commit, same index");
    }
}
