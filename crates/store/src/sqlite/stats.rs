//! Monitoring counts (see [`crate::stats`]), and the schema check of `reelflow doctor`.

use std::path::Path;

use async_trait::async_trait;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, SqliteConnection};

use super::SqliteStore;
use crate::stats::{
    APPLIED_MIGRATIONS, QUEUE_LOAD, QUEUES, RUNS_BY_STATE, SchemaStatus, StatRows, Stats,
    TASKS_BY_STATE,
};
use crate::{StatsStore, StoreError, StoreResult};

#[async_trait]
impl StatsStore for SqliteStore {
    async fn stats(&self) -> StoreResult<Stats> {
        // One read transaction: the four counts are of the same moment.
        let mut tx = self.pool.begin().await?;
        let rows = StatRows {
            runs: sqlx::query_as(RUNS_BY_STATE).fetch_all(&mut *tx).await?,
            tasks: sqlx::query_as(TASKS_BY_STATE).fetch_all(&mut *tx).await?,
            queues: sqlx::query_as(QUEUES).fetch_all(&mut *tx).await?,
            load: sqlx::query_as(QUEUE_LOAD).fetch_all(&mut *tx).await?,
        };
        tx.commit().await?;
        Ok(Stats::from_rows(rows))
    }
}

/// The migrations applied to the file at `path`, opened read-only (never created).
pub(crate) async fn schema_status(path: &Path) -> StoreResult<SchemaStatus> {
    if !path.exists() {
        return Err(StoreError::InvalidConfig(format!(
            "no database at {} yet",
            path.display()
        )));
    }
    let options = SqliteConnectOptions::new().filename(path).read_only(true);
    let mut conn = SqliteConnection::connect_with(&options).await?;
    let applied: Vec<i64> = sqlx::query_scalar(APPLIED_MIGRATIONS)
        .fetch_all(&mut conn)
        .await?;
    conn.close().await?;
    Ok(SchemaStatus::compare(
        &sqlx::migrate!("./migrations"),
        &applied,
    ))
}
