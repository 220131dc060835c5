//! Multipart uploads and their parts.

use std::collections::BTreeMap;

use async_trait::async_trait;
use reelflow_model::object::ObjectRecord;
use sqlx::SqliteConnection;

use super::SqliteStore;
use super::catalog::upsert_object;
use super::runs::insert_run;
use crate::multipart::check_completion;
use crate::rows::{self, crc_to_sql, pairs_to_json, part_number};
use crate::{
    CompletedUpload, MultipartStore, MultipartUpload, NewRun, StoreError, StoreResult, UploadPart,
};

#[async_trait]
impl MultipartStore for SqliteStore {
    async fn create_upload(&self, upload: &MultipartUpload) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO multipart_uploads (upload_id, bucket, key, content_type, user_meta, \
             initiated_ms) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&upload.upload_id)
        .bind(&upload.bucket)
        .bind(&upload.key)
        .bind(&upload.content_type)
        .bind(pairs_to_json(&upload.user_meta))
        .bind(upload.initiated_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> StoreResult<Option<MultipartUpload>> {
        sqlx::query(
            "SELECT * FROM multipart_uploads WHERE upload_id = ? AND bucket = ? AND key = ?",
        )
        .bind(upload_id)
        .bind(bucket)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(rows::upload)
        .transpose()
    }

    async fn put_part(&self, upload_id: &str, part: &UploadPart) -> StoreResult<Option<String>> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        require_upload(&mut tx, upload_id).await?;
        let replaced: Option<String> = sqlx::query_scalar(
            "SELECT blob_id FROM multipart_parts WHERE upload_id = ? AND part_number = ?",
        )
        .bind(upload_id)
        .bind(i64::from(part.part_number))
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT OR REPLACE INTO multipart_parts (upload_id, part_number, blob_id, size, \
             md5_hex, crc64, last_modified_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(upload_id)
        .bind(i64::from(part.part_number))
        .bind(&part.blob_id)
        .bind(part.size as i64)
        .bind(&part.md5_hex)
        .bind(crc_to_sql(part.crc64))
        .bind(part.last_modified_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(replaced.filter(|old| *old != part.blob_id))
    }

    async fn list_parts(
        &self,
        upload_id: &str,
        after_part_number: u32,
        limit: u32,
    ) -> StoreResult<Vec<UploadPart>> {
        // One read transaction, so "no such upload" and "no parts" cannot be confused.
        let mut tx = self.pool.begin().await?;
        require_upload(&mut tx, upload_id).await?;
        let rows = sqlx::query(
            "SELECT * FROM multipart_parts WHERE upload_id = ? AND part_number > ? \
             ORDER BY part_number LIMIT ?",
        )
        .bind(upload_id)
        .bind(i64::from(after_part_number))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter().map(rows::part).collect()
    }

    async fn list_uploads(
        &self,
        bucket: &str,
        prefix: &str,
        key_marker: &str,
        upload_id_marker: &str,
        limit: u32,
    ) -> StoreResult<Vec<MultipartUpload>> {
        // substr() compares exactly; LIKE would treat % and _ in the prefix as wildcards. An
        // empty key marker makes `key > ?1` true for every (non-empty) key, so the upload-id
        // marker is then ignored.
        let rows = sqlx::query(
            "SELECT * FROM multipart_uploads WHERE bucket = ?3 \
             AND substr(key, 1, length(?4)) = ?4 \
             AND (key > ?1 OR (?2 != '' AND key = ?1 AND upload_id > ?2)) \
             ORDER BY key, upload_id LIMIT ?5",
        )
        .bind(key_marker)
        .bind(upload_id_marker)
        .bind(bucket)
        .bind(prefix)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rows::upload).collect()
    }

    async fn abort_upload(&self, upload_id: &str) -> StoreResult<Vec<String>> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        require_upload(&mut tx, upload_id).await?;
        let blobs = delete_parts(&mut tx, upload_id).await?;
        delete_upload(&mut tx, upload_id).await?;
        tx.commit().await?;
        Ok(blobs.into_values().collect())
    }

    async fn complete_upload(
        &self,
        upload_id: &str,
        parts: &[UploadPart],
        record: &ObjectRecord,
        runs: &[NewRun],
    ) -> StoreResult<CompletedUpload> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let target: Option<(String, String)> =
            sqlx::query_as("SELECT bucket, key FROM multipart_uploads WHERE upload_id = ?")
                .bind(upload_id)
                .fetch_optional(&mut *tx)
                .await?;
        if target != Some((record.bucket.clone(), record.key.clone())) {
            return Err(StoreError::NoSuchUpload(upload_id.to_owned()));
        }
        let stored = delete_parts(&mut tx, upload_id).await?;
        // On InvalidPart, dropping the transaction rolls the deletion back.
        let unused_part_blobs = check_completion(upload_id, stored, parts, &record.blob_id)?;
        delete_upload(&mut tx, upload_id).await?;
        let replaced_blob = upsert_object(&mut tx, record).await?;
        for run in runs {
            insert_run(&mut tx, run).await?;
        }
        tx.commit().await?;
        Ok(CompletedUpload {
            replaced_blob,
            unused_part_blobs,
        })
    }

    async fn stale_uploads(
        &self,
        older_than_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<MultipartUpload>> {
        let rows = sqlx::query(
            "SELECT * FROM multipart_uploads WHERE initiated_ms < ? \
             ORDER BY initiated_ms, upload_id LIMIT ?",
        )
        .bind(older_than_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rows::upload).collect()
    }
}

/// Fails with `NoSuchUpload` unless the upload exists.
async fn require_upload(conn: &mut SqliteConnection, upload_id: &str) -> StoreResult<()> {
    let found = sqlx::query("SELECT 1 FROM multipart_uploads WHERE upload_id = ?")
        .bind(upload_id)
        .fetch_optional(&mut *conn)
        .await?;
    match found {
        Some(_) => Ok(()),
        None => Err(StoreError::NoSuchUpload(upload_id.to_owned())),
    }
}

/// Deletes an upload's part rows; returns their blob ids by part number.
async fn delete_parts(
    conn: &mut SqliteConnection,
    upload_id: &str,
) -> StoreResult<BTreeMap<u32, String>> {
    let deleted: Vec<(i64, String)> = sqlx::query_as(
        "DELETE FROM multipart_parts WHERE upload_id = ? RETURNING part_number, blob_id",
    )
    .bind(upload_id)
    .fetch_all(&mut *conn)
    .await?;
    deleted
        .into_iter()
        .map(|(number, blob)| Ok((part_number(number)?, blob)))
        .collect()
}

async fn delete_upload(conn: &mut SqliteConnection, upload_id: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM multipart_uploads WHERE upload_id = ?")
        .bind(upload_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
