//! The keys of one image: build args, labels, environment, names (both builders); the image
//! config and cargo's names (native images).

use super::Problems;
use crate::config::{checks, Image, Native};
/// The keys both builders use: build args, labels, environment, stage and builder names.
pub(super) fn common_checks(p: &mut Problems, key: &dyn Fn(&str) -> String, img: &Image) {
    for (k, v) in &img.build_args {
        if let Err(e) = checks::env_key(k) {
            p.add(key("build-args"), format!("build arg {e}"));
        } else if let Err(e) = checks::no_nul(v) {
            p.add(key(&format!("build-args.{k}")), e);
        }
    }
    for (k, v) in &img.labels {
        if let Err(e) = checks::label_key(k) {
            p.add(key("labels"), e);
        } else if let Err(e) = checks::no_nul(v) {
            p.add(key(&format!("labels.\"{k}\"")), e);
        }
    }
    for (k, v) in &img.env {
        if let Err(e) = checks::env_key(k) {
            p.add(key("env"), format!("environment {e}"));
        } else if let Err(e) = checks::no_nul(v) {
            p.add(key(&format!("env.{k}")), e);
        }
    }
    for (k, v) in [("target", &img.target), ("builder-name", &img.builder_name)] {
        match v.as_deref() {
            Some(v) if v.trim().is_empty() => p.add(key(k), "must not be empty"),
            Some(v) => {
                if let Err(e) = checks::plain_text(v) {
                    p.add(key(k), e);
                }
            }
            None => {}
        }
    }
}

/// The image config of a native image: argv lists, user, working directory, stop signal,
/// health check.
pub(super) fn image_config_checks(p: &mut Problems, key: &dyn Fn(&str) -> String, img: &Image) {
    for (k, argv) in [("entrypoint", &img.entrypoint), ("cmd", &img.cmd)] {
        for (i, a) in argv.iter().flatten().enumerate() {
            if let Err(e) = checks::no_nul(a) {
                p.add(key(&format!("{k}[{i}]")), e);
            }
        }
    }
    if let Some(Err(e)) = img.user.as_deref().map(checks::user) {
        p.add(key("user"), e);
    }
    if let Some(Err(e)) = img.workdir.as_deref().map(checks::image_path) {
        p.add(key("working-dir"), e);
    }
    if let Some(Err(e)) = img.stop_signal.as_deref().map(checks::stop_signal) {
        p.add(key("stop-signal"), e);
    }
    if let Some(h) = &img.healthcheck {
        for (i, a) in h.test.iter().enumerate() {
            if let Err(e) = checks::no_nul(a) {
                p.add(key(&format!("healthcheck.test[{i}]")), e);
            }
        }
    }
}

/// `native`: the Rust targets, cargo's names and argv lists.
pub(super) fn native_checks(p: &mut Problems, key: &dyn Fn(&str) -> String, native: &Native) {
    for (plat, triple) in &native.targets {
        if let Err(e) = checks::target_triple(triple) {
            p.add(key(&format!("native.targets.\"{plat}\"")), e);
        }
    }
    let cargo_name = |v: &str| {
        !v.is_empty()
            && v.len() <= 64
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
    };
    for (k, v) in [
        ("cargo-bin", &native.cargo_bin),
        ("profile", &native.profile),
    ] {
        if let Some(v) = v
            .as_deref()
            .filter(|v| !v.trim().is_empty() && !cargo_name(v))
        {
            p.add(
                key(&format!("native.{k}")),
                format!("{v:?} is not a cargo {k} name: letters, digits, `_` and `-` only"),
            );
        }
    }
    if let Some(Err(e)) = native.package.as_deref().map(checks::plain_text) {
        p.add(key("native.package"), e);
    }
    for (i, f) in native.features.iter().enumerate() {
        if let Err(e) = checks::plain_text(f) {
            p.add(key(&format!("native.features[{i}]")), e);
        }
    }
    for (k, argv) in [("cargo", &native.cargo), ("command", &native.command)] {
        for (i, a) in argv.iter().flatten().enumerate() {
            if let Err(e) = checks::no_nul(a) {
                p.add(key(&format!("native.{k}[{i}]")), e);
            }
        }
    }
}
