//! Errors of the management API, answered as JSON `{code, message}` with a stable code.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use reelflow_notify::NotifyError;
use reelflow_store::StoreError;

/// An error answered to a management client.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AdminError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine code.
    pub code: &'static str,
    /// Human message.
    pub message: String,
}

impl AdminError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 InvalidArgument.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidArgument", message)
    }

    /// 404 ResourceNotFound.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "ResourceNotFound", message)
    }

    /// 409 Conflict.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "Conflict", message)
    }

    /// 503: this process runs no callback worker.
    pub fn no_worker() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "CallbackWorkerUnavailable",
            "this process runs no callback worker",
        )
    }

    fn internal(cause: &dyn std::error::Error) -> Self {
        tracing::error!(error = %cause, source = ?cause.source(), "management API failure");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "internal server error; see the server log",
        )
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::NoSuchBucket(_) => {
                Self::new(StatusCode::NOT_FOUND, "NoSuchBucket", e.to_string())
            }
            _ => Self::internal(&e),
        }
    }
}

impl From<NotifyError> for AdminError {
    fn from(e: NotifyError) -> Self {
        match e {
            NotifyError::Store(s) => s.into(),
            NotifyError::Secret(_) => Self::invalid(e.to_string()),
            other => Self::internal(&other),
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"code": self.code, "message": self.message});
        super::views::json(self.status, &body)
    }
}
