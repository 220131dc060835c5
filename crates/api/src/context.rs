//! Per-request context: which bucket and key a request addresses, and its request id.
//!
//! COS addresses the bucket by the Host's first label (`<bucket>.cos.<region>.myqcloud.com`,
//! `.ci.` alike — the Python SDK sends CI calls to the `.cos.` host too). When Host is an IP
//! address or `localhost`, the bucket is the first path segment (path-style).

use percent_encoding::percent_decode_str;
use reelflow_model::object::valid_bucket_name;

/// The request id, put into request extensions by the outer middleware.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// How a request is signed, decided once by the outer middleware and kept in the request's
/// extensions: AWS SigV4 (an S3 client, answered in S3's terms) or COS q-sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// COS q-sign (or unsigned).
    #[default]
    Cos,
    /// AWS Signature V4.
    S3,
}

impl Dialect {
    /// The dialect of a request with these headers and raw query.
    pub fn of(headers: &axum::http::HeaderMap, raw_query: Option<&str>) -> Self {
        let authorization = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if reelflow_signature::is_sigv4(authorization, raw_query) {
            Self::S3
        } else {
            Self::Cos
        }
    }

    /// The dialect the outer middleware recorded on `request`.
    pub fn recorded<B>(request: &axum::http::Request<B>) -> Self {
        request
            .extensions()
            .get::<Self>()
            .copied()
            .unwrap_or_default()
    }
}

/// What a request addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Bucket name, empty for service-level requests.
    pub bucket: String,
    /// Decoded key or CI path below the bucket, without the leading `/`.
    pub rest: String,
    /// The Host names the CI endpoint (`.ci.`).
    pub ci_host: bool,
}

impl Target {
    fn service(rest: &str, ci_host: bool) -> Self {
        Self {
            bucket: String::new(),
            rest: rest.to_owned(),
            ci_host,
        }
    }

    fn path_style(path: &str) -> Self {
        let (bucket, rest) = path.split_once('/').unwrap_or((path, ""));
        Self {
            bucket: bucket.to_owned(),
            rest: rest.to_owned(),
            ci_host: false,
        }
    }
}

/// Works out the bucket and the rest of the path from Host and the raw URI path.
///
/// In order (first match wins), with `domains` the configured `REELFLOW_DOMAIN` names:
/// 1. `<bucket>.<domain>` → virtual-host style; `<domain>` itself → path style.
/// 2. `service.cos.…` / `service.ci.…` (GET Service) and `ci.<region>.…` (service-level CI)
///    → no bucket.
/// 3. `<bucket>.cos.<region>.…` / `<bucket>.ci.<region>.…` → virtual-host style (COS names);
///    `<bucket>.pic.<region>.…` too, as a CI host.
/// 4. Anything else (an IP address, `localhost`, `cos.<region>.…`) → path style:
///    `/<bucket>/<key>`, and `/` alone addresses the service.
pub fn resolve_target(host: Option<&str>, raw_path: &str, domains: &[String]) -> Target {
    let decoded = percent_decode_str(raw_path)
        .decode_utf8_lossy()
        .into_owned();
    let path = decoded.strip_prefix('/').unwrap_or(&decoded);
    let host = host.unwrap_or("").to_ascii_lowercase();
    let hostname = strip_port(&host).trim_end_matches('.');
    for domain in domains {
        if hostname == domain {
            return Target::path_style(path);
        }
        if let Some(bucket) = hostname.strip_suffix(domain.as_str())
            && let Some(bucket) = bucket.strip_suffix('.')
            && valid_bucket_name(bucket)
        {
            return Target {
                bucket: bucket.to_owned(),
                rest: path.to_owned(),
                ci_host: false,
            };
        }
    }
    if let Some((first, suffix)) = hostname.split_once('.') {
        let cos_or_ci = suffix.starts_with("cos.") || suffix.starts_with("ci.");
        if first == "service" && cos_or_ci {
            return Target::service(path, suffix.starts_with("ci."));
        }
        if first == "ci" && suffix.contains('.') {
            return Target::service(path, true);
        }
        if cos_or_ci && valid_bucket_name(first) {
            return Target {
                bucket: first.to_owned(),
                rest: path.to_owned(),
                ci_host: suffix.starts_with("ci."),
            };
        }
        // The image-processing host (`<bucket>.pic.<region>.…`) serves only CI calls
        // (image styles), none of which reelflow offers.
        if suffix.starts_with("pic.") && valid_bucket_name(first) {
            return Target {
                bucket: first.to_owned(),
                rest: path.to_owned(),
                ci_host: true,
            };
        }
    }
    Target::path_style(path)
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_once(']').map_or(host, |(h, _)| &h[1..]);
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

/// Query pairs decoded as application/x-www-form-urlencoded (`+` is a space), as the SDKs send.
pub fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The value of query parameter `name` (case-insensitive), if present.
pub fn query_value<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_host_and_path_style() {
        let t = resolve_target(
            Some("examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com"),
            "/in/a%20b.mp4",
            &[],
        );
        assert_eq!(
            (t.bucket.as_str(), t.rest.as_str(), t.ci_host),
            ("examplebucket-1250000000", "in/a b.mp4", false)
        );
        let t = resolve_target(
            Some("b-1.ci.ap-beijing.myqcloud.com:9600"),
            "/workflow",
            &[],
        );
        assert_eq!(
            (t.bucket.as_str(), t.rest.as_str(), t.ci_host),
            ("b-1", "workflow", true)
        );
        let t = resolve_target(Some("127.0.0.1:9600"), "/b-1/dir/key.mp4", &[]);
        assert_eq!((t.bucket.as_str(), t.rest.as_str()), ("b-1", "dir/key.mp4"));
        let t = resolve_target(Some("localhost"), "/b-1", &[]);
        assert_eq!((t.bucket.as_str(), t.rest.as_str()), ("b-1", ""));
        let t = resolve_target(Some("[::1]:9600"), "/b-1/k", &[]);
        assert_eq!((t.bucket.as_str(), t.rest.as_str()), ("b-1", "k"));
    }

    #[test]
    fn configured_domains_and_service_hosts() {
        let domains = vec!["cos.example.internal".to_owned()];
        let t = resolve_target(Some("b-1.cos.example.internal:9600"), "/a/k.mp4", &domains);
        assert_eq!((t.bucket.as_str(), t.rest.as_str()), ("b-1", "a/k.mp4"));
        let t = resolve_target(Some("cos.example.internal"), "/b-1/k", &domains);
        assert_eq!((t.bucket.as_str(), t.rest.as_str()), ("b-1", "k"));
        let t = resolve_target(Some("cos.example.internal"), "/", &domains);
        assert_eq!((t.bucket.as_str(), t.rest.as_str()), ("", ""));
        let t = resolve_target(Some("service.cos.myqcloud.com"), "/", &[]);
        assert_eq!((t.bucket.as_str(), t.ci_host), ("", false));
        let t = resolve_target(Some("ci.ap-guangzhou.myqcloud.com"), "/mediabucket", &[]);
        assert_eq!(
            (t.bucket.as_str(), t.rest.as_str(), t.ci_host),
            ("", "mediabucket", true)
        );
        let t = resolve_target(Some("b-1.pic.ap-guangzhou.myqcloud.com"), "/", &[]);
        assert_eq!((t.bucket.as_str(), t.ci_host), ("b-1", true));
        let t = resolve_target(Some("cos.ap-guangzhou.myqcloud.com"), "/b-1/k", &[]);
        assert_eq!((t.bucket.as_str(), t.rest.as_str()), ("b-1", "k"));
        // A dotted label is no bucket name: path style.
        let t = resolve_target(Some("x.y.cos.example.internal"), "/b-1/k", &domains);
        assert_eq!(t.bucket, "b-1");
    }

    #[test]
    fn query_decoding_matches_python_requests() {
        let q = query_pairs(Some("workflowId=w1&object=dir%2Fa+b%2Bc.mp4&active"));
        assert_eq!(query_value(&q, "workflowid"), Some("w1"));
        assert_eq!(query_value(&q, "object"), Some("dir/a b+c.mp4"));
        assert_eq!(query_value(&q, "active"), Some(""));
    }
}
