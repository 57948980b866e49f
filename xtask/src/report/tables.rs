//! The tables and texts people read: the plan, the tags, the build result.

use std::fmt::Write as _;

use crate::builder::BuildReport;
use crate::plan::Plan;
use crate::progress::human_bytes;

/// The human-readable plan.
pub fn plan_text(plan: &Plan) -> String {
    let mut s = String::new();
    let g = &plan.git;
    let _ = writeln!(s, "release {} version {}", plan.name, plan.version);
    let _ = writeln!(
        s,
        "commit {}{} ({}, {}) built at {}",
        g.short_sha,
        if g.dirty { " (dirty)" } else { "" },
        event_words(&g.event),
        ref_words(&g.git_ref),
        g.build_date
    );
    let _ = writeln!(s, "tags: {}", plan.tags.join(", "));
    for i in &plan.images {
        let builder = match &i.builder {
            crate::plan::Builder::Native(_) => "native".to_string(),
            crate::plan::Builder::Dockerfile {
                dockerfile, driver, ..
            } => format!(
                "dockerfile {} ({})",
                dockerfile.display(),
                serde_json::to_value(driver)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default()
            ),
        };
        let platforms: Vec<String> = i.platforms.iter().map(|p| p.to_string()).collect();
        let _ = writeln!(s, "image {} [{}] {}", i.name, platforms.join(", "), builder);
        if let Some(tags) = &i.tags {
            let _ = writeln!(s, "  tags: {}", tags.join(", "));
        }
        for (k, v) in &i.build_args {
            let _ = writeln!(s, "  arg {k}={v}");
        }
        for (k, v) in &i.labels {
            let _ = writeln!(s, "  label {k}={v}");
        }
        for t in &i.targets {
            for r in &t.references {
                let _ = writeln!(s, "  push {r}");
            }
        }
    }
    for c in &plan.composes {
        let files: Vec<String> = c.files.iter().map(|f| f.display().to_string()).collect();
        let _ = writeln!(s, "compose {} ({})", c.repository, files.join(", "));
        for t in &c.targets {
            for r in &t.references {
                let _ = writeln!(s, "  push {r}");
            }
        }
    }
    s
}

/// An event as words (`push`, `pull request`).
fn event_words(e: &crate::plan::context::Event) -> String {
    use crate::plan::context::Event;
    match e {
        Event::Push => "push".into(),
        Event::PullRequest => "pull request".into(),
        Event::Schedule => "schedule".into(),
        Event::Release => "release".into(),
        Event::WorkflowDispatch => "workflow dispatch".into(),
        Event::Other(name) => name.clone(),
    }
}

/// A git ref as words (`branch main`, `tag v1.2.3`, `pull request #7 (feature → main)`).
fn ref_words(r: &crate::plan::context::GitRef) -> String {
    use crate::plan::context::GitRef;
    match r {
        GitRef::Branch { name } => format!("branch {name}"),
        GitRef::Tag { name } => format!("tag {name}"),
        GitRef::PullRequest {
            number,
            head_ref,
            base_ref,
        } => format!("pull request #{number} ({head_ref} → {base_ref})"),
        GitRef::Detached => "detached HEAD".into(),
    }
}

/// `tags` without `--json`: the version, the tags, then per image every full reference.
pub fn tags_text(plan: &Plan) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "version {}", plan.version);
    for t in &plan.tags {
        let _ = writeln!(s, "tag {t}");
    }
    for i in &plan.images {
        for t in &i.targets {
            for r in &t.references {
                let _ = writeln!(s, "{} {r}", i.name);
            }
        }
    }
    s
}

/// The table of images, platforms, digests and sizes; with `dry_run` set, the references a
/// release pushes (`Some(true)`: would push).
pub fn build_table(report: &BuildReport, dry_run: Option<bool>) -> String {
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
                format!("sha256:{}", p.manifest.digest.short()),
                human_bytes(p.size),
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
                i.name, sk.platform, sk.problem.reason, sk.problem.fix
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
                let why = if report.images.is_empty() {
                    "no registries configured"
                } else {
                    "no registries configured, or the tag rules give no tag for this ref"
                };
                let _ = writeln!(s, "  {verb}: nothing ({why})");
            }
            for r in &i.references {
                let _ = writeln!(s, "  {verb} {r}");
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::{BuiltImage, PlatformBuild, Skipped};
    use crate::oci::platform::Platform;
    use crate::oci::{Descriptor, MEDIA_INDEX, MEDIA_MANIFEST};

    #[test]
    fn table_lists_builds_skips_and_references() {
        let report = BuildReport {
            layout: "target/stevedore/oci".into(),
            images: vec![BuiltImage {
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
                    problem: crate::problem::Problem::unavailable(
                        "Rust target aarch64-unknown-linux-gnu is not installed",
                        "rustup target add aarch64-unknown-linux-gnu",
                    ),
                }],
                references: vec![crate::oci::reference::ImageRef::parse(
                    "ghcr.io/o/stevedore:1.2.3",
                )
                .unwrap()],
                seconds: 1.0,
            }],
            entries: vec![],
        };
        let t = build_table(&report, Some(true));
        assert!(t.contains("stevedore  linux/amd64  sha256:"), "{t}");
        assert!(t.contains("3.0 MiB"), "{t}");
        assert!(t.contains("linux/arm64  skipped"), "{t}");
        assert!(t.contains("fix: rustup target add"), "{t}");
        assert!(t.contains("would push ghcr.io/o/stevedore:1.2.3"), "{t}");
        assert!(!build_table(&report, None).contains("push"));
    }
}
