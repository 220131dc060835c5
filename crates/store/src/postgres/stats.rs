//! Monitoring counts (see [`crate::stats`]), and the schema check of `reelflow doctor`.

use std::str::FromStr;

use async_trait::async_trait;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

use super::{PgConfig, PgStore};
use crate::stats::{
    APPLIED_MIGRATIONS, QUEUE_LOAD, QUEUES, RUNS_BY_STATE, SchemaStatus, StatRows, Stats,
    TASKS_BY_STATE,
};
use crate::{StatsStore, StoreResult};

#[async_trait]
impl StatsStore for PgStore {
    async fn stats(&self) -> StoreResult<Stats> {
        // REPEATABLE READ: the four counts see one snapshot.
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut *tx)
            .await?;
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

/// The migrations applied to the database of `config`, over one connection (none applied).
pub(crate) async fn schema_status(config: &PgConfig) -> StoreResult<SchemaStatus> {
    let mut options = PgConnectOptions::from_str(&config.url)?.application_name("reelflow-doctor");
    if let Some(schema) = &config.schema {
        options = options.options([("search_path", schema.as_str())]);
    }
    let mut conn = PgConnection::connect_with(&options).await?;
    let applied: Vec<i64> = sqlx::query_scalar(APPLIED_MIGRATIONS)
        .fetch_all(&mut conn)
        .await?;
    conn.close().await?;
    Ok(SchemaStatus::compare(
        &sqlx::migrate!("./migrations_pg"),
        &applied,
    ))
}
