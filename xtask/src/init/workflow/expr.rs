//! The `${{ … }}` expressions a workflow can resolve itself: `env.X` set at workflow, job or
//! step level, `matrix.X` (its lists and `include:` rows: every value), a job's `outputs`
//! read through `needs.JOB.outputs.X`, and `github.repository` and its kin from the checkout's
//! `origin`. Anything else (secrets, inputs, conditions, event fields) is only known when the
//! workflow runs.

use std::collections::BTreeMap;

use crate::yaml_positions::Node;

/// At most this many strings come out of one expansion (matrix values multiply).
const MAX_EXPANSIONS: usize = 64;

/// Names (`env.REGISTRY`, `matrix.platform`) and their values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    vars: BTreeMap<String, Vec<String>>,
    /// The image names each `run:` step of the job (by `id`) spells out: what its outputs,
    /// computed when the workflow runs, name.
    step_names: BTreeMap<String, Vec<String>>,
}

/// What a placeholder for an unknown expression is in an expanded string.
pub const UNKNOWN: char = '\u{1}';

impl Scope {
    pub fn set(&mut self, name: &str, values: Vec<String>) {
        if !values.is_empty() {
            self.vars.insert(name.to_string(), values);
        }
    }

    /// Adds the literal (or resolvable) `env:` entries of `node`.
    pub fn add_env(&mut self, node: Option<&Node>) {
        let Some(node) = node else { return };
        for (k, v) in node.entries() {
            let Some(raw) = v.as_str() else { continue };
            if let Ok(values) = self.expand(raw) {
                self.set(&format!("env.{k}"), values);
            }
        }
    }

    /// Adds `strategy.matrix` of a job: each key's list, and each `include:` row's values.
    pub fn add_matrix(&mut self, job: &Node) {
        let Some(matrix) = job.get("strategy").and_then(|s| s.get("matrix")) else {
            return;
        };
        let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut push = |k: &str, v: &str| {
            let list = values.entry(format!("matrix.{k}")).or_default();
            if !list.iter().any(|x| x == v) {
                list.push(v.to_string());
            }
        };
        for (k, v) in matrix.entries() {
            match k {
                "include" => {
                    for row in v.as_seq().unwrap_or_default() {
                        for (rk, rv) in row.entries() {
                            if let Some(s) = rv.as_str() {
                                push(rk, s);
                            }
                        }
                    }
                }
                "exclude" => {}
                _ => {
                    for item in v.as_seq().unwrap_or_default() {
                        if let Some(s) = item.as_str() {
                            push(k, s);
                        }
                        // A list of objects: `matrix.KEY.FIELD` (`{ platform: linux/amd64 }`).
                        for (field, value) in item.entries() {
                            if let Some(s) = value.as_str() {
                                push(&format!("{k}.{field}"), s);
                            }
                        }
                    }
                }
            }
        }
        for (k, v) in values {
            self.set(&k, v);
        }
    }

    /// Adds the outputs a `run:` step (`id`) writes as literals: `echo "KEY=VALUE" >>
    /// "$GITHUB_OUTPUT"` (every literal value a key is given, in order; a value holding `$` or
    /// a backquote is computed when the step runs and left out).
    pub fn add_step_outputs(&mut self, id: &str, run: &str) {
        for line in run.lines() {
            let line = line.trim();
            if !line.contains("GITHUB_OUTPUT") || !line.contains(">>") {
                continue;
            }
            let Some(rest) = line.strip_prefix("echo ") else {
                continue;
            };
            let assignment = rest.split(">>").next().unwrap_or("").trim();
            let assignment = assignment
                .strip_prefix('"')
                .and_then(|a| a.strip_suffix('"'))
                .or_else(|| {
                    assignment
                        .strip_prefix('\'')
                        .and_then(|a| a.strip_suffix('\''))
                })
                .unwrap_or(assignment);
            let Some((key, value)) = assignment.split_once('=') else {
                continue;
            };
            let plain_key = !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !plain_key || value.contains(['$', '`', '"', '\'']) || value.contains(UNKNOWN) {
                continue;
            }
            let list = self
                .vars
                .entry(format!("steps.{id}.outputs.{key}"))
                .or_default();
            if !list.iter().any(|v| v == value) {
                list.push(value.to_string());
            }
        }
    }

    /// Records the image names the `run:` step `id` spells out.
    pub fn set_step_names(&mut self, id: &str, names: Vec<String>) {
        if !names.is_empty() {
            self.step_names.insert(id.to_string(), names);
        }
    }

    /// For `${{ steps.ID.outputs.X }}` (the whole text) where `ID` is a `run:` step that spells
    /// out image names: its id and those names.
    pub fn step_names(&self, text: &str) -> Option<(&str, &[String])> {
        let inner = text
            .trim()
            .strip_prefix("${{")?
            .strip_suffix("}}")?
            .trim()
            .strip_prefix("steps.")?;
        let (id, _) = inner.split_once(".outputs.")?;
        let (id, names) = self.step_names.get_key_value(id)?;
        Some((id.as_str(), names.as_slice()))
    }

    /// This scope less the `github.*` names (for metadata-action's inputs, whose
    /// `github.repository` is expanded and reported where it is read).
    pub fn without_github(&self) -> Scope {
        let mut s = self.clone();
        s.vars.retain(|k, _| !k.starts_with("github."));
        s
    }

    /// `text` with every `${{ name }}` replaced by its values (several values: one string
    /// each); `Err` names the first expression this scope does not know.
    pub fn expand(&self, text: &str) -> Result<Vec<String>, String> {
        let out = self.expand_lenient(text);
        match unknowns(text, self).into_iter().next() {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    /// `text` with the known expressions replaced and each unknown one as [`UNKNOWN`].
    pub fn expand_lenient(&self, text: &str) -> Vec<String> {
        let mut outs = vec![String::new()];
        let mut rest = text;
        while let Some(start) = rest.find("${{") {
            let Some(len) = rest[start..].find("}}") else {
                break;
            };
            let inner = rest[start + 3..start + len].trim();
            let prefix = &rest[..start];
            let values: Vec<String> = match self.vars.get(inner) {
                Some(v) => v.clone(),
                None => vec![UNKNOWN.to_string()],
            };
            let mut next = Vec::new();
            for o in &outs {
                for v in &values {
                    if next.len() < MAX_EXPANSIONS {
                        next.push(format!("{o}{prefix}{v}"));
                    }
                }
            }
            outs = next;
            rest = &rest[start + len + 2..];
        }
        for o in &mut outs {
            o.push_str(rest);
        }
        outs
    }
}

/// The expressions of `text` that `scope` does not know.
fn unknowns(text: &str, scope: &Scope) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        let inner = rest[start + 3..start + len].trim();
        if !scope.vars.contains_key(inner) {
            out.push(format!("${{{{ {inner} }}}}"));
        }
        rest = &rest[start + len + 2..];
    }
    out
}

/// A build arg's value with the run's facts stevedore has templates for: `github.sha` →
/// `{{sha}}`, `github.ref_name` on a branch → `{{branch}}` is not the same on tags and stays
/// unknown, `steps.ID.outputs.version` (metadata-action's) → `{{version}}`.
pub fn build_arg_templates(value: &str) -> String {
    let re = regex_lite::Regex::new(
        r"\$\{\{\s*(github\.sha|steps\.[A-Za-z0-9_-]+\.outputs\.version)\s*\}\}",
    )
    .expect("a valid regex");
    re.replace_all(value, |c: &regex_lite::Captures| {
        if &c[1] == "github.sha" {
            "{{sha}}".to_string()
        } else {
            "{{version}}".to_string()
        }
    })
    .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        let mut s = Scope::default();
        s.set("env.REGISTRY", vec!["ghcr.io".into()]);
        s.set("github.repository", vec!["acme/app".into()]);
        s.set(
            "matrix.platform",
            vec!["linux/amd64".into(), "linux/arm64".into()],
        );
        s
    }

    #[test]
    fn known_expressions_expand_and_unknown_ones_are_named() {
        let s = scope();
        let cases: &[(&str, Result<Vec<&str>, &str>)] = &[
            ("plain", Ok(vec!["plain"])),
            (
                "${{ env.REGISTRY }}/${{github.repository}}",
                Ok(vec!["ghcr.io/acme/app"]),
            ),
            (
                "${{ matrix.platform }}",
                Ok(vec!["linux/amd64", "linux/arm64"]),
            ),
            (
                "${{ env.REGISTRY }}:${{ secrets.X }}",
                Err("${{ secrets.X }}"),
            ),
        ];
        for (text, want) in cases {
            let got = s.expand(text);
            let want = want
                .clone()
                .map(|v| v.iter().map(|x| x.to_string()).collect::<Vec<_>>())
                .map_err(str::to_string);
            assert_eq!(got, want, "{text}");
        }
        assert_eq!(
            s.expand_lenient("ghcr.io/${{ github.repository }}:${{ env.T }}-${{ matrix.platform == 'linux/amd64' && 'amd64' || 'arm64' }}"),
            ["ghcr.io/acme/app:\u{1}-\u{1}"]
        );
    }

    #[test]
    fn build_args_get_stevedores_templates_for_the_sha_and_the_version() {
        let cases = [
            ("${{ github.sha }}", "{{sha}}"),
            ("${{ steps.meta.outputs.version }}", "{{version}}"),
            ("v${{steps.docker_meta.outputs.version}}", "v{{version}}"),
            (
                "${{ steps.hatch.outputs.ver }}",
                "${{ steps.hatch.outputs.ver }}",
            ),
            ("42110", "42110"),
        ];
        for (raw, want) in cases {
            assert_eq!(build_arg_templates(raw), want, "{raw}");
        }
    }
}
