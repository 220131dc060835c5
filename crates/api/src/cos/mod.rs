//! The COS-compatible object API: the subset of bucket and object operations the SDKs and tools
//! use (see "COS object API" in `decisions.md`).
//!
//! [`handle`] dispatches on the method and on whether a key was addressed: bucket operations
//! ([`bucket`]), listing ([`list`]), and object upload, download, metadata, deletion and copy
//! ([`object`], [`copy`]), and the synchronous media calls `GET /<key>?ci-process=…`
//! ([`process`]). Shared helpers (bucket and key checks, time and ETag formats) live here.

mod bucket;
mod copy;
mod delete;
mod list;
mod list_v2;
mod multipart;
mod multipart_list;
mod object;
mod part_copy;
mod process;
#[cfg(test)]
mod proptests;
pub mod service;

use std::time::{Duration, UNIX_EPOCH};

use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use reelflow_model::object::{KeyError, validate_key};

use crate::state::AppState;
use crate::{ApiError, Ctx};

/// Query parameters naming COS sub-resources and operations reelflow does not implement. A
/// request carrying one is refused with 501 rather than being mistaken for a plain object or
/// bucket request (e.g. `GET /?acl` must not answer a listing).
const UNSUPPORTED_SUBRESOURCES: &[&str] = &[
    "accelerate",
    "acl",
    "append",
    "cors",
    "domain",
    "encryption",
    "intelligenttiering",
    "inventory",
    "lifecycle",
    "logging",
    "object-lock",
    "origin",
    "policy",
    "referer",
    "replication",
    "restore",
    "select",
    "style",
    "tagging",
    "torrent",
    "versionid",
    "versioning",
    "versions",
    "website",
];

/// Serves a bucket-level (`key` empty) or object-level request.
pub async fn handle(
    state: &AppState,
    ctx: &Ctx,
    key: &str,
    request: Request,
) -> Result<Response, ApiError> {
    if let Some((name, _)) = ctx
        .query
        .iter()
        .find(|(name, _)| UNSUPPORTED_SUBRESOURCES.contains(&name.to_ascii_lowercase().as_str()))
    {
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            format!("the {name:?} sub-resource or operation is not supported by reelflow"),
        ));
    }
    if has_param(ctx, process::PARAM) {
        if key.is_empty() {
            return Err(process::not_implemented("ci-process on a bucket"));
        }
        check_key(key)?;
        return process::handle(state, ctx, key, request).await;
    }
    let method = request.method().clone();
    if has_param(ctx, "uploads") && key.is_empty() && method == Method::GET {
        return multipart_list::list_uploads(state, ctx).await;
    }
    if !key.is_empty() && (has_param(ctx, "uploads") || has_param(ctx, "uploadId")) {
        check_key(key)?;
        return multipart_request(state, ctx, key, request).await;
    }
    if key.is_empty() {
        return match method {
            Method::PUT => bucket::create(state, ctx).await,
            Method::HEAD => bucket::head(state, ctx).await,
            Method::DELETE => bucket::delete(state, ctx).await,
            Method::GET if has_param(ctx, "location") => bucket::location(state, ctx).await,
            Method::GET => list::list(state, ctx).await,
            Method::POST if has_param(ctx, "delete") => {
                let (parts, body) = request.into_parts();
                delete::delete_objects(state, ctx, &parts.headers, body).await
            }
            other => Err(method_not_allowed(&other, "a bucket")),
        };
    }
    check_key(key)?;
    match method {
        Method::PUT if copy::has_copy_source(request.headers()) => {
            copy::copy(state, ctx, key, request.headers()).await
        }
        Method::PUT => object::put(state, ctx, key, request).await,
        Method::GET => object::get(state, ctx, key, request.headers(), true).await,
        Method::HEAD => object::get(state, ctx, key, request.headers(), false).await,
        Method::DELETE => object::delete(state, ctx, key).await,
        other => Err(method_not_allowed(&other, "an object")),
    }
}

/// The multipart operations on an object (api-reference-2.md §1.1).
async fn multipart_request(
    state: &AppState,
    ctx: &Ctx,
    key: &str,
    request: Request,
) -> Result<Response, ApiError> {
    let method = request.method().clone();
    match method {
        Method::POST if has_param(ctx, "uploads") => {
            multipart::initiate(state, ctx, key, request.headers()).await
        }
        Method::PUT if has_param(ctx, "uploadId") && copy::has_copy_source(request.headers()) => {
            part_copy::upload_part_copy(state, ctx, key, request.headers()).await
        }
        Method::PUT if has_param(ctx, "uploadId") => {
            multipart::upload_part(state, ctx, key, request).await
        }
        Method::POST if has_param(ctx, "uploadId") => {
            let host = multipart::request_host(request.headers());
            multipart::complete(state, ctx, key, &host, request.into_body()).await
        }
        Method::DELETE if has_param(ctx, "uploadId") => multipart::abort(state, ctx, key).await,
        Method::GET if has_param(ctx, "uploadId") => {
            multipart_list::list_parts(state, ctx, key).await
        }
        other => Err(method_not_allowed(&other, "a multipart upload")),
    }
}

/// Whether the query names `param` (case-insensitive), with or without a value.
fn has_param(ctx: &Ctx, param: &str) -> bool {
    ctx.query.iter().any(|(k, _)| k.eq_ignore_ascii_case(param))
}

fn method_not_allowed(method: &Method, what: &str) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        format!("{method} is not supported on {what}"),
    )
}

/// Refuses keys the catalog cannot hold: 400 `KeyTooLong` or `InvalidArgument`.
fn check_key(key: &str) -> Result<(), ApiError> {
    validate_key(key).map_err(|e| {
        let code = match e {
            KeyError::TooLong => "KeyTooLong",
            _ => "InvalidArgument",
        };
        ApiError::new(
            StatusCode::BAD_REQUEST,
            code,
            format!("invalid object key {key:?}: {e}"),
        )
    })
}

/// 404 `NoSuchBucket`.
fn no_such_bucket(bucket: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NoSuchBucket",
        format!("bucket {bucket} does not exist"),
    )
}

/// 404 `NoSuchKey`.
fn no_such_key(bucket: &str, key: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NoSuchKey",
        format!("object {key:?} does not exist in bucket {bucket}"),
    )
}

/// Fails with `NoSuchBucket` unless the bucket exists.
async fn require_bucket(state: &AppState, bucket: &str) -> Result<(), ApiError> {
    if state.store.bucket_exists(bucket).await? {
        Ok(())
    } else {
        Err(no_such_bucket(bucket))
    }
}

/// The 404 for a missing object: `NoSuchBucket` when the bucket is missing too, else `NoSuchKey`.
async fn missing_object(state: &AppState, bucket: &str, key: &str) -> ApiError {
    match state.store.bucket_exists(bucket).await {
        Ok(true) => no_such_key(bucket, key),
        Ok(false) => no_such_bucket(bucket),
        Err(e) => e.into(),
    }
}

/// The CRC-64 header COS clients check (api-reference-2.md §1.4).
static CRC64_HEADER: axum::http::HeaderName =
    axum::http::HeaderName::from_static("x-cos-hash-crc64ecma");

/// An XML element name without its namespace prefix (S3 clients send `xmlns`, some prefixes).
fn local_name(name: &str) -> &str {
    name.rsplit_once(':').map_or(name, |(_, local)| local)
}

use reelflow_model::clock::now_ms;

/// `2026-11-27T12:00:00.000Z`: the listing and copy-result time format.
fn iso8601_ms(unix_ms: i64) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .format(&format)
        .unwrap_or_default()
}

/// `Fri, 27 Nov 2026 12:00:00 GMT`: the `Last-Modified` header format (RFC 1123).
fn http_date(unix_ms: i64) -> String {
    let ms = u64::try_from(unix_ms).unwrap_or(0);
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_millis(ms))
}

/// The quoted ETag of an MD5 hex digest.
fn quoted_etag(md5_hex: &str) -> String {
    format!("\"{md5_hex}\"")
}

/// A header's value as text (non-UTF-8 bytes replaced), if present.
fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// The user metadata headers, names lower-cased, in the order received: `x-cos-meta-*`, and
/// S3 clients' `x-amz-meta-*` stored under the COS name (COS treats them alike).
fn user_meta(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|(name, value)| {
            let name = name.as_str();
            let suffix = name
                .strip_prefix("x-cos-meta-")
                .or_else(|| name.strip_prefix("x-amz-meta-"))?;
            Some((
                format!("x-cos-meta-{suffix}"),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            ))
        })
        .collect()
}

/// The Content-Type to store: as sent, or `application/octet-stream`.
fn content_type(headers: &HeaderMap) -> String {
    header_text(headers, "content-type")
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "application/octet-stream".to_owned())
}

/// Records an uploaded blob as `ctx.bucket/key` and starts the workflows it triggers; if that
/// fails, the blob is deleted so nothing is left half-written.
async fn commit_upload(
    state: &AppState,
    ctx: &Ctx,
    key: &str,
    written: &reelflow_objects::BlobWritten,
    content_type: String,
    user_meta: Vec<(String, String)>,
) -> Result<reelflow_model::object::ObjectRecord, ApiError> {
    let record = reelflow_model::object::ObjectRecord {
        bucket: ctx.bucket.clone(),
        key: key.to_owned(),
        blob_id: written.id.clone(),
        size: written.size,
        etag: written.md5_hex.clone(),
        crc64: Some(written.crc64),
        content_type,
        last_modified_ms: now_ms(),
        user_meta,
        origin: reelflow_model::object::ObjectOrigin::Upload,
    };
    if let Err(e) = state.engine.object_uploaded(record.clone()).await {
        if let Err(error) = state.blobs.delete(&written.id).await {
            tracing::warn!(%error, blob = written.id, "could not delete an unused blob");
        }
        return Err(e.into());
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_formats() {
        // 2026-11-27T12:00:00.123Z
        let ms = 1_795_780_800_123;
        assert_eq!(iso8601_ms(ms), "2026-11-27T12:00:00.123Z");
        assert_eq!(http_date(ms), "Fri, 27 Nov 2026 12:00:00 GMT");
        assert_eq!(iso8601_ms(0), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn key_errors_map_to_codes() {
        assert!(check_key("a/b.mp4").is_ok());
        assert_eq!(check_key("a/../b").unwrap_err().code, "InvalidArgument");
        assert_eq!(check_key(&"k".repeat(851)).unwrap_err().code, "KeyTooLong");
    }

    #[test]
    fn meta_headers_keep_order_and_lowercase() {
        let mut headers = HeaderMap::new();
        headers.insert("X-Cos-Meta-Zeta", "1".parse().unwrap());
        headers.insert("content-type", "video/mp4".parse().unwrap());
        headers.insert("x-cos-meta-alpha", "two words".parse().unwrap());
        assert_eq!(
            user_meta(&headers),
            vec![
                ("x-cos-meta-zeta".to_owned(), "1".to_owned()),
                ("x-cos-meta-alpha".to_owned(), "two words".to_owned()),
            ]
        );
        assert_eq!(content_type(&headers), "video/mp4");
        assert_eq!(content_type(&HeaderMap::new()), "application/octet-stream");
    }
}
