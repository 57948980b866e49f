//! `cargo xtask build` and `cargo xtask release`: the main job.
//!
//! A release is plan → build → (attest) → publish → (compose). `--dry-run` walks the same path
//! and stops at the registry door: it builds every platform this machine can, lists the others
//! with the reason and the fix, and prints what it would push. A release that publishes never
//! publishes a partial platform set: it fails before building if any platform is unavailable.

use std::fmt::Write as _;

use anyhow::{bail, Result};

use crate::build::{self, BuildReport, Missing, Options};
use crate::cli::{BuildArgs, ReleaseArgs};
use crate::oci::layout::Layout;
use crate::publish;
use crate::workspace::Workspace;

/// `cargo xtask build`.
pub fn build_cmd(ws: &Workspace, args: &BuildArgs) -> Result<()> {
    let report = build::build(ws, args)?;
    print!("{}", render(&report, None));
    Ok(())
}

/// `cargo xtask release [--dry-run]`.
pub fn release(ws: &Workspace, args: &ReleaseArgs, verbose: bool) -> Result<()> {
    let mut opts = Options::from_args(&args.build)?;
    if !args.dry_run {
        if !opts.platforms.is_empty() {
            bail!(
                "--platform restricts a build, and a release publishes every configured platform: use it with --dry-run or `cargo xtask build`"
            );
        }
        opts.missing = Missing::Fail;
    }
    let report = build::build_with(ws, &opts)?;
    print!("{}", render(&report, Some(args.dry_run)));
    if let Some(compose) = &ws.plan.compose {
        // Said plainly rather than skipped silently: the stage is not part of stevedore yet.
        eprintln!(
            "note: [compose] is configured ({}), but publishing the compose artifact is not implemented yet: it is not built or pushed by this release",
            compose.repository
        );
    }
    if args.dry_run {
        println!("dry run: nothing was pushed");
        return Ok(());
    }
    // Every configured platform of every image is in the layout: publish what was built.
    let mut plan = ws.plan.clone();
    plan.images.retain(|i| {
        report
            .images
            .iter()
            .any(|r| r.name == i.name && r.index.is_some())
    });
    let opts = ws.publish_options(verbose);
    let layout = Layout::open(&report.layout)?;
    let pushed = publish::publish(&plan, &layout, &opts)?;
    for (name, image) in &pushed.images {
        for reference in &image.references {
            println!("pushed {name} {reference}");
        }
    }
    Ok(())
}

/// The table of images, platforms, digests and sizes; with `dry_run` set, the references a
/// release pushes (`Some(true)`: would push).
pub fn render(report: &BuildReport, dry_run: Option<bool>) -> String {
    let mut s = String::new();
    let mut rows = vec![[
        "IMAGE".to_string(),
        "PLATFORM".into(),
        "MANIFEST".into(),
        "SIZE".into(),
    ]];
    for i in &report.images {
        for p in &i.platforms {
            rows.push([
                i.name.clone(),
                p.platform.to_string(),
                short(p.manifest.digest.as_str()),
                human(p.size),
            ]);
        }
        for sk in &i.skipped {
            rows.push([
                i.name.clone(),
                sk.platform.to_string(),
                "skipped".into(),
                "-".into(),
            ]);
        }
    }
    let widths: Vec<usize> = (0..4)
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    for r in &rows {
        let _ = writeln!(
            s,
            "{:w0$}  {:w1$}  {:w2$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
    }
    for i in &report.images {
        for sk in &i.skipped {
            let _ = writeln!(
                s,
                "skipped {} {}: {}\n  fix: {}",
                i.name, sk.platform, sk.reason, sk.fix
            );
        }
    }
    for i in &report.images {
        let Some(index) = &i.index else {
            let _ = writeln!(s, "{}: no platform built, nothing named", i.name);
            continue;
        };
        let _ = writeln!(
            s,
            "{} {} index {}",
            report.layout.display(),
            i.layout_name,
            index.digest
        );
        if let Some(dry) = dry_run {
            let verb = if dry { "would push" } else { "push" };
            if i.references.is_empty() {
                let _ = writeln!(s, "  {verb}: nothing (no registries configured)");
            }
            for r in &i.references {
                let _ = writeln!(s, "  {verb} {r}");
            }
        }
    }
    s
}

/// `sha256:0123456789ab`.
fn short(digest: &str) -> String {
    digest.chars().take(7 + 12).collect()
}

fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::{ImageReport, PlatformBuild, Skipped};
    use crate::oci::platform::Platform;
    use crate::oci::{Descriptor, MEDIA_INDEX, MEDIA_MANIFEST};

    #[test]
    fn table_lists_builds_skips_and_references() {
        let report = BuildReport {
            layout: "target/stevedore/oci".into(),
            images: vec![ImageReport {
                name: "stevedore".into(),
                layout_name: "stevedore:1.2.3".into(),
                index: Some(Descriptor::of(MEDIA_INDEX, b"index")),
                platforms: vec![PlatformBuild {
                    platform: Platform::linux_amd64(),
                    manifest: Descriptor::of(MEDIA_MANIFEST, b"m"),
                    size: 3 << 20,
                }],
                skipped: vec![Skipped {
                    platform: "linux/arm64".parse().unwrap(),
                    reason: "Rust target aarch64-unknown-linux-gnu is not installed".into(),
                    fix: "rustup target add aarch64-unknown-linux-gnu".into(),
                }],
                references: vec!["ghcr.io/o/stevedore:1.2.3".into()],
                seconds: 1.0,
            }],
        };
        let t = render(&report, Some(true));
        assert!(t.contains("stevedore  linux/amd64  sha256:"), "{t}");
        assert!(t.contains("3.0 MiB"), "{t}");
        assert!(t.contains("linux/arm64  skipped"), "{t}");
        assert!(t.contains("fix: rustup target add"), "{t}");
        assert!(t.contains("would push ghcr.io/o/stevedore:1.2.3"), "{t}");
        assert!(!render(&report, None).contains("push"));
    }
}
