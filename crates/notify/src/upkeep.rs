//! Duties besides sending: the recorder that writes attempt results in batches, the lease
//! heartbeat, and the sweeper for stuck or overdue deliveries.
//!
//! The sweeper exists because a queue with leases has two ways to stall that no single
//! component notices (Convoy's recurring bugs, `delivery-anchors.md` A.3): a node that died
//! holding leases, and messages whose due time passed without anyone waking up for them.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use reelflow_store::{AttemptLog, AttemptVerdict};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::dispatch::{Shared, millis};
use crate::now_ms;

/// Finished attempts are written once this many wait, or when the oldest has waited
/// [`FLUSH_DELAY`]: fewer, larger writes leave the write lock to the producers of messages.
/// The delay only postpones bookkeeping, never a delivery.
const FLUSH_BATCH: usize = 256;
const FLUSH_DELAY: Duration = Duration::from_millis(20);

/// Writes finished attempts in batches until `stop`, then writes what is left and returns.
/// After a batch with retries it wakes the dispatcher, which reads when the next one is due.
pub(crate) async fn record_loop(
    shared: Arc<Shared>,
    mut results: mpsc::UnboundedReceiver<AttemptLog>,
    stop: CancellationToken,
) {
    let mut batch: Vec<AttemptLog> = Vec::new();
    let mut flush_at = tokio::time::Instant::now();
    loop {
        tokio::select! {
            got = results.recv() => match got {
                Some(attempt) => {
                    if batch.is_empty() {
                        flush_at = tokio::time::Instant::now() + FLUSH_DELAY;
                    }
                    batch.push(attempt);
                    if batch.len() < FLUSH_BATCH {
                        continue;
                    }
                }
                None => break,
            },
            () = tokio::time::sleep_until(flush_at), if !batch.is_empty() => {}
            () = stop.cancelled() => break,
        }
        write(&shared, &mut batch).await;
    }
    while let Ok(attempt) = results.try_recv() {
        batch.push(attempt);
    }
    write(&shared, &mut batch).await;
}

async fn write(shared: &Shared, batch: &mut Vec<AttemptLog>) {
    if batch.is_empty() {
        return;
    }
    record(shared, batch).await;
    if batch
        .iter()
        .any(|a| matches!(a.verdict, AttemptVerdict::Retry { .. }))
    {
        shared.wake.notify_one();
    }
    batch.clear();
}

/// Records a batch of finished attempts, retrying a failed write with backoff.
async fn record(shared: &Shared, batch: &[AttemptLog]) {
    let mut delay = Duration::from_millis(100);
    for tries in 1.. {
        match shared
            .store
            .record_callback_attempts(&shared.config.node_id, batch)
            .await
        {
            Ok(()) => return,
            Err(error) if tries < 30 => {
                tracing::error!(
                    ?error,
                    attempts = batch.len(),
                    "could not record callback attempts; retrying"
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(error) => {
                // The messages stay leased to us; the next start (or the sweeper of another
                // node, once the lease expires) sends them again.
                tracing::error!(
                    ?error,
                    attempts = batch.len(),
                    "dropping unrecordable callback attempts"
                );
                return;
            }
        }
    }
}

/// Renews this node's leases and sweeps, until `shutdown`.
pub(crate) async fn maintain(shared: Arc<Shared>, shutdown: CancellationToken) {
    let mut heartbeat = tokio::time::interval(shared.config.lease / 3);
    let mut sweep = tokio::time::interval(shared.config.sweep_interval);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = heartbeat.tick() => renew(&shared).await,
            _ = sweep.tick() => sweep_once(&shared).await,
            () = shutdown.cancelled() => return,
        }
    }
}

async fn renew(shared: &Shared) {
    let until = now_ms() + millis(shared.config.lease);
    if let Err(error) = shared
        .store
        .renew_callback_leases(&shared.config.node_id, until)
        .await
    {
        tracing::error!(?error, "could not renew callback leases");
    }
}

/// Requeues deliveries whose lease expired (a node died mid-attempt) and wakes the dispatcher
/// for messages that are overdue.
pub(crate) async fn sweep_once(shared: &Shared) {
    let now = now_ms();
    match shared.store.requeue_callbacks(now, None).await {
        Ok(0) => {}
        Ok(n) => {
            tracing::warn!(
                messages = n,
                "requeued callbacks whose delivery lease expired"
            );
            shared.wake.notify_one();
        }
        Err(error) => tracing::error!(?error, "could not sweep callback leases"),
    }
    let overdue_by = match shared.store.next_callback_due(&[]).await {
        Ok(Some(due)) => now - due,
        Ok(None) => return,
        Err(error) => {
            tracing::error!(?error, "could not read the next callback due time");
            return;
        }
    };
    if overdue_by > millis(shared.config.sweep_interval) {
        let idle = shared.lanes().held() == 0 && !shared.stopping.load(Ordering::Acquire);
        if idle {
            tracing::warn!(
                overdue_by_ms = overdue_by,
                "callbacks overdue while idle; waking the dispatcher"
            );
        }
        shared.wake.notify_one();
    }
}
