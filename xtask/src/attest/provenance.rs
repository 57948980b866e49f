//! SLSA Provenance v1 for a stevedore build, inside an in-toto Statement v1.
//!
//! # Build type `https://stevedore-rs.github.io/buildtypes/release/v1`
//!
//! `buildDefinition.externalParameters` (what the person or workflow asked for; a verifier
//! should reject unknown keys here):
//! - `source.repository`: the repository URL built from (no credentials, query or fragment).
//! - `source.ref`: the git ref built (`refs/tags/v1.2.3`).
//! - `config.path`: the stevedore config file, relative to the repository root.
//! - `config.digest.sha256`: the sha256 of that file's bytes.
//! - `image.name`: the image name without tag (`ghcr.io/o/app`).
//! - `image.platforms`: the platforms built (`["linux/amd64", "linux/arm64"]`).
//! - `workflow` (GitHub Actions only, as in GitHub's build type
//!   `https://actions.github.io/buildtypes/workflow/v1`): `ref` (the workflow's ref),
//!   `repository` (`<server>/<owner>/<repo>`), `path` (`.github/workflows/release.yml`).
//!
//! `buildDefinition.internalParameters` (set by stevedore, for reproduction and audit):
//! - `builder.kind`: `native` (stevedore's own cargo-binary builder), `buildah` or `buildx`.
//! - `builder.version`: that builder's version string.
//! - `build_args`: the build arguments, minus every argument marked secret (name and value
//!   are both dropped). Omitted when empty.
//! - `github.event_name` (GitHub Actions only): the triggering event.
//!
//! `buildDefinition.resolvedDependencies`:
//! - `git+<repository>@<ref>` with `digest.gitCommit` = the commit built.
//! - every base image, once per platform, as a purl
//!   (`pkg:docker/alpine@3.20?platform=linux%2Famd64`) with `digest.sha256` of the platform
//!   manifest it resolved to.
//! - `Cargo.lock` (native Rust images) with `digest.sha256` of the lock file.
//!
//! `runDetails.builder.id`: in GitHub Actions `<server>/<job_workflow_ref>` (the workflow file
//! at its ref, as GitHub's own provenance); elsewhere [`LOCAL_BUILDER_ID`].
//! `runDetails.metadata`: `invocationId` (GitHub Actions:
//! `<server>/<owner>/<repo>/actions/runs/<id>/attempts/<n>`; absent elsewhere), `startedOn`,
//! `finishedOn` (`YYYY-MM-DDThh:mm:ssZ`).

use std::collections::BTreeMap;

use anyhow::Result;
use serde::Serialize;
use serde_json::json;

use super::input::{BaseImage, BuildFacts, Subject};
use super::statement::{ResourceDescriptor, Statement};
use super::PREDICATE_SLSA_PROVENANCE;

/// The build type of every stevedore provenance (documented on this module).
pub const BUILD_TYPE: &str = "https://stevedore-rs.github.io/buildtypes/release/v1";
/// `runDetails.builder.id` outside GitHub Actions: a build on a developer's or an unnamed CI
/// machine, which a verifier should trust no more than that machine.
pub const LOCAL_BUILDER_ID: &str = "https://stevedore-rs.github.io/builders/local/v1";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Predicate {
    build_definition: BuildDefinition,
    run_details: RunDetails,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BuildDefinition {
    build_type: &'static str,
    external_parameters: serde_json::Value,
    internal_parameters: serde_json::Value,
    resolved_dependencies: Vec<ResourceDescriptor>,
}

#[derive(Serialize)]
struct RunDetails {
    builder: Builder,
    metadata: Metadata,
}

#[derive(Serialize)]
struct Builder {
    id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    #[serde(skip_serializing_if = "Option::is_none")]
    invocation_id: Option<String>,
    started_on: String,
    finished_on: String,
}

/// The provenance Statement of `subject` built as `facts` say.
pub fn statement(subject: &Subject, facts: &BuildFacts) -> Result<Statement> {
    let predicate = Predicate {
        build_definition: BuildDefinition {
            build_type: BUILD_TYPE,
            external_parameters: external_parameters(facts),
            internal_parameters: internal_parameters(facts),
            resolved_dependencies: resolved_dependencies(facts),
        },
        run_details: RunDetails {
            builder: Builder {
                id: match &facts.github {
                    Some(gh) => gh.builder_id(),
                    None => LOCAL_BUILDER_ID.to_string(),
                },
            },
            metadata: Metadata {
                invocation_id: facts.github.as_ref().map(|gh| gh.invocation_id()),
                started_on: facts.started_on.to_utc_string()?,
                finished_on: facts.finished_on.to_utc_string()?,
            },
        },
    };
    let predicate = serde_json::to_value(predicate).expect("the predicate always serialises");
    Ok(Statement::new(
        subject,
        PREDICATE_SLSA_PROVENANCE,
        predicate,
    ))
}

fn external_parameters(facts: &BuildFacts) -> serde_json::Value {
    let mut p = json!({
        "source": {"repository": facts.source.repository, "ref": facts.source.git_ref},
        "config": {"path": facts.config_path, "digest": {"sha256": facts.config_digest.hex()}},
        "image": {"name": facts.image_name, "platforms": facts.platforms},
    });
    if let Some(gh) = &facts.github {
        let (path, r) = gh.workflow_path_and_ref();
        p["workflow"] = json!({"ref": r, "repository": gh.repository_url(), "path": path});
    }
    p
}

fn internal_parameters(facts: &BuildFacts) -> serde_json::Value {
    let mut p = json!({
        "builder": {"kind": facts.builder_kind.as_str(), "version": facts.builder_version},
    });
    let args: BTreeMap<&String, &String> = facts
        .build_args
        .iter()
        .filter(|(k, _)| !facts.secret_args.contains(*k))
        .collect();
    if !args.is_empty() {
        p["build_args"] = json!(args);
    }
    if let Some(gh) = &facts.github {
        p["github"] = json!({"event_name": gh.event_name});
    }
    p
}

fn resolved_dependencies(facts: &BuildFacts) -> Vec<ResourceDescriptor> {
    let mut deps = vec![ResourceDescriptor {
        uri: Some(format!(
            "git+{}@{}",
            facts.source.repository, facts.source.git_ref
        )),
        digest: BTreeMap::from([("gitCommit".to_string(), facts.source.commit.clone())]),
        ..ResourceDescriptor::default()
    }];
    for base in &facts.base_images {
        deps.push(ResourceDescriptor {
            uri: Some(base_image_purl(base)),
            digest: sha256(base.digest.hex()),
            ..ResourceDescriptor::default()
        });
    }
    if let Some(lock) = &facts.cargo_lock_digest {
        deps.push(ResourceDescriptor {
            name: Some("Cargo.lock".into()),
            digest: sha256(lock.hex()),
            ..ResourceDescriptor::default()
        });
    }
    deps
}

fn sha256(hex: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("sha256".to_string(), hex.to_string())])
}

/// `pkg:docker/<namespace>/<name>@<tag or digest>?platform=<os%2Farch>` as BuildKit writes it:
/// Docker Hub names in their short form (`alpine`, `user/app`), others with their registry.
pub fn base_image_purl(base: &BaseImage) -> String {
    let (name, tag, digest) = split_reference(&base.reference);
    let version = tag.or(digest).unwrap_or("latest");
    let segments: Vec<String> = name.split('/').map(percent_encode).collect();
    format!(
        "pkg:docker/{}@{}?platform={}",
        segments.join("/"),
        percent_encode(version),
        percent_encode(&base.platform)
    )
}

/// (familiar name, tag, digest) of an image reference.
fn split_reference(reference: &str) -> (String, Option<&str>, Option<&str>) {
    let (rest, digest) = match reference.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (reference, None),
    };
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    let first = name.split('/').next().unwrap_or("");
    let has_registry =
        name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let path = match name
        .strip_prefix("docker.io/")
        .or(name.strip_prefix("index.docker.io/"))
    {
        Some(p) => p,
        None if has_registry => return (name.to_string(), tag, digest),
        None => name,
    };
    let familiar = path
        .strip_prefix("library/")
        .filter(|p| !p.contains('/'))
        .unwrap_or(path);
    (familiar.to_string(), tag, digest)
}

/// Percent-encodes all but the unreserved characters and `:` (which purls leave as is).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b':') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests;
