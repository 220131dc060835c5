//! PUT Object - Copy (`x-cos-copy-source`): copies an object within this service.
//!
//! The body is streamed from the source blob into a new blob (a blob is never shared by two
//! records, so overwriting or deleting either object stays independent). The copy is recorded
//! like an upload and starts matching workflows (`decisions.md`, Triggers).

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use percent_encoding::percent_decode_str;
use reelflow_model::XmlElement;
use reelflow_model::object::{ObjectRecord, valid_bucket_name};
use reelflow_objects::{BlobError, BlobWritten};

use super::{
    check_key, commit_upload, content_type, header_text, iso8601_ms, missing_object, quoted_etag,
    require_bucket, user_meta,
};
use crate::state::AppState;
use crate::xml::xml_response;
use crate::{ApiError, Ctx};

/// The header naming the copy source.
pub(super) const COPY_SOURCE: &str = "x-cos-copy-source";
/// The same, as S3 clients send it.
pub(super) const AMZ_COPY_SOURCE: &str = "x-amz-copy-source";

/// Whether the request names a copy source (COS or S3 spelling).
pub(super) fn has_copy_source(headers: &HeaderMap) -> bool {
    headers.contains_key(COPY_SOURCE) || headers.contains_key(AMZ_COPY_SOURCE)
}

/// A copy header in its COS (`x-cos-…`) or S3 (`x-amz-…`) spelling; `suffix` follows the
/// prefix, e.g. `copy-source-range`.
pub(super) fn cos_or_amz(headers: &HeaderMap, suffix: &str) -> Option<String> {
    header_text(headers, &format!("x-cos-{suffix}"))
        .or_else(|| header_text(headers, &format!("x-amz-{suffix}")))
}

/// Whether the copy keeps the source's metadata or takes the request's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Directive {
    Copy,
    Replaced,
}

/// `PUT /<key>` with `x-cos-copy-source`: answers `CopyObjectResult {ETag, LastModified}`.
pub(super) async fn copy(
    state: &AppState,
    ctx: &Ctx,
    key: &str,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let source = cos_or_amz(headers, "copy-source").unwrap_or_default();
    let (src_bucket, src_key) = parse_source(&source)?;
    check_key(&src_key)?;
    let directive = match cos_or_amz(headers, "metadata-directive").as_deref() {
        None | Some("") => Directive::Copy,
        Some(v) if v.eq_ignore_ascii_case("copy") => Directive::Copy,
        // `Replaced` is COS's word, `REPLACE` S3's.
        Some(v) if v.eq_ignore_ascii_case("replaced") || v.eq_ignore_ascii_case("replace") => {
            Directive::Replaced
        }
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "x-cos-metadata-directive must be Copy or Replaced, got {other:?}"
            )));
        }
    };
    if src_bucket == ctx.bucket && src_key == key && directive == Directive::Copy {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "copying an object onto itself requires x-cos-metadata-directive: Replaced",
        ));
    }
    require_bucket(state, &ctx.bucket).await?;
    let (source, written) = copy_body(state, &src_bucket, &src_key).await?;
    let (content_type, user_meta) = match directive {
        Directive::Copy => (source.content_type, source.user_meta),
        Directive::Replaced => (content_type(headers), user_meta(headers)),
    };
    let record = commit_upload(state, ctx, key, &written, content_type, user_meta).await?;
    let result = XmlElement::new("CopyObjectResult")
        .with_leaf("ETag", quoted_etag(&record.etag))
        .with_leaf("LastModified", iso8601_ms(record.last_modified_ms));
    Ok(xml_response(&result))
}

/// Streams the source object's body into a new blob; returns the source record and the blob.
async fn copy_body(
    state: &AppState,
    bucket: &str,
    key: &str,
) -> Result<(ObjectRecord, BlobWritten), ApiError> {
    // A concurrent overwrite of the source can delete its blob before we open it; the record
    // read again then names the new blob.
    let mut attempts = 0;
    loop {
        attempts += 1;
        let Some(source) = state.store.get_object(bucket, key).await? else {
            return Err(missing_object(state, bucket, key).await);
        };
        let stream = match state.blobs.get(&source.blob_id, None).await {
            Ok(stream) => stream,
            Err(BlobError::NotFound { .. }) if attempts < 3 => continue,
            Err(e) => return Err(e.into()),
        };
        return match state.blobs.put_stream(stream, None).await {
            Ok(written) => Ok((source, written)),
            // Reading our own blob failed: a server fault, not an incomplete request body.
            Err(e @ BlobError::BodyRead { .. }) => Err(ApiError::internal(&e)),
            Err(e) => Err(e.into()),
        };
    }
}

/// Parses `<bucket>.cos.<region>.myqcloud.com/<key>`, `/<bucket>/<key>`, `<bucket>/<key>` or
/// `<ip or localhost>[:port]/<bucket>/<key>` (optionally with a scheme and a `?versionId=`,
/// which is ignored). The key is percent-decoded.
pub(super) fn parse_source(source: &str) -> Result<(String, String), ApiError> {
    let invalid = |why: &str| {
        ApiError::invalid(format!(
            "invalid x-cos-copy-source {source:?}: {why}; expected \
             <bucket>.cos.<region>.myqcloud.com/<key> or /<bucket>/<key>"
        ))
    };
    let text = source.trim();
    let text = text
        .strip_prefix("http://")
        .or_else(|| text.strip_prefix("https://"))
        .unwrap_or(text);
    let text = text.split_once('?').map_or(text, |(path, _)| path);
    let (bucket, raw_key) = if let Some(path) = text.strip_prefix('/') {
        path.split_once('/').ok_or_else(|| invalid("no key"))?
    } else {
        let (first, rest) = text.split_once('/').ok_or_else(|| invalid("no key"))?;
        let host = strip_port(first);
        if host == "localhost" || host.parse::<std::net::IpAddr>().is_ok() {
            rest.split_once('/').ok_or_else(|| invalid("no key"))?
        } else {
            (first.split('.').next().unwrap_or(first), rest)
        }
    };
    if !valid_bucket_name(bucket) {
        return Err(invalid("not a valid bucket name"));
    }
    let key = percent_decode_str(raw_key)
        .decode_utf8()
        .map_err(|_| invalid("the key is not UTF-8 after percent-decoding"))?;
    if key.is_empty() {
        return Err(invalid("no key"));
    }
    Ok((bucket.to_owned(), key.into_owned()))
}

fn strip_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !h.contains(':') => h,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(s: &str) -> (String, String) {
        parse_source(s).unwrap()
    }

    #[test]
    fn source_forms() {
        let want = ("src-1250000000".to_owned(), "dir/a b+c.mp4".to_owned());
        assert_eq!(
            parsed("src-1250000000.cos.ap-guangzhou.myqcloud.com/dir/a%20b%2Bc.mp4"),
            want
        );
        assert_eq!(parsed("/src-1250000000/dir/a%20b%2Bc.mp4"), want);
        assert_eq!(parsed("src-1250000000/dir/a b+c.mp4"), want);
        assert_eq!(
            parsed("http://src-1250000000.cos.local/dir/a%20b%2Bc.mp4?versionId=x"),
            want
        );
        assert_eq!(
            parsed("127.0.0.1:9600/src-1250000000/dir/a%20b%2Bc.mp4"),
            want
        );
        assert!(parse_source("src-1250000000").is_err());
        assert!(parse_source("/src-1250000000/").is_err());
        assert!(parse_source("/Bad_Bucket/k").is_err());
        assert!(parse_source("/b/%FF").is_err());
    }
}
