//! [`LocalBlobStore`]: blobs as files under a root directory.
//!
//! Layout:
//!
//! ```text
//! <root>/tmp/<id>.tmp          writes in progress (emptied at open)
//! <root>/<ab>/<cd>/<id>        committed blobs
//! <root>/<ab>/<cd>/m<id>       composite manifests (see `local/composite.rs`)
//! ```
//!
//! `ab` and `cd` are the **last** four hex digits of the id. A UUIDv7 starts
//! with a millisecond timestamp, so its first digits are the same for weeks;
//! its last digits are random, which spreads blobs evenly over 65 536
//! directories. One process owns a root: opening it deletes leftover
//! temporary files, which would remove another live process's writes.

mod composite;

use std::io::SeekFrom;
use std::path::{Path, PathBuf};

use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use crate::guard::DeleteOnDrop;
use crate::write::{Origin, write_temp_file};
use crate::{
    BlobError, BlobStore, BlobWritten, ByteStream, PartRef, is_composite_id, new_blob_id,
    validate_id,
};

/// Chunk size for reads: large enough for efficient file and socket I/O.
const READ_CHUNK: usize = 64 * 1024;

/// Blob storage on a local filesystem (Unix: directory fsync is required).
#[derive(Debug, Clone)]
pub struct LocalBlobStore {
    root: PathBuf,
    tmp: PathBuf,
}

impl LocalBlobStore {
    /// Opens (creating if needed) a store rooted at `root`.
    ///
    /// Leftover temporary files from writes interrupted by a crash are
    /// deleted here; they were never visible as blobs.
    pub async fn open(root: impl Into<PathBuf>) -> Result<Self, BlobError> {
        let root = root.into();
        let tmp = root.join("tmp");
        tokio::fs::create_dir_all(&tmp)
            .await
            .map_err(BlobError::io("create directory", &tmp))?;
        let removed = clean_dir(&tmp).await?;
        if removed > 0 {
            tracing::info!(removed, dir = %tmp.display(), "removed interrupted blob writes");
        }
        Ok(Self { root, tmp })
    }

    /// The root directory this store was opened on.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory holding a blob; `id` must already be validated.
    fn shard_dir(&self, id: &str) -> PathBuf {
        let shard = &id[id.len() - 4..];
        self.root.join(&shard[..2]).join(&shard[2..])
    }

    /// The path of a blob; `id` must already be validated.
    fn path_of(&self, id: &str) -> PathBuf {
        self.shard_dir(id).join(id)
    }

    fn checked_path(&self, id: &str) -> Result<PathBuf, BlobError> {
        validate_id(id)?;
        Ok(self.path_of(id))
    }

    /// Writes a body to a temporary file, then commits it under a new id.
    async fn ingest(
        &self,
        body: ByteStream,
        max_size: Option<u64>,
        origin: Origin<'_>,
    ) -> Result<BlobWritten, BlobError> {
        let id = new_blob_id();
        let tmp_path = self.temp_path(&id);
        let guard = DeleteOnDrop::new(tmp_path.clone());
        let written = write_temp_file(&tmp_path, body, max_size, origin).await?;
        self.commit(&tmp_path, &id, guard).await?;
        Ok(BlobWritten {
            id,
            size: written.size,
            md5_hex: written.md5_hex,
            crc64: written.crc64,
        })
    }

    /// Where a write of `id` stages its content.
    fn temp_path(&self, id: &str) -> PathBuf {
        self.tmp.join(format!("{id}.tmp"))
    }

    /// Renames a complete, fsynced temporary file to `id`'s path and makes
    /// the new entry durable. `guard` owns the temporary file.
    async fn commit(
        &self,
        tmp_path: &Path,
        id: &str,
        mut guard: DeleteOnDrop,
    ) -> Result<(), BlobError> {
        let dir = self.shard_dir(id);
        let final_path = dir.join(id);
        self.ensure_shard_dir(&dir).await?;
        tokio::fs::rename(tmp_path, &final_path)
            .await
            .map_err(BlobError::io("rename temporary file", &final_path))?;
        // Until the directory entry is durable, a failure must not leave a
        // blob the caller was told does not exist.
        guard.retarget(final_path);
        sync_dir(&dir).await?;
        guard.disarm();
        Ok(())
    }

    /// Creates `<root>/ab/cd` if needed, making the new entries durable.
    async fn ensure_shard_dir(&self, dir: &Path) -> Result<(), BlobError> {
        if tokio::fs::try_exists(dir).await.unwrap_or(false) {
            return Ok(());
        }
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(BlobError::io("create directory", dir))?;
        for ancestor in dir.ancestors().skip(1).take(2) {
            sync_dir(ancestor).await?;
        }
        Ok(())
    }

    async fn open_blob(&self, id: &str) -> Result<tokio::fs::File, BlobError> {
        let path = self.checked_path(id)?;
        match tokio::fs::File::open(&path).await {
            Ok(file) => Ok(file),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(BlobError::NotFound { id: id.to_owned() })
            }
            Err(e) => Err(BlobError::io("open blob", path)(e)),
        }
    }
}

#[async_trait::async_trait]
impl BlobStore for LocalBlobStore {
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
        if is_composite_id(id) {
            return self.get_composite(id, range).await;
        }
        let mut file = self.open_blob(id).await?;
        let Some((start, end)) = range else {
            return Ok(ReaderStream::with_capacity(file, READ_CHUNK).boxed());
        };
        let path = self.path_of(id);
        let size = file_size(&file, &path).await?;
        let len = range_len(start, end, size)?;
        file.seek(SeekFrom::Start(start))
            .await
            .map_err(BlobError::io("seek blob", path))?;
        Ok(ReaderStream::with_capacity(file.take(len), READ_CHUNK).boxed())
    }

    async fn size(&self, id: &str) -> Result<u64, BlobError> {
        if is_composite_id(id) {
            return Ok(self.read_manifest(id).await?.size());
        }
        let file = self.open_blob(id).await?;
        file_size(&file, &self.path_of(id)).await
    }

    fn local_path(&self, id: &str) -> Option<PathBuf> {
        // A composite's file is its manifest, not its content.
        (!is_composite_id(id))
            .then(|| self.checked_path(id).ok())
            .flatten()
    }

    async fn download_to(&self, id: &str, dest: &Path) -> Result<(), BlobError> {
        if is_composite_id(id) {
            return self.download_composite(id, dest).await;
        }
        let mut src = self.open_blob(id).await?;
        let mut out = tokio::fs::File::create(dest)
            .await
            .map_err(BlobError::io("create download file", dest))?;
        let copied = tokio::io::copy(&mut src, &mut out).await;
        copied.map_err(BlobError::io("copy blob to", dest))?;
        Ok(())
    }

    async fn delete(&self, id: &str) -> Result<(), BlobError> {
        let path = self.checked_path(id)?;
        if is_composite_id(id) {
            return self.delete_composite(id).await;
        }
        remove_if_exists(&path).await
    }

    async fn compose(&self, parts: &[PartRef]) -> Result<BlobWritten, BlobError> {
        self.compose_parts(parts).await
    }

    async fn forget_composite(&self, id: &str) -> Result<(), BlobError> {
        let path = self.checked_path(id)?;
        if !is_composite_id(id) {
            return Err(BlobError::InvalidComposite {
                reason: format!("{id} is a plain blob, not a composite"),
            });
        }
        remove_if_exists(&path).await
    }
}

/// Deletes a file; a missing file is not an error.
async fn remove_if_exists(path: &Path) -> Result<(), BlobError> {
    match tokio::fs::remove_file(path).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(BlobError::io("delete blob", path)(e)),
    }
}

/// Bytes in the inclusive range `start..=end` of a `size`-byte blob, with
/// `end` clamped to the last byte.
pub(crate) fn range_len(start: u64, end: u64, size: u64) -> Result<u64, BlobError> {
    if start > end || start >= size {
        return Err(BlobError::InvalidRange { start, end, size });
    }
    Ok(end.min(size - 1) - start + 1)
}

async fn file_size(file: &tokio::fs::File, path: &Path) -> Result<u64, BlobError> {
    let meta = file
        .metadata()
        .await
        .map_err(BlobError::io("stat blob", path))?;
    Ok(meta.len())
}

/// Makes a directory's entries (a rename, a new subdirectory) durable.
async fn sync_dir(dir: &Path) -> Result<(), BlobError> {
    let handle = tokio::fs::File::open(dir)
        .await
        .map_err(BlobError::io("open directory", dir))?;
    handle
        .sync_all()
        .await
        .map_err(BlobError::io("fsync directory", dir))
}

/// Deletes everything inside `dir`; returns how many entries were removed.
async fn clean_dir(dir: &Path) -> Result<usize, BlobError> {
    let mut entries = tokio::fs::read_dir(dir)
        .await
        .map_err(BlobError::io("list directory", dir))?;
    let mut removed = 0;
    while let Some(entry) = entries
        .next_entry()
        .await
        .map_err(BlobError::io("list directory", dir))?
    {
        let path = entry.path();
        let is_dir = entry.file_type().await.is_ok_and(|t| t.is_dir());
        let result = if is_dir {
            tokio::fs::remove_dir_all(&path).await
        } else {
            tokio::fs::remove_file(&path).await
        };
        result.map_err(BlobError::io("remove leftover temporary file", &path))?;
        removed += 1;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_inclusive_and_clamped() {
        assert_eq!(range_len(0, 0, 10).unwrap(), 1);
        assert_eq!(range_len(2, 5, 10).unwrap(), 4);
        assert_eq!(range_len(8, 100, 10).unwrap(), 2);
        assert!(matches!(
            range_len(10, 12, 10),
            Err(BlobError::InvalidRange { .. })
        ));
        assert!(matches!(
            range_len(5, 4, 10),
            Err(BlobError::InvalidRange { .. })
        ));
        assert!(matches!(
            range_len(0, 0, 0),
            Err(BlobError::InvalidRange { .. })
        ));
    }

    #[test]
    fn shards_use_the_random_tail_of_the_id() {
        let store = LocalBlobStore {
            root: PathBuf::from("/r"),
            tmp: PathBuf::from("/r/tmp"),
        };
        let path = store.path_of("0190aaaabbbbccccddddeeeeffff1234");
        assert_eq!(path, Path::new("/r/12/34/0190aaaabbbbccccddddeeeeffff1234"));
    }
}
