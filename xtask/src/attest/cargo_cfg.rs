//! Whether a Cargo dependency's `target` (a triple or `cfg(...)`) applies to a Rust target,
//! given the target's `rustc --print cfg --target <triple>` lines.

use std::collections::BTreeSet;

/// The cfg of one Rust target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetCfg {
    triple: String,
    /// `unix`, `target_os="linux"`, … as `rustc --print cfg` prints them.
    set: BTreeSet<String>,
}

impl TargetCfg {
    /// `lines` are the output of `rustc --print cfg --target <triple>`.
    pub fn new(triple: &str, lines: &[String]) -> Self {
        TargetCfg {
            triple: triple.to_string(),
            set: lines
                .iter()
                .map(|l| l.trim().replace(" = ", "="))
                .filter(|l| !l.is_empty())
                .collect(),
        }
    }

    /// True if a dependency declared for `platform` (`None`: every target) is used on this
    /// target. An expression that cannot be read counts as applying: an SBOM may list one
    /// crate too many, never one too few.
    pub fn matches(&self, platform: Option<&str>) -> bool {
        let Some(p) = platform else { return true };
        match p
            .trim()
            .strip_prefix("cfg(")
            .and_then(|r| r.strip_suffix(')'))
        {
            Some(expr) => {
                let mut parser = Parser { s: expr, at: 0 };
                match parser.pred(self) {
                    Some(v) if parser.rest().is_empty() => v,
                    _ => true,
                }
            }
            None => p.trim() == self.triple,
        }
    }
}

struct Parser<'a> {
    s: &'a str,
    at: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        self.s[self.at..].trim_start()
    }

    fn skip_ws(&mut self) {
        let trimmed = self.rest().len();
        self.at = self.s.len() - trimmed;
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        if self.rest().starts_with(c) {
            self.at += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn ident(&mut self) -> Option<String> {
        self.skip_ws();
        let r = self.rest();
        let len = r
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(r.len());
        if len == 0 {
            return None;
        }
        let id = r[..len].to_string();
        self.at += len;
        Some(id)
    }

    fn string(&mut self) -> Option<String> {
        if !self.eat('"') {
            return None;
        }
        let r = &self.s[self.at..];
        let end = r.find('"')?;
        let v = r[..end].to_string();
        self.at += end + 1;
        Some(v)
    }

    /// `ident`, `ident = "value"`, `all(..)`, `any(..)`, `not(..)`.
    fn pred(&mut self, cfg: &TargetCfg) -> Option<bool> {
        let id = self.ident()?;
        match id.as_str() {
            "all" | "any" | "not" if self.eat('(') => {
                let mut values = Vec::new();
                while !self.eat(')') {
                    values.push(self.pred(cfg)?);
                    if !self.eat(',') {
                        if !self.eat(')') {
                            return None;
                        }
                        break;
                    }
                }
                match id.as_str() {
                    "all" => Some(values.iter().all(|v| *v)),
                    "any" => Some(values.iter().any(|v| *v)),
                    _ if values.len() == 1 => Some(!values[0]),
                    _ => None,
                }
            }
            _ if self.eat('=') => {
                let v = self.string()?;
                Some(cfg.set.contains(&format!("{id}=\"{v}\"")))
            }
            _ => Some(cfg.set.contains(&id)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linux() -> TargetCfg {
        let lines: Vec<String> = [
            "panic=\"unwind\"",
            "target_arch=\"x86_64\"",
            "target_endian=\"little\"",
            "target_env=\"gnu\"",
            "target_family=\"unix\"",
            "target_os=\"linux\"",
            "target_pointer_width=\"64\"",
            "unix",
        ]
        .map(String::from)
        .to_vec();
        TargetCfg::new("x86_64-unknown-linux-gnu", &lines)
    }

    #[test]
    fn dependency_targets_are_evaluated_against_the_target_cfg() {
        let cfg = linux();
        for (platform, want) in [
            (None, true),
            (Some("x86_64-unknown-linux-gnu"), true),
            (Some("aarch64-unknown-linux-gnu"), false),
            (Some("cfg(unix)"), true),
            (Some("cfg(windows)"), false),
            (Some("cfg(target_os = \"linux\")"), true),
            (Some("cfg(target_os = \"wasi\")"), false),
            (Some("cfg(all(tokio_unstable, target_os = \"linux\"))"), false),
            (Some("cfg(any(unix, target_os = \"wasi\"))"), true),
            (Some("cfg(not(all(target_arch = \"wasm32\", any(target_os = \"unknown\", target_os = \"none\"))))"), true),
            (Some("cfg(all(unix, not(target_os = \"android\"), not(target_vendor = \"apple\"),))"), true),
            (Some("cfg(all())"), true),
            (Some("cfg(any())"), false),
        ] {
            assert_eq!(cfg.matches(platform), want, "{platform:?}");
        }
    }

    #[test]
    fn unreadable_expressions_count_as_applying() {
        let cfg = linux();
        for platform in [
            "cfg(all(windows)",
            "cfg(target_os = windows)",
            "cfg(not(unix, windows))",
            "cfg(windows) junk)",
        ] {
            assert!(cfg.matches(Some(platform)), "{platform}");
        }
    }
}
