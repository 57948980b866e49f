//! `native.command`: any toolchain (go, npm, zig, …) builds the files of a native image, once
//! per platform, with the platform and the release's version facts in its environment.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Result};

use crate::exec;
use crate::oci::platform::Platform;
use crate::plan::ImagePlan;
use crate::progress::Sink;

/// The environment a command gets for `platform`: Go's and BuildKit's platform variables, and
/// the build args (`VERSION`, `GIT_COMMIT`, `BUILD_DATE`, the user's) with `SOURCE_DATE_EPOCH`.
pub fn environment(image: &ImagePlan, platform: &Platform, epoch: i64) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vec![
        ("GOOS".into(), platform.os.clone()),
        ("GOARCH".into(), platform.arch.clone()),
        ("TARGETOS".into(), platform.os.clone()),
        ("TARGETARCH".into(), platform.arch.clone()),
        (
            "TARGETVARIANT".into(),
            platform.variant.clone().unwrap_or_default(),
        ),
        ("TARGETPLATFORM".into(), platform.to_string()),
    ];
    if platform.arch == "arm" {
        if let Some(v) = platform
            .variant
            .as_deref()
            .and_then(|v| v.strip_prefix('v'))
        {
            env.push(("GOARM".into(), v.to_string()));
        }
    }
    env.extend(image.build_args_with_secrets());
    env.push(("SOURCE_DATE_EPOCH".into(), epoch.to_string()));
    env
}

/// Runs `argv` (placeholders `{os}`, `{arch}`, `{variant}` substituted) in `root` for
/// `platform`, streaming its output with the `[image platform]` prefix.
pub fn build(
    root: &Path,
    image: &ImagePlan,
    argv: &[String],
    platform: &Platform,
    epoch: i64,
    log: &dyn Sink,
) -> Result<()> {
    let argv: Vec<String> = argv.iter().map(|a| platform.expand(a)).collect();
    let Some(program) = argv.first() else {
        bail!("images.{}.native.command is empty", image.name);
    };
    if !program.contains('/') && !exec::on_path(program) {
        bail!(crate::problem::Problem::build(
            format!(
                "images.{}.native.command: {program} is not installed (not on PATH)",
                image.name
            ),
            "install it, or change the command"
        ));
    }
    let mut cmd = Command::new(program);
    cmd.args(&argv[1..]).current_dir(root);
    for (k, v) in environment(image, platform, epoch) {
        cmd.env(k, v);
    }
    let prefix = format!("{} {platform}", image.name);
    if let Err(failed) = exec::streamed(&mut cmd, &prefix, log)? {
        bail!(
            "images.{}.native.command `{}` failed for {platform} ({}):\n{}",
            image.name,
            argv.join(" "),
            failed.status,
            failed.tail_text()
        );
    }
    Ok(())
}
