//! Buckets and object records.

use async_trait::async_trait;
use reelflow_model::object::ObjectRecord;
use sqlx::SqliteConnection;

use super::SqliteStore;
use super::runs::insert_run;
use crate::rows::{self, crc_to_sql, origin_str, pairs_to_json};
use crate::{CatalogStore, NewRun, StoreError, StoreResult};

#[async_trait]
impl CatalogStore for SqliteStore {
    async fn create_bucket(&self, name: &str, now: i64) -> StoreResult<bool> {
        let done = sqlx::query("INSERT OR IGNORE INTO buckets (name, created) VALUES (?, ?)")
            .bind(name)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn bucket_exists(&self, name: &str) -> StoreResult<bool> {
        let row = sqlx::query("SELECT 1 FROM buckets WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    async fn list_buckets(&self) -> StoreResult<Vec<(String, i64)>> {
        let buckets = sqlx::query_as("SELECT name, created FROM buckets ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        Ok(buckets)
    }

    async fn delete_bucket(&self, name: &str) -> StoreResult<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let has_objects = sqlx::query("SELECT 1 FROM objects WHERE bucket = ? LIMIT 1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        if has_objects.is_some() {
            return Err(StoreError::BucketNotEmpty(name.to_owned()));
        }
        let done = sqlx::query("DELETE FROM buckets WHERE name = ?")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NoSuchBucket(name.to_owned()));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn get_object(&self, bucket: &str, key: &str) -> StoreResult<Option<ObjectRecord>> {
        sqlx::query("SELECT * FROM objects WHERE bucket = ? AND key = ?")
            .bind(bucket)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(rows::object)
            .transpose()
    }

    async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        after: &str,
        limit: u32,
    ) -> StoreResult<Vec<ObjectRecord>> {
        // substr() compares bytes exactly; LIKE would treat % and _ in the prefix as wildcards.
        let rows = sqlx::query(
            "SELECT * FROM objects WHERE bucket = ? AND substr(key, 1, length(?)) = ? AND key > ? \
             ORDER BY key LIMIT ?",
        )
        .bind(bucket)
        .bind(prefix)
        .bind(prefix)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rows::object).collect()
    }

    async fn put_object(
        &self,
        record: &ObjectRecord,
        runs: &[NewRun],
    ) -> StoreResult<Option<String>> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let replaced = upsert_object(&mut tx, record).await?;
        for run in runs {
            insert_run(&mut tx, run).await?;
        }
        tx.commit().await?;
        Ok(replaced)
    }

    async fn delete_object(&self, bucket: &str, key: &str) -> StoreResult<Option<ObjectRecord>> {
        sqlx::query("DELETE FROM objects WHERE bucket = ? AND key = ? RETURNING *")
            .bind(bucket)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(rows::object)
            .transpose()
    }
}

/// Inserts or replaces an object record inside the caller's transaction; returns the blob id of
/// the record it replaced, unless that is the same blob.
pub(crate) async fn upsert_object(
    conn: &mut SqliteConnection,
    record: &ObjectRecord,
) -> StoreResult<Option<String>> {
    let replaced: Option<String> =
        sqlx::query_scalar("SELECT blob_id FROM objects WHERE bucket = ? AND key = ?")
            .bind(&record.bucket)
            .bind(&record.key)
            .fetch_optional(&mut *conn)
            .await?;
    sqlx::query(
        "INSERT OR REPLACE INTO objects (bucket, key, blob_id, size, etag, content_type, \
         last_modified_ms, user_meta, origin, crc64) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&record.bucket)
    .bind(&record.key)
    .bind(&record.blob_id)
    .bind(record.size as i64)
    .bind(&record.etag)
    .bind(&record.content_type)
    .bind(record.last_modified_ms)
    .bind(pairs_to_json(&record.user_meta))
    .bind(origin_str(record.origin))
    .bind(record.crc64.map(crc_to_sql))
    .execute(&mut *conn)
    .await?;
    Ok(replaced.filter(|old| *old != record.blob_id))
}
