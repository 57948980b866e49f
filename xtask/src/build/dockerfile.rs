//! The Dockerfile builder: `docker buildx build` (the path maintainers and hosted runners use)
//! or `buildah` (daemonless), building every platform at once into a temporary OCI layout whose
//! index is then imported into ours (blobs copied and verified).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use super::layout::Layout;
use super::{run, Ctx, PlatformBuild, Unavailable};
use crate::config::BuilderKind;
use crate::oci::{Descriptor, ImageConfig, Index, Manifest, DOCKER_LIST, MEDIA_INDEX};
use crate::plan::ImagePlan;
use crate::platform::Platform;

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
    run::on_path("docker") && run::probe(Command::new("docker").args(["buildx", "version"]))
}

fn buildah_available() -> bool {
    run::on_path("buildah") && run::probe(Command::new("buildah").arg("--version"))
}

/// The driver `kind` resolves to on this machine, or why there is none.
pub fn resolve(kind: BuilderKind, image: &str) -> std::result::Result<Driver, Unavailable> {
    let buildx_fix =
        "install Docker with the buildx plugin (https://docs.docker.com/build/install-buildx/)";
    let buildah_fix = "apt-get install buildah";
    match kind {
        BuilderKind::Buildx if buildx_available() => Ok(Driver::Buildx),
        BuilderKind::Buildx => Err(Unavailable {
            reason: "docker buildx is not available (`docker buildx version` failed)".into(),
            fix: format!("{buildx_fix}, or set images.{image}.builder = \"buildah\""),
        }),
        BuilderKind::Buildah if buildah_available() => Ok(Driver::Buildah),
        BuilderKind::Buildah => Err(Unavailable {
            reason: "buildah is not installed (not found on PATH)".into(),
            fix: format!(
                "{buildah_fix}, or set images.{image}.builder = \"auto\" to use docker buildx"
            ),
        }),
        BuilderKind::Auto if buildx_available() => Ok(Driver::Buildx),
        BuilderKind::Auto if buildah_available() => Ok(Driver::Buildah),
        BuilderKind::Auto => Err(Unavailable {
            reason: "no Dockerfile builder: neither docker buildx nor buildah is available".into(),
            fix: format!("{buildah_fix}, or {buildx_fix}"),
        }),
    }
}

/// Platforms of a Dockerfile this machine cannot build: those that need to run `RUN` steps
/// for a foreign architecture without a binfmt (qemu) handler.
pub fn check_platform(
    dockerfile: &Path,
    platform: &Platform,
) -> std::result::Result<(), Unavailable> {
    let Some(host) = Platform::host() else {
        return Ok(());
    };
    if host.normalized() == platform.normalized() || platform.os != "linux" {
        return Ok(());
    }
    let Ok(text) = std::fs::read_to_string(dockerfile) else {
        return Ok(()); // the build reports an unreadable Dockerfile with its cause
    };
    if !runs_target_steps(&text) {
        return Ok(());
    }
    let qemu_arch = match platform.arch.as_str() {
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
        return Ok(());
    }
    Err(Unavailable {
        reason: format!(
            "the Dockerfile has RUN steps for {platform}, and this machine cannot run {platform} programs (no qemu-{qemu_arch} binfmt handler)"
        ),
        fix: "apt-get install qemu-user-static binfmt-support (or `docker run --privileged --rm tonistiigi/binfmt --install all`), or build those stages with FROM --platform=$BUILDPLATFORM".into(),
    })
}

/// Does a stage that runs on the target platform (a `FROM` without `--platform`) hold a `RUN`?
fn runs_target_steps(dockerfile: &str) -> bool {
    let mut target_stage = true;
    for line in dockerfile.lines() {
        let line = line.trim();
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("FROM ") {
            target_stage = !upper.contains("--PLATFORM=");
        } else if upper.starts_with("RUN ") && target_stage {
            return true;
        }
    }
    false
}

/// Everything a driver needs for one image.
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

    fn common(&self) -> Vec<String> {
        let mut a = Vec::new();
        for (k, v) in &self.image.build_args {
            a.push("--build-arg".into());
            a.push(format!("{k}={v}"));
        }
        for (k, v) in &self.image.labels {
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

/// `docker buildx build …`: every platform into an OCI layout directory.
pub fn buildx_args(req: &Request<'_>) -> Vec<String> {
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
    a.extend(req.common());
    a.push(req.context.display().to_string());
    a
}

/// buildah's global flags: vfs storage under the workspace, so builds never touch the
/// system's container storage and need no privileges beyond chroot.
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

/// `buildah build …` into a manifest list named `manifest`.
pub fn buildah_build_args(req: &Request<'_>, storage: &Path, manifest: &str) -> Vec<String> {
    let mut a = buildah_globals(storage);
    a.extend([
        "build".into(),
        "--isolation".into(),
        "chroot".into(),
        "--platform".into(),
        req.platform_list(),
        "--manifest".into(),
        manifest.into(),
        "--timestamp".into(),
        req.epoch.to_string(),
    ]);
    a.extend(req.common());
    a.push(req.context.display().to_string());
    a
}

/// `buildah manifest push --all …` of `manifest` into an OCI layout.
pub fn buildah_push_args(storage: &Path, manifest: &str, dest: &Path) -> Vec<String> {
    let mut a = buildah_globals(storage);
    a.extend([
        "manifest".into(),
        "push".into(),
        "--all".into(),
        "--format".into(),
        "oci".into(),
        manifest.into(),
        format!("oci:{}:image", dest.display()),
    ]);
    a
}

/// Builds every platform of `req` and imports the result into `ctx.layout`.
pub fn build(ctx: &Ctx, driver: Driver, req: &Request<'_>) -> Result<Vec<PlatformBuild>> {
    let prefix = format!("{} {}", req.image.name, req.platform_list());
    // A Dockerfile the driver cannot read would give a confusing driver error: say it plainly.
    std::fs::read(&req.dockerfile)
        .with_context(|| format!("cannot read the Dockerfile {}", req.dockerfile.display()))?;
    let fail = |what: &str, failed: run::Failed| -> anyhow::Error {
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
            let args = buildx_args(req);
            eprintln!("[{prefix}] docker {}", args.join(" "));
            let mut cmd = Command::new("docker");
            cmd.args(&args)
                .current_dir(&ctx.root)
                .env("SOURCE_DATE_EPOCH", req.epoch.to_string());
            run::streamed(&mut cmd, &prefix)?.map_err(|f| fail("build", f))?;
            req.out.join("oci")
        }
        Driver::Buildah => {
            let storage = ctx.root.join("target/stevedore/buildah");
            let manifest = format!("stevedore-{}-{}", req.image.name, std::process::id());
            let buildah = |args: &[String]| {
                let mut cmd = Command::new("buildah");
                cmd.args(args)
                    .current_dir(&ctx.root)
                    .env("SOURCE_DATE_EPOCH", req.epoch.to_string());
                // buildah refuses to run when DOCKER_CONFIG names a folder without a
                // config.json; no credentials are needed then, so do not pass it on.
                if std::env::var_os("DOCKER_CONFIG")
                    .is_some_and(|d| !Path::new(&d).join("config.json").is_file())
                {
                    cmd.env_remove("DOCKER_CONFIG");
                }
                cmd
            };
            let cleanup = Cleanup {
                storage: storage.clone(),
                manifest: manifest.clone(),
            };
            let args = buildah_build_args(req, &storage, &manifest);
            eprintln!("[{prefix}] buildah {}", args.join(" "));
            run::streamed(&mut buildah(&args), &prefix)?.map_err(|f| fail("build", f))?;
            let dest = req.out.join("oci");
            let args = buildah_push_args(&storage, &manifest, &dest);
            run::streamed(&mut buildah(&args), &prefix)?.map_err(|f| fail("manifest push", f))?;
            drop(cleanup);
            dest
        }
    };
    import(&ctx.layout, &oci_dir, req.platforms)
        .with_context(|| format!("importing the {} output", driver.name()))
}

/// Removes the buildah manifest list and the images it holds, so storage does not grow.
struct Cleanup {
    storage: PathBuf,
    manifest: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let globals = buildah_globals(&self.storage);
        let quiet = |extra: &[&str]| {
            let mut cmd = Command::new("buildah");
            cmd.args(&globals).args(extra);
            run::probe(&mut cmd)
        };
        // The list, then the images it held (untagged now): the storage is ours alone.
        quiet(&["manifest", "rm", &self.manifest]);
        quiet(&["rmi", "--prune"]);
    }
}

/// Imports the image index of the OCI layout at `dir` into `into`: the platform manifests and
/// every blob they reference, verified. Exactly `platforms` must be present.
pub fn import(into: &Layout, dir: &Path, platforms: &[Platform]) -> Result<Vec<PlatformBuild>> {
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
        let mut d = Descriptor::new(&desc.media_type, desc.digest.clone(), desc.size);
        d.platform = Some((&platform).into());
        let size =
            desc.size + manifest.config.size + manifest.layers.iter().map(|l| l.size).sum::<u64>();
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn image() -> ImagePlan {
        let mut build_args = BTreeMap::new();
        build_args.insert("VERSION".to_string(), "1.2.3".to_string());
        let mut labels = BTreeMap::new();
        labels.insert(
            "org.opencontainers.image.version".to_string(),
            "1.2.3".to_string(),
        );
        ImagePlan {
            name: "web".into(),
            repository: "web".into(),
            platforms: vec![],
            builder: crate::plan::Builder::Dockerfile {
                dockerfile: "web/Dockerfile".into(),
                context: "web".into(),
                target: None,
                driver: BuilderKind::Auto,
            },
            build_args,
            labels,
            layout_name: "web:1.2.3".into(),
            targets: vec![],
        }
    }

    #[test]
    fn command_lines() {
        let image = image();
        let platforms = [Platform::linux_amd64(), "linux/arm64".parse().unwrap()];
        let req = Request {
            image: &image,
            dockerfile: "/w/web/Dockerfile".into(),
            context: "/w/web".into(),
            target: Some("runtime"),
            platforms: &platforms,
            epoch: 1700000000,
            out: "/tmp/x".into(),
        };
        assert_eq!(
            buildx_args(&req).join(" "),
            "buildx build --platform linux/amd64,linux/arm64 --output type=oci,dest=/tmp/x/oci,tar=false \
             --metadata-file /tmp/x/metadata.json --provenance=false --build-arg VERSION=1.2.3 \
             --label org.opencontainers.image.version=1.2.3 -f /w/web/Dockerfile --target runtime /w/web"
        );
        assert_eq!(
            buildah_build_args(&req, Path::new("/s"), "m").join(" "),
            "--root /s/root --runroot /s/runroot --storage-driver vfs build --isolation chroot \
             --platform linux/amd64,linux/arm64 --manifest m --timestamp 1700000000 \
             --build-arg VERSION=1.2.3 --label org.opencontainers.image.version=1.2.3 \
             -f /w/web/Dockerfile --target runtime /w/web"
        );
        assert_eq!(
            buildah_push_args(Path::new("/s"), "m", Path::new("/tmp/x/oci")).join(" "),
            "--root /s/root --runroot /s/runroot --storage-driver vfs manifest push --all --format oci m oci:/tmp/x/oci:image"
        );
    }

    #[test]
    fn finds_run_steps_on_the_target_platform() {
        assert!(!runs_target_steps("FROM scratch\nCOPY a /a\n"));
        assert!(runs_target_steps("FROM debian\nRUN make\n"));
        assert!(!runs_target_steps(
            "FROM --platform=$BUILDPLATFORM rust AS b\nRUN cargo build\nFROM scratch\nCOPY --from=b /x /x\n"
        ));
    }
}
