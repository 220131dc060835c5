//! The one place errors become HTTP responses.
//!
//! Handlers return [`ApiError`] (status, CI code, message). Converting it to a response has no
//! side effects: it attaches an [`ErrorInfo`] extension, and the outer middleware
//! ([`crate::middleware`]) renders the CI `<Error>` body with the request's path as `Resource`
//! and its request id, so every error carries all four fields the SDKs require.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use reelflow_engine::EngineError;
use reelflow_model::InvalidInput;
use reelflow_objects::BlobError;
use reelflow_signature::SignatureError;
use reelflow_store::StoreError;

/// An error answered to the client.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// CI error code.
    pub code: &'static str,
    /// Human message.
    pub message: String,
}

/// Attached to error responses for the renderer.
#[derive(Debug, Clone)]
pub struct ErrorInfo {
    /// CI error code.
    pub code: &'static str,
    /// Human message.
    pub message: String,
}

impl ApiError {
    /// Any error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
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

    /// 500 with a generic message; the cause is logged, not shown.
    pub fn internal(cause: &dyn std::error::Error) -> Self {
        tracing::error!(error = %cause, source = ?cause.source(), "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "internal server error; see the server log",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        response.extensions_mut().insert(ErrorInfo {
            code: self.code,
            message: self.message,
        });
        response
    }
}

impl From<InvalidInput> for ApiError {
    fn from(e: InvalidInput) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, e.code(), e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::BucketNotEmpty(_) => {
                ApiError::new(StatusCode::CONFLICT, "BucketNotEmpty", e.to_string())
            }
            StoreError::NoSuchBucket(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "NoSuchBucket", e.to_string())
            }
            StoreError::NoSuchUpload(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "NoSuchUpload", e.to_string())
            }
            StoreError::InvalidPart { part_number, .. } => ApiError::new(
                StatusCode::BAD_REQUEST,
                "InvalidPart",
                format!("part {part_number} was replaced while the upload was being completed"),
            ),
            _ => ApiError::internal(&e),
        }
    }
}

impl From<BlobError> for ApiError {
    fn from(e: BlobError) -> Self {
        match &e {
            BlobError::TooLarge { .. } => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "EntityTooLarge",
                e.to_string(),
            ),
            // A body check of the signature layer failed while the body streamed.
            BlobError::BodyRead { source } => match SignatureError::from_io(source) {
                Some(signature) => ApiError::new(
                    StatusCode::from_u16(signature.http_status())
                        .unwrap_or(StatusCode::BAD_REQUEST),
                    signature.code(),
                    signature.to_string(),
                ),
                None => ApiError::new(StatusCode::BAD_REQUEST, "IncompleteBody", e.to_string()),
            },
            BlobError::InvalidRange { .. } => ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "InvalidRange",
                e.to_string(),
            ),
            _ => ApiError::internal(&e),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Store(s) => s.into(),
            EngineError::Blob(b) => b.into(),
            EngineError::WorkflowNotFound(_) => ApiError::not_found(e.to_string()),
            EngineError::ObjectNotFound(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "NoSuchKey", e.to_string())
            }
            other => ApiError::internal(&other),
        }
    }
}

impl From<SignatureError> for ApiError {
    fn from(e: SignatureError) -> Self {
        let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::FORBIDDEN);
        ApiError::new(status, e.code(), e.to_string())
    }
}
