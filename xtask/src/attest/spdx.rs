//! An SPDX 2.3 JSON SBOM of a native Rust image: the crates linked into its binary (see
//! [`super::cargo_deps`]), with purls, declared licenses, crates.io checksums and the
//! dependency edges. Byte-for-byte reproducible: the namespace comes from the subject digest
//! and the creation time is an input (the commit time).

use std::collections::BTreeMap;

use anyhow::Result;
use serde::Serialize;

use super::cargo_cfg::TargetCfg;
use super::cargo_deps::{self, Closure, Crate};
use super::input::{Source, Subject};
use super::spdx_license::{self, NOASSERTION};
use super::statement::Statement;
use super::time::Timestamp;
use super::PREDICATE_SPDX;

const CRATES_IO: &str = "registry+https://github.com/rust-lang/crates.io-index";
/// Prefix of every `documentNamespace` stevedore writes; the rest is
/// `<document name>/sha256-<subject hex>`.
pub const NAMESPACE_PREFIX: &str = "https://stevedore-rs.github.io/spdx/";

/// What an SBOM is made from.
#[derive(Debug, Clone)]
pub struct SbomRequest<'a> {
    /// `cargo metadata --format-version 1 --filter-platform <target>` output
    /// ([`cargo_deps::cargo_metadata`]).
    pub metadata_json: &'a str,
    /// The text of `Cargo.lock`.
    pub cargo_lock: &'a str,
    /// The workspace package of the binary (`native.package`), if the config names one.
    pub package: Option<&'a str>,
    /// The binary the image runs (`cargo-bin`).
    pub bin: &'a str,
    /// The Rust target triple and its `rustc --print cfg --target` lines
    /// ([`cargo_deps::rustc_cfg`]).
    pub target: &'a str,
    pub target_cfg: &'a [String],
    /// The platform manifest (or index) the SBOM describes; its digest names the document.
    pub subject: &'a Subject,
    /// The document's `name`, e.g. the image name.
    pub document_name: &'a str,
    /// `creationInfo.created`: the commit time, so rebuilding gives the same bytes.
    pub created: &'a Timestamp,
    /// stevedore's version, for `Tool: stevedore-<version>`.
    pub tool_version: &'a str,
    /// The source built: the root package's download location (`git+<repo>@<commit>`).
    pub source: Option<&'a Source>,
}

/// An SPDX 2.3 document (JSON field names and order as in the spec's examples).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Document {
    pub spdx_version: &'static str,
    pub data_license: &'static str,
    #[serde(rename = "SPDXID")]
    pub spdx_id: &'static str,
    pub name: String,
    pub document_namespace: String,
    pub creation_info: CreationInfo,
    pub packages: Vec<Package>,
    pub relationships: Vec<Relationship>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreationInfo {
    pub created: String,
    pub creators: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Package {
    #[serde(rename = "SPDXID")]
    pub spdx_id: String,
    pub name: String,
    pub version_info: String,
    pub download_location: String,
    pub files_analyzed: bool,
    pub license_declared: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checksums: Vec<Checksum>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub external_refs: Vec<ExternalRef>,
    pub primary_package_purpose: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Checksum {
    pub algorithm: &'static str,
    pub checksum_value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalRef {
    /// `PACKAGE_MANAGER`: the spelling of the SPDX 2.3 JSON schema (tag-value files write
    /// `PACKAGE-MANAGER`).
    pub reference_category: &'static str,
    pub reference_type: &'static str,
    pub reference_locator: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Relationship {
    pub spdx_element_id: String,
    pub relationship_type: &'static str,
    pub related_spdx_element: String,
}

/// The SBOM of `req.package`'s binary for `req.target`.
pub fn document(req: &SbomRequest<'_>) -> Result<Document> {
    let cfg = TargetCfg::new(req.target, req.target_cfg);
    let closure = cargo_deps::closure(
        req.metadata_json,
        req.cargo_lock,
        req.package,
        req.bin,
        &cfg,
    )?;
    let created = req.created.to_utc_string()?;
    let ids = spdx_ids(&closure);
    let mut packages = vec![package(&closure.root, &ids, true, req.source)];
    packages.extend(closure.crates.iter().map(|c| package(c, &ids, false, None)));
    let mut relationships = vec![Relationship {
        spdx_element_id: "SPDXRef-DOCUMENT".into(),
        relationship_type: "DESCRIBES",
        related_spdx_element: ids[&closure.root.id].clone(),
    }];
    let mut edges: Vec<Relationship> = std::iter::once(&closure.root)
        .chain(&closure.crates)
        .flat_map(|c| {
            c.deps.iter().map(|d| Relationship {
                spdx_element_id: ids[&c.id].clone(),
                relationship_type: "DEPENDS_ON",
                related_spdx_element: ids[d].clone(),
            })
        })
        .collect();
    edges.sort();
    relationships.extend(edges);
    Ok(Document {
        spdx_version: "SPDX-2.3",
        data_license: "CC0-1.0",
        spdx_id: "SPDXRef-DOCUMENT",
        name: req.document_name.to_string(),
        document_namespace: namespace(req.document_name, req.subject),
        creation_info: CreationInfo {
            created,
            creators: vec![format!("Tool: stevedore-{}", req.tool_version)],
        },
        packages,
        relationships,
    })
}

/// The SBOM as an in-toto Statement (`predicateType` `https://spdx.dev/Document`).
pub fn statement(req: &SbomRequest<'_>) -> Result<Statement> {
    let doc = document(req)?;
    let predicate = serde_json::to_value(doc).expect("an SPDX document always serialises");
    Ok(Statement::new(req.subject, PREDICATE_SPDX, predicate))
}

/// `https://stevedore-rs.github.io/spdx/<name>/sha256-<hex>`, the name reduced to URI-safe
/// characters.
pub(super) fn namespace(name: &str, subject: &Subject) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-._/".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{NAMESPACE_PREFIX}{safe}/sha256-{}", subject.digest.hex())
}

/// `SPDXRef-Package-<name>-<version>` (characters outside `[A-Za-z0-9.-]` become `-`), made
/// unique with `-2`, `-3`, … in closure order.
fn spdx_ids(closure: &Closure) -> BTreeMap<String, String> {
    let mut ids = BTreeMap::new();
    let mut used = BTreeMap::<String, usize>::new();
    for c in std::iter::once(&closure.root).chain(&closure.crates) {
        let base: String = format!("SPDXRef-Package-{}-{}", c.name, c.version)
            .chars()
            .map(|ch| {
                if ch.is_ascii_alphanumeric() || ch == '.' || ch == '-' {
                    ch
                } else {
                    '-'
                }
            })
            .collect();
        let n = used.entry(base.clone()).or_insert(0);
        *n += 1;
        let id = if *n == 1 { base } else { format!("{base}-{n}") };
        ids.insert(c.id.clone(), id);
    }
    ids
}

fn package(
    c: &Crate,
    ids: &BTreeMap<String, String>,
    root: bool,
    source: Option<&Source>,
) -> Package {
    let from_crates_io = c.source.as_deref() == Some(CRATES_IO);
    let download_location = if from_crates_io {
        format!(
            "https://crates.io/api/v1/crates/{}/{}/download",
            c.name, c.version
        )
    } else if let Some(git) = c.source.as_deref().and_then(git_location) {
        git
    } else if let (true, Some(s)) = (root, source) {
        format!("git+{}@{}", s.repository, s.commit)
    } else {
        NOASSERTION.into()
    };
    let checksums = match (&c.checksum, from_crates_io) {
        (Some(sum), true) => vec![Checksum {
            algorithm: "SHA256",
            checksum_value: sum.clone(),
        }],
        _ => Vec::new(),
    };
    let external_refs = if from_crates_io {
        vec![ExternalRef {
            reference_category: "PACKAGE_MANAGER",
            reference_type: "purl",
            reference_locator: format!("pkg:cargo/{}@{}", c.name, c.version),
        }]
    } else {
        Vec::new()
    };
    Package {
        spdx_id: ids[&c.id].clone(),
        name: c.name.clone(),
        version_info: c.version.clone(),
        download_location,
        files_analyzed: false,
        license_declared: spdx_license::expression(c.license.as_deref()),
        checksums,
        external_refs,
        primary_package_purpose: if root { "APPLICATION" } else { "LIBRARY" },
    }
}

/// `git+https://host/repo?rev=…#<sha>` (Cargo's git source) as `git+https://host/repo@<sha>`.
fn git_location(source: &str) -> Option<String> {
    let rest = source.strip_prefix("git+")?;
    let (url, sha) = rest.split_once('#')?;
    let url = url.split('?').next().unwrap_or(url);
    Some(format!("git+{url}@{sha}"))
}

#[cfg(test)]
mod tests;
