//! init: images/release.toml drafted from the repository, with what was mapped and what not.

use std::io::Write as _;

use anyhow::{Context, Result};

use crate::cli::{Global, InitArgs};
use crate::init::Draft;

pub fn init(global: &Global, args: &InitArgs) -> Result<()> {
    let (root, config_path) = super::root_and_config(global)?;
    let shown = config_path
        .strip_prefix(&root)
        .unwrap_or(&config_path)
        .display()
        .to_string();
    if config_path.exists() && !args.force && !args.dry_run {
        anyhow::bail!(crate::problem::Problem::usage(
            format!("{shown} already exists: init does not overwrite it"),
            "pass --force to replace it, or --dry-run to print the draft instead"
        ));
    }
    let drafted = crate::init::init(&root, &config_path)?;
    let report = report(&drafted.draft);
    if args.dry_run {
        eprint!("{report}");
        print!("{}", drafted.text);
        std::io::stdout().flush().ok();
        return Ok(());
    }
    if let Some(dir) = config_path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(&config_path, &drafted.text).with_context(|| format!("cannot write {shown}"))?;
    print!("{report}");
    println!(
        "wrote {shown}: {} image{}; check it with `stevedore plan` and `stevedore release --dry-run`",
        drafted.images.len(),
        if drafted.images.len() == 1 { "" } else { "s" }
    );
    Ok(())
}

/// What was mapped (source → key) and what was not (and why), as text.
fn report(draft: &Draft) -> String {
    let mut out = String::from("mapped:\n");
    if draft.notes.mapped.is_empty() {
        out.push_str("  (nothing)\n");
    }
    for m in &draft.notes.mapped {
        out.push_str(&format!(
            "  {}  {} → {}\n",
            printable(&m.from.to_string()),
            printable(&m.what),
            printable(&m.key)
        ));
    }
    out.push_str("not mapped:\n");
    if draft.notes.not_mapped.is_empty() {
        out.push_str("  (nothing)\n");
    }
    for n in &draft.notes.not_mapped {
        out.push_str(&format!(
            "  {}  {}: {}\n",
            printable(&n.from.to_string()),
            printable(&n.what),
            printable(&n.why)
        ));
    }
    out
}

/// `text` with control characters (newlines, escape sequences a crafted file or target name
/// could carry to the terminal) written as escapes.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn control_characters_in_names_are_escaped_before_printing() {
        assert_eq!(printable("target \u{1b}[2Jx\n"), "target \\u{1b}[2Jx\\n");
        assert_eq!(printable("app → images.app"), "app → images.app");
    }
}
