//! HTTP request latency: a middleware that times every request on the API listener to its
//! response head (a streamed download's body is not included) and records it by route class,
//! method and status.
//!
//! The route class is one of a few fixed names, never a bucket or key, so the number of
//! series stays small: `health`, `metrics`, `admin` (`/_reelflow/v1`), `console`, `service`
//! (no bucket: ListBuckets), `ci` (the CI workflow/template/job/queue API), `bucket` (a
//! bucket-level COS call) and `object` (an object-level COS call), or `other` for any other
//! `/_reelflow/` path.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::MetricConstructor;
use prometheus_client::metrics::histogram::Histogram;

use super::Metrics;
use crate::context::{query_pairs, resolve_target};

/// Upper bounds of the latency buckets, in seconds.
pub const HTTP_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Labels of one latency series.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// Route class (see the module documentation).
    pub route: &'static str,
    /// Request method (`GET`, …, or `other`).
    pub method: &'static str,
    /// Response status code.
    pub status: u16,
}

/// Constructor of each series' histogram.
#[derive(Debug, Clone, Copy, Default)]
pub struct HttpBuckets;

impl MetricConstructor<Histogram> for HttpBuckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(HTTP_BUCKETS)
    }
}

/// What [`observe`] needs: the histogram, and the domains that decide bucket addressing.
#[derive(Debug, Clone)]
pub struct Timer {
    metrics: Metrics,
    domains: Arc<Vec<String>>,
}

impl Timer {
    /// A timer recording into `metrics`, classifying with the virtual-host `domains`.
    pub fn new(metrics: Metrics, domains: Vec<String>) -> Self {
        Self {
            metrics,
            domains: Arc::new(domains),
        }
    }
}

/// The middleware: runs the request and records its latency.
pub async fn observe(State(timer): State<Timer>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = route_class(&request, &timer.domains);
    let method = method_name(request.method());
    let response = next.run(request).await;
    let labels = HttpLabels {
        route,
        method,
        status: response.status().as_u16(),
    };
    timer
        .metrics
        .http()
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
    response
}

fn route_class(request: &Request, domains: &[String]) -> &'static str {
    let path = request.uri().path();
    if let Some(own) = path.strip_prefix("/_reelflow/") {
        return match own.split('/').next().unwrap_or("") {
            "health" => "health",
            "metrics" => "metrics",
            "v1" => "admin",
            "console" => "console",
            _ => "other",
        };
    }
    let host = request
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok());
    let target = resolve_target(host, path, domains);
    if target.bucket.is_empty() {
        return "service";
    }
    let query = query_pairs(request.uri().query());
    if crate::ci::Route::parse(request.method(), &target.rest, target.ci_host, &query).is_some() {
        "ci"
    } else if target.rest.is_empty() {
        "bucket"
    } else {
        "object"
    }
}

fn method_name(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::POST => "POST",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(method: Method, uri: &str, host: &str) -> &'static str {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header("host", host)
            .body(axum::body::Body::empty())
            .unwrap();
        route_class(&request, &[])
    }

    #[test]
    fn requests_fall_into_a_few_route_classes() {
        let ip = "127.0.0.1:9600";
        assert_eq!(class(Method::GET, "/_reelflow/health", ip), "health");
        assert_eq!(class(Method::GET, "/_reelflow/metrics", ip), "metrics");
        assert_eq!(class(Method::GET, "/_reelflow/v1/nodes", ip), "admin");
        assert_eq!(class(Method::GET, "/_reelflow/console/", ip), "console");
        assert_eq!(class(Method::GET, "/_reelflow/elsewhere", ip), "other");
        assert_eq!(class(Method::GET, "/", ip), "service");
        assert_eq!(class(Method::PUT, "/b-1250000000", ip), "bucket");
        assert_eq!(class(Method::PUT, "/b-1250000000/in/a.mp4", ip), "object");
        assert_eq!(class(Method::POST, "/b-1250000000/workflow", ip), "ci");
        let cos = "b-1250000000.cos.ap-guangzhou.myqcloud.com";
        assert_eq!(class(Method::GET, "/in/a.mp4", cos), "object");
        let ci = "b-1250000000.ci.ap-guangzhou.myqcloud.com";
        assert_eq!(class(Method::GET, "/workflow", ci), "ci");
    }

    #[test]
    fn unusual_methods_share_one_label() {
        assert_eq!(method_name(&Method::GET), "GET");
        assert_eq!(
            method_name(&Method::from_bytes(b"PROPFIND").unwrap()),
            "other"
        );
    }
}
