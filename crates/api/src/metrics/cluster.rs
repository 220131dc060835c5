//! Cluster-wide gauges from the store ([`reelflow_store::StatsStore::stats`]), encoded through
//! a registry built afresh at each scrape: a run state or a queue that is gone simply is not
//! there next time, and no scrape sees another's half-written values.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use reelflow_model::clock::now_unix;
use reelflow_store::Stats;

use crate::admin::AdminError;
use crate::state::AppState;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    state: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskLabels {
    node_type: String,
    state: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue: String,
    bucket: String,
}

type Gauges<L> = Family<L, Gauge>;
type FloatGauges<L> = Family<L, Gauge<f64, AtomicU64>>;

/// The runs, tasks and queue gauges, in the text format.
pub(super) async fn render(state: &AppState) -> Result<String, AdminError> {
    let stats = state.store.stats().await?;
    let mut registry = Registry::default();
    register_runs_and_tasks(&mut registry, &stats);
    register_queues(&mut registry, &stats, now_unix());
    let mut text = String::new();
    super::encode(&mut text, &registry);
    Ok(text)
}

fn register_runs_and_tasks(registry: &mut Registry, stats: &Stats) {
    let runs = Gauges::<RunLabels>::default();
    for (state, n) in &stats.runs {
        let labels = RunLabels {
            state: state.as_str().to_owned(),
        };
        runs.get_or_create(&labels).set(gauge_value(*n));
    }
    registry.register(
        "reelflow_runs",
        "Workflow runs by state (cluster-wide)",
        runs,
    );
    let tasks = Gauges::<TaskLabels>::default();
    for (node_type, state, n) in &stats.tasks {
        let labels = TaskLabels {
            node_type: node_type.clone(),
            state: state.as_str().to_owned(),
        };
        tasks.get_or_create(&labels).set(gauge_value(*n));
    }
    registry.register(
        "reelflow_tasks",
        "Tasks by node type and state (cluster-wide)",
        tasks,
    );
}

fn register_queues(registry: &mut Registry, stats: &Stats, now: i64) {
    let depth = Gauges::<QueueLabels>::default();
    let running = Gauges::<QueueLabels>::default();
    let oldest = FloatGauges::<QueueLabels>::default();
    for (id, load) in &stats.queues {
        let labels = QueueLabels {
            queue: id.clone(),
            bucket: load.bucket.clone(),
        };
        depth.get_or_create(&labels).set(gauge_value(load.waiting));
        running
            .get_or_create(&labels)
            .set(gauge_value(load.running));
        let age = load.oldest_waiting.map_or(0, |t| (now - t).max(0));
        oldest.get_or_create(&labels).set(age as f64);
    }
    registry.register(
        "reelflow_queue_depth",
        "Tasks waiting for a worker (Submitted) per queue",
        depth,
    );
    registry.register("reelflow_queue_running", "Tasks running per queue", running);
    registry.register(
        "reelflow_queue_oldest_waiting_age_seconds",
        "Age of the oldest task waiting for a worker per queue, 0 when none waits",
        oldest,
    );
}

fn gauge_value(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
