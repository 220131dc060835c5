//! DELETE Multiple Objects: `POST /?delete` with a `<Delete>` body of up to 1000 keys
//! (api-reference-2.md §2.2, DOC-COS 8289).
//!
//! Every key is deleted independently: a missing key counts as deleted, an invalid one gets an
//! `<Error>` entry, and the rest go on. Quiet mode lists only failures. The body's integrity
//! header is the client's choice: COS SDKs send `Content-MD5`, boto3 ≥ 1.36 an
//! `x-amz-checksum-*` header instead; either is verified when present.

use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use md5::{Digest, Md5};
use reelflow_model::XmlElement;

use super::{check_key, local_name, require_bucket};
use crate::state::AppState;
use crate::xml::xml_response;
use crate::{ApiError, Ctx};

/// Most keys in one request (DOC-COS 8289).
const MAX_KEYS: usize = 1000;

/// Largest accepted body: 1000 keys of up to 850 bytes, escaped, with markup.
const MAX_BODY: usize = 8 << 20;

/// A parsed `<Delete>` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DeleteRequest {
    pub quiet: bool,
    pub keys: Vec<String>,
}

/// `POST /?delete`.
pub(super) async fn delete_objects(
    state: &AppState,
    ctx: &Ctx,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = to_bytes(body, MAX_BODY).await.map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "MalformedXML",
            format!("the Delete body is unreadable or larger than {MAX_BODY} bytes"),
        )
    })?;
    check_content_md5(headers, &bytes)?;
    let request = parse(&bytes)?;
    require_bucket(state, &ctx.bucket).await?;
    let mut result = XmlElement::new("DeleteResult");
    for key in &request.keys {
        match delete_one(state, ctx, key).await {
            Ok(()) if request.quiet => {}
            Ok(()) => result.push(XmlElement::new("Deleted").with_leaf("Key", key)),
            Err(error) => result.push(
                XmlElement::new("Error")
                    .with_leaf("Key", key)
                    .with_leaf("Code", error.code)
                    .with_leaf("Message", error.message),
            ),
        }
    }
    Ok(xml_response(&result))
}

async fn delete_one(state: &AppState, ctx: &Ctx, key: &str) -> Result<(), ApiError> {
    check_key(key)?;
    if let Some(record) = state.store.delete_object(&ctx.bucket, key).await?
        && let Err(error) = state.blobs.delete(&record.blob_id).await
    {
        tracing::warn!(%error, blob = record.blob_id, "could not delete a blob");
    }
    Ok(())
}

/// Reads `<Delete><Quiet/>?<Object><Key/></Object>*</Delete>`; element order, namespaces and
/// unknown children (`VersionId`) are ignored, key text is kept exactly.
pub(super) fn parse(bytes: &[u8]) -> Result<DeleteRequest, ApiError> {
    let malformed = |why: String| ApiError::new(StatusCode::BAD_REQUEST, "MalformedXML", why);
    let root = XmlElement::parse_untrimmed(bytes)
        .map_err(|e| malformed(format!("the Delete body is not valid XML: {e}")))?;
    if local_name(&root.name) != "Delete" {
        return Err(malformed(format!(
            "the body's root element is <{}>, expected <Delete>",
            root.name
        )));
    }
    let mut request = DeleteRequest {
        quiet: false,
        keys: Vec::new(),
    };
    for child in &root.children {
        match local_name(&child.name) {
            "Quiet" => request.quiet = child.text.trim().eq_ignore_ascii_case("true"),
            "Object" => {
                let key = child
                    .children
                    .iter()
                    .find(|c| local_name(&c.name) == "Key")
                    .ok_or_else(|| malformed("an <Object> has no <Key>".to_owned()))?;
                request.keys.push(key.text.clone());
            }
            _ => {}
        }
    }
    if request.keys.is_empty() {
        return Err(malformed("the Delete body lists no <Object>".to_owned()));
    }
    if request.keys.len() > MAX_KEYS {
        return Err(malformed(format!(
            "the Delete body lists {} objects; at most {MAX_KEYS} are allowed",
            request.keys.len()
        )));
    }
    Ok(request)
}

/// Verifies `Content-MD5` when sent (`x-amz-checksum-*` is checked by the signature layer);
/// the header is read as for PUT Object ([`super::object::content_md5`]).
fn check_content_md5(headers: &HeaderMap, body: &[u8]) -> Result<(), ApiError> {
    let Some(sent) = super::object::content_md5(headers)? else {
        return Ok(());
    };
    if sent != hex::encode(Md5::digest(body)) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "BadDigest",
            "the Content-MD5 you specified did not match what was received",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sdk_and_boto3_bodies() {
        let py = b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Delete><Quiet>true</Quiet>\
            <Object><Key>a b.txt</Key></Object><Object><Key> x </Key></Object></Delete>";
        assert_eq!(
            parse(py).unwrap(),
            DeleteRequest {
                quiet: true,
                keys: vec!["a b.txt".into(), " x ".into()]
            }
        );
        let boto = b"<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Object>\
            <Key>k&amp;1</Key><VersionId>v</VersionId></Object></Delete>";
        assert_eq!(
            parse(boto).unwrap(),
            DeleteRequest {
                quiet: false,
                keys: vec!["k&1".into()]
            }
        );
    }

    #[test]
    fn refuses_bad_bodies() {
        for body in [
            &b"not xml"[..],
            b"<Other/>",
            b"<Delete></Delete>",
            b"<Delete><Object></Object></Delete>",
        ] {
            assert_eq!(parse(body).unwrap_err().code, "MalformedXML");
        }
        let many = format!(
            "<Delete>{}</Delete>",
            "<Object><Key>k</Key></Object>".repeat(1001)
        );
        assert_eq!(parse(many.as_bytes()).unwrap_err().code, "MalformedXML");
    }
}
