//! The rule vocabulary: one line of metadata-action syntax parsed into a [`Rule`].

use std::fmt;
use std::str::FromStr;

use regex_lite::Regex;

use super::template::{Allowed, Expr, Template};

/// Attributes every rule type accepts.
pub(super) const COMMON_ATTRS: &[&str] = &["type", "enable", "priority", "prefix", "suffix"];
/// The rule types, as written after `type=`.
pub(super) const TYPES: &[&str] = &[
    "schedule", "semver", "pep440", "match", "edge", "ref", "raw", "sha",
];

/// One tag rule, parsed from metadata-action syntax: comma-separated `key=value` fields, where
/// a value (or a whole field) may be quoted with `"` to hold commas (`""` is a literal quote).
///
/// | type | priority | attributes |
/// |---|---|---|
/// | `schedule` | 1000 | `pattern` (default `nightly`, templated) |
/// | `semver`, `pep440` | 900 | `pattern` (required), `value`, `match` |
/// | `match` | 800 | `pattern` (regex, required), `group` (default 0), `value` |
/// | `edge` | 700 | `branch` (default: the default branch) |
/// | `ref` | 600 | `event=branch\|tag\|pr` (required; `pr` has default prefix `pr-`) |
/// | `raw` | 200 | `value` (required) |
/// | `sha` | 100 | `format=short\|long` (default short), default prefix `sha-` |
///
/// Every type also takes `enable`, `priority`, `prefix` and `suffix`. `prefix`, `suffix`,
/// `value`, `enable` and the schedule `pattern` may use the template expressions `{{branch}}`,
/// `{{tag}}`, `{{sha}}`, `{{base_ref}}`, `{{is_default_branch}}`, `{{date 'FORMAT'}}` and
/// `{{commit_date 'FORMAT'}}`. A semver `pattern` uses `{{version}}`, `{{major}}`,
/// `{{minor}}`, `{{patch}}` and `{{raw}}`.
///
/// `type=pep440` reads the version as PEP 440 (`1.2`, `1.2.3rc2`, `1.2post1`): `{{version}}`
/// is its normalised form (`1.1beta2` → `1.1b2`), `{{major}}`, `{{minor}}` and `{{patch}}` the
/// first three release numbers; pre-, post- and dev releases are prereleases.
///
/// As in metadata-action, a field without `=` is the value (`type=raw,foo`), and a rule
/// without `type=` is a raw rule (`foo` alone is `type=raw,value=foo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The rule as written.
    pub text: String,
    pub(super) kind: Kind,
    pub(super) priority: i64,
    pub(super) enable: Template,
    pub(super) prefix: Option<Template>,
    pub(super) suffix: Option<Template>,
    /// What the rule is accepted with but worth saying (an unquoted date format).
    pub(super) warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Kind {
    Schedule {
        pattern: Template,
    },
    Semver {
        pattern: Template,
        value: Option<Template>,
        matcher: Option<Pattern>,
        /// `type=pep440`: versions are read as PEP 440.
        pep440: bool,
    },
    Match {
        pattern: Pattern,
        group: usize,
        value: Option<Template>,
    },
    Edge {
        branch: Option<String>,
    },
    Ref {
        event: RefEvent,
    },
    Raw {
        value: Template,
    },
    Sha {
        long: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RefEvent {
    Branch,
    Tag,
    Pr,
}

/// A compiled regex that compares by its source text.
#[derive(Debug, Clone)]
pub(super) struct Pattern(pub(super) Regex);

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Eq for Pattern {}

/// stevedore's deliberate differences from metadata-action (README: "Tags"), as `init` names
/// them next to a rule they apply to.
pub const DIFFERENCE_FLOATING: &str = "a floating tag: it moves only when this is the highest \
    release (metadata-action moves it on every matching tag push), and a prerelease gives it \
    no tag (metadata-action gives the {{version}} tag instead)";
pub const DIFFERENCE_PR_COMMIT: &str = "on a pull request the commit is the head commit \
    (metadata-action: GitHub's merge commit)";

impl Rule {
    /// The documented differences from metadata-action that apply to this rule:
    /// [`DIFFERENCE_FLOATING`] for a semver/pep440 pattern without the full version
    /// (`{{major}}`, `{{major}}.{{minor}}`), [`DIFFERENCE_PR_COMMIT`] for a rule that names
    /// the commit (`type=sha`, `{{sha}}`) and can fire on a pull request.
    pub fn differences(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if let Kind::Semver { pattern, .. } = &self.kind {
            let full = pattern.uses(&Expr::Version) || pattern.uses(&Expr::Raw);
            if !full && (pattern.uses(&Expr::Major) || pattern.uses(&Expr::Minor)) {
                out.push(DIFFERENCE_FLOATING);
            }
        }
        let templates = [self.prefix.as_ref(), self.suffix.as_ref()];
        let names_sha = matches!(self.kind, Kind::Sha { .. })
            || templates.iter().flatten().any(|t| t.uses(&Expr::Sha))
            || matches!(&self.kind, Kind::Raw { value } if value.uses(&Expr::Sha));
        let on_pull_requests = !matches!(
            self.kind,
            Kind::Ref {
                event: RefEvent::Branch | RefEvent::Tag
            } | Kind::Semver { .. }
                | Kind::Match { .. }
                | Kind::Schedule { .. }
                | Kind::Edge { .. }
        );
        if names_sha && on_pull_requests {
            out.push(DIFFERENCE_PR_COMMIT);
        }
        out
    }

    /// metadata-action's default rule set: `schedule`, `ref,event=branch`, `ref,event=tag`,
    /// `ref,event=pr`.
    pub fn defaults() -> Vec<Rule> {
        [
            "type=schedule",
            "type=ref,event=branch",
            "type=ref,event=tag",
            "type=ref,event=pr",
        ]
        .iter()
        .map(|s| s.parse().expect("the default rules parse"))
        .collect()
    }

    /// The rule's type as written after `type=` (`semver` for `pep440` too).
    pub fn kind(&self) -> &'static str {
        match self.kind {
            Kind::Schedule { .. } => "schedule",
            Kind::Semver { .. } => "semver",
            Kind::Match { .. } => "match",
            Kind::Edge { .. } => "edge",
            Kind::Ref { .. } => "ref",
            Kind::Raw { .. } => "raw",
            Kind::Sha { .. } => "sha",
        }
    }

    /// Its priority: higher priorities come first in the output.
    pub fn priority(&self) -> i64 {
        self.priority
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A rule's `key=value` attributes (a field without `=` is the value), each given once, and its
/// type (`raw` when only a value is given), checked to allow every attribute.
fn attributes(s: &str) -> Result<(Vec<(String, String)>, String), String> {
    let mut attrs: Vec<(String, String)> = Vec::new();
    for field in split_fields(s)? {
        // As in metadata-action's tag.ts, a field without `=` is the value
        // (`type=raw,foo` is `type=raw,value=foo`).
        let (key, value) = match split_key_value(&field)? {
            Some(kv) => kv,
            None => ("value".to_string(), unquote(&field)),
        };
        if attrs.iter().any(|(k, _)| *k == key) {
            return Err(if key == "value" {
                "the value is given twice (a field without `=` is the value: \
                 write it once, as value=... or alone)"
                    .to_string()
            } else {
                format!("attribute `{key}` is given twice")
            });
        }
        attrs.push((key, value));
    }
    // As in metadata-action, a rule without `type=` is a raw rule (`foo` is
    // `type=raw,value=foo`).
    let ty = match attrs.iter().find(|(k, _)| k == "type") {
        Some((_, t)) => t.clone(),
        None => {
            if !attrs.iter().any(|(k, _)| k == "value") {
                return Err(format!(
                    "missing `type`: start the rule with type={} (for a fixed tag: \
                     type=raw,value=... or the value alone)",
                    TYPES.join("|")
                ));
            }
            "raw".to_string()
        }
    };
    let specific: &[&str] = match ty.as_str() {
        "schedule" => &["pattern"],
        "semver" | "pep440" => &["pattern", "value", "match"],
        "match" => &["pattern", "group", "value"],
        "edge" => &["branch"],
        "ref" => &["event"],
        "raw" => &["value"],
        "sha" => &["format"],
        other => {
            return Err(format!(
                "unknown type `{other}`: use one of {}",
                TYPES.join(", ")
            ))
        }
    };
    for (key, _) in &attrs {
        if !COMMON_ATTRS.contains(&key.as_str()) && !specific.contains(&key.as_str()) {
            let mut allowed = specific.to_vec();
            allowed.extend(COMMON_ATTRS.iter().filter(|a| **a != "type"));
            return Err(format!(
                "unknown attribute `{key}` for type={ty}: allowed are {}",
                allowed.join(", ")
            ));
        }
    }
    Ok((attrs, ty))
}

/// The warnings for the date formats in a rule's templates that are not quoted.
fn unquoted_date_warnings(
    s: &str,
    kind: &Kind,
    enable: &Template,
    prefix: &Option<Template>,
    suffix: &Option<Template>,
) -> Vec<String> {
    let mut templates = vec![enable];
    templates.extend(prefix.iter().chain(suffix.iter()));
    match kind {
        Kind::Schedule { pattern } => templates.push(pattern),
        Kind::Semver { value, .. } | Kind::Match { value, .. } => templates.extend(value),
        Kind::Raw { value } => templates.push(value),
        Kind::Edge { .. } | Kind::Ref { .. } | Kind::Sha { .. } => {}
    }
    templates
        .iter()
        .flat_map(|t| t.unquoted_formats())
        .map(|word| {
            format!(
                "tag rule {s:?}: the date format {word} is not quoted, so (as in \
                 metadata-action) it is ignored and the date renders as ISO 8601; quote it: \
                 '{word}'"
            )
        })
        .collect()
}

impl FromStr for Rule {
    type Err = String;

    fn from_str(s: &str) -> Result<Rule, String> {
        let (attrs, ty) = attributes(s)?;
        let get = |key: &str| {
            attrs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        let required = |key: &str, example: &str| -> Result<&str, String> {
            match get(key) {
                Some(v) if !v.is_empty() => Ok(v),
                _ => Err(format!(
                    "type={ty} needs the attribute `{key}` (e.g. {key}={example})"
                )),
            }
        };
        let context_template = |key: &str, text: &str| Template::parse(text, Allowed::Context, key);
        let optional_template = |key: &str| -> Result<Option<Template>, String> {
            get(key).map(|v| context_template(key, v)).transpose()
        };

        let mut default_prefix = None;
        let (kind, default_priority) = match ty.as_str() {
            "schedule" => (
                Kind::Schedule {
                    pattern: context_template("pattern", get("pattern").unwrap_or("nightly"))?,
                },
                1000,
            ),
            "semver" | "pep440" => (
                Kind::Semver {
                    pattern: Template::parse(
                        required("pattern", "{{version}}")?,
                        Allowed::Version,
                        "pattern",
                    )?,
                    value: optional_template("value")?,
                    matcher: get("match").map(|m| compile("match", m)).transpose()?,
                    pep440: ty == "pep440",
                },
                900,
            ),
            "match" => {
                let pattern = compile_match(required("pattern", r#""v(\d+\.\d+)""#)?)?;
                let group = match get("group") {
                    None => 0,
                    Some(g) => g.parse::<usize>().map_err(|_| {
                        format!("group={g:?} is not a capture group number: use 0, 1, 2, ...")
                    })?,
                };
                // A group the pattern does not have is not refused: as in metadata-action, the
                // rule is skipped with a warning when it runs.
                (
                    Kind::Match {
                        pattern,
                        group,
                        value: optional_template("value")?,
                    },
                    800,
                )
            }
            "edge" => (
                Kind::Edge {
                    branch: get("branch").map(str::to_string),
                },
                700,
            ),
            "ref" => {
                let event = match required("event", "branch")? {
                    "branch" => RefEvent::Branch,
                    "tag" => RefEvent::Tag,
                    "pr" => {
                        default_prefix = Some("pr-");
                        RefEvent::Pr
                    }
                    other => {
                        return Err(format!(
                        "event={other:?} is not allowed: use event=branch, event=tag or event=pr"
                    ))
                    }
                };
                (Kind::Ref { event }, 600)
            }
            "raw" => (
                Kind::Raw {
                    value: context_template("value", required("value", "latest")?)?,
                },
                200,
            ),
            // "sha": every other type was matched above.
            _ => {
                let long = match get("format") {
                    None | Some("short") => false,
                    Some("long") => true,
                    Some(other) => {
                        return Err(format!(
                            "format={other:?} is not allowed: use format=short (7 characters) or format=long"
                        ))
                    }
                };
                default_prefix = Some("sha-");
                (Kind::Sha { long }, 100)
            }
        };

        let priority = match get("priority") {
            None => default_priority,
            Some(p) => p
                .parse::<i64>()
                .map_err(|_| format!("priority={p:?} is not an integer (e.g. priority=650)"))?,
        };
        let enable = context_template("enable", get("enable").unwrap_or("true"))?;
        if enable.is_literal() {
            let text = enable.literal_text();
            if text != "true" && text != "false" {
                return Err(format!(
                    "enable={text:?} is not allowed: use true, false or a template such as {{{{is_default_branch}}}}"
                ));
            }
        }
        let prefix = match get("prefix") {
            Some(p) => Some(context_template("prefix", p)?),
            None => default_prefix.map(Template::literal),
        };
        let suffix = optional_template("suffix")?;
        let warnings = unquoted_date_warnings(s, &kind, &enable, &prefix, &suffix);
        Ok(Rule {
            text: s.to_string(),
            kind,
            priority,
            enable,
            prefix,
            suffix,
            warnings,
        })
    }
}

/// Splits a rule into its comma-separated fields, keeping quotes (they are removed later).
pub(super) fn split_fields(s: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            ',' if !quoted => fields.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    if quoted {
        return Err("a quote `\"` is not closed".into());
    }
    fields.push(current);
    Ok(fields
        .into_iter()
        .map(|f| f.trim().to_string())
        .filter(|f| !f.is_empty())
        .collect())
}

/// Splits `key=value`, `key="value"` or `"key=value"` into an unquoted key (lower-cased, as
/// metadata-action does) and value; `None` for a field without `=` (a bare value).
pub(super) fn split_key_value(field: &str) -> Result<Option<(String, String)>, String> {
    let mut quoted = false;
    let mut split = None;
    for (i, c) in field.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '=' if !quoted => {
                split = Some(i);
                break;
            }
            _ => {}
        }
    }
    let (key, value) = match split {
        Some(i) => (unquote(&field[..i]), unquote(field[i + 1..].trim())),
        None => {
            let whole = unquote(field);
            match whole.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => return Ok(None),
            }
        }
    };
    let key = key.trim().to_ascii_lowercase();
    if key.is_empty() {
        return Err(format!("{field:?} has no attribute name before `=`"));
    }
    Ok(Some((key, value)))
}

/// Removes CSV quoting: `"a,b"` → `a,b`, `""` inside quotes → `"`.
pub(super) fn unquote(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if c == '"' {
            if quoted && chars.peek() == Some(&'"') {
                out.push('"');
                chars.next();
            } else {
                quoted = !quoted;
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A `type=match` pattern: a regular expression, or as in metadata-action `/re/flags` with
/// the flags `i`, `m` and `s` (`g` and `u` change nothing for one match).
pub(super) fn compile_match(re: &str) -> Result<Pattern, String> {
    let slashed = re
        .strip_prefix('/')
        .and_then(|r| r.rsplit_once('/'))
        .filter(|(body, _)| !body.is_empty());
    let Some((body, flags)) = slashed else {
        return compile("pattern", re);
    };
    let mut inline = String::new();
    for f in flags.chars() {
        match f {
            'i' | 'm' | 's' => inline.push(f),
            'g' | 'u' => {}
            other => {
                return Err(format!(
                    "pattern={re:?}: the flag `{other}` is not supported: use i, m or s"
                ))
            }
        }
    }
    let full = if inline.is_empty() {
        body.to_string()
    } else {
        format!("(?{inline}){body}")
    };
    compile("pattern", &full)
}

pub(super) fn compile(key: &str, re: &str) -> Result<Pattern, String> {
    Regex::new(re)
        .map(Pattern)
        .map_err(|e| format!("{key}={re:?} is not a valid regular expression: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_name_the_problem() {
        let cases: &[(&str, &[&str])] = &[
            ("type=nope", &["unknown type `nope`", "semver"]),
            ("event=branch", &["missing `type`", "the value alone"]),
            ("type=raw,value=x,y", &["value is given twice", "alone"]),
            ("type=sha,prefix=a,prefix=b", &["`prefix` is given twice"]),
            ("type=semver", &["needs the attribute `pattern`"]),
            ("type=semver,pattern=", &["needs the attribute `pattern`"]),
            ("type=match", &["needs the attribute `pattern`"]),
            ("type=ref", &["needs the attribute `event`"]),
            ("type=raw", &["needs the attribute `value`"]),
            (
                "type=ref,event=push",
                &["event=\"push\"", "event=branch, event=tag or event=pr"],
            ),
            (
                "type=sha,format=medium",
                &["format=\"medium\"", "format=short", "format=long"],
            ),
            (
                "type=sha,pattern=x",
                &["unknown attribute `pattern` for type=sha", "format"],
            ),
            (
                "type=edge,event=tag",
                &["unknown attribute `event` for type=edge", "branch"],
            ),
            (
                "type=raw,value=x,priority=high",
                &["priority=\"high\"", "integer"],
            ),
            (
                "type=match,pattern=(",
                &["pattern=\"(\"", "regular expression"],
            ),
            (
                "type=semver,pattern={{version}},match=[",
                &["match=\"[\"", "regular expression"],
            ),
            (
                "type=match,pattern=x,group=one",
                &["group=\"one\"", "capture group"],
            ),
            (
                "type=raw,value=x,enable=yes",
                &["enable=\"yes\"", "true, false"],
            ),
            (
                "type=raw,value={{nope}}",
                &["value", "unknown template expression {{nope}}"],
            ),
            ("type=raw,value={{branch", &["value", "not closed"]),
            (
                "type=semver,pattern={{branch}}",
                &["pattern", "{{branch}}", "{{version}}"],
            ),
            ("type=raw,value={{date}}", &["{{date 'YYYYMMDD'}}"]),
            (
                "type=raw,value={{date 'YYYY' tz='Asia/Tokyo '}}",
                &["not an IANA time zone"],
            ),
            ("type=raw,value=x,value=y", &["value is given twice"]),
            ("type=match,pattern=/v(\\d)/x", &["flag `x`", "i, m or s"]),
            ("type=raw,value=\"x", &["quote"]),
            ("type=raw,=x", &["no attribute name"]),
        ];
        for (text, needles) in cases {
            let err = text.parse::<Rule>().unwrap_err();
            for needle in *needles {
                assert!(err.contains(needle), "{text:?}: {err:?} lacks {needle:?}");
            }
        }
    }
}
