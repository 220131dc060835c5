//! The dispatcher: the one loop that finds work for delivery. It takes the messages born
//! leased to this node, claims other due messages, and hands them to per-destination lanes
//! ([`crate::deliver`]); finished attempts go to the recorder ([`crate::upkeep`]).
//!
//! The hot path avoids SQLite's write lock, because a writer that finds it busy backs off for
//! milliseconds: a message written by this node's own task-finish transaction is born leased to
//! the node and is picked up with a *read* when the engine wakes us; due messages (retries,
//! redeliveries, other nodes' leftovers) are found with a read probe and claimed with one
//! `UPDATE` per batch only when something is due. The recorder writes attempts in batches in
//! its own task, so a write waiting for the lock never delays picking up new messages. The
//! loop sleeps until new work is announced (`wake`), a lane or the node's capacity frees up
//! (`freed`), or the next retry falls due.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use reelflow_store::{AttemptLog, ClaimRequest, Store};
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::lanes::Lanes;
use crate::metrics::Metrics;
use crate::secrets::SecretBook;
use crate::{NotifierConfig, now_ms};

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
    /// Finished attempts, on their way to the recorder.
    pub(crate) results: mpsc::UnboundedSender<AttemptLog>,
    pub(crate) tracker: TaskTracker,
    pub(crate) stopping: AtomicBool,
    /// The dispatcher found no room and waits for half of it to come back.
    pub(crate) want_capacity: AtomicBool,
}

/// Least time between two claims that found less than a full batch: under a steady stream of
/// wake-ups, one claim picks up everything that ended within it instead of one claim per
/// message, halving the notifier's writes at a cost of at most this much latency.
const CLAIM_GAP: Duration = Duration::from_millis(2);

/// The dispatcher's loop state.
struct Pace {
    /// Look for messages born leased to this node.
    scan_now: bool,
    /// Look for due messages to claim.
    claim_now: bool,
    /// Next timed look (a retry falls due, or the poll interval).
    deadline: Instant,
    last_claim: Instant,
    /// Position of the last born-leased message taken.
    cursor: i64,
}

impl Pace {
    fn new() -> Self {
        let now = Instant::now();
        Self {
            scan_now: true,
            claim_now: true,
            deadline: now,
            last_claim: now - CLAIM_GAP,
            cursor: 0,
        }
    }
}

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
    /// Runs until `shutdown`.
    pub(crate) async fn dispatch(self: &Arc<Self>, shutdown: &CancellationToken) {
        let mut pace = Pace::new();
        // The wake-ups live across iterations: a `Notified` that consumed a notification and
        // was dropped unpolled (another branch won) would lose it.
        let wake = self.wake.notified();
        let freed = self.freed.notified();
        tokio::pin!(wake, freed);
        wake.as_mut().enable();
        freed.as_mut().enable();
        while !shutdown.is_cancelled() {
            if self.step(&mut pace).await {
                tokio::task::yield_now().await;
                continue;
            }
            tokio::select! {
                () = &mut wake => {
                    (pace.scan_now, pace.claim_now) = (true, true);
                    wake.set(self.wake.notified());
                    wake.as_mut().enable();
                }
                () = &mut freed => {
                    (pace.scan_now, pace.claim_now) = (true, true);
                    freed.set(self.freed.notified());
                    freed.as_mut().enable();
                }
                () = tokio::time::sleep_until(pace.deadline) => {
                    (pace.scan_now, pace.claim_now) = (true, true);
                }
                () = shutdown.cancelled() => {}
            }
        }
    }

    /// Picks up work: messages born leased to this node (a read), then due messages (a read
    /// probe, and a claiming write only when something is due). True when a batch came back
    /// full, so more may be waiting right now.
    async fn step(self: &Arc<Self>, pace: &mut Pace) -> bool {
        if pace.scan_now {
            let (read, limit) = self.take_leased(&mut pace.cursor).await;
            if read == limit && limit > 0 {
                return true;
            }
            pace.scan_now = false;
        }
        if !pace.claim_now {
            return false;
        }
        let claim_ready = pace.last_claim + CLAIM_GAP;
        if Instant::now() < claim_ready {
            pace.deadline = pace.deadline.min(claim_ready);
            return false;
        }
        let round = self.claim_round().await;
        pace.last_claim = Instant::now();
        if round.full && !round.no_room {
            pace.last_claim -= CLAIM_GAP;
            return true;
        }
        let wait = match (round.no_room, round.next_due) {
            (true, _) => self.config.poll_interval,
            (false, Some(next_due)) => self.wait_for(next_due),
            (false, None) => self.idle_wait(&round.skipped).await,
        };
        pace.deadline = Instant::now() + wait;
        pace.claim_now = false;
        false
    }

    /// Admits messages born leased to this node, after `cursor`; returns (read, asked).
    async fn take_leased(self: &Arc<Self>, cursor: &mut i64) -> (usize, usize) {
        let room = self
            .config
            .max_held
            .saturating_sub(self.lanes().held())
            .min(self.config.claim_batch as usize);
        if room == 0 {
            self.want_capacity.store(true, Ordering::Release);
            return (0, 0);
        }
        let node = &self.config.node_id;
        match self
            .store
            .read_leased_callbacks(node, *cursor, room as u32)
            .await
        {
            Ok(batch) => {
                let read = batch.len();
                for (seq, message) in batch {
                    *cursor = seq;
                    self.admit(message);
                }
                (read, room)
            }
            Err(error) => {
                tracing::error!(?error, "could not read callbacks leased to this node");
                (0, room)
            }
        }
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
        {
            // Probe with a read, outside the write lock, and claim only when something is due
            // (with a saturated endpoint's backlog in the outbox this is also the costly scan).
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
        let claimed = match self.store.claim_callbacks(&claim).await {
            Ok(batch) => {
                let claimed = batch.len();
                for message in batch {
                    self.admit(message);
                }
                claimed
            }
            Err(error) => {
                tracing::error!(?error, "could not claim callbacks; retrying shortly");
                tokio::time::sleep(Duration::from_millis(500)).await;
                0
            }
        };
        ClaimRound {
            full: claimed == limit as usize,
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
