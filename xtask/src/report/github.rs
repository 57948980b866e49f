//! GitHub Actions outputs: `key=value` lines in `$GITHUB_OUTPUT`.

use anyhow::{Context, Result};

use crate::facts::github::in_github_actions;
use crate::plan::Plan;

/// Writes `key=value` lines (multi-line values with a heredoc delimiter) to `$GITHUB_OUTPUT`.
pub fn write_outputs(path: &str, outputs: &[(&str, String)]) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .with_context(|| format!("cannot open GITHUB_OUTPUT={path}"))?;
    for (k, v) in outputs {
        if v.contains('\n') {
            let delim = format!("stevedore_{}", crate::oci::Digest::of(v.as_bytes()).hex());
            writeln!(f, "{k}<<{delim}\n{v}\n{delim}")?;
        } else {
            writeln!(f, "{k}={v}")?;
        }
    }
    Ok(())
}

/// Inside GitHub Actions, the outputs of `tags` and `plan`: version, tags and the JSON document.
pub fn plan_outputs(plan: &Plan, json: &serde_json::Value) -> Result<()> {
    let env = |k: &str| std::env::var(k).ok();
    if !in_github_actions(&env) {
        return Ok(());
    }
    if let Some(path) = env("GITHUB_OUTPUT").filter(|p| !p.is_empty()) {
        write_outputs(
            &path,
            &[
                ("version", plan.version.clone()),
                ("tags", plan.tags.join("\n")),
                ("json", serde_json::to_string(json)?),
            ],
        )?;
    }
    Ok(())
}
