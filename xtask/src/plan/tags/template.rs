//! `{{...}}` templates: parsed once, rendered against the ref context and a version.

use semver::Version;

use crate::plan::context::{GitRef, RefContext};
use crate::plan::version::civil_from_days;

/// Which template expressions a field may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Allowed {
    /// `{{branch}}`, `{{tag}}`, `{{sha}}`, `{{base_ref}}`, `{{is_default_branch}}`, dates.
    Context,
    /// `{{version}}`, `{{major}}`, `{{minor}}`, `{{patch}}`, `{{raw}}`.
    Version,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Expr {
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
pub(super) enum Part {
    Text(String),
    Expr(Expr),
}

/// A parsed `{{...}}` template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Template(pub(super) Vec<Part>);

/// The numbers of a version a semver pattern renders.
pub(super) struct VersionVars<'a> {
    pub(super) version: &'a Version,
    pub(super) raw: &'a str,
}

impl Template {
    pub(super) fn literal(text: &str) -> Template {
        Template(vec![Part::Text(text.to_string())])
    }

    pub(super) fn parse(text: &str, allowed: Allowed, key: &str) -> Result<Template, String> {
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

    pub(super) fn is_literal(&self) -> bool {
        self.0.iter().all(|p| matches!(p, Part::Text(_)))
    }

    pub(super) fn literal_text(&self) -> String {
        self.0
            .iter()
            .filter_map(|p| match p {
                Part::Text(t) => Some(t.as_str()),
                Part::Expr(_) => None,
            })
            .collect()
    }

    pub(super) fn uses(&self, expr: &Expr) -> bool {
        self.0
            .iter()
            .any(|p| matches!(p, Part::Expr(e) if e == expr))
    }

    pub(super) fn render(&self, ctx: &RefContext, version: Option<&VersionVars>) -> String {
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

pub(super) fn parse_expr(expr: &str, allowed: Allowed, key: &str) -> Result<Expr, String> {
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
pub(super) fn parse_date_args(args: &str, key: &str, name: &str) -> Result<String, String> {
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

pub(super) fn render_expr(expr: &Expr, ctx: &RefContext, version: Option<&VersionVars>) -> String {
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

pub(super) fn short_sha(sha: &str) -> String {
    sha.chars().take(7).collect()
}

/// `{{version}}`: the version without a leading `v` and without `+build` metadata.
pub(super) fn version_text(v: &Version) -> String {
    if v.pre.is_empty() {
        format!("{}.{}.{}", v.major, v.minor, v.patch)
    } else {
        format!("{}.{}.{}-{}", v.major, v.minor, v.patch, v.pre)
    }
}

/// Renders `secs` (seconds since the epoch, UTC) with moment.js-style tokens: `YYYY`, `YY`,
/// `MM`, `DD`, `HH`, `hh` (12-hour), `mm`, `ss`; text in `[...]` and any other character is
/// copied as is.
pub(super) fn format_time(secs: i64, format: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// 2023-11-14T22:13:20Z.
    const NOW: i64 = 1_700_000_000;
    /// 2023-11-13T08:05:09Z.
    const COMMIT: i64 = 1_699_862_709;

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
}
