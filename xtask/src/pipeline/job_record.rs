//! The job record of a matrix build: what one `push --by-digest` job adds to its digest file
//! for `merge` to attest what it built as a single-job release would.
//!
//! The digest file (`images`: the platform manifests pushed) gains a `job` object: the commit,
//! when the job's build started and ended, and per image and platform the manifest's exact
//! bytes (its base-image annotations with them), the builder and its version, and syft's SPDX
//! JSON of the manifest where the single-job release would make one. One file per job, so a
//! workflow uploads what it always uploaded. `merge` reads every file as hostile: a bounded
//! size, no unknown key, only the plan's images, the manifest bytes must hash to the digest
//! the file lists, each SBOM must match its recorded size and sha256.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::attest::stage::{builder_of, sbom_source, SbomSource};
use crate::attest::syft;
use crate::oci::layout::Layout;
use crate::oci::{Descriptor, Digest, Index, Manifest};
use crate::plan::{ImagePlan, Plan, ProvenanceMode, SbomMode};
use crate::problem::{Kind, Problem};
use crate::progress::Sink;

/// Version of the job record's shape.
pub const SCHEMA: u32 = 1;
/// What the record says it is.
pub const KIND: &str = "stevedore-matrix-job";
/// The largest digest file `merge` reads (with its job record and SBOMs).
pub const MAX_DIGEST_FILE: u64 = 128 << 20;
/// The largest SBOM of one platform manifest.
pub const MAX_SBOM: u64 = 64 << 20;

/// A digest file of `push --by-digest` as `merge` reads it: publish's
/// [`crate::publish::DigestFile`] and the job record.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobDigestFile {
    pub schema: u32,
    pub version: String,
    /// Image name → its platform manifests (descriptors with `platform`).
    pub images: BTreeMap<String, Vec<Descriptor>>,
    /// `None`: written by a stevedore that recorded no job (nothing to attest from).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<JobRecord>,
}

/// The job record (the digest file's `job`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobRecord {
    pub schema: u32,
    pub kind: String,
    pub version: String,
    /// The commit the job built.
    pub commit: String,
    /// When the job's build started and ended (seconds since the epoch).
    pub started: i64,
    pub finished: i64,
    /// Image name → its platforms the job built.
    pub images: BTreeMap<String, Vec<PlatformRecord>>,
}

/// One platform manifest a job built.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformRecord {
    /// As the digest file lists it (with `platform`).
    pub manifest: Descriptor,
    /// The manifest's exact bytes (base-image annotations included).
    pub manifest_json: String,
    pub builder: String,
    pub builder_version: String,
    /// syft's SPDX JSON of this manifest, when the job made one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sbom: Option<Sbom>,
}

/// syft's output for one platform manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sbom {
    /// `syft x.y.z`.
    pub tool: String,
    /// The size and sha256 of `spdx_json`.
    pub size: u64,
    pub digest: Digest,
    /// syft's SPDX JSON, as it wrote it.
    pub spdx_json: String,
}

/// The build times `build` records beside its layout (`DIR` → `DIR.run.json`).
pub fn run_path(layout_dir: &Path) -> PathBuf {
    let name = layout_dir
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "oci".into());
    layout_dir.with_file_name(format!("{name}.run.json"))
}

/// When a build started and ended, for its commit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildRun {
    pub commit: String,
    pub started: i64,
    pub finished: i64,
}

/// Records when the build into `layout_dir` ran (read by `push --by-digest`).
pub fn record_build(plan: &Plan, layout_dir: &Path, started: i64, finished: i64) -> Result<()> {
    let run = BuildRun {
        commit: plan.git.sha.clone(),
        started,
        finished,
    };
    crate::publish::write_json_file(&run_path(layout_dir), &run)
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// How a job attests (the config's `release.provenance`, `release.sbom`).
#[derive(Debug, Clone, Copy)]
pub struct JobAttest {
    pub mode: ProvenanceMode,
    pub sbom: SbomMode,
}

/// Adds the job record to the digest file `digest_file` that `push --by-digest` wrote: every
/// platform manifest of the plan's images in `layout`, with syft's SBOM of it where the
/// single-job release would make one.
pub fn write(
    plan: &Plan,
    root: &Path,
    layout: &Layout,
    digest_file: &Path,
    attest: JobAttest,
    log: &dyn Sink,
) -> Result<()> {
    let bytes = read_bounded(digest_file, MAX_DIGEST_FILE, "digest file")?;
    let mut file: JobDigestFile = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a stevedore digest file", digest_file.display()))?;
    let run = build_run(plan, layout.root());
    let mut record = JobRecord {
        schema: SCHEMA,
        kind: KIND.into(),
        version: plan.version.clone(),
        commit: plan.git.sha.clone(),
        started: run.started,
        finished: run.finished,
        images: BTreeMap::new(),
    };
    for image in &plan.images {
        let mut platforms = Vec::new();
        for manifest in platform_manifests(layout, image)? {
            let bytes = layout.read_blob(&manifest.digest)?;
            let (kind, builder_version) = builder_of(image)?;
            let sbom = match sbom_source(image, attest.mode, attest.sbom) {
                SbomSource::Syft if syft::available() && known_platform(&manifest) => {
                    // As the single job: a failed scan stops `sbom = "syft"` only.
                    match scan(root, layout, image, &manifest, log) {
                        Ok(sbom) => Some(sbom),
                        Err(e) if attest.sbom == SbomMode::Syft => {
                            return Err(e.context(format!(
                                "image {}: the SBOM (release.sbom = \"syft\")",
                                image.name
                            )))
                        }
                        Err(e) => {
                            log.line(&format!(
                                "note: image {}: no SBOM attached: {e:#}",
                                image.name
                            ));
                            None
                        }
                    }
                }
                _ => None,
            };
            platforms.push(PlatformRecord {
                manifest,
                manifest_json: String::from_utf8(bytes)
                    .context("a platform manifest is not UTF-8 JSON")?,
                builder: kind.as_str().to_string(),
                builder_version,
                sbom,
            });
        }
        record.images.insert(image.name.clone(), platforms);
    }
    file.job = Some(record);
    crate::publish::write_json_file(digest_file, &file)
}

/// syft's SBOM of the platform manifest `manifest` of `image`, as the single-job release
/// scans it.
fn scan(
    root: &Path,
    layout: &Layout,
    image: &ImagePlan,
    manifest: &Descriptor,
    log: &dyn Sink,
) -> Result<Sbom> {
    let raw = syft::scan(
        layout,
        manifest,
        &image.targets.first().map(|t| t.name()).unwrap_or_default(),
        &root.join("target/stevedore/tmp"),
        &format!("syft {} {}", image.name, label(manifest)),
        log,
    )?;
    Ok(Sbom {
        tool: syft::version().unwrap_or_else(|| "syft".into()),
        size: raw.len() as u64,
        digest: Digest::of(&raw),
        spdx_json: String::from_utf8(raw).context("syft's output is not UTF-8")?,
    })
}

/// When the build of this layout ran (now, when `build` left no record for this commit).
fn build_run(plan: &Plan, layout_dir: &Path) -> BuildRun {
    let recorded = std::fs::read(run_path(layout_dir))
        .ok()
        .and_then(|b| serde_json::from_slice::<BuildRun>(&b).ok())
        .filter(|r| r.commit == plan.git.sha);
    recorded.unwrap_or_else(|| BuildRun {
        commit: plan.git.sha.clone(),
        started: now(),
        finished: now(),
    })
}

/// The platform manifests of `image` in `layout`, as the digest file lists them.
fn platform_manifests(layout: &Layout, image: &ImagePlan) -> Result<Vec<Descriptor>> {
    let mut top = layout.resolve(&image.layout_name)?;
    top.annotations.remove(crate::oci::ANNOTATION_REF_NAME);
    if top.media_type != crate::oci::MEDIA_INDEX {
        return Ok(vec![top]);
    }
    let index: Index = layout.read_json(&top.digest)?;
    Ok(index.manifests)
}

fn known_platform(d: &Descriptor) -> bool {
    d.platform
        .as_ref()
        .is_some_and(|p| p.os != "unknown" && p.architecture != "unknown")
}

fn label(d: &Descriptor) -> String {
    d.platform
        .as_ref()
        .map(|p| p.to_platform().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// What the digest files and job records of a merge hold, checked.
#[derive(Debug, Default)]
pub struct Jobs {
    /// Image name → the platform manifests the jobs pushed.
    pub images: BTreeMap<String, Vec<Descriptor>>,
    /// Platform manifest digest → its bytes (only with job records).
    pub manifests: BTreeMap<Digest, Vec<u8>>,
    /// Platform manifest digest → syft's SPDX JSON of it.
    pub scans: BTreeMap<Digest, Vec<u8>>,
    /// Image name → the builder version its jobs recorded.
    pub builder_versions: BTreeMap<String, String>,
    /// The earliest start and the latest end of the jobs' builds.
    pub started: i64,
    pub finished: i64,
    /// Whether every digest file had its job record.
    pub recorded: bool,
}

/// Reads and checks `digest_files` and their job records. `need_records`: the release attests,
/// so every digest file needs its record.
pub fn read_all(plan: &Plan, digest_files: &[PathBuf], need_records: bool) -> Result<Jobs> {
    if digest_files.is_empty() {
        bail!("give the digest files written by `cargo xtask push --by-digest`");
    }
    let mut jobs = Jobs {
        recorded: true,
        started: i64::MAX,
        finished: i64::MIN,
        ..Jobs::default()
    };
    for f in digest_files {
        let file = read_digest_file(plan, f)?;
        let record = check_record(plan, f, file.job.as_ref(), need_records)?;
        if record.is_none() {
            jobs.recorded = false;
        }
        for (name, descs) in &file.images {
            if plan.image(name).is_none() {
                return Err(refused(
                    f,
                    format!("lists image {name:?}, which this config does not release"),
                    FIX_FILES,
                ));
            }
            for d in descs {
                add_platform(&mut jobs, name, d, f)?;
                if let Some(r) = record {
                    take_platform(&mut jobs, name, d, f, r)?;
                }
            }
        }
        if let Some(r) = record {
            refuse_extra(&file, r, f)?;
            jobs.started = jobs.started.min(r.started);
            jobs.finished = jobs.finished.max(r.finished);
        }
    }
    if jobs.started > jobs.finished {
        jobs.started = now();
        jobs.finished = jobs.started;
    }
    Ok(jobs)
}

/// A hostile input, with the file, what is wrong and the fix.
fn refused(file: &Path, what: impl std::fmt::Display, fix: &str) -> anyhow::Error {
    Problem::new(Kind::Config, format!("{}: {what}", file.display()), fix).into()
}

const FIX_FILES: &str = "merge the digest files exactly as `cargo xtask push --by-digest` wrote \
     them in this commit's matrix jobs; run the job again to write its file anew";

/// Reads at most `limit` bytes of `path`; more is refused.
fn read_bounded(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>> {
    let meta = std::fs::symlink_metadata(path)
        .with_context(|| format!("cannot read {what} {}", path.display()))?;
    if !meta.is_file() {
        return Err(refused(
            path,
            format!("the {what} is not a plain file"),
            FIX_FILES,
        ));
    }
    if meta.len() > limit {
        return Err(too_large(path, what, limit));
    }
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() as u64 > limit {
        return Err(too_large(path, what, limit));
    }
    Ok(bytes)
}

fn too_large(path: &Path, what: &str, limit: u64) -> anyhow::Error {
    refused(
        path,
        format!("the {what} is larger than {} MiB", limit >> 20),
        FIX_FILES,
    )
}

fn read_digest_file(plan: &Plan, f: &Path) -> Result<JobDigestFile> {
    let bytes = read_bounded(f, MAX_DIGEST_FILE, "digest file")?;
    let file: JobDigestFile = serde_json::from_slice(&bytes)
        .map_err(|e| refused(f, format!("not a stevedore digest file ({e})"), FIX_FILES))?;
    if file.schema != crate::publish::SCHEMA {
        return Err(refused(
            f,
            format!(
                "digest file schema {} is not {}",
                file.schema,
                crate::publish::SCHEMA
            ),
            "write it with the same stevedore version that merges",
        ));
    }
    if file.version != plan.version {
        return Err(refused(
            f,
            format!(
                "is for version {}, this commit releases {}",
                file.version, plan.version
            ),
            "merge digest files from the same commit",
        ));
    }
    Ok(file)
}

/// The job record of digest file `f`, checked: this commit's, in a shape this stevedore reads.
/// `None` when there is none and `need` is false.
fn check_record<'a>(
    plan: &Plan,
    f: &Path,
    record: Option<&'a JobRecord>,
    need: bool,
) -> Result<Option<&'a JobRecord>> {
    let Some(record) = record else {
        if !need {
            return Ok(None);
        }
        return Err(refused(
            f,
            "the digest file has no job record (`job`): `merge` attests what the jobs built from it",
            "write it with `cargo xtask push --by-digest` of this stevedore version (older ones \
             record no job), or set provenance = \"off\" in [release]",
        ));
    };
    if record.schema != SCHEMA || record.kind != KIND {
        return Err(refused(
            f,
            format!(
                "job record {} schema {} is not {KIND} schema {SCHEMA}",
                record.kind, record.schema
            ),
            "write it with `cargo xtask push --by-digest` of the stevedore version that merges",
        ));
    }
    if record.version != plan.version || record.commit != plan.git.sha {
        return Err(refused(
            f,
            format!(
                "the job built {} at commit {}, this merge releases {} at {}",
                record.version, record.commit, plan.version, plan.git.sha
            ),
            "merge the files of this commit's matrix jobs (`push --by-digest`)",
        ));
    }
    Ok(Some(record))
}

/// Adds platform `d` of image `name` (from digest file `f`) to `jobs`.
fn add_platform(jobs: &mut Jobs, name: &str, d: &Descriptor, f: &Path) -> Result<()> {
    let list = jobs.images.entry(name.to_string()).or_default();
    if let Some(other) = list
        .iter()
        .find(|o| label(o) == label(d) && o.digest != d.digest)
    {
        return Err(refused(
            f,
            format!(
                "image {name}: platform {} appears twice with different digests ({} and {})",
                label(d),
                other.digest,
                d.digest
            ),
            "give one digest file per platform job, all from the same commit",
        ));
    }
    if !list.iter().any(|o| o.digest == d.digest) {
        list.push(d.clone());
    }
    Ok(())
}

/// Takes what `record` says of platform `d` of image `name`, checked against `d`.
fn take_platform(
    jobs: &mut Jobs,
    name: &str,
    d: &Descriptor,
    f: &Path,
    record: &JobRecord,
) -> Result<()> {
    let Some(p) = record
        .images
        .get(name)
        .and_then(|ps| ps.iter().find(|p| p.manifest.digest == d.digest))
    else {
        return Err(refused(
            f,
            format!(
                "image {name} platform {}: {} is not a manifest its job record describes (the \
                 digest file was altered)",
                label(d),
                d.digest
            ),
            FIX_FILES,
        ));
    };
    let bytes = p.manifest_json.as_bytes();
    if Digest::of(bytes) != d.digest || bytes.len() as u64 != d.size || p.manifest != *d {
        return Err(refused(
            f,
            format!(
                "image {name} platform {}: the manifest bytes do not hash to {} (the record was altered)",
                label(d),
                d.digest
            ),
            FIX_FILES,
        ));
    }
    serde_json::from_slice::<Manifest>(bytes).map_err(|e| {
        refused(
            f,
            format!("image {name}: the manifest is not an image manifest ({e})"),
            FIX_FILES,
        )
    })?;
    jobs.manifests.insert(d.digest.clone(), bytes.to_vec());
    match jobs.builder_versions.get(name) {
        Some(v) if *v != p.builder_version => {
            return Err(refused(
                f,
                format!(
                    "image {name}: built by {}, another job built it by {v}",
                    p.builder_version
                ),
                "run every matrix job with the same stevedore and builder",
            ))
        }
        _ => {
            jobs.builder_versions
                .insert(name.to_string(), p.builder_version.clone());
        }
    }
    if let Some(sbom) = &p.sbom {
        let raw = check_sbom(f, name, d, sbom)?;
        jobs.scans.insert(d.digest.clone(), raw);
    }
    Ok(())
}

/// The SBOM `sbom` of platform `d` of image `name`: its size and sha256 as recorded.
fn check_sbom(f: &Path, name: &str, d: &Descriptor, sbom: &Sbom) -> Result<Vec<u8>> {
    let raw = sbom.spdx_json.as_bytes();
    if raw.len() as u64 > MAX_SBOM {
        return Err(refused(
            f,
            format!(
                "image {name} platform {}: the SBOM is larger than {} MiB",
                label(d),
                MAX_SBOM >> 20
            ),
            FIX_FILES,
        ));
    }
    if raw.len() as u64 != sbom.size || Digest::of(raw) != sbom.digest {
        return Err(refused(
            f,
            format!(
                "image {name} platform {}: the SBOM does not match its recorded size and digest {} (the file was altered)",
                label(d),
                sbom.digest
            ),
            FIX_FILES,
        ));
    }
    Ok(raw.to_vec())
}

/// A job record that lists an image platform its digest file does not is refused.
fn refuse_extra(file: &JobDigestFile, record: &JobRecord, f: &Path) -> Result<()> {
    for (name, platforms) in &record.images {
        for p in platforms {
            let listed = file
                .images
                .get(name)
                .is_some_and(|ds| ds.iter().any(|d| d.digest == p.manifest.digest));
            if !listed {
                return Err(refused(
                    f,
                    format!(
                        "image {name}: the job record describes {}, which the digest file does not list",
                        p.manifest.digest
                    ),
                    FIX_FILES,
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_times_sit_beside_the_layout() {
        assert_eq!(
            run_path(Path::new("target/stevedore/oci")),
            Path::new("target/stevedore/oci.run.json")
        );
    }
}
