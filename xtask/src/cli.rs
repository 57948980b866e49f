//! Command-line definitions (clap). Exit codes: 0 ok, 1 failure, 2 usage error.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "xtask",
    bin_name = "cargo xtask",
    version,
    about = "stevedore: build and release multi-service container images",
    long_about = "stevedore: build every image for every platform into an OCI layout, push to every \
                  registry, and publish the compose file, from one command that runs the same on a \
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
    /// Run the whole release: plan, build, publish (with --dry-run: everything but the registry writes).
    Release(ReleaseArgs),
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
    /// Build the platforms this machine can and list the others, instead of failing.
    #[arg(long)]
    pub skip_unavailable: bool,
}

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// Do everything that can run locally; write nothing to any registry.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub build: BuildArgs,
}
