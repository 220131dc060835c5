//! Per-destination lanes: the claimed messages of one endpoint, at most `limit` of them in
//! flight at once.
//!
//! Claimed messages wait here instead of in the database so that a receiver's keep-alive
//! connections are reused by a steady stream of requests. A lane whose backlog reaches another
//! `limit` messages is *saturated*: the dispatcher leaves that endpoint's further messages in
//! the outbox, so one slow receiver cannot fill the node's queue and starve the others.

use std::collections::{HashMap, VecDeque};

use reelflow_store::CallbackMessage;

#[derive(Debug, Default)]
struct Lane {
    queue: VecDeque<CallbackMessage>,
    in_flight: usize,
}

/// Every lane of this node.
#[derive(Debug)]
pub(crate) struct Lanes {
    lanes: HashMap<String, Lane>,
    limit: usize,
    held: usize,
}

impl Lanes {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            lanes: HashMap::new(),
            limit: limit.max(1),
            held: 0,
        }
    }

    /// Messages claimed and not yet finished.
    pub(crate) fn held(&self) -> usize {
        self.held
    }

    /// Adds a claimed message; returns it back when its lane has a free slot (start it now).
    pub(crate) fn push(
        &mut self,
        endpoint: &str,
        message: CallbackMessage,
    ) -> Option<CallbackMessage> {
        self.held += 1;
        let lane = self.lanes.entry(endpoint.to_owned()).or_default();
        if lane.in_flight < self.limit {
            lane.in_flight += 1;
            Some(message)
        } else {
            lane.queue.push_back(message);
            None
        }
    }

    /// A message of `endpoint` finished; returns the next one to send in its slot (unless the
    /// node is stopping: queued messages then stay claimed and are released by the caller), and
    /// whether the lane just stopped being saturated.
    pub(crate) fn finish(
        &mut self,
        endpoint: &str,
        stopping: bool,
    ) -> (Option<CallbackMessage>, bool) {
        self.held = self.held.saturating_sub(1);
        let Some(lane) = self.lanes.get_mut(endpoint) else {
            return (None, false);
        };
        let next = if stopping {
            None
        } else {
            lane.queue.pop_front()
        };
        let unsaturated = next.is_some() && lane.queue.len() + 1 == self.limit;
        if next.is_none() {
            lane.in_flight = lane.in_flight.saturating_sub(1);
            if lane.in_flight == 0 && lane.queue.is_empty() {
                self.lanes.remove(endpoint);
            }
        }
        (next, unsaturated)
    }

    /// Endpoints with a full backlog.
    pub(crate) fn saturated(&self) -> Vec<String> {
        self.lanes
            .iter()
            .filter(|(_, lane)| lane.queue.len() >= self.limit)
            .map(|(endpoint, _)| endpoint.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use reelflow_store::{
        AttemptTrigger, CallbackKind, CallbackMessage, CallbackOrigin, CallbackState,
    };

    use super::*;

    fn message(id: &str) -> CallbackMessage {
        CallbackMessage {
            id: id.into(),
            origin: CallbackOrigin {
                kind: CallbackKind::WorkflowFinish,
                run_id: "r".into(),
                job_id: None,
                bucket: "b".into(),
                workflow_id: "w".into(),
            },
            url: "http://h/".into(),
            endpoint: "http://h".into(),
            content_type: "application/xml".into(),
            body: String::new(),
            state: CallbackState::Sending,
            attempts: 0,
            round: 1,
            round_attempts: 0,
            trigger: AttemptTrigger::Scheduled,
            next_attempt_ms: 0,
            created_ms: 0,
            last_attempt_ms: None,
            last_status: None,
            last_error: String::new(),
            delivered_ms: None,
        }
    }

    #[test]
    fn limits_in_flight_per_endpoint_and_hands_over_slots() {
        let mut lanes = Lanes::new(1);
        assert!(lanes.push("a", message("1")).is_some());
        assert!(lanes.push("a", message("2")).is_none(), "slot taken");
        assert!(lanes.push("b", message("3")).is_some(), "another endpoint");
        assert_eq!(lanes.saturated(), ["a"]);
        assert_eq!(lanes.held(), 3);
        let (next, unsaturated) = lanes.finish("a", false);
        assert_eq!(next.map(|m| m.id), Some("2".into()));
        assert!(unsaturated, "the backlog dropped below the limit");
        assert!(lanes.finish("a", false).0.is_none());
        assert!(lanes.finish("b", false).0.is_none());
        assert_eq!(lanes.held(), 0);
        assert!(lanes.lanes.is_empty());
        lanes.push("a", message("4"));
        lanes.push("a", message("5"));
        assert!(
            lanes.finish("a", true).0.is_none(),
            "stopping: the queue is left alone"
        );
    }
}
