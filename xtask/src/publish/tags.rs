//! Tags last, all or nothing: called only once every unit reached every target, it moves each
//! unit's tags to its top manifest (one manifest PUT per tag, the same bytes).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::{bail, Context, Result};

use super::scheduler::Session;
use super::unit::{Doc, Target, Unit};

/// Moves every tag of every unit in every target; fails naming each tag that did not move.
pub(super) async fn move_all(ctx: &Arc<Session>, units: &[Arc<Unit>]) -> Result<()> {
    let mut tag_failures = Vec::new();
    {
        let mut set = tokio::task::JoinSet::new();
        for unit in units {
            for t in &unit.targets {
                let Some(top) = unit.top_for(t) else { continue };
                for tag in &unit.tags {
                    let (ctx, t, tag, top) = (ctx.clone(), t.clone(), tag.clone(), top.clone());
                    set.spawn(async move {
                        let _permit = ctx.sem(&t.registry).acquire_owned().await;
                        let r = push_tag(&ctx, &t, &tag, &top).await;
                        (t.display.clone(), tag, r)
                    });
                }
            }
        }
        while let Some(res) = set.join_next().await {
            let (display, tag, r) = res.context("a tag task panicked")?;
            if let Err(e) = r {
                tag_failures.push(format!("{display}:{tag}: {e:#}"));
            }
        }
    }
    if !tag_failures.is_empty() {
        tag_failures.sort();
        bail!(
            "every image reached every registry, but moving {} tag(s) failed:\n  - {}\nre-run the same command to finish (nothing is uploaded again).",
            tag_failures.len(),
            tag_failures.join("\n  - ")
        );
    }
    Ok(())
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
