//! `release.secret-build-args` reach a Dockerfile build as build secrets, never as build args:
//! a build arg's value is kept in the image (buildah writes `|1 NPM_TOKEN=… /bin/sh -c …` into
//! the config's history) and sits on the builder's command line, which every local user can
//! read in `/proc/PID/cmdline`.
//!
//! Each value goes into a file of a [`PrivateDir`] (mode 0700, random name; the file 0600),
//! handed to buildah and buildx as `--secret id=NAME,src=FILE`, as BuildKit recommends. The
//! directory is removed when the [`SecretFiles`] is dropped, on error paths too. The
//! Dockerfile reads the secret in the step that needs it:
//! `RUN --mount=type=secret,id=NPM_TOKEN NPM_TOKEN="$(cat /run/secrets/NPM_TOKEN)" npm ci`
//! (or `…,env=NPM_TOKEN` with BuildKit's Dockerfile 1.10+; buildah 1.28 lacks `env=`).
//! A Dockerfile that declares `ARG NPM_TOKEN` without such a mount would silently build with an
//! empty value: [`check_dockerfile`] refuses it with the change to make.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use super::private_dir::PrivateDir;

/// The secret values of one build, in private files; removed on drop.
#[derive(Debug)]
pub struct SecretFiles {
    _dir: PrivateDir,
    files: Vec<(String, PathBuf)>,
}

impl SecretFiles {
    /// Writes every secret (`name → value`) into its own file of a new private directory.
    pub fn write(secrets: &BTreeMap<String, String>) -> Result<SecretFiles> {
        let dir = PrivateDir::new("stevedore-secrets")?;
        let mut files = Vec::new();
        for (name, value) in secrets {
            check_name(name)?;
            let path = dir.write(name, value.as_bytes())?;
            // buildah and buildx split `--secret` on commas.
            if path.to_string_lossy().contains(',') {
                bail!(crate::problem::Problem::build(
                    format!(
                        "the temp directory {} has a comma in its path, which --secret cannot take",
                        dir.path().display()
                    ),
                    "set TMPDIR to a directory without one"
                ));
            }
            files.push((name.clone(), path));
        }
        Ok(SecretFiles { _dir: dir, files })
    }

    /// `--secret id=NAME,src=FILE` for each secret: the builder's arguments (paths only).
    pub fn args(&self) -> Vec<String> {
        secret_args(&self.files)
    }
}

/// `--secret id=NAME,src=FILE` pairs for `files`.
pub fn secret_args(files: &[(String, PathBuf)]) -> Vec<String> {
    files
        .iter()
        .flat_map(|(name, path)| {
            [
                "--secret".to_string(),
                format!("id={name},src={}", path.display()),
            ]
        })
        .collect()
}

/// A secret's name is its file name and its `id=`: letters, digits, `_`, `-` and `.`.
fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !ok {
        bail!(crate::problem::Problem::config(
            format!("release.secret-build-args: {name:?} cannot be a build secret's id"),
            "use letters, digits, `_`, `-` and `.` only"
        ));
    }
    Ok(())
}

/// What a Dockerfile does with the secret names: `ARG`s it declares (with their line) and the
/// ids its `RUN --mount=type=secret` steps mount.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SecretUse {
    pub args: BTreeMap<String, usize>,
    pub mounts: BTreeSet<String>,
}

/// The Dockerfile's instructions: `(first line number, text)`, continuation lines (`\`) joined,
/// comments and blank lines dropped.
fn instructions(dockerfile: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in dockerfile.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_none()) {
            continue;
        }
        let (text, continues) = match trimmed.strip_suffix('\\') {
            Some(t) => (t, true),
            None => (trimmed, false),
        };
        let entry = current.get_or_insert_with(|| (i + 1, String::new()));
        if !entry.1.is_empty() {
            entry.1.push(' ');
        }
        entry.1.push_str(text.trim());
        if !continues {
            out.extend(current.take());
        }
    }
    out.extend(current);
    out
}

/// The `ARG` names and secret mount ids of `dockerfile`.
pub fn secret_use(dockerfile: &str) -> SecretUse {
    let mut found = SecretUse::default();
    for (line, text) in instructions(dockerfile) {
        let mut words = text.split_whitespace();
        let Some(keyword) = words.next() else {
            continue;
        };
        if keyword.eq_ignore_ascii_case("ARG") {
            for w in words {
                let name = w.split('=').next().unwrap_or(w);
                found.args.entry(name.to_string()).or_insert(line);
            }
        } else if keyword.eq_ignore_ascii_case("RUN") {
            for w in words.take_while(|w| w.starts_with("--")) {
                let Some(mount) = w.strip_prefix("--mount=") else {
                    continue;
                };
                if let Some(id) = secret_mount_id(mount) {
                    found.mounts.insert(id);
                }
            }
        }
    }
    found
}

/// The id of a `--mount=` value when it is a secret mount: `id=`, else the file name of
/// `target=` (BuildKit's default).
fn secret_mount_id(mount: &str) -> Option<String> {
    let mut kind = None;
    let mut id = None;
    let mut target = None;
    for part in mount.split(',') {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let v = v.trim_matches('"');
        match k.trim().to_ascii_lowercase().as_str() {
            "type" => kind = Some(v.to_ascii_lowercase()),
            "id" => id = Some(v.to_string()),
            "target" | "dst" | "destination" => target = Some(v.to_string()),
            _ => {}
        }
    }
    if kind.as_deref() != Some("secret") {
        return None;
    }
    id.or_else(|| {
        target.and_then(|t| {
            Path::new(&t)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
        })
    })
}

/// Checks that the Dockerfile can receive `secrets` as build secrets. An `ARG` of a secret's
/// name with no secret mount of it is an error with the change to make (it would build with an
/// empty value); an `ARG` beside a mount gets a note (the `ARG` stays empty). Returns the notes.
pub fn check_dockerfile(dockerfile: &str, path: &Path, secrets: &[&str]) -> Result<Vec<String>> {
    let used = secret_use(dockerfile);
    let mut notes = Vec::new();
    for name in secrets {
        let Some(line) = used.args.get(*name) else {
            continue;
        };
        if used.mounts.contains(*name) {
            notes.push(format!(
                "{}:{line}: ARG {name} stays empty: {name} is a secret-build-arg, given only as \
                 the build secret `{name}` (remove the ARG)",
                path.display()
            ));
            continue;
        }
        bail!(crate::problem::Problem::build(
            format!(
                "{}:{line}: `ARG {name}` declares a secret-build-arg, and stevedore passes secrets \
                 only as build secrets (a build arg's value is kept in the image's history)",
                path.display()
            ),
            format!(
                "remove `ARG {name}` and read the secret in the RUN step that needs it: \
                 `RUN --mount=type=secret,id={name} {name}=\"$(cat /run/secrets/{name})\" <command>` \
                 (with docker buildx, `RUN --mount=type=secret,id={name},env={name} <command>` too)"
            )
        ));
    }
    Ok(notes)
}

/// Refuses a Dockerfile that reads (mounts, or declares as an ARG) a secret-build-arg this
/// build has no value for: `missing` (neither the image's `build-args` nor the environment
/// give one), instead of a build that runs with an empty secret.
pub fn check_missing(dockerfile: &str, path: &Path, missing: &[&str]) -> Result<()> {
    let used = secret_use(dockerfile);
    for name in missing {
        if used.mounts.contains(*name) || used.args.contains_key(*name) {
            bail!(crate::problem::Problem::build(
                format!(
                    "{} reads the secret-build-arg {name}, which has no value",
                    path.display()
                ),
                format!(
                    "set the environment variable {name} for the build (in Actions: \
                     `env: {name}: ${{{{ secrets.{name} }}}}`), or remove {name} from \
                     release.secret-build-args"
                )
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_read_without_a_value_is_refused_naming_the_variable() {
        let path = Path::new("api/Dockerfile");
        let mounted = "FROM x\nRUN --mount=type=secret,id=NPM_TOKEN npm ci\n";
        let declared = "FROM x\nARG NPM_TOKEN\n";
        let unread = "FROM x\nRUN npm ci\n";
        for dockerfile in [mounted, declared] {
            let err = check_missing(dockerfile, path, &["NPM_TOKEN"]).unwrap_err();
            let text = format!("{err:#}");
            assert!(text.contains("api/Dockerfile"), "{text}");
            assert!(
                text.contains("set the environment variable NPM_TOKEN"),
                "{text}"
            );
        }
        assert!(check_missing(unread, path, &["NPM_TOKEN"]).is_ok());
        assert!(check_missing(mounted, path, &[]).is_ok());
    }

    #[test]
    fn secret_use_reads_args_and_secret_mounts() {
        /// (Dockerfile, ARGs with their line, secret mount ids)
        type Case<'a> = (&'a str, &'a [(&'a str, usize)], &'a [&'a str]);
        let cases: &[Case] = &[
            (
                "FROM x\nARG NPM_TOKEN\nRUN npm ci\n",
                &[("NPM_TOKEN", 2)],
                &[],
            ),
            ("ARG A=1 B\nFROM x\n", &[("A", 1), ("B", 1)], &[]),
            (
                "FROM x\nRUN --mount=type=secret,id=NPM_TOKEN cat /run/secrets/NPM_TOKEN\n",
                &[],
                &["NPM_TOKEN"],
            ),
            (
                "FROM x\nRUN --mount=type=cache,target=/c --mount=type=secret,id=T,env=T make\n",
                &[],
                &["T"],
            ),
            // The id defaults to the target's file name.
            (
                "FROM x\nRUN --mount=type=secret,target=/run/secrets/TOK make\n",
                &[],
                &["TOK"],
            ),
            // A continuation line; a comment between; lower-case keywords.
            (
                "FROM x\nrun \\\n  --mount=type=secret,id=S \\\n  make\n# ARG NOT\narg Y\n",
                &[("Y", 6)],
                &["S"],
            ),
            // A cache mount is no secret; `--mount` after the command is the command's.
            (
                "FROM x\nRUN --mount=type=cache,id=S make --mount=type=secret,id=Z\n",
                &[],
                &[],
            ),
        ];
        for (dockerfile, args, mounts) in cases {
            let got = secret_use(dockerfile);
            let want_args: BTreeMap<String, usize> =
                args.iter().map(|(n, l)| (n.to_string(), *l)).collect();
            let want_mounts: BTreeSet<String> = mounts.iter().map(|m| m.to_string()).collect();
            assert_eq!(got.args, want_args, "{dockerfile}");
            assert_eq!(got.mounts, want_mounts, "{dockerfile}");
        }
    }

    #[test]
    fn an_arg_of_a_secret_without_a_mount_is_refused_with_the_change_to_make() {
        let path = Path::new("web/Dockerfile");
        let df = "FROM x\nARG NPM_TOKEN\nRUN npm ci\n";
        let err = check_dockerfile(df, path, &["NPM_TOKEN"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("web/Dockerfile:2"), "{err}");
        assert!(err.contains("remove `ARG NPM_TOKEN`"), "{err}");
        assert!(
            err.contains("RUN --mount=type=secret,id=NPM_TOKEN"),
            "{err}"
        );
        // Another image's secret, or none: nothing to say.
        assert!(check_dockerfile(df, path, &["OTHER"]).unwrap().is_empty());
        // The mount alone is the form wanted.
        let good = "FROM x\nRUN --mount=type=secret,id=NPM_TOKEN make\n";
        assert!(check_dockerfile(good, path, &["NPM_TOKEN"])
            .unwrap()
            .is_empty());
        // An ARG beside a mount: a note that the ARG stays empty.
        let both = "FROM x\nARG NPM_TOKEN\nRUN --mount=type=secret,id=NPM_TOKEN make\n";
        let notes = check_dockerfile(both, path, &["NPM_TOKEN"]).unwrap();
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("ARG NPM_TOKEN stays empty"), "{notes:?}");
    }

    #[test]
    fn secrets_are_files_in_a_private_directory_named_by_secret_args_only() {
        let secrets = BTreeMap::from([
            ("NPM_TOKEN".to_string(), "npm_v4lue".to_string()),
            ("API_KEY".to_string(), "k3y".to_string()),
        ]);
        let files = SecretFiles::write(&secrets).unwrap();
        let args = files.args();
        let text = args.join(" ");
        assert!(
            !text.contains("npm_v4lue") && !text.contains("k3y"),
            "{text}"
        );
        assert_eq!(args.len(), 4);
        assert_eq!(args[0], "--secret");
        let src = args[1].strip_prefix("id=API_KEY,src=").unwrap();
        assert_eq!(std::fs::read_to_string(src).unwrap(), "k3y");
        use std::os::unix::fs::PermissionsExt;
        let dir = Path::new(src).parent().unwrap().to_path_buf();
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        drop(files);
        assert!(!dir.exists(), "removed on drop");
    }

    #[test]
    fn a_secret_name_that_cannot_be_an_id_is_refused() {
        for bad in ["", "A,B", "A=B", "../x", ".hidden", "a b"] {
            let secrets = BTreeMap::from([(bad.to_string(), "v".to_string())]);
            let err = SecretFiles::write(&secrets).unwrap_err().to_string();
            assert!(err.contains("release.secret-build-args"), "{bad}: {err}");
        }
    }
}
