//! [`S3BlobStore`]: blobs as objects in any S3-compatible store (AWS S3,
//! Tencent COS, MinIO, Ceph RGW, garage, moto…), through the `object_store`
//! crate.
//!
//! Layout under the configured prefix, mirroring [`crate::LocalBlobStore`]:
//!
//! ```text
//! <prefix>/<ab>/<cd>/<id>      committed blobs
//! <prefix>/<ab>/<cd>/m<id>     composite manifests (same text as local ones)
//! ```
//!
//! `ab`/`cd` are the last four hex digits of the id (the random tail of the
//! UUIDv7), which spreads keys over S3's request-rate partitions.
//!
//! * **Writes stream.** A body is hashed (MD5, CRC-64) chunk by chunk as it
//!   passes. Up to [`PART_SIZE`] is held back: a body that ends within it
//!   goes up in one `PUT`; a longer one becomes a multipart upload of
//!   [`PART_SIZE`] parts with at most [`PARTS_IN_FLIGHT`] in flight, so
//!   memory stays bounded whatever the body's size. Either way the object
//!   appears under its id only when complete (S3 `PUT` and
//!   `CompleteMultipartUpload` are atomic); a failed write aborts its
//!   multipart upload, and a write dropped mid-way aborts it in the
//!   background.
//! * **Reads stream**, ranged reads with an HTTP `Range` (one `HEAD` first to
//!   validate and clamp the range exactly like the local store).
//! * **Composites** are a manifest object naming the parts (the text of
//!   [`crate::composite`]); reads issue a ranged `GET` per part piece, the
//!   first [`EAGER_OPEN`] before `get` returns so a missing part is reported
//!   as the composite being [`BlobError::NotFound`].
//! * There is no local path: ffmpeg gets a file from [`BlobStore::download_to`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as Key;
use object_store::{
    ClientOptions, GetOptions, ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart,
};
use tokio::io::{AsyncWriteExt, BufWriter};
use tokio_util::io::ReaderStream;

use crate::composite::{Manifest, Segment};
use crate::local::range_len;
use crate::write::{BodyHasher, Origin};
use crate::{
    BlobError, BlobStore, BlobWritten, ByteStream, PartRef, is_composite_id, new_blob_id,
    new_composite_id, validate_id,
};

/// Size of a multipart upload's parts, and the most of a body held back
/// before deciding between a single `PUT` and a multipart upload.
pub const PART_SIZE: usize = 8 << 20;

/// Parts uploading at once for one blob: the memory bound of a write is
/// about `(PARTS_IN_FLIGHT + 1) * PART_SIZE`.
pub const PARTS_IN_FLIGHT: usize = 2;

/// Part pieces of a composite requested before `get` returns.
const EAGER_OPEN: usize = 4;

/// Concurrent `HEAD`/`DELETE` requests when checking or deleting parts.
const PARALLEL_REQUESTS: usize = 16;

/// A response body that delivers nothing for this long fails (and is
/// retried where that is safe). There is no overall request timeout: a
/// multi-gigabyte body streamed to a slow client may take hours.
const READ_TIMEOUT: Duration = Duration::from_secs(120);

/// Reading a local file for `put_file`.
const READ_CHUNK: usize = 256 * 1024;

/// Where and how to reach an S3-compatible store.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct S3Config {
    /// Bucket name.
    pub bucket: String,
    /// Key prefix for all blobs, without leading or trailing `/` (may be empty).
    pub prefix: String,
    /// Endpoint URL for a non-AWS service, e.g. `http://127.0.0.1:9000` or
    /// `https://cos.ap-guangzhou.myqcloud.com`; `None` for AWS.
    pub endpoint: Option<String>,
    /// Region (signing); `None` for the environment's `AWS_REGION` or `us-east-1`.
    pub region: Option<String>,
    /// Access key id; `None` for the usual AWS environment/instance credentials.
    pub access_key_id: Option<String>,
    /// Secret access key.
    pub secret_access_key: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`) instead of virtual-host
    /// style. Local servers (moto, MinIO) need it. With virtual-host style
    /// *and* an endpoint, the endpoint must already name the bucket (the
    /// `object_store` convention), e.g.
    /// `https://media-1250000000.cos.ap-guangzhou.myqcloud.com`.
    pub path_style: bool,
    /// Allow plain `http://` endpoints.
    pub allow_http: bool,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .field("path_style", &self.path_style)
            .field("allow_http", &self.allow_http)
            .finish()
    }
}

impl S3Config {
    /// Parses `s3://bucket[/prefix]`; the other fields keep their defaults.
    pub fn from_url(url: &str) -> Result<Self, BlobError> {
        let invalid = |why: &str| BlobError::Config {
            reason: format!("{url:?} is not s3://bucket[/prefix]: {why}"),
        };
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| invalid("the scheme must be s3://"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(invalid("no bucket"));
        }
        let prefix = prefix.trim_matches('/');
        Key::parse(prefix).map_err(|e| invalid(&e.to_string()))?;
        Ok(Self {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            ..Self::default()
        })
    }

    /// `s3://bucket/prefix at endpoint`, for logs (no credentials).
    pub fn describe(&self) -> String {
        let endpoint = self.endpoint.as_deref().unwrap_or("AWS");
        format!("s3://{}/{} at {endpoint}", self.bucket, self.prefix)
    }
}

/// Blob storage in an S3-compatible bucket (see the module docs).
#[derive(Debug, Clone)]
pub struct S3BlobStore {
    client: Arc<dyn ObjectStore>,
    prefix: String,
}

impl S3BlobStore {
    /// A store on the bucket `config` describes. No request is made: a
    /// wrong endpoint or credentials show up at the first operation.
    pub fn new(config: &S3Config) -> Result<Self, BlobError> {
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&config.bucket)
            .with_virtual_hosted_style_request(!config.path_style)
            .with_client_options(
                ClientOptions::new()
                    .with_allow_http(config.allow_http)
                    .with_timeout_disabled()
                    .with_read_timeout(READ_TIMEOUT),
            );
        if let Some(endpoint) = &config.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let Some(region) = &config.region {
            builder = builder.with_region(region);
        }
        if let Some(key) = &config.access_key_id {
            builder = builder.with_access_key_id(key);
        }
        if let Some(secret) = &config.secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        let client = builder.build().map_err(|e| BlobError::Config {
            reason: format!("{}: {e}", config.describe()),
        })?;
        Self::with_client(Arc::new(client), &config.prefix)
    }

    /// A store on any `object_store` client (S3 or another), under `prefix`.
    pub fn with_client(client: Arc<dyn ObjectStore>, prefix: &str) -> Result<Self, BlobError> {
        let prefix = prefix.trim_matches('/');
        Key::parse(prefix).map_err(|e| BlobError::Config {
            reason: format!("invalid key prefix {prefix:?}: {e}"),
        })?;
        Ok(Self {
            client,
            prefix: prefix.to_owned(),
        })
    }

    /// The object key of a blob; `id` must already be validated.
    fn key_of(&self, id: &str) -> Key {
        let shard = &id[id.len() - 4..];
        let relative = format!("{}/{}/{id}", &shard[..2], &shard[2..]);
        if self.prefix.is_empty() {
            Key::from(relative)
        } else {
            Key::from(format!("{}/{relative}", self.prefix))
        }
    }

    fn checked_key(&self, id: &str) -> Result<Key, BlobError> {
        validate_id(id)?;
        Ok(self.key_of(id))
    }

    /// Streams a body into a new blob (see the module docs).
    async fn ingest(
        &self,
        body: ByteStream,
        max_size: Option<u64>,
        origin: Origin<'_>,
    ) -> Result<BlobWritten, BlobError> {
        let id = new_blob_id();
        let key = self.key_of(&id);
        let mut upload = AbortOnDrop(None);
        let result = self
            .stream_body(&key, body, max_size, origin, &mut upload)
            .await;
        let hasher = match result {
            Ok(hasher) => hasher,
            Err(e) => {
                upload.abort().await;
                return Err(e);
            }
        };
        let written = hasher.finish();
        Ok(BlobWritten {
            id,
            size: written.size,
            md5_hex: written.md5_hex,
            crc64: written.crc64,
        })
    }

    async fn stream_body(
        &self,
        key: &Key,
        mut body: ByteStream,
        max_size: Option<u64>,
        origin: Origin<'_>,
        upload: &mut AbortOnDrop,
    ) -> Result<BodyHasher, BlobError> {
        let mut hasher = BodyHasher::new(max_size);
        let mut held: Vec<Bytes> = Vec::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| origin.read_error(e))?;
            hasher.update(&chunk)?;
            if let Some(writer) = upload.0.as_mut() {
                writer
                    .wait_for_capacity(PARTS_IN_FLIGHT)
                    .await
                    .map_err(remote("upload part", key))?;
                writer.put(chunk);
                continue;
            }
            held.push(chunk);
            if hasher.size() > PART_SIZE as u64 {
                let multipart = self
                    .client
                    .put_multipart(key)
                    .await
                    .map_err(remote("start multipart upload", key))?;
                let mut writer = WriteMultipart::new_with_chunk_size(multipart, PART_SIZE);
                for chunk in held.drain(..) {
                    writer.put(chunk);
                }
                upload.0 = Some(writer);
            }
        }
        match upload.0.take() {
            Some(writer) => {
                // `finish` aborts the upload itself when it fails.
                writer
                    .finish()
                    .await
                    .map_err(remote("complete multipart upload", key))?;
            }
            None => {
                self.client
                    .put(key, PutPayload::from_iter(held))
                    .await
                    .map_err(remote("put object", key))?;
            }
        }
        Ok(hasher)
    }

    async fn head_size(&self, id: &str, key: &Key) -> Result<u64, BlobError> {
        let meta = self
            .client
            .head(key)
            .await
            .map_err(not_found_or(id, "head object", key))?;
        Ok(meta.size)
    }

    /// Reads and checks a composite's manifest; `NotFound` when it is gone.
    async fn read_manifest(&self, id: &str) -> Result<Manifest, BlobError> {
        let key = self.checked_key(id)?;
        let result = self.client.get(&key).await.map_err(not_found_or(
            id,
            "get composite manifest",
            &key,
        ))?;
        let bytes =
            result
                .bytes()
                .await
                .map_err(not_found_or(id, "read composite manifest", &key))?;
        let text = std::str::from_utf8(&bytes).map_err(|_| BlobError::Corrupt {
            id: id.to_owned(),
            detail: "manifest: not UTF-8".to_owned(),
        })?;
        Manifest::parse(id, text)
    }

    /// Starts a ranged `GET` of one piece of a part; a missing part means
    /// the composite `id` is gone.
    async fn open_segment(&self, id: &str, segment: &Segment) -> Result<ByteStream, BlobError> {
        let key = self.key_of(&segment.id);
        let range = segment.offset..segment.offset + segment.len;
        let result = self
            .client
            .get_opts(&key, GetOptions::default().with_range(Some(range)))
            .await
            .map_err(not_found_or(id, "get blob part", &key))?;
        Ok(result.into_stream().map_err(std::io::Error::other).boxed())
    }

    async fn get_composite(
        &self,
        id: &str,
        range: Option<(u64, u64)>,
    ) -> Result<ByteStream, BlobError> {
        let manifest = self.read_manifest(id).await?;
        let size = manifest.size();
        let (start, len) = match range {
            None => (0, size),
            Some((start, end)) => (start, range_len(start, end, size)?),
        };
        let mut segments = manifest.segments(start, len).into_iter();
        let mut opened = Vec::new();
        for segment in segments.by_ref().take(EAGER_OPEN) {
            opened.push(self.open_segment(id, &segment).await?);
        }
        let (store, id) = (self.clone(), id.to_owned());
        let rest = stream::iter(segments)
            .then(move |segment| {
                let (store, id) = (store.clone(), id.clone());
                async move {
                    store
                        .open_segment(&id, &segment)
                        .await
                        .map_err(std::io::Error::other)
                }
            })
            .try_flatten();
        Ok(stream::iter(opened).flatten().chain(rest).boxed())
    }

    /// Deletes an object; a missing one is not an error.
    async fn delete_key(&self, key: &Key) -> Result<(), BlobError> {
        match self.client.delete(key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(remote("delete object", key)(e)),
        }
    }

    async fn delete_composite(&self, id: &str) -> Result<(), BlobError> {
        let manifest = match self.read_manifest(id).await {
            Ok(manifest) => manifest,
            Err(BlobError::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(e),
        };
        let keys: Vec<Key> = manifest
            .parts()
            .iter()
            .map(|p| self.key_of(&p.id))
            .collect();
        stream::iter(keys)
            .map(|key| {
                let store = self.clone();
                async move { store.delete_key(&key).await }
            })
            .buffer_unordered(PARALLEL_REQUESTS)
            .try_collect::<()>()
            .await?;
        self.delete_key(&self.key_of(id)).await
    }

    /// Checks that every part exists with its recorded size.
    async fn check_parts(&self, manifest: &Manifest) -> Result<(), BlobError> {
        stream::iter(manifest.parts().to_vec())
            .map(|part| {
                let store = self.clone();
                async move {
                    let actual = store.head_size(&part.id, &store.key_of(&part.id)).await?;
                    if actual == part.size {
                        Ok(())
                    } else {
                        Err(BlobError::Corrupt {
                            id: part.id.clone(),
                            detail: format!("{actual} bytes stored, {} recorded", part.size),
                        })
                    }
                }
            })
            .buffer_unordered(PARALLEL_REQUESTS)
            .try_collect::<()>()
            .await
    }
}

#[async_trait::async_trait]
impl BlobStore for S3BlobStore {
    async fn put_stream(
        &self,
        body: ByteStream,
        max_size: Option<u64>,
    ) -> Result<BlobWritten, BlobError> {
        self.ingest(body, max_size, Origin::Body).await
    }

    async fn put_file(&self, path: &Path) -> Result<BlobWritten, BlobError> {
        let file = tokio::fs::File::open(path)
            .await
            .map_err(BlobError::io("open source file", path))?;
        let body = ReaderStream::with_capacity(file, READ_CHUNK).boxed();
        self.ingest(body, None, Origin::File(path)).await
    }

    async fn get(&self, id: &str, range: Option<(u64, u64)>) -> Result<ByteStream, BlobError> {
        let key = self.checked_key(id)?;
        if is_composite_id(id) {
            return self.get_composite(id, range).await;
        }
        let options = match range {
            None => GetOptions::default(),
            Some((start, end)) => {
                let size = self.head_size(id, &key).await?;
                let len = range_len(start, end, size)?;
                GetOptions::default().with_range(Some(start..start + len))
            }
        };
        let result = self
            .client
            .get_opts(&key, options)
            .await
            .map_err(not_found_or(id, "get object", &key))?;
        Ok(result.into_stream().map_err(std::io::Error::other).boxed())
    }

    async fn size(&self, id: &str) -> Result<u64, BlobError> {
        let key = self.checked_key(id)?;
        if is_composite_id(id) {
            return Ok(self.read_manifest(id).await?.size());
        }
        self.head_size(id, &key).await
    }

    fn local_path(&self, _id: &str) -> Option<PathBuf> {
        None
    }

    async fn download_to(&self, id: &str, dest: &Path) -> Result<(), BlobError> {
        // Open first, so a missing blob creates no file.
        let mut body = self.get(id, None).await?;
        let file = tokio::fs::File::create(dest)
            .await
            .map_err(BlobError::io("create download file", dest))?;
        let mut out = BufWriter::with_capacity(READ_CHUNK, file);
        let copied = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(BlobError::io("read blob for", dest))?;
                out.write_all(&chunk)
                    .await
                    .map_err(BlobError::io("write download file", dest))?;
            }
            out.flush()
                .await
                .map_err(BlobError::io("write download file", dest))
        }
        .await;
        if copied.is_err() {
            let _ = tokio::fs::remove_file(dest).await;
        }
        copied
    }

    async fn delete(&self, id: &str) -> Result<(), BlobError> {
        let key = self.checked_key(id)?;
        if is_composite_id(id) {
            return self.delete_composite(id).await;
        }
        self.delete_key(&key).await
    }

    async fn compose(&self, parts: &[PartRef]) -> Result<BlobWritten, BlobError> {
        let manifest = Manifest::new(parts)?;
        self.check_parts(&manifest).await?;
        let id = new_composite_id();
        let key = self.key_of(&id);
        let text = Bytes::from(manifest.encode());
        self.client
            .put(&key, PutPayload::from(text))
            .await
            .map_err(remote("put composite manifest", &key))?;
        Ok(BlobWritten {
            id,
            size: manifest.size(),
            md5_hex: manifest.etag(),
            crc64: manifest.crc64(),
        })
    }

    async fn forget_composite(&self, id: &str) -> Result<(), BlobError> {
        let key = self.checked_key(id)?;
        if !is_composite_id(id) {
            return Err(BlobError::InvalidComposite {
                reason: format!("{id} is a plain blob, not a composite"),
            });
        }
        self.delete_key(&key).await
    }
}

/// Owns an unfinished multipart upload; aborting it (deleting the uploaded
/// parts) when dropped, e.g. because the writing future was cancelled.
struct AbortOnDrop(Option<WriteMultipart>);

impl AbortOnDrop {
    async fn abort(&mut self) {
        if let Some(writer) = self.0.take()
            && let Err(error) = writer.abort().await
        {
            tracing::warn!(%error, "could not abort a multipart upload; its parts stay until the bucket's lifecycle rule removes them");
        }
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(writer) = self.0.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                if let Err(error) = writer.abort().await {
                    tracing::warn!(%error, "could not abort a cancelled multipart upload");
                }
            });
        }
    }
}

fn remote(op: &'static str, key: &Key) -> impl FnOnce(object_store::Error) -> BlobError {
    let key = key.to_string();
    move |source| BlobError::Remote {
        op,
        key,
        source: Box::new(source),
    }
}

/// `NotFound` (naming `id`) for a missing object, [`BlobError::Remote`] otherwise.
fn not_found_or<'a>(
    id: &'a str,
    op: &'static str,
    key: &'a Key,
) -> impl FnOnce(object_store::Error) -> BlobError + 'a {
    move |source| match source {
        object_store::Error::NotFound { .. } => BlobError::NotFound { id: id.to_owned() },
        other => remote(op, key)(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_into_bucket_and_prefix() {
        let c = S3Config::from_url("s3://media/reelflow/blobs/").unwrap();
        assert_eq!(
            (c.bucket.as_str(), c.prefix.as_str()),
            ("media", "reelflow/blobs")
        );
        let c = S3Config::from_url("s3://media").unwrap();
        assert_eq!((c.bucket.as_str(), c.prefix.as_str()), ("media", ""));
        for bad in [
            "media/x",
            "s3://",
            "s3:///x",
            "http://media/x",
            "s3://b/a//b",
        ] {
            assert!(
                matches!(S3Config::from_url(bad), Err(BlobError::Config { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn keys_shard_by_the_random_tail_under_the_prefix() {
        let client = Arc::new(object_store::memory::InMemory::new());
        let store = S3BlobStore::with_client(client.clone(), "/p/q/").unwrap();
        assert_eq!(
            store.key_of("0190aaaabbbbccccddddeeeeffff1234").as_ref(),
            "p/q/12/34/0190aaaabbbbccccddddeeeeffff1234"
        );
        let bare = S3BlobStore::with_client(client, "").unwrap();
        assert_eq!(
            bare.key_of("m0190aaaabbbbccccddddeeeeffff1234").as_ref(),
            "12/34/m0190aaaabbbbccccddddeeeeffff1234"
        );
    }

    #[test]
    fn debug_hides_the_secret() {
        let config = S3Config {
            secret_access_key: Some("hunter2".into()),
            ..S3Config::default()
        };
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
