//! What every target already holds, asked before anything is pushed: one `HEAD` per unit ×
//! target. A registry stores a manifest only once everything it references is there (and
//! stevedore pushes a unit's top manifest last), so a target that holds the top manifest holds
//! the unit's blobs and platform manifests too: they are not asked about one by one.
//!
//! The `HEAD` asks for the unit's first tag that is not floating (`v1.2.3`, `sha-…`) when it
//! has one: a tag naming the top manifest answers both questions at once (the manifest is
//! there, and the tag needs no move), so a release that changed nothing costs one request per
//! tag. Otherwise, or when the tag names something else, the top manifest is asked for by
//! digest. Floating tags are never read here: they are judged when the tags move, on what
//! they name then.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::push_session::Session;
use super::unit::{Target, Unit};
use super::FloatingTags;
use crate::oci::Digest;

/// What the targets hold, by `(unit, target)` index pair.
#[derive(Debug, Default)]
pub(super) struct Present {
    /// The pairs whose top manifest the registry holds (and with it everything under it).
    pub(super) complete: HashSet<(usize, usize)>,
    /// The pairs whose top manifest the registry said it lacks (`404`): pushed without
    /// asking again.
    pub(super) absent: HashSet<(usize, usize)>,
    /// Tags read here: `(unit, target, tag)` → the digest it named (`None`: no such tag).
    pub(super) tags: HashMap<(usize, usize, String), Option<Digest>>,
}

/// What one pair's probe found.
struct Found {
    complete: bool,
    /// The tag asked for and what it named.
    tag: Option<(String, Option<Digest>)>,
    /// The registry holds the fallback form of the unit (a compose artifact in its OCI 1.0
    /// form) rather than `top`.
    fell_back: bool,
    /// The registry said it lacks `top`.
    absent: bool,
}

/// Probes every unit × target that has a top manifest, all at once within each registry's
/// concurrency. A failed request only means "unknown": the regular steps ask again and report.
pub(super) async fn probe(
    ctx: &Arc<Session>,
    units: &[Arc<Unit>],
    floating: Option<&FloatingTags>,
) -> Present {
    let mut set = tokio::task::JoinSet::new();
    for (ii, unit) in units.iter().enumerate() {
        if unit.top.is_none() {
            continue;
        }
        let tag = probe_tag(&unit.tags, floating.map(|f| &f.tags)).cloned();
        for ti in 0..unit.targets.len() {
            let (ctx, unit, tag) = (ctx.clone(), unit.clone(), tag.clone());
            set.spawn(async move {
                let found = probe_one(&ctx, &unit, &unit.targets[ti], tag).await;
                (ii, ti, found)
            });
        }
    }
    let mut present = Present::default();
    while let Some(res) = set.join_next().await {
        let Ok((ii, ti, found)) = res else { continue };
        let (unit, t) = (&units[ii], &units[ii].targets[ti]);
        if let Some((tag, digest)) = found.tag {
            present.tags.insert((ii, ti, tag), digest);
        }
        if found.fell_back {
            unit.fell_back
                .lock()
                .expect("fallback set")
                .insert(t.display.clone());
        }
        if found.complete {
            mark_complete(ctx, unit, t);
            present.complete.insert((ii, ti));
        } else if found.absent {
            present.absent.insert((ii, ti));
        }
    }
    present
}

/// The tag a probe asks for: the first that is not floating (a floating tag is only read
/// when the tags move, to judge it on what it names then).
fn probe_tag<'a>(tags: &'a [String], floating: Option<&BTreeSet<String>>) -> Option<&'a String> {
    tags.iter()
        .find(|t| floating.is_none_or(|f| !f.contains(*t)))
}

/// One `HEAD` (two when the tag names another manifest, three for a unit with a fallback form
/// that is in neither form).
async fn probe_one(ctx: &Session, unit: &Unit, t: &Target, tag: Option<String>) -> Found {
    let reg = &t.registry;
    let top = &unit
        .top
        .as_ref()
        .expect("probed units have a top")
        .desc
        .digest;
    let fallback = unit.fallback.as_ref().map(|f| &f.desc.digest);
    let sem = ctx.sem(reg);
    let mut found = Found {
        complete: false,
        tag: None,
        fell_back: false,
        absent: false,
    };
    if let Some(tag) = tag {
        let _permit = sem.acquire().await.expect("semaphore open");
        if let Ok(named) = reg.manifest_digest(&t.repo, &tag).await {
            found.complete = named.as_ref() == Some(top);
            found.fell_back = named.is_some() && named.as_ref() == fallback;
            found.tag = Some((tag, named));
        }
        if found.complete || found.fell_back {
            found.complete = true;
            return found;
        }
    }
    for (digest, is_fallback) in std::iter::once((top, false)).chain(fallback.map(|f| (f, true))) {
        let _permit = sem.acquire().await.expect("semaphore open");
        match reg.manifest_digest(&t.repo, digest.as_str()).await {
            Ok(Some(_)) => {
                found.complete = true;
                found.fell_back = is_fallback;
                return found;
            }
            Ok(None) => found.absent |= !is_fallback,
            Err(_) => {}
        }
    }
    found
}

/// A pair found complete: its blobs and manifests count as there (and are known to be, for
/// the rest of the run), its progress bar is full.
fn mark_complete(ctx: &Session, unit: &Unit, t: &Target) {
    let reg = &t.registry;
    for b in &unit.blobs {
        reg.note_present(&t.repo, &b.digest);
    }
    for m in &unit.manifests {
        reg.note_present(&t.repo, &m.desc.digest);
    }
    ctx.counters
        .exists
        .fetch_add(unit.blobs.len() as u64, Ordering::SeqCst);
    let top = unit.top_for(t).expect("probed units have a top");
    ctx.progress.line(&format!(
        "exists {}@{} ({} blob(s), {} manifest(s) under it)",
        t.display,
        top.desc.digest.short(),
        unit.blobs.len(),
        unit.manifests.len()
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_asks_for_the_first_tag_that_does_not_float() {
        let tags = |list: &[&str]| list.iter().map(|t| t.to_string()).collect::<Vec<_>>();
        let floating: BTreeSet<String> = ["latest", "1", "1.2", "main"].map(String::from).into();
        let cases: &[(&[&str], Option<&str>)] = &[
            (&["latest", "1", "1.2", "v1.2.3"], Some("v1.2.3")),
            (&["v1.2.3", "latest"], Some("v1.2.3")),
            (&["main", "sha-abc1234", "latest"], Some("sha-abc1234")),
            (&["latest", "main"], None),
            (&[], None),
        ];
        for (list, want) in cases {
            let list = tags(list);
            let got = probe_tag(&list, Some(&floating)).map(String::as_str);
            assert_eq!(got, *want, "{list:?}");
        }
        // Without floating tags (no judge), any tag answers.
        let list = tags(&["latest", "v1"]);
        assert_eq!(probe_tag(&list, None).map(String::as_str), Some("latest"));
    }
}
