//! Composite blobs on the local filesystem.
//!
//! A composite `m<hex>` is a manifest file stored exactly like a blob
//! (temporary file, fsync, rename, directory fsync) in the shard directory
//! its id maps to. Its parts stay where they are: composing writes only the
//! manifest, so it costs one small file however large the parts are.
//!
//! Reads open part files as the stream reaches them. The first
//! [`EAGER_OPEN`] pieces are opened before `get` returns, so a short ranged
//! read is immune to a concurrent delete (an open file stays readable), and a
//! part deleted before the read starts is reported as the composite being
//! [`BlobError::NotFound`], which callers already retry by re-reading the
//! catalog. A whole read of a composite with more pieces than that, racing
//! with its deletion, can fail at a later part boundary.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};

use futures::{StreamExt, TryStreamExt, stream};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio_util::io::ReaderStream;

use super::{LocalBlobStore, READ_CHUNK, range_len, remove_if_exists};
use crate::composite::{Manifest, Segment};
use crate::guard::DeleteOnDrop;
use crate::{BlobError, BlobWritten, ByteStream, PartRef, new_composite_id};

/// Pieces of a composite opened before `get` returns (see the module docs).
const EAGER_OPEN: usize = 16;

impl LocalBlobStore {
    /// [`crate::BlobStore::compose`] for this store.
    pub(super) async fn compose_parts(&self, parts: &[PartRef]) -> Result<BlobWritten, BlobError> {
        let manifest = Manifest::new(parts)?;
        self.check_parts(&manifest).await?;
        let id = new_composite_id();
        let tmp_path = self.temp_path(&id);
        let guard = DeleteOnDrop::new(tmp_path.clone());
        write_synced(&tmp_path, manifest.encode().as_bytes()).await?;
        self.commit(&tmp_path, &id, guard).await?;
        Ok(BlobWritten {
            id,
            size: manifest.size(),
            md5_hex: manifest.etag(),
            crc64: manifest.crc64(),
        })
    }

    /// Checks that every part exists with its recorded size: one `stat`
    /// each, all on one blocking thread (10 000 parts take milliseconds).
    async fn check_parts(&self, manifest: &Manifest) -> Result<(), BlobError> {
        let parts = self.part_paths(manifest);
        blocking(move || {
            for (path, part) in parts {
                let meta = match std::fs::metadata(&path) {
                    Ok(meta) => meta,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        return Err(BlobError::NotFound { id: part.id });
                    }
                    Err(e) => return Err(BlobError::io("stat blob", path)(e)),
                };
                if meta.len() != part.size {
                    return Err(size_mismatch(&part, meta.len()));
                }
            }
            Ok(())
        })
        .await
    }

    fn part_paths(&self, manifest: &Manifest) -> Vec<(PathBuf, PartRef)> {
        manifest
            .parts()
            .iter()
            .map(|p| (self.path_of(&p.id), p.clone()))
            .collect()
    }

    /// Reads and checks a composite's manifest; `NotFound` when it is gone.
    pub(super) async fn read_manifest(&self, id: &str) -> Result<Manifest, BlobError> {
        let path = self.checked_path(id)?;
        match tokio::fs::read_to_string(&path).await {
            Ok(text) => Manifest::parse(id, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(BlobError::NotFound { id: id.to_owned() })
            }
            Err(e) => Err(BlobError::io("read composite manifest", path)(e)),
        }
    }

    /// [`crate::BlobStore::get`] of a composite: the parts' pieces in order.
    pub(super) async fn get_composite(
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
        let segments: Vec<(PathBuf, Segment)> = manifest
            .segments(start, len)
            .into_iter()
            .map(|s| (self.path_of(&s.id), s))
            .collect();
        let mut segments = segments.into_iter();
        let mut opened = Vec::new();
        for (path, segment) in segments.by_ref().take(EAGER_OPEN) {
            let piece = open_segment(path.clone(), segment).await;
            opened.push(piece.map_err(|e| part_error(id, &path, e))?);
        }
        let rest = stream::iter(segments)
            .then(|(path, segment)| open_segment(path, segment))
            .try_flatten();
        Ok(stream::iter(opened).flatten().chain(rest).boxed())
    }

    /// [`crate::BlobStore::download_to`] of a composite: the parts copied in
    /// order on one blocking thread (`std::io::copy` uses `copy_file_range`
    /// on Linux, so the bytes need not pass through user space). A partial
    /// `dest` is removed on failure.
    pub(super) async fn download_composite(&self, id: &str, dest: &Path) -> Result<(), BlobError> {
        let manifest = self.read_manifest(id).await?;
        let parts = self.part_paths(&manifest);
        let (id, dest) = (id.to_owned(), dest.to_owned());
        blocking(move || {
            let copied = copy_parts(&id, &parts, &dest);
            if copied.is_err() {
                let _ = std::fs::remove_file(&dest);
            }
            copied
        })
        .await
    }

    /// [`crate::BlobStore::delete`] of a composite: the parts, then the
    /// manifest, so an interrupted delete can be repeated.
    pub(super) async fn delete_composite(&self, id: &str) -> Result<(), BlobError> {
        let manifest = match self.read_manifest(id).await {
            Ok(manifest) => manifest,
            Err(BlobError::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(e),
        };
        let parts = self.part_paths(&manifest);
        blocking(move || {
            for (path, _) in parts {
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(BlobError::io("delete blob part", path)(e)),
                }
            }
            Ok(())
        })
        .await?;
        remove_if_exists(&self.path_of(id)).await
    }
}

fn size_mismatch(part: &PartRef, actual: u64) -> BlobError {
    BlobError::Corrupt {
        id: part.id.clone(),
        detail: format!("{actual} bytes stored, {} recorded", part.size),
    }
}

/// A part that cannot be opened: gone means the composite is gone (it was
/// deleted, parts first, after its manifest was read).
fn part_error(id: &str, path: &Path, e: std::io::Error) -> BlobError {
    if e.kind() == std::io::ErrorKind::NotFound {
        BlobError::NotFound { id: id.to_owned() }
    } else {
        BlobError::io("open blob part", path)(e)
    }
}

/// Opens one piece of a part as a stream; errors name the part.
async fn open_segment(path: PathBuf, segment: Segment) -> std::io::Result<ByteStream> {
    let context =
        |e: std::io::Error| std::io::Error::new(e.kind(), format!("blob part {}: {e}", segment.id));
    let mut file = tokio::fs::File::open(&path).await.map_err(context)?;
    file.seek(SeekFrom::Start(segment.offset))
        .await
        .map_err(context)?;
    Ok(ReaderStream::with_capacity(file.take(segment.len), READ_CHUNK).boxed())
}

fn copy_parts(id: &str, parts: &[(PathBuf, PartRef)], dest: &Path) -> Result<(), BlobError> {
    let mut out =
        std::fs::File::create(dest).map_err(BlobError::io("create download file", dest))?;
    for (path, part) in parts {
        let mut src = std::fs::File::open(path).map_err(|e| part_error(id, path, e))?;
        let copied =
            std::io::copy(&mut src, &mut out).map_err(BlobError::io("copy blob to", dest))?;
        if copied != part.size {
            return Err(size_mismatch(part, copied));
        }
    }
    Ok(())
}

/// Creates `path` (which must not exist) with `content`, fsynced.
async fn write_synced(path: &Path, content: &[u8]) -> Result<(), BlobError> {
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .await
        .map_err(BlobError::io("create temporary file", path))?;
    file.write_all(content)
        .await
        .map_err(BlobError::io("write temporary file", path))?;
    file.sync_all()
        .await
        .map_err(BlobError::io("fsync temporary file", path))
}

/// Runs blocking filesystem work on tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, BlobError> + Send + 'static,
) -> Result<T, BlobError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
        Err(join) => Err(BlobError::Io {
            op: "run blocking file operation",
            path: PathBuf::new(),
            source: std::io::Error::other(join),
        }),
    }
}
