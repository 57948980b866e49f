//! Test helpers: a workspace of files in a temporary directory.

use std::fs;
use std::path::PathBuf;

use super::{load, ComposeSpec, OciVersion, Project};

pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    /// A workspace holding `files` (`(relative path, content)`).
    pub fn new(files: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for (path, content) in files {
            let path = dir.path().join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, content).unwrap();
        }
        Workspace { dir }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// The absolute path of `rel`, the string compose hashes to name env and extends files.
    pub fn abs(&self, rel: &str) -> String {
        self.dir
            .path()
            .canonicalize()
            .unwrap()
            .join(rel)
            .display()
            .to_string()
    }

    pub fn load(&self, files: &[&str]) -> Result<Project, super::ComposeError> {
        load(&self.root(), &spec(files))
    }
}

pub fn spec(files: &[&str]) -> ComposeSpec {
    ComposeSpec {
        files: files.iter().map(PathBuf::from).collect(),
        repository: "app-oci".into(),
        env_files: false,
        oci_version: OciVersion::Auto,
        resolve_external: true,
        allow_bind_mounts: false,
        allow_sensitive: false,
    }
}
