//! Tags last, all or nothing: called only once every unit reached every target, it moves each
//! unit's tags to its top manifest (one manifest PUT per tag, the same bytes).
//!
//! Floating tags never move backwards: before moving `latest`, a branch tag, `1` or `1.2`,
//! the commit the registry's tag holds now (its image's `org.opencontainers.image.revision`)
//! is judged; a newer or unknown commit keeps the tag where it is, and the report says so.
//! A compose artifact's tag follows the decision made for the images of its registry.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::{bail, Context, Result};

use super::push_session::Session;
use super::unit::{Doc, Target, Unit};
use super::{FloatingTags, TagDecision};
use crate::oci::Digest;

/// What each tag names now, by `(unit, target, tag)`: the digest (`None`: no such tag), or why
/// it could not be read.
type Current = HashMap<(usize, usize, String), Result<Option<Digest>, String>>;

/// Moves every tag of every unit in every target; fails naming each tag that did not move.
/// `seen` holds the tags already read in this run (by [`super::present`]); every other tag is
/// read once here (`HEAD`), and only a tag that names another manifest is written.
/// Returns the floating tags kept where they were, with the reason.
pub(super) async fn move_all(
    ctx: &Arc<Session>,
    units: &[Arc<Unit>],
    floating: Option<&FloatingTags>,
    seen: HashMap<(usize, usize, String), Option<Digest>>,
) -> Result<Vec<String>> {
    let current = read_all(ctx, units, seen).await;
    let kept = match floating {
        Some(f) => judge(ctx, units, f, &current).await,
        None => Default::default(),
    };
    let mut tag_failures = Vec::new();
    let mut moved: Vec<String> = Vec::new();
    let mut pending: std::collections::BTreeSet<String> = Default::default();
    {
        let mut set = tokio::task::JoinSet::new();
        for (ii, unit) in units.iter().enumerate() {
            for (ti, t) in unit.targets.iter().enumerate() {
                let Some(top) = unit.top_for(t) else { continue };
                for tag in &unit.tags {
                    if let Some(why) = kept.get(&(t.registry.name.clone(), tag.clone())) {
                        ctx.progress
                            .line(&format!("kept {}:{tag}: {why}", t.display));
                        continue;
                    }
                    let now = current.get(&(ii, ti, tag.clone())).cloned();
                    if let Some(Ok(Some(d))) = &now {
                        if *d == top.desc.digest {
                            unchanged(ctx, t, tag, d);
                            continue;
                        }
                    }
                    let name = t.target.reference(tag).to_string();
                    pending.insert(name.clone());
                    let (ctx, t, tag, top) = (ctx.clone(), t.clone(), tag.clone(), top.clone());
                    // A tag that could not be read is asked about again before it is written.
                    let known = matches!(now, Some(Ok(_)));
                    set.spawn(async move {
                        let _permit = ctx.sem(&t.registry).acquire_owned().await;
                        let r = push_tag(&ctx, &t, &tag, &top, known).await;
                        (name, r)
                    });
                }
            }
        }
        let interrupt = tokio::signal::ctrl_c();
        tokio::pin!(interrupt);
        loop {
            tokio::select! {
                res = set.join_next() => {
                    let Some(res) = res else { break };
                    let (name, r) = res.context("a tag task panicked")?;
                    pending.remove(&name);
                    match r {
                        Ok(()) => moved.push(name),
                        Err(e) => tag_failures.push(format!("{name}: {e:#}")),
                    }
                }
                _ = &mut interrupt => {
                    set.abort_all();
                    moved.sort();
                    bail!(
                        "interrupted while moving tags. Moved ({}): {}. Not moved ({}): {}. Every \
                         manifest is in place: run the same command again to move the rest.",
                        moved.len(),
                        list(&moved),
                        pending.len(),
                        list(&pending.iter().cloned().collect::<Vec<_>>())
                    );
                }
            }
        }
    }
    if !tag_failures.is_empty() {
        tag_failures.sort();
        moved.sort();
        bail!(
            "every image reached every registry, but moving {} tag(s) failed:\n  - {}\nmoved ({}): {}\nre-run the same command to finish (nothing is uploaded again).",
            tag_failures.len(),
            tag_failures.join("\n  - "),
            moved.len(),
            list(&moved)
        );
    }
    let mut out: Vec<String> = kept
        .into_iter()
        .map(|((registry, tag), why)| format!("{registry} {tag}: {why}"))
        .collect();
    out.sort();
    Ok(out)
}

/// Reads (`HEAD`) every tag of every unit × target that `seen` does not hold, all at once
/// within each registry's concurrency.
async fn read_all(
    ctx: &Arc<Session>,
    units: &[Arc<Unit>],
    seen: HashMap<(usize, usize, String), Option<Digest>>,
) -> Current {
    let mut current: Current = seen.into_iter().map(|(k, v)| (k, Ok(v))).collect();
    let mut set = tokio::task::JoinSet::new();
    for (ii, unit) in units.iter().enumerate() {
        for (ti, t) in unit.targets.iter().enumerate() {
            if unit.top_for(t).is_none() {
                continue;
            }
            for tag in &unit.tags {
                let key = (ii, ti, tag.clone());
                if current.contains_key(&key) {
                    continue;
                }
                let (ctx, t) = (ctx.clone(), t.clone());
                set.spawn(async move {
                    let _permit = ctx.sem(&t.registry).acquire_owned().await;
                    let r = t.registry.manifest_digest(&t.repo, &key.2).await;
                    (key, r.map_err(|e| format!("{e:#}")))
                });
            }
        }
    }
    while let Some(res) = set.join_next().await {
        if let Ok((key, r)) = res {
            current.insert(key, r);
        }
    }
    current
}

fn unchanged(ctx: &Session, t: &Target, tag: &str, digest: &Digest) {
    ctx.counters.tags_unchanged.fetch_add(1, Ordering::SeqCst);
    ctx.progress.verbose(&format!(
        "tag {}:{tag} already → {}",
        t.display,
        digest.short()
    ));
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

/// The floating tags to keep, per `(registry, tag)`: judged on the images' repositories, on
/// what each tag names now (`current`). Only a tag naming another manifest than this release's
/// is judged: its commit is read once per registry, repository and manifest, and each commit
/// judged once.
async fn judge(
    ctx: &Arc<Session>,
    units: &[Arc<Unit>],
    floating: &FloatingTags,
    current: &Current,
) -> std::collections::BTreeMap<(String, String), String> {
    // The floating tags to judge: (unit, target, tag) naming another manifest.
    let mut to_judge = Vec::new();
    for (ii, unit) in units.iter().enumerate().filter(|(_, u)| !u.artifact) {
        for (ti, t) in unit.targets.iter().enumerate() {
            let Some(top) = unit.top_for(t) else { continue };
            for tag in unit.tags.iter().filter(|tag| floating.tags.contains(*tag)) {
                let why = match current.get(&(ii, ti, tag.clone())) {
                    Some(Ok(None)) => continue,
                    Some(Ok(Some(d))) if *d == top.desc.digest => continue,
                    Some(Ok(Some(d))) => Ok(d.clone()),
                    Some(Err(e)) => Err(e.clone()),
                    None => Err("it was not read".to_string()),
                };
                to_judge.push((t, tag, why));
            }
        }
    }
    let revisions = read_revisions(
        ctx,
        to_judge
            .iter()
            .filter_map(|(t, _, d)| Some((*t, d.as_ref().ok()?))),
    )
    .await;
    let mut decisions: HashMap<Option<String>, TagDecision> = HashMap::new();
    let mut kept = std::collections::BTreeMap::new();
    for (t, tag, named) in to_judge {
        let key = (t.registry.name.clone(), tag.clone());
        if kept.contains_key(&key) {
            continue;
        }
        let revision = named.and_then(|d| {
            revisions
                .get(&(t.registry.name.clone(), t.repo.clone(), d))
                .cloned()
                .unwrap_or_else(|| Err("it was not read".into()))
        });
        let why = match revision {
            Ok(revision) => {
                let decision = decisions
                    .entry(revision.clone())
                    .or_insert_with(|| (floating.judge)(revision.as_deref()));
                match decision {
                    TagDecision::Move => continue,
                    TagDecision::Keep(why) => why.clone(),
                }
            }
            Err(e) => format!("cannot tell which commit it holds ({e}); left as it is"),
        };
        kept.insert(key, why);
    }
    kept
}

/// The commit of each manifest `(target, digest)` names, read once per registry, repository
/// and digest, all at once within each registry's concurrency.
async fn read_revisions<'a>(
    ctx: &Arc<Session>,
    wanted: impl Iterator<Item = (&'a Target, &'a Digest)>,
) -> HashMap<(String, String, Digest), Result<Option<String>, String>> {
    let mut set = tokio::task::JoinSet::new();
    let mut asked = std::collections::HashSet::new();
    for (t, digest) in wanted {
        let key = (t.registry.name.clone(), t.repo.clone(), digest.clone());
        if !asked.insert(key.clone()) {
            continue;
        }
        let (ctx, t) = (ctx.clone(), t.clone());
        set.spawn(async move {
            let _permit = ctx.sem(&t.registry).acquire_owned().await;
            let r = revision_of(&t, &key.2).await;
            (key, r.map_err(|e| format!("{e:#}")))
        });
    }
    let mut out = HashMap::new();
    while let Some(res) = set.join_next().await {
        if let Ok((key, r)) = res {
            out.insert(key, r);
        }
    }
    out
}

/// The commit (`org.opencontainers.image.revision`) of the manifest `digest` in `t`: the
/// index's own annotation, which stevedore writes; for an index without it (or a single
/// manifest), the label of its (first) image's config.
async fn revision_of(t: &Target, digest: &Digest) -> Result<Option<String>> {
    let reg = &t.registry;
    let (_, bytes) = reg.read_manifest_verified(&t.repo, digest).await?;
    let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let manifest = match doc["manifests"].as_array() {
        Some(list) => {
            if let Some(rev) = index_revision(&doc) {
                return Ok(Some(rev));
            }
            let Some(first) = list
                .iter()
                .find(|m| m["platform"]["architecture"] != "unknown")
                .and_then(|m| m["digest"].as_str())
                .and_then(|d| d.parse::<Digest>().ok())
            else {
                return Ok(None);
            };
            let (_, bytes) = reg.read_manifest_verified(&t.repo, &first).await?;
            serde_json::from_slice(&bytes).unwrap_or_default()
        }
        None => doc,
    };
    let Some(config) = manifest["config"]["digest"]
        .as_str()
        .and_then(|d| d.parse::<Digest>().ok())
    else {
        return Ok(None);
    };
    let config: serde_json::Value =
        serde_json::from_slice(&reg.read_blob_capped(&t.repo, &config).await?).unwrap_or_default();
    Ok(config["config"]["Labels"][REVISION]
        .as_str()
        .map(String::from))
}

const REVISION: &str = "org.opencontainers.image.revision";

/// The commit an image index names in its own annotations (stevedore writes it there); `None`
/// for an index without it, or for a document that is not an index.
fn index_revision(doc: &serde_json::Value) -> Option<String> {
    doc["manifests"].as_array()?;
    doc["annotations"][REVISION].as_str().map(String::from)
}

/// Points `tag` at `top`. `known`: the tag was read in this run and names another manifest
/// (or none); otherwise it is read first, and left alone when it names `top` already.
async fn push_tag(ctx: &Session, t: &Target, tag: &str, top: &Doc, known: bool) -> Result<()> {
    let reg = &t.registry;
    let digest = &top.desc.digest;
    if !known && reg.manifest_digest(&t.repo, tag).await?.as_ref() == Some(digest) {
        unchanged(ctx, t, tag, digest);
        return Ok(());
    }
    reg.put_manifest(&t.repo, tag, &top.desc.media_type, &top.bytes, digest)
        .await?;
    ctx.counters.tags_moved.fetch_add(1, Ordering::SeqCst);
    ctx.progress
        .line(&format!("tagged {}:{tag} → {}", t.display, digest.short()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_commit_comes_from_the_index_annotation_only() {
        let cases = [
            (
                json!({"manifests": [], "annotations": {REVISION: "abc123"}}),
                Some("abc123"),
            ),
            (json!({"manifests": [], "annotations": {}}), None),
            (json!({"manifests": []}), None),
            // A single manifest's annotations are not read: its config label is.
            (
                json!({"config": {}, "layers": [], "annotations": {REVISION: "abc123"}}),
                None,
            ),
            (
                json!({"manifests": [], "annotations": {REVISION: 42}}),
                None,
            ),
        ];
        for (doc, want) in cases {
            assert_eq!(index_revision(&doc).as_deref(), want, "{doc}");
        }
    }
}
