//! The dispatcher: claims due messages in batches, hands them to per-destination lanes, and
//! runs each attempt.
//!
//! Flow of one message: `claim_round` leases it (one `UPDATE … RETURNING` for the batch) →
//! [`Lanes::push`] starts it at once or queues it behind its endpoint's in-flight limit → a
//! lane task sends it ([`attempt::send`]), decides the verdict ([`Shared::verdict`]) and passes
//! the attempt to the recorder, which writes results in batches → the task takes the next
//! message of its lane. The dispatcher sleeps until new work is announced (`wake`), a lane or
//! the node's capacity frees up (`freed`), or the next retry falls due.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use reelflow_store::{
    AttemptLog, AttemptVerdict, CallbackMessage, ClaimRequest, Store, endpoint_of,
};
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::attempt::{self, Outcome};
use crate::lanes::Lanes;
use crate::metrics::Metrics;
use crate::secrets::SecretBook;
use crate::{NotifierConfig, now_ms};

/// State shared by the dispatcher, the lane tasks, the recorder and the upkeep task.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) client: reqwest::Client,
    pub(crate) config: NotifierConfig,
    pub(crate) secrets: Arc<SecretBook>,
    pub(crate) metrics: Arc<Metrics>,
    /// New or newly due work (engine, API, recorder, sweeper).
    pub(crate) wake: Arc<Notify>,
    /// A saturated lane drained, or the node's capacity came back.
    pub(crate) freed: Notify,
    pub(crate) lanes: Mutex<Lanes>,
    /// Bounds requests in flight over all endpoints.
    pub(crate) requests: Semaphore,
    pub(crate) results: mpsc::UnboundedSender<AttemptLog>,
    pub(crate) tracker: TaskTracker,
    pub(crate) stopping: AtomicBool,
    /// The dispatcher found no room and waits for half of it to come back.
    pub(crate) want_capacity: AtomicBool,
}

/// What one claim round found.
struct ClaimRound {
    /// The batch was full: more may be due right now.
    full: bool,
    /// The node holds all the messages it may.
    no_room: bool,
    /// Saturated endpoints, left out of the claim.
    skipped: Vec<String>,
}

impl Shared {
    /// Runs until `shutdown`.
    pub(crate) async fn dispatch(self: &Arc<Self>, shutdown: &CancellationToken) {
        while !shutdown.is_cancelled() {
            let wake = self.wake.notified();
            let freed = self.freed.notified();
            tokio::pin!(wake, freed);
            wake.as_mut().enable();
            freed.as_mut().enable();
            let round = self.claim_round().await;
            if round.full && !round.no_room {
                tokio::task::yield_now().await;
                continue;
            }
            let wait = if round.no_room {
                self.config.poll_interval
            } else {
                self.idle_wait(&round.skipped).await
            };
            tokio::select! {
                () = &mut wake => {}
                () = &mut freed => {}
                () = tokio::time::sleep(wait) => {}
                () = shutdown.cancelled() => {}
            }
        }
    }

    async fn claim_round(self: &Arc<Self>) -> ClaimRound {
        let (room, skipped) = {
            let lanes = self.lanes();
            (
                self.config.max_held.saturating_sub(lanes.held()),
                lanes.saturated(),
            )
        };
        if room == 0 {
            self.want_capacity.store(true, Ordering::Release);
            return ClaimRound {
                full: false,
                no_room: true,
                skipped,
            };
        }
        let limit = u32::try_from(room)
            .unwrap_or(u32::MAX)
            .min(self.config.claim_batch);
        let now = now_ms();
        let claim = ClaimRequest {
            owner: self.config.node_id.clone(),
            now_ms: now,
            lease_until_ms: now + millis(self.config.lease),
            limit,
            skip_endpoints: skipped.clone(),
        };
        match self.store.claim_callbacks(&claim).await {
            Ok(batch) => {
                let full = batch.len() as u32 == limit;
                for message in batch {
                    self.admit(message);
                }
                ClaimRound {
                    full,
                    no_room: false,
                    skipped,
                }
            }
            Err(error) => {
                tracing::error!(?error, "could not claim callbacks; retrying shortly");
                tokio::time::sleep(Duration::from_millis(500)).await;
                ClaimRound {
                    full: false,
                    no_room: false,
                    skipped,
                }
            }
        }
    }

    async fn idle_wait(&self, skipped: &[String]) -> Duration {
        let poll = self.config.poll_interval;
        match self.store.next_callback_due(skipped).await {
            Ok(Some(due)) => Duration::from_millis((due - now_ms()).max(0) as u64).min(poll),
            Ok(None) => poll,
            Err(error) => {
                tracing::error!(?error, "could not read the next callback due time");
                poll
            }
        }
    }

    fn admit(self: &Arc<Self>, message: CallbackMessage) {
        let endpoint = endpoint_of(&message.url);
        let start = self.lanes().push(&endpoint, message);
        if let Some(first) = start {
            let shared = self.clone();
            self.tracker
                .spawn(async move { shared.run_lane(endpoint, first).await });
        }
    }

    /// One in-flight slot of a lane: sends messages until the lane's queue is empty.
    async fn run_lane(&self, endpoint: String, first: CallbackMessage) {
        let mut next = Some(first);
        while let Some(message) = next {
            let log = self.deliver(&message).await;
            // The receiver only goes away after every lane task ended.
            let _ = self.results.send(log);
            next = self.finished(&endpoint);
        }
    }

    fn finished(&self, endpoint: &str) -> Option<CallbackMessage> {
        let stopping = self.stopping.load(Ordering::Acquire);
        let (next, unsaturated, held) = {
            let mut lanes = self.lanes();
            let (next, unsaturated) = lanes.finish(endpoint, stopping);
            (next, unsaturated, lanes.held())
        };
        let half_free = held <= self.config.max_held / 2;
        if unsaturated || (half_free && self.want_capacity.swap(false, Ordering::AcqRel)) {
            self.freed.notify_one();
        }
        next
    }

    async fn deliver(&self, message: &CallbackMessage) -> AttemptLog {
        let _permit = self.requests.acquire().await;
        let outcome = match self.secrets.keys(&message.origin.bucket).await {
            Ok(keys) => attempt::send(&self.client, &self.config.policy, message, &keys).await,
            Err(error) => Outcome::internal(&error),
        };
        let verdict = self.verdict(message, &outcome);
        let kind = outcome.failure.as_ref().map(|f| f.kind);
        self.metrics.observe(outcome.duration, kind, verdict);
        log_attempt(message, &outcome, verdict);
        AttemptLog {
            message_id: message.id.clone(),
            number: message.attempts + 1,
            round: message.round,
            trigger: message.trigger,
            started_ms: outcome.started_ms,
            duration_ms: millis(outcome.duration),
            url: message.url.clone(),
            status: outcome.status,
            error_kind: kind.map(|k| k.code().to_owned()),
            error: outcome
                .failure
                .as_ref()
                .map(|f| f.detail.clone())
                .unwrap_or_default(),
            response_body: outcome.body,
            verdict,
        }
    }

    /// Success → Delivered; a permanent failure → Exhausted; otherwise the schedule decides.
    fn verdict(&self, message: &CallbackMessage, outcome: &Outcome) -> AttemptVerdict {
        let Some(failure) = &outcome.failure else {
            return AttemptVerdict::Delivered;
        };
        if failure.permanent {
            return AttemptVerdict::Exhausted;
        }
        let attempt = message.round_attempts + 1;
        match self
            .config
            .schedule
            .next_delay(attempt, failure.hint, jitter())
        {
            Some(delay) => AttemptVerdict::Retry {
                at_ms: now_ms() + millis(delay),
            },
            None => AttemptVerdict::Exhausted,
        }
    }

    pub(crate) fn lanes(&self) -> MutexGuard<'_, Lanes> {
        self.lanes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn log_attempt(message: &CallbackMessage, outcome: &Outcome, verdict: AttemptVerdict) {
    let ms = millis(outcome.duration);
    let Some(failure) = &outcome.failure else {
        tracing::debug!(id = %message.id, url = %message.url, ms, "callback delivered");
        return;
    };
    let (kind, error) = (failure.kind.code(), failure.detail.as_str());
    let attempt = message.attempts + 1;
    match verdict {
        AttemptVerdict::Retry { at_ms } => {
            let retry_in_ms = at_ms - now_ms();
            tracing::warn!(id = %message.id, url = %message.url, attempt, kind, error, retry_in_ms, "callback attempt failed");
        }
        _ => {
            tracing::error!(id = %message.id, url = %message.url, attempt, kind, error, "callback exhausted: no attempt left")
        }
    }
}

/// Uniform in [0, 1).
fn jitter() -> f64 {
    // The top 48 bits of a v4 UUID are random (the version and variant bits come later).
    let bits = (uuid::Uuid::new_v4().as_u128() >> 80) as u64;
    bits as f64 / (1u64 << 48) as f64
}

pub(crate) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
