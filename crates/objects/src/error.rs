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

    /// The id is not a blob id (32 lowercase hex digits). Refused before any
    /// path is built from it.
    #[error("invalid blob id {id:?}: expected 32 lowercase hex digits")]
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

    /// Reading the incoming body failed (e.g. the client disconnected);
    /// nothing was stored.
    #[error("reading the body failed; nothing was stored")]
    BodyRead {
        /// The error the body stream yielded.
        #[source]
        source: std::io::Error,
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
            Self::BodyRead { .. } => "BodyReadFailed",
            Self::Io { .. } => "StorageIoError",
        }
    }

    /// Whether the request, not the server, caused the failure.
    ///
    /// `NotFound` counts as a client error (a missing object); `Io` does not.
    pub fn is_client_error(&self) -> bool {
        !matches!(self, Self::Io { .. })
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
