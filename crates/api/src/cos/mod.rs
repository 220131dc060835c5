//! The COS-compatible object API (placeholder until the handlers land).

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;

use crate::state::AppState;
use crate::{ApiError, Ctx};

/// Serves a bucket-level (`key` empty) or object-level request.
pub async fn handle(
    _state: &AppState,
    _ctx: &Ctx,
    _key: &str,
    _request: Request,
) -> Result<Response, ApiError> {
    Err(ApiError::new(StatusCode::NOT_IMPLEMENTED, "NotImplemented", "not yet"))
}
