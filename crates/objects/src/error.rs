//! Errors from blob storage.

use std::path::PathBuf;

/// A blob operation failed.
///
/// Client-caused failures ([`BlobError::is_client_error`]) are separated from
/// storage failures so the API layer can answer 4xx versus 500 without
/// inspecting messages.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    /// No blob has this id.
    #[error("blob {id} does not exist")]
    NotFound {
        /// The requested id.
        id: String,
    },

    /// The body was longer than the caller's limit; nothing was stored.
    #[error("the body exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },

    /// The id is not a blob id (32 lowercase hex digits, or `m` + 32 for a
    /// composite). Refused before any path is built from it.
    #[error("invalid blob id {id:?}: expected 32 lowercase hex digits, optionally after 'm'")]
    InvalidId {
        /// The rejected id.
        id: String,
    },

    /// The requested byte range does not overlap the blob.
    #[error("range {start}-{end} is not satisfiable for a blob of {size} bytes")]
    InvalidRange {
        /// First requested byte.
        start: u64,
        /// Last requested byte (inclusive).
        end: u64,
        /// The blob's size.
        size: u64,
    },

    /// A composite blob was asked for with parts that cannot make one (no
    /// parts, a part that is itself a composite, a malformed MD5), or a
    /// composite-only operation was given a plain blob id.
    #[error("invalid composite blob: {reason}")]
    InvalidComposite {
        /// What was wrong.
        reason: String,
    },

    /// Stored data contradicts what was recorded about it: an unreadable
    /// composite manifest, or a part whose size is not the recorded one.
    #[error("blob {id} is corrupt: {detail}")]
    Corrupt {
        /// The blob (composite or part) at fault.
        id: String,
        /// What was wrong.
        detail: String,
    },

    /// Reading the incoming body failed (e.g. the client disconnected);
    /// nothing was stored.
    #[error("reading the body failed; nothing was stored")]
    BodyRead {
        /// The error the body stream yielded.
        #[source]
        source: std::io::Error,
    },

    /// A request to a remote object store (S3-compatible) failed.
    #[error("object storage request failed: {op} {key}")]
    Remote {
        /// What the store was doing, e.g. "upload part".
        op: &'static str,
        /// The object key it was operating on.
        key: String,
        /// The underlying client error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// The blob store's configuration is unusable (e.g. a malformed
    /// `s3://` URL); reported when the store is opened.
    #[error("invalid blob store configuration: {reason}")]
    Config {
        /// What was wrong.
        reason: String,
    },

    /// A filesystem operation failed.
    #[error("blob storage I/O failed: {op} {}", path.display())]
    Io {
        /// What the store was doing, e.g. "rename temporary file".
        op: &'static str,
        /// The path it was operating on.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl BlobError {
    /// A stable machine-readable code for logs and for the API's mapping.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound { .. } => "BlobNotFound",
            Self::TooLarge { .. } => "EntityTooLarge",
            Self::InvalidId { .. } => "InvalidBlobId",
            Self::InvalidRange { .. } => "InvalidRange",
            Self::InvalidComposite { .. } => "InvalidComposite",
            Self::Corrupt { .. } => "StorageCorrupt",
            Self::BodyRead { .. } => "BodyReadFailed",
            Self::Io { .. } => "StorageIoError",
            Self::Remote { .. } => "StorageBackendError",
            Self::Config { .. } => "StorageConfigError",
        }
    }

    /// Whether the request, not the server, caused the failure.
    ///
    /// `NotFound` counts as a client error (a missing object); `Io`,
    /// `Remote`, `Config` and `Corrupt` do not.
    pub fn is_client_error(&self) -> bool {
        !matches!(
            self,
            Self::Io { .. } | Self::Corrupt { .. } | Self::Remote { .. } | Self::Config { .. }
        )
    }

    /// Maps an [`std::io::Error`] from `op` on `path`.
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { op, path, source }
    }
}
