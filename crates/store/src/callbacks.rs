//! The callback outbox: types and the [`CallbackStore`] trait.
//!
//! A callback message is written in the same transaction that makes its subject terminal (the
//! run for `WorkflowFinish`, the task for `TaskFinish`), so a crash can never lose one. From
//! then on it moves through a small state machine, every step a store call:
//!
//! ```text
//!            claim (lease)            attempt ok
//! Pending ─────────────────▶ Sending ───────────▶ Delivered
//!    ▲                          │ attempt failed,        │
//!    │   retry due / released   │ retries left           │ redeliver / recover
//!    └──────────────────────────┘                        │ (a new round)
//!    ▲                          │ last attempt failed    │
//!    │                          ▼                        │
//!    └──────────────────── Exhausted ◀───────────────────┘
//! ```
//!
//! A claim is a lease held by one delivery node (`lease_owner`, `lease_until_ms`); the node
//! renews all its leases with one heartbeat statement, and a sweeper returns expired leases to
//! `Pending`, so a node that dies mid-attempt delays its messages but never loses them. A
//! message written by a node's own task-finish transaction is *born* leased to that node, so
//! its notifier finds it with a read; everything else (retries, redeliveries, other nodes'
//! leftovers) is claimed from `Pending`. Every
//! attempt is appended to an attempt log, and an attempt's outcome and the message's next state
//! are written together, so the log and the message never disagree.
//!
//! Per-bucket signing secrets live here too, because the notifier, the API and the CLI of every
//! node must agree on them.

use async_trait::async_trait;

use crate::StoreResult;

/// Which event a message reports. The body shape is the producer's business; the kind lets
/// operators filter and lets the outbox hold one message per run *and* one per task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallbackKind {
    /// A workflow instance ended (`<Response><WorkflowExecution>`).
    WorkflowFinish,
    /// One task of an instance ended (`<Response><JobsDetail>`).
    TaskFinish,
    /// A batch (inventory trigger job) ended (`<Response><EventName>InventoryTriggerJobFinish`
    /// `</EventName><JobsDetail>` with the batch's detail); `run_id` is the batch id.
    BatchFinish,
}

impl CallbackKind {
    /// The CI event name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackKind::WorkflowFinish => "WorkflowFinish",
            CallbackKind::TaskFinish => "TaskFinish",
            CallbackKind::BatchFinish => "InventoryTriggerJobFinish",
        }
    }

    /// Parses an event name (case-insensitive).
    pub fn parse(text: &str) -> Option<Self> {
        [
            CallbackKind::WorkflowFinish,
            CallbackKind::TaskFinish,
            CallbackKind::BatchFinish,
        ]
        .into_iter()
        .find(|k| k.as_str().eq_ignore_ascii_case(text))
    }
}

/// Where a message is in its life; see the module docs for the transitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallbackState {
    /// Waiting for its next attempt (`next_attempt_ms`).
    Pending,
    /// Claimed by a delivery node; an attempt is queued or in flight.
    Sending,
    /// A receiver answered 2xx. Never sent again except by an explicit redeliver.
    Delivered,
    /// Every attempt of the current round failed, or the failure was permanent.
    Exhausted,
}

impl CallbackState {
    /// Every state, for metrics.
    pub const ALL: [CallbackState; 4] = [
        CallbackState::Pending,
        CallbackState::Sending,
        CallbackState::Delivered,
        CallbackState::Exhausted,
    ];

    /// Stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackState::Pending => "Pending",
            CallbackState::Sending => "Sending",
            CallbackState::Delivered => "Delivered",
            CallbackState::Exhausted => "Exhausted",
        }
    }

    /// Parses a state name (case-insensitive).
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text))
    }
}

/// Why an attempt was made: by the retry schedule, or by an operator (redeliver, recover).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptTrigger {
    /// First attempt or a scheduled retry.
    Scheduled,
    /// The first attempt of a round started by redeliver or recover.
    Manual,
}

impl AttemptTrigger {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptTrigger::Scheduled => "Scheduled",
            AttemptTrigger::Manual => "Manual",
        }
    }

    /// Parses a stored name; unknown text reads as `Scheduled`.
    pub fn parse(text: &str) -> Self {
        if text.eq_ignore_ascii_case("Manual") {
            AttemptTrigger::Manual
        } else {
            AttemptTrigger::Scheduled
        }
    }
}

/// A callback message to enqueue, as the engine builds it.
#[derive(Debug, Clone)]
pub struct NewCallback {
    /// Stable message id: the `webhook-id` of every attempt, and the de-duplication key.
    pub id: String,
    /// Destination URL.
    pub url: String,
    /// `application/xml` or `application/json`.
    pub content_type: String,
    /// Exact body, sent byte for byte on every attempt.
    pub body: String,
}

/// What a message reports on: kept beside it for listing, recovery and per-bucket signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackOrigin {
    /// Event.
    pub kind: CallbackKind,
    /// Instance.
    pub run_id: String,
    /// Task, for `TaskFinish`.
    pub job_id: Option<String>,
    /// Bucket (selects the signing secret).
    pub bucket: String,
    /// Workflow.
    pub workflow_id: String,
}

/// A message in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackMessage {
    /// Stable id (`webhook-id`).
    pub id: String,
    /// Event and subject.
    pub origin: CallbackOrigin,
    /// Destination.
    pub url: String,
    /// The per-destination limit key ([`endpoint_of`] of `url`).
    pub endpoint: String,
    /// Content type.
    pub content_type: String,
    /// Body.
    pub body: String,
    /// Current state.
    pub state: CallbackState,
    /// Attempts made, all rounds.
    pub attempts: u32,
    /// Delivery round: 1, plus one per redeliver or recover.
    pub round: u32,
    /// Attempts made in the current round (drives the retry schedule).
    pub round_attempts: u32,
    /// Trigger of the next attempt.
    pub trigger: AttemptTrigger,
    /// When the next attempt is due (Unix ms).
    pub next_attempt_ms: i64,
    /// When the message was enqueued (Unix ms).
    pub created_ms: i64,
    /// When the last attempt started (Unix ms).
    pub last_attempt_ms: Option<i64>,
    /// HTTP status of the last attempt, when a response arrived.
    pub last_status: Option<u16>,
    /// Last failure, empty after a success.
    pub last_error: String,
    /// When it was delivered (Unix ms).
    pub delivered_ms: Option<i64>,
}

/// What happens to a message after an attempt, decided by the notifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptVerdict {
    /// The receiver answered 2xx.
    Delivered,
    /// Failed; try again at this time (Unix ms).
    Retry {
        /// Next attempt.
        at_ms: i64,
    },
    /// Failed, and no attempt is left in this round (or the failure is permanent).
    Exhausted,
}

/// One delivery attempt, as logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptLog {
    /// Message.
    pub message_id: String,
    /// 1-based attempt number over all rounds.
    pub number: u32,
    /// Round it belongs to.
    pub round: u32,
    /// Scheduled or manual.
    pub trigger: AttemptTrigger,
    /// Start (Unix ms).
    pub started_ms: i64,
    /// Duration (ms).
    pub duration_ms: i64,
    /// URL posted to.
    pub url: String,
    /// HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// Stable error kind (`http_status`, `timeout`, `ssrf_refused`, …), `None` on success.
    pub error_kind: Option<String>,
    /// Human-readable failure, empty on success.
    pub error: String,
    /// The first 20 KB of the response body (lossy UTF-8).
    pub response_body: String,
    /// The verdict recorded with it.
    pub verdict: AttemptVerdict,
}

/// A claim of due messages for one delivery node.
#[derive(Debug, Clone)]
pub struct ClaimRequest {
    /// Lease owner (the node id).
    pub owner: String,
    /// Messages due at or before this time (Unix ms) are eligible.
    pub now_ms: i64,
    /// Lease expiry (Unix ms).
    pub lease_until_ms: i64,
    /// At most this many.
    pub limit: u32,
    /// Endpoints this node is already saturated on: their messages stay in the outbox, so a
    /// slow receiver cannot fill the node's queue and starve the others.
    pub skip_endpoints: Vec<String>,
}

/// Filters for listing messages; every filter optional.
#[derive(Debug, Clone, Default)]
pub struct CallbackQuery {
    /// Bucket.
    pub bucket: Option<String>,
    /// Workflow.
    pub workflow_id: Option<String>,
    /// Instance.
    pub run_id: Option<String>,
    /// State.
    pub state: Option<CallbackState>,
    /// Event.
    pub kind: Option<CallbackKind>,
    /// Created at or after (Unix ms).
    pub created_from_ms: Option<i64>,
    /// Created before (Unix ms).
    pub created_to_ms: Option<i64>,
    /// Resume after this message id (newest first).
    pub after_id: Option<String>,
    /// Page size.
    pub limit: u32,
}

/// Which failed messages to recover.
#[derive(Debug, Clone, Default)]
pub struct RecoverFilter {
    /// Created at or after (Unix ms).
    pub since_ms: i64,
    /// Created before (Unix ms); `None` means now.
    pub until_ms: Option<i64>,
    /// Only this bucket.
    pub bucket: Option<String>,
    /// Only this workflow.
    pub workflow_id: Option<String>,
}

/// Outbox gauges for metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallbackStats {
    /// Messages per state, in [`CallbackState::ALL`] order.
    pub by_state: [u64; 4],
    /// Creation time of the oldest message not yet delivered nor exhausted (Unix ms).
    pub oldest_pending_ms: Option<i64>,
}

/// A bucket's signing secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketSecret {
    /// Bucket.
    pub bucket: String,
    /// Current `whsec_…` secret.
    pub secret: String,
    /// The secret it replaced, still signed with until `previous_until_ms`.
    pub previous: Option<String>,
    /// End of the rotation grace period (Unix ms).
    pub previous_until_ms: Option<i64>,
    /// Last change (Unix ms).
    pub updated_ms: i64,
}

/// How long a message born leased stays leased without its node's heartbeat.
pub const BIRTH_LEASE_MS: i64 = 60_000;

/// The per-destination key: `scheme://host[:port]`, lower-cased, without user info. Messages
/// with the same key share connections and the in-flight limit.
pub fn endpoint_of(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    format!(
        "{}://{}",
        scheme.to_ascii_lowercase(),
        host.to_ascii_lowercase()
    )
}

/// The callback outbox and per-bucket signing secrets.
#[async_trait]
pub trait CallbackStore: Send + Sync {
    /// Enqueues a message outside a run-ending transaction; false when the id already exists.
    /// With `leased_to`, the message is born leased to that delivery node (see
    /// [`CallbackStore::read_leased_callbacks`]).
    async fn enqueue_callback(
        &self,
        origin: &CallbackOrigin,
        message: &NewCallback,
        now_ms: i64,
        leased_to: Option<&str>,
    ) -> StoreResult<bool>;
    /// Messages born leased to `owner` (the node whose transaction ended their subject), in
    /// commit order after position `after_seq`, with their positions. The node's notifier picks
    /// them up with this read instead of a claiming write, so a message committed by this node
    /// reaches the wire without waiting for the database's write lock.
    async fn read_leased_callbacks(
        &self,
        owner: &str,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<(i64, CallbackMessage)>>;
    /// Leases due `Pending` messages to `claim.owner`, oldest due first.
    async fn claim_callbacks(&self, claim: &ClaimRequest) -> StoreResult<Vec<CallbackMessage>>;
    /// Extends every lease `owner` holds; the node's heartbeat.
    async fn renew_callback_leases(&self, owner: &str, lease_until_ms: i64) -> StoreResult<u64>;
    /// Records attempts and applies their verdicts in one transaction. A verdict is applied
    /// only while `owner` still holds the message; the attempt is logged regardless.
    async fn record_callback_attempts(
        &self,
        owner: &str,
        attempts: &[AttemptLog],
    ) -> StoreResult<()>;
    /// Returns `Sending` messages to `Pending` when their lease expired before `now_ms`, or
    /// when `owner` held them (a restart of that node, or its orderly stop).
    async fn requeue_callbacks(&self, now_ms: i64, owner: Option<&str>) -> StoreResult<u64>;
    /// The earliest due time of a `Pending` message outside `skip_endpoints`.
    async fn next_callback_due(&self, skip_endpoints: &[String]) -> StoreResult<Option<i64>>;
    /// One message.
    async fn get_callback(&self, id: &str) -> StoreResult<Option<CallbackMessage>>;
    /// Messages matching `query`, newest first.
    async fn list_callbacks(&self, query: &CallbackQuery) -> StoreResult<Vec<CallbackMessage>>;
    /// Messages of one run, oldest first.
    async fn callbacks_for_run(&self, run_id: &str) -> StoreResult<Vec<CallbackMessage>>;
    /// A message's attempt log, oldest first.
    async fn callback_attempts(&self, id: &str) -> StoreResult<Vec<AttemptLog>>;
    /// Starts a new delivery round for one message, due at `now_ms`, unless an attempt is in
    /// flight. `None` when there is no such message; the message unchanged when in flight.
    async fn redeliver_callback(
        &self,
        id: &str,
        now_ms: i64,
    ) -> StoreResult<Option<CallbackMessage>>;
    /// Starts a new round for every `Exhausted` message matching `filter`; returns their ids.
    async fn recover_callbacks(
        &self,
        filter: &RecoverFilter,
        now_ms: i64,
    ) -> StoreResult<Vec<String>>;
    /// Gauges.
    async fn callback_stats(&self) -> StoreResult<CallbackStats>;
    /// A bucket's secrets, if it has its own.
    async fn bucket_secret(&self, bucket: &str) -> StoreResult<Option<BucketSecret>>;
    /// Stores `secret` for a bucket that has none yet and returns what is stored (the first
    /// writer wins, so concurrent first deliveries agree on one generated secret).
    async fn init_bucket_secret(
        &self,
        bucket: &str,
        secret: &str,
        now_ms: i64,
    ) -> StoreResult<BucketSecret>;
    /// Makes `secret` current and keeps `previous` valid until `previous_until_ms`.
    async fn rotate_bucket_secret(
        &self,
        bucket: &str,
        secret: &str,
        previous: Option<&str>,
        previous_until_ms: i64,
        now_ms: i64,
    ) -> StoreResult<BucketSecret>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_group_by_scheme_host_and_port() {
        assert_eq!(
            endpoint_of("http://User:pw@Example.com:8080/a?b#c"),
            "http://example.com:8080"
        );
        assert_eq!(endpoint_of("https://[::1]/x"), "https://[::1]");
        assert_eq!(endpoint_of("HTTP://h"), "http://h");
        assert_eq!(
            CallbackState::parse("exhausted"),
            Some(CallbackState::Exhausted)
        );
        assert_eq!(
            CallbackKind::parse("taskfinish"),
            Some(CallbackKind::TaskFinish)
        );
    }
}
