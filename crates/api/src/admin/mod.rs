//! reelflow's own management API under `/_reelflow/v1/`: callback messages and their attempt
//! log, redelivery and recovery, per-bucket signing secrets, the node registry, and the
//! metrics text (the same as `/_reelflow/metrics`, see [`crate::metrics`]).
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
use axum::response::Response;
use axum::routing::{get, post};
use reelflow_notify::NotifierHandle;

pub use error::AdminError;
pub(crate) use nodes::metrics_text as node_metrics_text;

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

/// `GET /metrics`: the same text as `GET /_reelflow/metrics` ([`crate::metrics`]), but 503
/// in a process without a callback worker, as it always was.
async fn metrics(
    axum::extract::State(state): axum::extract::State<AppState>,
    Extension(metrics): Extension<crate::metrics::Metrics>,
    handle: Worker,
) -> Result<Response, AdminError> {
    let notifier = worker(handle)?;
    let text = metrics.render(&state, Some(&notifier)).await?;
    Ok(crate::metrics::exposition(text))
}

async fn not_found() -> AdminError {
    AdminError::not_found("no such /_reelflow/v1 route")
}
