//! A private temporary directory for files that hold secrets (build secrets, a builder's
//! registry credentials): a random name under the temp dir, created (never reused) with mode
//! 0700, its files created with mode 0600, and everything removed when it is dropped, on
//! error paths too.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use ring::rand::{SecureRandom, SystemRandom};

/// Names tried before giving up (a clash of 128-bit random names means something is wrong).
const ATTEMPTS: usize = 8;

/// A directory only this user can enter, removed on drop.
#[derive(Debug)]
pub struct PrivateDir {
    path: PathBuf,
}

impl PrivateDir {
    /// Creates `<temp dir>/<prefix>-<32 random hex digits>`. The name is new: an existing
    /// directory or symlink of that name is never used.
    pub fn new(prefix: &str) -> Result<PrivateDir> {
        Self::new_in(&std::env::temp_dir(), prefix)
    }

    /// [`PrivateDir::new`] under `base`.
    pub fn new_in(base: &Path, prefix: &str) -> Result<PrivateDir> {
        let rng = SystemRandom::new();
        for _ in 0..ATTEMPTS {
            let mut random = [0u8; 16];
            rng.fill(&mut random)
                .map_err(|_| anyhow::anyhow!("the system random number generator failed"))?;
            let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
            let path = base.join(format!("{prefix}-{hex}"));
            match fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!(
                            "cannot create a private directory in {} (set TMPDIR to a writable directory)",
                            base.display()
                        )
                    })
                }
            }
            let dir = PrivateDir { path };
            // The umask can only take bits away; make sure nobody else may enter.
            let meta = fs::symlink_metadata(&dir.path)?;
            if !meta.is_dir() || meta.permissions().mode() & 0o077 != 0 {
                bail!("{} is not a private directory", dir.path.display());
            }
            return Ok(dir);
        }
        bail!(
            "cannot create a private directory in {}: {ATTEMPTS} random names were taken",
            base.display()
        )
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `bytes` to a new file `name` (mode 0600) in the directory; returns its path.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<PathBuf> {
        let path = self.path.join(name);
        write_private(&path, bytes)?;
        Ok(path)
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Creates `path` (it must not exist) with mode 0600 and writes `bytes`.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_directory_is_private_random_and_removed_on_drop() {
        let base = std::env::temp_dir();
        let a = PrivateDir::new_in(&base, "stevedore-test").unwrap();
        let b = PrivateDir::new_in(&base, "stevedore-test").unwrap();
        assert_ne!(a.path(), b.path());
        let name = a.path().file_name().unwrap().to_string_lossy().into_owned();
        let hex = name.strip_prefix("stevedore-test-").unwrap();
        assert_eq!(hex.len(), 32, "{name}");
        assert_eq!(
            fs::metadata(a.path()).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let file = a.write("TOKEN", b"value").unwrap();
        assert_eq!(
            fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(fs::read(&file).unwrap(), b"value");
        // A second write of the same name does not overwrite (create_new).
        assert!(a.write("TOKEN", b"other").is_err());
        let dir = a.path().to_path_buf();
        drop(a);
        assert!(!dir.exists());
    }

    #[test]
    fn an_unwritable_base_is_an_error_naming_it() {
        let err = PrivateDir::new_in(Path::new("/nonexistent/stevedore"), "x").unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("/nonexistent/stevedore"), "{text}");
        assert!(text.contains("TMPDIR"), "{text}");
    }
}
