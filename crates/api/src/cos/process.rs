//! Synchronous media calls on an object: `GET /<key>?ci-process=…` (api-reference-2.md §5).
//!
//! - `videoinfo`: ffprobe's report as CI's `<Response><MediaInfo>` document, built by the
//!   engine's MediaInfo builder ([`reelflow_engine::media_info_xml`]);
//! - `snapshot`: one image at `time` ([`snapshot`]);
//! - `pm3u8`: a stored HLS playlist with each segment URI pre-signed ([`pm3u8`]).
//!
//! These are object reads, signed like any other request (header or pre-signed URL). HEAD
//! answers the same headers without the body. Other methods, and `ci-process` values
//! reelflow does not offer, are 501 `NotImplemented`.
//!
//! ffmpeg and ffprobe read the object where it lies when the blob store has a local file;
//! otherwise (a multipart upload, stored as a list of parts) through a loopback HTTP server
//! that serves the blob with `Range` support, so seeking costs no copy ([`input`]).
//!
//! Errors are CI errors: 404 `NoSuchKey`/`NoSuchBucket`, 400 `InvalidArgument` naming the
//! parameter or saying the object is not media, and 500 for anything else (the cause is
//! logged; messages never show scratch paths or blob ids).

mod input;
mod pm3u8;
mod snapshot;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use reelflow_media::{MediaError, MediaTools, RunControl};
use reelflow_model::XmlElement;
use reelflow_model::object::ObjectRecord;

use self::input::MediaInput;
use super::missing_object;
use crate::context::query_value;
use crate::state::AppState;
use crate::{ApiError, Ctx};

/// The query parameter naming the operation.
pub(super) const PARAM: &str = "ci-process";

/// Serves `GET|HEAD /<key>?ci-process=<operation>`.
pub(super) async fn handle(
    state: &AppState,
    ctx: &Ctx,
    key: &str,
    request: Request,
) -> Result<Response, ApiError> {
    let operation = query_value(&ctx.query, PARAM).unwrap_or_default();
    let method = request.method().clone();
    if method != Method::GET && method != Method::HEAD {
        return Err(not_implemented(&format!(
            "{method} with ci-process={operation}"
        )));
    }
    let response = match operation.to_ascii_lowercase().as_str() {
        "videoinfo" => video_info(state, ctx, key).await?,
        "snapshot" => snapshot::snapshot(state, ctx, key).await?,
        "pm3u8" => pm3u8::pm3u8(state, ctx, key, request.uri().path(), request.headers()).await?,
        _ => return Err(not_implemented(&format!("ci-process={operation}"))),
    };
    Ok(if method == Method::HEAD {
        without_body(response)
    } else {
        response
    })
}

/// 501 `NotImplemented` for a CI operation reelflow does not offer.
pub(super) fn not_implemented(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        "NotImplemented",
        format!("the CI operation {what:?} is not supported by reelflow"),
    )
}

/// `ci-process=videoinfo`: `<Response><MediaInfo>…</MediaInfo></Response>`.
async fn video_info(state: &AppState, ctx: &Ctx, key: &str) -> Result<Response, ApiError> {
    let record = object(state, ctx, key).await?;
    let input = MediaInput::open(state, &record).await?;
    let report = MediaTools::default()
        .probe_report(input.source(), &RunControl::new())
        .await
        .map_err(|e| media_error(key, e))?;
    let doc = XmlElement::new("Response").with(reelflow_engine::media_info_xml(&report));
    Ok(body_response(
        "application/xml",
        doc.to_document().into_bytes(),
    ))
}

/// The object's record: 404 `NoSuchKey` (or `NoSuchBucket`) when it does not exist.
async fn object(state: &AppState, ctx: &Ctx, key: &str) -> Result<ObjectRecord, ApiError> {
    match state.store.get_object(&ctx.bucket, key).await? {
        Some(record) => Ok(record),
        None => Err(missing_object(state, &ctx.bucket, key).await),
    }
}

/// A probe failure: 400 when the object is not media, else 500 (cause logged).
fn media_error(key: &str, error: MediaError) -> ApiError {
    match error {
        MediaError::InvalidInput { message } => {
            tracing::debug!(key, %message, "ci-process input is not media");
            invalid(format!("object {key:?} is not a media file"))
        }
        other => ApiError::internal(&other),
    }
}

/// 400 `InvalidArgument`.
fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::invalid(message)
}

/// A 200 with `body`, its Content-Type and Content-Length.
fn body_response(content_type: &'static str, body: Vec<u8>) -> Response {
    let length = body.len();
    let mut response = Response::new(Body::from(body));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    response
}

/// The same answer with an empty body (HEAD); Content-Length still gives the GET size.
fn without_body(response: Response) -> Response {
    let (parts, _) = response.into_parts();
    Response::from_parts(parts, Body::empty())
}
