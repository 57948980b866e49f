//! `[images.<name>]`: the name, its repository, its platforms, which builder, ports and build
//! args; the builder's own keys are checked in [`super::dockerfile_image`] and
//! [`super::native_image`].

use std::collections::BTreeMap;

use super::image_keys::common_checks;
use super::{check_platforms, dockerfile_image, is_path_component, native_image, Problems};
use crate::config::Config;
use crate::oci::reference::validate_repository;

pub(super) fn check(cfg: &Config, p: &mut Problems, repos: &mut BTreeMap<String, String>) {
    if cfg.images.is_empty() {
        p.fix("images", "no images", "add an [images.<name>] table");
    }
    for (name, img) in &cfg.images {
        if !is_path_component(name) {
            p.add(
                format!("images.{name:?}"),
                "an image name is a repository path component: lower-case letters and \
                 digits, separated by `.`, `_`, `__` or `-` (e.g. `api`, `web-ui`)",
            );
            continue;
        }
        let key = |k: &str| format!("images.{name}.{k}");
        let repo = img.repository.clone().unwrap_or_else(|| name.clone());
        let repo_key = if img.repository.is_some() {
            key("repository")
        } else {
            format!("images.{name}")
        };
        if let Err(e) = validate_repository(&repo) {
            p.add(repo_key.clone(), e);
        } else if let Some(other) = repos.insert(repo.clone(), format!("images.{name}")) {
            // A variant of the same repository (`server:1.2.3` and `server:1.2.3-alpine`) is
            // told apart by its flavor; the plan then checks that no tag is claimed twice.
            let sibling = other
                .strip_prefix("images.")
                .and_then(|o| cfg.images.get(o))
                .is_some_and(|o| flavor_of(cfg, o) != flavor_of(cfg, img));
            if !sibling {
                p.fix(
                    repo_key,
                    format!("repository {repo:?} is already used by {other}"),
                    "set a distinct `repository`, or, for a variant published in the same \
                     repository, a `flavor` of its own (e.g. `flavor = { suffix = \"-alpine\" }`)",
                );
            }
        }
        if let Some(pl) = &img.platforms {
            if pl.is_empty() {
                p.add(key("platforms"), "must not be empty");
            }
            check_platforms(p, &key("platforms"), pl);
        }
        match (&img.dockerfile, &img.native) {
            (Some(_), Some(_)) => p.add(
                format!("images.{name}"),
                "set either `dockerfile` or `native`, not both",
            ),
            (None, None) => p.add(
                format!("images.{name}"),
                "set `dockerfile = \"path/Dockerfile\"` (Dockerfile builder) or `native = {...}` (native builder)",
            ),
            (Some(df), None) => dockerfile_image::check(cfg, p, &key, img, df),
            (None, Some(native)) => native_image::check(cfg, p, &key, name, img, native),
        }
        for port in &img.ports {
            let (num, proto) = port.split_once('/').unwrap_or((port, "tcp"));
            if !num.parse::<u16>().is_ok_and(|n| n != 0) || !matches!(proto, "tcp" | "udp" | "sctp")
            {
                p.fix(
                    key("ports"),
                    format!("{port:?} is not a port"),
                    "write ports (1-65535) as \"8080\", \"8080/tcp\" or \"53/udp\"",
                );
            }
        }
        common_checks(p, &key, img);
        for (arg, value) in &img.build_args {
            for t in crate::config::build_arg_templates::unknown_arg_templates(value) {
                p.fix(
                    key(&format!("build-args.{arg}")),
                    format!("{t} is not a template build args know"),
                    "use {{version}}, {{sha}} or {{branch}}",
                );
            }
        }
    }
}

/// The prefix and suffix `img`'s tags get: its own flavor, else the release's.
fn flavor_of<'a>(cfg: &'a Config, img: &'a crate::config::Image) -> (&'a str, &'a str) {
    let f = img.flavor.as_ref().unwrap_or(&cfg.release.flavor);
    (f.prefix.as_str(), f.suffix.as_str())
}
