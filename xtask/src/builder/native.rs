//! The native builder: an image assembled from files (and a `cargo-bin` binary) with no
//! Dockerfile and no daemon: base layers re-used untouched, one reproducible layer on top, the
//! image config, the manifest.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::base::{Base, BaseImage};
use super::layer::{self, LayerFile, LayerSpec};
use super::{cargo, command, tree, Ctx, PlatformBuild};
use crate::config::{resolve_inside, Compression};
use crate::oci::platform::Platform;
use crate::oci::{History, ImageConfig, Manifest, RootFs, MEDIA_CONFIG, MEDIA_MANIFEST};
use crate::plan::{ImagePlan, NativeSpec};

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Builds `platform` of the native image `image`.
pub fn build(
    ctx: &Ctx,
    image: &ImagePlan,
    spec: &NativeSpec,
    platform: &Platform,
) -> Result<PlatformBuild> {
    #[cfg(not(feature = "zstd"))]
    if spec.compression == Compression::Zstd {
        bail!(
            "images.{}.compression = \"zstd\": {}",
            image.name,
            layer::ZSTD_DISABLED
        );
    }
    let base = Base::parse(&spec.base, &ctx.root).load(platform, &ctx.layout, &ctx.pull)?;

    if let Some(argv) = &spec.native.command {
        command::build(&ctx.root, image, argv, platform, ctx.epoch, &*ctx.log)?;
    }
    let mut files = Vec::new();
    if let Some(bin) = &spec.native.cargo_bin {
        let path = cargo::build(&ctx.root, image, spec, platform, ctx.epoch, &*ctx.log)?;
        files.push(LayerFile {
            src: path,
            dst: spec
                .native
                .dst
                .clone()
                .unwrap_or_else(|| format!("/usr/local/bin/{bin}")),
            mode: Some(0o755),
            uid: 0,
            gid: 0,
        });
    }
    for f in &spec.native.files {
        let src = platform.expand(&f.src);
        let full = resolve_inside(&ctx.root, Path::new(&src))
            .map_err(|e| anyhow::anyhow!("native.files src {:?}: {e}", f.src))?;
        let mode = f
            .mode
            .as_deref()
            .map(|m| u32::from_str_radix(m.trim_start_matches("0o"), 8))
            .transpose()
            .with_context(|| format!("mode of {}", f.dst))?;
        let file = |src: PathBuf, dst: String| LayerFile {
            src,
            dst,
            mode,
            uid: f.uid.unwrap_or(0),
            gid: f.gid.unwrap_or(0),
        };
        if full.is_dir() {
            let dir = f.dst.trim_end_matches('/');
            for (rel, path) in tree::files(&ctx.root, &full, &f.exclude)
                .with_context(|| format!("native.files src {:?}", f.src))?
            {
                files.push(file(path, format!("{dir}/{rel}")));
            }
        } else if full.is_file() {
            files.push(file(full, file_dst(&f.dst, &src)));
        } else {
            bail!(crate::problem::Problem::config(
                format!(
                    "file {src} (native.files src {:?}) does not exist or is not a file",
                    f.src
                ),
                format!(
                    "add it, or fix the path (relative to {})",
                    ctx.root.display()
                )
            ));
        }
    }
    let level = spec.compression_level.unwrap_or(match spec.compression {
        Compression::Gzip => layer::DEFAULT_GZIP_LEVEL,
        Compression::Zstd => layer::DEFAULT_ZSTD_LEVEL,
    });
    let built = layer::build(
        &ctx.layout,
        Some(&ctx.cache_dir),
        &LayerSpec {
            files: files.clone(),
            epoch: ctx.epoch,
            compression: spec.compression,
            level,
        },
    )?;
    if built.cached {
        ctx.log.line(&format!(
            "[{} {platform}] layer unchanged: re-using {}",
            image.name, built.descriptor.digest
        ));
    }

    let config = image_config(ctx, image, spec, platform, &base, &files, &built.diff_id);
    let config_desc = ctx.layout.write_json(MEDIA_CONFIG, &config)?;
    let mut layers = base.layers.clone();
    layers.push(built.descriptor.clone());
    let mut annotations = image.oci_annotations();
    if let (Some(name), Some(digest)) = (&base.name, &base.digest) {
        annotations.insert("org.opencontainers.image.base.name".into(), name.clone());
        annotations.insert(
            "org.opencontainers.image.base.digest".into(),
            digest.to_string(),
        );
    }
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(MEDIA_MANIFEST.into()),
        artifact_type: None,
        config: config_desc.clone(),
        layers,
        subject: None,
        annotations,
    };
    let mut desc = ctx.layout.write_json(MEDIA_MANIFEST, &manifest)?;
    desc.platform = Some(platform.into());
    let size = config_desc.size + manifest.layers.iter().map(|l| l.size).sum::<u64>() + desc.size;
    Ok(PlatformBuild {
        platform: platform.clone(),
        manifest: desc,
        size,
    })
}

/// Where a `files` entry lands: `dst`, or inside it when it ends with `/` (`dst = "/etc/"`,
/// `src = "conf/app.toml"` → `/etc/app.toml`).
fn file_dst(dst: &str, src: &str) -> String {
    match dst.strip_suffix('/') {
        Some(dir) => {
            let name = Path::new(src)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            format!("{dir}/{name}")
        }
        None => dst.to_string(),
    }
}

fn image_config(
    ctx: &Ctx,
    image: &ImagePlan,
    spec: &NativeSpec,
    platform: &Platform,
    base: &BaseImage,
    files: &[LayerFile],
    diff_id: &crate::oci::Digest,
) -> ImageConfig {
    let mut c = base.config.config.clone().unwrap_or_default();
    // Env: the base's, then ours by key; PATH by default on scratch.
    let mut env: Vec<(String, String)> = c
        .env
        .iter()
        .map(|e| match e.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (e.clone(), String::new()),
        })
        .collect();
    if !env.iter().any(|(k, _)| k == "PATH") {
        let (k, v) = DEFAULT_PATH.split_once('=').expect("KEY=VALUE");
        env.insert(0, (k.into(), v.into()));
    }
    for (k, v) in &spec.env {
        match env.iter_mut().find(|(ek, _)| ek == k) {
            Some(slot) => slot.1 = v.clone(),
            None => env.push((k.clone(), v.clone())),
        }
    }
    c.env = env.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    if let Some(ep) = &spec.entrypoint {
        c.entrypoint = Some(ep.clone());
        // As in a Dockerfile: a new ENTRYPOINT resets the base's CMD.
        c.cmd = None;
    }
    if let Some(cmd) = &spec.cmd {
        c.cmd = Some(cmd.clone());
    }
    if spec.user.is_some() {
        c.user = spec.user.clone();
    }
    if spec.workdir.is_some() {
        c.working_dir = spec.workdir.clone();
    }
    if spec.stop_signal.is_some() {
        c.stop_signal = spec.stop_signal.clone();
    }
    if let Some(h) = &spec.healthcheck {
        // Validated with the config.
        c.healthcheck = h.to_oci().ok();
    }
    for v in &spec.volumes {
        c.volumes.insert(v.clone(), serde_json::json!({}));
    }
    for p in &spec.ports {
        let port = if p.contains('/') {
            p.clone()
        } else {
            format!("{p}/tcp")
        };
        c.exposed_ports.insert(port, serde_json::json!({}));
    }
    c.labels.extend(image.labels.clone());

    let mut rootfs = base.config.rootfs.clone();
    rootfs.kind = "layers".into();
    rootfs.diff_ids.push(diff_id.clone());
    let mut history = base.config.history.clone();
    let created_by: Vec<String> = files.iter().map(|f| f.dst.clone()).collect();
    history.push(History {
        created: Some(ctx.build_date.clone()),
        created_by: Some(format!("stevedore native: {}", created_by.join(" "))),
        comment: None,
        empty_layer: false,
    });
    ImageConfig {
        created: Some(ctx.build_date.clone()),
        author: None,
        architecture: platform.arch.clone(),
        os: platform.os.clone(),
        variant: platform.variant.clone(),
        config: Some(c),
        rootfs: RootFs {
            kind: rootfs.kind,
            diff_ids: rootfs.diff_ids,
        },
        history,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dst_ending_in_a_slash_is_a_directory() {
        for (dst, src, want) in [
            ("/etc/", "conf/app.toml", "/etc/app.toml"),
            ("/", "bin/app", "/app"),
            (
                "/usr/local/bin/app",
                "dist/linux-amd64/app",
                "/usr/local/bin/app",
            ),
        ] {
            assert_eq!(file_dst(dst, src), want, "{dst} {src}");
        }
    }
}
