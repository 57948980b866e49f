//! The job record of a matrix build: what one `push --by-digest` job leaves beside its digest
//! file for `merge` to attest what it built as a single-job release would.
//!
//! Beside `DIR/NAME.json` (the digest file) the job writes `DIR/NAME.job.json` (this record)
//! and one `DIR/NAME.sbom-<image>-<os>-<arch>.json` per SBOM syft made. The record holds, per
//! image and platform: the platform manifest's exact bytes (its base-image annotations with
//! them), the builder and its version, the SBOM file (name, size, sha256), and the job's
//! build start and end. `merge` reads every record as hostile: bounded sizes, the manifest
//! bytes must hash to the digest the digest file names, SBOM files are plain file names in
//! the record's directory (no path), their size and sha256 must match.

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
use crate::publish::DigestFile;

/// Version of the job record's shape.
pub const SCHEMA: u32 = 1;
/// What the record says it is.
pub const KIND: &str = "stevedore-matrix-job";
/// The largest digest file `merge` reads.
pub const MAX_DIGEST_FILE: u64 = 1 << 20;
/// The largest job record (manifests are small: the SBOMs are files of their own).
pub const MAX_RECORD: u64 = 8 << 20;
/// The largest SBOM file.
pub const MAX_SBOM: u64 = 256 << 20;

/// The job record (`NAME.job.json`).
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
    pub sbom: Option<SbomFile>,
}

/// An SBOM file beside the record.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SbomFile {
    /// A file name in the record's directory (no directory part).
    pub file: String,
    pub size: u64,
    pub digest: Digest,
    /// `syft x.y.z`.
    pub tool: String,
}

/// The record beside the digest file `digest_file` (`NAME.json` → `NAME.job.json`).
pub fn record_path(digest_file: &Path) -> PathBuf {
    let stem = digest_file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "digests".into());
    digest_file.with_file_name(format!("{stem}.job.json"))
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

/// Writes the job record of `push --by-digest` beside `digest_file`: every platform manifest
/// of the plan's images in `layout`, with syft's SBOM of it where the single-job release
/// would make one. Returns the record's path.
pub fn write(
    plan: &Plan,
    root: &Path,
    layout: &Layout,
    digest_file: &Path,
    attest: JobAttest,
    log: &dyn Sink,
) -> Result<PathBuf> {
    let path = record_path(digest_file);
    let stem = path
        .file_name()
        .map(|n| {
            n.to_string_lossy()
                .trim_end_matches(".job.json")
                .to_string()
        })
        .unwrap_or_default();
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
    let syft_version = syft::version().unwrap_or_else(|| "syft".into());
    for image in &plan.images {
        let mut platforms = Vec::new();
        for manifest in platform_manifests(layout, image)? {
            let bytes = layout.read_blob(&manifest.digest)?;
            let (_, builder_version) = builder_of(image)?;
            let (kind, _) = builder_of(image)?;
            let sbom = match sbom_source(image, attest.mode, attest.sbom) {
                SbomSource::Syft if syft::available() && known_platform(&manifest) => {
                    let file = format!("{stem}.sbom-{}-{}.json", image.name, slug(&manifest));
                    let raw = syft::scan(
                        layout,
                        &manifest,
                        &image.targets.first().map(|t| t.name()).unwrap_or_default(),
                        &root.join("target/stevedore/tmp"),
                        &format!("syft {} {}", image.name, label(&manifest)),
                        log,
                    )?;
                    crate::oci::layout::write_atomic(&path.with_file_name(&file), &raw)?;
                    Some(SbomFile {
                        file,
                        size: raw.len() as u64,
                        digest: Digest::of(&raw),
                        tool: syft_version.clone(),
                    })
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
    crate::publish::write_json_file(&path, &record)?;
    Ok(path)
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

fn slug(d: &Descriptor) -> String {
    label(d).replace('/', "-")
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
        let record_file = record_path(f);
        let record = if record_file.exists() || need_records {
            Some(read_record(plan, f, &record_file)?)
        } else {
            jobs.recorded = false;
            None
        };
        for (name, descs) in &file.images {
            for d in descs {
                add_platform(&mut jobs, name, d, f)?;
                if let Some(r) = &record {
                    take_platform(&mut jobs, name, d, f, &record_file, r)?;
                }
            }
        }
        if let Some(r) = &record {
            refuse_extra(&file, r, f, &record_file)?;
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

const FIX_FILES: &str = "merge the digest files and job records (`NAME.json`, `NAME.job.json`, \
     `NAME.sbom-*.json`) exactly as `cargo xtask push --by-digest` wrote them in this commit's \
     matrix jobs; run the job again to write them anew";

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
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() as u64 > limit {
        return Err(refused(
            path,
            format!("the {what} is larger than {} MiB", limit >> 20),
            FIX_FILES,
        ));
    }
    Ok(bytes)
}

fn read_digest_file(plan: &Plan, f: &Path) -> Result<DigestFile> {
    let bytes = read_bounded(f, MAX_DIGEST_FILE, "digest file")?;
    let file: DigestFile = serde_json::from_slice(&bytes)
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

fn read_record(plan: &Plan, digest_file: &Path, path: &Path) -> Result<JobRecord> {
    if !path.exists() {
        return Err(refused(
            path,
            format!(
                "no job record beside the digest file {}: `merge` attests what the jobs built from it",
                digest_file.display()
            ),
            "keep the files `push --by-digest` writes beside its digest file (`NAME.job.json`, `NAME.sbom-*.json`) with it (upload `NAME*`), or set provenance = \"off\" in [release]",
        ));
    }
    let bytes = read_bounded(path, MAX_RECORD, "job record")?;
    let record: JobRecord = serde_json::from_slice(&bytes)
        .map_err(|e| refused(path, format!("not a stevedore job record ({e})"), FIX_FILES))?;
    if record.schema != SCHEMA || record.kind != KIND {
        return Err(refused(
            path,
            format!(
                "job record {} schema {} is not {KIND} schema {SCHEMA}",
                record.kind, record.schema
            ),
            "write it with the same stevedore version that merges",
        ));
    }
    if record.version != plan.version || record.commit != plan.git.sha {
        return Err(refused(
            path,
            format!(
                "the job built {} at commit {}, this merge releases {} at {}",
                record.version, record.commit, plan.version, plan.git.sha
            ),
            "merge the files of this commit's matrix jobs",
        ));
    }
    Ok(record)
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
    record_file: &Path,
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
                "image {name} platform {}: {} is not a manifest the job record {} describes \
                 (the digest file was altered, or the files come from different jobs)",
                label(d),
                d.digest,
                record_file.display()
            ),
            FIX_FILES,
        ));
    };
    let bytes = p.manifest_json.as_bytes();
    if Digest::of(bytes) != d.digest || bytes.len() as u64 != d.size || p.manifest != *d {
        return Err(refused(
            record_file,
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
            record_file,
            format!("image {name}: the manifest is not an image manifest ({e})"),
            FIX_FILES,
        )
    })?;
    jobs.manifests.insert(d.digest.clone(), bytes.to_vec());
    match jobs.builder_versions.get(name) {
        Some(v) if *v != p.builder_version => {
            return Err(refused(
                record_file,
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
        let raw = read_sbom(record_file, sbom)?;
        jobs.scans.insert(d.digest.clone(), raw);
    }
    Ok(())
}

/// Reads the SBOM file `sbom` beside `record_file`: a plain file name, size and sha256 as
/// recorded.
fn read_sbom(record_file: &Path, sbom: &SbomFile) -> Result<Vec<u8>> {
    if !plain_file_name(&sbom.file) {
        return Err(refused(
            record_file,
            format!(
                "SBOM file {:?} is not a file name beside the record (a path that leaves its directory is refused)",
                sbom.file
            ),
            FIX_FILES,
        ));
    }
    if sbom.size > MAX_SBOM {
        return Err(refused(
            record_file,
            format!(
                "SBOM file {} is larger than {} MiB",
                sbom.file,
                MAX_SBOM >> 20
            ),
            FIX_FILES,
        ));
    }
    let path = record_file.with_file_name(&sbom.file);
    let raw = read_bounded(&path, sbom.size, "SBOM file")?;
    if raw.len() as u64 != sbom.size || Digest::of(&raw) != sbom.digest {
        return Err(refused(
            &path,
            format!(
                "the SBOM does not match the size and digest {} its job record {} gives",
                sbom.digest,
                record_file.display()
            ),
            FIX_FILES,
        ));
    }
    Ok(raw)
}

/// A name of a file in the same directory: no separator, no `..`, no hidden or empty name.
fn plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0'])
        && name.len() <= 255
}

/// A job record that lists an image platform its digest file does not is refused.
fn refuse_extra(file: &DigestFile, record: &JobRecord, f: &Path, record_file: &Path) -> Result<()> {
    for (name, platforms) in &record.images {
        for p in platforms {
            let listed = file
                .images
                .get(name)
                .is_some_and(|ds| ds.iter().any(|d| d.digest == p.manifest.digest));
            if !listed {
                return Err(refused(
                    record_file,
                    format!(
                        "image {name}: the record describes {} which its digest file {} does not list",
                        p.manifest.digest,
                        f.display()
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
    fn sbom_files_are_plain_names_beside_the_record() {
        for (name, ok) in [
            ("digests.sbom-app-linux-amd64.json", true),
            ("../etc/passwd", false),
            ("/etc/passwd", false),
            ("sub/file.json", false),
            ("..", false),
            (".hidden", false),
            ("", false),
            ("a\\b", false),
        ] {
            assert_eq!(plain_file_name(name), ok, "{name}");
        }
    }

    #[test]
    fn the_record_sits_beside_the_digest_file() {
        assert_eq!(
            record_path(Path::new("target/stevedore/digests-linux-amd64.json")),
            Path::new("target/stevedore/digests-linux-amd64.job.json")
        );
        assert_eq!(
            run_path(Path::new("target/stevedore/oci")),
            Path::new("target/stevedore/oci.run.json")
        );
    }
}
