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
}

impl StoreError {
    /// Stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Database(_) | StoreError::Migrate(_) => "InternalError",
            StoreError::Corrupt { .. } => "InternalError",
            StoreError::BucketNotEmpty(_) => "BucketNotEmpty",
            StoreError::NoSuchBucket(_) => "NoSuchBucket",
        }
    }
}

pub(crate) fn corrupt(column: &'static str, detail: impl ToString) -> StoreError {
    StoreError::Corrupt {
        column,
        detail: detail.to_string(),
    }
}
