//! SQLite implementation of the store, for the single-machine default.
//!
//! WAL journal, `synchronous=FULL` (an accepted upload or run must survive power loss), a busy
//! timeout so concurrent writers queue instead of failing, and `BEGIN IMMEDIATE` for every
//! read-modify-write transaction so two workers finishing sibling tasks serialize on the run.
//! One writer at a time is also what makes the rules the PostgreSQL backend enforces with row
//! locks hold here; both are checked by the conformance suite (`tests/conformance`).

mod batch;
mod catalog;
mod definitions;
mod jobs;
mod multipart;
mod outbox;
mod queues;
mod runs;
mod stats;
mod subtasks;
mod tx;

pub(crate) use stats::schema_status;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::{StoreResult, WakeSignals, WakeStore};

/// The SQLite-backed store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and applies migrations.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true);
        Self::with_options(options, 8).await
    }

    /// An in-memory database (tests).
    pub async fn in_memory() -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true);
        // One connection: each in-memory connection would otherwise be its own database.
        Self::with_options(options, 1).await
    }

    async fn with_options(options: SqliteConnectOptions, max: u32) -> StoreResult<Self> {
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Self { pool })
    }
}

/// One process uses a SQLite database; its engine and notifier wake themselves.
#[async_trait]
impl WakeStore for SqliteStore {
    async fn wake_signals(&self) -> StoreResult<Option<WakeSignals>> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests;
