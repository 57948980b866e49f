//! An image built from a Dockerfile: the Dockerfile and context inside the workspace, the cache
//! kind, and no native-only keys.

use std::path::Path;

use super::{check_inside_file, resolve_inside, Problems};
use crate::config::{Config, Image};

pub(super) fn check(
    cfg: &Config,
    p: &mut Problems,
    key: &dyn Fn(&str) -> String,
    img: &Image,
    df: &Path,
) {
    check_inside_file(p, &cfg.root, &key("dockerfile"), df);
    if let Some(c) = &img.cache {
        if !matches!(c.as_str(), "gha" | "registry" | "local") {
            p.fix(
                key("cache"),
                format!("{c:?} is not a cache kind"),
                "use \"gha\", \"registry\" or \"local\"",
            );
        }
    }
    let ctx = img
        .context
        .clone()
        .unwrap_or_else(|| df.parent().map(Path::to_path_buf).unwrap_or_default());
    let full = cfg.root.join(&ctx);
    if let Err(e) = resolve_inside(&cfg.root, &ctx) {
        p.add(key("context"), e);
    } else if !full.is_dir() {
        p.add(
            key("context"),
            format!("build context {} is not a directory", ctx.display()),
        );
    }
    for k in [
        "base",
        "entrypoint",
        "cmd",
        "user",
        "workdir",
        "stop-signal",
        "healthcheck",
        "volumes",
    ] {
        let set = match k {
            "base" => img.base.is_some(),
            "entrypoint" => img.entrypoint.is_some(),
            "cmd" => img.cmd.is_some(),
            "user" => img.user.is_some(),
            "workdir" => img.workdir.is_some(),
            "healthcheck" => img.healthcheck.is_some(),
            "volumes" => !img.volumes.is_empty(),
            _ => img.stop_signal.is_some(),
        };
        if set {
            p.fix(
                key(k),
                "only the native builder uses this key",
                "set it in the Dockerfile",
            );
        }
    }
}
