//! The dispatcher: the one loop that talks to the outbox for delivery. It writes finished
//! attempts and claims due messages, and hands claimed messages to per-destination lanes
//! ([`crate::deliver`]).
//!
//! Both outbox writes of the hot path happen in this single task, one after the other, so the
//! notifier never competes with itself for SQLite's write lock (a writer that finds it busy
//! backs off for milliseconds), and each write carries as much as has piled up: a claim leases
//! up to `claim_batch` messages with one `UPDATE`, a flush records every attempt that finished
//! in the last few milliseconds with one `INSERT`. The loop sleeps until new work is announced
//! (`wake`), a lane or the node's capacity frees up (`freed`), an attempt finishes, or the
//! next retry falls due.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use reelflow_store::{AttemptLog, AttemptVerdict, ClaimRequest, Store};
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::lanes::Lanes;
use crate::metrics::Metrics;
use crate::secrets::SecretBook;
use crate::{NotifierConfig, now_ms, upkeep};

/// State shared by the dispatcher, the lane tasks and the upkeep task.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) client: reqwest::Client,
    pub(crate) config: NotifierConfig,
    pub(crate) secrets: Arc<SecretBook>,
    pub(crate) metrics: Arc<Metrics>,
    /// New or newly due work (engine, API, sweeper).
    pub(crate) wake: Arc<Notify>,
    /// A saturated lane drained, or the node's capacity came back.
    pub(crate) freed: Notify,
    pub(crate) lanes: Mutex<Lanes>,
    /// Bounds requests in flight over all endpoints.
    pub(crate) requests: Semaphore,
    /// Finished attempts, on their way to the dispatcher's next flush.
    pub(crate) results: mpsc::UnboundedSender<AttemptLog>,
    pub(crate) tracker: TaskTracker,
    pub(crate) stopping: AtomicBool,
    /// The dispatcher found no room and waits for half of it to come back.
    pub(crate) want_capacity: AtomicBool,
}

/// Finished attempts are recorded once this many wait, or when the oldest has waited
/// [`FLUSH_DELAY`]: fewer, larger writes leave the write lock to the producers of messages.
/// The delay only postpones bookkeeping, never a delivery.
const FLUSH_BATCH: usize = 128;
const FLUSH_DELAY: Duration = Duration::from_millis(5);

/// Least time between two claims that found less than a full batch: under a steady stream of
/// wake-ups, one claim picks up everything that ended within it instead of one claim per
/// message, halving the notifier's writes at a cost of at most this much latency.
const CLAIM_GAP: Duration = Duration::from_millis(2);

/// What one claim round found.
struct ClaimRound {
    /// The batch was full: more may be due right now.
    full: bool,
    /// The node holds all the messages it may.
    no_room: bool,
    /// Saturated endpoints, left out of the claim.
    skipped: Vec<String>,
    /// The next due time outside `skipped`, when the round already read it.
    next_due: Option<Option<i64>>,
}

impl Shared {
    /// Runs until `shutdown`; finished attempts arrive on `results`.
    pub(crate) async fn dispatch(
        self: &Arc<Self>,
        shutdown: &CancellationToken,
        results: &mut mpsc::UnboundedReceiver<AttemptLog>,
    ) {
        let mut finished = Vec::new();
        let mut flush_at = Instant::now();
        let mut claim_now = true;
        let mut deadline = Instant::now();
        let mut last_claim = Instant::now() - CLAIM_GAP;
        // The wake-ups live across iterations: a `Notified` that consumed a notification and
        // was dropped unpolled (another branch won) would lose it.
        let wake = self.wake.notified();
        let freed = self.freed.notified();
        tokio::pin!(wake, freed);
        wake.as_mut().enable();
        freed.as_mut().enable();
        loop {
            let flush_due = finished.len() >= FLUSH_BATCH || Instant::now() >= flush_at;
            if !finished.is_empty()
                && flush_due
                && let Some(retry_at) = self.flush(results, &mut finished).await
            {
                deadline = deadline.min(retry_at);
            }
            let claim_ready = last_claim + CLAIM_GAP;
            if claim_now && Instant::now() < claim_ready {
                deadline = deadline.min(claim_ready);
            } else if claim_now && !shutdown.is_cancelled() {
                let round = self.claim_round().await;
                last_claim = Instant::now();
                if round.full && !round.no_room {
                    last_claim -= CLAIM_GAP;
                    tokio::task::yield_now().await;
                    continue;
                }
                let wait = match (round.no_room, round.next_due) {
                    (true, _) => self.config.poll_interval,
                    (false, Some(next_due)) => self.wait_for(next_due),
                    (false, None) => self.idle_wait(&round.skipped).await,
                };
                deadline = Instant::now() + wait;
                claim_now = false;
            }
            tokio::select! {
                () = &mut wake => {
                    claim_now = true;
                    wake.set(self.wake.notified());
                    wake.as_mut().enable();
                }
                () = &mut freed => {
                    claim_now = true;
                    freed.set(self.freed.notified());
                    freed.as_mut().enable();
                }
                () = tokio::time::sleep_until(deadline) => claim_now = true,
                () = tokio::time::sleep_until(flush_at), if !finished.is_empty() => {}
                () = shutdown.cancelled() => break,
                got = results.recv() => {
                    if finished.is_empty() {
                        flush_at = Instant::now() + FLUSH_DELAY;
                    }
                    finished.extend(got);
                }
            }
        }
        self.flush(results, &mut finished).await;
    }

    /// Records every finished attempt that is waiting; returns when the earliest retry among
    /// them falls due.
    pub(crate) async fn flush(
        &self,
        results: &mut mpsc::UnboundedReceiver<AttemptLog>,
        finished: &mut Vec<AttemptLog>,
    ) -> Option<Instant> {
        while let Ok(attempt) = results.try_recv() {
            finished.push(attempt);
        }
        if finished.is_empty() {
            return None;
        }
        let earliest = finished
            .iter()
            .filter_map(|a| match a.verdict {
                AttemptVerdict::Retry { at_ms } => Some(at_ms),
                _ => None,
            })
            .min();
        upkeep::record(self, finished).await;
        finished.clear();
        earliest.map(|at| Instant::now() + Duration::from_millis((at - now_ms()).max(0) as u64))
    }

    async fn claim_round(self: &Arc<Self>) -> ClaimRound {
        let (room, skipped) = {
            let lanes = self.lanes();
            let room = self.config.max_held.saturating_sub(lanes.held());
            (room, lanes.saturated())
        };
        if room == 0 {
            self.want_capacity.store(true, Ordering::Release);
            return ClaimRound {
                full: false,
                no_room: true,
                skipped,
                next_due: None,
            };
        }
        let now = now_ms();
        if !skipped.is_empty() {
            // With a saturated endpoint's backlog in the outbox, finding the other due messages
            // is a scan: do it as a read, outside the write lock, and claim only when it pays.
            match self.store.next_callback_due(&skipped).await {
                Ok(Some(due)) if due <= now => {}
                Ok(next_due) => {
                    return ClaimRound {
                        full: false,
                        no_room: false,
                        skipped,
                        next_due: Some(next_due),
                    };
                }
                Err(error) => tracing::error!(?error, "could not read the next callback due time"),
            }
        }
        let limit = u32::try_from(room)
            .unwrap_or(u32::MAX)
            .min(self.config.claim_batch);
        let claim = ClaimRequest {
            owner: self.config.node_id.clone(),
            now_ms: now,
            lease_until_ms: now + millis(self.config.lease),
            limit,
            skip_endpoints: skipped.clone(),
        };
        let full = match self.store.claim_callbacks(&claim).await {
            Ok(batch) => {
                let full = batch.len() == limit as usize;
                for message in batch {
                    self.admit(message);
                }
                full
            }
            Err(error) => {
                tracing::error!(?error, "could not claim callbacks; retrying shortly");
                tokio::time::sleep(Duration::from_millis(500)).await;
                false
            }
        };
        ClaimRound {
            full,
            no_room: false,
            skipped,
            next_due: None,
        }
    }

    async fn idle_wait(&self, skipped: &[String]) -> Duration {
        match self.store.next_callback_due(skipped).await {
            Ok(next_due) => self.wait_for(next_due),
            Err(error) => {
                tracing::error!(?error, "could not read the next callback due time");
                self.config.poll_interval
            }
        }
    }

    /// How long to sleep until `next_due`, at most the poll interval.
    fn wait_for(&self, next_due: Option<i64>) -> Duration {
        let poll = self.config.poll_interval;
        next_due.map_or(poll, |due| {
            Duration::from_millis((due - now_ms()).max(0) as u64).min(poll)
        })
    }

    pub(crate) fn lanes(&self) -> MutexGuard<'_, Lanes> {
        self.lanes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub(crate) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
