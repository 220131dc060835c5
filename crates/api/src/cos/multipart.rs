//! Multipart upload: Initiate, UploadPart, UploadPart-Copy, Complete and Abort
//! (api-reference-2.md §1; DOC-COS 7746/7750/8287/7742/7740). Listing is in
//! [`super::multipart_list`].
//!
//! Each part is streamed into a blob of its own (never buffered whole) and recorded in the
//! multipart catalog; re-uploading a part number replaces it. Complete checks the listed parts,
//! then composes the object from the part blobs without copying a byte
//! ([`reelflow_objects::BlobStore::compose`]) and commits the record, the runs it triggers and
//! the removal of the upload in one store transaction: the object appears atomically and starts
//! its workflows exactly once.

use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use reelflow_model::XmlElement;
use reelflow_model::object::{ObjectOrigin, ObjectRecord, new_upload_id};
use reelflow_objects::{BlobWritten, PartRef};
use reelflow_store::{MultipartUpload, StoreError, UploadPart};

use super::object::{content_md5, discard_blob, insert, store_body};
use super::{
    content_type, header_text, iso8601_ms, local_name, now_ms, quoted_etag, require_bucket,
    user_meta,
};
use crate::context::query_value;
use crate::state::AppState;
use crate::xml::xml_response;
use crate::{ApiError, Ctx};

/// Part numbers run from 1 to this (DOC-COS 7750).
pub(super) const MAX_PART_NUMBER: u32 = 10_000;
/// Smallest part other than the last (COS: 1 MB, DOC-COS 7750).
const MIN_PART_SIZE: u64 = 1024 * 1024;
/// Largest part (DOC-COS 7750).
const MAX_PART_SIZE: u64 = 5 << 30;
/// Largest CompleteMultipartUpload body: 10000 parts with markup.
const MAX_COMPLETE_BODY: usize = 4 << 20;

/// `POST /<key>?uploads`: answers `InitiateMultipartUploadResult`.
pub(super) async fn initiate(
    state: &AppState,
    ctx: &Ctx,
    key: &str,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    require_bucket(state, &ctx.bucket).await?;
    let upload = MultipartUpload {
        upload_id: new_upload_id(),
        bucket: ctx.bucket.clone(),
        key: key.to_owned(),
        content_type: content_type(headers),
        user_meta: user_meta(headers),
        initiated_ms: now_ms(),
    };
    state.store.create_upload(&upload).await?;
    Ok(xml_response(
        &XmlElement::new("InitiateMultipartUploadResult")
            .with_leaf("Bucket", &ctx.bucket)
            .with_leaf("Key", key)
            .with_leaf("UploadId", &upload.upload_id),
    ))
}

/// The `uploadId` query parameter.
pub(super) fn upload_id(ctx: &Ctx) -> &str {
    query_value(&ctx.query, "uploadId").unwrap_or("")
}

/// The upload named by the request, or 404 `NoSuchUpload`.
pub(super) async fn require_upload(
    state: &AppState,
    ctx: &Ctx,
    key: &str,
) -> Result<MultipartUpload, ApiError> {
    let id = upload_id(ctx);
    state
        .store
        .get_upload(&ctx.bucket, key, id)
        .await?
        .ok_or_else(|| no_such_upload(id, key))
}

fn no_such_upload(id: &str, key: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NoSuchUpload",
        format!(
            "multipart upload {id:?} of {key:?} does not exist: it was never initiated, \
             or was completed or aborted"
        ),
    )
}

/// The `partNumber` query parameter, 1–10000.
pub(super) fn part_number(ctx: &Ctx) -> Result<u32, ApiError> {
    let raw = query_value(&ctx.query, "partNumber").unwrap_or("");
    raw.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=MAX_PART_NUMBER).contains(n))
        .ok_or_else(|| {
            ApiError::invalid(format!(
                "partNumber must be an integer from 1 to {MAX_PART_NUMBER}, got {raw:?}"
            ))
        })
}

/// `PUT /<key>?partNumber=N&uploadId=U`: streams the part into a blob and records it.
pub(super) async fn upload_part(
    state: &AppState,
    ctx: &Ctx,
    key: &str,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let number = part_number(ctx)?;
    let expected_md5 = content_md5(request.headers())?;
    let upload = require_upload(state, ctx, key).await?;
    let limit = MAX_PART_SIZE.min(state.config.max_object_size);
    let written = store_body(state, request.into_body(), limit, expected_md5).await?;
    record_part(state, &upload, number, &written).await?;
    let mut response = StatusCode::OK.into_response();
    part_headers(response.headers_mut(), &written);
    Ok(response)
}

/// Records a written part blob, deleting the part it replaces; deletes the blob instead when
/// the upload ended meanwhile.
pub(super) async fn record_part(
    state: &AppState,
    upload: &MultipartUpload,
    number: u32,
    written: &BlobWritten,
) -> Result<(), ApiError> {
    let part = UploadPart {
        part_number: number,
        blob_id: written.id.clone(),
        size: written.size,
        md5_hex: written.md5_hex.clone(),
        crc64: written.crc64,
        last_modified_ms: now_ms(),
    };
    match state.store.put_part(&upload.upload_id, &part).await {
        Ok(replaced) => {
            if let Some(old) = replaced {
                discard_blob(state, &old).await;
            }
            Ok(())
        }
        Err(e) => {
            discard_blob(state, &written.id).await;
            Err(match e {
                StoreError::NoSuchUpload(_) => no_such_upload(&upload.upload_id, &upload.key),
                other => other.into(),
            })
        }
    }
}

/// `ETag` and `x-cos-hash-crc64ecma` of a stored blob (object, part or completed upload).
pub(super) fn part_headers(out: &mut HeaderMap, written: &BlobWritten) {
    insert(out, header::ETAG, &quoted_etag(&written.md5_hex));
    insert(out, super::CRC64_HEADER.clone(), &written.crc64.to_string());
}

/// One `<Part>` of a CompleteMultipartUpload body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ListedPart {
    pub number: u32,
    /// Unquoted, lower-case.
    pub etag: String,
}

/// Reads `CompleteMultipartUpload`: element order, namespaces, entities and unknown children
/// (`ChecksumCRC32`) are accepted as the SDKs and boto3 send them (api-reference-2.md §1.2).
pub(super) fn parse_complete(bytes: &[u8]) -> Result<Vec<ListedPart>, ApiError> {
    let malformed = |why: String| ApiError::new(StatusCode::BAD_REQUEST, "MalformedXML", why);
    let root = XmlElement::parse(bytes)
        .map_err(|e| malformed(format!("the CompleteMultipartUpload body is not XML: {e}")))?;
    if local_name(&root.name) != "CompleteMultipartUpload" {
        return Err(malformed(format!(
            "the body's root element is <{}>, expected <CompleteMultipartUpload>",
            root.name
        )));
    }
    let mut parts = Vec::new();
    for part in root
        .children
        .iter()
        .filter(|c| local_name(&c.name) == "Part")
    {
        let field = |name: &str| {
            part.children
                .iter()
                .find(|c| local_name(&c.name) == name)
                .map(|c| c.text.as_str())
        };
        let number = field("PartNumber")
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|n| (1..=MAX_PART_NUMBER).contains(n))
            .ok_or_else(|| malformed("a <Part> has no valid <PartNumber> (1-10000)".into()))?;
        let etag = field("ETag")
            .ok_or_else(|| malformed(format!("part {number} has no <ETag>")))?
            .trim()
            .trim_matches('"')
            .to_ascii_lowercase();
        parts.push(ListedPart { number, etag });
    }
    if parts.is_empty() {
        return Err(malformed(
            "the CompleteMultipartUpload body lists no <Part>".into(),
        ));
    }
    Ok(parts)
}

/// Matches the listed parts against the stored ones (api-reference-2.md §1.3): ascending
/// numbers (`InvalidPartOrder`), each one uploaded with that ETag (`InvalidPart`), every part
/// but the last at least 1 MB (`EntityTooSmall`).
pub(super) fn select_parts(
    listed: &[ListedPart],
    stored: &[UploadPart],
) -> Result<Vec<UploadPart>, ApiError> {
    if listed.windows(2).any(|w| w[0].number >= w[1].number) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidPartOrder",
            "the list of parts was not in ascending order of part number",
        ));
    }
    let mut chosen = Vec::with_capacity(listed.len());
    for want in listed {
        let found = stored
            .iter()
            .find(|p| p.part_number == want.number && p.md5_hex == want.etag)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "InvalidPart",
                    format!(
                        "part {} with ETag \"{}\" was not uploaded, or was replaced",
                        want.number, want.etag
                    ),
                )
            })?;
        chosen.push(found.clone());
    }
    if let Some(small) = chosen[..chosen.len() - 1]
        .iter()
        .find(|p| p.size < MIN_PART_SIZE)
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "EntityTooSmall",
            format!(
                "part {} is {} bytes; every part but the last must be at least {MIN_PART_SIZE} bytes",
                small.part_number, small.size
            ),
        ));
    }
    Ok(chosen)
}

/// `POST /<key>?uploadId=U`: answers `CompleteMultipartUploadResult` with the object's ETag
/// (`"<md5 of part md5s>-<n>"`) and whole-object `x-cos-hash-crc64ecma`.
pub(super) async fn complete(
    state: &AppState,
    ctx: &Ctx,
    key: &str,
    host: &str,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = to_bytes(body, MAX_COMPLETE_BODY).await.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "MalformedXML",
            format!("the CompleteMultipartUpload body is unreadable or too large: {e}"),
        )
    })?;
    let upload = require_upload(state, ctx, key).await?;
    let listed = parse_complete(&bytes)?;
    let stored = all_parts(state, &upload.upload_id).await?;
    let parts = select_parts(&listed, &stored)?;
    let refs: Vec<PartRef> = parts
        .iter()
        .map(|p| PartRef {
            id: p.blob_id.clone(),
            size: p.size,
            md5_hex: p.md5_hex.clone(),
            crc64: p.crc64,
        })
        .collect();
    let composite = state.blobs.compose(&refs).await?;
    let record = ObjectRecord {
        bucket: ctx.bucket.clone(),
        key: key.to_owned(),
        blob_id: composite.id.clone(),
        size: composite.size,
        etag: composite.md5_hex.clone(),
        crc64: Some(composite.crc64),
        content_type: upload.content_type.clone(),
        last_modified_ms: now_ms(),
        user_meta: upload.user_meta.clone(),
        origin: ObjectOrigin::Upload,
    };
    if let Err(e) = state
        .engine
        .multipart_completed(&upload.upload_id, &parts, record)
        .await
    {
        // The engine has forgotten the manifest; the parts stay with the upload.
        return Err(match e {
            reelflow_engine::EngineError::Store(StoreError::NoSuchUpload(_)) => {
                no_such_upload(&upload.upload_id, key)
            }
            other => other.into(),
        });
    }
    let location = format!("{host}/{key}");
    let mut response = xml_response(
        &XmlElement::new("CompleteMultipartUploadResult")
            .with_leaf("Location", location)
            .with_leaf("Bucket", &ctx.bucket)
            .with_leaf("Key", key)
            .with_leaf("ETag", quoted_etag(&composite.md5_hex)),
    );
    part_headers(response.headers_mut(), &composite);
    Ok(response)
}

/// Every stored part of an upload, ascending.
async fn all_parts(state: &AppState, upload_id: &str) -> Result<Vec<UploadPart>, ApiError> {
    let mut parts: Vec<UploadPart> = Vec::new();
    loop {
        let after = parts.last().map_or(0, |p| p.part_number);
        let page = state.store.list_parts(upload_id, after, 1000).await?;
        let done = page.len() < 1000;
        parts.extend(page);
        if done {
            return Ok(parts);
        }
    }
}

/// `DELETE /<key>?uploadId=U`: deletes the upload and its parts; 204.
pub(super) async fn abort(state: &AppState, ctx: &Ctx, key: &str) -> Result<Response, ApiError> {
    let upload = require_upload(state, ctx, key).await?;
    let blobs = match state.store.abort_upload(&upload.upload_id).await {
        Ok(blobs) => blobs,
        Err(StoreError::NoSuchUpload(_)) => return Err(no_such_upload(&upload.upload_id, key)),
        Err(e) => return Err(e.into()),
    };
    for blob in blobs {
        discard_blob(state, &blob).await;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The `CopyPartResult` answer of UploadPart-Copy.
pub(super) fn copy_part_result(written: &BlobWritten) -> Response {
    let mut response = xml_response(
        &XmlElement::new("CopyPartResult")
            .with_leaf("ETag", quoted_etag(&written.md5_hex))
            .with_leaf("LastModified", iso8601_ms(now_ms())),
    );
    part_headers(response.headers_mut(), written);
    response
}

/// The Host the request was sent to, for `Location`.
pub(super) fn request_host(headers: &HeaderMap) -> String {
    header_text(headers, "host").unwrap_or_default()
}
