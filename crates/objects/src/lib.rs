//! Blob storage for object bodies: streamed, crash-safe writes; ranged reads.
//!
//! Object *metadata* (bucket, key, Content-Type, `x-cos-meta-*`, ETag) lives
//! in the database. This crate stores only the bodies, as **immutable blobs**
//! named by an opaque id that the store generates. Overwriting an object
//! means writing a new blob and pointing the metadata row at it, so a reader
//! never sees a half-written body and a crash never corrupts an old one.
//!
//! # Design
//!
//! * [`BlobStore`] is the backend seam, shaped like `object_store`: bodies
//!   go in and come out as [`ByteStream`]s and are never buffered whole, so
//!   multi-gigabyte videos cost a constant amount of memory. Code that runs
//!   ffmpeg asks [`BlobStore::local_path`] first and falls back to
//!   [`BlobStore::download_to`].
//! * [`LocalBlobStore`] keeps blobs on a local filesystem and writes them the
//!   way garage writes blocks: temporary file, fsync, rename into place,
//!   fsync of the directory, and a guard that deletes the temporary file if
//!   anything fails or the writing future is dropped.
//! * [`S3BlobStore`] keeps them in any S3-compatible bucket (through the
//!   `object_store` crate): single `PUT`s or streamed multipart uploads, each
//!   visible only once complete, ranged `GET`s, and composites as manifest
//!   objects in the same format. Both backends pass one conformance suite
//!   (`tests/conformance`).
//! * Ids are validated ([`validate_id`]) before they touch a path, so a
//!   hostile id cannot escape the store's root.
//! * The MD5 (the COS ETag) and the CRC-64 (`x-cos-hash-crc64ecma`) are
//!   computed while streaming, in the same pass that writes the file.
//! * A **composite** blob ([`BlobStore::compose`]) is the concatenation of
//!   existing blobs, recorded as a small manifest instead of copied bytes, so
//!   completing a multi-gigabyte multipart upload takes milliseconds. Its
//!   ETag is the S3 multipart form and its CRC is combined from the parts'.

mod composite;
mod crc;
mod error;
mod guard;
mod id;
mod local;
pub mod range;
mod s3;
mod write;

use std::path::{Path, PathBuf};

pub use composite::PartRef;
pub use crc::crc64;
pub use error::BlobError;
pub use id::{is_composite_id, new_blob_id, new_composite_id, validate_id};
pub use local::LocalBlobStore;
pub use s3::{PART_SIZE, PARTS_IN_FLIGHT, S3BlobStore, S3Config};

/// A stream of body chunks, as produced by HTTP bodies and file readers.
pub type ByteStream = futures::stream::BoxStream<'static, std::io::Result<bytes::Bytes>>;

/// What a successful write produced: the new blob's id and the facts the
/// object API needs for its metadata row and response (`ETag`, size, CRC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobWritten {
    /// The generated blob id (32 lowercase hex digits; `m` + 32 for a
    /// composite).
    pub id: String,
    /// Bytes written (for a composite: the sum of its parts).
    pub size: u64,
    /// The ETag, unquoted. For a written blob, the lowercase hex MD5 of the
    /// content; for a composite, the S3 multipart form `<hex>-<N>`, the MD5 of
    /// the concatenated binary part MD5s and the part count.
    pub md5_hex: String,
    /// CRC-64/XZ of the content, the value of `x-cos-hash-crc64ecma`.
    pub crc64: u64,
}

/// Storage for immutable blobs.
///
/// Implementations must be safe to share between tasks (`Arc<dyn BlobStore>`)
/// and must never expose a partially written blob under its id.
#[async_trait::async_trait]
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    /// Streams `body` into a new blob without buffering it whole.
    ///
    /// Writes are crash-safe: nothing is visible under the new id until the
    /// content is durable, and a failed or cancelled write leaves nothing
    /// behind. With `max_size`, a body longer than the limit is refused with
    /// [`BlobError::TooLarge`] as soon as it crosses the limit.
    async fn put_stream(
        &self,
        body: ByteStream,
        max_size: Option<u64>,
    ) -> Result<BlobWritten, BlobError>;

    /// Copies a local file (e.g. an ffmpeg output) into a new blob, with the
    /// same guarantees as [`BlobStore::put_stream`].
    async fn put_file(&self, path: &Path) -> Result<BlobWritten, BlobError>;

    /// Reads a blob, or with `range = Some((start, end))` the bytes
    /// `start..=end` (inclusive, like an HTTP `Range` header).
    ///
    /// An `end` past the last byte is clamped to it; a `start` past the last
    /// byte, or `start > end`, is [`BlobError::InvalidRange`].
    async fn get(&self, id: &str, range: Option<(u64, u64)>) -> Result<ByteStream, BlobError>;

    /// The blob's size in bytes.
    async fn size(&self, id: &str) -> Result<u64, BlobError>;

    /// A local filesystem path where the blob can be read in place (ffmpeg
    /// reads it directly), when the backend has one; `None` otherwise, for an
    /// invalid id, or for a composite. The path is computed, not checked for
    /// existence.
    fn local_path(&self, id: &str) -> Option<PathBuf>;

    /// Copies the blob to `dest`, creating or truncating it. Used to give
    /// ffmpeg a local file when [`BlobStore::local_path`] is `None`.
    async fn download_to(&self, id: &str, dest: &Path) -> Result<(), BlobError>;

    /// Deletes a blob. Deleting a missing blob succeeds, so retries and
    /// garbage collection are idempotent.
    ///
    /// Deleting a composite deletes its parts too (a part belongs to exactly
    /// one composite), then its manifest; an interrupted delete can be
    /// repeated.
    async fn delete(&self, id: &str) -> Result<(), BlobError>;

    /// Creates a new composite blob whose content is the concatenation of
    /// `parts` (plain blobs, in order), without copying their bytes.
    ///
    /// The result's `size` is the sum, `crc64` is combined from the parts'
    /// CRCs and `md5_hex` is the S3 multipart ETag `<hex>-<N>`; all three are
    /// computed from the [`PartRef`]s, whose sizes are checked against the
    /// stored parts. Like a write, the composite is durable before this
    /// returns and invisible if it fails.
    ///
    /// Compose only *references* the parts: until a catalog row points at the
    /// composite, the parts still belong to whoever wrote them (e.g. an
    /// unfinished multipart upload, which a crash leaves completable). To drop
    /// a composite that was never committed, use
    /// [`BlobStore::forget_composite`], not [`BlobStore::delete`].
    async fn compose(&self, parts: &[PartRef]) -> Result<BlobWritten, BlobError>;

    /// Deletes a composite's manifest but **not** its parts: undoes a
    /// [`BlobStore::compose`] whose catalog commit failed (or lost a race
    /// to another completion that now owns the parts). Idempotent;
    /// [`BlobError::InvalidComposite`] for a plain blob id.
    async fn forget_composite(&self, id: &str) -> Result<(), BlobError>;
}

/// The first `len` bytes of blob `id` (all of it when it is shorter; nothing for an empty
/// blob of `size` 0): what a content check reads before a tool opens the blob. One ranged
/// read; the stream is dropped as soon as `len` bytes arrived.
pub async fn read_prefix(
    store: &dyn BlobStore,
    id: &str,
    size: u64,
    len: u64,
) -> Result<Vec<u8>, BlobError> {
    use futures::StreamExt;
    if size == 0 || len == 0 {
        return Ok(Vec::new());
    }
    let mut stream = store.get(id, Some((0, len - 1))).await?;
    let mut head = Vec::with_capacity(len.min(size) as usize);
    while let Some(chunk) = stream.next().await {
        head.extend_from_slice(&chunk.map_err(BlobError::io("read the start of a blob", id))?);
        if head.len() as u64 >= len {
            head.truncate(len as usize);
            break;
        }
    }
    Ok(head)
}
