//! The callback outbox: messages are inserted in the transaction that ends their run, so a crash
//! can never lose one; delivery attempts update them in place.

use sqlx::{SqliteConnection, SqlitePool};

use super::rows;
use crate::{AttemptRecord, CallbackMessage, NewCallback, StoreResult};

pub(crate) async fn insert_callback(
    conn: &mut SqliteConnection,
    run_id: &str,
    bucket: &str,
    message: &NewCallback,
    created_ms: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT OR IGNORE INTO callbacks (id, run_id, bucket, url, content_type, body, state, \
         attempts, next_attempt_ms, created_ms) VALUES (?, ?, ?, ?, ?, ?, 'Pending', 0, ?, ?)",
    )
    .bind(&message.id)
    .bind(run_id)
    .bind(bucket)
    .bind(&message.url)
    .bind(&message.content_type)
    .bind(&message.body)
    .bind(created_ms)
    .bind(created_ms)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) async fn due(
    pool: &SqlitePool,
    now_ms: i64,
    limit: u32,
) -> StoreResult<Vec<CallbackMessage>> {
    let rows = sqlx::query(
        "SELECT * FROM callbacks WHERE state = 'Pending' AND next_attempt_ms <= ? \
         ORDER BY next_attempt_ms, id LIMIT ?",
    )
    .bind(now_ms)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.iter().map(rows::callback).collect()
}

pub(crate) async fn next_due(pool: &SqlitePool) -> StoreResult<Option<i64>> {
    let next: Option<i64> =
        sqlx::query_scalar("SELECT MIN(next_attempt_ms) FROM callbacks WHERE state = 'Pending'")
            .fetch_one(pool)
            .await?;
    Ok(next)
}

pub(crate) async fn record(pool: &SqlitePool, id: &str, record: &AttemptRecord) -> StoreResult<()> {
    match record {
        AttemptRecord::Delivered { at_ms } => {
            sqlx::query(
                "UPDATE callbacks SET state = 'Delivered', attempts = attempts + 1, \
                 delivered_ms = ?, last_error = '' WHERE id = ?",
            )
            .bind(at_ms)
            .bind(id)
            .execute(pool)
            .await?;
        }
        AttemptRecord::Failed { error, next_ms } => {
            sqlx::query(
                "UPDATE callbacks SET state = CASE WHEN ? IS NULL THEN 'Exhausted' ELSE 'Pending' END, \
                 attempts = attempts + 1, last_error = ?, next_attempt_ms = COALESCE(?, next_attempt_ms) \
                 WHERE id = ?",
            )
            .bind(next_ms)
            .bind(error)
            .bind(next_ms)
            .bind(id)
            .execute(pool)
            .await?;
        }
    }
    Ok(())
}

pub(crate) async fn for_run(pool: &SqlitePool, run_id: &str) -> StoreResult<Vec<CallbackMessage>> {
    let rows = sqlx::query("SELECT * FROM callbacks WHERE run_id = ? ORDER BY created_ms, id")
        .bind(run_id)
        .fetch_all(pool)
        .await?;
    rows.iter().map(rows::callback).collect()
}
