//! Command-line definitions (clap). Exit codes: 0 ok, 1 failure, 2 usage error.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// stevedore's version: `VERSION` when it was built by a release (the native builder sets it
/// from git), else the crate version.
pub const VERSION: &str = match option_env!("VERSION") {
    Some(v) => v,
    None => env!("CARGO_PKG_VERSION"),
};

#[derive(Debug, Parser)]
#[command(
    name = "stevedore",
    bin_name = "cargo xtask",
    version = VERSION,
    about = "stevedore: build and release multi-service container images",
    long_about = "stevedore: build every image for every platform into an OCI layout, attest it, \
                  push to every registry, and publish the compose file, from one command that runs the same on a \
                  laptop and in CI."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// Run as if started in DIR (a workspace root holding images/release.toml).
    #[arg(short = 'C', global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The release config (default: images/release.toml under the workspace root).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// More detail in logs.
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the version being released (`1.2.3` on tag `v1.2.3`, a describe-style dev version otherwise).
    Version,
    /// Print the tags and the full image references this commit would publish.
    Tags(JsonFlag),
    /// Print the whole release plan: images, platforms, builders, build args, labels, references.
    Plan(JsonFlag),
    /// Build every image for every platform into the local OCI image layout.
    Build(BuildArgs),
    /// Run the whole release: plan, build, attest, compose, publish (with --dry-run: everything but the registry writes).
    Release(ReleaseArgs),
    /// Write the compose artifacts into the OCI layout (images pinned to the layout's digests)
    /// and print their manifests; nothing is pushed. The images must be built first.
    Compose(ComposeArgs),
    /// Find an image's attestations (referrers API, the `sha256-<hex>` fallback tag, or
    /// attestation manifests in its index) and check them: blob digests, subject, signature,
    /// predicate type, source repository. Exits 0 only when all of it holds.
    Verify(VerifyArgs),
    /// Remove stevedore's caches for this workspace: buildah's storage and layer cache (kept
    /// outside the workspace), the layer and buildx caches and temp files under
    /// target/stevedore; with --all the OCI layout too.
    Clean(CleanArgs),
    /// Check this machine and config before a release: the git state, a builder (and toolchain)
    /// for every image × platform, and per registry where the credentials come from and
    /// whether a push is granted. Each problem comes with its fix; exit 0 only when a real
    /// release would pass its preflight.
    Doctor,
    /// Publish the images of the OCI layout to every registry; tags move only when every image
    /// reached every registry.
    Push(PushArgs),
    /// Assemble multi-platform indexes from `push --by-digest` digest files, attest them and
    /// publish the compose artifacts as `release` does (from what each job recorded in its
    /// digest file: manifests, builder, times, syft SBOMs), then move every tag.
    Merge(MergeArgs),
    /// Per registry: where the credentials come from and whether a push would be allowed.
    ///
    /// Credentials are looked up in this order: `STEVEDORE_AUTH_<HOST>=user:secret` (the
    /// registry host upper-cased, `.` and the `:` before a port as `_`, `-` as `__`:
    /// STEVEDORE_AUTH_GHCR_IO, STEVEDORE_AUTH_LOCALHOST_5000, STEVEDORE_AUTH_MY__REGISTRY_COM for
    /// my-registry.com; read only for the host it spells); in GitHub Actions GITHUB_TOKEN
    /// (user GITHUB_ACTOR) for ghcr.io; docker's config.json ($DOCKER_CONFIG or ~/.docker:
    /// credHelpers, auths, credsStore); else anonymous. No secret is ever printed.
    LoginCheck,
    /// GitHub Actions workflows generated from the config's platforms and registries.
    Ci(CiArgs),
    /// Write images/release.toml from what the repository already has: Dockerfiles,
    /// docker-bake.hcl targets, compose files' `build:` sections, and the
    /// docker/metadata-action (`images`, `tags`, `flavor`) and docker/build-push-action
    /// (`platforms`) steps of .github/workflows. Prints what it mapped, and what it could not
    /// and why. The config written passes stevedore's validation.
    Init(InitArgs),
}

#[derive(Debug, Args, Clone)]
pub struct PushArgs {
    /// The OCI image layout to publish from.
    #[arg(long, value_name = "DIR", default_value = "target/stevedore/oci")]
    pub layout: PathBuf,
    /// Push blobs and platform manifests only (no tags) and write a digest file for `merge`,
    /// with what provenance and the SBOMs need (the job record; syft runs here when the
    /// single-job release would run it).
    #[arg(long)]
    pub by_digest: bool,
    /// Where `--by-digest` writes its digest file.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "target/stevedore/digests.json"
    )]
    pub digest_file: PathBuf,
    #[command(flatten)]
    pub publish: PublishFlags,
}

#[derive(Debug, Args, Clone)]
pub struct MergeArgs {
    /// Digest files written by `push --by-digest` (one per platform job).
    #[arg(value_name = "DIGEST_FILE", required = true)]
    pub digest_files: Vec<PathBuf>,
    /// Publish an index that lacks some configured platforms (by default every configured
    /// platform of every image must be in the digest files, or nothing moves).
    #[arg(long)]
    pub allow_partial: bool,
    /// Publish the compose artifacts despite the findings compose would ask about (as
    /// `release --yes`).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Sign the attestations with this PEM PKCS#8 ECDSA P-256 private key (default: the key
    /// in STEVEDORE_SIGNING_KEY, if set), as `release` does.
    #[arg(long, value_name = "FILE")]
    pub signing_key: Option<PathBuf>,
    #[command(flatten)]
    pub publish: PublishFlags,
}

#[derive(Debug, Args, Clone)]
pub struct PublishFlags {
    /// Write what was pushed (per image: index digest, platform digests, references) as JSON.
    #[arg(long, value_name = "FILE")]
    pub metadata_file: Option<PathBuf>,
    /// Concurrent requests per registry (default: release.concurrency).
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Publish from a tree with uncommitted changes (its version says `-dirty` and it takes
    /// no other tag).
    #[arg(long)]
    pub allow_dirty: bool,
    /// Move floating tags (latest, branch, major, minor) even when the registry's tag holds a
    /// newer commit or one this repository does not know.
    #[arg(long)]
    pub force_tags: bool,
}

#[derive(Debug, Args)]
pub struct JsonFlag {
    /// Print JSON (a stable shape, documented in README.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args, Clone)]
pub struct BuildArgs {
    /// The OCI image layout to build into.
    #[arg(long, value_name = "DIR", default_value = "target/stevedore/oci")]
    pub output: PathBuf,
    /// Build only these platforms (repeatable, or comma-separated).
    #[arg(long, value_name = "OS/ARCH", value_delimiter = ',')]
    pub platform: Vec<String>,
    /// Build only these images (repeatable, or comma-separated).
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    pub image: Vec<String>,
    /// Fail, before building anything, if this machine cannot build every configured platform
    /// (by default those are skipped and listed with the reason and the fix).
    #[arg(long)]
    pub require_all: bool,
}

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// Do everything that can run locally; write nothing to any registry.
    #[arg(long)]
    pub dry_run: bool,
    /// Publish the compose artifacts despite the findings compose would ask about (bind
    /// mounts, secret-looking values) for this run. Nothing ever waits on a prompt.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Sign the attestations with this PEM PKCS#8 ECDSA P-256 private key (default: the key
    /// in STEVEDORE_SIGNING_KEY, if set). The key is never printed or stored.
    #[arg(long, value_name = "FILE")]
    pub signing_key: Option<PathBuf>,
    /// Release from a tree with uncommitted changes (its version says `-dirty` and it takes
    /// no other tag).
    #[arg(long)]
    pub allow_dirty: bool,
    /// Move floating tags (latest, branch, major, minor) even when the registry's tag holds a
    /// newer commit or one this repository does not know.
    #[arg(long)]
    pub force_tags: bool,
    /// Write what was pushed (per image: index digest, platform digests, references) as JSON.
    #[arg(long, value_name = "FILE")]
    pub metadata_file: Option<PathBuf>,
    #[command(flatten)]
    pub build: BuildArgs,
}

#[derive(Debug, Args)]
pub struct ComposeArgs {
    /// The OCI image layout holding the release's images; the artifacts are written there.
    #[arg(long, value_name = "DIR", default_value = "target/stevedore/oci")]
    pub layout: PathBuf,
    /// Allow the findings compose would ask about (bind mounts, secret-looking values).
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The image: `host/repo:tag` or `host/repo@sha256:…`.
    pub reference: String,
    /// The PEM public key the attestations must be signed with (unsigned ones then fail).
    #[arg(long, value_name = "PUB.pem")]
    pub key: Option<PathBuf>,
    /// The source repository the provenance must name (e.g. https://github.com/o/r).
    #[arg(long, value_name = "URL")]
    pub source_repo: Option<String>,
    /// Keyless (GitHub's attest-build-provenance, cosign): the certificate of every
    /// attestation must chain to these roots: PEM CA certificates, or Sigstore's
    /// trusted_root.json (`gh attestation trusted-root`). Without it the certificate is only
    /// read, not trusted.
    #[arg(long, value_name = "FILE", conflicts_with = "key")]
    pub trusted_root: Option<PathBuf>,
    /// Keyless: the signer's certificate must carry this identity (its SAN: for GitHub
    /// Actions, https://github.com/OWNER/REPO/.github/workflows/F.yml@refs/heads/main).
    #[arg(long, value_name = "URI", conflicts_with = "key")]
    pub certificate_identity: Option<String>,
    /// Keyless: the certificate's OIDC issuer must be this (GitHub Actions:
    /// https://token.actions.githubusercontent.com).
    #[arg(long, value_name = "URL", conflicts_with = "key")]
    pub certificate_oidc_issuer: Option<String>,
    /// Keyless: the certificate must name this source repository (and, unless
    /// --certificate-oidc-issuer says otherwise, GitHub Actions as its issuer), as
    /// `gh attestation verify --repo`.
    #[arg(long, value_name = "OWNER/REPO", conflicts_with = "key")]
    pub repo: Option<String>,
    /// Print the checks as JSON.
    #[arg(long)]
    pub json: bool,
    /// Trust this PEM CA file for the registry's TLS (repeatable; inside a workspace, added to
    /// `release.ca-files`).
    #[arg(long, value_name = "CA.pem")]
    pub ca_file: Vec<PathBuf>,
    /// Reach this registry host over plain HTTP (repeatable; loopback hosts already may).
    #[arg(long, value_name = "HOST")]
    pub insecure_registry: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CleanArgs {
    /// Remove target/stevedore entirely (the OCI layout and the base image cache too).
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct CiArgs {
    #[command(subcommand)]
    pub command: CiCommand,
}

#[derive(Debug, Subcommand)]
pub enum CiCommand {
    /// Write GitHub Actions workflows made from the plan: a single-job release, a matrix
    /// release (one job per platform on native runners, `push --by-digest`, then `merge`) and a
    /// pull-request dry run; also rust-toolchain.toml when the repository has none.
    Generate(CiGenerateArgs),
    /// For stevedore's own release: write the pin of the stevedore image the generated
    /// workflows install (xtask/src/ci/stevedore_image.toml) from the release's metadata file.
    Pin(CiPinArgs),
}

#[derive(Debug, Args)]
pub struct CiPinArgs {
    /// The metadata file of the release that published the image (`release --metadata-file`).
    #[arg(value_name = "METADATA_FILE")]
    pub metadata: PathBuf,
    /// The image of the release to pin.
    #[arg(long, value_name = "NAME", default_value = "stevedore")]
    pub image: String,
    /// The pin file to write (relative to the workspace root).
    #[arg(
        long,
        value_name = "FILE",
        default_value = "xtask/src/ci/stevedore_image.toml"
    )]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct CiGenerateArgs {
    /// Which workflow: `single` and `matrix` write release.yml, `pr` pr.yml, `all`
    /// release.yml (single job), release-matrix.yml and pr.yml.
    #[arg(long, value_name = "KIND", default_value = "single", value_parser = ["single", "matrix", "pr", "all"])]
    pub kind: String,
    /// The directory the workflows are written to (relative to the workspace root).
    #[arg(long, value_name = "DIR", default_value = ".github/workflows")]
    pub out: PathBuf,
    /// Write nothing: exit 1 naming each file that is missing or differs from what would be
    /// generated (for CI).
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Overwrite an existing config.
    #[arg(long)]
    pub force: bool,
    /// Print the config instead of writing it (the report goes to stderr).
    #[arg(long, visible_alias = "stdout")]
    pub dry_run: bool,
}
