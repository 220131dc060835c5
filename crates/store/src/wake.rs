//! Wake-ups across processes sharing one database.
//!
//! Work appears in the store: tasks become claimable (an upload started a run, a task's end
//! submitted its successors, a lease expired, a queue resumed) and callback messages become due
//! (enqueued, released, redelivered). The process that caused it wakes its own workers directly;
//! other processes find it by polling, or sooner through [`WakeStore::wake_signals`] where the
//! backend has a cross-process signal (PostgreSQL `LISTEN`/`NOTIFY`). Signals can be lost (a
//! dropped listening connection), so they only shorten the poll, never replace it.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::Notify;

use crate::StoreResult;

/// Signals raised when any process sharing the database made work ready. Each is an
/// `Arc<Notify>` on which `notify_one` is called, so one waiter per signal sees every wake-up
/// (a wake-up while nobody waits is kept for the next wait).
#[derive(Debug, Clone, Default)]
pub struct WakeSignals {
    /// Tasks may have become claimable.
    pub tasks: Arc<Notify>,
    /// Callback messages may have become due.
    pub callbacks: Arc<Notify>,
}

/// Cross-process wake-ups.
#[async_trait]
pub trait WakeStore: Send + Sync {
    /// Starts listening (once; later calls return the same signals), or `None` when the backend
    /// has no cross-process signal: SQLite is used by one process, which wakes itself.
    async fn wake_signals(&self) -> StoreResult<Option<WakeSignals>>;
}
