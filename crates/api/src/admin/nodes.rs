//! `GET /nodes`: every reelflow process sharing the database, with its role, version, last
//! heartbeat, liveness, the tasks and callback messages it holds, and its counters.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use reelflow_model::clock::now_ms;
use reelflow_model::node::NodeState;
use reelflow_store::NodeRecord;
use serde_json::{Value, json};

use super::AdminError;
use super::views::{json, time};
use crate::state::AppState;

/// `{"nodes": [...]}`, by node id.
pub(crate) async fn list(State(state): State<AppState>) -> Result<Response, AdminError> {
    let now = now_ms();
    let nodes: Vec<Value> = state
        .store
        .list_nodes()
        .await?
        .iter()
        .map(|n| node(n, now))
        .collect();
    Ok(json(StatusCode::OK, &json!({ "nodes": nodes })))
}

fn node(n: &NodeRecord, now: i64) -> Value {
    let state = NodeState::at(now, n.heartbeat_ms, n.stopped_ms);
    json!({
        "id": n.info.id,
        "role": n.info.role.as_str(),
        "state": state.as_str(),
        "version": n.info.version,
        "hostname": n.info.hostname,
        "pid": n.info.pid,
        "listen": n.info.listen,
        "workers": n.info.workers,
        "started_at": time(n.started_ms),
        "last_heartbeat_at": time(n.heartbeat_ms),
        "heartbeat_age_ms": (now - n.heartbeat_ms).max(0),
        "stopped_at": n.stopped_ms.map(time),
        "tasks_held": n.tasks_held,
        "callbacks_held": n.callbacks_held,
        "metrics": n.metrics,
    })
}

/// A per-node gauge: name, kind, help, and its value for a node at a time (Unix ms).
type Gauge = (
    &'static str,
    &'static str,
    &'static str,
    fn(&NodeRecord, i64) -> String,
);

/// Per-node series in the Prometheus text format, appended to `/metrics`: liveness, what
/// each node holds, and its task and callback counters (from its last heartbeat).
pub(crate) async fn metrics_text(state: &AppState) -> Result<String, AdminError> {
    use std::fmt::Write as _;
    let now = now_ms();
    let nodes = state.store.list_nodes().await?;
    let mut out = String::new();
    let families: [Gauge; 4] = [
        (
            "reelflow_node_up",
            "gauge",
            "1 while the node heartbeats, 0 once lost or stopped.",
            |n, now| {
                u8::from(NodeState::at(now, n.heartbeat_ms, n.stopped_ms) == NodeState::Alive)
                    .to_string()
            },
        ),
        (
            "reelflow_node_heartbeat_age_seconds",
            "gauge",
            "Seconds since the node's last heartbeat.",
            |n, now| format!("{:.3}", (now - n.heartbeat_ms).max(0) as f64 / 1000.0),
        ),
        (
            "reelflow_node_tasks_held",
            "gauge",
            "Running tasks leased to the node.",
            |n, _| n.tasks_held.to_string(),
        ),
        (
            "reelflow_node_callbacks_held",
            "gauge",
            "Callback messages leased to the node.",
            |n, _| n.callbacks_held.to_string(),
        ),
    ];
    for (name, kind, help, value) in families {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for n in &nodes {
            let _ = writeln!(out, "{name}{{{}}} {}", labels(n), value(n, now));
        }
    }
    let _ = writeln!(
        out,
        "# HELP reelflow_node_tasks_total Tasks by what the node did with them, since its start.\n\
         # TYPE reelflow_node_tasks_total counter"
    );
    for n in &nodes {
        let m = &n.metrics;
        for (event, count) in [
            ("claimed", m.tasks_claimed),
            ("succeeded", m.tasks_succeeded),
            ("failed", m.tasks_failed),
            ("retried", m.tasks_retried),
            ("lease_lost", m.leases_lost),
        ] {
            let _ = writeln!(
                out,
                "reelflow_node_tasks_total{{{},event=\"{event}\"}} {count}",
                labels(n)
            );
        }
    }
    Ok(out)
}

fn labels(n: &NodeRecord) -> String {
    format!(
        "node=\"{}\",role=\"{}\"",
        escape(&n.info.id),
        n.info.role.as_str()
    )
}

/// Label values escape `\`, `"` and newlines (Prometheus text format 0.0.4).
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
