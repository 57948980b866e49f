//! An image the native builder makes: its keys, files, base and compression level.

use std::collections::BTreeSet;
use std::path::Path;

use super::image_keys::{image_config_checks, native_checks};
use super::{check_file, resolve_inside, Problems};
use crate::config::{checks, Compression, Config, FileEntry, Image, Native};
use crate::oci::platform::Platform;

pub(super) fn check(
    cfg: &Config,
    p: &mut Problems,
    key: &dyn Fn(&str) -> String,
    name: &str,
    img: &Image,
    native: &Native,
) {
    let r = &cfg.release;
    if img.context.is_some() || img.target.is_some() || img.builder.is_some() {
        p.add(
            format!("images.{name}"),
            "`context`, `target` and `builder` belong to Dockerfile images",
        );
    }
    if let Some(h) = &img.healthcheck {
        if let Err(e) = h.to_oci() {
            p.add(key("healthcheck"), e);
        }
    }
    for (i, v) in img.volumes.iter().enumerate() {
        if let Err(e) = checks::image_path(v) {
            p.add(key(&format!("volumes[{i}]")), e);
        }
    }
    if let Some(cmd) = &native.command {
        if cmd.first().is_none_or(|c| c.trim().is_empty()) {
            p.add(
                key("native.command"),
                "give the command as a list: [\"go\", \"build\", \"-o\", \"dist/{os}-{arch}/server\", \".\"]",
            );
        } else if native.files.is_empty() {
            p.fix(
                key("native.files"),
                "`command` builds files",
                "list what goes into the image with `files = [{ src, dst }]`",
            );
        }
    }
    match (&native.cargo_bin, native.files.is_empty()) {
        (None, true) => p.add(
            key("native"),
            "give `cargo-bin = \"<binary>\"` or `files = [{ src, dst }]`",
        ),
        (Some(b), _) if b.trim().is_empty() => p.add(key("native.cargo-bin"), "must not be empty"),
        _ => {}
    }
    for plat in native.targets.keys() {
        if plat.parse::<Platform>().is_err() {
            p.add(
                key(&format!("native.targets.\"{plat}\"")),
                format!("unknown platform {plat:?}"),
            );
        }
    }
    for pl in img.platforms.as_ref().unwrap_or(&r.platforms) {
        if pl.os != "linux" {
            p.fix(
                key("native"),
                format!("the native builder makes Linux layers only, not {pl}"),
                format!(
                    "build {pl} with a Dockerfile, or leave it out of this image's `platforms`"
                ),
            );
        }
    }
    for (i, f) in native.files.iter().enumerate() {
        file(cfg, p, &key(&format!("native.files[{i}]")), img, native, f);
    }
    if let Some(Err(e)) = native.dst.as_deref().map(checks::image_path) {
        p.add(key("native.dst"), e);
    }
    native_checks(p, key, native);
    image_config_checks(p, key, img);
    base(cfg, p, key, img);
    compression_level(p, key, img);
    if let Some(base) = &img.base {
        if base.trim().is_empty() {
            p.add(key("base"), "use \"scratch\" or an image reference");
        }
    }
}

/// One entry of `native.files`: its destination, mode, excludes, and a source inside the
/// workspace (for every platform, when the source is a template).
fn file(cfg: &Config, p: &mut Problems, fk: &str, img: &Image, native: &Native, f: &FileEntry) {
    let r = &cfg.release;
    if let Err(e) = checks::image_path(&f.dst) {
        p.add(format!("{fk}.dst"), e);
    }
    if let Err(e) = checks::no_nul(&f.src) {
        p.add(format!("{fk}.src"), e);
    }
    if let Some(m) = &f.mode {
        if u32::from_str_radix(m.trim_start_matches("0o"), 8).map_or(true, |v| v > 0o7777) {
            p.add(
                format!("{fk}.mode"),
                format!("{m:?} is not an octal file mode like \"0755\""),
            );
        }
    }
    for (j, pattern) in f.exclude.iter().enumerate() {
        if let Err(e) = glob::Pattern::new(pattern) {
            p.add(
                format!("{fk}.exclude[{j}]"),
                format!("{pattern:?} is not a glob pattern: {e}"),
            );
        }
    }
    let built_by_command = native.command.is_some();
    if !f.src.contains('{') && !built_by_command {
        match resolve_inside(&cfg.root, Path::new(&f.src)) {
            Ok(full) if full.is_dir() => {}
            Ok(_) => check_file(p, &cfg.root, &format!("{fk}.src"), Path::new(&f.src)),
            Err(e) => p.add(format!("{fk}.src"), e),
        }
    } else {
        // Every platform's path stays inside the workspace (existence is
        // checked when that platform is built).
        let mut seen = BTreeSet::new();
        for pl in img.platforms.as_ref().unwrap_or(&r.platforms) {
            let src = pl.expand(&f.src);
            if !seen.insert(src.clone()) {
                continue;
            }
            if let Err(e) = resolve_inside(&cfg.root, Path::new(&src)) {
                p.add(format!("{fk}.src"), e);
                break;
            }
        }
    }
}

/// `base`: `oci:PATH[:NAME]` inside the workspace, or an image reference.
fn base(cfg: &Config, p: &mut Problems, key: &dyn Fn(&str) -> String, img: &Image) {
    if let Some(rest) = img
        .base
        .as_deref()
        .and_then(|b| b.trim().strip_prefix("oci:"))
    {
        let path = checks::oci_base_path(rest, &cfg.root);
        if path.is_empty() {
            p.add(
                key("base"),
                "write `oci:PATH[:NAME]`, PATH relative to the workspace root",
            );
        } else if let Err(e) = resolve_inside(&cfg.root, Path::new(path)) {
            p.add(key("base"), e);
        }
    } else if let Some(b) = img
        .base
        .as_deref()
        .map(str::trim)
        .filter(|b| !b.is_empty() && *b != "scratch")
    {
        if let Err(e) = crate::oci::reference::ImageRef::parse(b) {
            p.fix(
                key("base"),
                format!("{b:?}: {e}"),
                "write \"scratch\", a registry reference (alpine:3.20, ghcr.io/org/image:tag) or oci:PATH[:NAME]",
            );
        }
    }
}

/// `compression-level`: within the codec's range.
fn compression_level(p: &mut Problems, key: &dyn Fn(&str) -> String, img: &Image) {
    if let Some(level) = img.compression_level {
        let (min, max) = match img.compression {
            Compression::Gzip => (0, 9),
            Compression::Zstd => (1, 19),
        };
        if !(min..=max).contains(&level) {
            let codec = match img.compression {
                Compression::Gzip => "gzip",
                Compression::Zstd => "zstd",
            };
            p.add(
                key("compression-level"),
                format!(
                    "{level} is out of range for {codec} ({min}-{max}; higher \
                     is smaller and slower)"
                ),
            );
        }
    }
}
