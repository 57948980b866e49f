//! GitHub Actions outputs: `key=value` lines in `$GITHUB_OUTPUT`.

use anyhow::{Context, Result};

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
