//! The buildah driver of Dockerfile builds: one storage (and layer cache) per platform, each
//! platform re-used from the Dockerfile cache when its inputs are unchanged, and one retry on
//! copies of base images that list no history.

use super::*;

/// The buildah build of every platform of `req`, one storage per platform, each re-used from
/// the Dockerfile cache when its inputs are unchanged.
pub(super) fn build_with_buildah(
    ctx: &Ctx,
    req: &Request<'_>,
    dockerfile_text: &str,
    declared: &std::collections::BTreeMap<&'static str, String>,
    prefix: &str,
    secrets: &[String],
    fail: &dyn Fn(&str, exec::Failed) -> anyhow::Error,
) -> Result<Vec<PlatformBuild>> {
    let storage = buildah_storage(&ctx.root);
    let manifest = format!("stevedore-{}-{}", req.image.name, std::process::id());
    let access = RegistryAccess::prepare(&from_images(dockerfile_text), ctx.pull.clients())?;
    let qualified = rewritten_dockerfile(
        req,
        dockerfile_text,
        &access.dir().join("dockerfile"),
        &BTreeMap::new(),
    )?;
    let req = qualified.as_ref().unwrap_or(req);
    let ignorefile = write_ignorefile(ctx, req, access.dir())?;
    let buildah = |args: &[String]| {
        let mut cmd = Command::new("buildah");
        cmd.args(args)
            .current_dir(&ctx.root)
            .env("SOURCE_DATE_EPOCH", req.epoch.to_string());
        without_secrets(&mut cmd, req.image);
        // buildah refuses to run when DOCKER_CONFIG names a folder without a
        // config.json; no credentials are needed then, so do not pass it on.
        if std::env::var_os("DOCKER_CONFIG")
            .is_some_and(|d| !Path::new(&d).join("config.json").is_file())
        {
            cmd.env_remove("DOCKER_CONFIG");
        }
        cmd
    };
    // One storage (and layer cache) per platform: buildah 1.28's cache can take a step
    // built on another platform's base when their layers are alike, and resolves a
    // multi-platform `FROM` by name in its storage.
    // Each FROM image's digest now (a moved tag must rebuild); unknown: no reuse.
    let bases: Option<Vec<(String, crate::oci::Digest)>> = from_refs(dockerfile_text)
        .into_iter()
        .map(|(written, r)| {
            let d = ctx.pull.resolve_digest(&written, &r).ok()?;
            Some((written, d))
        })
        .collect();
    let state = ctx
        .root
        .canonicalize()
        .unwrap_or_else(|_| ctx.root.clone())
        .join("target/stevedore");
    let context = req
        .context
        .canonicalize()
        .unwrap_or_else(|_| req.context.clone());
    let mut built = Vec::new();
    for platform in req.platforms {
        let platform_name = platform.to_string();
        let key = match &bases {
            Some(bases) => Some(buildah_cache_key(
                req,
                dockerfile_text,
                &platform_name,
                bases,
                &context,
                &state,
            )?),
            None => None,
        };
        if let Some((mut manifest, size)) = key
            .as_ref()
            .and_then(|k| dockerfile_cache::lookup(&ctx.layout, &ctx.cache_dir, k))
        {
            ctx.log.line(&format!(
                "[{} {platform}] inputs unchanged: re-using {}",
                req.image.name, manifest.digest
            ));
            manifest.platform = Some(platform.into());
            built.push(PlatformBuild {
                platform: platform.clone(),
                manifest,
                size,
            });
            continue;
        }
        let slug = platform_name.replace('/', "-");
        let storage = storage.join(&slug);
        let cleanup = Cleanup {
            storage: storage.clone(),
            manifest: manifest.clone(),
        };
        let args = buildah_build_args(
            req,
            platform,
            &storage,
            &manifest,
            Some(&access),
            ignorefile.as_deref(),
            secrets,
        );
        ctx.log.line(
            &req.image
                .redact(&format!("[{prefix}] buildah {}", args.join(" "))),
        );
        let mut built_now = exec::streamed(&mut buildah(&args), prefix, &*ctx.log)?;
        if let Err(failed) = &built_now {
            if base_history::is_history_failure(&failed.tail_text()) {
                let dir = access.dir();
                if let Some(retry) =
                    on_bases_with_history(ctx, req, dockerfile_text, platform, dir, prefix)?
                {
                    let args = buildah_build_args(
                        &retry,
                        platform,
                        &storage,
                        &manifest,
                        Some(&access),
                        ignorefile.as_deref(),
                        secrets,
                    );
                    built_now = exec::streamed(&mut buildah(&args), prefix, &*ctx.log)?;
                }
            }
        }
        built_now.map_err(|f| fail("build", f))?;
        let dest = req.out.join(format!("oci-{slug}"));
        let args = buildah_push_args(&storage, &manifest, &dest);
        exec::streamed(&mut buildah(&args), prefix, &*ctx.log)?
            .map_err(|f| fail("manifest push", f))?;
        drop(cleanup);
        let imported = import(&ctx.layout, &dest, std::slice::from_ref(platform), declared)
            .with_context(|| format!("importing the buildah output for {platform}"))?;
        if let Some(k) = &key {
            for b in &imported {
                dockerfile_cache::store(&ctx.cache_dir, k, &b.manifest, b.size);
            }
        }
        built.extend(imported);
    }
    Ok(built)
}

/// The context's `.dockerignore` lines plus stevedore's own state directory, written into
/// `dir` for buildah's `--ignorefile`; `None` when nothing is to be ignored.
fn write_ignorefile(ctx: &Ctx, req: &Request<'_>, dir: &Path) -> Result<Option<PathBuf>> {
    let context = req
        .context
        .canonicalize()
        .unwrap_or_else(|_| req.context.clone());
    let state = ctx
        .root
        .canonicalize()
        .unwrap_or_else(|_| ctx.root.clone())
        .join("target/stevedore");
    match ignore_lines(&context, &state) {
        Some(lines) => {
            let path = dir.join("ignore");
            std::fs::write(&path, lines)?;
            Ok(Some(path))
        }
        None => Ok(None),
    }
}

/// The build-cache key of one buildah platform build. Secret values are no input of the key
/// (`<secret>` here): a new token alone does not rebuild, as with BuildKit's secret mounts.
fn buildah_cache_key(
    req: &Request<'_>,
    dockerfile_text: &str,
    platform_name: &str,
    bases: &[(String, crate::oci::Digest)],
    context: &Path,
    state: &Path,
) -> Result<crate::oci::Digest> {
    dockerfile_cache::key(&dockerfile_cache::Inputs {
        driver: "buildah",
        platform: platform_name,
        dockerfile: dockerfile_text.as_bytes(),
        target: req.target,
        build_args: &req.image.build_args,
        labels: &req.image.labels,
        epoch: req.epoch,
        bases,
        context,
        skip: state,
    })
}

/// After buildah failed on a base image without history: the request again, on copies of the
/// history-less bases that list one history entry per layer (their layers unchanged), or
/// `None` when no base lacks one.
fn on_bases_with_history<'a>(
    ctx: &Ctx,
    req: &Request<'a>,
    dockerfile_text: &str,
    platform: &Platform,
    dir: &Path,
    prefix: &str,
) -> Result<Option<Request<'a>>> {
    let slug = platform.to_string().replace('/', "-");
    let bases = base_history::with_history(
        dockerfile_text,
        platform,
        &ctx.pull,
        &dir.join(format!("bases-{slug}")),
    )?;
    if bases.is_empty() {
        return Ok(None);
    }
    let retry = rewritten_dockerfile(
        req,
        dockerfile_text,
        &dir.join(format!("dockerfile-{slug}")),
        &bases,
    )?;
    if retry.is_some() {
        let names: Vec<&str> = bases.keys().map(String::as_str).collect();
        ctx.log.line(&format!(
            "[{prefix}] base image {} lists no history (buildah needs one): building on a copy that lists one entry per layer, its layers unchanged",
            names.join(", ")
        ));
    }
    Ok(retry)
}

/// Images kept in buildah's storage (its layer cache) before it is emptied.
const MAX_CACHED_IMAGES: usize = 200;

/// Removes the buildah manifest list; the layers stay as the cache of the next build, and the
/// storage is emptied once it holds more than [`MAX_CACHED_IMAGES`] images.
struct Cleanup {
    storage: PathBuf,
    manifest: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let globals = buildah_globals(&self.storage);
        let buildah = |extra: &[&str]| {
            let mut cmd = Command::new("buildah");
            cmd.args(&globals).args(extra);
            cmd
        };
        exec::probe(&mut buildah(&["manifest", "rm", &self.manifest]));
        let images = buildah(&["images", "--all", "--quiet"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).lines().count())
            .unwrap_or(0);
        if images > MAX_CACHED_IMAGES {
            exec::probe(&mut buildah(&["rmi", "--all", "--force"]));
        }
    }
}
