//! The registry of reelflow processes sharing the database: each registers at start, beats
//! every few seconds with its counters, and marks itself stopped on a graceful shutdown. The
//! tasks and callback messages a node holds are counted from their leases, so the listing
//! shows what a lost node left behind until its leases expire.

use async_trait::async_trait;
use reelflow_model::node::{NodeMetrics, NodeRole};

use crate::StoreResult;
use crate::rows::Cols;

/// What a process says about itself when it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// The lease-owner identity (persisted in its data directory).
    pub id: String,
    /// `reelflow serve --role`.
    pub role: NodeRole,
    /// reelflow version.
    pub version: String,
    /// Host name of the machine.
    pub hostname: String,
    /// Operating-system process id.
    pub pid: u32,
    /// HTTP listen address.
    pub listen: String,
    /// Parallel task slots (0 for an API process).
    pub workers: u32,
}

/// A node as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRecord {
    /// Its own description.
    pub info: NodeInfo,
    /// Start of the current process, Unix milliseconds.
    pub started_ms: i64,
    /// Last heartbeat, Unix milliseconds.
    pub heartbeat_ms: i64,
    /// Set when the process stopped gracefully (Unix milliseconds).
    pub stopped_ms: Option<i64>,
    /// Counters from its last heartbeat.
    pub metrics: NodeMetrics,
    /// Running tasks whose lease it holds.
    pub tasks_held: u64,
    /// Callback messages it is sending (leased to it).
    pub callbacks_held: u64,
}

/// The node registry.
#[async_trait]
pub trait NodeStore: Send + Sync {
    /// Records a process start: inserts the node or replaces its description, with started and
    /// heartbeat set to `now_ms`, counters zeroed and the stopped mark cleared.
    async fn register_node(&self, info: &NodeInfo, now_ms: i64) -> StoreResult<()>;
    /// A heartbeat: the time and the current counters. False when the node is not registered.
    async fn node_heartbeat(
        &self,
        id: &str,
        now_ms: i64,
        metrics: &NodeMetrics,
    ) -> StoreResult<bool>;
    /// Marks a graceful stop, with the final counters.
    async fn node_stopped(&self, id: &str, now_ms: i64, metrics: &NodeMetrics) -> StoreResult<()>;
    /// Every node, by id, with what it holds.
    async fn list_nodes(&self) -> StoreResult<Vec<NodeRecord>>;
}

pub(crate) fn metrics_json(metrics: &NodeMetrics) -> String {
    serde_json::to_string(metrics).unwrap_or_else(|_| "{}".to_owned())
}

pub(crate) fn metrics_from_json(text: &str) -> NodeMetrics {
    serde_json::from_str(text).unwrap_or_default()
}

/// The row decoder shared by both backends.
pub(crate) fn node_record(row: &impl Cols) -> StoreResult<NodeRecord> {
    let count = |name: &str| -> StoreResult<u64> { Ok(row.int(name)?.max(0) as u64) };
    let small = |name: &str| -> StoreResult<u32> {
        Ok(row.int(name)?.clamp(0, i64::from(u32::MAX)) as u32)
    };
    Ok(NodeRecord {
        info: NodeInfo {
            id: row.text("id")?,
            role: NodeRole::parse(&row.text("role")?).unwrap_or_default(),
            version: row.text("version")?,
            hostname: row.text("hostname")?,
            pid: small("pid")?,
            listen: row.text("listen")?,
            workers: small("workers")?,
        },
        started_ms: row.int("started_ms")?,
        heartbeat_ms: row.int("heartbeat_ms")?,
        stopped_ms: row.opt_int("stopped_ms")?,
        metrics: metrics_from_json(&row.text("metrics")?),
        tasks_held: count("tasks_held")?,
        callbacks_held: count("callbacks_held")?,
    })
}

/// The listing query (no parameters).
pub(crate) const LIST_NODES: &str = "SELECT n.id, n.role, n.version, n.hostname, n.pid, n.listen, \
     n.workers, n.started_ms, n.heartbeat_ms, n.stopped_ms, n.metrics, \
     (SELECT COUNT(*) FROM tasks t WHERE t.state = 'Running' AND t.lease_owner = n.id) AS tasks_held, \
     (SELECT COUNT(*) FROM callbacks c WHERE c.state = 'Sending' AND c.lease_owner = n.id) \
     AS callbacks_held \
     FROM nodes n ORDER BY n.id";

/// The [`NodeStore`] implementation, one text for both backends: its statements use `$N`
/// placeholders in ascending order of first use, which SQLite numbers the same way.
macro_rules! impl_node_store {
    ($store:ty) => {
        #[async_trait]
        impl NodeStore for $store {
            async fn register_node(&self, info: &NodeInfo, now_ms: i64) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO nodes (id, role, version, hostname, pid, listen, workers, started_ms, \
                     heartbeat_ms, stopped_ms, metrics) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, NULL, '{}') \
                     ON CONFLICT (id) DO UPDATE SET role = $2, version = $3, hostname = $4, pid = $5, \
                     listen = $6, workers = $7, started_ms = $8, heartbeat_ms = $8, stopped_ms = NULL, \
                     metrics = '{}'",
                )
                .bind(&info.id)
                .bind(info.role.as_str())
                .bind(&info.version)
                .bind(&info.hostname)
                .bind(i64::from(info.pid))
                .bind(&info.listen)
                .bind(i64::from(info.workers))
                .bind(now_ms)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn node_heartbeat(
                &self,
                id: &str,
                now_ms: i64,
                metrics: &NodeMetrics,
            ) -> StoreResult<bool> {
                let done = sqlx::query("UPDATE nodes SET heartbeat_ms = $1, metrics = $2 WHERE id = $3")
                    .bind(now_ms)
                    .bind($crate::nodes::metrics_json(metrics))
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn node_stopped(&self, id: &str, now_ms: i64, metrics: &NodeMetrics) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE nodes SET heartbeat_ms = $1, stopped_ms = $1, metrics = $2 WHERE id = $3",
                )
                .bind(now_ms)
                .bind($crate::nodes::metrics_json(metrics))
                .bind(id)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn list_nodes(&self) -> StoreResult<Vec<NodeRecord>> {
                let rows = sqlx::query($crate::nodes::LIST_NODES).fetch_all(&self.pool).await?;
                rows.iter().map($crate::nodes::node_record).collect()
            }
        }
    };
}

impl_node_store!(crate::sqlite::SqliteStore);
impl_node_store!(crate::postgres::PgStore);
