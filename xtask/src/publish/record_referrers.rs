//! Referrers on registries without the OCI 1.1 referrers API: once every manifest arrived, and
//! before any tag moves, each subject's fallback index (`sha256-<hex>`) is read, the new
//! referrers are added (none twice, none lost) and it is written back with `If-Match`. The
//! subjects are recorded at once within each registry's concurrency, and a registry found
//! without the API is not asked about it again in the run.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};

use super::push_session::Session;
use super::unit::{Target, Unit};
use crate::oci::referrers_tag::{fallback_tag, merge_referrers};
use crate::oci::{self, Descriptor, Digest};

/// Records every referrer of `units` in its subject's fallback index, where the registry has
/// no referrers API.
pub(super) async fn record(ctx: &Arc<Session>, units: &[Arc<Unit>]) -> Result<()> {
    let mut groups: BTreeMap<(String, Digest), (Target, Vec<Descriptor>)> = BTreeMap::new();
    for unit in units {
        let Some(top) = &unit.top else { continue };
        let Some(subject) = &top.subject else {
            continue;
        };
        for t in &unit.targets {
            groups
                .entry((t.display.clone(), subject.clone()))
                .or_insert_with(|| (t.clone(), Vec::new()))
                .1
                .push(top.desc.clone());
        }
    }
    // Registries that answered without the API once: not asked again in this run.
    let no_api: NoApi = Default::default();
    let mut set = tokio::task::JoinSet::new();
    for ((display, subject), (t, referrers)) in groups {
        let (ctx, no_api) = (ctx.clone(), no_api.clone());
        set.spawn(
            async move { record_one(&ctx, &display, &subject, &t, referrers, &no_api).await },
        );
    }
    let mut first_error = None;
    while let Some(res) = set.join_next().await {
        if let Err(e) = res.context("a referrers task panicked")? {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// The registries found without the referrers API.
type NoApi = Arc<Mutex<HashSet<String>>>;

/// Records `referrers` of `subject` in `t` (`display`), unless the registry indexes them.
async fn record_one(
    ctx: &Session,
    display: &str,
    subject: &Digest,
    t: &Target,
    referrers: Vec<Descriptor>,
    no_api: &NoApi,
) -> Result<()> {
    let reg = &t.registry;
    let _permit = ctx.sem(reg).acquire_owned().await;
    let known_without = no_api.lock().expect("no-api set").contains(&reg.name);
    if !known_without && reg.referrers(&t.repo, subject).await?.is_some() {
        ctx.progress.verbose(&format!(
            "referrers of {display}@{}: the registry indexes them itself",
            subject.short()
        ));
        return Ok(());
    }
    no_api.lock().expect("no-api set").insert(reg.name.clone());
    let tag = fallback_tag(subject);
    let current = reg.fallback_index(&t.repo, &tag).await?;
    let mut index = current.index.clone();
    let mut added = 0;
    for d in referrers {
        if let Some(merged) = merge_referrers(index.clone(), d) {
            index = Some(merged);
            added += 1;
        }
    }
    let Some(index) = index.filter(|_| added > 0) else {
        ctx.progress
            .verbose(&format!("referrers {display}:{tag} already list them"));
        return Ok(());
    };
    let bytes = oci::to_bytes(&index);
    reg.put_fallback_index(&t.repo, &tag, &bytes.into(), current.etag.as_deref())
        .await?;
    ctx.progress.line(&format!(
        "referrers {display}:{tag} → {} entr{} ({added} new)",
        index.manifests.len(),
        if index.manifests.len() == 1 {
            "y"
        } else {
            "ies"
        }
    ));
    Ok(())
}
