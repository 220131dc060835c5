//! This process in the node registry (`GET /_reelflow/v1/nodes`): registered at start, a
//! heartbeat with its counters every [`HEARTBEAT_EVERY`], marked stopped after a graceful stop.

use std::sync::Arc;
use std::time::Duration;

use reelflow_engine::Engine;
use reelflow_model::clock::now_ms;
use reelflow_model::node::{HEARTBEAT_EVERY_MS, NodeMetrics, NodeRole};
use reelflow_notify::NotifierHandle;
use reelflow_store::{NodeInfo, Store};
use tokio_util::sync::CancellationToken;

use crate::config::Role;

/// How often a node reports itself. A node silent for three of these is listed as lost.
const HEARTBEAT_EVERY: Duration = Duration::from_millis(HEARTBEAT_EVERY_MS);

/// What this process reports about itself.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    store: Arc<dyn Store>,
    engine: Engine,
    notifier: NotifierHandle,
    info: NodeInfo,
}

impl Node {
    /// Registers the process.
    pub(crate) async fn register(
        store: Arc<dyn Store>,
        engine: Engine,
        notifier: NotifierHandle,
        info: NodeInfo,
    ) -> reelflow_store::StoreResult<Self> {
        store.register_node(&info, now_ms()).await?;
        Ok(Self {
            store,
            engine,
            notifier,
            info,
        })
    }

    fn metrics(&self) -> NodeMetrics {
        let callbacks = self.notifier.metrics();
        NodeMetrics {
            callbacks_delivered: callbacks.delivered(),
            callback_failures: callbacks.failed(),
            ..self.engine.metrics()
        }
    }

    /// Beats until `shutdown`. A failed beat is logged and the next one tried; a node whose
    /// row disappeared registers again.
    pub(crate) fn spawn_heartbeat(&self, shutdown: CancellationToken) {
        let node = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(HEARTBEAT_EVERY) => {}
                    () = shutdown.cancelled() => return,
                }
                match node
                    .store
                    .node_heartbeat(&node.info.id, now_ms(), &node.metrics())
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => {
                        if let Err(error) = node.store.register_node(&node.info, now_ms()).await {
                            tracing::warn!(?error, "could not register this node again");
                        }
                    }
                    Err(error) => tracing::warn!(?error, "node heartbeat failed"),
                }
            }
        });
    }

    /// Records a graceful stop with the final counters.
    pub(crate) async fn stopped(&self) {
        if let Err(error) = self
            .store
            .node_stopped(&self.info.id, now_ms(), &self.metrics())
            .await
        {
            tracing::warn!(?error, "could not record this node's stop");
        }
    }
}

/// This process's description.
pub(crate) fn describe(id: &str, role: Role, listen: String, workers: usize) -> NodeInfo {
    NodeInfo {
        id: id.to_owned(),
        role: match role {
            Role::All => NodeRole::All,
            Role::Api => NodeRole::Api,
            Role::Worker => NodeRole::Worker,
        },
        version: env!("CARGO_PKG_VERSION").to_owned(),
        hostname: hostname(),
        pid: std::process::id(),
        listen,
        workers: if role.runs_tasks() { workers as u32 } else { 0 },
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}
