//! Test repositories and workspaces: a git repository with a release config.

use std::path::Path;
use std::process::{Command, Output};
use xtask::oci::layout::Layout;

use super::*;

/// A git repository in a temp dir (removed when dropped). Commits made with [`git`] have a
/// fixed author, committer and date (2024-05-01T12:00:00Z).
pub struct Repo {
    pub dir: tempfile::TempDir,
}

impl Repo {
    /// An empty repository (`git init -b main`), no commit yet.
    pub fn init() -> Repo {
        let repo = Repo {
            dir: tempfile::tempdir().unwrap(),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    /// A repository holding `files` (`(relative path, contents)`), committed ("release") and
    /// tagged `v1.2.3`.
    pub fn release<T: AsRef<[u8]>>(files: &[(&str, T)]) -> Repo {
        let repo = Repo::init();
        for (rel, contents) in files {
            repo.write(rel, contents);
        }
        repo.commit("release");
        repo.git(&["tag", "v1.2.3"]);
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file (and its parent directories) under the repository.
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, contents).unwrap();
    }

    /// Runs git here; returns its trimmed stdout.
    pub fn git(&self, args: &[&str]) -> String {
        git(self.path(), args)
    }

    /// Commits everything (`add -A`), even when nothing changed.
    pub fn commit(&self, msg: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", msg]);
    }

    /// The full sha of HEAD.
    pub fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"])
    }

    /// Runs `cargo xtask -C <here> ARGS` (see [`xtask`]).
    pub fn xtask(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        xtask(self.path(), args, env)
    }
}

/// A git repository holding `images/release.toml`, tagged `v1.2.3` (so the version is
/// `1.2.3` and the tags are `v1.2.3`, `1.2`, `1`, `latest`). Derefs to its [`Repo`].
pub struct Workspace {
    pub repo: Repo,
}

pub const VERSION: &str = "1.2.3";
pub const TAGS: [&str; 4] = ["1", "1.2", "latest", "v1.2.3"];

/// Every tag of `repo` in `reg` is one of [`TAGS`] and holds exactly `bytes`
/// (`skopeo inspect --raw`).
pub fn assert_tags(reg: &Registry, repo: &str, bytes: &[u8]) {
    assert_eq!(reg.tags(repo), TAGS.to_vec(), "tags of {}/{repo}", reg.host);
    for tag in TAGS {
        let raw = reg
            .inspect_raw(&format!("{repo}:{tag}"))
            .expect("tag exists");
        assert_eq!(raw, bytes, "{}/{repo}:{tag}", reg.host);
    }
}

impl Workspace {
    /// `registries`: prefixes as in the config; `images`: image names (native `files` images);
    /// `extra`: more `[release]` keys (e.g. `ca-files = [...]`).
    pub fn new(registries: &[String], images: &[&str], extra: &str) -> Workspace {
        Workspace::with_files(registries, images, extra, &[])
    }

    /// [`Workspace::new`] plus files (`(relative path, bytes)`) committed with the config.
    pub fn with_files(
        registries: &[String],
        images: &[&str],
        extra: &str,
        files: &[(&str, &[u8])],
    ) -> Workspace {
        let mut config = super::ReleaseToml::new("demo")
            .registries(registries)
            .platforms(["linux/amd64", "linux/arm64"])
            .tags([
                "type=semver,pattern=v{{version}}",
                "type=semver,pattern={{major}}.{{minor}}",
                "type=semver,pattern={{major}}",
            ])
            .string("latest", "auto")
            .lines(extra);
        for name in images {
            config = config.image(
                name,
                "native = { files = [{ src = \"files/hello.txt\", dst = \"/hello.txt\" }] }",
            );
        }
        let toml = config.build();
        let mut all: Vec<(&str, &[u8])> = vec![("files/hello.txt", b"hello\n")];
        all.extend_from_slice(files);
        all.push((".gitignore", b"target/\n"));
        all.push(("images/release.toml", toml.as_bytes()));
        Workspace {
            repo: Repo::release(&all),
        }
    }

    /// The default layout directory (`target/stevedore/oci`).
    pub fn layout(&self) -> Layout {
        Layout::create(&self.path().join("target/stevedore/oci")).unwrap()
    }
}

impl std::ops::Deref for Workspace {
    type Target = Repo;

    fn deref(&self) -> &Repo {
        &self.repo
    }
}

/// Runs git in `dir` with a fixed author, committer and date (2024-05-01T12:00:00Z); asserts
/// success and returns the trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .env("GIT_AUTHOR_DATE", "2024-05-01T12:00:00Z")
        .env("GIT_COMMITTER_DATE", "2024-05-01T12:00:00Z")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}
