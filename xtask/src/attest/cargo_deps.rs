//! The crates linked into a binary: the normal-dependency closure of one workspace package
//! for one Rust target, from `cargo metadata` and `Cargo.lock`.
//!
//! Followed: dependencies with `kind: null` whose `target` applies to the Rust target.
//! Not followed: dev- and build-dependencies, and proc-macro crates (they run in the
//! compiler and are not linked, so neither they nor their dependencies ship).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use super::cargo_cfg::TargetCfg;

/// One crate of the closure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crate {
    /// Cargo's package id (unique).
    pub id: String,
    pub name: String,
    pub version: String,
    /// The `license` field of its manifest.
    pub license: Option<String>,
    /// `registry+https://github.com/rust-lang/crates.io-index`, `git+https://…#<sha>`, or
    /// `None` for a path (workspace) crate.
    pub source: Option<String>,
    /// The sha256 from `Cargo.lock` (registry crates).
    pub checksum: Option<String>,
    /// Ids of its normal dependencies in the closure, sorted.
    pub deps: Vec<String>,
}

/// The binary's package and everything it links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closure {
    pub root: Crate,
    /// All other crates, sorted by name, version and id.
    pub crates: Vec<Crate>,
}

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    workspace_members: Vec<String>,
    resolve: Option<Resolve>,
}

#[derive(Deserialize)]
struct Package {
    id: String,
    name: String,
    version: String,
    license: Option<String>,
    source: Option<String>,
    #[serde(default)]
    targets: Vec<Target>,
}

#[derive(Deserialize)]
struct Target {
    name: String,
    #[serde(default)]
    kind: Vec<String>,
}

#[derive(Deserialize)]
struct Resolve {
    nodes: Vec<Node>,
}

#[derive(Deserialize)]
struct Node {
    id: String,
    #[serde(default)]
    deps: Vec<NodeDep>,
}

#[derive(Deserialize)]
struct NodeDep {
    pkg: String,
    #[serde(default)]
    dep_kinds: Vec<DepKind>,
}

#[derive(Deserialize)]
struct DepKind {
    kind: Option<String>,
    target: Option<String>,
}

#[derive(Deserialize)]
struct Lock {
    #[serde(default)]
    package: Vec<LockPackage>,
}

#[derive(Deserialize)]
struct LockPackage {
    name: String,
    version: String,
    source: Option<String>,
    checksum: Option<String>,
}

/// The closure of the workspace package that builds binary `bin` (in package `package`,
/// when given: `native.package`) for `target`.
pub fn closure(
    metadata_json: &str,
    cargo_lock: &str,
    package: Option<&str>,
    bin: &str,
    target: &TargetCfg,
) -> Result<Closure> {
    let meta: Metadata = serde_json::from_str(metadata_json).context(
        "cannot read the `cargo metadata --format-version 1` output: run it without --no-deps",
    )?;
    let lock: Lock = toml::from_str(cargo_lock)
        .context("Cargo.lock is not valid TOML: run `cargo generate-lockfile`")?;
    let resolve = meta
        .resolve
        .context("`cargo metadata` has no resolve graph: run it without --no-deps")?;
    let packages: BTreeMap<&str, &Package> =
        meta.packages.iter().map(|p| (p.id.as_str(), p)).collect();
    let root_id = root_of(&meta.workspace_members, &packages, package, bin)?;
    let checksums: BTreeMap<(&str, &str, Option<&str>), &str> = lock
        .package
        .iter()
        .filter_map(|p| {
            let sum = p.checksum.as_deref()?;
            Some((
                (p.name.as_str(), p.version.as_str(), p.source.as_deref()),
                sum,
            ))
        })
        .collect();
    let nodes: BTreeMap<&str, &Node> = resolve.nodes.iter().map(|n| (n.id.as_str(), n)).collect();

    let mut seen = BTreeMap::<String, Crate>::new();
    let mut queue = VecDeque::from([root_id.clone()]);
    while let Some(id) = queue.pop_front() {
        if seen.contains_key(&id) {
            continue;
        }
        let Some(p) = packages.get(id.as_str()) else {
            bail!("cargo metadata names {id} in its resolve graph but not among its packages: rerun `cargo metadata`");
        };
        let mut deps = BTreeSet::new();
        for dep in nodes.get(id.as_str()).map_or(&[][..], |n| &n.deps[..]) {
            let normal = dep
                .dep_kinds
                .iter()
                .any(|k| k.kind.is_none() && target.matches(k.target.as_deref()));
            let linked = packages
                .get(dep.pkg.as_str())
                .is_some_and(|d| !is_proc_macro(d));
            if normal && linked {
                deps.insert(dep.pkg.clone());
                queue.push_back(dep.pkg.clone());
            }
        }
        let checksum = checksums
            .get(&(p.name.as_str(), p.version.as_str(), p.source.as_deref()))
            .map(|s| s.to_string());
        seen.insert(
            id.clone(),
            Crate {
                id: id.clone(),
                name: p.name.clone(),
                version: p.version.clone(),
                license: p.license.clone(),
                source: p.source.clone(),
                checksum,
                deps: deps.into_iter().collect(),
            },
        );
    }
    let root = seen.remove(root_id).expect("the root is visited first");
    let mut crates: Vec<Crate> = seen.into_values().collect();
    crates.sort_by(|a, b| (&a.name, &a.version, &a.id).cmp(&(&b.name, &b.version, &b.id)));
    Ok(Closure { root, crates })
}

/// The workspace member with binary `bin` (and name `package`, if given).
fn root_of<'a>(
    members: &'a [String],
    packages: &BTreeMap<&str, &Package>,
    package: Option<&str>,
    bin: &str,
) -> Result<&'a String> {
    let with_bin: Vec<&String> = members
        .iter()
        .filter(|id| {
            packages.get(id.as_str()).is_some_and(|p| {
                package.is_none_or(|name| p.name == name)
                    && p.targets
                        .iter()
                        .any(|t| t.name == bin && t.kind.iter().any(|k| k == "bin"))
            })
        })
        .collect();
    match (with_bin.as_slice(), package) {
        ([one], _) => Ok(one),
        ([], Some(name)) => bail!(
            "no workspace package {name:?} with a binary {bin:?}: check native.package and cargo-bin"
        ),
        ([], None) => bail!("no workspace package has a binary {bin:?}: check cargo-bin"),
        (many, _) => bail!(
            "{} workspace packages have a binary {bin:?}: set native.package to the one the image runs",
            many.len()
        ),
    }
}

fn is_proc_macro(p: &Package) -> bool {
    p.targets
        .iter()
        .any(|t| t.kind.iter().any(|k| k == "proc-macro"))
}

/// `cargo metadata --format-version 1 --filter-platform <target> --locked` for the workspace
/// of `manifest_path`, with the features the binary is built with (`native.features`;
/// qualified as `<package>/<feature>` when `package` is given): the input of [`closure`].
///
/// The resolve graph unifies features across the workspace, so a crate another member
/// enables may be listed too: an SBOM may name one crate too many, never one too few.
pub fn cargo_metadata(
    manifest_path: &Path,
    target: &str,
    package: Option<&str>,
    features: &[String],
) -> Result<String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["metadata", "--format-version", "1", "--locked"])
        .args(["--filter-platform", target])
        .arg("--manifest-path")
        .arg(manifest_path);
    if !features.is_empty() {
        let qualified: Vec<String> = features
            .iter()
            .map(|f| match package {
                Some(p) if !f.contains('/') => format!("{p}/{f}"),
                _ => f.clone(),
            })
            .collect();
        cmd.args(["--features", &qualified.join(",")]);
    }
    let out = cmd
        .output()
        .context("cannot run `cargo metadata`: is cargo on PATH?")?;
    if !out.status.success() {
        bail!(
            "`cargo metadata --filter-platform {target}` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    String::from_utf8(out.stdout).context("`cargo metadata` printed non-UTF-8 output")
}

/// `rustc --print cfg --target <target>`: the input of [`TargetCfg::new`].
pub fn rustc_cfg(target: &str) -> Result<Vec<String>> {
    let out = Command::new("rustc")
        .args(["--print", "cfg", "--target", target])
        .output()
        .context("cannot run `rustc --print cfg`: is rustc on PATH?")?;
    if !out.status.success() {
        bail!(
            "`rustc --print cfg --target {target}` failed: {} (is the target's name right?)",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect())
}

#[cfg(test)]
pub(crate) mod tests;
