//! Store errors. Callers distinguish "not found"/"conflict" outcomes (which become 404/409) from
//! database failures (500); the database error is kept as the source.

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// Schema migration failed at start-up.
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database configuration is unusable (an unsupported URL, a bad schema name).
    #[error("invalid database configuration: {0}")]
    InvalidConfig(String),
    /// A stored value could not be decoded (hand-edited or corrupt database).
    #[error("corrupt stored value in {column}: {detail}")]
    Corrupt {
        /// Table and column.
        column: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// The bucket still holds objects.
    #[error("bucket {0} is not empty")]
    BucketNotEmpty(String),
    /// No such bucket.
    #[error("bucket {0} does not exist")]
    NoSuchBucket(String),
    /// No such multipart upload (never created, or already completed or aborted).
    #[error("multipart upload {0} does not exist")]
    NoSuchUpload(String),
    /// A part named by a completion is not (or no longer) the stored upload of its number.
    #[error("part {part_number} of multipart upload {upload_id} is not the one that was listed")]
    InvalidPart {
        /// The upload.
        upload_id: String,
        /// The part number.
        part_number: u32,
    },
}

impl StoreError {
    /// Stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Database(_) | StoreError::Migrate(_) => "InternalError",
            StoreError::Corrupt { .. } | StoreError::InvalidConfig(_) => "InternalError",
            StoreError::BucketNotEmpty(_) => "BucketNotEmpty",
            StoreError::NoSuchBucket(_) => "NoSuchBucket",
            StoreError::NoSuchUpload(_) => "NoSuchUpload",
            StoreError::InvalidPart { .. } => "InvalidPart",
        }
    }
}

pub(crate) fn corrupt(column: &'static str, detail: impl ToString) -> StoreError {
    StoreError::Corrupt {
        column,
        detail: detail.to_string(),
    }
}
