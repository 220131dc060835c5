//! UploadPart-Copy: `PUT /<key>?partNumber=N&uploadId=U` with `x-cos-copy-source` (or S3's
//! `x-amz-copy-source`), optionally a byte range and copy-source preconditions
//! (api-reference-2.md §1.1; DOC-COS 8287).

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use reelflow_model::object::ObjectRecord;
use reelflow_objects::BlobError;

use super::copy::{cos_or_amz, parse_source};
use super::multipart::{copy_part_result, part_number, record_part, require_upload};
use super::{check_key, missing_object};
use crate::state::AppState;
use crate::{ApiError, Ctx};

/// `PUT ?partNumber&uploadId` with a copy source: answers `CopyPartResult`.
pub(super) async fn upload_part_copy(
    state: &AppState,
    ctx: &Ctx,
    key: &str,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let number = part_number(ctx)?;
    let (src_bucket, src_key) =
        parse_source(&cos_or_amz(headers, "copy-source").unwrap_or_default())?;
    check_key(&src_key)?;
    let upload = require_upload(state, ctx, key).await?;
    let mut attempts = 0;
    let written = loop {
        attempts += 1;
        let Some(source) = state.store.get_object(&src_bucket, &src_key).await? else {
            return Err(missing_object(state, &src_bucket, &src_key).await);
        };
        check_preconditions(headers, &source)?;
        let range = copy_range(headers, source.size)?;
        let stream = match state.blobs.get(&source.blob_id, range).await {
            Ok(stream) => stream,
            // Overwritten meanwhile: read the record again.
            Err(BlobError::NotFound { .. }) if attempts < 3 => continue,
            Err(e) => return Err(e.into()),
        };
        break match state.blobs.put_stream(stream, None).await {
            Ok(written) => written,
            Err(e @ BlobError::BodyRead { .. }) => return Err(ApiError::internal(&e)),
            Err(e) => return Err(e.into()),
        };
    };
    record_part(state, &upload, number, &written).await?;
    Ok(copy_part_result(&written))
}

/// `x-cos-copy-source-range: bytes=first-last` (inclusive), within the source; `None` for the
/// whole object.
fn copy_range(headers: &HeaderMap, size: u64) -> Result<Option<(u64, u64)>, ApiError> {
    let Some(value) = cos_or_amz(headers, "copy-source-range") else {
        return Ok(None);
    };
    let invalid = || {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            format!(
                "the copy-source-range {value:?} is not bytes=first-last within the source \
                 object of {size} bytes"
            ),
        )
    };
    let (first, last) = value
        .trim()
        .strip_prefix("bytes=")
        .and_then(|r| r.split_once('-'))
        .ok_or_else(invalid)?;
    let first: u64 = first.trim().parse().map_err(|_| invalid())?;
    let last: u64 = last.trim().parse().map_err(|_| invalid())?;
    if first > last || last >= size {
        return Err(invalid());
    }
    Ok(Some((first, last)))
}

/// `x-cos-copy-source-If-Match`, `-If-None-Match`, `-If-Modified-Since`,
/// `-If-Unmodified-Since`: 412 when one fails.
fn check_preconditions(headers: &HeaderMap, source: &ObjectRecord) -> Result<(), ApiError> {
    let failed = |which: &str| {
        ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "PreconditionFailed",
            format!("the copy-source-{which} precondition does not hold for the source object"),
        )
    };
    let etag_in = |list: &str| {
        list.split(',')
            .map(|t| t.trim().trim_start_matches("W/").trim_matches('"'))
            .any(|t| t == "*" || t == source.etag)
    };
    let modified = source.last_modified_ms.div_euclid(1000);
    let date = |name: &str| {
        cos_or_amz(headers, name)
            .and_then(|v| httpdate::parse_http_date(v.trim()).ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .and_then(|d| i64::try_from(d.as_secs()).ok())
    };
    if let Some(list) = cos_or_amz(headers, "copy-source-if-match")
        && !etag_in(&list)
    {
        return Err(failed("If-Match"));
    }
    if let Some(list) = cos_or_amz(headers, "copy-source-if-none-match")
        && etag_in(&list)
    {
        return Err(failed("If-None-Match"));
    }
    if date("copy-source-if-unmodified-since").is_some_and(|since| modified > since) {
        return Err(failed("If-Unmodified-Since"));
    }
    if date("copy-source-if-modified-since").is_some_and(|since| modified <= since) {
        return Err(failed("If-Modified-Since"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: &'static str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, value.parse().unwrap());
        h
    }

    #[test]
    fn ranges() {
        assert_eq!(copy_range(&HeaderMap::new(), 10).unwrap(), None);
        let h = headers("x-cos-copy-source-range", "bytes=0-4");
        assert_eq!(copy_range(&h, 10).unwrap(), Some((0, 4)));
        let h = headers("x-amz-copy-source-range", "bytes=5-9");
        assert_eq!(copy_range(&h, 10).unwrap(), Some((5, 9)));
        for bad in ["bytes=5-10", "bytes=4-3", "0-4", "bytes=-4", "bytes=a-b"] {
            let h = headers("x-cos-copy-source-range", bad);
            assert_eq!(
                copy_range(&h, 10).unwrap_err().code,
                "InvalidArgument",
                "{bad}"
            );
        }
    }
}
