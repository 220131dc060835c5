//! Counts for monitoring, read from the database so they hold for the whole cluster: runs and
//! tasks by state, and per queue the tasks waiting for a worker, the tasks running and the age
//! of the oldest waiting one. The metrics endpoint renders them at every scrape; nothing here
//! is cached, so each call is a few `GROUP BY` scans over indexed columns.
//!
//! The statements are the same text on both backends (no placeholders), so they live here;
//! `sqlite/stats.rs` and `postgres/stats.rs` only run them. The fold from rows to [`Stats`]
//! is backend-neutral too ([`Stats::from_rows`]).

use std::collections::BTreeMap;

use async_trait::async_trait;
use reelflow_model::execution::{RunState, TaskState};

use crate::{Backend, StoreResult};

/// Runs by state.
pub(crate) const RUNS_BY_STATE: &str = "SELECT state, COUNT(*) FROM instances GROUP BY state";

/// Tasks by node type and state.
pub(crate) const TASKS_BY_STATE: &str =
    "SELECT node_type, state, COUNT(*) FROM tasks GROUP BY node_type, state";

/// Every queue (waiting and running counts default to zero).
pub(crate) const QUEUES: &str = "SELECT id, bucket, name FROM queues";

/// Submitted and Running tasks per queue, with the creation time of the oldest (Unix seconds).
pub(crate) const QUEUE_LOAD: &str = "SELECT queue_id, state, COUNT(*), MIN(created) FROM tasks \
     WHERE state IN ('Submitted', 'Running') GROUP BY queue_id, state";

/// A snapshot of the counts, as read by [`StatsStore::stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Every run state with its number of runs (zero included), in [`RunState`] order.
    pub runs: Vec<(RunState, u64)>,
    /// Tasks per node type name (`Transcode`, …) and state, only the pairs that occur,
    /// ordered by node type then state name.
    pub tasks: Vec<(String, TaskState, u64)>,
    /// Per queue, by id; tasks without a queue (`queue_id` empty) are under the id `""`.
    pub queues: BTreeMap<String, QueueLoad>,
}

/// The load of one queue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueLoad {
    /// Bucket of the queue (empty for tasks without a queue).
    pub bucket: String,
    /// Queue name (`default`, …).
    pub name: String,
    /// Submitted tasks: waiting for a worker (including those held back by a retry delay, a
    /// paused queue or a full MaxConcurrent).
    pub waiting: u64,
    /// Running tasks (leased to a worker).
    pub running: u64,
    /// Creation time of the oldest waiting task, Unix seconds; `None` when none waits.
    pub oldest_waiting: Option<i64>,
}

/// Raw rows of the four statements, folded by [`Stats::from_rows`].
#[derive(Debug, Default)]
pub(crate) struct StatRows {
    /// `(state, count)`.
    pub runs: Vec<(String, i64)>,
    /// `(node_type, state, count)`.
    pub tasks: Vec<(String, String, i64)>,
    /// `(id, bucket, name)`.
    pub queues: Vec<(String, String, String)>,
    /// `(queue_id, state, count, min(created))`.
    pub load: Vec<(String, String, i64, Option<i64>)>,
}

impl Stats {
    /// Folds the rows of both backends the same way. A state name the model does not know
    /// (a newer schema) is skipped rather than failing the scrape.
    pub(crate) fn from_rows(rows: StatRows) -> Self {
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        let run_counts: BTreeMap<String, i64> = rows.runs.into_iter().collect();
        let runs = [
            RunState::Running,
            RunState::Success,
            RunState::Failed,
            RunState::Cancel,
        ]
        .into_iter()
        .map(|s| (s, count(run_counts.get(s.as_str()).copied().unwrap_or(0))))
        .collect();
        let mut tasks: Vec<(String, TaskState, u64)> = rows
            .tasks
            .into_iter()
            .filter_map(|(node_type, state, n)| {
                Some((node_type, TaskState::parse(&state)?, count(n)))
            })
            .collect();
        tasks.sort_by(|a, b| (&a.0, a.1.as_str()).cmp(&(&b.0, b.1.as_str())));
        let mut queues: BTreeMap<String, QueueLoad> = rows
            .queues
            .into_iter()
            .map(|(id, bucket, name)| {
                let load = QueueLoad {
                    bucket,
                    name,
                    ..QueueLoad::default()
                };
                (id, load)
            })
            .collect();
        for (queue_id, state, n, oldest) in rows.load {
            let load = queues.entry(queue_id).or_default();
            match state.as_str() {
                "Submitted" => {
                    load.waiting = count(n);
                    load.oldest_waiting = oldest;
                }
                _ => load.running = count(n),
            }
        }
        Stats {
            runs,
            tasks,
            queues,
        }
    }
}

/// Which schema migrations a database has, against those this build ships.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaStatus {
    /// Migrations this build ships.
    pub expected: usize,
    /// Of those, the ones applied successfully.
    pub applied: usize,
    /// `version description` of each one not applied yet, in order.
    pub pending: Vec<String>,
}

impl SchemaStatus {
    /// Every migration this build ships is applied.
    pub fn is_current(&self) -> bool {
        self.pending.is_empty()
    }

    /// Compares the `applied` versions (from `_sqlx_migrations`) with the `shipped` ones.
    pub(crate) fn compare(shipped: &sqlx::migrate::Migrator, applied: &[i64]) -> Self {
        let shipped: Vec<_> = shipped
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .collect();
        let pending: Vec<String> = shipped
            .iter()
            .filter(|m| !applied.contains(&m.version))
            .map(|m| format!("{} {}", m.version, m.description))
            .collect();
        SchemaStatus {
            expected: shipped.len(),
            applied: shipped.len() - pending.len(),
            pending,
        }
    }
}

/// Versions of the successfully applied migrations (sqlx's bookkeeping table).
pub(crate) const APPLIED_MIGRATIONS: &str =
    "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version";

/// Monitoring counts.
#[async_trait]
pub trait StatsStore: Send + Sync {
    /// Runs and tasks by state and the load of every queue, now.
    async fn stats(&self) -> StoreResult<Stats>;
}

impl Backend {
    /// Which of this build's migrations the database has, read over one plain connection
    /// without applying any (unlike [`Backend::open`]): what `reelflow doctor` reports. A
    /// SQLite file that does not exist is an error (it is created at the first start).
    pub async fn schema_status(&self) -> StoreResult<SchemaStatus> {
        match self {
            Backend::Sqlite(path) => crate::sqlite::schema_status(path).await,
            Backend::Postgres(config) => crate::postgres::schema_status(config).await,
        }
    }
}
