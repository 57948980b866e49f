//! Validation: every problem of a config found in one run, each naming its key; paths that
//! must resolve inside the workspace.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::checks;
use super::*;
use crate::oci::reference::validate_repository;

impl Config {
    pub(super) fn validate(&mut self) -> Vec<(String, String)> {
        let mut p: Vec<(String, String)> = Vec::new();
        let mut add = |k: String, m: String| p.push((k, m));
        let r = &self.release;

        if r.name.trim().is_empty() {
            add("release.name".into(), "must not be empty".into());
        } else if let Err(e) = checks::plain_text(&r.name) {
            add("release.name".into(), e);
        }
        for (i, reg) in r.registries.iter().enumerate() {
            match RegistryPrefix::parse(reg) {
                Ok(prefix) if self.registries.contains(&prefix) => add(
                    format!("release.registries[{i}]"),
                    format!("{reg:?} is listed twice (as {prefix})"),
                ),
                // One host, one STEVEDORE_AUTH_<HOST> variable (its name is upper-cased): two
                // spellings of a host would read one secret under two names.
                Ok(prefix)
                    if self.registries.iter().any(|p| {
                        p.host != prefix.host && p.host.eq_ignore_ascii_case(&prefix.host)
                    }) =>
                {
                    add(
                        format!("release.registries[{i}]"),
                        format!(
                            "{reg:?}: host {} is written in another case elsewhere in \
                             release.registries; both would read the same credential variable: \
                             write the host the same way (lower case) everywhere",
                            prefix.host
                        ),
                    )
                }
                Ok(prefix) => self.registries.push(prefix),
                Err(e) => add(format!("release.registries[{i}]"), e),
            }
        }
        if r.platforms.is_empty() {
            add(
                "release.platforms".into(),
                "must not be empty: list the platforms to build, e.g. [\"linux/amd64\", \"linux/arm64\"]"
                    .into(),
            );
        }
        check_platforms(&mut add, "release.platforms", &r.platforms);
        for (i, rule) in r.tags.iter().enumerate() {
            match rule.parse::<Rule>() {
                Ok(rule) => self.rules.push(rule),
                Err(e) => add(format!("release.tags[{i}]"), format!("{rule:?}: {e}")),
            }
        }
        if r.tags.is_empty() {
            self.rules = Rule::defaults();
        }
        for (name, img) in &self.images {
            let Some(tags) = &img.tags else { continue };
            let mut rules = Vec::new();
            for (i, rule) in tags.iter().enumerate() {
                match rule.parse::<Rule>() {
                    Ok(rule) => rules.push(rule),
                    Err(e) => add(format!("images.{name}.tags[{i}]"), format!("{rule:?}: {e}")),
                }
            }
            self.image_rules.insert(name.clone(), rules);
        }
        if r.concurrency == 0 || r.concurrency > 64 {
            add(
                "release.concurrency".into(),
                format!("{} is out of range: use 1 to 64", r.concurrency),
            );
        }
        for (i, f) in r.ca_files.iter().enumerate() {
            check_inside_file(&mut add, &self.root, &format!("release.ca-files[{i}]"), f);
        }
        if let Err(e) = checks::branch_name(&r.default_branch) {
            add("release.default-branch".into(), e);
        }
        for (i, k) in r.secret_build_args.iter().enumerate() {
            if let Err(e) = checks::env_key(k) {
                add(format!("release.secret-build-args[{i}]"), e);
            }
        }
        for (k, v) in [
            ("source", &r.source),
            ("licenses", &r.licenses),
            ("description", &r.description),
        ] {
            if let Some(Err(e)) = v.as_deref().map(checks::no_nul) {
                add(format!("release.{k}"), e);
            }
        }
        for (i, h) in r.insecure_registries.iter().enumerate() {
            if h.trim().is_empty()
                || h.contains('/')
                || h.chars().any(|c| c.is_control() || c.is_whitespace())
            {
                add(
                    format!("release.insecure-registries[{i}]"),
                    format!("{h:?}: give a host[:port] only"),
                );
            }
        }

        if self.images.is_empty() {
            add(
                "images".into(),
                "no images: add an [images.<name>] table".into(),
            );
        }
        let mut repos: BTreeMap<String, String> = BTreeMap::new();
        for (name, img) in &self.images {
            if !is_path_component(name) {
                add(
                    format!("images.{name:?}"),
                    "an image name is a repository path component: lower-case letters and \
                     digits, separated by `.`, `_`, `__` or `-` (e.g. `api`, `web-ui`)"
                        .into(),
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
                add(repo_key.clone(), e);
            } else if let Some(other) = repos.insert(repo.clone(), format!("images.{name}")) {
                add(
                    repo_key,
                    format!("repository {repo:?} is already used by {other}: set a distinct `repository`"),
                );
            }
            if let Some(pl) = &img.platforms {
                if pl.is_empty() {
                    add(key("platforms"), "must not be empty".into());
                }
                check_platforms(&mut add, &key("platforms"), pl);
            }
            match (&img.dockerfile, &img.native) {
                (Some(_), Some(_)) => add(
                    format!("images.{name}"),
                    "set either `dockerfile` or `native`, not both".into(),
                ),
                (None, None) => add(
                    format!("images.{name}"),
                    "set `dockerfile = \"path/Dockerfile\"` (Dockerfile builder) or `native = {...}` (native builder)".into(),
                ),
                (Some(df), None) => {
                    check_inside_file(&mut add, &self.root, &key("dockerfile"), df);
                    if let Some(c) = &img.cache {
                        if !matches!(c.as_str(), "gha" | "registry" | "local") {
                            add(
                                key("cache"),
                                format!("{c:?}: use \"gha\", \"registry\" or \"local\""),
                            );
                        }
                    }
                    let ctx = img.context.clone().unwrap_or_else(|| {
                        df.parent().map(Path::to_path_buf).unwrap_or_default()
                    });
                    let full = self.root.join(&ctx);
                    if let Err(e) = resolve_inside(&self.root, &ctx) {
                        add(key("context"), e);
                    } else if !full.is_dir() {
                        add(
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
                            add(
                                key(k),
                                "only the native builder uses this key: set it in the Dockerfile".into(),
                            );
                        }
                    }
                }
                (None, Some(native)) => {
                    if img.context.is_some() || img.target.is_some() || img.builder.is_some() {
                        add(
                            format!("images.{name}"),
                            "`context`, `target` and `builder` belong to Dockerfile images".into(),
                        );
                    }
                    if let Some(h) = &img.healthcheck {
                        if let Err(e) = h.to_oci() {
                            add(key("healthcheck"), e);
                        }
                    }
                    for (i, v) in img.volumes.iter().enumerate() {
                        if let Err(e) = checks::image_path(v) {
                            add(key(&format!("volumes[{i}]")), e);
                        }
                    }
                    if let Some(cmd) = &native.command {
                        if cmd.first().is_none_or(|c| c.trim().is_empty()) {
                            add(
                                key("native.command"),
                                "give the command as a list: [\"go\", \"build\", \"-o\", \"dist/{os}-{arch}/server\", \".\"]".into(),
                            );
                        } else if native.files.is_empty() {
                            add(
                                key("native.files"),
                                "`command` builds files: list what goes into the image with `files = [{ src, dst }]`".into(),
                            );
                        }
                    }
                    match (&native.cargo_bin, native.files.is_empty()) {
                        (None, true) => add(
                            key("native"),
                            "give `cargo-bin = \"<binary>\"` or `files = [{ src, dst }]`".into(),
                        ),
                        (Some(b), _) if b.trim().is_empty() => {
                            add(key("native.cargo-bin"), "must not be empty".into())
                        }
                        _ => {}
                    }
                    for plat in native.targets.keys() {
                        if plat.parse::<Platform>().is_err() {
                            add(
                                key(&format!("native.targets.\"{plat}\"")),
                                format!("unknown platform {plat:?}"),
                            );
                        }
                    }
                    for p in img.platforms.as_ref().unwrap_or(&r.platforms) {
                        if p.os != "linux" {
                            add(
                                key("native"),
                                format!(
                                    "the native builder makes Linux layers only, not {p}: build \
                                     {p} with a Dockerfile, or leave it out of this image's \
                                     `platforms`"
                                ),
                            );
                        }
                    }
                    for (i, f) in native.files.iter().enumerate() {
                        let fk = key(&format!("native.files[{i}]"));
                        if let Err(e) = checks::image_path(&f.dst) {
                            add(format!("{fk}.dst"), e);
                        }
                        if let Err(e) = checks::no_nul(&f.src) {
                            add(format!("{fk}.src"), e);
                        }
                        if let Some(m) = &f.mode {
                            if u32::from_str_radix(m.trim_start_matches("0o"), 8)
                                .map_or(true, |v| v > 0o7777)
                            {
                                add(
                                    format!("{fk}.mode"),
                                    format!("{m:?} is not an octal file mode like \"0755\""),
                                );
                            }
                        }
                        for (j, pattern) in f.exclude.iter().enumerate() {
                            if let Err(e) = glob::Pattern::new(pattern) {
                                add(
                                    format!("{fk}.exclude[{j}]"),
                                    format!("{pattern:?} is not a glob pattern: {e}"),
                                );
                            }
                        }
                        let built_by_command = native.command.is_some();
                        if !f.src.contains('{') && !built_by_command {
                            match resolve_inside(&self.root, Path::new(&f.src)) {
                                Ok(full) if full.is_dir() => {}
                                Ok(_) => check_file(
                                    &mut add,
                                    &self.root,
                                    &format!("{fk}.src"),
                                    Path::new(&f.src),
                                ),
                                Err(e) => add(format!("{fk}.src"), e),
                            }
                        } else {
                            // Every platform's path stays inside the workspace (existence is
                            // checked when that platform is built).
                            let mut seen = BTreeSet::new();
                            for p in img.platforms.as_ref().unwrap_or(&r.platforms) {
                                let src = p.expand(&f.src);
                                if !seen.insert(src.clone()) {
                                    continue;
                                }
                                if let Err(e) = resolve_inside(&self.root, Path::new(&src)) {
                                    add(format!("{fk}.src"), e);
                                    break;
                                }
                            }
                        }
                    }
                    if let Some(Err(e)) = native.dst.as_deref().map(checks::image_path) {
                        add(key("native.dst"), e);
                    }
                    native_checks(&mut add, &key, native);
                    image_config_checks(&mut add, &key, img);
                    if let Some(rest) = img.base.as_deref().and_then(|b| b.trim().strip_prefix("oci:")) {
                        let path = checks::oci_base_path(rest, &self.root);
                        if path.is_empty() {
                            add(key("base"), "write `oci:PATH[:NAME]`, PATH relative to the workspace root".into());
                        } else if let Err(e) = resolve_inside(&self.root, Path::new(path)) {
                            add(key("base"), e);
                        }
                    } else if let Some(b) = img.base.as_deref().map(str::trim).filter(|b| !b.is_empty() && *b != "scratch") {
                        if let Err(e) = crate::oci::reference::ImageRef::parse(b) {
                            add(
                                key("base"),
                                format!("{b:?}: {e}: write \"scratch\", a registry reference (alpine:3.20, ghcr.io/org/image:tag) or oci:PATH[:NAME]"),
                            );
                        }
                    }
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
                            add(
                                key("compression-level"),
                                format!(
                                    "{level} is out of range for {codec} ({min}-{max}; higher \
                                     is smaller and slower)"
                                ),
                            );
                        }
                    }
                    if let Some(base) = &img.base {
                        if base.trim().is_empty() {
                            add(
                                key("base"),
                                "use \"scratch\" or an image reference".into(),
                            );
                        }
                    }
                }
            }
            for port in &img.ports {
                let (num, proto) = port.split_once('/').unwrap_or((port, "tcp"));
                if !num.parse::<u16>().is_ok_and(|n| n != 0)
                    || !matches!(proto, "tcp" | "udp" | "sctp")
                {
                    add(
                        key("ports"),
                        format!("{port:?}: write ports (1-65535) as \"8080\", \"8080/tcp\" or \"53/udp\""),
                    );
                }
            }
            common_checks(&mut add, &key, img);
            for (arg, value) in &img.build_args {
                for t in super::build_arg_templates::unknown_arg_templates(value) {
                    add(
                        key(&format!("build-args.{arg}")),
                        format!(
                            "{t} is not a template build args know: use {{{{version}}}}, \
                             {{{{sha}}}} or {{{{branch}}}}"
                        ),
                    );
                }
            }
        }

        let several = self.compose.len() > 1;
        for (n, c) in self.compose.iter().enumerate() {
            let ck = |k: &str| {
                if several {
                    format!("compose[{n}].{k}")
                } else {
                    format!("compose.{k}")
                }
            };
            if c.files.is_empty() {
                add(ck("files"), "list at least one compose file".into());
            }
            for (i, f) in c.files.iter().enumerate() {
                check_inside_file(&mut add, &self.root, &ck(&format!("files[{i}]")), f);
            }
            let repo = c.repository.clone().unwrap_or_else(|| r.name.clone());
            let k = if c.repository.is_some() {
                ck("repository")
            } else {
                "release.name".to_string()
            };
            if let Err(e) = validate_repository(&repo) {
                add(k, format!("compose artifact: {e}"));
            } else if let Some(other) = repos.get(&repo) {
                add(
                    k,
                    format!("compose artifact repository {repo:?} is already used by {other}: set a distinct `repository`"),
                );
            } else {
                repos.insert(repo.clone(), ck("repository"));
            }
        }
        p
    }
}

pub(super) fn check_platforms(
    add: &mut impl FnMut(String, String),
    key: &str,
    platforms: &[Platform],
) {
    let mut seen = BTreeSet::new();
    for p in platforms {
        if !seen.insert(p.normalized()) {
            add(key.to_string(), format!("platform {p} is listed twice"));
        }
    }
}

/// Where `rel` (a path from the config, relative to the workspace `root`) resolves, when it
/// stays inside the workspace: an absolute path, a `..` that climbs out of the root, or a
/// symbolic link whose target lies outside it is refused, so no host file (`/etc/shadow`, a
/// key in the home directory) can reach an image. A path that does not exist yet is returned
/// as it is (existence is checked where it matters).
pub fn resolve_inside(root: &Path, rel: &Path) -> Result<PathBuf, String> {
    use std::path::Component;
    if rel.is_absolute() {
        return Err(format!(
            "{} is an absolute path: give a path relative to the workspace root {} (only \
             files inside the workspace may be used)",
            rel.display(),
            root.display()
        ));
    }
    let mut depth = 0usize;
    for c in rel.components() {
        match c {
            Component::ParentDir if depth == 0 => {
                return Err(format!(
                    "{} leaves the workspace root {} through `..`: only files inside the \
                     workspace may be used; copy the file into it",
                    rel.display(),
                    root.display()
                ))
            }
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            _ => {}
        }
    }
    let full = root.join(rel);
    if full.symlink_metadata().is_err() {
        return Ok(full);
    }
    let (Ok(real), Ok(real_root)) = (full.canonicalize(), root.canonicalize()) else {
        return Err(format!(
            "{} is a symbolic link whose target does not exist",
            rel.display()
        ));
    };
    if !real.starts_with(&real_root) {
        return Err(format!(
            "{} resolves to {}, outside the workspace root {} (through a symbolic link): only \
             files inside the workspace may be used; copy the file into it",
            rel.display(),
            real.display(),
            root.display()
        ));
    }
    Ok(full)
}

/// Whether `name` is one repository path component: `[a-z0-9]+` runs separated by `.`, `_`,
/// `__` or runs of `-` (the distribution grammar). Image names become paths and repositories.
pub(super) fn is_path_component(name: &str) -> bool {
    static PATTERN: std::sync::OnceLock<regex_lite::Regex> = std::sync::OnceLock::new();
    PATTERN
        .get_or_init(|| {
            regex_lite::Regex::new(r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$")
                .expect("static pattern")
        })
        .is_match(name)
}

/// [`check_file`], after [`resolve_inside`].
pub(super) fn check_inside_file(
    add: &mut impl FnMut(String, String),
    root: &Path,
    key: &str,
    rel: &Path,
) {
    match resolve_inside(root, rel) {
        Ok(_) => check_file(add, root, key, rel),
        Err(e) => add(key.to_string(), e),
    }
}

pub(super) fn check_file(add: &mut impl FnMut(String, String), root: &Path, key: &str, rel: &Path) {
    let full = root.join(rel);
    match std::fs::metadata(&full) {
        Ok(m) if m.is_file() => {}
        Ok(_) => add(
            key.to_string(),
            format!("{} is not a file", rel.display()),
        ),
        Err(e) => add(
            key.to_string(),
            format!(
                "{} does not exist or cannot be read ({}); paths are relative to the workspace root {}",
                rel.display(),
                e.kind(),
                root.display()
            ),
        ),
    }
}

/// The keys both builders use: build args, labels, environment, stage and builder names.
fn common_checks(add: &mut impl FnMut(String, String), key: &dyn Fn(&str) -> String, img: &Image) {
    for (k, v) in &img.build_args {
        if let Err(e) = checks::env_key(k) {
            add(key("build-args"), format!("build arg {e}"));
        } else if let Err(e) = checks::no_nul(v) {
            add(key(&format!("build-args.{k}")), e);
        }
    }
    for (k, v) in &img.labels {
        if let Err(e) = checks::label_key(k) {
            add(key("labels"), e);
        } else if let Err(e) = checks::no_nul(v) {
            add(key(&format!("labels.\"{k}\"")), e);
        }
    }
    for (k, v) in &img.env {
        if let Err(e) = checks::env_key(k) {
            add(key("env"), format!("environment {e}"));
        } else if let Err(e) = checks::no_nul(v) {
            add(key(&format!("env.{k}")), e);
        }
    }
    for (k, v) in [("target", &img.target), ("builder-name", &img.builder_name)] {
        match v.as_deref() {
            Some(v) if v.trim().is_empty() => add(key(k), "must not be empty".into()),
            Some(v) => {
                if let Err(e) = checks::plain_text(v) {
                    add(key(k), e);
                }
            }
            None => {}
        }
    }
}

/// The image config of a native image: argv lists, user, working directory, stop signal,
/// health check.
fn image_config_checks(
    add: &mut impl FnMut(String, String),
    key: &dyn Fn(&str) -> String,
    img: &Image,
) {
    for (k, argv) in [("entrypoint", &img.entrypoint), ("cmd", &img.cmd)] {
        for (i, a) in argv.iter().flatten().enumerate() {
            if let Err(e) = checks::no_nul(a) {
                add(key(&format!("{k}[{i}]")), e);
            }
        }
    }
    if let Some(Err(e)) = img.user.as_deref().map(checks::user) {
        add(key("user"), e);
    }
    if let Some(Err(e)) = img.workdir.as_deref().map(checks::image_path) {
        add(key("working-dir"), e);
    }
    if let Some(Err(e)) = img.stop_signal.as_deref().map(checks::stop_signal) {
        add(key("stop-signal"), e);
    }
    if let Some(h) = &img.healthcheck {
        for (i, a) in h.test.iter().enumerate() {
            if let Err(e) = checks::no_nul(a) {
                add(key(&format!("healthcheck.test[{i}]")), e);
            }
        }
    }
}

/// `native`: the Rust targets, cargo's names and argv lists.
fn native_checks(
    add: &mut impl FnMut(String, String),
    key: &dyn Fn(&str) -> String,
    native: &Native,
) {
    for (plat, triple) in &native.targets {
        if let Err(e) = checks::target_triple(triple) {
            add(key(&format!("native.targets.\"{plat}\"")), e);
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
            add(
                key(&format!("native.{k}")),
                format!("{v:?} is not a cargo {k} name: letters, digits, `_` and `-` only"),
            );
        }
    }
    if let Some(Err(e)) = native.package.as_deref().map(checks::plain_text) {
        add(key("native.package"), e);
    }
    for (i, f) in native.features.iter().enumerate() {
        if let Err(e) = checks::plain_text(f) {
            add(key(&format!("native.features[{i}]")), e);
        }
    }
    for (k, argv) in [("cargo", &native.cargo), ("command", &native.command)] {
        for (i, a) in argv.iter().flatten().enumerate() {
            if let Err(e) = checks::no_nul(a) {
                add(key(&format!("native.{k}[{i}]")), e);
            }
        }
    }
}
