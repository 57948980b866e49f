//! What a publish prints and writes for people and CI: the summary, the digests, the metadata
//! file, GitHub Actions outputs and the step summary.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};

use super::github::write_outputs;
use crate::facts::github::in_github_actions;
use crate::oci::Digest;
use crate::plan::Plan;
use crate::progress::{human_bytes, human_duration, Sink};
use crate::publish::{write_json_file, Report};

/// Summary line, metadata file, GitHub outputs and step summary.
/// After a publish: the summary line, `<image> <digest>` per image on stdout, the metadata file,
/// and inside GitHub Actions the job outputs and the step summary.
pub fn finish(
    plan: &Plan,
    report: &Report,
    metadata_file: Option<&Path>,
    progress: &dyn Sink,
) -> Result<()> {
    let u = &report.uploads;
    progress.line(&format!(
        "published {} image(s) in {}: {} blob(s) pushed ({}{}), {} mounted, {} already present; {} manifest(s) pushed; tags: {} moved, {} unchanged",
        report.images.len(),
        human_duration(report.elapsed),
        u.pushed,
        human_bytes(u.bytes),
        if u.sent > u.bytes {
            format!(", {} sent with retries", human_bytes(u.sent))
        } else {
            String::new()
        },
        u.mounted,
        u.exists,
        report.manifests_pushed,
        report.tags_moved,
        report.tags_unchanged
    ));
    for (name, r) in &report.images {
        if let Some(d) = &r.digest {
            println!("{name} {d}");
        }
    }
    if let Some(path) = metadata_file {
        write_json_file(path, report)?;
    }
    let env = |k: &str| std::env::var(k).ok();
    if in_github_actions(&env) {
        let digests: BTreeMap<&String, Option<&Digest>> = report
            .images
            .iter()
            .map(|(n, r)| (n, r.digest.as_ref()))
            .collect();
        let refs: Vec<&String> = report.images.values().flat_map(|r| &r.references).collect();
        if let Some(path) = env("GITHUB_OUTPUT").filter(|p| !p.is_empty()) {
            write_outputs(
                &path,
                &[
                    ("digests", serde_json::to_string(&digests)?),
                    (
                        "images",
                        refs.iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join("\n"),
                    ),
                ],
            )?;
        }
        if let Some(path) = env("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(&path)
                .with_context(|| format!("cannot open GITHUB_STEP_SUMMARY={path}"))?;
            f.write_all(step_summary(plan, report).as_bytes())?;
        }
    }
    Ok(())
}

/// The `$GITHUB_STEP_SUMMARY` markdown.
pub fn step_summary(plan: &Plan, report: &Report) -> String {
    let mut s = format!(
        "### stevedore: published {} {}\n\n| image | platforms | digest | references |\n|---|---|---|---|\n",
        plan.name, plan.version
    );
    for (name, r) in &report.images {
        let platforms: Vec<&str> = r.platforms.keys().map(String::as_str).collect();
        let refs: Vec<String> = r.references.iter().map(|x| format!("`{x}`")).collect();
        s.push_str(&format!(
            "| {name} | {} | `{}` | {} |\n",
            platforms.join(", "),
            r.digest
                .as_ref()
                .map_or("(by digest)".into(), |d| d.to_string()),
            refs.join("<br>")
        ));
    }
    let u = &report.uploads;
    s.push_str(&format!(
        "\n{} blob(s) pushed ({}), {} mounted, {} already present; tags: {} moved, {} unchanged.\n",
        u.pushed,
        human_bytes(u.bytes),
        u.mounted,
        u.exists,
        report.tags_moved,
        report.tags_unchanged
    ));
    s
}
