//! The tag engine: docker/metadata-action's rule vocabulary, with its pain points fixed.
//!
//! A [`Rule`] is one line of metadata-action syntax (`type=semver,pattern={{major}}.{{minor}}`).
//! [`compute`] turns the rules, the `latest` policy and the flavor into the tags of one build,
//! given what is known about the commit being built ([`RefContext`]).
//!
//! Where stevedore differs from the action, on purpose:
//! - floating tags (`{{major}}`, `{{major}}.{{minor}}`, `latest`) move only when the version
//!   released is the highest non-prerelease version of its range among the repository's tags;
//! - `{{major}}` alone never emits `0`;
//! - a prerelease keeps the literal text of a `{{version}}` pattern (`v{{version}}` gives
//!   `v1.3.0-rc.1`), and floating patterns emit nothing for it;
//! - every tag is made valid for the registry grammar `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`, and
//!   every rewrite is reported in [`TagSet::rewritten`];
//! - `type=semver` works on any event whose ref is a version tag, or when `value` is given.

use std::fmt;
use std::str::FromStr;

use regex_lite::Regex;
use semver::Version;
use sha2::{Digest, Sha256};

use crate::config::{Flavor, Latest};
use crate::plan::context::{Event, GitRef, RefContext};
use crate::plan::version::civil_from_days;
use crate::reference::is_valid_tag;

/// The longest tag the registry grammar allows.
const MAX_TAG_LEN: usize = 128;
/// Where an over-long tag is cut before `-` and a 7-hex-digit hash are appended.
const TRUNCATED_LEN: usize = 120;

/// Attributes every rule type accepts.
const COMMON_ATTRS: &[&str] = &["type", "enable", "priority", "prefix", "suffix"];
/// The rule types, as written after `type=`.
const TYPES: &[&str] = &[
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
/// `type=pep440` is accepted for compatibility and behaves exactly like `type=semver`: a
/// version that is plain semver (`1.2.3`, `v1.2.3`) renders the same; PEP 440-only forms such
/// as `1.2` or `1.2.3rc1` emit nothing.
///
/// A rule without `type=` is an error (the action's bare-value shorthand is not accepted, so a
/// typo never becomes a tag): write `type=raw,value=...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The rule as written.
    pub text: String,
    kind: Kind,
    priority: i64,
    enable: Template,
    prefix: Option<Template>,
    suffix: Option<Template>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Schedule {
        pattern: Template,
    },
    Semver {
        pattern: Template,
        value: Option<Template>,
        matcher: Option<Pattern>,
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
enum RefEvent {
    Branch,
    Tag,
    Pr,
}

/// A compiled regex that compares by its source text.
#[derive(Debug, Clone)]
struct Pattern(Regex);

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Eq for Pattern {}

impl Rule {
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

impl FromStr for Rule {
    type Err = String;

    fn from_str(s: &str) -> Result<Rule, String> {
        let mut attrs: Vec<(String, String)> = Vec::new();
        for field in split_fields(s)? {
            let (key, value) = split_key_value(&field)?;
            if attrs.iter().any(|(k, _)| *k == key) {
                return Err(format!("attribute `{key}` is given twice"));
            }
            attrs.push((key, value));
        }
        let ty = match attrs.iter().find(|(k, _)| k == "type") {
            Some((_, t)) => t.clone(),
            None => {
                return Err(format!(
                "missing `type`: start the rule with type={} (for a fixed tag: type=raw,value=...)",
                TYPES.join("|")
            ))
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
                },
                900,
            ),
            "match" => {
                let pattern = compile("pattern", required("pattern", r#""v(\d+\.\d+)""#)?)?;
                let group = match get("group") {
                    None => 0,
                    Some(g) => g.parse::<usize>().map_err(|_| {
                        format!("group={g:?} is not a capture group number: use 0, 1, 2, ...")
                    })?,
                };
                let groups = pattern.0.captures_len();
                if group >= groups {
                    return Err(format!(
                        "group={group} does not exist: the pattern has capture groups 0 to {}",
                        groups - 1
                    ));
                }
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
        Ok(Rule {
            text: s.to_string(),
            kind,
            priority,
            enable,
            prefix,
            suffix: optional_template("suffix")?,
        })
    }
}

/// Splits a rule into its comma-separated fields, keeping quotes (they are removed later).
fn split_fields(s: &str) -> Result<Vec<String>, String> {
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

/// Splits `key=value`, `key="value"` or `"key=value"` into an unquoted key and value.
fn split_key_value(field: &str) -> Result<(String, String), String> {
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
                None => {
                    return Err(format!(
                    "{field:?} is not a key=value field (e.g. type=semver,pattern={{{{version}}}})"
                ))
                }
            }
        }
    };
    let key = key.trim().to_string();
    if key.is_empty() {
        return Err(format!("{field:?} has no attribute name before `=`"));
    }
    Ok((key, value))
}

/// Removes CSV quoting: `"a,b"` → `a,b`, `""` inside quotes → `"`.
fn unquote(s: &str) -> String {
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

fn compile(key: &str, re: &str) -> Result<Pattern, String> {
    Regex::new(re)
        .map(Pattern)
        .map_err(|e| format!("{key}={re:?} is not a valid regular expression: {e}"))
}

/// Which template expressions a field may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Allowed {
    /// `{{branch}}`, `{{tag}}`, `{{sha}}`, `{{base_ref}}`, `{{is_default_branch}}`, dates.
    Context,
    /// `{{version}}`, `{{major}}`, `{{minor}}`, `{{patch}}`, `{{raw}}`.
    Version,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Expr {
    Branch,
    Tag,
    Sha,
    BaseRef,
    IsDefaultBranch,
    Date(String),
    CommitDate(String),
    Version,
    Major,
    Minor,
    Patch,
    Raw,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Expr(Expr),
}

/// A parsed `{{...}}` template.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Template(Vec<Part>);

/// The numbers of a version a semver pattern renders.
struct VersionVars<'a> {
    version: &'a Version,
    raw: &'a str,
}

impl Template {
    fn literal(text: &str) -> Template {
        Template(vec![Part::Text(text.to_string())])
    }

    fn parse(text: &str, allowed: Allowed, key: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| format!("{key}: `{{{{` is not closed by `}}}}` in {text:?}"))?;
            parts.push(Part::Expr(parse_expr(after[..end].trim(), allowed, key)?));
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template(parts))
    }

    fn is_literal(&self) -> bool {
        self.0.iter().all(|p| matches!(p, Part::Text(_)))
    }

    fn literal_text(&self) -> String {
        self.0
            .iter()
            .filter_map(|p| match p {
                Part::Text(t) => Some(t.as_str()),
                Part::Expr(_) => None,
            })
            .collect()
    }

    fn uses(&self, expr: &Expr) -> bool {
        self.0
            .iter()
            .any(|p| matches!(p, Part::Expr(e) if e == expr))
    }

    fn render(&self, ctx: &RefContext, version: Option<&VersionVars>) -> String {
        let mut out = String::new();
        for part in &self.0 {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Expr(e) => out.push_str(&render_expr(e, ctx, version)),
            }
        }
        out
    }
}

fn parse_expr(expr: &str, allowed: Allowed, key: &str) -> Result<Expr, String> {
    let parsed = match (allowed, expr) {
        (Allowed::Context, "branch") => Expr::Branch,
        (Allowed::Context, "tag") => Expr::Tag,
        (Allowed::Context, "sha") => Expr::Sha,
        (Allowed::Context, "base_ref") => Expr::BaseRef,
        (Allowed::Context, "is_default_branch") => Expr::IsDefaultBranch,
        (Allowed::Version, "version") => Expr::Version,
        (Allowed::Version, "major") => Expr::Major,
        (Allowed::Version, "minor") => Expr::Minor,
        (Allowed::Version, "patch") => Expr::Patch,
        (Allowed::Version, "raw") => Expr::Raw,
        (Allowed::Context, _) => {
            let (name, args) = expr.split_once(char::is_whitespace).unwrap_or((expr, ""));
            match name {
                "date" => Expr::Date(parse_date_args(args, key, name)?),
                "commit_date" => Expr::CommitDate(parse_date_args(args, key, name)?),
                _ => {
                    return Err(format!(
                        "{key}: unknown template expression {{{{{expr}}}}}: use {{{{branch}}}}, \
                         {{{{tag}}}}, {{{{sha}}}}, {{{{base_ref}}}}, {{{{is_default_branch}}}}, \
                         {{{{date 'YYYYMMDD'}}}} or {{{{commit_date 'YYYYMMDD'}}}}"
                    ))
                }
            }
        }
        (Allowed::Version, _) => {
            return Err(format!(
                "{key}: unknown template expression {{{{{expr}}}}} in a semver pattern: use \
                 {{{{version}}}}, {{{{major}}}}, {{{{minor}}}}, {{{{patch}}}} or {{{{raw}}}} \
                 (put branch, sha or date expressions in prefix or suffix)"
            ))
        }
    };
    Ok(parsed)
}

/// Parses `'FORMAT'` (or `"FORMAT"`), optionally followed by `tz='UTC'`.
fn parse_date_args(args: &str, key: &str, name: &str) -> Result<String, String> {
    let usage = || format!("{key}: write {{{{{name} 'YYYYMMDD'}}}} (a quoted format, UTC only)");
    let args = args.trim();
    let quote = args.chars().next().filter(|c| *c == '\'' || *c == '"');
    let Some(q) = quote else {
        return Err(usage());
    };
    let inner = &args[1..];
    let end = inner.find(q).ok_or_else(usage)?;
    let format = inner[..end].to_string();
    let rest = inner[end + 1..].trim();
    if !rest.is_empty() {
        let tz = rest
            .strip_prefix("tz=")
            .map(|t| t.trim_matches(|c| c == '\'' || c == '"'));
        if !matches!(tz, Some("UTC" | "Etc/UTC")) {
            return Err(format!(
                "{key}: {{{{{name} ...}}}} renders in UTC only; remove {rest:?}"
            ));
        }
    }
    Ok(format)
}

fn render_expr(expr: &Expr, ctx: &RefContext, version: Option<&VersionVars>) -> String {
    match expr {
        Expr::Branch => ctx.branch().unwrap_or_default().to_string(),
        Expr::Tag => ctx.tag().unwrap_or_default().to_string(),
        Expr::Sha => short_sha(&ctx.sha),
        Expr::BaseRef => match &ctx.git_ref {
            GitRef::PullRequest { base_ref, .. } => base_ref.clone(),
            _ => String::new(),
        },
        Expr::IsDefaultBranch => ctx.is_default_branch().to_string(),
        Expr::Date(format) => format_time(ctx.now, format),
        Expr::CommitDate(format) => format_time(ctx.commit_time, format),
        Expr::Version => version.map_or_else(String::new, |v| version_text(v.version)),
        Expr::Major => version.map_or_else(String::new, |v| v.version.major.to_string()),
        Expr::Minor => version.map_or_else(String::new, |v| v.version.minor.to_string()),
        Expr::Patch => version.map_or_else(String::new, |v| v.version.patch.to_string()),
        Expr::Raw => version.map_or_else(String::new, |v| v.raw.to_string()),
    }
}

fn short_sha(sha: &str) -> String {
    sha.chars().take(7).collect()
}

/// `{{version}}`: the version without a leading `v` and without `+build` metadata.
fn version_text(v: &Version) -> String {
    if v.pre.is_empty() {
        format!("{}.{}.{}", v.major, v.minor, v.patch)
    } else {
        format!("{}.{}.{}-{}", v.major, v.minor, v.patch, v.pre)
    }
}

/// Renders `secs` (seconds since the epoch, UTC) with moment.js-style tokens: `YYYY`, `YY`,
/// `MM`, `DD`, `HH`, `hh` (12-hour), `mm`, `ss`; text in `[...]` and any other character is
/// copied as is.
fn format_time(secs: i64, format: &str) -> String {
    let days = secs.div_euclid(86_400);
    let in_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let (hour, minute, second) = (in_day / 3600, in_day % 3600 / 60, in_day % 60);
    let hour12 = if hour % 12 == 0 { 12 } else { hour % 12 };
    let tokens: [(&str, String); 8] = [
        ("YYYY", format!("{year:04}")),
        ("YY", format!("{:02}", year.rem_euclid(100))),
        ("MM", format!("{month:02}")),
        ("DD", format!("{day:02}")),
        ("HH", format!("{hour:02}")),
        ("hh", format!("{hour12:02}")),
        ("mm", format!("{minute:02}")),
        ("ss", format!("{second:02}")),
    ];
    let mut out = String::new();
    let mut rest = format;
    'outer: while let Some(c) = rest.chars().next() {
        if c == '[' {
            if let Some(end) = rest.find(']') {
                out.push_str(&rest[1..end]);
                rest = &rest[end + 1..];
                continue;
            }
        }
        for (token, value) in &tokens {
            if let Some(after) = rest.strip_prefix(token) {
                out.push_str(value);
                rest = after;
                continue 'outer;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Parses a version tag: `v1.2.3`, `1.2.3`, `v1.3.0-rc.1`, `1.2.3+build.5`. The leading `v` is
/// optional; the rest must be strict semver (`1.2`, `V1.2.3` and ` 1.2.3` are not versions).
pub fn version_of_tag(tag: &str) -> Option<Version> {
    Version::parse(tag.strip_prefix('v').unwrap_or(tag)).ok()
}

/// A tag the engine had to rewrite to make it valid for the registry grammar.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rewrite {
    /// The tag as the rule rendered it.
    pub from: String,
    /// The tag emitted; empty when nothing valid was left and no tag was emitted.
    pub to: String,
    /// What was changed and why.
    pub reason: String,
}

/// The tags of one build.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct TagSet {
    /// Tags in rule-priority order (`latest` last), de-duplicated.
    pub tags: Vec<String>,
    /// Every tag that had to be rewritten to be valid, in the order met.
    pub rewritten: Vec<Rewrite>,
}

impl TagSet {
    /// Adds `raw` once made valid; records the rewrite when one was needed.
    fn push(&mut self, raw: &str) {
        let (tag, reasons) = make_valid(raw);
        if !reasons.is_empty() {
            let rewrite = Rewrite {
                from: raw.to_string(),
                to: tag.clone(),
                reason: reasons.join("; "),
            };
            if !self.rewritten.contains(&rewrite) {
                self.rewritten.push(rewrite);
            }
        }
        if !tag.is_empty() && !self.tags.contains(&tag) {
            self.tags.push(tag);
        }
    }
}

/// Makes `raw` a valid tag: runs of characters outside `[A-Za-z0-9._-]` become `-`, leading
/// `.` and `-` are stripped, and a tag over 128 characters is cut to 120 plus `-` and 7 hex
/// digits of the SHA-256 of the whole sanitised tag. Returns the tag (empty when nothing is
/// left) and the reasons for each change made.
fn make_valid(raw: &str) -> (String, Vec<String>) {
    let mut reasons = Vec::new();
    let mut tag = String::with_capacity(raw.len());
    let mut in_run = false;
    for c in raw.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
            tag.push(c);
            in_run = false;
        } else if !in_run {
            tag.push('-');
            in_run = true;
        }
    }
    if tag != raw {
        reasons.push("characters outside [A-Za-z0-9._-] replaced with `-`".to_string());
    }
    let trimmed = tag.trim_start_matches(['.', '-']);
    if trimmed.len() != tag.len() {
        reasons.push("a tag cannot start with `.` or `-`: leading ones removed".to_string());
        tag = trimmed.to_string();
    }
    if tag.len() > MAX_TAG_LEN {
        let digest = Sha256::digest(tag.as_bytes());
        let hash: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        // Only ASCII is left, so byte offsets are character offsets.
        tag = format!("{}-{}", &tag[..TRUNCATED_LEN], &hash[..7]);
        reasons.push(format!(
            "longer than {MAX_TAG_LEN} characters: cut to {TRUNCATED_LEN} plus a hash of the whole tag"
        ));
    }
    if tag.is_empty() && !raw.is_empty() {
        reasons.push("nothing valid is left: no tag emitted".to_string());
    }
    debug_assert!(tag.is_empty() || is_valid_tag(&tag), "{tag:?}");
    (tag, reasons)
}

/// Which released versions a floating tag spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Range {
    /// `latest`, or a pattern naming neither `{{major}}` nor `{{minor}}`.
    All,
    /// `{{major}}`.
    Major,
    /// `{{major}}.{{minor}}` (any pattern naming `{{minor}}`).
    MajorMinor,
}

/// True when `v` is a release (not a prerelease) and no release among the repository's tags in
/// the same range is higher. `v1.2.3` and `1.2.3` count as one version; build metadata is
/// ignored.
fn is_highest(v: &Version, range: Range, repo_tags: &[String]) -> bool {
    if !v.pre.is_empty() {
        return false;
    }
    let key = |v: &Version| (v.major, v.minor, v.patch);
    !repo_tags
        .iter()
        .filter_map(|t| version_of_tag(t))
        .filter(|r| r.pre.is_empty())
        .filter(|r| match range {
            Range::All => true,
            Range::Major => r.major == v.major,
            Range::MajorMinor => r.major == v.major && r.minor == v.minor,
        })
        .any(|r| key(&r) > key(v))
}

/// Computes the tags of one build.
///
/// Each enabled rule emits at most one tag; tags come in rule-priority order (highest first,
/// rule order among equals), then `latest`, de-duplicated keeping the first. `latest` is added
/// always (`Latest::True`), never (`Latest::False`), or (`Latest::Auto`) exactly when the ref is
/// a tag whose version — from the first semver rule that parses one, else the tag name itself —
/// is not a prerelease and is the highest release among `ctx.repo_tags`. (To tag the default
/// branch `latest`, add `type=raw,value=latest,enable={{is_default_branch}}`.)
///
/// The flavor's prefix and suffix go on every tag whose rule sets none of its own (`sha` and
/// `ref,event=pr` have their own default prefixes), and on `latest` only with `onlatest`.
///
/// Errors: a rule's `enable` that does not render `true` or `false` (the message names the
/// rule), or a flavor prefix/suffix with an unknown template expression.
///
/// Every tag emitted is valid for the registry grammar; see [`TagSet::rewritten`] for those
/// that had to be changed (leading `.`/`-` stripped, over-long tags cut to 120 characters plus
/// `-` and 7 hex digits of the SHA-256 of the whole tag).
pub fn compute(
    rules: &[Rule],
    latest: Latest,
    flavor: &Flavor,
    ctx: &RefContext,
) -> Result<TagSet, String> {
    let flavor_prefix = Template::parse(&flavor.prefix, Allowed::Context, "flavor.prefix")?;
    let flavor_suffix = Template::parse(&flavor.suffix, Allowed::Context, "flavor.suffix")?;
    let flavor_prefix = flavor_prefix.render(ctx, None);
    let flavor_suffix = flavor_suffix.render(ctx, None);

    let mut emitted: Vec<(i64, String)> = Vec::new();
    let mut released: Option<Version> = None;
    for rule in rules {
        match rule.enable.render(ctx, None).as_str() {
            "true" => {}
            "false" => continue,
            other => {
                return Err(format!(
                    "tag rule {:?}: enable rendered {other:?}; it must render true or false",
                    rule.text
                ))
            }
        }
        let value = match &rule.kind {
            Kind::Semver { .. } => {
                let Some((version, raw)) = semver_input(rule, ctx) else {
                    continue;
                };
                if released.is_none() {
                    released = Some(version.clone());
                }
                render_semver(rule, &version, &raw, ctx)
            }
            _ => rule_value(rule, ctx),
        };
        let Some(value) = value.filter(|v| !v.is_empty()) else {
            continue;
        };
        let prefix = rule
            .prefix
            .as_ref()
            .map_or_else(|| flavor_prefix.clone(), |p| p.render(ctx, None));
        let suffix = rule
            .suffix
            .as_ref()
            .map_or_else(|| flavor_suffix.clone(), |s| s.render(ctx, None));
        emitted.push((rule.priority, format!("{prefix}{value}{suffix}")));
    }
    // A stable sort keeps rule order among equal priorities.
    emitted.sort_by_key(|(priority, _)| std::cmp::Reverse(*priority));

    let add_latest = match latest {
        Latest::True => true,
        Latest::False => false,
        Latest::Auto => match &ctx.git_ref {
            GitRef::Tag { name } => released
                .or_else(|| version_of_tag(name))
                .is_some_and(|v| is_highest(&v, Range::All, &ctx.repo_tags)),
            _ => false,
        },
    };

    let mut set = TagSet::default();
    for (_, tag) in &emitted {
        set.push(tag);
    }
    if add_latest {
        if flavor.onlatest {
            set.push(&format!("{flavor_prefix}latest{flavor_suffix}"));
        } else {
            set.push("latest");
        }
    }
    Ok(set)
}

/// The value (without prefix and suffix) of a non-semver rule, when it fires.
fn rule_value(rule: &Rule, ctx: &RefContext) -> Option<String> {
    match &rule.kind {
        Kind::Schedule { pattern } => {
            (ctx.event == Event::Schedule).then(|| pattern.render(ctx, None))
        }
        Kind::Semver { .. } => None,
        Kind::Match {
            pattern,
            group,
            value,
        } => {
            let input = match value {
                Some(v) => v.render(ctx, None),
                None => ctx.tag()?.to_string(),
            };
            let captures = pattern.0.captures(&input)?;
            Some(captures.get(*group)?.as_str().to_string())
        }
        Kind::Edge { branch } => {
            let wanted = branch.as_deref().unwrap_or(&ctx.default_branch);
            matches!(&ctx.git_ref, GitRef::Branch { name } if name == wanted)
                .then(|| "edge".to_string())
        }
        Kind::Ref { event } => match (event, &ctx.git_ref) {
            (RefEvent::Branch, GitRef::Branch { name }) => Some(name.clone()),
            (RefEvent::Tag, GitRef::Tag { name }) => Some(name.clone()),
            (RefEvent::Pr, GitRef::PullRequest { number, .. }) => Some(number.to_string()),
            _ => None,
        },
        Kind::Raw { value } => Some(value.render(ctx, None)),
        Kind::Sha { long } => {
            if *long {
                Some(ctx.sha.clone())
            } else {
                Some(short_sha(&ctx.sha))
            }
        }
    }
}

/// The version a semver rule releases and its raw text: `value` (templated) or the tag name,
/// narrowed by `match` (capture group 1, or the whole match without groups).
fn semver_input(rule: &Rule, ctx: &RefContext) -> Option<(Version, String)> {
    let Kind::Semver { value, matcher, .. } = &rule.kind else {
        return None;
    };
    let mut raw = match value {
        Some(v) => v.render(ctx, None),
        None => ctx.tag()?.to_string(),
    };
    if let Some(m) = matcher {
        let captures = m.0.captures(&raw)?;
        let group = usize::from(m.0.captures_len() > 1);
        raw = captures.get(group)?.as_str().to_string();
    }
    Some((version_of_tag(&raw)?, raw))
}

/// Renders a semver pattern, or nothing when stevedore's rules hold the tag back: floating
/// patterns (no `{{version}}`, `{{raw}}` or `{{patch}}`) emit only for the highest release of
/// their range and never for a prerelease; `{{major}}` alone never emits `0`; for a prerelease
/// only patterns with `{{version}}` or `{{raw}}` emit.
fn render_semver(rule: &Rule, version: &Version, raw: &str, ctx: &RefContext) -> Option<String> {
    let Kind::Semver { pattern, .. } = &rule.kind else {
        return None;
    };
    let exact = pattern.uses(&Expr::Version) || pattern.uses(&Expr::Raw);
    let floating = !exact && !pattern.uses(&Expr::Patch);
    if !version.pre.is_empty() && !exact {
        return None;
    }
    if floating {
        let range = if pattern.uses(&Expr::Minor) {
            Range::MajorMinor
        } else if pattern.uses(&Expr::Major) {
            Range::Major
        } else {
            Range::All
        };
        if range == Range::Major && version.major == 0 {
            return None;
        }
        if !is_highest(version, range, &ctx.repo_tags) {
            return None;
        }
    }
    Some(pattern.render(ctx, Some(&VersionVars { version, raw })))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "abc1234def5678abc1234def5678abc1234def56";
    /// 2023-11-14T22:13:20Z.
    const NOW: i64 = 1_700_000_000;
    /// 2023-11-13T08:05:09Z.
    const COMMIT: i64 = 1_699_862_709;

    fn ctx(git_ref: GitRef) -> RefContext {
        RefContext {
            event: Event::Push,
            git_ref,
            sha: SHA.into(),
            commit_time: COMMIT,
            now: NOW,
            default_branch: "main".into(),
            repo_tags: Vec::new(),
        }
    }

    fn branch(name: &str) -> RefContext {
        ctx(GitRef::Branch { name: name.into() })
    }

    fn tag(name: &str, repo_tags: &[&str]) -> RefContext {
        let mut c = ctx(GitRef::Tag { name: name.into() });
        c.repo_tags = repo_tags.iter().map(|t| t.to_string()).collect();
        c
    }

    fn pr(number: u64, head: &str, base: &str) -> RefContext {
        let mut c = ctx(GitRef::PullRequest {
            number,
            head_ref: head.into(),
            base_ref: base.into(),
        });
        c.event = Event::PullRequest;
        c
    }

    fn rules(texts: &[&str]) -> Vec<Rule> {
        texts
            .iter()
            .map(|t| t.parse().unwrap_or_else(|e| panic!("{t:?}: {e}")))
            .collect()
    }

    fn set_with(texts: &[&str], latest: Latest, flavor: &Flavor, c: &RefContext) -> TagSet {
        compute(&rules(texts), latest, flavor, c).unwrap()
    }

    fn tags(texts: &[&str], latest: Latest, c: &RefContext) -> Vec<String> {
        set_with(texts, latest, &Flavor::default(), c).tags
    }

    const SEMVER3: &[&str] = &[
        "type=semver,pattern=v{{version}}",
        "type=semver,pattern={{major}}.{{minor}}",
        "type=semver,pattern={{major}}",
    ];

    #[test]
    fn acceptance_semver_cases() {
        let cases: &[(&str, &[&str], &[&str])] = &[
            ("v1.2.3", &["v1.2.3", "v2.0.0"], &["v1.2.3", "1.2", "1"]),
            (
                "v2.1.0",
                &["v1.2.3", "v2.0.0", "v2.1.0"],
                &["v2.1.0", "2.1", "2", "latest"],
            ),
            (
                "v0.3.1",
                &["v0.3.0", "v0.3.1"],
                &["v0.3.1", "0.3", "latest"],
            ),
            ("v0.3.1", &["v0.3.1", "v1.0.0"], &["v0.3.1", "0.3"]),
            ("v1.3.0-rc.1", &["v1.2.3", "v1.3.0-rc.1"], &["v1.3.0-rc.1"]),
            (
                "v1.9.1",
                &["v1.9.0", "v1.10.0", "v1.9.1"],
                &["v1.9.1", "1.9"],
            ),
        ];
        for (name, repo, want) in cases {
            assert_eq!(
                tags(SEMVER3, Latest::Auto, &tag(name, repo)),
                *want,
                "tag {name} with {repo:?}"
            );
        }
    }

    #[test]
    fn floating_ranges_compare_releases_only() {
        let cases: &[(&str, &[&str], &[&str])] = &[
            // A higher patch in the same minor holds back both floating tags.
            ("v1.2.3", &["v1.2.4"], &["v1.2.3"]),
            // A higher minor holds back `1` but not `1.2`.
            ("v1.2.3", &["v1.3.0"], &["v1.2.3", "1.2"]),
            // Prereleases, unparsable tags and other majors do not count.
            (
                "v1.2.3",
                &["v1.3.0-rc.1", "release-9", "v1.9", "v0.9.9"],
                &["v1.2.3", "1.2", "1", "latest"],
            ),
            // `1.2.3` and `v1.2.3` are one version; the released tag need not be listed yet.
            ("v1.2.3", &["1.2.3"], &["v1.2.3", "1.2", "1", "latest"]),
            ("v1.2.3", &[], &["v1.2.3", "1.2", "1", "latest"]),
            // Build metadata does not make a version higher.
            (
                "v1.2.3",
                &["v1.2.3+build.9"],
                &["v1.2.3", "1.2", "1", "latest"],
            ),
        ];
        for (name, repo, want) in cases {
            assert_eq!(
                tags(SEMVER3, Latest::Auto, &tag(name, repo)),
                *want,
                "tag {name} with {repo:?}"
            );
        }
    }

    #[test]
    fn semver_patterns_render() {
        let cases: &[(&str, &str, &[&str])] = &[
            ("v1.2.3", "type=semver,pattern={{version}}", &["1.2.3"]),
            ("1.2.3", "type=semver,pattern=v{{version}}", &["v1.2.3"]),
            ("v1.2.3", "type=semver,pattern={{raw}}", &["v1.2.3"]),
            (
                "v1.2.3",
                "type=semver,pattern={{major}}.{{minor}}.{{patch}}",
                &["1.2.3"],
            ),
            (
                "v1.2.3",
                "type=pep440,pattern={{major}}.{{minor}}",
                &["1.2"],
            ),
            ("v1.2.3", "type=semver,pattern=stable", &["stable"]),
            (
                "v1.2.3+build.5",
                "type=semver,pattern={{version}}",
                &["1.2.3"],
            ),
            (
                "v1.3.0-rc.1",
                "type=semver,pattern={{version}}",
                &["1.3.0-rc.1"],
            ),
            (
                "v1.3.0-rc.1",
                "type=semver,pattern={{raw}}",
                &["v1.3.0-rc.1"],
            ),
            (
                "v1.3.0-rc.1",
                "type=semver,pattern={{major}}.{{minor}}.{{patch}}",
                &[],
            ),
            (
                "v1.3.0-rc.1",
                "type=semver,pattern={{major}}.{{minor}}",
                &[],
            ),
            ("v1.3.0-rc.1", "type=semver,pattern=stable", &[]),
            // Major zero: `{{major}}` alone never emits `0`, even with a prefix.
            ("v0.4.1", "type=semver,pattern=v{{major}}", &[]),
            ("v0.4.1", "type=semver,pattern={{minor}}", &["4"]),
            // Not semver: the rule emits nothing, without error.
            ("release-7", "type=semver,pattern={{version}}", &[]),
            ("v1.2", "type=semver,pattern={{version}}", &[]),
            // `match` narrows the tag; group 1 when the regex has one, else the whole match.
            (
                "api/v2.0.1",
                r"type=semver,pattern={{version}},match=api/(v\d+\.\d+\.\d+)",
                &["2.0.1"],
            ),
            (
                "api/v2.0.1",
                r"type=semver,pattern={{raw}},match=\d+\.\d+\.\d+",
                &["2.0.1"],
            ),
            (
                "web/v2.0.1",
                r"type=semver,pattern={{version}},match=api/(.*)",
                &[],
            ),
        ];
        for (name, rule, want) in cases {
            assert_eq!(
                tags(&[rule], Latest::False, &tag(name, &[])),
                *want,
                "{rule} on {name}"
            );
        }
    }

    #[test]
    fn semver_value_works_on_any_event() {
        let rule = ["type=semver,pattern={{version}},value=v3.1.4"];
        let mut dispatch = branch("main");
        dispatch.event = Event::WorkflowDispatch;
        assert_eq!(tags(&rule, Latest::Auto, &dispatch), ["3.1.4"]);
        let mut release = tag("v1.0.0", &["v1.0.0"]);
        release.event = Event::Release;
        assert_eq!(
            tags(SEMVER3, Latest::Auto, &release),
            ["v1.0.0", "1.0", "1", "latest"]
        );
        // `value` is templated: the branch carries the version here.
        let rule = ["type=semver,pattern={{major}}.{{minor}},value={{branch}}"];
        assert_eq!(
            tags(&rule, Latest::False, &branch("release/2.5.0")),
            [] as [&str; 0]
        );
        let rule = ["type=semver,pattern={{major}}.{{minor}},value={{branch}},match=release/(.*)"];
        assert_eq!(
            tags(&rule, Latest::False, &branch("release/2.5.0")),
            ["2.5"]
        );
    }

    #[test]
    fn latest_policies() {
        let highest = tag("v2.0.0", &["v1.0.0", "v2.0.0"]);
        let older = tag("v1.5.0", &["v1.0.0", "v2.0.0"]);
        let not_version = tag("nightly-build", &[]);
        let cases: &[(Latest, &RefContext, &[&str])] = &[
            (Latest::Auto, &highest, &["v2.0.0", "latest"]),
            (Latest::Auto, &older, &["v1.5.0"]),
            (Latest::Auto, &not_version, &["nightly-build"]),
            (Latest::True, &older, &["v1.5.0", "latest"]),
            (Latest::False, &highest, &["v2.0.0"]),
        ];
        for (latest, c, want) in cases {
            assert_eq!(
                tags(&["type=ref,event=tag"], *latest, c),
                *want,
                "{latest:?} on {:?}",
                c.git_ref
            );
        }
        // Auto never adds latest to a branch push, even the default branch.
        assert_eq!(
            tags(&["type=ref,event=branch"], Latest::Auto, &branch("main")),
            ["main"]
        );
        assert_eq!(tags(&[], Latest::True, &branch("main")), ["latest"]);
        // A raw rule gives the default branch `latest`; it is not repeated.
        let raw = ["type=raw,value=latest,enable={{is_default_branch}}"];
        assert_eq!(tags(&raw, Latest::True, &branch("main")), ["latest"]);
        assert_eq!(tags(&raw, Latest::Auto, &branch("dev")), [] as [&str; 0]);
    }

    #[test]
    fn latest_auto_uses_the_semver_rule_version() {
        // The tag name is not a version, but the first semver rule finds one in it.
        let r = [r"type=semver,pattern={{version}},match=app-(.*)"];
        let c = tag("app-v2.0.0", &["app-v1.0.0", "v0.1.0"]);
        assert_eq!(tags(&r, Latest::Auto, &c), ["2.0.0", "latest"]);
        // A disabled semver rule does not decide.
        let r = ["type=semver,pattern={{version}},value=v9.0.0,enable=false"];
        let c = tag("v1.0.0", &["v2.0.0"]);
        assert_eq!(tags(&r, Latest::Auto, &c), [] as [&str; 0]);
    }

    #[test]
    fn flavor_prefix_and_suffix() {
        let flavor = Flavor {
            prefix: "app-".into(),
            suffix: "-alpine".into(),
            onlatest: false,
        };
        let texts = [
            "type=ref,event=branch",
            "type=ref,event=branch,prefix=own-",
            "type=ref,event=branch,suffix=",
            "type=sha",
        ];
        let set = set_with(&texts, Latest::True, &flavor, &branch("main"));
        assert_eq!(
            set.tags,
            [
                "app-main-alpine",
                "own-main-alpine",
                "app-main",
                "sha-abc1234-alpine",
                "latest"
            ]
        );
        let onlatest = Flavor {
            onlatest: true,
            ..flavor
        };
        let set = set_with(
            &["type=raw,value=x"],
            Latest::True,
            &onlatest,
            &branch("dev"),
        );
        assert_eq!(set.tags, ["app-x-alpine", "app-latest-alpine"]);
        // The flavor may use templates too.
        let templated = Flavor {
            prefix: "{{branch}}-".into(),
            ..Flavor::default()
        };
        let set = set_with(
            &["type=raw,value=x"],
            Latest::False,
            &templated,
            &branch("dev"),
        );
        assert_eq!(set.tags, ["dev-x"]);
        let bad = Flavor {
            prefix: "{{nope}}".into(),
            ..Flavor::default()
        };
        let err = compute(&[], Latest::False, &bad, &branch("dev")).unwrap_err();
        assert!(
            err.contains("flavor.prefix") && err.contains("nope"),
            "{err}"
        );
    }

    #[test]
    fn output_is_ordered_by_priority_and_deduplicated() {
        let mut c = tag("v1.0.0", &[]);
        c.event = Event::Schedule;
        let texts = [
            "type=sha",
            "type=raw,value=b",
            "type=raw,value=a",
            "type=ref,event=tag",
            "type=match,pattern=v(\\d+),group=1",
            "type=semver,pattern={{version}}",
            "type=schedule",
            "type=raw,value=first,priority=5000",
            "type=raw,value=v1.0.0",
        ];
        assert_eq!(
            tags(&texts, Latest::Auto, &c),
            [
                "first",
                "nightly",
                "1.0.0",
                "1",
                "v1.0.0",
                "b",
                "a",
                "sha-abc1234",
                "latest"
            ]
        );
    }

    #[test]
    fn schedule_rule() {
        let mut nightly = branch("main");
        nightly.event = Event::Schedule;
        let cases: &[(&str, &RefContext, &[&str])] = &[
            ("type=schedule", &nightly, &["nightly"]),
            ("type=schedule", &branch("main"), &[]),
            (
                "type=schedule,pattern={{date 'YYYYMMDD'}}",
                &nightly,
                &["20231114"],
            ),
            (
                r#"type=schedule,pattern="nightly-{{date ""YYYY-MM-DD[T]HHmmss""}}""#,
                &nightly,
                &["nightly-2023-11-14T221320"],
            ),
            (
                "type=schedule,pattern={{branch}}-{{commit_date 'YYMMDD'}}",
                &nightly,
                &["main-231113"],
            ),
        ];
        for (rule, c, want) in cases {
            assert_eq!(
                tags(&[rule], Latest::False, c),
                *want,
                "{rule} on {:?}",
                c.event
            );
        }
    }

    #[test]
    fn edge_rule() {
        let cases: &[(&str, &RefContext, &[&str])] = &[
            ("type=edge", &branch("main"), &["edge"]),
            ("type=edge", &branch("dev"), &[]),
            ("type=edge", &tag("v1.0.0", &[]), &[]),
            ("type=edge,branch=dev", &branch("dev"), &["edge"]),
            ("type=edge,branch=dev", &branch("main"), &[]),
        ];
        for (rule, c, want) in cases {
            assert_eq!(
                tags(&[rule], Latest::False, c),
                *want,
                "{rule} on {:?}",
                c.git_ref
            );
        }
    }

    #[test]
    fn ref_rules() {
        let pr42 = pr(42, "feat/x", "main");
        let cases: &[(&str, &RefContext, &[&str])] = &[
            ("type=ref,event=branch", &branch("dev"), &["dev"]),
            ("type=ref,event=branch", &tag("v1.0.0", &[]), &[]),
            ("type=ref,event=branch", &pr42, &[]),
            ("type=ref,event=tag", &tag("v1.0.0", &[]), &["v1.0.0"]),
            ("type=ref,event=tag", &branch("dev"), &[]),
            ("type=ref,event=pr", &pr42, &["pr-42"]),
            ("type=ref,event=pr,prefix=", &pr42, &["42"]),
            ("type=ref,event=pr", &branch("dev"), &[]),
            // On a pull request `{{branch}}` is the head branch and the sha the head commit.
            ("type=raw,value={{branch}}", &pr42, &["feat-x"]),
            (
                "type=raw,value={{base_ref}}-{{sha}}",
                &pr42,
                &["main-abc1234"],
            ),
            ("type=sha,prefix={{branch}}-", &pr42, &["feat-x-abc1234"]),
        ];
        for (rule, c, want) in cases {
            assert_eq!(
                tags(&[rule], Latest::False, c),
                *want,
                "{rule} on {:?}",
                c.git_ref
            );
        }
    }

    #[test]
    fn sha_rule() {
        let mut no_commit = branch("main");
        no_commit.sha.clear();
        let gated = "type=sha,prefix={{branch}}-,enable={{is_default_branch}}";
        let cases: &[(&str, &RefContext, &[&str])] = &[
            ("type=sha", &branch("dev"), &["sha-abc1234"]),
            (
                "type=sha,format=long",
                &branch("dev"),
                &[&["sha-", SHA].concat()],
            ),
            (
                "type=sha,format=short,prefix=",
                &ctx(GitRef::Detached),
                &["abc1234"],
            ),
            (
                "type=sha,suffix=-{{tag}}",
                &tag("v1.0.0", &[]),
                &["sha-abc1234-v1.0.0"],
            ),
            ("type=sha", &no_commit, &[]),
            (gated, &branch("main"), &["main-abc1234"]),
            (gated, &branch("dev"), &[]),
            // `{{branch}}` is empty on a tag: the leading `-` is stripped.
            (
                "type=sha,prefix={{branch}}-",
                &tag("v1.0.0", &[]),
                &["abc1234"],
            ),
        ];
        for (rule, c, want) in cases {
            assert_eq!(
                tags(&[rule], Latest::False, c),
                *want,
                "{rule} on {:?}",
                c.git_ref
            );
        }
    }

    #[test]
    fn match_rule() {
        let cases: &[(&str, &RefContext, &[&str])] = &[
            (
                r"type=match,pattern=v(\d+\.\d+),group=1",
                &tag("v1.2.3", &[]),
                &["1.2"],
            ),
            (r"type=match,pattern=v\d+", &tag("v1.2.3", &[]), &["v1"]),
            (
                r"type=match,pattern=^x(\d+)$,group=1",
                &tag("v1.2.3", &[]),
                &[],
            ),
            (r"type=match,pattern=(a)|(b),group=2", &tag("a", &[]), &[]),
            (r"type=match,pattern=v(\d+),group=1", &branch("v7"), &[]),
            (
                r"type=match,pattern=(\d+),group=1,value={{branch}}",
                &branch("release-17"),
                &["17"],
            ),
            (
                r#"type=match,pattern="\d{1,3}.\d{1,3}",group=0"#,
                &tag("v10.20.30", &[]),
                &["10.20"],
            ),
            (
                r#""type=match","pattern=\d{1,3}.\d{1,3}""#,
                &tag("v10.20.30", &[]),
                &["10.20"],
            ),
        ];
        for (rule, c, want) in cases {
            assert_eq!(
                tags(&[rule], Latest::False, c),
                *want,
                "{rule} on {:?}",
                c.git_ref
            );
        }
    }

    #[test]
    fn raw_rule_and_templates() {
        let mut dev = branch("dev");
        dev.git_ref = GitRef::Branch { name: "dev".into() };
        let cases: &[(&str, &RefContext, &[&str])] = &[
            ("type=raw,value=stable", &dev, &["stable"]),
            (
                "type=raw,value={{ branch }}-{{sha}}",
                &dev,
                &["dev-abc1234"],
            ),
            (
                "type=raw,value=build-{{date 'YYYYMMDDHHmmss'}}",
                &dev,
                &["build-20231114221320"],
            ),
            (
                "type=raw,value={{commit_date 'DD.MM.YYYY hh'}}",
                &dev,
                &["13.11.2023-08"],
            ),
            ("type=raw,value={{is_default_branch}}", &dev, &["false"]),
            ("type=raw,value={{tag}}", &dev, &[]),
            ("type=raw,value=x,enable=false", &dev, &[]),
            ("type=raw,value=x,enable={{is_default_branch}}", &dev, &[]),
            (
                "type=raw,value=x,enable={{is_default_branch}}",
                &branch("main"),
                &["x"],
            ),
        ];
        for (rule, c, want) in cases {
            assert_eq!(tags(&[rule], Latest::False, c), *want, "{rule}");
        }
    }

    #[test]
    fn enable_must_render_a_boolean() {
        let err = compute(
            &rules(&["type=raw,value=x,enable={{branch}}"]),
            Latest::False,
            &Flavor::default(),
            &branch("dev"),
        )
        .unwrap_err();
        assert!(err.contains("enable rendered \"dev\""), "{err}");
        assert!(err.contains("type=raw,value=x,enable={{branch}}"), "{err}");
    }

    #[test]
    fn defaults_match_metadata_action() {
        let defaults = Rule::defaults();
        assert_eq!(
            defaults.iter().map(Rule::kind).collect::<Vec<_>>(),
            ["schedule", "ref", "ref", "ref"]
        );
        let mut nightly = branch("main");
        nightly.event = Event::Schedule;
        let cases: &[(&RefContext, &[&str])] = &[
            (&branch("main"), &["main"]),
            (&tag("v1.0.0", &[]), &["v1.0.0", "latest"]),
            (&pr(7, "fix/y", "main"), &["pr-7"]),
            (&nightly, &["nightly", "main"]),
            (&ctx(GitRef::Detached), &[]),
        ];
        for (c, want) in cases {
            let got = compute(&defaults, Latest::Auto, &Flavor::default(), c).unwrap();
            assert_eq!(got.tags, *want, "{:?}", c.git_ref);
        }
    }

    #[test]
    fn branch_names_are_sanitised_and_reported() {
        let set = set_with(
            &["type=ref,event=branch"],
            Latest::False,
            &Flavor::default(),
            &branch("feature/Login#12"),
        );
        assert_eq!(set.tags, ["feature-Login-12"]);
        assert!(is_valid_tag(&set.tags[0]));
        assert_eq!(set.rewritten.len(), 1);
        assert_eq!(set.rewritten[0].from, "feature/Login#12");
        assert_eq!(set.rewritten[0].to, "feature-Login-12");
        assert!(set.rewritten[0].reason.contains("[A-Za-z0-9._-]"));
        // A valid tag is not reported.
        let set = set_with(
            &["type=ref,event=branch"],
            Latest::False,
            &Flavor::default(),
            &branch("a_b.c-D"),
        );
        assert_eq!(set.tags, ["a_b.c-D"]);
        assert!(set.rewritten.is_empty());
    }

    #[test]
    fn make_valid_cases() {
        let cases: &[(&str, &str, usize)] = &[
            ("v1.2.3", "v1.2.3", 0),
            ("feature/Login#12", "feature-Login-12", 1),
            ("a//b  c", "a-b-c", 1),
            ("naïve", "na-ve", 1),
            (".hidden", "hidden", 1),
            ("-x", "x", 1),
            ("/.-x", "x", 2),
            ("_x", "_x", 0),
            ("x-", "x-", 0),
            ("///", "", 3),
            ("", "", 0),
        ];
        for (raw, want, n) in cases {
            let (got, reasons) = make_valid(raw);
            assert_eq!(got, *want, "{raw:?}");
            assert_eq!(reasons.len(), *n, "{raw:?}: {reasons:?}");
        }
    }

    #[test]
    fn long_tags_are_truncated_distinctly() {
        let long_a = format!("{}{}", "a".repeat(150), "x".repeat(50));
        let long_b = format!("{}{}", "a".repeat(150), "y".repeat(50));
        let mut out = Vec::new();
        for name in [&long_a, &long_b] {
            let set = set_with(
                &["type=ref,event=branch"],
                Latest::False,
                &Flavor::default(),
                &branch(name),
            );
            assert_eq!(set.tags.len(), 1);
            let t = set.tags[0].clone();
            assert_eq!(t.len(), 128);
            assert!(is_valid_tag(&t), "{t}");
            assert_eq!(&t[..121], format!("{}-", "a".repeat(120)));
            assert!(t[121..].chars().all(|c| c.is_ascii_hexdigit()), "{t}");
            assert_eq!(set.rewritten.len(), 1);
            assert_eq!(set.rewritten[0].from, *name);
            assert_eq!(set.rewritten[0].to, t);
            assert!(set.rewritten[0].reason.contains("128"));
            out.push(t);
        }
        assert_ne!(out[0], out[1]);
        // Stable: the same input gives the same tag.
        assert_eq!(make_valid(&long_a).0, out[0]);
        let expected: String = Sha256::digest(long_a.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(&out[0][121..], &expected[..7]);
        // 128 characters exactly are kept.
        let exact = "b".repeat(128);
        assert_eq!(make_valid(&exact), (exact.clone(), Vec::new()));
    }

    #[test]
    fn rewrites_are_recorded_once() {
        let set = set_with(
            &[
                "type=ref,event=branch",
                "type=raw,value={{branch}}",
                "type=raw,value=###",
            ],
            Latest::False,
            &Flavor::default(),
            &branch("a/b"),
        );
        assert_eq!(set.tags, ["a-b"]);
        assert_eq!(
            set.rewritten
                .iter()
                .map(|r| (r.from.as_str(), r.to.as_str()))
                .collect::<Vec<_>>(),
            [("a/b", "a-b"), ("###", "")]
        );
    }

    #[test]
    fn parse_errors_name_the_problem() {
        let cases: &[(&str, &[&str])] = &[
            ("type=nope", &["unknown type `nope`", "semver"]),
            ("event=branch", &["missing `type`"]),
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
            ("type=match,pattern=v(\\d),group=2", &["group=2", "0 to 1"]),
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
                "type=raw,value={{date 'YYYY' tz='Asia/Tokyo'}}",
                &["UTC only"],
            ),
            ("type=raw,value=x,value=y", &["`value` is given twice"]),
            ("type=raw,value=\"x", &["quote"]),
            ("type=raw,latest", &["\"latest\" is not a key=value field"]),
            ("type=raw,=x", &["no attribute name"]),
        ];
        for (text, needles) in cases {
            let err = text.parse::<Rule>().unwrap_err();
            for needle in *needles {
                assert!(err.contains(needle), "{text:?}: {err:?} lacks {needle:?}");
            }
        }
    }

    #[test]
    fn parsing_reads_csv_fields() {
        let r: Rule = r#" type = match , pattern = "a,b" , group = 0 ,"#.parse().unwrap();
        assert_eq!(r.kind(), "match");
        assert_eq!(r.priority(), 800);
        assert_eq!(
            tags(&[r#"type=raw,value="x""y""#], Latest::False, &branch("dev")),
            ["x-y"]
        );
        assert_eq!(
            r.to_string(),
            r#" type = match , pattern = "a,b" , group = 0 ,"#
        );
        let priorities: Vec<i64> = rules(&[
            "type=schedule",
            "type=semver,pattern={{version}}",
            "type=pep440,pattern={{version}}",
            "type=match,pattern=x",
            "type=edge",
            "type=ref,event=tag",
            "type=raw,value=x",
            "type=sha",
            "type=sha,priority=-5",
        ])
        .iter()
        .map(Rule::priority)
        .collect();
        assert_eq!(priorities, [1000, 900, 900, 800, 700, 600, 200, 100, -5]);
        assert_eq!(
            "type=raw,value={{date 'YYYY' tz='UTC'}}"
                .parse::<Rule>()
                .map(|r| r.kind()),
            Ok("raw")
        );
    }

    #[test]
    fn dates_render_in_utc() {
        let cases: &[(i64, &str, &str)] = &[
            (0, "YYYY-MM-DD HH:mm:ss", "1970-01-01 00:00:00"),
            (-1, "YYYY-MM-DD HH:mm:ss", "1969-12-31 23:59:59"),
            (951_782_400, "YYYYMMDD", "20000229"),
            (NOW, "YY.MM.DD hh", "23.11.14 10"),
            (COMMIT, "[YYYY]YYYY", "YYYY2023"),
            (4_102_444_800, "YYYY-MM-DD", "2100-01-01"),
            (NOW, "D-M-Y", "D-M-Y"),
            (i64::MAX, "YYYY", "292277026596"),
            (i64::MIN, "YYYY", "-292277022657"),
        ];
        for (secs, format, want) in cases {
            assert_eq!(format_time(*secs, format), *want, "{secs} {format}");
        }
    }

    #[test]
    fn version_of_tag_parses_strict_semver() {
        let cases: &[(&str, Option<&str>)] = &[
            ("v1.2.3", Some("1.2.3")),
            ("1.2.3", Some("1.2.3")),
            ("v1.3.0-rc.1", Some("1.3.0-rc.1")),
            ("v1.2.3+build.5", Some("1.2.3+build.5")),
            ("v1.2", None),
            ("V1.2.3", None),
            ("vv1.2.3", None),
            (" 1.2.3", None),
            ("release-1.2.3", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(
                version_of_tag(text).map(|v| v.to_string()).as_deref(),
                *want,
                "{text:?}"
            );
        }
    }
}
