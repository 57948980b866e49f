//! The engine: rules, the `latest` policy and the flavor → the tags of one build.

use semver::Version;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::rules::{Kind, RefEvent, Rule};
use super::template::{short_sha, version_text, Allowed, Expr, Template, VersionVars};
use crate::oci::reference::is_valid_tag;
use crate::tag_rules::context::{Event, GitRef, RefContext};
use crate::tag_rules::version::{pep440_of_tag, version_of_tag};

/// The longest tag the registry grammar allows.
pub(super) const MAX_TAG_LEN: usize = 128;
/// Where an over-long tag is cut before `-` and a 7-hex-digit hash are appended.
pub(super) const TRUNCATED_LEN: usize = 120;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Flavor {
    #[serde(default)]
    pub prefix: String,
    #[serde(default)]
    pub suffix: String,
    /// Also apply prefix/suffix to `latest`.
    #[serde(default)]
    pub onlatest: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Latest {
    /// `latest` moves only when the version released is the highest non-prerelease version.
    #[default]
    Auto,
    True,
    False,
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
    /// Rules skipped, or read leniently, and why (where metadata-action warns and goes on).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl TagSet {
    /// Adds `raw` once made valid; records the rewrite when one was needed.
    pub(super) fn push(&mut self, raw: &str) {
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
pub(super) fn make_valid(raw: &str) -> (String, Vec<String>) {
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
pub(super) enum Range {
    /// `latest`, or a pattern naming neither `{{major}}` nor `{{minor}}`.
    All,
    /// `{{major}}`.
    Major,
    /// `{{major}}.{{minor}}` (any pattern naming `{{minor}}`).
    MajorMinor,
}

/// How a rule reads versions: semver (`type=semver`) or PEP 440 (`type=pep440`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scheme {
    Semver,
    Pep440,
}

impl Scheme {
    /// The version of a tag, as the engine compares versions (a PEP 440 version as
    /// `major.minor.patch`, with a prerelease marker unless it is a final release).
    pub(super) fn parse(self, tag: &str) -> Option<Version> {
        match self {
            Scheme::Semver => version_of_tag(tag),
            Scheme::Pep440 => pep440_of_tag(tag).map(|v| v.as_semver()),
        }
    }
}

/// The version a semver or pep440 rule releases.
#[derive(Debug, Clone)]
pub(super) struct Released {
    pub(super) version: Version,
    pub(super) raw: String,
    /// `{{version}}`: semver without `v` and build metadata, or PEP 440's normalised form.
    pub(super) text: String,
    pub(super) scheme: Scheme,
}

/// True when `v` is a release (not a prerelease) and no release among the repository's tags in
/// the same range is higher (tags read with `scheme`). `v1.2.3` and `1.2.3` count as one
/// version; build metadata is ignored.
pub(super) fn is_highest(v: &Version, range: Range, scheme: Scheme, repo_tags: &[String]) -> bool {
    if !v.pre.is_empty() {
        return false;
    }
    let key = |v: &Version| (v.major, v.minor, v.patch);
    !repo_tags
        .iter()
        .filter_map(|t| scheme.parse(t))
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
/// always (`Latest::True`), never (`Latest::False`), or (`Latest::Auto`) as metadata-action
/// decides it from the rule that produced the first tag (in priority order): a `semver` or
/// `pep440` rule on a release (not a prerelease), a `match` rule or a `ref,event=tag` rule give
/// `latest`, every other rule none (so a tag push with only `raw` rules gives no `latest`).
/// stevedore adds one condition: the version released (from the first semver or pep440 rule
/// that reads one, else the name of the tag pushed, when it is a version) must be the highest
/// release among `ctx.repo_tags`. (To tag the default branch `latest`, add
/// `type=raw,value=latest,enable={{is_default_branch}}`.)
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

    // (priority, tag, whether metadata-action's `latest=auto` follows this rule)
    let mut emitted: Vec<(i64, String, bool)> = Vec::new();
    let mut warnings = Vec::new();
    let mut released: Option<Released> = None;
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
        warnings.extend(rule.warnings.iter().cloned());
        let (value, auto_latest) = match &rule.kind {
            Kind::Semver { .. } => {
                let Some(release) = semver_input(rule, ctx) else {
                    continue;
                };
                let value = render_semver(rule, &release, ctx);
                let auto_latest = release.version.pre.is_empty();
                released.get_or_insert(release);
                (value, auto_latest)
            }
            Kind::Match { .. } => (rule_value(rule, ctx, &mut warnings), true),
            Kind::Ref {
                event: RefEvent::Tag,
            } => (rule_value(rule, ctx, &mut warnings), true),
            _ => (rule_value(rule, ctx, &mut warnings), false),
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
        emitted.push((
            rule.priority,
            format!("{prefix}{value}{suffix}"),
            auto_latest,
        ));
    }
    // A stable sort keeps rule order among equal priorities.
    emitted.sort_by_key(|(priority, _, _)| std::cmp::Reverse(*priority));

    let add_latest = match latest {
        Latest::True => true,
        Latest::False => false,
        Latest::Auto => {
            let first_rule_says = emitted.first().is_some_and(|(_, _, auto)| *auto);
            let highest = match (&released, &ctx.git_ref) {
                (Some(r), _) => is_highest(&r.version, Range::All, r.scheme, &ctx.repo_tags),
                (None, GitRef::Tag { name }) => version_of_tag(name)
                    .is_none_or(|v| is_highest(&v, Range::All, Scheme::Semver, &ctx.repo_tags)),
                _ => true,
            };
            first_rule_says && highest
        }
    };

    let mut set = TagSet {
        warnings,
        ..TagSet::default()
    };
    for (_, tag, _) in &emitted {
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

/// The value (without prefix and suffix) of a non-semver rule, when it fires. A `match` rule
/// whose group the pattern does not have (or that did not take part in the match) is skipped
/// with a warning, as metadata-action does.
pub(super) fn rule_value(
    rule: &Rule,
    ctx: &RefContext,
    warnings: &mut Vec<String>,
) -> Option<String> {
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
            match captures.get(*group) {
                Some(m) => Some(m.as_str().to_string()),
                None => {
                    warnings.push(format!(
                        "tag rule {:?} skipped: group {group} does not exist for {input:?} \
                         (the pattern has groups 0 to {}); fix group=",
                        rule.text,
                        pattern.0.captures_len() - 1
                    ));
                    None
                }
            }
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

/// The version a semver or pep440 rule releases and its raw text: `value` (templated) or the
/// tag name, narrowed by `match` (capture group 1, or the whole match without groups).
pub(super) fn semver_input(rule: &Rule, ctx: &RefContext) -> Option<Released> {
    let Kind::Semver {
        value,
        matcher,
        pep440,
        ..
    } = &rule.kind
    else {
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
    if *pep440 {
        let v = pep440_of_tag(&raw)?;
        return Some(Released {
            version: v.as_semver(),
            text: v.normalized,
            raw,
            scheme: Scheme::Pep440,
        });
    }
    let version = version_of_tag(&raw)?;
    Some(Released {
        text: version_text(&version),
        version,
        raw,
        scheme: Scheme::Semver,
    })
}

/// Renders a semver pattern, or nothing when stevedore's rules hold the tag back: floating
/// patterns (no `{{version}}`, `{{raw}}` or `{{patch}}`) emit only for the highest release of
/// their range and never for a prerelease; `{{major}}` alone never emits `0`; for a prerelease
/// only patterns with `{{version}}` or `{{raw}}` emit.
pub(super) fn render_semver(rule: &Rule, release: &Released, ctx: &RefContext) -> Option<String> {
    let version = &release.version;
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
        if !is_highest(version, range, release.scheme, &ctx.repo_tags) {
            return None;
        }
    }
    let vars = VersionVars {
        version,
        raw: &release.raw,
        text: &release.text,
    };
    Some(pattern.render(ctx, Some(&vars)))
}
