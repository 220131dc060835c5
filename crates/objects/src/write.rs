//! Streaming a body into a temporary file while hashing (MD5, CRC-64) and counting it.

use std::path::Path;

use futures::StreamExt;
use md5::{Digest, Md5};
use tokio::io::{AsyncWriteExt, BufWriter};

use crate::crc::Crc64;
use crate::{BlobError, ByteStream};

/// Write buffer size: large enough that tokio's blocking-pool hop per write
/// is amortised over many small HTTP body chunks.
const WRITE_BUFFER: usize = 256 * 1024;

/// Where a body comes from, which decides how its read errors are reported.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Origin<'a> {
    /// An HTTP request body: a read error is the client's ([`BlobError::BodyRead`]).
    Body,
    /// A local file being imported: a read error is ours ([`BlobError::Io`]).
    File(&'a Path),
}

impl Origin<'_> {
    pub(crate) fn read_error(self, source: std::io::Error) -> BlobError {
        match self {
            Self::Body => BlobError::BodyRead { source },
            Self::File(path) => BlobError::io("read source file", path)(source),
        }
    }
}

/// Size, MD5 and CRC-64 of a fully written temporary file.
pub(crate) struct Written {
    pub(crate) size: u64,
    pub(crate) md5_hex: String,
    pub(crate) crc64: u64,
}

/// Creates `path` (which must not exist), streams `body` into it and fsyncs it.
///
/// The caller owns cleanup: on error the partial file is left for its
/// `DeleteOnDrop` guard.
pub(crate) async fn write_temp_file(
    path: &Path,
    body: ByteStream,
    max_size: Option<u64>,
    origin: Origin<'_>,
) -> Result<Written, BlobError> {
    let file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .await
        .map_err(BlobError::io("create temporary file", path))?;
    let mut writer = BufWriter::with_capacity(WRITE_BUFFER, file);
    let written = copy_hashing(body, &mut writer, max_size, origin, path).await?;
    writer
        .flush()
        .await
        .map_err(BlobError::io("write temporary file", path))?;
    writer
        .get_mut()
        .sync_all()
        .await
        .map_err(BlobError::io("fsync temporary file", path))?;
    Ok(written)
}

async fn copy_hashing(
    mut body: ByteStream,
    writer: &mut BufWriter<tokio::fs::File>,
    max_size: Option<u64>,
    origin: Origin<'_>,
    path: &Path,
) -> Result<Written, BlobError> {
    let mut hasher = BodyHasher::new(max_size);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| origin.read_error(e))?;
        hasher.update(&chunk)?;
        writer
            .write_all(&chunk)
            .await
            .map_err(BlobError::io("write temporary file", path))?;
    }
    Ok(hasher.finish())
}

/// MD5, CRC-64 and size of a body, computed chunk by chunk as it streams
/// past, enforcing the caller's size limit. Shared by every backend.
pub(crate) struct BodyHasher {
    md5: Md5,
    crc: Crc64,
    size: u64,
    max_size: Option<u64>,
}

impl BodyHasher {
    pub(crate) fn new(max_size: Option<u64>) -> Self {
        Self {
            md5: Md5::new(),
            crc: Crc64::new(),
            size: 0,
            max_size,
        }
    }

    /// Adds a chunk; [`BlobError::TooLarge`] as soon as the total crosses the limit.
    pub(crate) fn update(&mut self, chunk: &[u8]) -> Result<(), BlobError> {
        self.size += chunk.len() as u64;
        if let Some(limit) = self.max_size
            && self.size > limit
        {
            return Err(BlobError::TooLarge { limit });
        }
        self.md5.update(chunk);
        self.crc.update(chunk);
        Ok(())
    }

    /// Bytes seen so far.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    pub(crate) fn finish(self) -> Written {
        Written {
            size: self.size,
            md5_hex: hex::encode(self.md5.finalize()),
            crc64: self.crc.finish(),
        }
    }
}
