//! What a publish prints and writes for people and CI: the summary, the digests, the metadata
//! file, GitHub Actions outputs and the step summary.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};

use super::github::write_outputs;
use crate::facts::github::in_github_actions;
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
        "{} {} image(s) in {}: {} blob(s) pushed ({}{}), {} mounted, {} already present; {} manifest(s) pushed; tags: {} moved, {} unchanged",
        if by_digest(report) {
            "pushed by digest, not tagged,"
        } else {
            "published"
        },
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
    for kept in &report.tags_kept {
        progress.line(&format!("tag kept: {kept}"));
    }
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
        let digests = digests_output(report);
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

/// Whether the run pushed by digest only (`push --by-digest`): no index, no tag.
fn by_digest(report: &Report) -> bool {
    !report.images.is_empty() && report.images.values().all(|r| r.digest.is_none())
}

/// The `digests` output: per image its index digest, or (pushed by digest) its platform
/// manifests' digests by platform.
pub fn digests_output(report: &Report) -> BTreeMap<&String, serde_json::Value> {
    report
        .images
        .iter()
        .map(|(n, r)| {
            let v = match &r.digest {
                Some(d) => serde_json::Value::String(d.to_string()),
                None => serde_json::json!(r.platforms),
            };
            (n, v)
        })
        .collect()
}

/// The `$GITHUB_STEP_SUMMARY` markdown.
pub fn step_summary(plan: &Plan, report: &Report) -> String {
    let mut s = format!(
        "### stevedore: {} {} {}\n\n| image | platforms | digest | references |\n|---|---|---|---|\n",
        if by_digest(report) {
            "pushed by digest, not tagged:"
        } else {
            "published"
        },
        plan.name,
        plan.version
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::PushedImage;

    #[test]
    fn by_digest_outputs_give_platform_digests_and_say_not_tagged() {
        let d = crate::oci::Digest::of(b"amd64 manifest");
        let mut image = PushedImage::default();
        image.platforms.insert("linux/amd64".into(), d.clone());
        let mut report = Report::default();
        report.images.insert("api".into(), image);
        let out = serde_json::to_string(&digests_output(&report)).unwrap();
        assert_eq!(out, format!(r#"{{"api":{{"linux/amd64":"{d}"}}}}"#));
        assert!(by_digest(&report));
        report.images.get_mut("api").unwrap().digest = Some(d.clone());
        assert_eq!(
            serde_json::to_string(&digests_output(&report)).unwrap(),
            format!(r#"{{"api":"{d}"}}"#)
        );
        assert!(!by_digest(&report));
    }
}
