//! Per-bucket signing secrets.

use sqlx::SqlitePool;
use sqlx::sqlite::SqliteRow;

use crate::StoreResult;
use crate::callbacks::BucketSecret;

fn secret(row: &SqliteRow) -> StoreResult<BucketSecret> {
    crate::rows::outbox::secret(row)
}

pub(super) async fn get(pool: &SqlitePool, bucket: &str) -> StoreResult<Option<BucketSecret>> {
    let row = sqlx::query("SELECT * FROM callback_secrets WHERE bucket = ?")
        .bind(bucket)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(secret).transpose()
}

pub(super) async fn init(
    pool: &SqlitePool,
    bucket: &str,
    value: &str,
    now_ms: i64,
) -> StoreResult<BucketSecret> {
    sqlx::query(
        "INSERT OR IGNORE INTO callback_secrets (bucket, secret, updated_ms) VALUES (?, ?, ?)",
    )
    .bind(bucket)
    .bind(value)
    .bind(now_ms)
    .execute(pool)
    .await?;
    let row = sqlx::query("SELECT * FROM callback_secrets WHERE bucket = ?")
        .bind(bucket)
        .fetch_one(pool)
        .await?;
    secret(&row)
}

pub(super) async fn rotate(
    pool: &SqlitePool,
    bucket: &str,
    value: &str,
    previous: Option<&str>,
    previous_until_ms: i64,
    now_ms: i64,
) -> StoreResult<BucketSecret> {
    let row = sqlx::query(
        "INSERT INTO callback_secrets (bucket, secret, previous, previous_until_ms, updated_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (bucket) DO UPDATE SET secret = ?2, \
         previous = ?3, previous_until_ms = ?4, updated_ms = ?5 RETURNING *",
    )
    .bind(bucket)
    .bind(value)
    .bind(previous)
    .bind(previous.map(|_| previous_until_ms))
    .bind(now_ms)
    .fetch_one(pool)
    .await?;
    secret(&row)
}
