//! The multipart upload catalog: initiated uploads and their parts, until the upload is
//! completed (turned into an object record, atomically) or aborted.
//!
//! Part *bodies* are blobs in the blob store; this catalog owns the references. Whoever gets
//! blob ids back from a call here ([`MultipartStore::put_part`], [`MultipartStore::abort_upload`],
//! [`MultipartStore::complete_upload`]) deletes those blobs after the call succeeded, so a crash
//! can leak a blob but never lose one that a row still names.

use std::collections::BTreeMap;

use async_trait::async_trait;
use reelflow_model::object::ObjectRecord;

use crate::{NewRun, StoreError, StoreResult};

/// An initiated, not yet completed or aborted, multipart upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipartUpload {
    /// The UploadId (e.g. [`reelflow_model::object::new_upload_id`]); unique across buckets.
    pub upload_id: String,
    /// Bucket.
    pub bucket: String,
    /// Key of the object the upload will create.
    pub key: String,
    /// Content-Type sent with Initiate, given to the object.
    pub content_type: String,
    /// `x-cos-meta-*` headers sent with Initiate (lower-cased names, in order), given to the
    /// object.
    pub user_meta: Vec<(String, String)>,
    /// Unix milliseconds of Initiate.
    pub initiated_ms: i64,
}

/// The latest upload of one part number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadPart {
    /// 1–10000 (the caller enforces the range).
    pub part_number: u32,
    /// Blob holding the part's body.
    pub blob_id: String,
    /// Bytes.
    pub size: u64,
    /// Lowercase hex MD5 of the body (the part's ETag, unquoted).
    pub md5_hex: String,
    /// CRC-64/XZ of the body.
    pub crc64: u64,
    /// Unix milliseconds of the upload.
    pub last_modified_ms: i64,
}

/// What [`MultipartStore::complete_upload`] left for the caller to delete.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompletedUpload {
    /// Blob of the object the completion replaced (as [`crate::CatalogStore::put_object`]).
    pub replaced_blob: Option<String>,
    /// Blobs of uploaded parts the completion did not use (S3 discards them).
    pub unused_part_blobs: Vec<String>,
}

/// The multipart upload catalog.
///
/// Calls naming an upload that does not exist (never created, completed or aborted) fail with
/// [`crate::StoreError::NoSuchUpload`], except [`MultipartStore::get_upload`], which answers
/// `None`.
#[async_trait]
pub trait MultipartStore: Send + Sync {
    /// Records an initiated upload.
    async fn create_upload(&self, upload: &MultipartUpload) -> StoreResult<()>;

    /// The upload, if it exists and belongs to `bucket`/`key`.
    async fn get_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> StoreResult<Option<MultipartUpload>>;

    /// Records a part. A part number uploaded before is overwritten, and the blob id of the part
    /// it replaced is returned for the caller to delete.
    async fn put_part(&self, upload_id: &str, part: &UploadPart) -> StoreResult<Option<String>>;

    /// Parts with a number greater than `after_part_number` (0 = from the first), ascending, at
    /// most `limit`.
    async fn list_parts(
        &self,
        upload_id: &str,
        after_part_number: u32,
        limit: u32,
    ) -> StoreResult<Vec<UploadPart>>;

    /// A bucket's uploads whose key starts with `prefix`, in (key, upload_id) byte order, at
    /// most `limit`, after the markers as S3 defines them: with `upload_id_marker` empty, keys
    /// after `key_marker`; otherwise also the uploads of key `key_marker` after
    /// `upload_id_marker`. An `upload_id_marker` without a `key_marker` is ignored.
    ///
    /// Delimiter grouping (CommonPrefixes) is left to the caller, as for
    /// [`crate::CatalogStore::list_objects`].
    async fn list_uploads(
        &self,
        bucket: &str,
        prefix: &str,
        key_marker: &str,
        upload_id_marker: &str,
        limit: u32,
    ) -> StoreResult<Vec<MultipartUpload>>;

    /// Deletes the upload and its parts; returns every part's blob id for the caller to delete.
    async fn abort_upload(&self, upload_id: &str) -> StoreResult<Vec<String>>;

    /// Completes an upload in one transaction:
    ///
    /// 1. checks that the upload still exists for `record.bucket`/`record.key`
    ///    ([`crate::StoreError::NoSuchUpload`] otherwise: it was completed or aborted meanwhile);
    /// 2. checks that every part in `parts` is still the stored upload of its number (same blob
    ///    id), so a part re-uploaded since the caller listed them fails the completion
    ///    ([`crate::StoreError::InvalidPart`]) instead of committing a deleted blob;
    /// 3. writes `record` exactly as [`crate::CatalogStore::put_object`] does and creates `runs`;
    /// 4. deletes the upload and all its part rows.
    ///
    /// So a completion triggers its workflows exactly once, and a crash leaves either the old
    /// object and the upload, or the new object.
    async fn complete_upload(
        &self,
        upload_id: &str,
        parts: &[UploadPart],
        record: &ObjectRecord,
        runs: &[NewRun],
    ) -> StoreResult<CompletedUpload>;

    /// Uploads initiated before `older_than_ms` (Unix milliseconds), oldest first, at most
    /// `limit`: what a reclaimer aborts after a configured age.
    async fn stale_uploads(
        &self,
        older_than_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<MultipartUpload>>;
}

/// Step 2 of [`MultipartStore::complete_upload`], the same on every backend: given the upload's
/// stored parts (number → blob id), checks that each completed part is still the stored upload of
/// its number, and returns the stored blobs the completion does not use (never the object's
/// own blob).
pub(crate) fn check_completion(
    upload_id: &str,
    mut stored: BTreeMap<u32, String>,
    parts: &[UploadPart],
    object_blob: &str,
) -> StoreResult<Vec<String>> {
    for part in parts {
        if stored.remove(&part.part_number).as_deref() != Some(part.blob_id.as_str()) {
            return Err(StoreError::InvalidPart {
                upload_id: upload_id.to_owned(),
                part_number: part.part_number,
            });
        }
    }
    Ok(stored
        .into_values()
        .filter(|blob| blob != object_blob)
        .collect())
}
