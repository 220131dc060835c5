//! ListParts (`GET /<key>?uploadId=U`) and ListMultipartUploads (`GET /?uploads`)
//! (api-reference-2.md §1.1–§1.2; DOC-COS 7747/7736).
//!
//! The SDK helpers call both before uploading, to resume: cos-python-sdk-v5 URL-decodes
//! `Upload.Key`, compares each `Part`'s quoted MD5 ETag and `Size`, and loops until
//! `IsTruncated` is the literal `false` (§1.5).

use axum::response::Response;
use reelflow_model::XmlElement;
use reelflow_store::MultipartUpload;

use super::list::{common_prefix, encode_if, url_encoding};
use super::multipart::{MAX_PART_NUMBER, require_upload};
use super::{iso8601_ms, quoted_etag, require_bucket};
use crate::context::query_value;
use crate::state::AppState;
use crate::xml::xml_response;
use crate::{ApiError, Ctx};

/// Default and largest `max-parts` / `max-uploads`.
const MAX_ENTRIES: u32 = 1000;

/// A bounded integer query parameter; `default` when absent or empty.
fn bounded(ctx: &Ctx, name: &str, default: u32, max: u32) -> Result<u32, ApiError> {
    match query_value(&ctx.query, name).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => v.trim().parse::<u32>().map(|n| n.min(max)).map_err(|_| {
            ApiError::invalid(format!("{name} must be a non-negative integer, got {v:?}"))
        }),
    }
}

/// The initiator and owner shown for every upload: this deployment has one account.
fn account(name: &str) -> XmlElement {
    XmlElement::new(name)
        .with_leaf("ID", "reelflow")
        .with_leaf("DisplayName", "reelflow")
}

/// `GET /<key>?uploadId=U`: answers `ListPartsResult`.
pub(super) async fn list_parts(
    state: &AppState,
    ctx: &Ctx,
    key: &str,
) -> Result<Response, ApiError> {
    let max_parts = bounded(ctx, "max-parts", MAX_ENTRIES, MAX_ENTRIES)?;
    let marker = bounded(ctx, "part-number-marker", 0, MAX_PART_NUMBER)?;
    let encode = url_encoding(&ctx.query)?;
    let upload = require_upload(state, ctx, key).await?;
    let mut parts = state
        .store
        .list_parts(&upload.upload_id, marker, max_parts + 1)
        .await?;
    let truncated = parts.len() > max_parts as usize;
    parts.truncate(max_parts as usize);
    let mut doc = XmlElement::new("ListPartsResult").with_leaf("Bucket", &ctx.bucket);
    if encode {
        doc.push_leaf("Encoding-type", "url");
    }
    doc.push_leaf("Key", encode_if(encode, key));
    doc.push_leaf("UploadId", &upload.upload_id);
    doc.push(account("Initiator"));
    doc.push(account("Owner"));
    doc.push_leaf("PartNumberMarker", marker.to_string());
    for part in &parts {
        doc.push(
            XmlElement::new("Part")
                .with_leaf("PartNumber", part.part_number.to_string())
                .with_leaf("LastModified", iso8601_ms(part.last_modified_ms))
                .with_leaf("ETag", quoted_etag(&part.md5_hex))
                .with_leaf("Size", part.size.to_string()),
        );
    }
    let next = parts.last().map_or(marker, |p| p.part_number);
    doc.push_leaf("NextPartNumberMarker", next.to_string());
    doc.push_leaf("StorageClass", "STANDARD");
    doc.push_leaf("MaxParts", max_parts.to_string());
    doc.push_leaf("IsTruncated", truncated.to_string());
    Ok(xml_response(&doc))
}

/// The parsed ListMultipartUploads parameters.
struct UploadsQuery {
    prefix: String,
    delimiter: String,
    key_marker: String,
    upload_id_marker: String,
    max: u32,
    encode: bool,
}

/// One listing entry, in key order.
enum Entry {
    Upload(MultipartUpload),
    Prefix(String),
}

/// `GET /?uploads`: answers `ListMultipartUploadsResult`.
pub(super) async fn list_uploads(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let text = |name: &str| query_value(&ctx.query, name).unwrap_or("").to_owned();
    let q = UploadsQuery {
        prefix: text("prefix"),
        delimiter: text("delimiter"),
        key_marker: text("key-marker"),
        upload_id_marker: text("upload-id-marker"),
        max: bounded(ctx, "max-uploads", MAX_ENTRIES, MAX_ENTRIES)?,
        encode: url_encoding(&ctx.query)?,
    };
    require_bucket(state, &ctx.bucket).await?;
    let (entries, truncated) = collect(state, ctx, &q).await?;
    Ok(xml_response(&render(&ctx.bucket, &q, &entries, truncated)))
}

/// Reads uploads after the markers, rolling keys with the delimiter into common prefixes.
async fn collect(
    state: &AppState,
    ctx: &Ctx,
    q: &UploadsQuery,
) -> Result<(Vec<Entry>, bool), ApiError> {
    let mut entries: Vec<Entry> = Vec::new();
    let (mut key_marker, mut id_marker) = (q.key_marker.clone(), q.upload_id_marker.clone());
    loop {
        let batch = state
            .store
            .list_uploads(&ctx.bucket, &q.prefix, &key_marker, &id_marker, MAX_ENTRIES)
            .await?;
        let exhausted = batch.len() < MAX_ENTRIES as usize;
        for upload in batch {
            key_marker.clone_from(&upload.key);
            id_marker.clone_from(&upload.upload_id);
            let entry = match common_prefix(&upload.key, &q.prefix, &q.delimiter) {
                // The marker is this prefix or lies inside it: listed on an earlier page.
                Some(p) if p.as_str() <= q.key_marker.as_str() => continue,
                Some(p) if matches!(entries.last(), Some(Entry::Prefix(last)) if *last == p) => {
                    continue;
                }
                Some(p) => Entry::Prefix(p),
                None => Entry::Upload(upload),
            };
            if entries.len() == q.max as usize {
                return Ok((entries, true));
            }
            entries.push(entry);
        }
        if exhausted {
            return Ok((entries, false));
        }
    }
}

fn render(bucket: &str, q: &UploadsQuery, entries: &[Entry], truncated: bool) -> XmlElement {
    let enc = |s: &str| encode_if(q.encode, s);
    let mut doc = XmlElement::new("ListMultipartUploadsResult").with_leaf("Bucket", bucket);
    if q.encode {
        doc.push_leaf("Encoding-Type", "url");
    }
    doc.push_leaf("KeyMarker", enc(&q.key_marker));
    doc.push_leaf("UploadIdMarker", &q.upload_id_marker);
    let (next_key, next_id) = match entries.last() {
        Some(Entry::Upload(u)) if truncated => (u.key.clone(), u.upload_id.clone()),
        Some(Entry::Prefix(p)) if truncated => (p.clone(), String::new()),
        _ => (String::new(), String::new()),
    };
    doc.push_leaf("NextKeyMarker", enc(&next_key));
    doc.push_leaf("NextUploadIdMarker", next_id);
    doc.push_leaf("MaxUploads", q.max.to_string());
    doc.push_leaf("IsTruncated", truncated.to_string());
    doc.push_leaf("Prefix", enc(&q.prefix));
    doc.push_leaf("Delimiter", enc(&q.delimiter));
    for entry in entries {
        match entry {
            Entry::Upload(u) => doc.push(
                XmlElement::new("Upload")
                    .with_leaf("Key", enc(&u.key))
                    .with_leaf("UploadId", &u.upload_id)
                    .with_leaf("StorageClass", "STANDARD")
                    .with(account("Initiator"))
                    .with(account("Owner"))
                    .with_leaf("Initiated", iso8601_ms(u.initiated_ms)),
            ),
            Entry::Prefix(p) => {
                doc.push(XmlElement::new("CommonPrefixes").with_leaf("Prefix", enc(p)));
            }
        }
    }
    doc
}
