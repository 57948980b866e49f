//! The tag rules: metadata-action's first step's, bounded to the events the workflows release
//! on; else metadata-action's defaults, in the repository's tag form.

use super::*;

/// Tags, latest, flavor: from the first metadata-action step that has any (`meta`).
pub(super) fn tags(meta: &Meta, metas: &[&Meta], draft: &mut Draft, notes: &mut Notes) {
    for (i, (src, rule)) in meta.tags.iter().enumerate() {
        let mut key = format!("release.tags[{i}]");
        // The deliberate differences from metadata-action this rule meets (README: Tags).
        let differences = rule
            .parse::<crate::tag_rules::Rule>()
            .map(|r| r.differences())
            .unwrap_or_default();
        for d in differences {
            key.push_str(&format!(" (differs from metadata-action: {d})"));
        }
        notes.mapped(src.clone(), format!("tags {rule:?}"), key);
    }
    draft.tags = meta.tags.iter().map(|(_, r)| r.clone()).collect();
    match &meta.latest {
        Some((src, latest)) => {
            let key = if latest == "auto" {
                "release.latest (auto: only the highest non-prerelease version takes latest)"
            } else {
                "release.latest"
            };
            notes.mapped(src.clone(), format!("flavor latest={latest}"), key);
            draft.latest = Some(latest.clone());
        }
        None => notes.mapped(
            meta.from.clone(),
            "flavor latest (default auto)",
            "release.latest's default, auto: only the highest non-prerelease version takes \
                 latest (metadata-action's auto gives it to any tag push its rules match)",
        ),
    }
    if let Some((src, flavor)) = &meta.flavor {
        notes.mapped(src.clone(), "flavor prefix/suffix", "release.flavor");
        draft.flavor = Some(flavor.clone());
    }
    for other in metas.iter().skip(1) {
        let same = other.tags == meta.tags
            || other
                .tags
                .iter()
                .map(|t| &t.1)
                .eq(meta.tags.iter().map(|t| &t.1));
        if same && other.latest.as_ref().map(|l| &l.1) == meta.latest.as_ref().map(|l| &l.1) {
            notes.mapped(
                other.from.clone(),
                "metadata-action step (same inputs)",
                "release.tags",
            );
        } else if release_rules(other) && !draft.tags.iter().any(|r| answers_tags(r)) {
            tag_release_step(other, draft, notes);
        } else {
            notes.not_mapped(
                other.from.clone(),
                "another metadata-action step",
                format!(
                    "its tags/flavor differ from {}'s: give the image it tags its own `tags`, \
                         `flavor` and `latest`",
                    meta.from
                ),
            );
        }
    }
}

/// Whether a rule answers a tag push (a version release).
fn answers_tags(rule: &str) -> bool {
    rule.starts_with("type=semver")
        || rule.starts_with("type=pep440")
        || rule.starts_with("type=match")
        || rule.contains("event=tag")
}

/// `type=raw,value=latest` (with or without a condition).
fn raw_latest(rule: &str) -> bool {
    rule.starts_with("type=raw,value=latest")
        && !rule.contains("suffix")
        && !rule.contains("prefix")
}

/// A metadata-action step of version releases only: every rule answers a tag push, or is
/// `type=raw,value=latest`.
fn release_rules(meta: &Meta) -> bool {
    meta.tags.iter().any(|(_, r)| answers_tags(r))
        && meta
            .tags
            .iter()
            .all(|(_, r)| answers_tags(r) || raw_latest(r))
}

/// The first step tags branch builds (`type=raw,value=dev`) and `release` tags the version
/// releases (changedetection.io's two steps of one workflow): both sets of rules, the first's
/// unconditioned ones bounded to the default branch so that they stay off a version release,
/// and the release step's `type=raw,value=latest` as `latest = "auto"`.
fn tag_release_step(release: &Meta, draft: &mut Draft, notes: &mut Notes) {
    for rule in draft.tags.iter_mut() {
        if (rule.starts_with("type=raw") || rule.starts_with("type=sha"))
            && !rule.contains("enable=")
        {
            rule.push_str(",enable={{is_default_branch}}");
        }
    }
    for (src, rule) in &release.tags {
        if raw_latest(rule) {
            notes.mapped(
                src.clone(),
                format!("tags {rule:?} of the version-release step"),
                "release.latest = \"auto\" (the highest version release takes latest)",
            );
            draft.latest = Some("auto".into());
        } else if !draft.tags.contains(rule) {
            notes.mapped(
                src.clone(),
                format!("tags {rule:?} of the version-release step"),
                format!("release.tags[{}]", draft.tags.len()),
            );
            draft.tags.push(rule.clone());
        }
    }
}

/// The events the tag rules answer, as the workflows release them. metadata-action's rules
/// apply to the events its workflow runs on; stevedore's apply to every release:
/// - rules of a workflow that runs on pushes to the default branch only, and that no event
///   condition bounds (`type=raw`, `type=sha`), get `enable={{is_default_branch}}`: a `canary`
///   tag stays off a version release;
/// - when another workflow releases on tag pushes and no rule answers a tag push,
///   `type=ref,event=tag` (metadata-action's default: the git tag as named) is added and
///   reported, to replace with the rules that workflow computes.
pub(super) fn event_bounds(found: &Found, meta: &Meta, draft: &mut Draft, notes: &mut Notes) {
    let Some(w) = found
        .workflows
        .iter()
        .find(|w| w.metas.iter().any(|m| m.from == meta.from))
    else {
        return;
    };
    let default = draft.default_branch.as_ref().map(|(_, b)| b.as_str());
    let branch_only = w.tag_patterns.is_empty()
        && default.is_some()
        && w.branches.iter().all(|b| Some(b.as_str()) == default)
        && !w.branches.is_empty();
    if branch_only {
        for (i, rule) in draft.tags.iter_mut().enumerate() {
            let unbounded = (rule.starts_with("type=raw") || rule.starts_with("type=sha"))
                && !rule.contains("enable=");
            if unbounded {
                rule.push_str(",enable={{is_default_branch}}");
                notes.mapped(
                    meta.from.clone(),
                    format!(
                        "the workflow runs on pushes to {} only",
                        default.unwrap_or_default()
                    ),
                    format!("release.tags[{i}] with enable={{{{is_default_branch}}}}"),
                );
            }
        }
    }
    let answers_tags = draft.tags.iter().any(|r| answers_tags(r));
    let tag_release = found
        .workflows
        .iter()
        .find(|o| !o.tag_patterns.is_empty() && (!o.pushes.is_empty() || !o.bake_runs.is_empty()));
    if let (false, Some(o)) = (answers_tags, tag_release) {
        let at = o
            .pushes
            .first()
            .map(|p| p.from.clone())
            .or_else(|| o.bake_runs.first().map(|b| b.from.clone()))
            .unwrap_or_default();
        notes.not_mapped(
            at,
            format!("tag pushes ({})", o.tag_patterns.join(", ")),
            format!(
                "this workflow releases on them with tags computed when it runs: \
                 release.tags[{}] = \"type=ref,event=tag\" publishes the git tag as named; \
                 write the rules it computes (e.g. type=semver,pattern={{{{version}}}})",
                draft.tags.len()
            ),
        );
        draft.tags.push("type=ref,event=tag".to_string());
    }
}

/// With no tag rules found, release.tags stays empty: metadata-action's default rules, which
/// keep the repository's own tag form (`1.37.2` stays `1.37.2`).
pub(super) fn default_rules_note(found: &Found, notes: &mut Notes) {
    let versions: Vec<&String> = found
        .git_tags
        .iter()
        .filter(|t| {
            t.trim_start_matches('v')
                .starts_with(|c: char| c.is_ascii_digit())
        })
        .collect();
    let form = match versions.last() {
        Some(t) if t.starts_with('v') => format!("this repository's tags look like {t}"),
        Some(t) => format!("this repository's tags look like {t}, without a v"),
        None => "this repository has no version tag yet".to_string(),
    };
    let publishing =
        |w: &&Workflow| !w.pushes.is_empty() || !w.metas.is_empty() || !w.bake_runs.is_empty();
    let patterns: Vec<&String> = found
        .workflows
        .iter()
        .filter(publishing)
        .flat_map(|w| w.tag_patterns.iter())
        .collect();
    let triggers = if patterns.is_empty() {
        String::new()
    } else {
        format!(
            "; the workflows release on tags {}",
            patterns
                .iter()
                .map(|p| format!("{p:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    notes.mapped(
        Source::new("images/release.toml", 0),
        format!("tag form ({form}{triggers})"),
        "release.tags left empty: metadata-action's default rules, which publish a version tag \
         as it is named and a branch push as the branch name",
    );
}

#[cfg(test)]
mod tests;
