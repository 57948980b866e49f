//! The compose stage of a release: for every compose artifact of the plan and every registry,
//! load and check the compose files, pin each service's image (the release's own images to
//! their index in that registry, others to their registry's digest), assemble the artifact and
//! write it into the OCI layout, named so that publish can push it as one more unit.

use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};

use super::{
    assemble, check, load, pin_images, ArtifactInput, ComposeSpec, Finding, Project, ReleaseImage,
    Unpinned,
};
use crate::oci::layout::Layout;
use crate::oci::reference::{ImageRef, RegistryPrefix};
use crate::oci::Descriptor;
use crate::plan::handoff::{Content, LayoutEntry};
use crate::plan::{names, ComposeAllow, ComposePlan, Plan, PushTarget};
use crate::registry;

/// How to run the stage.
#[derive(Debug, Clone, Default)]
pub struct ComposeOptions {
    /// `--yes`: every finding compose would ask about is allowed for this run.
    pub yes: bool,
    /// A dry run: an external image whose digest cannot be resolved is left unpinned (and
    /// said), instead of failing.
    pub dry_run: bool,
    /// The run's registry session (external images are resolved with publish's clients).
    pub registry: Arc<registry::Clients>,
}

/// One artifact written into the layout, for one registry.
#[derive(Debug, Clone)]
pub struct BuiltArtifact {
    /// The artifact's repository (`stack-oci`).
    pub repository: String,
    /// Where it goes: the registry prefix, repository and references.
    pub target: PushTarget,
    /// Its manifest in the layout, and the name that holds it.
    pub manifest: Descriptor,
    pub layout_name: String,
    /// The OCI 1.0 form pushed when the registry refuses the 1.1 form (`oci-version = "auto"`).
    pub fallback: Option<(Descriptor, String)>,
    /// The exact manifest bytes (printed by `cargo xtask compose`).
    pub manifest_bytes: Vec<u8>,
    /// Services left as written, and why.
    pub unpinned: Vec<Unpinned>,
}

/// What the stage did.
#[derive(Debug, Clone, Default)]
pub struct ComposeReport {
    pub artifacts: Vec<BuiltArtifact>,
    /// Findings that were allowed (by `allow` or `--yes`): published anyway, said.
    pub allowed: Vec<Finding>,
    /// External images that could not be resolved on a dry run.
    pub warnings: Vec<String>,
    /// What the stage put into the layout, for publish: one entry per artifact and registry.
    pub entries: Vec<LayoutEntry>,
}

/// The compose files of every artifact of a plan, loaded and checked (by [`preflight`]) once
/// per release.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    /// Per artifact of the plan, in its order.
    projects: Vec<Project>,
    /// Findings that were allowed (by `allow` or `--yes`).
    allowed: Vec<Finding>,
}

fn spec_of(c: &ComposePlan) -> ComposeSpec {
    ComposeSpec {
        files: c.files.clone(),
        repository: c.repository.clone(),
        env_files: c.env_files,
        oci_version: c.oci_version,
        resolve_external: c.resolve_external,
        allow_bind_mounts: c.allow.contains(&ComposeAllow::BindMounts),
        allow_sensitive: c.allow.contains(&ComposeAllow::SensitiveData),
    }
}

/// Loads and checks every compose artifact of `plan` (files, schema, compose's pre-publish
/// checks) without writing anything: a release runs this before it builds, so that a refused
/// artifact stops it before any push; [`build`] assembles what it loaded.
pub fn preflight(plan: &Plan, root: &Path, yes: bool) -> Result<Checked> {
    let mut checked = Checked::default();
    for c in &plan.composes {
        let spec = spec_of(c);
        let project = load(root, &spec).map_err(|e| {
            e.into_problem()
                .within(format!("compose artifact {}", c.repository))
        })?;
        let report = check(&project, &spec, yes);
        report.to_result().map_err(|e| {
            e.into_problem()
                .within(format!("compose artifact {}", c.repository))
        })?;
        checked
            .allowed
            .extend(report.findings.into_iter().filter(|f| !f.refused));
        checked.projects.push(project);
    }
    Ok(checked)
}

/// Builds every compose artifact of `plan` (as [`preflight`] loaded them) into `layout`; the
/// release's images must be there.
pub fn build(
    plan: &Plan,
    checked: &Checked,
    layout: &Layout,
    opts: &ComposeOptions,
) -> Result<ComposeReport> {
    let mut report = ComposeReport {
        allowed: checked.allowed.clone(),
        ..ComposeReport::default()
    };
    if plan.composes.is_empty() {
        return Ok(report);
    }
    let mut resolver = Resolver::new(opts.registry.clone());
    let tag = plan
        .tags
        .first()
        .cloned()
        .unwrap_or_else(|| plan.version.clone());
    let created = plan.git.build_date.clone();
    let compose_version = format!("stevedore-{}", env!("CARGO_PKG_VERSION"));
    for (c, project) in plan.composes.iter().zip(&checked.projects) {
        let spec = spec_of(c);
        let what = format!("compose artifact {}", c.repository);
        for target in &c.targets {
            let release = release_images(plan, layout, &target.registry, &tag)?;
            let mut resolve = |r: &str| -> Result<String> {
                match resolver.digest(r) {
                    Ok(d) => Ok(d),
                    Err(e) if opts.dry_run => {
                        report
                            .warnings
                            .push(format!("{what}: {r} left unpinned on this dry run: {e:#}"));
                        Err(e)
                    }
                    Err(e) => Err(e),
                }
            };
            let pins = match pin_images(project, &release, spec.resolve_external, &mut resolve) {
                Ok(p) => p,
                Err(e) => bail!(e
                    .into_problem()
                    .within(format!("{what} for {}", target.registry))),
            };
            let input = ArtifactInput {
                project,
                env_files: spec.env_files,
                image_pins: Some(&pins),
                compose_version: &compose_version,
                created: &created,
            };
            let name = c.layout_name_for(target);
            let (manifest, manifest_bytes) = write(
                layout,
                &assemble(&input, spec.oci_version.first_form()),
                &name,
            )?;
            let fallback = match spec.oci_version.fallback_form() {
                Some(form) => {
                    let fallback_name = names::oci_1_0_fallback(&name);
                    let (d, _) = write(layout, &assemble(&input, form), &fallback_name)?;
                    Some((d, fallback_name))
                }
                None => None,
            };
            report.entries.push(LayoutEntry {
                layout_name: name.clone(),
                descriptor: manifest.clone(),
                content: Content::Compose {
                    repository: c.repository.clone(),
                    fallback: fallback.as_ref().map(|(_, n)| n.clone()),
                },
                targets: vec![target.clone()],
            });
            report.artifacts.push(BuiltArtifact {
                repository: c.repository.clone(),
                target: target.clone(),
                manifest,
                layout_name: name,
                fallback,
                manifest_bytes,
                unpinned: pins.unpinned.clone(),
            });
        }
    }
    Ok(report)
}

/// One external image of a compose artifact (an image the release does not build), as a
/// release would resolve it to pin it: its digest, or why it cannot be resolved.
#[derive(Debug)]
pub struct ExternalImage {
    /// The artifact's repository.
    pub artifact: String,
    /// The normalised reference (`docker.io/library/postgres:16`).
    pub reference: String,
    pub resolved: Result<String, String>,
}

/// Resolves, without writing anything, every external image the artifacts of `plan` (as
/// [`preflight`] loaded them) pin: what `doctor` checks before a release meets an unreachable
/// registry or a missing tag. Artifacts with `resolve-external = false` pin none.
pub fn external_images(
    plan: &Plan,
    checked: &Checked,
    registry: Arc<registry::Clients>,
) -> Vec<ExternalImage> {
    let mut resolver = Resolver::new(registry);
    let mut out: Vec<ExternalImage> = Vec::new();
    for (c, project) in plan.composes.iter().zip(&checked.projects) {
        if !c.resolve_external {
            continue;
        }
        // The release's own images are pinned to what it pushes, not resolved: any digest
        // stands in for it here.
        let release: Vec<ReleaseImage> = plan
            .images
            .iter()
            .flat_map(|img| &img.targets)
            .map(|t| ReleaseImage {
                repository: t.repository.clone(),
                pinned: format!("{}/{}@sha256:{}", t.host(), t.repository, "0".repeat(64)),
            })
            .collect();
        let mut resolve = |r: &str| -> Result<String> {
            let resolved = resolver.digest(r).map_err(|e| format!("{e:#}"));
            let digest = resolved
                .clone()
                .unwrap_or_else(|_| format!("sha256:{}", "0".repeat(64)));
            if !out.iter().any(|e| e.reference == r) {
                out.push(ExternalImage {
                    artifact: c.repository.clone(),
                    reference: r.to_string(),
                    resolved,
                });
            }
            Ok(digest)
        };
        if let Err(e) = pin_images(project, &release, true, &mut resolve) {
            out.push(ExternalImage {
                artifact: c.repository.clone(),
                reference: "a service image".into(),
                resolved: Err(e.into_problem().to_string()),
            });
        }
    }
    out
}

/// Writes an artifact's blobs and manifest into `layout`, named `name`.
fn write(layout: &Layout, art: &super::Artifact, name: &str) -> Result<(Descriptor, Vec<u8>)> {
    for (d, bytes) in &art.blobs {
        let written = layout.write_blob(&d.media_type, bytes)?;
        if written.digest != d.digest {
            bail!(
                "compose artifact: blob {} was stored as {}",
                d.digest,
                written.digest
            );
        }
    }
    let desc = layout.write_blob(&art.manifest_descriptor.media_type, &art.manifest)?;
    let mut named = art.manifest_descriptor.clone();
    named.digest = desc.digest;
    named.size = desc.size;
    layout.set_ref(name, &named)?;
    Ok((named, art.manifest.clone()))
}

/// The release's images as the compose files may name them in the registry `prefix`: each
/// image's repository path there, pinned to `tag` and its index digest from the layout.
fn release_images(
    plan: &Plan,
    layout: &Layout,
    prefix: &RegistryPrefix,
    tag: &str,
) -> Result<Vec<ReleaseImage>> {
    let mut out = Vec::new();
    for img in &plan.images {
        let Some(t) = img.targets.iter().find(|t| t.registry == *prefix) else {
            continue;
        };
        let index = layout.resolve(&img.layout_name).with_context(|| {
            format!(
                "the compose artifact pins image {} to its digest: build it first (`cargo xtask build`)",
                img.name
            )
        })?;
        // A variant (`-dev`) is pinned to its own first tag, the others to the release's.
        let tag = match img.tags.as_deref() {
            None => Some(tag),
            Some([own, ..]) => Some(own.as_str()),
            Some([]) => None,
        };
        let pinned = ImageRef {
            host: t.host().to_string(),
            repository: t.repository.clone(),
            tag: tag.map(str::to_string),
            digest: Some(index.digest),
        };
        out.push(ReleaseImage {
            repository: t.repository.clone(),
            pinned: pinned.to_string(),
        });
    }
    Ok(out)
}

/// Resolves external images to their registry digest, with publish's credentials and TLS
/// settings (the run's pull-only client per registry host).
struct Resolver {
    clients: Arc<registry::Clients>,
}

impl Resolver {
    fn new(clients: Arc<registry::Clients>) -> Resolver {
        Resolver { clients }
    }

    /// `sha256:…` of what `reference` (normalised, e.g. `docker.io/library/postgres:16`)
    /// points at.
    fn digest(&mut self, reference: &str) -> Result<String> {
        let image = ImageRef::parse(reference).map_err(|e| anyhow!("{reference}: {e}"))?;
        if let Some(d) = &image.digest {
            return Ok(d.to_string());
        }
        let client = self.clients.client_blocking(
            &image.host,
            &image.api_host(),
            registry::Operation::Pull,
        )?;
        let found = self
            .clients
            .block_on(client.manifest_digest(&image.repository, &image.reference()))??;
        found.map(|d| d.to_string()).ok_or_else(|| {
            anyhow::Error::from(crate::problem::Problem::compose(
                format!("{reference} is not in its registry"),
                "check the image name and tag in the compose file",
            ))
        })
    }
}
