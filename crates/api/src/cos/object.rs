//! PUT, GET, HEAD and DELETE Object.
//!
//! Bodies stream in both directions: an upload goes straight from the request body into the
//! blob store (which computes the MD5 on the way), a download straight from the blob store into
//! the response. Nothing is buffered whole.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use futures::{StreamExt, TryStreamExt};
use reelflow_model::object::ObjectRecord;
use reelflow_objects::{BlobError, BlobWritten, ByteStream};

use super::{
    commit_upload, content_type, header_text, http_date, missing_object, quoted_etag,
    require_bucket, user_meta,
};
use crate::state::AppState;
use crate::{ApiError, Ctx};
use reelflow_objects::range::{RangeAnswer, resolve};

/// Query parameters that override response headers of GET/HEAD Object.
const RESPONSE_OVERRIDES: &[(&str, HeaderName)] = &[
    ("response-content-type", header::CONTENT_TYPE),
    ("response-content-language", header::CONTENT_LANGUAGE),
    ("response-expires", header::EXPIRES),
    ("response-cache-control", header::CACHE_CONTROL),
    ("response-content-disposition", header::CONTENT_DISPOSITION),
    ("response-content-encoding", header::CONTENT_ENCODING),
];

/// `PUT /<key>`: stores the streamed body and records the object, starting the workflows it
/// triggers. Answers 200 with the quoted MD5 as `ETag`.
pub(super) async fn put(
    state: &AppState,
    ctx: &Ctx,
    key: &str,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let headers = request.headers();
    let expected_md5 = content_md5(headers)?;
    let limit = state.config.max_object_size;
    let declared =
        header_text(headers, "content-length").and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(ApiError::from(BlobError::TooLarge { limit }));
    }
    require_bucket(state, &ctx.bucket).await?;
    let content_type = content_type(headers);
    let user_meta = user_meta(headers);
    let written = store_body(state, request.into_body(), limit, expected_md5).await?;
    commit_upload(state, ctx, key, &written, content_type, user_meta).await?;
    let mut response = StatusCode::OK.into_response();
    super::multipart::part_headers(response.headers_mut(), &written);
    Ok(response)
}

/// Streams a request body into a new blob of at most `limit` bytes; with `expected_md5` (from
/// `Content-MD5`), a body with another MD5 is deleted and refused with 400 `BadDigest`.
pub(super) async fn store_body(
    state: &AppState,
    body: axum::body::Body,
    limit: u64,
    expected_md5: Option<String>,
) -> Result<BlobWritten, ApiError> {
    let body: ByteStream = body
        .into_data_stream()
        .map_err(std::io::Error::other)
        .boxed();
    let written = state.blobs.put_stream(body, Some(limit)).await?;
    if let Some(expected) = expected_md5
        && expected != written.md5_hex
    {
        discard_blob(state, &written.id).await;
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "BadDigest",
            format!(
                "the Content-MD5 you specified ({expected}) did not match the body's MD5 ({})",
                written.md5_hex
            ),
        ));
    }
    Ok(written)
}

/// The `Content-MD5` header as lowercase hex: `None` when absent, 400 `InvalidDigest` when it is
/// not the base64 of 16 bytes.
pub(super) fn content_md5(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = header_text(headers, "content-md5") else {
        return Ok(None);
    };
    let invalid = || {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidDigest",
            format!("the Content-MD5 you specified ({value:?}) is not the base64 of an MD5 digest"),
        )
    };
    let digest = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .map_err(|_| invalid())?;
    if digest.len() != 16 {
        return Err(invalid());
    }
    Ok(Some(hex::encode(digest)))
}

/// Deletes a blob that will not be referenced; failures are only logged.
pub(super) async fn discard_blob(state: &AppState, id: &str) {
    if let Err(error) = state.blobs.delete(id).await {
        tracing::warn!(%error, blob = id, "could not delete an unused blob");
    }
}

/// `GET /<key>` (`with_body`) and `HEAD /<key>`: the object's headers, and for GET its body or
/// the requested byte range.
pub(super) async fn get(
    state: &AppState,
    ctx: &Ctx,
    key: &str,
    headers: &HeaderMap,
    with_body: bool,
) -> Result<Response, ApiError> {
    // A concurrent overwrite can delete the blob between reading the record and opening the
    // blob; reading the record again then finds the new blob.
    let mut attempts = 0;
    loop {
        attempts += 1;
        let Some(record) = state.store.get_object(&ctx.bucket, key).await? else {
            return Err(missing_object(state, &ctx.bucket, key).await);
        };
        if let Some(response) = preconditions(headers, &record)? {
            return Ok(response);
        }
        let range = if if_range_holds(headers, &record) {
            resolve(header_text(headers, "range").as_deref(), record.size)
        } else {
            RangeAnswer::Whole
        };
        let span = match range {
            RangeAnswer::Whole => None,
            RangeAnswer::Partial { start, end } => Some((start, end)),
            RangeAnswer::Unsatisfiable => {
                let mut response = ApiError::new(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "InvalidRange",
                    format!(
                        "the requested range is not satisfiable for an object of {} bytes",
                        record.size
                    ),
                )
                .into_response();
                insert(
                    response.headers_mut(),
                    header::CONTENT_RANGE,
                    &format!("bytes */{}", record.size),
                );
                return Ok(response);
            }
        };
        let body = if with_body {
            match state.blobs.get(&record.blob_id, span).await {
                Ok(stream) => Body::from_stream(stream),
                Err(BlobError::NotFound { .. }) if attempts < 3 => continue,
                Err(e) => return Err(e.into()),
            }
        } else {
            Body::empty()
        };
        let (status, length) = match span {
            None => (StatusCode::OK, record.size),
            Some((start, end)) => (StatusCode::PARTIAL_CONTENT, end - start + 1),
        };
        let mut response = Response::new(body);
        *response.status_mut() = status;
        let out = response.headers_mut();
        object_headers(out, &record, ctx.s3);
        insert(out, header::CONTENT_LENGTH, &length.to_string());
        if let Some((start, end)) = span {
            insert(
                out,
                header::CONTENT_RANGE,
                &format!("bytes {start}-{end}/{}", record.size),
            );
        }
        for (param, name) in RESPONSE_OVERRIDES {
            if let Some(value) = crate::context::query_value(&ctx.query, param) {
                if *name == header::CONTENT_DISPOSITION {
                    insert(out, name.clone(), &content_disposition(value));
                } else {
                    insert(out, name.clone(), value);
                }
            }
        }
        return Ok(response);
    }
}

/// The metadata headers of GET and HEAD answers; user metadata as `x-amz-meta-*` for S3
/// clients (`s3`), else `x-cos-meta-*`.
fn object_headers(out: &mut HeaderMap, record: &ObjectRecord, s3: bool) {
    insert(out, header::CONTENT_TYPE, &record.content_type);
    insert(out, header::ETAG, &quoted_etag(&record.etag));
    insert(
        out,
        header::LAST_MODIFIED,
        &http_date(record.last_modified_ms),
    );
    insert(out, header::ACCEPT_RANGES, "bytes");
    if let Some(crc) = record.crc64 {
        insert(out, super::CRC64_HEADER.clone(), &crc.to_string());
    }
    for (name, value) in &record.user_meta {
        let name = match name.strip_prefix("x-cos-meta-") {
            Some(suffix) if s3 => format!("x-amz-meta-{suffix}"),
            _ => name.clone(),
        };
        if let Ok(name) = HeaderName::from_bytes(name.as_bytes())
            && let Ok(value) = HeaderValue::from_bytes(value.as_bytes())
        {
            out.append(name, value);
        }
    }
}

/// A `Content-Disposition` whose file name survives every browser byte for byte (RFC 6266):
/// a quoted `filename="…"` holding anything beyond plain ASCII, or a `%`, `\` or `"` (which
/// browsers percent-decode or unescape differently), gets `filename*=UTF-8''…` (RFC 5987, which browsers
/// prefer) with the exact name, and an ASCII stand-in in `filename`. Other values are kept.
pub(super) fn content_disposition(value: &str) -> String {
    const ATTR_CHAR: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'!')
        .remove(b'#')
        .remove(b'$')
        .remove(b'&')
        .remove(b'+')
        .remove(b'-')
        .remove(b'.')
        .remove(b'^')
        .remove(b'_')
        .remove(b'`')
        .remove(b'|')
        .remove(b'~');
    if value.to_ascii_lowercase().contains("filename*") {
        return value.to_owned();
    }
    let Some(at) = value.to_ascii_lowercase().find("filename=\"") else {
        return value.to_owned();
    };
    let start = at + "filename=\"".len();
    // The quoted string, with `\x` escapes resolved.
    let (mut name, mut end, mut escaped) = (String::new(), None, false);
    for (i, c) in value[start..].char_indices() {
        match c {
            _ if escaped => {
                name.push(c);
                escaped = false;
            }
            '\\' => escaped = true,
            '"' => {
                end = Some(start + i + 1);
                break;
            }
            _ => name.push(c),
        }
    }
    let Some(end) = end else {
        return value.to_owned();
    };
    if name
        .chars()
        .all(|c| c.is_ascii() && !c.is_ascii_control() && !matches!(c, '%' | '\\' | '"'))
    {
        return value.to_owned();
    }
    let fallback: String = name
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '%' && c != '\\' && c != '"' => c,
            _ => '_',
        })
        .collect();
    let encoded = percent_encoding::utf8_percent_encode(&name, ATTR_CHAR);
    format!(
        "{}filename=\"{fallback}\"; filename*=UTF-8''{encoded}{}",
        &value[..at],
        &value[end..]
    )
}

/// Sets a header, skipping values that cannot be sent.
pub(super) fn insert(out: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_bytes(value.as_bytes()) {
        out.insert(name, value);
    }
}

/// Evaluates `If-Match`, `If-Unmodified-Since` (412) and `If-None-Match`, `If-Modified-Since`
/// (304), in the order RFC 9110 §13.2.2 prescribes. `Some` is the answer to send instead.
fn preconditions(headers: &HeaderMap, record: &ObjectRecord) -> Result<Option<Response>, ApiError> {
    let modified_secs = record.last_modified_ms.div_euclid(1000);
    let failed = || {
        ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "PreconditionFailed",
            "a precondition (If-Match or If-Unmodified-Since) does not hold",
        )
    };
    if let Some(tags) = header_text(headers, "if-match") {
        if !etag_listed(&tags, &record.etag) {
            return Err(failed());
        }
    } else if let Some(since) = header_date(headers, "if-unmodified-since")
        && modified_secs > since
    {
        return Err(failed());
    }
    let not_modified = if let Some(tags) = header_text(headers, "if-none-match") {
        etag_listed(&tags, &record.etag)
    } else {
        header_date(headers, "if-modified-since").is_some_and(|since| modified_secs <= since)
    };
    if not_modified {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        let out = response.headers_mut();
        insert(out, header::ETAG, &quoted_etag(&record.etag));
        insert(
            out,
            header::LAST_MODIFIED,
            &http_date(record.last_modified_ms),
        );
        return Ok(Some(response));
    }
    Ok(None)
}

/// `If-Range`: the range applies only when the validator still matches.
fn if_range_holds(headers: &HeaderMap, record: &ObjectRecord) -> bool {
    let Some(value) = header_text(headers, "if-range") else {
        return true;
    };
    let value = value.trim();
    if value.starts_with('"') || value.starts_with("W/") {
        return etag_listed(value, &record.etag) && !value.starts_with("W/");
    }
    httpdate::parse_http_date(value)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .is_some_and(|d| {
            i64::try_from(d.as_secs()).ok() == Some(record.last_modified_ms.div_euclid(1000))
        })
}

/// Whether an `If-Match`/`If-None-Match` list names `etag` (or is `*`).
fn etag_listed(list: &str, etag: &str) -> bool {
    list.split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/").trim_matches('"') == etag)
}

/// An HTTP-date header as Unix seconds; unparseable dates are ignored.
fn header_date(headers: &HeaderMap, name: &str) -> Option<i64> {
    let value = header_text(headers, name)?;
    let time = httpdate::parse_http_date(value.trim()).ok()?;
    let secs = time.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    i64::try_from(secs).ok()
}

/// `DELETE /<key>`: 204 whether or not the key existed (404 only for a missing bucket). The blob
/// is deleted after the record, so readers never see a record without its body.
pub(super) async fn delete(state: &AppState, ctx: &Ctx, key: &str) -> Result<Response, ApiError> {
    match state.store.delete_object(&ctx.bucket, key).await? {
        Some(record) => discard_blob(state, &record.blob_id).await,
        None => require_bucket(state, &ctx.bucket).await?,
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod disposition_tests {
    use super::content_disposition;

    #[test]
    fn file_names_beyond_plain_ascii_get_an_rfc_5987_form() {
        assert_eq!(
            content_disposition("attachment; filename=\"ünï cödé +%20 a%b.txt\""),
            "attachment; filename=\"_n_ c_d_ +_20 a_b.txt\"; \
             filename*=UTF-8''%C3%BCn%C3%AF%20c%C3%B6d%C3%A9%20+%2520%20a%25b.txt"
        );
        assert_eq!(
            content_disposition("attachment; filename=\"plain.txt\""),
            "attachment; filename=\"plain.txt\""
        );
        let given = "attachment; filename*=UTF-8''a%20b";
        assert_eq!(content_disposition(given), given);
        assert_eq!(content_disposition("inline"), "inline");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn content_md5_parsing() {
        assert_eq!(content_md5(&HeaderMap::new()).unwrap(), None);
        // MD5("") = d41d8cd98f00b204e9800998ecf8427e
        let h = headers(&[("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg==")]);
        assert_eq!(
            content_md5(&h).unwrap().as_deref(),
            Some("d41d8cd98f00b204e9800998ecf8427e")
        );
        let h = headers(&[("content-md5", "not base64!")]);
        assert_eq!(content_md5(&h).unwrap_err().code, "InvalidDigest");
        let h = headers(&[("content-md5", "AAAA")]);
        assert_eq!(content_md5(&h).unwrap_err().code, "InvalidDigest");
    }

    #[test]
    fn etag_lists() {
        let tag = "d41d8cd98f00b204e9800998ecf8427e";
        assert!(etag_listed("\"d41d8cd98f00b204e9800998ecf8427e\"", tag));
        assert!(etag_listed(
            "\"x\", W/\"d41d8cd98f00b204e9800998ecf8427e\"",
            tag
        ));
        assert!(etag_listed("*", tag));
        assert!(!etag_listed("\"x\"", tag));
    }
}
