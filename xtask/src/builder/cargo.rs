//! `cargo-bin`: the workspace binary built for each platform's Rust target.
//!
//! `linux/amd64` → `x86_64-unknown-linux-gnu` linked statically (`+crt-static`), `linux/arm64`
//! → `aarch64-unknown-linux-gnu`, … unless `native.targets` says otherwise. Before anything is
//! built, [`check`] tells whether this machine can build a target (installed std, a linker, a
//! static libc) and, if not, what to do. Builds use their own target dir
//! (`target/stevedore/cargo`, or `STEVEDORE_CARGO_TARGET_DIR`) so they never wait on, or
//! overwrite, the running `cargo xtask` binary.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::exec;
use crate::oci::platform::Platform;
use crate::plan::{ImagePlan, NativeSpec};
use crate::problem::{Kind, Problem};
use crate::progress::Sink;
use crate::rust_targets;

/// The command that builds: `cargo` unless `native.cargo` is set.
fn command_of(spec: &NativeSpec) -> Vec<String> {
    match &spec.native.cargo {
        Some(c) if !c.is_empty() => c.clone(),
        _ => vec!["cargo".into()],
    }
}

/// The host's Rust target (`rustc -vV`).
pub fn host_target() -> Option<String> {
    let out = Command::new("rustc").arg("-vV").output().ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
}

/// Can this machine build `platform` of `image`? Checked before anything is built.
pub fn check(
    image: &ImagePlan,
    spec: &NativeSpec,
    platform: &Platform,
    host: Option<&str>,
) -> std::result::Result<(), Problem> {
    let name = &image.name;
    let Some(target) = rust_targets::rust_target(&spec.native.targets, platform) else {
        return Err(Problem {
            kind: Kind::Unavailable,
            reason: format!("no default Rust target for {platform}"),
            fix: format!(
                "set images.{name}.native.targets.\"{platform}\" = \"<rust target triple>\""
            ),
        });
    };
    let cmd = command_of(spec);
    if !exec::on_path(&cmd[0]) {
        return Err(Problem {
            kind: Kind::Unavailable,
            reason: format!("{} is not installed (it builds {target})", cmd[0]),
            fix: format!("install {} or change images.{name}.native.cargo", cmd[0]),
        });
    }
    if cmd.len() > 1 || cmd[0] != "cargo" {
        // cross / cargo-zigbuild bring their own toolchains: trust them.
        return Ok(());
    }
    let libdir = Command::new("rustc")
        .args(["--print", "target-libdir", "--target", &target])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let installed = libdir
        .and_then(|d| std::fs::read_dir(d).ok())
        .is_some_and(|mut entries| {
            entries.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("libstd-")))
        });
    let cross_hint = format!("or set images.{name}.native.cargo = [\"cross\"]");
    if !installed {
        return Err(Problem {
            kind: Kind::Unavailable,
            reason: format!("Rust target {target} is not installed"),
            fix: format!("rustup target add {target} (and a linker for it), {cross_hint}"),
        });
    }
    let is_host = host == Some(target.as_str());
    let cc = if is_host || std::env::var_os(rust_targets::linker_var(&target)).is_some() {
        std::env::var(rust_targets::linker_var(&target)).unwrap_or_else(|_| "cc".into())
    } else {
        let gcc = rust_targets::cross_gcc(&target);
        if !exec::on_path(&gcc) {
            return Err(Problem {
                kind: Kind::Unavailable,
                reason: format!("no linker for {target} ({gcc} is not installed)"),
                fix: format!(
                    "apt-get install gcc-{} (or set {}), {cross_hint}",
                    gcc.trim_end_matches("-gcc").replace('_', "-"),
                    rust_targets::linker_var(&target)
                ),
            });
        }
        gcc
    };
    if target.ends_with("-gnu") && !is_windows(&target) {
        let out = Command::new(&cc)
            .arg("-print-file-name=libc.a")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
        if !out.is_some_and(|p| p.contains('/')) {
            return Err(Problem {
                kind: Kind::Unavailable,
                reason: format!(
                    "a static {target} binary needs glibc's libc.a, which {cc} cannot find"
                ),
                fix: format!(
                    "apt-get install libc6-dev (or the cross libc6-dev for {target}), or set images.{name}.native.targets.\"{platform}\" to a musl target"
                ),
            });
        }
    }
    Ok(())
}

fn is_windows(target: &str) -> bool {
    target.contains("windows")
}

/// Where native builds put their cargo output.
pub fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("STEVEDORE_CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/stevedore/cargo"))
}

/// The rustflags for a target: the caller's, plus a static C runtime for gnu targets and
/// `CARGO_HOME` remapped, so dependency paths in the binary do not depend on the machine.
/// (Workspace paths are already relative: cargo passes them so. The checkout's own path is not
/// in the flags, so every checkout shares one fingerprint and one target dir.)
fn rustflags(target: &str) -> Vec<String> {
    let mut flags: Vec<String> = match std::env::var("CARGO_ENCODED_RUSTFLAGS") {
        Ok(enc) if !enc.is_empty() => enc.split('\x1f').map(String::from).collect(),
        _ => std::env::var("RUSTFLAGS")
            .unwrap_or_default()
            .split_whitespace()
            .map(String::from)
            .collect(),
    };
    if target.contains("-linux-gnu") {
        flags.push("-Ctarget-feature=+crt-static".into());
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    if let Some(home) = cargo_home {
        flags.push(format!("--remap-path-prefix={}=/cargo", home.display()));
    }
    flags
}

/// Builds the binary of `image` for `platform`; returns its path.
pub fn build(
    root: &Path,
    image: &ImagePlan,
    spec: &NativeSpec,
    platform: &Platform,
    epoch: i64,
    log: &dyn Sink,
) -> Result<PathBuf> {
    let bin = spec
        .native
        .cargo_bin
        .as_deref()
        .context("no cargo-bin configured")?;
    let target = rust_targets::rust_target(&spec.native.targets, platform)
        .context("no Rust target for this platform")?;
    let profile = spec
        .native
        .profile
        .clone()
        .unwrap_or_else(|| "release".into());
    let target_dir = target_dir(root);
    let cmd_line = command_of(spec);
    let mut cmd = Command::new(&cmd_line[0]);
    cmd.args(&cmd_line[1..]).current_dir(root).args([
        "build",
        "--profile",
        &profile,
        "--bin",
        bin,
        "--target",
        &target,
    ]);
    if let Some(p) = &spec.native.package {
        cmd.args(["--package", p]);
    }
    if !spec.native.features.is_empty() {
        cmd.args(["--features", &spec.native.features.join(",")]);
    }
    cmd.env("CARGO_TARGET_DIR", &target_dir)
        .env("CARGO_ENCODED_RUSTFLAGS", rustflags(&target).join("\x1f"))
        .env_remove("RUSTFLAGS")
        .env("CARGO_TERM_COLOR", "never");
    for (k, v) in image.build_args_with_secrets() {
        cmd.env(k, v);
    }
    cmd.env("SOURCE_DATE_EPOCH", epoch.to_string());
    let linker = rust_targets::linker_var(&target);
    if std::env::var_os(&linker).is_none() && host_target().as_deref() != Some(target.as_str()) {
        let gcc = rust_targets::cross_gcc(&target);
        if exec::on_path(&gcc) {
            cmd.env(linker, gcc);
        }
    }
    let prefix = format!("{} {platform}", image.name);
    log.line(&format!(
        "[{prefix}] {} build --profile {profile} --bin {bin} --target {target}",
        cmd_line.join(" ")
    ));
    if let Err(failed) = exec::streamed(&mut cmd, &prefix, log)? {
        bail!(
            "{} build of binary {bin} for {target} failed ({}):\n{}",
            cmd_line.join(" "),
            failed.status,
            failed.tail_text()
        );
    }
    let dir = match profile.as_str() {
        "dev" | "test" => "debug",
        "release" | "bench" => "release",
        other => other,
    };
    let exe = if is_windows(&target) {
        format!("{bin}.exe")
    } else {
        bin.to_string()
    };
    let path = target_dir.join(&target).join(dir).join(exe);
    if !path.is_file() {
        bail!(
            "the build succeeded but {} does not exist: is {bin:?} a binary of the package?",
            path.display()
        );
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_glibc_builds_get_crt_static() {
        let flags = rustflags("x86_64-unknown-linux-gnu");
        assert!(flags.contains(&"-Ctarget-feature=+crt-static".to_string()));
        assert!(!rustflags("x86_64-unknown-linux-musl")
            .contains(&"-Ctarget-feature=+crt-static".to_string()));
    }
}
