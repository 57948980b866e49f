//! Tags last, all or nothing: called only once every unit reached every target, it moves each
//! unit's tags to its top manifest (one manifest PUT per tag, the same bytes).
//!
//! Floating tags never move backwards: before moving `latest`, a branch tag, `1` or `1.2`,
//! the commit the registry's tag holds now (its image's `org.opencontainers.image.revision`)
//! is judged; a newer or unknown commit keeps the tag where it is, and the report says so.
//! A compose artifact's tag follows the decision made for the images of its registry.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::{bail, Context, Result};

use super::push_session::Session;
use super::unit::{Doc, Target, Unit};
use super::{FloatingTags, TagDecision};

/// Moves every tag of every unit in every target; fails naming each tag that did not move.
/// Returns the floating tags kept where they were, with the reason.
pub(super) async fn move_all(
    ctx: &Arc<Session>,
    units: &[Arc<Unit>],
    floating: Option<&FloatingTags>,
) -> Result<Vec<String>> {
    let kept = match floating {
        Some(f) => judge(units, f).await,
        None => Default::default(),
    };
    let mut tag_failures = Vec::new();
    let mut moved: Vec<String> = Vec::new();
    let mut pending: std::collections::BTreeSet<String> = Default::default();
    {
        let mut set = tokio::task::JoinSet::new();
        for unit in units {
            for t in &unit.targets {
                let Some(top) = unit.top_for(t) else { continue };
                for tag in &unit.tags {
                    if let Some(why) = kept.get(&(t.registry.name.clone(), tag.clone())) {
                        ctx.progress
                            .line(&format!("kept {}:{tag}: {why}", t.display));
                        continue;
                    }
                    let name = t.target.reference(tag).to_string();
                    pending.insert(name.clone());
                    let (ctx, t, tag, top) = (ctx.clone(), t.clone(), tag.clone(), top.clone());
                    set.spawn(async move {
                        let _permit = ctx.sem(&t.registry).acquire_owned().await;
                        let r = push_tag(&ctx, &t, &tag, &top).await;
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

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

/// The floating tags to keep, per `(registry, tag)`: judged on the images' repositories.
async fn judge(
    units: &[Arc<Unit>],
    floating: &FloatingTags,
) -> std::collections::BTreeMap<(String, String), String> {
    let mut kept = std::collections::BTreeMap::new();
    for unit in units.iter().filter(|u| !u.artifact) {
        for t in &unit.targets {
            let Some(top) = unit.top_for(t) else { continue };
            for tag in unit.tags.iter().filter(|tag| floating.tags.contains(*tag)) {
                let key = (t.registry.name.clone(), tag.clone());
                if kept.contains_key(&key) {
                    continue;
                }
                let why = match revision_of(t, tag).await {
                    Ok(None) => continue,
                    Ok(Some((digest, _))) if digest == top.desc.digest => continue,
                    Ok(Some((_, revision))) => match (floating.judge)(revision.as_deref()) {
                        TagDecision::Move => continue,
                        TagDecision::Keep(why) => why,
                    },
                    Err(e) => format!("cannot tell which commit it holds ({e:#}); left as it is"),
                };
                kept.insert(key, why);
            }
        }
    }
    kept
}

/// What `tag` points at in `t` now: its digest and the revision label of its (first) image.
async fn revision_of(
    t: &Target,
    tag: &str,
) -> Result<Option<(crate::oci::Digest, Option<String>)>> {
    let reg = &t.registry;
    let Some((_, bytes)) = reg.read_manifest(&t.repo, tag).await? else {
        return Ok(None);
    };
    let digest = crate::oci::Digest::of(&bytes);
    let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let manifest = match doc["manifests"].as_array() {
        Some(list) => {
            let Some(first) = list
                .iter()
                .find(|m| m["platform"]["architecture"] != "unknown")
                .and_then(|m| m["digest"].as_str())
                .and_then(|d| d.parse::<crate::oci::Digest>().ok())
            else {
                return Ok(Some((digest, None)));
            };
            let (_, bytes) = reg.read_manifest_verified(&t.repo, &first).await?;
            serde_json::from_slice(&bytes).unwrap_or_default()
        }
        None => doc,
    };
    let Some(config) = manifest["config"]["digest"]
        .as_str()
        .and_then(|d| d.parse::<crate::oci::Digest>().ok())
    else {
        return Ok(Some((digest, None)));
    };
    let config: serde_json::Value =
        serde_json::from_slice(&reg.read_blob_capped(&t.repo, &config).await?).unwrap_or_default();
    let revision = config["config"]["Labels"]["org.opencontainers.image.revision"]
        .as_str()
        .map(String::from);
    Ok(Some((digest, revision)))
}

async fn push_tag(ctx: &Session, t: &Target, tag: &str, top: &Doc) -> Result<()> {
    let reg = &t.registry;
    let digest = &top.desc.digest;
    if reg.manifest_digest(&t.repo, tag).await?.as_ref() == Some(digest) {
        ctx.counters.tags_unchanged.fetch_add(1, Ordering::SeqCst);
        ctx.progress.verbose(&format!(
            "tag {}:{tag} already → {}",
            t.display,
            digest.short()
        ));
        return Ok(());
    }
    reg.put_manifest(&t.repo, tag, &top.desc.media_type, &top.bytes, digest)
        .await?;
    ctx.counters.tags_moved.fetch_add(1, Ordering::SeqCst);
    ctx.progress
        .line(&format!("tagged {}:{tag} → {}", t.display, digest.short()));
    Ok(())
}
