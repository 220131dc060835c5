//! What this process's workers did since it started, reported with each node heartbeat.

use std::sync::atomic::{AtomicU64, Ordering};

use reelflow_model::node::NodeMetrics;

/// Task counters of one process.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) claimed: AtomicU64,
    pub(crate) succeeded: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) retried: AtomicU64,
    pub(crate) leases_lost: AtomicU64,
    pub(crate) fused_runs: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// The task fields of [`NodeMetrics`]; the callback fields stay zero.
    pub(crate) fn snapshot(&self) -> NodeMetrics {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        NodeMetrics {
            tasks_claimed: get(&self.claimed),
            tasks_succeeded: get(&self.succeeded),
            tasks_failed: get(&self.failed),
            tasks_retried: get(&self.retried),
            leases_lost: get(&self.leases_lost),
            fused_runs: get(&self.fused_runs),
            ..NodeMetrics::default()
        }
    }
}
