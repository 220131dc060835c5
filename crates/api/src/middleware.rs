//! Outer middleware: request ids, COS signature verification, and rendering of error bodies.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;
use reelflow_model::XmlElement;
use reelflow_model::clock::now_unix;
use reelflow_model::ids::new_request_id;
use reelflow_signature::{SignedRequest, verify};

use crate::context::{RequestId, query_pairs};
use crate::error::{ApiError, ErrorInfo};
use crate::state::AppState;

/// Gives every request an id, echoes it in `x-ci-request-id`/`x-cos-request-id`, and renders
/// the CI `<Error>` body for responses that carry an [`ErrorInfo`].
pub async fn request_id_and_errors(mut request: Request, next: Next) -> Response {
    let id = new_request_id(now_unix());
    let resource = request.uri().path().to_owned();
    let is_head = request.method() == Method::HEAD;
    request.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(request).await;
    if let Some(info) = response.extensions_mut().remove::<ErrorInfo>() {
        response = render_error(response, &info, &resource, &id, is_head);
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        let headers = response.headers_mut();
        headers.insert("x-ci-request-id", value.clone());
        headers.insert("x-cos-request-id", value);
    }
    response
        .headers_mut()
        .insert(header::SERVER, HeaderValue::from_static("reelflow"));
    response
}

fn render_error(
    response: Response,
    info: &ErrorInfo,
    resource: &str,
    id: &str,
    is_head: bool,
) -> Response {
    let (mut parts, _) = response.into_parts();
    let doc = XmlElement::new("Error")
        .with_leaf("Code", info.code)
        .with_leaf("Message", &info.message)
        .with_leaf("Resource", resource)
        .with_leaf("RequestId", id)
        .with_leaf("TraceId", id);
    let body = if is_head {
        String::new()
    } else {
        doc.to_document()
    };
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    // `x-cos-error-code` only where there is no body to read the code from (HEAD): when the
    // header is present the Python SDK stops parsing the body, and its error accessors
    // (message, resource, trace id) break.
    if is_head && let Ok(code) = HeaderValue::from_str(info.code) {
        parts.headers.insert("x-cos-error-code", code);
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

/// Verifies the COS `q-sign-algorithm=sha1` signature of every request.
pub async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match check_signature(&state, &request) {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

fn check_signature(state: &AppState, request: &Request) -> Result<(), ApiError> {
    let query = query_pairs(request.uri().query());
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let path = percent_decode_str(request.uri().path())
        .decode_utf8_lossy()
        .into_owned();
    let signed = SignedRequest {
        method: request.method().as_str(),
        decoded_path: &path,
        query: &query,
        headers: &headers,
    };
    let lookup = |id: &str| {
        state
            .config
            .credentials
            .iter()
            .find(|(sid, _)| sid == id)
            .map(|(_, key)| key.clone())
    };
    verify(&signed, lookup, now_unix())?;
    Ok(())
}
