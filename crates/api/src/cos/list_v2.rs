//! ListObjectsV2 (`GET /?list-type=2`), as boto3's `list_objects_v2`, the AWS CLI and rclone
//! send it (api-reference-2.md §2.3; AWS ListObjectsV2).
//!
//! The same scan as v1 ([`super::list`]); v2 differs in its paging names: the client resumes
//! with the opaque `NextContinuationToken` (here the base64url of the last listed name) or
//! starts after `start-after`, the answer carries `KeyCount`, and `Owner` appears only with
//! `fetch-owner=true`.

use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reelflow_model::XmlElement;

use super::list::{ListParams, Page, encode_if, fetch_page, push_entries};
use crate::context::query_value;
use crate::state::AppState;
use crate::xml::xml_response;
use crate::{ApiError, Ctx};

/// The v2-only parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
struct V2Params {
    continuation_token: Option<String>,
    start_after: String,
    fetch_owner: bool,
}

/// `GET /?list-type=2`.
pub(super) async fn list(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let mut params = ListParams::parse(&ctx.query)?;
    let v2 = V2Params {
        continuation_token: query_value(&ctx.query, "continuation-token").map(str::to_owned),
        start_after: query_value(&ctx.query, "start-after")
            .unwrap_or("")
            .to_owned(),
        fetch_owner: query_value(&ctx.query, "fetch-owner") == Some("true"),
    };
    params.marker = match &v2.continuation_token {
        Some(token) => decode_token(token)?,
        None => v2.start_after.clone(),
    };
    let page = fetch_page(state, ctx, &params).await?;
    Ok(xml_response(&render(&ctx.bucket, &params, &v2, &page)))
}

fn render(bucket: &str, params: &ListParams, v2: &V2Params, page: &Page) -> XmlElement {
    let enc = |s: &str| encode_if(params.url_encoding, s);
    let mut doc = XmlElement::new("ListBucketResult")
        .with_leaf("Name", bucket)
        .with_leaf("Prefix", enc(&params.prefix));
    if !v2.start_after.is_empty() {
        doc.push_leaf("StartAfter", enc(&v2.start_after));
    }
    if let Some(token) = &v2.continuation_token {
        doc.push_leaf("ContinuationToken", token);
    }
    if page.truncated
        && let Some(last) = page.entries.last()
    {
        doc.push_leaf("NextContinuationToken", URL_SAFE_NO_PAD.encode(last.name()));
    }
    doc.push_leaf("KeyCount", page.entries.len().to_string());
    doc.push_leaf("MaxKeys", params.max_keys.to_string());
    if !params.delimiter.is_empty() {
        doc.push_leaf("Delimiter", enc(&params.delimiter));
    }
    if params.url_encoding {
        doc.push_leaf("EncodingType", "url");
    }
    doc.push_leaf("IsTruncated", page.truncated.to_string());
    push_entries(&mut doc, bucket, page, v2.fetch_owner, &enc);
    doc
}

/// The key a continuation token resumes after.
fn decode_token(token: &str) -> Result<String, ApiError> {
    URL_SAFE_NO_PAD
        .decode(token.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "InvalidArgument",
                "the continuation-token is not one this server issued",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_garbage_is_refused() {
        let key = "dir/ä b+c.mp4";
        assert_eq!(decode_token(&URL_SAFE_NO_PAD.encode(key)).unwrap(), key);
        assert_eq!(decode_token("%%%").unwrap_err().code, "InvalidArgument");
    }
}
