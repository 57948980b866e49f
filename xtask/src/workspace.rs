//! The workspace a command runs in: its root, its config, its git facts and the plan.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use crate::config::Config;
use crate::facts::git::{self, GitFacts};
use crate::facts::github::{self, Actions};
use crate::facts::Source;
use crate::plan::context::{Event, GitRef, RefContext};
use crate::plan::version::version_of_tag;
use crate::plan::{Inputs, Plan};

pub struct Workspace {
    pub root: PathBuf,
    pub config: Config,
    pub facts: GitFacts,
    pub source: Source,
    pub plan: Plan,
    /// What went less well than it could and did not stop the plan, for the face to print.
    pub warnings: Vec<String>,
    /// Untracked files no ignore rule covers that some image (or compose artifact) is built
    /// from, relative to the root: they make the tree dirty (they are in
    /// `plan.git.changed_files` too).
    pub untracked_inputs: Vec<String>,
}

/// The directories under the workspace root stevedore writes to or deletes (`build`,
/// `release`, `clean`…). Each must be a real directory inside the workspace when it exists.
pub const STATE_DIRS: &[&str] = &[
    "target",
    "target/stevedore",
    "target/stevedore/oci",
    "target/stevedore/oci/blobs",
    "target/stevedore/oci/blobs/sha256",
    "target/stevedore/base",
    "target/stevedore/cache",
    "target/stevedore/cache/layers",
    "target/stevedore/cargo",
    "target/stevedore/tmp",
    "target/stevedore/buildx-cache",
    "target/stevedore/digests",
];

/// Refuses a state directory ([`STATE_DIRS`]) that is a symbolic link, is not a directory, or
/// resolves outside the workspace: a committed `target/stevedore -> /` would have `clean`
/// delete `/tmp` and `build` write through the link. Checked before anything is written or
/// deleted.
pub fn check_state_dirs(root: &Path) -> Result<()> {
    let real_root = root
        .canonicalize()
        .with_context(|| format!("cannot resolve the workspace root {}", root.display()))?;
    for rel in STATE_DIRS {
        let path = root.join(rel);
        let meta = match path.symlink_metadata() {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => anyhow::bail!("cannot read {rel} in the workspace: {e}"),
        };
        if meta.file_type().is_symlink() {
            let to = std::fs::read_link(&path)
                .map(|t| t.display().to_string())
                .unwrap_or_else(|_| "?".into());
            anyhow::bail!(
                "{rel} is a symbolic link (to {to}): stevedore writes and deletes its state \
                 there and never follows a link out of it. Remove the link (`rm {rel}`, and \
                 `git rm --cached {rel}` when it is committed) and run again: stevedore makes \
                 the directory"
            );
        }
        if !meta.is_dir() {
            anyhow::bail!(
                "{rel} is not a directory: stevedore keeps its state there. Move it away and \
                 run again"
            );
        }
        let real = path
            .canonicalize()
            .with_context(|| format!("cannot resolve {rel}"))?;
        if !real.starts_with(&real_root) {
            anyhow::bail!(
                "{rel} resolves to {}, outside the workspace {}: stevedore writes and deletes \
                 its state there. Remove what redirects it and run again",
                real.display(),
                real_root.display()
            );
        }
    }
    Ok(())
}

/// The untracked files (`untracked`, relative to the root) some image or compose artifact is
/// built from: those under a `files` source (each platform's), a Dockerfile or its context, an
/// `oci:` base layout, a compose file or the config itself. Under a `cargo-bin` or
/// `native.command` image every file counts (cargo and a command may read any file of the
/// workspace), less the command's outputs (its `files` sources) and cargo's `target`
/// directory. stevedore's own state (`target/stevedore`: the layout, caches) never counts.
pub fn untracked_inputs(config: &Config, untracked: &[String]) -> Vec<String> {
    if untracked.is_empty() {
        return Vec::new();
    }
    let mut inputs: Vec<String> = vec![normal(&config.path)];
    let mut outputs: Vec<String> = vec!["target".into()];
    let mut everything = false;
    for (name, img) in &config.images {
        if let Some(df) = &img.dockerfile {
            inputs.push(normal(df));
            let ctx = img
                .context
                .clone()
                .unwrap_or_else(|| df.parent().map(Path::to_path_buf).unwrap_or_default());
            inputs.push(normal(&ctx));
        }
        let Some(native) = &img.native else { continue };
        let made = native.command.is_some();
        everything |= made || native.cargo_bin.is_some();
        for f in &native.files {
            for p in config.platforms_of(name) {
                let src = normal(Path::new(&p.expand(&f.src)));
                if made {
                    outputs.push(src);
                } else {
                    inputs.push(src);
                }
            }
        }
        if let Some(rest) = img
            .base
            .as_deref()
            .and_then(|b| b.trim().strip_prefix("oci:"))
        {
            let path = crate::config::checks::oci_base_path(rest, &config.root);
            inputs.push(normal(Path::new(path)));
        }
    }
    for c in &config.compose {
        inputs.extend(c.files.iter().map(|f| normal(f)));
    }
    let under = |file: &str, dir: &str| {
        dir.is_empty()
            || file == dir
            || file
                .strip_prefix(dir)
                .is_some_and(|rest| rest.starts_with('/'))
    };
    untracked
        .iter()
        .filter(|f| !under(f, "target/stevedore"))
        .filter(|f| {
            if everything && !outputs.iter().any(|o| under(f, o)) {
                return true;
            }
            inputs.iter().any(|i| under(f, i))
        })
        .cloned()
        .collect()
}

/// A relative path as `a/b/c`: `.` parts dropped, `..` applied, no trailing `/` (`""` for the
/// root).
fn normal(p: &Path) -> String {
    use std::path::Component;
    let mut parts: Vec<String> = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => parts.push(n.to_string_lossy().into_owned()),
            Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    parts.join("/")
}

impl Workspace {
    /// Loads config, git facts and CI context, and computes the plan. `root` is the workspace
    /// root, `config_path` the release config.
    pub fn load(root: &Path, config_path: &Path) -> Result<Workspace> {
        let root = root.to_path_buf();
        let config = Config::load(&root, config_path)?;
        check_state_dirs(&root)?;
        let mut warnings = Vec::new();
        let mut facts = git::facts(&root)?;
        let env = |k: &str| std::env::var(k).ok();
        if github::in_github_actions(&env) && facts.shallow {
            // actions/checkout fetches no tags by default; floating tags need them all.
            match git::remote_tags(&root) {
                Ok(tags) => {
                    facts.tags.extend(tags);
                    facts.tags.sort();
                    facts.tags.dedup();
                }
                Err(e) => warnings.push(format!(
                    "shallow checkout and {e}: floating tags (latest, major, minor) are computed from the local tags only; use actions/checkout with fetch-depth: 0"
                )),
            }
        }
        let now = std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64)
            });
        let (ctx, source) = ref_context(
            &facts,
            &config.release.default_branch,
            now,
            &env,
            &|p| std::fs::read_to_string(p),
            &|sha| git::commit_time_of(&root, sha),
        )?;
        // git's describe and dirty state speak of HEAD: they apply when HEAD is the commit
        // released (always locally; in Actions unless HEAD is a pull request's merge commit).
        let head_released = ctx.sha == facts.sha;
        let pull_request = matches!(
            ctx.git_ref,
            crate::plan::context::GitRef::PullRequest { .. }
        );
        if !head_released && !pull_request {
            anyhow::bail!(
                "GITHUB_SHA is {}, but the checkout's HEAD is {}: the tags would name a commit \
                 that was not built. Check out the commit the workflow runs for \
                 (actions/checkout with ref: ${{{{ github.sha }}}}), or unset GITHUB_SHA",
                ctx.sha,
                facts.sha
            );
        }
        // An untracked file an image is built from is an uncommitted change too: the image
        // would hold it while its provenance names the commit.
        let untracked_inputs = if head_released {
            untracked_inputs(&config, &facts.untracked_files)
        } else {
            Vec::new()
        };
        let inputs = Inputs {
            ctx,
            dirty: head_released && (facts.dirty || !untracked_inputs.is_empty()),
            changed_files: if head_released {
                let mut files = facts.changed_files.clone();
                files.extend(untracked_inputs.iter().cloned());
                files
            } else {
                Vec::new()
            },
            describe: facts.describe.clone().filter(|_| head_released),
            source: github::source_url(&env).or_else(|| facts.source_url.clone()),
            secrets: config
                .release
                .secret_build_args
                .iter()
                .filter_map(|k| Some((k.clone(), env(k).filter(|v| !v.is_empty())?)))
                .collect(),
        };
        let plan = Plan::new(&config, &inputs)
            .map_err(|e| anyhow::anyhow!("{}: {e}", config.path.display()))?;
        Ok(Workspace {
            root,
            config,
            facts,
            source,
            plan,
            warnings,
            untracked_inputs,
        })
    }

    /// A path relative to the workspace root.
    pub fn path(&self, p: &Path) -> PathBuf {
        self.root.join(p)
    }
}

/// Resolves the ref context: from the GitHub Actions variables and event payload inside a job,
/// else from git.
///
/// `env` reads environment variables, `read_file` reads the event payload, and
/// `commit_time_of` looks up a commit's time in git (for a pull request's head commit).
pub fn ref_context(
    facts: &GitFacts,
    default_branch: &str,
    now: i64,
    env: &dyn Fn(&str) -> Option<String>,
    read_file: &dyn Fn(&str) -> std::io::Result<String>,
    commit_time_of: &dyn Fn(&str) -> Option<i64>,
) -> Result<(RefContext, Source)> {
    if !github::in_github_actions(env) {
        return Ok((local_context(facts, default_branch, now), Source::Git));
    }
    let Actions {
        event_name,
        git_ref,
        mut sha,
        payload,
        head_ref,
        base_ref,
        push_base_ref,
    } = github::read(env, read_file)?;
    let default_branch = payload["repository"]["default_branch"]
        .as_str()
        .unwrap_or(default_branch)
        .to_string();

    let parsed = if let Some(name) = git_ref.strip_prefix("refs/heads/") {
        GitRef::Branch { name: name.into() }
    } else if let Some(name) = git_ref.strip_prefix("refs/tags/") {
        GitRef::Tag { name: name.into() }
    } else if let Some(rest) = git_ref.strip_prefix("refs/pull/") {
        let number = rest
            .split('/')
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .or_else(|| payload["pull_request"]["number"].as_u64())
            .with_context(|| format!("GITHUB_REF={git_ref}: no pull request number in it"))?;
        let head_ref = head_ref
            .or_else(|| {
                payload["pull_request"]["head"]["ref"]
                    .as_str()
                    .map(String::from)
            })
            .unwrap_or_default();
        let base_ref = base_ref
            .or_else(|| {
                payload["pull_request"]["base"]["ref"]
                    .as_str()
                    .map(String::from)
            })
            .unwrap_or_default();
        // The job's GITHUB_SHA is the merge commit; tags name the head commit.
        if let Some(head) = payload["pull_request"]["head"]["sha"].as_str() {
            sha = head.to_string();
        }
        GitRef::PullRequest {
            number,
            head_ref,
            base_ref,
        }
    } else {
        anyhow::bail!("GITHUB_REF={git_ref} is neither a branch, a tag nor a pull request ref");
    };
    let commit_time = if sha == facts.sha {
        facts.commit_time
    } else {
        commit_time_of(&sha).unwrap_or(facts.commit_time)
    };
    Ok((
        RefContext {
            event: Event::from_github(&event_name),
            git_ref: parsed,
            sha,
            commit_time,
            now,
            default_branch,
            repo_tags: facts.tags.clone(),
            base_ref: push_base_ref,
        },
        Source::GithubActions,
    ))
}

/// The context of a local checkout: a version tag on HEAD makes it a tag build (as the tag push
/// would in CI), else the checked-out branch, else a detached HEAD.
pub fn local_context(facts: &GitFacts, default_branch: &str, now: i64) -> RefContext {
    let version_tag = facts
        .tags_at_head
        .iter()
        .filter_map(|t| version_of_tag(t).map(|v| (v, t)))
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, t)| t.clone())
        // A PEP 440 release (`1.2`, `1.2.3rc2`) is a version tag too, as in Actions, where
        // its push is a tag event whatever branch holds the commit.
        .or_else(|| {
            facts
                .tags_at_head
                .iter()
                .find(|t| crate::plan::version::pep440_of_tag(t).is_some())
                .cloned()
        });
    let git_ref = match (version_tag, &facts.branch, facts.tags_at_head.first()) {
        (Some(tag), _, _) => GitRef::Tag { name: tag },
        (None, Some(branch), _) => GitRef::Branch {
            name: branch.clone(),
        },
        (None, None, Some(tag)) => GitRef::Tag { name: tag.clone() },
        (None, None, None) => GitRef::Detached,
    };
    RefContext {
        event: Event::Push,
        git_ref,
        sha: facts.sha.clone(),
        commit_time: facts.commit_time,
        now,
        default_branch: default_branch.to_string(),
        repo_tags: facts.tags.clone(),
        base_ref: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn facts() -> GitFacts {
        GitFacts {
            sha: "a".repeat(40),
            branch: Some("main".into()),
            tags_at_head: vec![],
            commit_time: 1_700_000_000,
            tags: vec!["v1.0.0".into()],
            ..Default::default()
        }
    }

    fn resolve(
        facts: &GitFacts,
        vars: &[(&str, &str)],
        payload: &str,
    ) -> Result<(RefContext, Source)> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let payload = payload.to_string();
        ref_context(
            facts,
            "main",
            0,
            &|k| vars.get(k).cloned(),
            &|_| Ok(payload.clone()),
            &|_| Some(42),
        )
    }

    #[test]
    fn local_tag_on_head_wins_over_branch() {
        let mut f = facts();
        f.tags_at_head = vec!["v1.2.3".into(), "v1.2.3-rc.1".into(), "other".into()];
        let (ctx, src) = resolve(&f, &[], "").unwrap();
        assert_eq!(src, Source::Git);
        assert_eq!(
            ctx.git_ref,
            GitRef::Tag {
                name: "v1.2.3".into()
            }
        );
        f.tags_at_head.clear();
        let (ctx, _) = resolve(&f, &[], "").unwrap();
        assert_eq!(
            ctx.git_ref,
            GitRef::Branch {
                name: "main".into()
            }
        );
        f.branch = None;
        assert_eq!(resolve(&f, &[], "").unwrap().0.git_ref, GitRef::Detached);
    }

    #[test]
    fn a_pep440_tag_on_head_wins_over_the_branch_as_in_actions() {
        let mut f = facts();
        for tag in ["1.2", "1.2.3rc2", "v1.2post1"] {
            f.tags_at_head = vec!["other".into(), tag.into()];
            let (ctx, _) = resolve(&f, &[], "").unwrap();
            assert_eq!(ctx.git_ref, GitRef::Tag { name: tag.into() }, "{tag}");
        }
        // Semver first: `v1.2.3` is the version when both are on HEAD.
        f.tags_at_head = vec!["1.2".into(), "v1.2.3".into()];
        let (ctx, _) = resolve(&f, &[], "").unwrap();
        assert_eq!(
            ctx.git_ref,
            GitRef::Tag {
                name: "v1.2.3".into()
            }
        );
    }

    #[test]
    fn github_tag_push_matches_local() {
        let mut f = facts();
        f.tags_at_head = vec!["v1.2.3".into()];
        let (local, _) = resolve(&f, &[], "").unwrap();
        let mut shallow = f.clone();
        shallow.branch = None;
        let (gh, src) = resolve(
            &shallow,
            &[
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_EVENT_NAME", "push"),
                ("GITHUB_REF", "refs/tags/v1.2.3"),
                ("GITHUB_SHA", &"a".repeat(40)),
            ],
            "",
        )
        .unwrap();
        assert_eq!(src, Source::GithubActions);
        assert_eq!(gh, local);
    }

    #[test]
    fn pull_request_uses_head_commit_and_branch() {
        let payload = r#"{"pull_request":{"number":7,"head":{"sha":"bbbb","ref":"feat/x"},"base":{"ref":"main"}},
                          "repository":{"default_branch":"trunk"}}"#;
        let (ctx, _) = resolve(
            &facts(),
            &[
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_EVENT_NAME", "pull_request"),
                ("GITHUB_REF", "refs/pull/7/merge"),
                ("GITHUB_SHA", "cccc"),
                ("GITHUB_EVENT_PATH", "/event.json"),
            ],
            payload,
        )
        .unwrap();
        assert_eq!(ctx.sha, "bbbb");
        assert_eq!(ctx.commit_time, 42);
        assert_eq!(ctx.default_branch, "trunk");
        assert_eq!(ctx.event, Event::PullRequest);
        assert_eq!(ctx.branch(), Some("feat/x"));
        assert_eq!(
            ctx.git_ref,
            GitRef::PullRequest {
                number: 7,
                head_ref: "feat/x".into(),
                base_ref: "main".into()
            }
        );
    }

    fn config_of(images: &str) -> (tempfile::TempDir, Config) {
        let d = tempfile::tempdir().unwrap();
        for f in [
            "api/Dockerfile",
            "site/index.html",
            "compose.yaml",
            "target/debug/svc",
        ] {
            let p = d.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "x").unwrap();
        }
        let text = format!(
            "[release]\nname = \"demo\"\nplatforms = [\"linux/amd64\", \"linux/arm64\"]\n{images}"
        );
        let c = Config::parse(d.path(), Path::new("images/release.toml"), &text).unwrap();
        (d, c)
    }

    #[test]
    fn untracked_files_count_when_an_image_is_built_from_them() {
        let untracked: Vec<String> = [
            "api/new.py",
            "api-other/x",
            "site/evil.js",
            "site/deep/x",
            "sitemap.xml",
            "dist/amd64/app",
            "dist/arm64/app",
            "dist/arm/app",
            "docs/notes.md",
            "images/release.toml",
            "compose.yaml",
            "target/debug/svc",
            "target/stevedore/oci/index.json",
        ]
        .map(String::from)
        .to_vec();
        let cases: &[(&str, &[&str])] = &[
            (
                "[images.api]\ndockerfile = \"api/Dockerfile\"",
                &["api/new.py", "images/release.toml"],
            ),
            (
                "[images.web]\nnative = { files = [{ src = \"./site/\", dst = \"/srv/\" }] }",
                &["site/evil.js", "site/deep/x", "images/release.toml"],
            ),
            (
                "[images.app]\nnative = { files = [{ src = \"dist/{arch}/app\", dst = \"/app\" }] }",
                &["dist/amd64/app", "dist/arm64/app", "images/release.toml"],
            ),
            (
                "[images.app]\nnative = { command = [\"make\"], files = [{ src = \"dist/{arch}/app\", dst = \"/app\" }] }",
                &[
                    "api/new.py",
                    "api-other/x",
                    "site/evil.js",
                    "site/deep/x",
                    "sitemap.xml",
                    "dist/arm/app",
                    "docs/notes.md",
                    "images/release.toml",
                    "compose.yaml",
                ],
            ),
            (
                "[images.web]\nnative = { files = [{ src = \"site/index.html\", dst = \"/i\" }] }\n\
                 [compose]\nfiles = [\"compose.yaml\"]\nrepository = \"demo-oci\"",
                &["images/release.toml", "compose.yaml"],
            ),
        ];
        for (images, want) in cases {
            let (_d, c) = config_of(images);
            assert_eq!(untracked_inputs(&c, &untracked), *want, "{images}");
        }
        let (_d, c) = config_of("[images.svc]\nnative = { cargo-bin = \"svc\" }");
        assert_eq!(
            untracked_inputs(&c, &untracked),
            untracked[..11],
            "cargo reads any file but its own output and stevedore's state"
        );
        let (_d, c) = config_of(
            "[images.top]\nnative = { files = [{ src = \"site/\", dst = \"/s/\" }] }\n\
             base = \"oci:target/stevedore/oci:base:1.2.3\"\n\
             [images.bin]\nnative = { files = [{ src = \"target/debug/svc\", dst = \"/svc\" }] }",
        );
        assert_eq!(
            untracked_inputs(&c, &untracked),
            [
                "site/evil.js",
                "site/deep/x",
                "images/release.toml",
                "target/debug/svc"
            ],
            "a base in stevedore's own layout is not an untracked input; a file under target is"
        );
        assert!(untracked_inputs(&c, &[]).is_empty());
    }

    #[test]
    fn state_directories_must_be_real_directories_inside_the_workspace() {
        let ws = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        check_state_dirs(ws.path()).unwrap();
        std::fs::create_dir_all(ws.path().join("target/stevedore/oci")).unwrap();
        check_state_dirs(ws.path()).unwrap();
        for rel in [
            "target/stevedore/tmp",
            "target/stevedore/oci/blobs",
            "target/stevedore/cargo",
        ] {
            std::os::unix::fs::symlink(outside.path(), ws.path().join(rel)).unwrap();
            let e = check_state_dirs(ws.path()).unwrap_err().to_string();
            assert!(e.contains(&format!("{rel} is a symbolic link")), "{e}");
            std::fs::remove_file(ws.path().join(rel)).unwrap();
        }
        // A link inside the workspace is refused too: stevedore never writes through one.
        std::fs::create_dir_all(ws.path().join("elsewhere")).unwrap();
        std::os::unix::fs::symlink("../../elsewhere", ws.path().join("target/stevedore/base"))
            .unwrap();
        let e = check_state_dirs(ws.path()).unwrap_err().to_string();
        assert!(
            e.contains("target/stevedore/base is a symbolic link"),
            "{e}"
        );
        std::fs::remove_file(ws.path().join("target/stevedore/base")).unwrap();
        std::fs::write(ws.path().join("target/stevedore/cache"), "file").unwrap();
        let e = check_state_dirs(ws.path()).unwrap_err().to_string();
        assert!(
            e.contains("target/stevedore/cache is not a directory"),
            "{e}"
        );
    }

    #[test]
    fn missing_github_variables_are_named() {
        let err = resolve(&facts(), &[("GITHUB_ACTIONS", "true")], "")
            .unwrap_err()
            .to_string();
        assert!(err.contains("GITHUB_EVENT_NAME"), "{err}");
        let err = resolve(
            &facts(),
            &[
                ("GITHUB_ACTIONS", "true"),
                ("GITHUB_EVENT_NAME", "push"),
                ("GITHUB_REF", "refs/remotes/x"),
                ("GITHUB_SHA", "x"),
            ],
            "",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("refs/remotes/x"), "{err}");
    }
}
