//! How long this process's tasks took, by node type and outcome: a Prometheus histogram
//! observed where a task's execution ends (`execute.rs`, `fused.rs`), next to the plain
//! counters of `counters.rs`.
//!
//! Process-local: each process observes the tasks it ran, and Prometheus sums the processes.
//! The histogram lives in the engine (where tasks end) but is rendered by whoever serves
//! metrics: [`Engine::task_durations`] hands out a handle to register in a
//! [`prometheus_client::registry::Registry`].

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use reelflow_model::workflow::NodeType;

use crate::Engine;

/// Upper bounds of the buckets, in seconds: media tasks take from a fraction of a second (a
/// snapshot) to an hour (a long transcode).
pub const TASK_DURATION_BUCKETS: [f64; 14] = [
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
];

/// Labels of one series: the node type (`Transcode`, …) and `success` or `failed`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TaskLabels {
    /// CI node type name.
    pub node_type: String,
    /// `success`, or `failed` (including transient failures that are retried, cancels and
    /// shutdown interruptions: the run of the tool ended without a result).
    pub outcome: String,
}

/// Constructor of each series' histogram (the family's buckets).
#[derive(Debug, Clone, Copy, Default)]
pub struct TaskBuckets;

impl prometheus_client::metrics::family::MetricConstructor<Histogram> for TaskBuckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(TASK_DURATION_BUCKETS)
    }
}

/// The histogram family; clones share the series.
pub type TaskDurations = Family<TaskLabels, Histogram, TaskBuckets>;

/// A new, empty family.
pub(crate) fn new_family() -> TaskDurations {
    Family::new_with_constructor(TaskBuckets)
}

impl Engine {
    /// The task duration histogram of this process, to register for rendering (as
    /// `reelflow_task_duration_seconds`).
    pub fn task_durations(&self) -> TaskDurations {
        self.inner.durations.clone()
    }

    /// Records that a task of `node_type` ran for `took`.
    pub(crate) fn observe_task(&self, node_type: NodeType, success: bool, took: Duration) {
        let labels = TaskLabels {
            node_type: node_type.as_str().to_owned(),
            outcome: if success { "success" } else { "failed" }.to_owned(),
        };
        self.inner
            .durations
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }
}
