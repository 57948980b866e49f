//! What one push run shares between the scheduler and the tag and referrer steps: the progress
//! sink, the counters, and one semaphore per registry.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::progress::Shared;
use crate::registry::Registry;

/// Everything a run shares.
pub(super) struct Session {
    pub(super) progress: Shared,
    pub(super) counters: Counters,
    pub(super) semaphores: HashMap<String, Arc<Semaphore>>,
}

#[derive(Default)]
pub(super) struct Counters {
    pub(super) pushed: AtomicU64,
    pub(super) bytes: AtomicU64,
    pub(super) mounted: AtomicU64,
    pub(super) exists: AtomicU64,
    pub(super) manifests: AtomicU64,
    pub(super) tags_moved: AtomicU64,
    pub(super) tags_unchanged: AtomicU64,
}

impl Session {
    pub(super) fn sem(&self, reg: &Registry) -> Arc<Semaphore> {
        self.semaphores[&reg.name].clone()
    }
}
