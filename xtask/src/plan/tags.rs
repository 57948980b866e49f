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
        let context_template =
            |key: &str, text: &str| Template::parse(text, Allowed::Context, key);
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
        self.0.iter().any(|p| matches!(p, Part::Expr(e) if e == expr))
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
            let (name, args) = expr
                .split_once(char::is_whitespace)
                .unwrap_or((expr, ""));
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

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 → (year, month, day), proleptic
/// Gregorian calendar.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
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
/// Errors: an `enable` (or flavor template) that does not render to `true`/`false` (resp. a
/// bad flavor template), naming the rule.
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
    emitted.sort_by(|a, b| b.0.cmp(&a.0));

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
