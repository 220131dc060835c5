//! The processes of a deployment ("nodes"): their role and the counters each reports with its
//! heartbeat, as listed by `GET /_reelflow/v1/nodes`.

use serde::{Deserialize, Serialize};

/// What a process does (`reelflow serve --role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeRole {
    /// The HTTP API and the task workers.
    #[default]
    All,
    /// The HTTP API only.
    Api,
    /// Task workers only.
    Worker,
}

impl NodeRole {
    /// `all`, `api` or `worker`, as on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeRole::All => "all",
            NodeRole::Api => "api",
            NodeRole::Worker => "worker",
        }
    }

    /// Parses [`NodeRole::as_str`]'s spelling (any case).
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "all" => Some(NodeRole::All),
            "api" => Some(NodeRole::Api),
            "worker" => Some(NodeRole::Worker),
            _ => None,
        }
    }
}

/// Counters a node reports with each heartbeat, totals since the process started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeMetrics {
    /// Tasks claimed (a fused group counts each of its tasks).
    pub tasks_claimed: u64,
    /// Tasks this node finished with Success.
    pub tasks_succeeded: u64,
    /// Tasks this node finished with Failed (after their last attempt).
    pub tasks_failed: u64,
    /// Tasks this node put back for a later attempt after a transient failure.
    pub tasks_retried: u64,
    /// Tasks whose lease this node lost (another node took them over); their result was refused.
    pub leases_lost: u64,
    /// ffmpeg runs that served several tasks at once.
    pub fused_runs: u64,
    /// Callback messages this node delivered.
    pub callbacks_delivered: u64,
    /// Callback attempts this node made that failed.
    pub callback_failures: u64,
}

/// How often a node reports itself, in milliseconds.
pub const HEARTBEAT_EVERY_MS: u64 = 5_000;

/// A node's liveness as seen from its registry row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeState {
    /// Heartbeat seen within the last three intervals.
    Alive,
    /// Silent for three heartbeat intervals or more without a graceful stop (killed, hung or
    /// cut off); its leases expire and other nodes take its work over.
    Lost,
    /// Stopped gracefully.
    Stopped,
}

impl NodeState {
    /// The state at `now_ms` of a node last heard of at `heartbeat_ms`.
    pub fn at(now_ms: i64, heartbeat_ms: i64, stopped_ms: Option<i64>) -> Self {
        if stopped_ms.is_some() {
            NodeState::Stopped
        } else if now_ms.saturating_sub(heartbeat_ms) >= 3 * HEARTBEAT_EVERY_MS as i64 {
            NodeState::Lost
        } else {
            NodeState::Alive
        }
    }

    /// `Alive`, `Lost` or `Stopped`.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeState::Alive => "Alive",
            NodeState::Lost => "Lost",
            NodeState::Stopped => "Stopped",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_metrics_tolerate_missing_fields() {
        for role in [NodeRole::All, NodeRole::Api, NodeRole::Worker] {
            assert_eq!(NodeRole::parse(role.as_str()), Some(role));
        }
        assert_eq!(NodeRole::parse("WORKER"), Some(NodeRole::Worker));
        assert_eq!(NodeRole::parse("boss"), None);
        let old: NodeMetrics = serde_json::from_str(r#"{"tasks_claimed":4}"#).unwrap();
        assert_eq!(old.tasks_claimed, 4);
        assert_eq!(old.callbacks_delivered, 0);
    }

    #[test]
    fn a_node_is_lost_after_three_silent_intervals() {
        assert_eq!(NodeState::at(14_999, 0, None), NodeState::Alive);
        assert_eq!(NodeState::at(15_000, 0, None), NodeState::Lost);
        assert_eq!(NodeState::at(99_000, 0, Some(1)), NodeState::Stopped);
    }
}
