//! reelflow's HTTP layer: the COS-compatible object API and the CI media-workflow API on one
//! port, plus our own `/_reelflow/` namespace (which can never be a bucket name).
//!
//! Request flow: [`middleware::request_id_and_errors`] (ids, error bodies) →
//! [`middleware::authenticate`] (COS signature) → [`dispatch`], which works out the bucket from
//! Host or path ([`context::resolve_target`]) and hands the request to the CI routes ([`ci`]) or
//! the object routes ([`cos`]). Handlers are thin: parsing and rules live in `reelflow-model`,
//! state changes in `reelflow-engine` and `reelflow-store`.

pub mod admin;
pub mod ci;
pub mod console;
pub mod context;
pub mod cos;
mod drain;
pub mod error;
pub mod header_case;
pub mod metrics;
pub mod middleware;
pub mod state;
pub mod xml;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub use error::ApiError;
pub use state::{ApiConfig, AppState};

use crate::context::{RequestId, Target, query_pairs, resolve_target};

/// What every handler gets besides the request: ids and the addressed bucket.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// This request's id (also in `x-ci-request-id`).
    pub request_id: String,
    /// Addressed bucket ("" for service-level requests).
    pub bucket: String,
    /// Decoded query pairs.
    pub query: Vec<(String, String)>,
    /// Signed with AWS SigV4: an S3 client, answered with S3 names (`x-amz-meta-*`).
    pub s3: bool,
}

/// The full application router, with a fresh set of process-local metrics.
pub fn router(state: AppState) -> Router {
    let metrics = metrics::Metrics::new(&state.engine);
    router_with_metrics(state, metrics)
}

/// The full application router, recording into and serving `metrics` (the same set a
/// separate [`metrics::public_router`] serves).
pub fn router_with_metrics(state: AppState, metrics: metrics::Metrics) -> Router {
    let timer = metrics::http::Timer::new(metrics.clone(), state.config.domains.clone());
    let signed = Router::new()
        .nest("/_reelflow/v1", admin::router())
        .route("/_reelflow/metrics", get(metrics::scrape))
        .merge(console::signed_routes())
        .fallback(dispatch)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::authenticate,
        ));
    Router::new()
        .route("/_reelflow/health", get(health))
        .merge(console::public_routes())
        .merge(signed)
        .layer(axum::middleware::from_fn(middleware::request_id_and_errors))
        .layer(axum::middleware::from_fn_with_state(
            timer,
            metrics::http::observe,
        ))
        .layer(axum::Extension(metrics))
        .with_state(state)
}

/// A request that names no bucket: GET Service (ListBuckets); service-level CI calls
/// (`ci.<region>.…`, e.g. DescribeMediaBuckets) are not served.
async fn service(
    state: &AppState,
    ctx: &Ctx,
    target: &Target,
    method: axum::http::Method,
) -> Result<Response, ApiError> {
    use axum::http::{Method, StatusCode};
    if target.ci_host {
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            format!(
                "the service-level CI operation {:?} is not supported by reelflow",
                target.rest
            ),
        ));
    }
    match (method, target.rest.as_str()) {
        (Method::GET, "") => cos::service::list_buckets(state, ctx).await,
        (_, "") => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "only GET is supported on the service",
        )),
        _ => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidBucketName",
            "no bucket in the Host header or path",
        )),
    }
}

async fn health(State(state): State<AppState>) -> Response {
    match state.store.list_buckets().await {
        Ok(_) => "ok\n".into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

async fn dispatch(State(state): State<AppState>, request: Request) -> Response {
    let target = resolve_target(
        request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok()),
        request.uri().path(),
        &state.config.domains,
    );
    let ctx = Ctx {
        request_id: request
            .extensions()
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default(),
        bucket: target.bucket.clone(),
        query: query_pairs(request.uri().query()),
        s3: context::Dialect::recorded(&request) == context::Dialect::S3,
    };
    let result = route(&state, &ctx, &target, request).await;
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn route(
    state: &AppState,
    ctx: &Ctx,
    target: &Target,
    request: Request,
) -> Result<Response, ApiError> {
    if target.bucket.is_empty() {
        return service(state, ctx, target, request.method().clone()).await;
    }
    // Path style with a CI resource name where the bucket goes: a service-level CI call that
    // names no bucket (the Python SDK in IP mode sends `ci_get_media_bucket`, `ci_open_pic_bucket`,
    // `ci_get_hls_play_key` so), unless a bucket of that name exists.
    if ci::is_unserved_ci_path(&target.bucket) && !state.store.bucket_exists(&target.bucket).await?
    {
        return Err(ApiError::new(
            axum::http::StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            format!(
                "the CI operation {:?} is not supported by reelflow",
                target.bucket
            ),
        ));
    }
    match ci::Route::parse(request.method(), &target.rest, target.ci_host, &ctx.query) {
        Some(route) => ci::handle(state, ctx, route, request).await,
        None => cos::handle(state, ctx, &target.rest, request).await,
    }
}
