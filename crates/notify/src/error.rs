//! Errors of the notifier's own operations (building it, resolving and rotating secrets).
//! Delivery failures are not errors: they are attempt outcomes, logged per attempt
//! ([`crate::ErrorKind`]).

use reelflow_store::StoreError;

use crate::sign::SecretError;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The HTTP client could not be built (TLS back-end initialisation).
    #[error("could not build the callback HTTP client")]
    Client(#[source] reqwest::Error),
    /// The outbox or the secret table failed.
    #[error("callback store failure")]
    Store(#[from] StoreError),
    /// A stored or supplied secret is malformed.
    #[error("invalid callback secret")]
    Secret(#[from] SecretError),
}

impl NotifyError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            NotifyError::Client(_) => "CallbackClient",
            NotifyError::Store(e) => e.code(),
            NotifyError::Secret(_) => "InvalidCallbackSecret",
        }
    }
}
