//! The merge of a matrix release: the indexes from the jobs' digest files, then the same
//! attest and compose stages as a single-job release, then publish with every tag last.
//!
//! The merge job has no layers: its layout (`target/stevedore/merge`) holds each image's
//! merged index and the platform manifests' bytes from the job records. Attest reads the
//! provenance facts there (base images are the manifests' annotations) and takes each SBOM
//! the job made (syft's scan of the manifest it built) instead of scanning; a cargo SBOM is
//! made again from this clone's Cargo.lock, as the single job makes it. Publish expects the
//! platform manifests in every registry (the jobs pushed them) and pushes the rest.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::job_record::{self, Jobs};
use crate::attest::stage::{self as attest, AttestOptions, AttestReport, RunFacts};
use crate::compose::stage::{self as compose, ComposeOptions, ComposeReport};
use crate::oci::layout::Layout;
use crate::oci::{Descriptor, MEDIA_INDEX};
use crate::plan::handoff::{self, Content, LayoutEntry};
use crate::plan::{ImagePlan, Plan, ProvenanceMode};
use crate::progress::Shared;
use crate::publish;

/// How to merge.
#[derive(Debug, Clone)]
pub struct MergeOptions {
    pub attest: AttestOptions,
    pub compose: ComposeOptions,
    /// With `allow_partial` for an index that lacks configured platforms.
    pub publish: publish::PublishOptions,
    /// The merge's OCI layout (`target/stevedore/merge`).
    pub layout: PathBuf,
}

/// What a merge did.
#[derive(Debug, Clone)]
pub struct MergeReport {
    pub attest: AttestReport,
    pub compose: ComposeReport,
    pub published: publish::Report,
}

/// Merges the digest files `digest_files` of the plan's matrix jobs and publishes the indexes,
/// their attestations and the compose artifacts; the tags move last, all or nothing.
pub fn merge(
    plan: &Plan,
    root: &Path,
    digest_files: &[PathBuf],
    opts: &MergeOptions,
    log: &Shared,
) -> Result<MergeReport> {
    let attesting = opts.attest.mode != ProvenanceMode::Off;
    let jobs = job_record::read_all(plan, digest_files, attesting)?;
    // A compose artifact that cannot be published stops the merge before anything is pushed.
    let checked = compose::preflight(plan, root, opts.compose.yes)?;
    let layout = open_layout(&opts.layout)?;
    let images = write_indexes(plan, &jobs, &layout, opts.publish.allow_partial)?;
    let built: Vec<(&ImagePlan, Descriptor)> = images
        .iter()
        .filter_map(|e| Some((plan.image(e.image()?)?, e.descriptor.clone())))
        .collect();
    // Without job records (provenance off) there is nothing to attest from.
    let attested = if jobs.recorded {
        let mut attest_opts = opts.attest.clone();
        attest_opts.started = jobs.started;
        attest_opts.run = Some(RunFacts {
            finished: jobs.finished,
            builder_versions: jobs.builder_versions.clone(),
        });
        attest_opts.scans = jobs.scans;
        attest::attest(plan, root, &layout, &built, &attest_opts, &**log)?
    } else {
        AttestReport::default()
    };
    let mut compose_opts = opts.compose.clone();
    compose_opts.dry_run = false;
    let composed = compose::build(plan, &checked, &layout, &compose_opts)?;
    let entries = handoff::latest(&[&images, &composed.entries, &attested.entries]);
    let published = publish::publish_merged(plan, &entries, &layout, &opts.publish, log)?;
    Ok(MergeReport {
        attest: attested,
        compose: composed,
        published,
    })
}

fn open_layout(dir: &Path) -> Result<Layout> {
    if dir.join("oci-layout").exists() {
        Layout::open(dir)
    } else {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Layout::create(dir)
    }
}

/// Writes each image's merged index (the bytes a single-job release writes) and its platform
/// manifests into `layout`; returns the images as layout entries.
fn write_indexes(
    plan: &Plan,
    jobs: &Jobs,
    layout: &Layout,
    allow_partial: bool,
) -> Result<Vec<LayoutEntry>> {
    let mut entries = Vec::new();
    for img in &plan.images {
        let descs = jobs.images.get(&img.name).cloned().with_context(|| {
            format!(
                "no digest file lists image {}: run `cargo xtask push --by-digest` for it",
                img.name
            )
        })?;
        let (index, descs) = publish::merged_index(img, descs, allow_partial)?;
        for d in &descs {
            if let Some(bytes) = jobs.manifests.get(&d.digest) {
                layout.write_blob(&d.media_type, bytes)?;
            }
        }
        let desc = layout.write_json(MEDIA_INDEX, &index)?;
        layout.set_ref(&img.layout_name, &desc)?;
        entries.push(LayoutEntry {
            layout_name: img.layout_name.clone(),
            descriptor: desc,
            content: Content::Image {
                image: img.name.clone(),
            },
            targets: img.targets.clone(),
        });
    }
    Ok(entries)
}
