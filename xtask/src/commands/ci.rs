//! `ci generate`: the GitHub Actions workflows of `crate::ci`, written or checked.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::ci::{self, Kind};
use crate::cli::{CiArgs, CiCommand, CiGenerateArgs, CiPinArgs, Global};
use crate::workspace::Workspace;

pub(super) fn ci(ws: &Workspace, global: &Global, args: &CiArgs) -> Result<()> {
    match &args.command {
        CiCommand::Generate(a) => generate(ws, global, a),
        CiCommand::Pin(a) => pin(ws, a),
    }
}

/// `ci pin METADATA_FILE`: the pin file from the release that published stevedore's image.
fn pin(ws: &Workspace, args: &CiPinArgs) -> Result<()> {
    let path = ws.path(&args.metadata);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "{}: cannot read the metadata file: write it with `release --metadata-file {}`",
            path.display(),
            args.metadata.display()
        )
    })?;
    let metadata: serde_json::Value = serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: not JSON: give the file `release --metadata-file` wrote",
            path.display()
        )
    })?;
    let pin = ci::pin::from_metadata(&metadata, &args.image).map_err(|e| {
        anyhow::anyhow!(
            "{}: {e}: give the metadata file of the release that published image {} (--image NAME)",
            path.display(),
            args.image
        )
    })?;
    let out = ws.path(&args.out);
    std::fs::write(&out, ci::pin::render(&pin))
        .with_context(|| format!("--out {}: cannot write the pin file", out.display()))?;
    println!("wrote {}: {}", shown(&ws.root, &out), pin.reference());
    Ok(())
}

/// A file `generate` writes: its path and its text (`None`: written only when missing, its
/// content not compared).
struct Output {
    path: PathBuf,
    text: String,
    only_if_missing: bool,
}

fn generate(ws: &Workspace, global: &Global, args: &CiGenerateArgs) -> Result<()> {
    let kinds: Vec<Kind> = match args.kind.as_str() {
        "single" => vec![Kind::Single],
        "matrix" => vec![Kind::Matrix],
        "pr" => vec![Kind::PullRequest],
        "all" => vec![Kind::Single, Kind::Matrix, Kind::PullRequest],
        other => bail!("--kind {other}: use single, matrix, pr or all"),
    };
    if let Some((image, platform)) = ci::unbuildable(&ws.plan) {
        bail!(
            "{}: image {image} is built for {platform}, which no GitHub-hosted runner can build \
             (they run Linux; QEMU emulates other Linux architectures, not another OS): remove \
             {platform} from its platforms (release.platforms or images.{image}.platforms) for \
             these workflows, or build it on a runner of its own",
            ws.config.path.display()
        );
    }
    let config_arg = global.config.as_ref().map(|p| p.display().to_string());
    let release = &ws.config.release;
    let default_branch = default_branch(ws, global);
    let tag_filters = ci::tag_filters(&ws.facts.tags);
    let toolchain = toolchain_file(&ws.root, &ws.plan, args.check)?;
    let inputs = ci::Inputs {
        plan: &ws.plan,
        config: &ws.config,
        config_arg: config_arg.as_deref(),
        tool: if has_xtask_alias(&ws.root) {
            ci::Tool::Xtask
        } else {
            ci::Tool::Binary
        },
        syft: !crate::attest::stage::syft_images(&ws.plan, release.provenance, release.sbom)
            .is_empty(),
        default_branch: &default_branch,
        tag_filters: &tag_filters,
        pinned_toolchain: !matches!(toolchain, Toolchain::NotRust),
    };
    if inputs.tool == ci::Tool::Binary && !ci::pin::pin().published() {
        eprintln!(
            "warning: the workflows install {}, which no release of stevedore has published \
             yet (xtask/src/ci/stevedore_image.toml): use a stevedore whose release filled in \
             the digest, or run stevedore as this repository's xtask",
            ci::pin::pin().reference()
        );
    }
    let dir = ws.path(&args.out);
    let mut outputs = Vec::new();
    for kind in &kinds {
        let name = if kinds.len() > 1 {
            ci::file_name_in_all(*kind)
        } else {
            ci::file_name_alone(*kind)
        };
        outputs.push(Output {
            path: dir.join(name),
            text: ci::generate(*kind, &inputs).text,
            only_if_missing: false,
        });
    }
    if let Toolchain::Missing(file) = toolchain {
        outputs.push(file);
    }
    if args.check {
        return check(&ws.root, &outputs);
    }
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("--out {}: cannot create the directory", dir.display()))?;
    for o in &outputs {
        let current = std::fs::read_to_string(&o.path).ok();
        let shown = shown(&ws.root, &o.path);
        if current.is_some() && (o.only_if_missing || current.as_deref() == Some(&o.text)) {
            println!("unchanged {shown}");
            continue;
        }
        std::fs::write(&o.path, &o.text)
            .with_context(|| format!("cannot write {}", o.path.display()))?;
        println!("wrote {shown}");
    }
    Ok(())
}

/// The branch the release workflows push from: `release.default-branch` when the config sets
/// it, else the repository's default branch (`origin/HEAD`), else the branch checked out.
fn default_branch(ws: &Workspace, global: &Global) -> String {
    let path = ws.root.join(
        global
            .config
            .clone()
            .unwrap_or_else(|| crate::config::DEFAULT_PATH.into()),
    );
    let written = std::fs::read_to_string(path)
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .is_some_and(|t| {
            t.get("release")
                .and_then(|r| r.get("default-branch"))
                .is_some()
        });
    if written {
        return ws.config.release.default_branch.clone();
    }
    crate::facts::git::origin_head(&ws.root)
        .or_else(|| ws.facts.branch.clone())
        .filter(|b| crate::config::checks::branch_name(b).is_ok())
        .unwrap_or_else(|| ws.config.release.default_branch.clone())
}

/// The Rust toolchain the workflows install.
enum Toolchain {
    /// Not a Rust project (no `Cargo.toml`, no toolchain file, no cargo-bin image): the jobs
    /// install stable Rust to build stevedore, and nothing is written into the repository.
    NotRust,
    /// The repository's toolchain file (it names a channel).
    Pinned,
    /// A Rust project without one: the file pinning this machine's rustc, to write.
    Missing(Output),
}

/// The repository's [`Toolchain`].
fn toolchain_file(root: &Path, plan: &crate::plan::Plan, check: bool) -> Result<Toolchain> {
    for name in ["rust-toolchain.toml", "rust-toolchain"] {
        let path = root.join(name);
        if let Ok(text) = std::fs::read_to_string(&path) {
            ci::toolchain_channel(&text).map_err(|e| {
                anyhow::anyhow!(
                    "{}: {e}: the workflows install the toolchain it pins",
                    path.display()
                )
            })?;
            return Ok(Toolchain::Pinned);
        }
    }
    let cargo_bin = plan.images.iter().any(|i| {
        matches!(&i.builder, crate::plan::Builder::Native(spec) if spec.native.cargo_bin.is_some())
    });
    if !root.join("Cargo.toml").is_file() && !cargo_bin {
        return Ok(Toolchain::NotRust);
    }
    let path = root.join("rust-toolchain.toml");
    if check {
        // Compared only for its presence: its channel is this machine's rustc.
        return Ok(Toolchain::Missing(Output {
            path,
            text: String::new(),
            only_if_missing: true,
        }));
    }
    // In the repository: a toolchain file above it (or rustup's override) is its rustc.
    let out = std::process::Command::new("rustc")
        .arg("--version")
        .current_dir(root)
        .output()
        .ok()
        .filter(|o| o.status.success());
    let line = out
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let Some(channel) = ci::rustc_release(&line) else {
        bail!(
            "{} is missing and `rustc --version` gives no release to pin ({line:?}): write it \
             with [toolchain] channel = \"1.x.y\", then run `ci generate` again",
            path.display()
        );
    };
    Ok(Toolchain::Missing(Output {
        path,
        text: ci::toolchain_file(&channel),
        only_if_missing: true,
    }))
}

fn check(root: &Path, outputs: &[Output]) -> Result<()> {
    let mut stale = Vec::new();
    for o in outputs {
        let shown = shown(root, &o.path);
        match std::fs::read_to_string(&o.path) {
            Err(_) => stale.push(format!("{shown} is missing")),
            Ok(_) if o.only_if_missing => println!("present {shown}"),
            Ok(t) if t == o.text => println!("up to date {shown}"),
            Ok(t) => {
                let old = ci::pin::stale_references(&t, &ci::pin::pin());
                if old.is_empty() {
                    stale.push(format!("{shown} differs from what the config generates"));
                } else {
                    stale.push(format!(
                        "{shown} installs stevedore {}, not the image this stevedore pins ({})",
                        old.join(", "),
                        ci::pin::pin().reference()
                    ));
                }
            }
        }
    }
    if stale.is_empty() {
        return Ok(());
    }
    for s in &stale {
        eprintln!("stale: {s}");
    }
    bail!(
        "{} generated file(s) stale: run `cargo xtask ci generate` with the same --kind and --out",
        stale.len()
    )
}

fn shown(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Whether the repository runs stevedore as its xtask: a `.cargo/config.toml` (or
/// `.cargo/config`) whose `[alias]` names `xtask`.
fn has_xtask_alias(root: &Path) -> bool {
    [".cargo/config.toml", ".cargo/config"].iter().any(|name| {
        let Ok(text) = std::fs::read_to_string(root.join(name)) else {
            return false;
        };
        let mut in_alias = false;
        text.lines().any(|line| {
            let line = line.trim();
            if line.starts_with('[') {
                in_alias = line == "[alias]";
                return false;
            }
            in_alias && line.split('=').next().is_some_and(|k| k.trim() == "xtask")
        })
    })
}
