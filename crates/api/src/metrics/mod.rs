//! Prometheus metrics of the whole service at `GET /_reelflow/metrics`, in the text
//! exposition format (version 0.0.4), rendered with the `prometheus-client` crate.
//!
//! Two kinds of series, told apart by where their numbers come from:
//!
//! - **cluster-wide, read from the database at each scrape** (`cluster.rs`): runs and tasks by
//!   state, queue depth, running tasks and the age of the oldest waiting task per queue, the
//!   callback outbox gauges, and the per-node series of the node registry. Every process
//!   answers the same values, so scrape one API process for these.
//! - **process-local** ([`Metrics`]): the task duration histogram (observed by the engine of
//!   the process that ran the task), the HTTP latency histogram ([`http`]) and the callback
//!   attempt counters. Scrape every process and sum.
//!
//! The route sits behind the COS signature like every other request; `reelflow serve` can
//! also serve it unsigned on a separate listener ([`public_router`], `metrics_listen`), for a
//! Prometheus server that cannot sign. `/_reelflow/v1/metrics` answers the same text.

mod cluster;
pub mod http;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Extension, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use reelflow_engine::Engine;
use reelflow_notify::NotifierHandle;

use crate::admin::AdminError;
use crate::state::AppState;

pub use http::{HTTP_BUCKETS, HttpLabels};

/// The process-local series; cheap to clone (the series are shared).
#[derive(Debug, Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Task durations (the engine's) and HTTP latency, encoded as they are.
    registry: Registry,
    http: Family<HttpLabels, Histogram, http::HttpBuckets>,
}

impl Metrics {
    /// The series of this process, with the task duration histogram of `engine`.
    pub fn new(engine: &Engine) -> Self {
        let http = Family::new_with_constructor(http::HttpBuckets);
        let mut registry = Registry::default();
        registry.register(
            "reelflow_task_duration_seconds",
            "Time this process spent running tasks, by node type and outcome",
            engine.task_durations(),
        );
        registry.register(
            "reelflow_http_request_duration_seconds",
            "Time to the response head of HTTP requests, by route class, method and status",
            http.clone(),
        );
        Self {
            inner: Arc::new(Inner { registry, http }),
        }
    }

    /// The HTTP latency histogram ([`http::observe`] records into it).
    pub(crate) fn http(&self) -> &Family<HttpLabels, Histogram, http::HttpBuckets> {
        &self.inner.http
    }

    /// The whole exposition: cluster gauges from the store, the callback metrics of
    /// `notifier` (when this process runs one), the node registry, then the process-local
    /// histograms.
    pub async fn render(
        &self,
        state: &AppState,
        notifier: Option<&NotifierHandle>,
    ) -> Result<String, AdminError> {
        let mut text = cluster::render(state).await?;
        if let Some(notifier) = notifier {
            text.push_str(&notifier.metrics_text().await?);
        }
        text.push_str(&crate::admin::node_metrics_text(state).await?);
        encode(&mut text, &self.inner.registry);
        Ok(text)
    }
}

/// Appends `registry` in the text format (writing to a `String` cannot fail).
fn encode(text: &mut String, registry: &Registry) {
    let _ = prometheus_text::encode(text, registry);
}

/// The text as a response, with the 0.0.4 content type.
pub(crate) fn exposition(text: String) -> Response {
    (
        [(header::CONTENT_TYPE, prometheus_text::CONTENT_TYPE)],
        text,
    )
        .into_response()
}

/// `GET /_reelflow/metrics`.
pub(crate) async fn scrape(
    State(state): State<AppState>,
    Extension(metrics): Extension<Metrics>,
    notifier: Option<Extension<NotifierHandle>>,
) -> Result<Response, AdminError> {
    let notifier = notifier.map(|Extension(n)| n);
    Ok(exposition(metrics.render(&state, notifier.as_ref()).await?))
}

/// `GET /_reelflow/metrics` (and `/_reelflow/health`) without a signature, for a separate
/// listener that only a monitoring network reaches.
pub fn public_router(
    state: AppState,
    metrics: Metrics,
    notifier: Option<NotifierHandle>,
) -> Router {
    let router = Router::new()
        .route("/_reelflow/metrics", get(scrape))
        .route("/_reelflow/health", get(|| async { "ok\n" }))
        .layer(Extension(metrics));
    let router = match notifier {
        Some(notifier) => router.layer(Extension(notifier)),
        None => router,
    };
    router.with_state(state)
}

/// `GET /_reelflow/metrics` behind the COS signature, alone: what a worker process (which
/// serves no API) answers besides its health check. Anything else, signed or not, gets a
/// `501 NotImplemented` error document saying where requests go.
pub fn signed_router(state: AppState, metrics: Metrics) -> Router {
    Router::new()
        .route("/_reelflow/metrics", get(scrape))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::middleware::authenticate,
        ))
        .fallback(not_an_api_process)
        .layer(axum::middleware::from_fn(
            crate::middleware::request_id_and_errors,
        ))
        .layer(Extension(metrics))
        .with_state(state)
}

async fn not_an_api_process() -> crate::ApiError {
    crate::ApiError::new(
        axum::http::StatusCode::NOT_IMPLEMENTED,
        "NotImplemented",
        "this reelflow process runs with --role worker: it runs tasks and serves no COS or CI \
         API; send requests to a process with --role api or all",
    )
}
