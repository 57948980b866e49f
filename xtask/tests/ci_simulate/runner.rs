//! The simulated runner of `ci_simulate.rs`: jobs in order, `run:` steps in bash with the
//! runner's environment, `uses:` steps replaced by their local equivalents, expressions
//! evaluated (see the module documentation of `ci_simulate.rs`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use xtask::yaml_positions::{self as yaml, Node};

use super::expressions;
use super::support::{output_text, run_limited};
use super::{Event, Setup};

/// What a simulated run left: per job, per step id, the step's `GITHUB_OUTPUT` and
/// `GITHUB_STEP_SUMMARY` contents; the job directories; what `rustup`, `pipx` and `cargo
/// install` were asked; how long each step took; what the cache and attest actions were given.
#[derive(Default)]
pub struct Run {
    pub outputs: BTreeMap<(String, String), String>,
    pub summaries: BTreeMap<(String, String), String>,
    pub job_dirs: BTreeMap<String, PathBuf>,
    pub rustup: String,
    /// (job, step name) → how long the step ran.
    pub durations: BTreeMap<(String, String), Duration>,
    /// (job, whether the cache would be saved: its `save-if`).
    pub cache_saves: Vec<(String, bool)>,
    /// Every attest step: (job, subject-name, subject-digest, push-to-registry).
    pub attestations: Vec<(String, String, String, bool)>,
    pub _dir: Option<tempfile::TempDir>,
}

/// The `key=value` and `key<<DELIM … DELIM` lines of a `GITHUB_OUTPUT` file.
fn parse_outputs(text: &str) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((k, delim)) = line.split_once("<<") {
            let mut value = Vec::new();
            for l in lines.by_ref() {
                if l == delim {
                    break;
                }
                value.push(l);
            }
            out.insert(k.to_string(), Value::String(value.join("\n")));
        } else if let Some((k, v)) = line.split_once('=') {
            out.insert(k.to_string(), Value::String(v.to_string()));
        }
    }
    out
}

/// Runs every job of `workflow` (a file `ci generate` wrote) for `event`.
pub fn simulate(setup: &Setup, workflow: &str, event: &Event) -> Run {
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
            "#!/bin/sh\n# `cargo xtask ARGS`: the xtask binary under test. `cargo install`:\n\
             # recorded (no generated job may run it).\n\
             [ \"$1\" = install ] && {{ echo \"cargo $*\" >> '{log}'; exit 0; }}\n\
             [ \"$1\" = xtask ] || {{ echo \"simulated runner: only cargo xtask\" >&2; exit 127; }}\n\
             shift\nexec '{}' \"$@\"\n",
            env!("CARGO_BIN_EXE_xtask"),
            log = rustup_log.display()
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
    let secrets: serde_json::Map<String, Value> = setup
        .secrets
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let mut needs_outputs = serde_json::Map::new();
    let jobs = doc.get("jobs").expect("jobs");
    for (job_id, job) in jobs.entries() {
        let mut needs_ctx = serde_json::Map::new();
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
            needs_ctx.insert(need.clone(), needs_outputs[&need].clone());
        }
        assert!(
            job.get("if").is_none(),
            "{workflow}: job {job_id} has an `if`"
        );
        let job_dir = dir.path().join("jobs").join(job_id);
        std::fs::create_dir_all(&job_dir).unwrap();
        // A fresh runner has no image pulled: each job pulls stevedore's image again.
        if let (Some(d), Some(image)) = (&setup.dockerd, &setup.stevedore_image) {
            d.docker(&["image", "rm", "-f", image]);
        }
        let runner_temp = dir.path().join("runner-temp").join(job_id);
        std::fs::create_dir_all(&runner_temp).unwrap();
        // Each job is a runner of its own: its own docker config (logins), empty at first.
        let docker_config = dir.path().join("docker-config").join(job_id);
        std::fs::create_dir_all(&docker_config).unwrap();
        let mut path_additions: Vec<String> = Vec::new();
        let mut steps_ctx = serde_json::Map::new();
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
            let ctx = serde_json::json!({
                "github": {
                    "ref": event.git_ref,
                    "event": event.payload,
                    "actor": "octocat",
                    "repository": "acme/demo",
                },
                "secrets": secrets,
                "steps": steps_ctx,
                "needs": needs_ctx,
            });
            let started = std::time::Instant::now();
            if let Some(action) = step.get("uses").and_then(Node::as_str) {
                let with = evaluated(step.get("with").map(Node::to_json), &ctx);
                let job = JobDirs {
                    id: job_id,
                    repo: setup.ws.path(),
                    dir: &job_dir,
                    artifacts: &artifacts,
                    docker_config: &docker_config,
                };
                uses(action, &with, &job, &mut run);
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
            let github_path = runner_temp.join(format!("{step_id}.path"));
            for f in [&output, &summary, &github_path] {
                std::fs::write(f, "").unwrap();
            }
            let mut cmd = Command::new("bash");
            cmd.args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
                .current_dir(&job_dir);
            clean_env(&mut cmd);
            let path = std::env::var("PATH").unwrap_or_default();
            let mut path_parts: Vec<String> = path_additions.iter().rev().cloned().collect();
            path_parts.push(bin.display().to_string());
            path_parts.push(path);
            cmd.env("PATH", path_parts.join(":"))
                .env("DOCKER_CONFIG", &docker_config)
                .env("CI", "true")
                .env("GITHUB_ACTIONS", "true")
                .env("GITHUB_EVENT_NAME", event.name)
                .env("GITHUB_REF", &event.git_ref)
                .env("GITHUB_SHA", &sha)
                .env("GITHUB_EVENT_PATH", &event_file)
                .env("GITHUB_OUTPUT", &output)
                .env("GITHUB_STEP_SUMMARY", &summary)
                .env("GITHUB_PATH", &github_path)
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
            match &setup.dockerd {
                Some(d) => cmd.env("DOCKER_HOST", d.host()),
                None => cmd.env("DOCKER_HOST", "unix:///nonexistent/docker.sock"),
            };
            for (k, e) in &event.extra {
                cmd.env(k, e);
            }
            for (k, v) in step.get("env").map(Node::entries).unwrap_or_default() {
                let mut value = expressions::interpolate(v.as_str().unwrap_or_default(), &ctx);
                if k == xtask::ci::pin::IMAGE_VAR {
                    // The image the product pins, replaced by the same image in the local
                    // registry: only the reference changes, the script is the generated one.
                    assert_eq!(
                        value,
                        xtask::ci::pin::pin().reference(),
                        "{workflow}: {name}"
                    );
                    value = setup
                        .stevedore_image
                        .clone()
                        .unwrap_or_else(|| panic!("{workflow}: {name}: no local stevedore image"));
                }
                cmd.env(k, value);
            }
            let out = run_limited(cmd, Duration::from_secs(300));
            assert!(
                out.status.success(),
                "{workflow}: job {job_id}, step {name:?} failed:\n{}",
                output_text(&out)
            );
            run.durations
                .insert((job_id.to_string(), name.to_string()), started.elapsed());
            for line in std::fs::read_to_string(&github_path).unwrap().lines() {
                path_additions.push(line.to_string());
            }
            let step_output = std::fs::read_to_string(&output).unwrap();
            steps_ctx.insert(
                step_id.clone(),
                serde_json::json!({ "outputs": parse_outputs(&step_output) }),
            );
            let key = (job_id.to_string(), step_id);
            run.outputs.insert(key.clone(), step_output);
            run.summaries
                .insert(key, std::fs::read_to_string(&summary).unwrap());
        }
        let ctx = serde_json::json!({ "steps": steps_ctx });
        let outputs: serde_json::Map<String, Value> = job
            .get("outputs")
            .map(Node::entries)
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| {
                let value = expressions::interpolate(v.as_str().unwrap_or_default(), &ctx);
                (k.to_string(), Value::String(value))
            })
            .collect();
        needs_outputs.insert(
            job_id.to_string(),
            serde_json::json!({ "outputs": outputs }),
        );
        run.job_dirs.insert(job_id.to_string(), job_dir);
    }
    run.rustup = std::fs::read_to_string(&rustup_log).unwrap_or_default();
    run._dir = Some(dir);
    run
}

/// `with:` with its expressions evaluated.
fn evaluated(with: Option<Value>, ctx: &Value) -> Value {
    match with {
        Some(Value::Object(map)) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) => Value::String(expressions::interpolate(&s, ctx)),
                        other => other,
                    };
                    (k, v)
                })
                .collect(),
        ),
        _ => Value::Null,
    }
}

/// Where a job's action runs: the repository it checks out, its directory, the artifact
/// store and its docker config.
struct JobDirs<'a> {
    id: &'a str,
    repo: &'a Path,
    dir: &'a Path,
    artifacts: &'a Path,
    docker_config: &'a Path,
}

/// A step's third-party action, replaced by its local equivalent.
fn uses(action: &str, with: &Value, job: &JobDirs, run: &mut Run) {
    let (name, pin) = action.split_once('@').expect("pinned action");
    assert_eq!(pin.len(), 40, "{action} is not pinned by a commit SHA");
    let (job_dir, artifacts) = (job.dir, job.artifacts);
    match name {
        // A fresh clone: the full history and every tag (fetch-depth 0), no credentials kept.
        "actions/checkout" => {
            assert_eq!(
                with["fetch-depth"], 0,
                "checkout needs the history and tags"
            );
            assert_eq!(with["persist-credentials"], false);
            std::fs::remove_dir(job_dir).unwrap();
            let out = Command::new("git")
                .args(["clone", "-q"])
                .arg(job.repo)
                .arg(job_dir)
                .output()
                .unwrap();
            assert!(out.status.success(), "git clone: {out:?}");
        }
        // Cargo's own target directory is the cache here: what counts is whether it would save.
        "Swatinem/rust-cache" => {
            let save = match &with["save-if"] {
                Value::Null => true,
                v => expressions::to_text(v) == "true",
            };
            run.cache_saves.push((job.id.to_string(), save));
        }
        // The fixture has no Dockerfile image.
        "docker/setup-buildx-action" | "docker/setup-qemu-action" => {}
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
        // Signing needs GitHub's OIDC token and Fulcio: what the action was given is recorded,
        // and docker must hold credentials for the registry it pushes the bundle to.
        "actions/attest-build-provenance" => {
            let subject = with["subject-name"].as_str().unwrap().to_string();
            let digest = with["subject-digest"].as_str().unwrap().to_string();
            let push = with["push-to-registry"] == true;
            if push {
                let host = subject.split('/').next().unwrap();
                let config: Value = serde_json::from_slice(
                    &std::fs::read(job.docker_config.join("config.json")).unwrap_or_else(|e| {
                        panic!("attest {subject}: docker has no credentials (no config.json: {e})")
                    }),
                )
                .unwrap();
                assert!(
                    config["auths"][host]["auth"].is_string(),
                    "attest {subject}: docker has no credentials for {host}: {config}"
                );
            }
            run.attestations
                .push((job.id.to_string(), subject, digest, push));
        }
        other => panic!("{other}: no local equivalent in this simulation"),
    }
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
