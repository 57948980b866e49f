//! `{{...}}` templates: parsed once, rendered against the ref context and a version.

use semver::Version;

use crate::tag_rules::context::{GitRef, RefContext};
use crate::tag_rules::version::civil_from_days;

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
    IsNotDefaultBranch,
    Date(DateFormat),
    CommitDate(DateFormat),
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

/// The arguments of `{{date 'FORMAT' tz='Zone'}}` and `{{commit_date ...}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DateFormat {
    /// The moment.js-style format; `None` for moment's default (ISO 8601), which is what
    /// metadata-action renders for an unquoted format such as `{{commit_date YYYY-MM-DD}}`
    /// (handlebars reads the word as an empty variable).
    pub(super) format: Option<String>,
    /// The unquoted word, when the format was not quoted (for the warning).
    pub(super) unquoted: Option<String>,
    /// The IANA time zone (`UTC` unless `tz=` names another).
    pub(super) tz: String,
}

/// A parsed `{{...}}` template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Template(pub(super) Vec<Part>);

/// The numbers of a version a semver pattern renders.
pub(super) struct VersionVars<'a> {
    pub(super) version: &'a Version,
    pub(super) raw: &'a str,
    /// What `{{version}}` renders (see [`version_text`]; PEP 440's normalised form).
    pub(super) text: &'a str,
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

    /// The unquoted date formats the template holds (rendered as ISO 8601, as metadata-action
    /// does: worth a warning).
    pub(super) fn unquoted_formats(&self) -> Vec<&str> {
        self.0
            .iter()
            .filter_map(|p| match p {
                Part::Expr(Expr::Date(d) | Expr::CommitDate(d)) => d.unquoted.as_deref(),
                _ => None,
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
        (Allowed::Context, "is_not_default_branch") => Expr::IsNotDefaultBranch,
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
                         {{{{is_not_default_branch}}}}, {{{{date 'YYYYMMDD'}}}} or {{{{commit_date 'YYYYMMDD'}}}}"
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

/// Parses `'FORMAT'` (or `"FORMAT"`, or an unquoted word as metadata-action takes it),
/// optionally followed by `tz='Zone'` with an IANA zone (`Asia/Tokyo`, `UTC`).
pub(super) fn parse_date_args(args: &str, key: &str, name: &str) -> Result<DateFormat, String> {
    let usage = || {
        format!(
            "{key}: write {{{{{name} 'YYYYMMDD'}}}} or {{{{{name} 'YYYYMMDD' tz='Asia/Tokyo'}}}}"
        )
    };
    let args = args.trim();
    let (format, unquoted, rest) = match args.chars().next() {
        Some(q @ ('\'' | '"')) => {
            let inner = &args[1..];
            let end = inner.find(q).ok_or_else(usage)?;
            (
                Some(inner[..end].to_string()),
                None,
                inner[end + 1..].trim(),
            )
        }
        Some(_) if !args.starts_with("tz=") => {
            let (word, rest) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
            (None, Some(word.to_string()), rest.trim())
        }
        _ => return Err(usage()),
    };
    let mut tz = "UTC".to_string();
    if !rest.is_empty() {
        let zone = rest
            .strip_prefix("tz=")
            .and_then(|t| {
                let q = t.chars().next().filter(|c| *c == '\'' || *c == '"')?;
                t[1..].strip_suffix(q)
            })
            .ok_or_else(|| {
                format!("{key}: {{{{{name} ...}}}} takes only tz='Zone' after the format; remove or fix {rest:?}")
            })?;
        jiff::tz::TimeZone::get(zone).map_err(|_| {
            format!(
                "{key}: tz={zone:?} is not an IANA time zone: use a name such as UTC, \
                 Europe/Paris or Asia/Tokyo"
            )
        })?;
        tz = zone.to_string();
    }
    Ok(DateFormat {
        format,
        unquoted,
        tz,
    })
}

pub(super) fn render_expr(expr: &Expr, ctx: &RefContext, version: Option<&VersionVars>) -> String {
    match expr {
        Expr::Branch => ctx.branch().unwrap_or_default().to_string(),
        Expr::Tag => ctx.tag().unwrap_or_default().to_string(),
        Expr::Sha => short_sha(&ctx.sha),
        Expr::BaseRef => match &ctx.git_ref {
            GitRef::PullRequest { base_ref, .. } => base_ref.clone(),
            // A tag push: the push payload's `base_ref`, as metadata-action reads it.
            GitRef::Tag { .. } => ctx.base_ref.clone().unwrap_or_default(),
            _ => String::new(),
        },
        Expr::IsDefaultBranch => ctx.is_default_branch().to_string(),
        Expr::IsNotDefaultBranch => (!ctx.is_default_branch()).to_string(),
        Expr::Date(format) => render_date(ctx.now, format),
        Expr::CommitDate(format) => render_date(ctx.commit_time, format),
        Expr::Version => version.map_or_else(String::new, |v| v.text.to_string()),
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

/// Renders `secs` in the expression's time zone and format (moment's ISO 8601 default when the
/// format was not quoted: `2020-01-10T00:30:00Z`, or `2020-01-10T09:30:00+09:00` in a zone
/// with an offset).
pub(super) fn render_date(secs: i64, date: &DateFormat) -> String {
    let offset = utc_offset(secs, &date.tz);
    match &date.format {
        Some(format) => format_time(secs, offset, format),
        None if offset == 0 => format_time(secs, 0, "YYYY-MM-DDTHH:mm:ss[Z]"),
        None => format_time(secs, offset, "YYYY-MM-DDTHH:mm:ssZ"),
    }
}

/// The offset from UTC in seconds of zone `tz` at `secs` (0 for UTC, for a zone the bundled
/// tzdb lacks, and for instants outside years -9999 to 9999).
pub(super) fn utc_offset(secs: i64, tz: &str) -> i64 {
    if tz == "UTC" {
        return 0;
    }
    let (Ok(zone), Ok(at)) = (
        jiff::tz::TimeZone::get(tz),
        jiff::Timestamp::from_second(secs),
    ) else {
        return 0;
    };
    i64::from(zone.to_offset(at).seconds())
}

/// Renders `secs` (seconds since the epoch) shifted by `offset` seconds with moment.js-style
/// tokens: `YYYY`, `YY`, `MM`, `DD`, `HH`, `hh` (12-hour), `mm`, `ss`, `SSS` (milliseconds,
/// always `000`), `ZZ` (`+0900`) and `Z` (`+09:00`); text in `[...]` and any other character
/// is copied as is.
pub(super) fn format_time(secs: i64, offset: i64, format: &str) -> String {
    let secs = secs.saturating_add(offset);
    let days = secs.div_euclid(86_400);
    let in_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let (hour, minute, second) = (in_day / 3600, in_day % 3600 / 60, in_day % 60);
    let hour12 = if hour % 12 == 0 { 12 } else { hour % 12 };
    let sign = if offset < 0 { '-' } else { '+' };
    let (off_h, off_m) = (offset.abs() / 3600, offset.abs() % 3600 / 60);
    let tokens: [(&str, String); 11] = [
        ("YYYY", format!("{year:04}")),
        ("YY", format!("{:02}", year.rem_euclid(100))),
        ("MM", format!("{month:02}")),
        ("DD", format!("{day:02}")),
        ("HH", format!("{hour:02}")),
        ("hh", format!("{hour12:02}")),
        ("mm", format!("{minute:02}")),
        ("ss", format!("{second:02}")),
        ("SSS", "000".to_string()),
        ("ZZ", format!("{sign}{off_h:02}{off_m:02}")),
        ("Z", format!("{sign}{off_h:02}:{off_m:02}")),
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
            assert_eq!(format_time(*secs, 0, format), *want, "{secs} {format}");
        }
    }

    #[test]
    fn dates_render_in_a_time_zone() {
        let date = |format: Option<&str>, tz: &str| DateFormat {
            format: format.map(str::to_string),
            unquoted: None,
            tz: tz.to_string(),
        };
        // 2020-01-10T00:30:00Z, the instant metadata-action's tests use.
        let t = 1_578_616_200;
        let cases: &[(DateFormat, &str)] = &[
            (date(Some("YYYYMMDD-HHmmss"), "UTC"), "20200110-003000"),
            (
                date(Some("YYYYMMDD-HHmmss"), "Asia/Tokyo"),
                "20200110-093000",
            ),
            (
                date(Some("YYYY-MM-DD HH:mm Z"), "America/New_York"),
                "2020-01-09 19:30 -05:00",
            ),
            (date(Some("HHmm ZZ"), "Asia/Kolkata"), "0600 +0530"),
            (date(Some("HH:mm"), "Europe/Paris"), "01:30"),
            (date(None, "UTC"), "2020-01-10T00:30:00Z"),
            (date(None, "Asia/Tokyo"), "2020-01-10T09:30:00+09:00"),
            (
                date(Some("YYYY-MM-DDTHH:mm:ss.SSS[Z]"), "UTC"),
                "2020-01-10T00:30:00.000Z",
            ),
        ];
        for (d, want) in cases {
            assert_eq!(render_date(t, d), *want, "{d:?}");
        }
        // Summer time: Paris is UTC+2 on 2020-07-01.
        assert_eq!(
            render_date(1_593_561_600, &date(Some("HH"), "Europe/Paris")),
            "02"
        );
    }

    #[test]
    fn date_arguments_parse_as_metadata_action_reads_them() {
        let ok: &[(&str, Option<&str>, Option<&str>, &str)] = &[
            ("'YYYYMMDD'", Some("YYYYMMDD"), None, "UTC"),
            (
                "\"YYYY\" tz=\"Asia/Tokyo\"",
                Some("YYYY"),
                None,
                "Asia/Tokyo",
            ),
            (
                "'YYYYMMDD-HHmmss' tz='Asia/Tokyo'",
                Some("YYYYMMDD-HHmmss"),
                None,
                "Asia/Tokyo",
            ),
            ("YYYY-MM-DD", None, Some("YYYY-MM-DD"), "UTC"),
            (
                "YYYY-MM-DD tz='Europe/Paris'",
                None,
                Some("YYYY-MM-DD"),
                "Europe/Paris",
            ),
        ];
        for (args, format, unquoted, tz) in ok {
            let d = parse_date_args(args, "value", "date").unwrap();
            assert_eq!(d.format.as_deref(), *format, "{args}");
            assert_eq!(d.unquoted.as_deref(), *unquoted, "{args}");
            assert_eq!(d.tz, *tz, "{args}");
        }
        let bad: &[(&str, &str)] = &[
            ("", "{{date 'YYYYMMDD'}}"),
            ("'YYYY", "{{date 'YYYYMMDD'}}"),
            ("'YYYY' tz='Mars/Olympus'", "not an IANA time zone"),
            ("'YYYY' utc=true", "takes only tz="),
            ("'YYYY' tz=Asia/Tokyo", "takes only tz="),
        ];
        for (args, needle) in bad {
            let err = parse_date_args(args, "value", "date").unwrap_err();
            assert!(err.contains(needle), "{args}: {err}");
        }
    }
}
