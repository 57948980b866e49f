//! The workspaces under `examples/` as test repositories: each example is copied into a fresh
//! git repository (committed, tagged `v1.2.3`), as a user's checkout of that project would be.

use std::path::{Path, PathBuf};

use super::*;

/// `examples/<name>` in this repository.
pub fn example_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
}

/// Build outputs an example's `.gitignore` leaves out; never copied.
const SKIPPED: [&str; 5] = ["target", "dist", "node_modules", "__pycache__", ".gocache"];

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            if !SKIPPED.iter().any(|s| name == *s) {
                copy_tree(&entry.path(), &to.join(&name));
            }
        } else if kind.is_file() {
            // std::fs::copy keeps the mode (CGI scripts stay executable).
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

/// A copied example: its repository, and caches of its own for buildah (`XDG_CACHE_HOME`,
/// removed with it) and Go (`GOCACHE`, shared by the example tests under the cargo target
/// dir, so the standard library is compiled once).
pub struct Example {
    pub repo: Repo,
    cache: tempfile::TempDir,
}

impl Example {
    /// The cache variables every command on this example gets.
    pub fn cache_env(&self) -> Vec<(String, String)> {
        let gocache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("examples-gocache");
        vec![
            (
                "XDG_CACHE_HOME".into(),
                self.cache.path().display().to_string(),
            ),
            ("GOCACHE".into(), gocache.display().to_string()),
        ]
    }

    /// `xtask -C <example> ARGS` with [`Example::cache_env`] and `env`.
    pub fn xtask(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
        let caches = self.cache_env();
        let mut all: Vec<(&str, &str)> = caches
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        all.extend_from_slice(env);
        self.repo.xtask(args, &all)
    }
}

impl std::ops::Deref for Example {
    type Target = Repo;

    fn deref(&self) -> &Repo {
        &self.repo
    }
}

/// A git repository holding a copy of `examples/<name>`: `edit` runs on the copy before the
/// commit (to point the release at test registries), then it is committed on `main`. The
/// example's `vendor/busybox` (git-ignored: a real checkout downloads it, see the example's
/// README) is Debian's static busybox. `tag`: the version tag put on the commit, if any.
pub fn example_repo(name: &str, tag: Option<&str>, edit: impl FnOnce(&Path)) -> Example {
    let repo = Repo::init();
    copy_tree(&example_dir(name), repo.path());
    let ignore = std::fs::read_to_string(repo.path().join(".gitignore")).unwrap_or_default();
    if ignore.lines().any(|l| l.trim() == "/vendor/busybox") {
        std::fs::create_dir_all(repo.path().join("vendor")).unwrap();
        std::fs::copy("/bin/busybox", repo.path().join("vendor/busybox"))
            .expect("busybox-static is installed (/bin/busybox)");
    }
    edit(repo.path());
    repo.commit("release");
    if let Some(tag) = tag {
        repo.git(&["tag", tag]);
    }
    Example {
        repo,
        cache: tempfile::tempdir().unwrap(),
    }
}

/// Points a copied example's release at test registries: its config's `registries = [...]`
/// line becomes `registries` (stevedore has no override for a config's registries, so the
/// copy's config is edited), and `extra` lines follow it (e.g. `ca-files = [...]`).
pub fn set_registries(config: &Path, registries: &[String], extra: &str) {
    let text = std::fs::read_to_string(config).unwrap();
    let quoted: Vec<String> = registries.iter().map(|r| format!("{r:?}")).collect();
    let mut found = false;
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with("registries = ") {
                found = true;
                format!("registries = [{}]\n{extra}", quoted.join(", "))
            } else {
                l.to_string()
            }
        })
        .collect();
    assert!(found, "{} has no `registries = ` line", config.display());
    std::fs::write(config, lines.join("\n") + "\n").unwrap();
}

/// `skopeo inspect --raw` of `reference` (`oci:DIR:NAME`, `oci:DIR@sha256:…`), parsed.
pub fn skopeo_json(reference: &str) -> serde_json::Value {
    let out = skopeo(&["inspect", "--raw"], &[], &[reference]);
    assert!(
        out.status.success(),
        "skopeo inspect --raw {reference}: {}",
        output_text(&out)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The `os/arch` of every manifest of image index `index`, in order.
pub fn index_platforms(index: &serde_json::Value) -> Vec<String> {
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{}/{}",
                m["platform"]["os"].as_str().unwrap(),
                m["platform"]["architecture"].as_str().unwrap()
            )
        })
        .collect()
}

/// The image config of `image:version`'s manifest for `platform` in the layout `dir`, read
/// with skopeo (`--config`, Docker's field names kept: `Healthcheck`, `User`, …).
pub fn layout_config(dir: &Path, image: &str, platform: &str) -> serde_json::Value {
    let layout = format!("oci:{}", dir.display());
    let index = skopeo_json(&format!("{layout}:{image}"));
    let at = index_platforms(&index)
        .iter()
        .position(|p| p == platform)
        .unwrap_or_else(|| panic!("{image} has no {platform} manifest: {index}"));
    let manifest = &index["manifests"][at]["digest"];
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            dir.join("blobs/sha256")
                .join(manifest.as_str().unwrap().trim_start_matches("sha256:")),
        )
        .unwrap(),
    )
    .unwrap();
    let config = manifest["config"]["digest"].as_str().unwrap();
    serde_json::from_slice(
        &std::fs::read(
            dir.join("blobs/sha256")
                .join(config.trim_start_matches("sha256:")),
        )
        .unwrap(),
    )
    .unwrap()
}
