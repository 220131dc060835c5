//! Buckets and object records on PostgreSQL.

use async_trait::async_trait;
use reelflow_model::object::ObjectRecord;
use sqlx::PgConnection;

use super::PgStore;
use crate::rows::{self, crc_to_sql, origin_str, pairs_to_json};
use crate::{CatalogStore, NewRun, StoreError, StoreResult};

#[async_trait]
impl CatalogStore for PgStore {
    async fn create_bucket(&self, name: &str, now: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO buckets (name, created) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn bucket_exists(&self, name: &str) -> StoreResult<bool> {
        let row = sqlx::query("SELECT 1 FROM buckets WHERE name = $1")
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
        // Object writes do not lock their bucket's row (every upload into a bucket would
        // contend on it), so unlike on SQLite an upload committing while its empty bucket is
        // deleted can leave an object in a bucket that no longer exists.
        let mut tx = self.pool.begin().await?;
        let has_objects = sqlx::query("SELECT 1 FROM objects WHERE bucket = $1 LIMIT 1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        if has_objects.is_some() {
            return Err(StoreError::BucketNotEmpty(name.to_owned()));
        }
        let done = sqlx::query("DELETE FROM buckets WHERE name = $1")
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
        sqlx::query("SELECT * FROM objects WHERE bucket = $1 AND key = $2")
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
        // starts_with() compares exactly; LIKE would treat % and _ in the prefix as wildcards.
        let rows = sqlx::query(
            "SELECT * FROM objects WHERE bucket = $1 AND starts_with(key, $2) AND key > $3 \
             ORDER BY key LIMIT $4",
        )
        .bind(bucket)
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
        let mut tx = self.pool.begin().await?;
        let replaced = upsert_object(&mut tx, record).await?;
        self.insert_runs(&mut tx, runs).await?;
        tx.commit().await?;
        Ok(replaced)
    }

    async fn delete_object(&self, bucket: &str, key: &str) -> StoreResult<Option<ObjectRecord>> {
        sqlx::query("DELETE FROM objects WHERE bucket = $1 AND key = $2 RETURNING *")
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
/// the record it replaced, unless that is the same blob. The replaced row is read under its row
/// lock, so of two concurrent writers of one key each hands back a different blob.
pub(super) async fn upsert_object(
    conn: &mut PgConnection,
    record: &ObjectRecord,
) -> StoreResult<Option<String>> {
    loop {
        let old: Option<String> = sqlx::query_scalar(
            "SELECT blob_id FROM objects WHERE bucket = $1 AND key = $2 FOR UPDATE",
        )
        .bind(&record.bucket)
        .bind(&record.key)
        .fetch_optional(&mut *conn)
        .await?;
        let sql = if old.is_some() {
            "UPDATE objects SET blob_id = $3, size = $4, etag = $5, content_type = $6, \
             last_modified_ms = $7, user_meta = $8, origin = $9, crc64 = $10 \
             WHERE bucket = $1 AND key = $2"
        } else {
            // Another writer may insert the key first: then nothing happens here and the loop
            // replaces its row instead.
            "INSERT INTO objects (bucket, key, blob_id, size, etag, content_type, \
             last_modified_ms, user_meta, origin, crc64) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING"
        };
        let done = sqlx::query(sql)
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
        if done.rows_affected() == 1 {
            return Ok(old.filter(|old| *old != record.blob_id));
        }
    }
}
