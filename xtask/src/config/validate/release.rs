//! `[release]`: name, registries, platforms, tag rules, concurrency, CA files, branch, secret
//! build args, metadata, insecure registries.

use super::{check_inside_file, check_platforms, Problems};
use crate::config::{checks, Config, RegistryPrefix, Rule};

pub(super) fn check(cfg: &mut Config, p: &mut Problems) {
    name(cfg, p);
    registries(cfg, p);
    platforms(cfg, p);
    tag_rules(cfg, p);
    settings(cfg, p);
}

/// `name`: set, plain text.
fn name(cfg: &Config, p: &mut Problems) {
    let r = &cfg.release;
    if r.name.trim().is_empty() {
        p.add("release.name", "must not be empty");
    } else if let Err(e) = checks::plain_text(&r.name) {
        p.add("release.name", e);
    }
}

/// `registries`: prefixes that parse, each once, each host spelled one way (kept in
/// `cfg.registries`).
fn registries(cfg: &mut Config, p: &mut Problems) {
    let r = &cfg.release;
    for (i, reg) in r.registries.iter().enumerate() {
        match RegistryPrefix::parse(reg) {
            Ok(prefix) if cfg.registries.contains(&prefix) => p.add(
                format!("release.registries[{i}]"),
                format!("{reg:?} is listed twice (as {prefix})"),
            ),
            // One host, one STEVEDORE_AUTH_<HOST> variable (its name is upper-cased): two
            // spellings of a host would read one secret under two names.
            Ok(prefix)
                if cfg.registries.iter().any(|p| {
                    p.host != prefix.host && p.host.eq_ignore_ascii_case(&prefix.host)
                }) =>
            {
                p.fix(
                    format!("release.registries[{i}]"),
                    format!(
                        "{reg:?}: host {} is written in another case elsewhere in \
                         release.registries; both would read the same credential variable",
                        prefix.host
                    ),
                    "write the host the same way (lower case) everywhere",
                )
            }
            Ok(prefix) => cfg.registries.push(prefix),
            Err(e) => p.add(format!("release.registries[{i}]"), e),
        }
    }
}

/// `platforms`: at least one, none twice.
fn platforms(cfg: &Config, p: &mut Problems) {
    let r = &cfg.release;
    if r.platforms.is_empty() {
        p.fix(
            "release.platforms",
            "must not be empty",
            "list the platforms to build, e.g. [\"linux/amd64\", \"linux/arm64\"]",
        );
    }
    check_platforms(p, "release.platforms", &r.platforms);
}

/// `tags` of the release and of each image: rules that parse (kept in `cfg.rules` and
/// `cfg.image_rules`; the defaults when the release gives none).
fn tag_rules(cfg: &mut Config, p: &mut Problems) {
    let r = &cfg.release;
    for (i, rule) in r.tags.iter().enumerate() {
        match rule.parse::<Rule>() {
            Ok(rule) => cfg.rules.push(rule),
            Err(e) => p.add(format!("release.tags[{i}]"), format!("{rule:?}: {e}")),
        }
    }
    if r.tags.is_empty() {
        cfg.rules = Rule::defaults();
    }
    for (name, img) in &cfg.images {
        let Some(tags) = &img.tags else { continue };
        let mut rules = Vec::new();
        for (i, rule) in tags.iter().enumerate() {
            match rule.parse::<Rule>() {
                Ok(rule) => rules.push(rule),
                Err(e) => p.add(format!("images.{name}.tags[{i}]"), format!("{rule:?}: {e}")),
            }
        }
        cfg.image_rules.insert(name.clone(), rules);
    }
}

/// The other settings: concurrency, CA files, default branch, secret build args, metadata,
/// insecure registries.
fn settings(cfg: &Config, p: &mut Problems) {
    let r = &cfg.release;
    if r.concurrency == 0 || r.concurrency > 64 {
        p.fix(
            "release.concurrency",
            format!("{} is out of range", r.concurrency),
            "use 1 to 64",
        );
    }
    for (i, f) in r.ca_files.iter().enumerate() {
        check_inside_file(p, &cfg.root, &format!("release.ca-files[{i}]"), f);
    }
    if let Err(e) = checks::branch_name(&r.default_branch) {
        p.add("release.default-branch", e);
    }
    for (i, k) in r.secret_build_args.iter().enumerate() {
        if let Err(e) = checks::env_key(k) {
            p.add(format!("release.secret-build-args[{i}]"), e);
        }
    }
    for (k, v) in [
        ("source", &r.source),
        ("licenses", &r.licenses),
        ("description", &r.description),
    ] {
        if let Some(Err(e)) = v.as_deref().map(checks::no_nul) {
            p.add(format!("release.{k}"), e);
        }
    }
    for (host, mirror) in &r.mirrors {
        if let Err(e) = checks::mirror(host, mirror) {
            p.add(format!("release.mirrors.{host:?}"), e);
        }
    }
    for (i, h) in r.insecure_registries.iter().enumerate() {
        if h.trim().is_empty()
            || h.contains('/')
            || h.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            p.fix(
                format!("release.insecure-registries[{i}]"),
                format!("{h:?} is not a host"),
                "give a host[:port] only",
            );
        }
    }
}
