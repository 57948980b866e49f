//! The release plan: plain data computed from the config and the git/CI facts before anything
//! runs. Every later stage (build, attest, publish, compose) reads it; `--dry-run` walks the
//! same plan as a real release.

pub mod handoff;
pub mod names;

// The tag rules, the ref context and versions live in `crate::tag_rules` (`config` parses the
// rules too); the plan names them as before.
pub use crate::tag_rules as tags;
pub use crate::tag_rules::{context, version};

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::Serialize;

use crate::config::build_arg_templates::render_arg;
use crate::config::{BuilderKind, Compression, Config, Native};
pub use crate::config::{ComposeAllow, ComposeOciVersion, ProvenanceMode, SbomMode};
use crate::oci::platform::Platform;
use crate::oci::reference::{ImageRef, RegistryPrefix};
use context::{Event, GitRef, RefContext};
use tags::Rewrite;

/// Version of the `plan --json` document shape.
pub const PLAN_SCHEMA: u32 = 1;

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub schema: u32,
    pub name: String,
    pub version: String,
    pub git: GitSummary,
    /// Tags in rule-priority order, de-duplicated.
    pub tags: Vec<String>,
    /// Tags the engine had to rewrite to fit the registry grammar.
    pub rewritten_tags: Vec<Rewrite>,
    /// Tag rules skipped or read leniently, as metadata-action does (with why).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tag_warnings: Vec<String>,
    pub registries: Vec<RegistryPrefix>,
    pub images: Vec<ImagePlan>,
    /// The first compose artifact (schema 1 kept this key; `composes` lists them all).
    pub compose: Option<ComposePlan>,
    /// Every compose artifact (in the JSON only when there are several).
    #[serde(skip_serializing_if = "at_most_one")]
    pub composes: Vec<ComposePlan>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GitSummary {
    pub sha: String,
    pub short_sha: String,
    #[serde(rename = "ref")]
    pub git_ref: GitRef,
    pub event: Event,
    pub dirty: bool,
    /// The tracked files changed and not committed (when `dirty`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changed_files: Vec<String>,
    /// `SOURCE_DATE_EPOCH`: the commit time.
    pub source_date_epoch: i64,
    /// The commit time as ISO 8601 UTC (`BUILD_DATE`, `org.opencontainers.image.created`).
    pub build_date: String,
}

/// What a secret build arg's value reads as in the plan and its output.
pub const SECRET: &str = "<secret>";

#[derive(Debug, Clone, Serialize)]
pub struct ImagePlan {
    pub name: String,
    /// Repository under each registry prefix.
    pub repository: String,
    pub platforms: Vec<Platform>,
    pub builder: Builder,
    /// Build arguments (Dockerfile) or build environment (native): the user's plus
    /// `VERSION`, `GIT_COMMIT` and `BUILD_DATE`. The value of an argument named in
    /// `release.secret-build-args` is `<secret>` here: builders take
    /// [`ImagePlan::build_args_with_secrets`].
    pub build_args: BTreeMap<String, String>,
    /// The values of the secret build args (never serialised, printed or attested): from the
    /// image's `build-args`, else from the environment variable of the same name.
    #[serde(skip)]
    pub secret_build_args: BTreeMap<String, String>,
    /// The `secret-build-args` this image has no value for (a build that reads one stops).
    #[serde(skip)]
    pub secrets_missing: BTreeSet<String>,
    /// The label keys the config sets (they win over a Dockerfile's); the others are defaults.
    #[serde(skip)]
    pub user_labels: std::collections::BTreeSet<String>,
    /// Image labels: `org.opencontainers.image.*` from the plan plus the user's.
    pub labels: BTreeMap<String, String>,
    /// The name of the image index in the OCI layout (`<image>:<version>`).
    pub layout_name: String,
    /// This image's own tags (`images.<name>.tags`, `flavor`, `latest`), when it has them:
    /// a variant such as `-dev`. `None`: the release's tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Where it is pushed.
    pub targets: Vec<PushTarget>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Builder {
    Native(Box<NativeSpec>),
    Dockerfile {
        dockerfile: PathBuf,
        context: PathBuf,
        target: Option<String>,
        driver: BuilderKind,
        /// buildx: `builder-name`.
        #[serde(skip_serializing_if = "Option::is_none")]
        builder_name: Option<String>,
        /// buildx: `cache` (`gha`, `registry`, `local`).
        #[serde(skip_serializing_if = "Option::is_none")]
        cache: Option<String>,
    },
}

/// Everything the native builder needs for one image.
#[derive(Debug, Clone, Serialize)]
pub struct NativeSpec {
    #[serde(flatten)]
    pub native: Native,
    pub base: String,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub env: BTreeMap<String, String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub ports: Vec<String>,
    pub stop_signal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<crate::config::HealthcheckConfig>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<String>,
    pub compression: Compression,
    pub compression_level: Option<u32>,
}

/// One registry an image or artifact goes to.
#[derive(Debug, Clone, Serialize)]
pub struct PushTarget {
    /// The registry prefix of the config (host and namespace), written `ghcr.io/org`.
    #[serde(serialize_with = "as_text")]
    pub registry: RegistryPrefix,
    /// The API host (`registry-1.docker.io` for Docker Hub).
    pub api_host: String,
    /// Repository path on that host.
    pub repository: String,
    /// Full references, one per tag.
    pub references: Vec<ImageRef>,
}

impl PushTarget {
    /// The registry host (`ghcr.io`, `127.0.0.1:5000`).
    pub fn host(&self) -> &str {
        &self.registry.host
    }

    /// `host/repository`, as users write it.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry.host, self.repository)
    }

    /// `host/repository@digest`.
    pub fn by_digest(&self, digest: &crate::oci::Digest) -> ImageRef {
        ImageRef {
            host: self.host().to_string(),
            repository: self.repository.clone(),
            tag: None,
            digest: Some(digest.clone()),
        }
    }

    /// The reference of `tag` here (`host/repository:tag`): the plan's when it lists the tag.
    pub fn reference(&self, tag: &str) -> ImageRef {
        self.references
            .iter()
            .find(|r| r.tag.as_deref() == Some(tag))
            .cloned()
            .unwrap_or_else(|| ImageRef::tagged(self.host(), &self.repository, tag))
    }
}

fn as_text<S: serde::Serializer>(v: &impl std::fmt::Display, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// The `org.opencontainers.image.*` labels every image of the release gets.
fn oci_labels(
    r: &crate::config::Release,
    inputs: &Inputs,
    version: &str,
    build_date: &str,
) -> BTreeMap<String, String> {
    let mut oci_labels = BTreeMap::new();
    oci_labels.insert(
        "org.opencontainers.image.version".into(),
        version.to_string(),
    );
    oci_labels.insert(
        "org.opencontainers.image.revision".into(),
        inputs.ctx.sha.clone(),
    );
    oci_labels.insert(
        "org.opencontainers.image.created".into(),
        build_date.to_string(),
    );
    if let Some(src) = r.source.as_ref().or(inputs.source.as_ref()) {
        oci_labels.insert(
            "org.opencontainers.image.source".into(),
            crate::oci::reference::public_url(src),
        );
    }
    if let Some(l) = &r.licenses {
        oci_labels.insert("org.opencontainers.image.licenses".into(), l.clone());
    }
    if let Some(d) = &r.description {
        oci_labels.insert("org.opencontainers.image.description".into(), d.clone());
    }
    oci_labels
}

/// How an image is built: natively or from its Dockerfile.
fn builder_of(img: &crate::config::Image, r: &crate::config::Release) -> Builder {
    match (&img.native, &img.dockerfile) {
        (Some(native), _) => Builder::Native(Box::new(NativeSpec {
            native: native.clone(),
            base: img.base.clone().unwrap_or_else(|| "scratch".into()),
            entrypoint: img.entrypoint.clone(),
            cmd: img.cmd.clone(),
            env: img.env.clone(),
            user: img.user.clone(),
            workdir: img.workdir.clone(),
            ports: img.ports.clone(),
            stop_signal: img.stop_signal.clone(),
            healthcheck: img.healthcheck.clone(),
            volumes: img.volumes.clone(),
            compression: img.compression,
            compression_level: img.compression_level,
        })),
        (None, Some(df)) => Builder::Dockerfile {
            dockerfile: df.clone(),
            context: img
                .context
                .clone()
                .unwrap_or_else(|| df.parent().map(PathBuf::from).unwrap_or_default()),
            target: img.target.clone(),
            driver: img.builder.unwrap_or(r.builder),
            builder_name: img.builder_name.clone(),
            cache: img.cache.clone(),
        },
        (None, None) => unreachable!("validated: an image has a builder"),
    }
}

/// Takes the values of the secret build args (`names`) out of `build_args` (they read
/// [`SECRET`] there), else from the environment (`from_env`): the values, and the names with none.
fn split_secrets(
    build_args: &mut BTreeMap<String, String>,
    names: &[String],
    from_env: &BTreeMap<String, String>,
) -> (BTreeMap<String, String>, BTreeSet<String>) {
    let mut secret_build_args = BTreeMap::new();
    let mut secrets_missing = BTreeSet::new();
    for k in names {
        if let Some(v) = build_args.get_mut(k) {
            secret_build_args.insert(k.clone(), std::mem::replace(v, SECRET.into()));
        } else if let Some(v) = from_env.get(k) {
            secret_build_args.insert(k.clone(), v.clone());
        } else {
            secrets_missing.insert(k.clone());
        }
    }
    (secret_build_args, secrets_missing)
}

fn at_most_one(v: &[ComposePlan]) -> bool {
    v.len() <= 1
}

#[derive(Debug, Clone, Serialize)]
pub struct ComposePlan {
    pub files: Vec<PathBuf>,
    pub repository: String,
    pub layout_name: String,
    pub targets: Vec<PushTarget>,
    #[serde(skip)]
    pub env_files: bool,
    #[serde(skip)]
    pub oci_version: ComposeOciVersion,
    #[serde(skip)]
    pub resolve_external: bool,
    #[serde(skip)]
    pub allow: Vec<ComposeAllow>,
}

/// What the plan needs besides the config: the resolved ref context and a few git facts.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub ctx: RefContext,
    pub dirty: bool,
    pub changed_files: Vec<String>,
    /// `git describe --tags --always --dirty`, when git could give one.
    pub describe: Option<String>,
    /// `org.opencontainers.image.source` when the config sets none (no credentials in it).
    pub source: Option<String>,
    /// The values of `release.secret-build-args` found in the environment (a variable of the
    /// same name), for the images whose `build-args` do not give one.
    pub secrets: BTreeMap<String, String>,
}

impl Plan {
    /// The tags that float from release to release (`latest`, a branch, `1`, `1.2`,
    /// `latest-dev`), of the release and of every image with its own: every tag but those
    /// holding the full version (`v1.2.3`, `1.2.3-dev`) or naming the commit.
    pub fn floating_tags(&self) -> std::collections::BTreeSet<String> {
        let version = self.version.as_str();
        self.tags
            .iter()
            .chain(self.images.iter().flat_map(|i| i.tags.iter().flatten()))
            .filter(|t| {
                !t.contains(version) && !t.contains(&self.git.short_sha) && !t.starts_with("sha-")
            })
            .cloned()
            .collect()
    }
}

impl ImagePlan {
    /// The `org.opencontainers.image.*` labels: the annotations of the image index and of its
    /// manifests, whichever path (release, or push --by-digest + merge) writes them.
    pub fn oci_annotations(&self) -> BTreeMap<String, String> {
        self.labels
            .iter()
            .filter(|(k, _)| k.starts_with("org.opencontainers.image."))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The build args with the secret values in: for the builder only.
    pub fn build_args_with_secrets(&self) -> BTreeMap<String, String> {
        let mut args = self.build_args.clone();
        args.extend(self.secret_build_args.clone());
        args
    }

    /// `text` with every secret build arg value replaced by `<secret>` (a command line shown).
    pub fn redact(&self, text: &str) -> String {
        self.secret_build_args
            .values()
            .filter(|v| !v.is_empty())
            .fold(text.to_string(), |t, v| t.replace(v.as_str(), SECRET))
    }
}

impl Plan {
    /// Computes the plan. Pure: no I/O.
    pub fn new(config: &Config, inputs: &Inputs) -> Result<Plan, String> {
        let ctx = &inputs.ctx;
        let r = &config.release;
        let mut tagset = tags::compute(&config.rules, r.latest, &r.flavor, ctx)?;
        let version = version::version(ctx, inputs.describe.as_deref(), inputs.dirty);
        if inputs.dirty {
            // A modified tree never takes a semver, floating or commit tag: only its version,
            // which says `-dirty`.
            tagset.tags = vec![version.clone()];
            tagset.rewritten.clear();
        }
        let short_sha: String = ctx.sha.chars().take(7).collect();
        let branch = match &ctx.git_ref {
            GitRef::Branch { name } => name.clone(),
            GitRef::PullRequest { head_ref, .. } => head_ref.clone(),
            _ => String::new(),
        };
        let build_date = version::iso8601(ctx.commit_time);

        let oci_labels = oci_labels(r, inputs, &version, &build_date);

        let targets_for = |repo: &str| -> Vec<PushTarget> {
            config
                .registries
                .iter()
                .map(|p| push_target(p, repo, &tagset.tags))
                .collect()
        };

        // Repositories two images publish to (a variant told apart by its flavor).
        let shared = shared_repositories(config);
        let mut images = Vec::new();
        for (name, img) in &config.images {
            let own_tags = if img.tags.is_some() || img.flavor.is_some() || img.latest.is_some() {
                let rules = config.image_rules.get(name).unwrap_or(&config.rules);
                let own = tags::compute(
                    rules,
                    img.latest.unwrap_or(r.latest),
                    img.flavor.as_ref().unwrap_or(&r.flavor),
                    ctx,
                )?;
                for w in own.warnings {
                    if !tagset.warnings.contains(&w) {
                        tagset.warnings.push(w);
                    }
                }
                Some(if inputs.dirty {
                    // In a shared repository the variant's flavor keeps the two apart.
                    match (&img.flavor, shared.contains(&config.repository_of(name))) {
                        (Some(f), true) => vec![format!("{}{version}{}", f.prefix, f.suffix)],
                        _ => vec![version.clone()],
                    }
                } else {
                    own.tags
                })
            } else {
                None
            };
            images.push({
                let repository = config.repository_of(name);
                let mut build_args = img.build_args.clone();
                // The user's values may use {{version}}, {{sha}}, {{branch}}, and may give
                // VERSION its own form (e.g. `v{{version}}`); by default stevedore sets them.
                for v in build_args.values_mut() {
                    *v = render_arg(v, &version, &short_sha, &branch);
                }
                build_args
                    .entry("VERSION".into())
                    .or_insert_with(|| version.clone());
                build_args
                    .entry("GIT_COMMIT".into())
                    .or_insert_with(|| short_sha.clone());
                build_args
                    .entry("BUILD_DATE".into())
                    .or_insert_with(|| build_date.clone());
                let (secret_build_args, secrets_missing) =
                    split_secrets(&mut build_args, &r.secret_build_args, &inputs.secrets);
                let mut labels = oci_labels.clone();
                labels.insert("org.opencontainers.image.title".into(), name.clone());
                labels.extend(img.labels.clone());
                let builder = builder_of(img, r);
                ImagePlan {
                    name: name.clone(),
                    targets: match &own_tags {
                        Some(t) => config
                            .registries
                            .iter()
                            .map(|p| push_target(p, &repository, t))
                            .collect(),
                        None => targets_for(&repository),
                    },
                    repository,
                    platforms: config.platforms_of(name),
                    builder,
                    build_args,
                    secret_build_args,
                    secrets_missing,
                    user_labels: img.labels.keys().cloned().collect(),
                    labels,
                    layout_name: format!("{name}:{version}"),
                    tags: own_tags,
                }
            });
        }

        no_tag_claimed_twice(&images, &tagset.tags)?;

        let composes: Vec<ComposePlan> = config
            .compose
            .iter()
            .map(|c| {
                let repository = config.compose_repository(c);
                ComposePlan {
                    files: c.files.clone(),
                    layout_name: format!("{repository}:{version}"),
                    targets: targets_for(&repository),
                    repository,
                    env_files: c.env_files,
                    oci_version: c.oci_version,
                    resolve_external: c.resolve_external,
                    allow: c.allow.clone(),
                }
            })
            .collect();
        let compose = composes.first().cloned();

        Ok(Plan {
            schema: PLAN_SCHEMA,
            name: r.name.clone(),
            git: GitSummary {
                sha: ctx.sha.clone(),
                short_sha,
                git_ref: ctx.git_ref.clone(),
                event: ctx.event.clone(),
                dirty: inputs.dirty,
                changed_files: inputs.changed_files.clone(),
                source_date_epoch: ctx.commit_time,
                build_date,
            },
            version,
            tags: tagset.tags,
            rewritten_tags: tagset.rewritten,
            tag_warnings: tagset.warnings,
            registries: config.registries.clone(),
            images,
            compose,
            composes,
        })
    }

    pub fn image(&self, name: &str) -> Option<&ImagePlan> {
        self.images.iter().find(|i| i.name == name)
    }
}

fn push_target(prefix: &RegistryPrefix, repo: &str, tags: &[String]) -> PushTarget {
    let repository = prefix.repository(repo);
    PushTarget {
        registry: prefix.clone(),
        api_host: prefix.api_host().to_string(),
        references: tags
            .iter()
            .map(|t| ImageRef::tagged(&prefix.host, &repository, t))
            .collect(),
        repository,
    }
}

/// The repositories more than one image publishes to.
fn shared_repositories(config: &Config) -> Vec<String> {
    let repos: Vec<String> = config
        .images
        .keys()
        .map(|n| config.repository_of(n))
        .collect();
    repos
        .iter()
        .filter(|r| repos.iter().filter(|o| o == r).count() > 1)
        .cloned()
        .collect()
}

/// Images that share a repository (a variant told apart by its flavor) must not claim the same
/// tag: one would overwrite the other's in the registry.
fn no_tag_claimed_twice(images: &[ImagePlan], release_tags: &[String]) -> Result<(), String> {
    for (i, a) in images.iter().enumerate() {
        for b in images[i + 1..]
            .iter()
            .filter(|b| b.repository == a.repository)
        {
            let tags_a = a.tags.as_deref().unwrap_or(release_tags);
            let tags_b = b.tags.as_deref().unwrap_or(release_tags);
            if let Some(t) = tags_a.iter().find(|t| tags_b.contains(t)) {
                return Err(format!(
                    "images.{} and images.{} publish to the same repository {:?} and both claim \
                     the tag {t:?}\n  fix: give the variant a flavor that sets it apart on every \
                     tag (e.g. `flavor = {{ suffix = \"-alpine\", onlatest = true }}`), or its \
                     own `tags`",
                    a.name, b.name, a.repository
                ));
            }
        }
    }
    Ok(())
}
