//! The Dockerfile builder: `docker buildx build` (the path maintainers and hosted runners use)
//! or `buildah` (daemonless), building every platform at once into a temporary OCI layout whose
//! index is then imported into ours (blobs copied and verified).
//!
//! buildah builds in Docker format (its OCI format drops `HEALTHCHECK`, `SHELL`, `ONBUILD`),
//! converted to OCI on import ([`super::docker_format`]); an instruction the Dockerfile declares
//! that is missing from the image is an error. Its storage lives outside the workspace (under
//! the user's cache directory, one per workspace) and is kept between builds so that its layer
//! cache (`--layers`) makes an unchanged rebuild fast; stevedore's own state
//! (`target/stevedore`) is always left out of the build context. `FROM` images are pulled with
//! stevedore's credentials and registry settings ([`super::registry_access`]), their short
//! names read as Docker reads them ([`super::image_names`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use super::base_history;
use super::build_secrets::{self, SecretFiles};
use super::docker_format;
use super::dockerfile_cache;
use super::image_names::{self, from_images, from_refs};
use super::registry_access::RegistryAccess;
use super::stages;
use super::{Ctx, PlatformBuild};
use crate::config::BuilderKind;
use crate::exec;
use crate::oci::layout::Layout;
use crate::oci::platform::Platform;
use crate::oci::{
    Descriptor, ImageConfig, Index, Manifest, DOCKER_LIST, MEDIA_INDEX, MEDIA_MANIFEST,
};
use crate::plan::ImagePlan;
use crate::problem::{Kind, Problem};

/// A concrete driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    Buildx,
    Buildah,
}

impl Driver {
    pub fn name(self) -> &'static str {
        match self {
            Driver::Buildx => "docker buildx",
            Driver::Buildah => "buildah",
        }
    }
}

fn buildx_available() -> bool {
    exec::on_path("docker") && exec::probe(Command::new("docker").args(["buildx", "version"]))
}

fn buildah_available() -> bool {
    exec::on_path("buildah") && exec::probe(Command::new("buildah").arg("--version"))
}

/// The driver `kind` resolves to on this machine, or why there is none.
pub fn resolve(kind: BuilderKind, image: &str) -> std::result::Result<Driver, Problem> {
    let buildx_fix =
        "install Docker with the buildx plugin (https://docs.docker.com/build/install-buildx/)";
    let buildah_fix = "apt-get install buildah";
    match kind {
        BuilderKind::Buildx if buildx_available() => Ok(Driver::Buildx),
        BuilderKind::Buildx => Err(Problem {
            kind: Kind::Unavailable,
            reason: "docker buildx is not available (`docker buildx version` failed)".into(),
            fix: format!("{buildx_fix}, or set images.{image}.builder = \"buildah\""),
        }),
        BuilderKind::Buildah if buildah_available() => Ok(Driver::Buildah),
        BuilderKind::Buildah => Err(Problem {
            kind: Kind::Unavailable,
            reason: "buildah is not installed (not found on PATH)".into(),
            fix: format!(
                "{buildah_fix}, or set images.{image}.builder = \"auto\" to use docker buildx"
            ),
        }),
        BuilderKind::Auto if buildx_available() => Ok(Driver::Buildx),
        BuilderKind::Auto if buildah_available() => Ok(Driver::Buildah),
        BuilderKind::Auto => Err(Problem {
            kind: Kind::Unavailable,
            reason: "no Dockerfile builder: neither docker buildx nor buildah is available".into(),
            fix: format!("{buildah_fix}, or {buildx_fix}"),
        }),
    }
}

/// Whether this machine can build `target` of a Dockerfile for `platform`: every stage the
/// target reaches that runs `RUN` steps for a foreign architecture needs a binfmt (qemu)
/// handler ([`super::stages`]).
pub fn check_platform(
    dockerfile: &Path,
    target: Option<&str>,
    platform: &Platform,
) -> std::result::Result<(), Problem> {
    let Some(host) = Platform::host() else {
        return Ok(());
    };
    if host.normalized() == platform.normalized() || platform.os != "linux" {
        return Ok(());
    }
    let Ok(text) = std::fs::read_to_string(dockerfile) else {
        return Ok(()); // the build reports an unreadable Dockerfile with its cause
    };
    for (stage, on) in stages::emulated(&text, target, platform, &host) {
        let qemu_arch = match on.arch.as_str() {
            "amd64" => "x86_64",
            "arm64" => "aarch64",
            "arm" => "arm",
            "386" => "i386",
            "ppc64le" => "ppc64le",
            "s390x" => "s390x",
            "riscv64" => "riscv64",
            other => other,
        };
        if Path::new("/proc/sys/fs/binfmt_misc")
            .join(format!("qemu-{qemu_arch}"))
            .exists()
        {
            continue;
        }
        return Err(Problem {
            kind: Kind::Unavailable,
            reason: format!(
                "the Dockerfile's {stage} stage has RUN steps for {on}, and this machine cannot run {on} programs (no qemu-{qemu_arch} binfmt handler)"
            ),
            fix: "apt-get install qemu-user-static binfmt-support (or `docker run --privileged --rm tonistiigi/binfmt --install all`), or build that stage with FROM --platform=$BUILDPLATFORM".into(),
        });
    }
    Ok(())
}

/// Everything a driver needs for one image.
#[derive(Clone)]
pub struct Request<'a> {
    pub image: &'a ImagePlan,
    pub dockerfile: PathBuf,
    pub context: PathBuf,
    pub target: Option<&'a str>,
    pub platforms: &'a [Platform],
    pub epoch: i64,
    /// A temp dir the driver writes its OCI layout into.
    pub out: PathBuf,
}

impl Request<'_> {
    fn platform_list(&self) -> String {
        self.platforms
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Build args (never a secret's: `secrets` are the `--secret` arguments of
    /// [`SecretFiles`]), labels, the Dockerfile and the target.
    fn common(&self, secrets: &[String]) -> Vec<String> {
        let mut a = Vec::new();
        for (k, v) in &self.image.build_args {
            if self.image.secret_build_args.contains_key(k) {
                continue;
            }
            a.push("--build-arg".into());
            a.push(format!("{k}={v}"));
        }
        a.extend(secrets.iter().cloned());
        // Labels the user wrote win over stevedore's defaults: a default (the title, say) the
        // Dockerfile's stage sets itself is not passed.
        let written = std::fs::read_to_string(&self.dockerfile)
            .map(|text| docker_format::declared_labels(&text, self.target))
            .unwrap_or_default();
        for (k, v) in &self.image.labels {
            if written.contains(k) && !self.image.user_labels.contains(k) {
                continue;
            }
            a.push("--label".into());
            a.push(format!("{k}={v}"));
        }
        a.push("-f".into());
        a.push(self.dockerfile.display().to_string());
        if let Some(t) = self.target {
            a.push("--target".into());
            a.push(t.into());
        }
        a
    }
}

/// `docker buildx build …`: every platform into an OCI layout directory. `secrets`: the
/// `--secret` arguments of [`SecretFiles`].
pub fn buildx_args(req: &Request<'_>, secrets: &[String]) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "buildx".into(),
        "build".into(),
        "--platform".into(),
        req.platform_list(),
        "--output".into(),
        format!("type=oci,dest={},tar=false", req.out.join("oci").display()),
        "--metadata-file".into(),
        req.out.join("metadata.json").display().to_string(),
        "--provenance=false".into(),
    ];
    if let crate::plan::Builder::Dockerfile {
        builder_name,
        cache,
        ..
    } = &req.image.builder
    {
        if let Some(b) = builder_name {
            a.push("--builder".into());
            a.push(b.clone());
        }
        if let Some(c) = cache {
            let (from, to) = buildx_cache(req, c);
            a.extend([
                "--cache-from".to_string(),
                from,
                "--cache-to".to_string(),
                to,
            ]);
        }
    }
    a.extend(req.common(secrets));
    a.push(req.context.display().to_string());
    a
}

/// `--cache-from` / `--cache-to` values for `cache` (`gha`, `registry`, `local`).
fn buildx_cache(req: &Request<'_>, cache: &str) -> (String, String) {
    let image = &req.image;
    match cache {
        "gha" => (
            format!("type=gha,scope={}", image.name),
            format!("type=gha,mode=max,scope={}", image.name),
        ),
        "registry" => {
            let r = image
                .targets
                .first()
                .map(|t| t.reference("buildcache").to_string())
                .unwrap_or_default();
            (
                format!("type=registry,ref={r}"),
                format!("type=registry,ref={r},mode=max"),
            )
        }
        _ => {
            // `out` is `target/stevedore/tmp/<image>-<pid>`: the cache lives beside `tmp`.
            let stevedore = req
                .out
                .parent()
                .and_then(|tmp| tmp.parent())
                .map(Path::to_path_buf)
                .unwrap_or_default();
            let dir = stevedore.join("buildx-cache").join(&image.name);
            (
                format!("type=local,src={}", dir.display()),
                format!("type=local,dest={},mode=max", dir.display()),
            )
        }
    }
}

/// buildah's global flags: vfs storage of stevedore's own (see [`buildah_storage`]), so builds
/// never touch the system's container storage and need no privileges beyond chroot.
pub fn buildah_globals(storage: &Path) -> Vec<String> {
    vec![
        "--root".into(),
        storage.join("root").display().to_string(),
        "--runroot".into(),
        storage.join("runroot").display().to_string(),
        "--storage-driver".into(),
        "vfs".into(),
    ]
}

/// Where buildah keeps its storage for the workspace at `root`: outside it (so no build context
/// ever holds it), under `$XDG_CACHE_HOME/stevedore/buildah/<hash of the root>` (else
/// `~/.cache/…`, else the temp dir). `cargo xtask` builds reuse its layer cache.
pub fn buildah_storage(root: &Path) -> PathBuf {
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let hash = crate::oci::Digest::of(root.display().to_string().as_bytes());
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("stevedore/buildah").join(&hash.hex()[..16])
}

/// `buildah build …` into a manifest list named `manifest`: Docker format (converted on
/// import), cached layers, stevedore's registry access, and `ignorefile` when the context
/// holds stevedore's own state. `secrets`: the `--secret` arguments of [`SecretFiles`].
pub fn buildah_build_args(
    req: &Request<'_>,
    platform: &Platform,
    storage: &Path,
    manifest: &str,
    access: Option<&RegistryAccess>,
    ignorefile: Option<&Path>,
    secrets: &[String],
) -> Vec<String> {
    let mut a = buildah_globals(storage);
    if let Some(conf) = access.and_then(|a| a.registries_conf.as_ref()) {
        a.push("--registries-conf".into());
        a.push(conf.display().to_string());
    }
    a.extend([
        "build".into(),
        "--isolation".into(),
        "chroot".into(),
        "--format".into(),
        "docker".into(),
        "--layers".into(),
        "--platform".into(),
        platform.to_string(),
        "--manifest".into(),
        manifest.into(),
        "--timestamp".into(),
        req.epoch.to_string(),
    ]);
    if let Some(f) = access.and_then(|a| a.authfile.as_ref()) {
        a.push("--authfile".into());
        a.push(f.display().to_string());
    }
    if let Some(d) = access.and_then(|a| a.cert_dir.as_ref()) {
        a.push("--cert-dir".into());
        a.push(d.display().to_string());
    }
    if let Some(f) = ignorefile {
        a.push("--ignorefile".into());
        a.push(f.display().to_string());
    }
    a.extend(req.common(secrets));
    a.push(req.context.display().to_string());
    a
}

/// An ignore file for a context that holds `state` (stevedore's `target/stevedore`): the
/// context's own `.dockerignore` / `.containerignore` lines, then the state directory.
/// `None` when the context does not hold it.
pub fn ignore_lines(context: &Path, state: &Path) -> Option<String> {
    let rel = state.strip_prefix(context).ok()?;
    let mut text = [".containerignore", ".dockerignore"]
        .iter()
        .find_map(|f| std::fs::read_to_string(context.join(f)).ok())
        .unwrap_or_default();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!("{}\n", rel.display()));
    Some(text)
}

/// `buildah manifest push --all …` of `manifest` into an OCI layout, in Docker format (its
/// conversion to OCI drops `Healthcheck`; [`super::docker_format`] converts on import).
pub fn buildah_push_args(storage: &Path, manifest: &str, dest: &Path) -> Vec<String> {
    let mut a = buildah_globals(storage);
    a.extend([
        "manifest".into(),
        "push".into(),
        "--all".into(),
        "--format".into(),
        "v2s2".into(),
        manifest.into(),
        format!("oci:{}:image", dest.display()),
    ]);
    a
}

/// `req` with its Dockerfile (`text`) written into the new directory `dir` with each image
/// name of `replace` replaced, and every other short image name in full, as Docker reads it
/// (buildah reads them through the machine's registries configuration, see [`image_names`]);
/// `None` when nothing changes. A `<Dockerfile>.dockerignore` goes along.
fn rewritten_dockerfile<'a>(
    req: &Request<'a>,
    text: &str,
    dir: &Path,
    replace: &BTreeMap<String, String>,
) -> Result<Option<Request<'a>>> {
    let with = |written: &str| {
        replace
            .get(written)
            .cloned()
            .or_else(|| image_names::qualify(written))
    };
    let Some(qualified) = image_names::rewrite(text, with) else {
        return Ok(None);
    };
    let name = req
        .dockerfile
        .file_name()
        .map_or_else(|| "Dockerfile".into(), |n| n.to_string_lossy().into_owned());
    std::fs::create_dir(dir)?;
    let path = dir.join(&name);
    std::fs::write(&path, qualified)?;
    let ignore = req
        .dockerfile
        .with_file_name(format!("{name}.dockerignore"));
    if ignore.is_file() {
        std::fs::copy(&ignore, dir.join(format!("{name}.dockerignore")))
            .with_context(|| format!("cannot read {}", ignore.display()))?;
    }
    Ok(Some(Request {
        dockerfile: path,
        ..req.clone()
    }))
}

/// `cmd` without the environment variables that carry secret-build-args (they reach the build
/// only as build secrets, from their private files).
fn without_secrets(cmd: &mut Command, image: &ImagePlan) {
    for name in image
        .secret_build_args
        .keys()
        .chain(image.secrets_missing.iter())
    {
        cmd.env_remove(name);
    }
}

/// Builds every platform of `req` and imports the result into `ctx.layout`.
pub fn build(ctx: &Ctx, driver: Driver, req: &Request<'_>) -> Result<Vec<PlatformBuild>> {
    let prefix = format!("{} {}", req.image.name, req.platform_list());
    // A Dockerfile the driver cannot read would give a confusing driver error: say it plainly.
    let dockerfile_text = std::fs::read_to_string(&req.dockerfile)
        .with_context(|| format!("cannot read the Dockerfile {}", req.dockerfile.display()))?;
    let declared = docker_format::declared(&dockerfile_text, req.target);
    // Secret build args go in as build secrets, from private files removed when this returns.
    let secret_names: Vec<&str> = req
        .image
        .secret_build_args
        .keys()
        .map(String::as_str)
        .collect();
    let missing: Vec<&str> = req
        .image
        .secrets_missing
        .iter()
        .map(String::as_str)
        .collect();
    build_secrets::check_missing(&dockerfile_text, &req.dockerfile, &missing)?;
    for note in build_secrets::check_dockerfile(&dockerfile_text, &req.dockerfile, &secret_names)? {
        ctx.log.line(&format!("[{prefix}] note: {note}"));
    }
    let secret_files = if secret_names.is_empty() {
        None
    } else {
        Some(SecretFiles::write(&req.image.secret_build_args)?)
    };
    let secrets = secret_files
        .as_ref()
        .map(SecretFiles::args)
        .unwrap_or_default();
    let fail = |what: &str, failed: exec::Failed| -> anyhow::Error {
        anyhow::anyhow!(
            "{} {what} failed ({}); its last lines:\n{}",
            driver.name(),
            failed.status,
            failed.tail_text()
        )
    };
    std::fs::create_dir_all(&req.out)?;
    let oci_dir = match driver {
        Driver::Buildx => {
            let args = buildx_args(req, &secrets);
            ctx.log.line(
                &req.image
                    .redact(&format!("[{prefix}] docker {}", args.join(" "))),
            );
            let mut cmd = Command::new("docker");
            cmd.args(&args)
                .current_dir(&ctx.root)
                .env("SOURCE_DATE_EPOCH", req.epoch.to_string());
            without_secrets(&mut cmd, req.image);
            exec::streamed(&mut cmd, &prefix, &*ctx.log)?.map_err(|f| fail("build", f))?;
            req.out.join("oci")
        }
        Driver::Buildah => {
            return build_with_buildah(
                ctx,
                req,
                &dockerfile_text,
                &declared,
                &prefix,
                &secrets,
                &fail,
            );
        }
    };
    import(&ctx.layout, &oci_dir, req.platforms, &declared)
        .with_context(|| format!("importing the {} output", driver.name()))
}

/// Imports the image index of the OCI layout at `dir` into `into`: the platform manifests and
/// every blob they reference, verified. Exactly `platforms` must be present.
pub fn import(
    into: &Layout,
    dir: &Path,
    platforms: &[Platform],
    declared: &std::collections::BTreeMap<&'static str, String>,
) -> Result<Vec<PlatformBuild>> {
    let src = Layout::open(dir)?;
    let top = src.index()?;
    // Either index.json lists the platform manifests, or it names one image index.
    let index = match top.manifests.as_slice() {
        [one] if one.media_type == MEDIA_INDEX || one.media_type == DOCKER_LIST => {
            src.read_json::<Index>(&one.digest)?
        }
        _ => top,
    };
    let mut built = Vec::new();
    let mut seen = BTreeSet::new();
    for desc in &index.manifests {
        let manifest: Manifest = src.read_json(&desc.digest)?;
        let config: ImageConfig = src.read_json(&manifest.config.digest)?;
        let platform = match &desc.platform {
            Some(p) if p.architecture != "unknown" => p.to_platform(),
            // Attestation manifests (unknown/unknown) are not images.
            Some(_) => continue,
            None => Platform::new(&config.os, &config.architecture, config.variant.as_deref()),
        };
        into.copy_blob_from(&src, &manifest.config)?;
        for layer in &manifest.layers {
            into.copy_blob_from(&src, layer)?;
        }
        into.copy_blob_from(&src, desc)?;
        if config.architecture != platform.arch || config.os != platform.os {
            bail!(
                "the {platform} manifest's config says {}/{}",
                config.os,
                config.architecture
            );
        }
        seen.insert(platform.normalized());
        let (mut d, manifest, config) = match docker_format::to_oci(into, &manifest)? {
            Some((oci, config)) => (into.write_json(MEDIA_MANIFEST, &oci)?, oci, config),
            None => (
                Descriptor::new(&desc.media_type, desc.digest.clone(), desc.size),
                manifest,
                config,
            ),
        };
        docker_format::check_kept(declared, &config)
            .with_context(|| format!("the {platform} image"))?;
        d.platform = Some((&platform).into());
        let size =
            d.size + manifest.config.size + manifest.layers.iter().map(|l| l.size).sum::<u64>();
        built.push(PlatformBuild {
            platform,
            manifest: d,
            size,
        });
    }
    let want: BTreeSet<Platform> = platforms.iter().map(Platform::normalized).collect();
    if seen != want {
        let show = |s: &BTreeSet<Platform>| {
            s.iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        bail!(
            "the builder produced platforms [{}], but [{}] were requested",
            show(&seen),
            show(&want)
        );
    }
    // Keep the configured platform order.
    built.sort_by_key(|b| {
        platforms
            .iter()
            .position(|p| p.normalized() == b.platform.normalized())
    });
    Ok(built)
}

mod buildah_driver;
use buildah_driver::build_with_buildah;

#[cfg(test)]
mod tests;
