//! reelflow's own management API under `/_reelflow/v1/`: callback messages and their attempt
//! log, redelivery and recovery, per-bucket signing secrets, and delivery metrics.
//!
//! These routes sit behind the same COS signature middleware as every other request (only
//! `/_reelflow/health` is open), answer JSON, and report errors as JSON `{code, message,
//! request_id}`. The callback worker's handle ([`reelflow_notify::NotifierHandle`]) reaches
//! the handlers as a request extension added by the binary; without it (an API-only process)
//! the outbox can still be read and changed, but secrets and metrics answer 503.

mod callbacks;
mod error;
mod nodes;
mod secrets;
mod views;

use axum::Router;
use axum::extract::Extension;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use reelflow_notify::NotifierHandle;

pub use error::AdminError;

use crate::state::AppState;

/// The `/_reelflow/v1` routes, to be nested under that prefix inside the signed router.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/callbacks", get(callbacks::list))
        .route("/callbacks/recover", post(callbacks::recover))
        .route("/callbacks/{id}", get(callbacks::show))
        .route("/callbacks/{id}/redeliver", post(callbacks::redeliver))
        .route("/buckets/{bucket}/callback-secret", get(secrets::show))
        .route(
            "/buckets/{bucket}/callback-secret/rotate",
            post(secrets::rotate),
        )
        .route("/metrics", get(metrics))
        .route("/nodes", get(nodes::list))
        .fallback(not_found)
}

/// The callback worker of this process, when it runs one.
pub(crate) type Worker = Option<Extension<NotifierHandle>>;

pub(crate) fn worker(worker: Worker) -> Result<NotifierHandle, AdminError> {
    worker
        .map(|Extension(handle)| handle)
        .ok_or_else(AdminError::no_worker)
}

async fn metrics(
    axum::extract::State(state): axum::extract::State<AppState>,
    handle: Worker,
) -> Result<Response, AdminError> {
    let mut text = worker(handle)?.metrics_text().await?;
    text.push_str(&nodes::metrics_text(&state).await?);
    let content_type = "text/plain; version=0.0.4; charset=utf-8";
    Ok(([(header::CONTENT_TYPE, content_type)], text).into_response())
}

async fn not_found() -> AdminError {
    AdminError::not_found("no such /_reelflow/v1 route")
}
