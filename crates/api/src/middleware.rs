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

use crate::context::{Dialect, RequestId, query_pairs};
use crate::error::{ApiError, ErrorInfo};
use crate::state::AppState;

/// Gives every request an id, echoes it in `x-ci-request-id`/`x-cos-request-id`, and renders
/// the CI `<Error>` body for responses that carry an [`ErrorInfo`].
pub async fn request_id_and_errors(mut request: Request, next: Next) -> Response {
    let id = new_request_id(now_unix());
    let resource = request.uri().path().to_owned();
    let is_head = request.method() == Method::HEAD;
    let dialect = Dialect::of(request.headers(), request.uri().query());
    request.extensions_mut().insert(dialect);
    request.extensions_mut().insert(RequestId(id.clone()));
    let leftover = crate::drain::Leftover::default();
    let expects_continue = request
        .headers()
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let (parts, body) = request.into_parts();
    let request = Request::from_parts(parts, leftover.wrap(body));
    let mut response = next.run(request).await;
    if !leftover.drain(expects_continue).await {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    if let Some(info) = response.extensions_mut().remove::<ErrorInfo>() {
        response = render_error(response, &info, &resource, &id, is_head, dialect);
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        let headers = response.headers_mut();
        headers.insert("x-ci-request-id", value.clone());
        headers.insert("x-cos-request-id", value.clone());
        if dialect == Dialect::S3 {
            headers.insert("x-amz-request-id", value);
        }
    }
    response
        .headers_mut()
        .insert(header::SERVER, HeaderValue::from_static("reelflow"));
    crate::header_case::apply(&mut response);
    response
}

fn render_error(
    response: Response,
    info: &ErrorInfo,
    resource: &str,
    id: &str,
    is_head: bool,
    dialect: Dialect,
) -> Response {
    let (mut parts, _) = response.into_parts();
    let doc = XmlElement::new("Error")
        .with_leaf("Code", info.code)
        .with_leaf("Message", &info.message)
        .with_leaf("Resource", resource)
        .with_leaf("RequestId", id);
    // S3 clients parse `HostId`, the COS SDKs `TraceId`.
    let doc = match dialect {
        Dialect::Cos => doc.with_leaf("TraceId", id),
        Dialect::S3 => doc.with_leaf("HostId", id),
    };
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

/// Verifies the signature of every request: AWS SigV4 for S3 clients (header or presigned
/// query, api-reference-2.md §3), else the COS `q-sign-algorithm=sha1` scheme. For SigV4 the
/// body is wrapped so it is checked while it streams (payload hash, aws-chunked signatures and
/// trailers, `x-amz-checksum-*`): a handler that stores it commits only after a clean end.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    // Web console sessions: `Authorization: Bearer <token>` (crate::console::session).
    match crate::console::session::authenticate_bearer(&state, &request) {
        Some(Ok(session)) => {
            request.extensions_mut().insert(session);
            return next.run(request).await;
        }
        Some(Err(error)) => return error.into_response(),
        None => {}
    }
    let checked = if Dialect::recorded(&request) == Dialect::S3 {
        check_sigv4(&state, request)
    } else {
        check_signature(&state, &request).map(|()| request)
    };
    match checked {
        Ok(request) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

/// Request headers as (lower-case name, value) pairs.
fn header_pairs(headers: &axum::http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

fn check_sigv4(state: &AppState, request: Request) -> Result<Request, ApiError> {
    use futures::{StreamExt, TryStreamExt};
    use reelflow_signature::{
        ByteStream, PayloadMode, V4Request, check_checksum_headers, check_payload_sha256,
        decode_aws_chunked, verify_v4,
    };
    let (mut parts, body) = request.into_parts();
    let headers = header_pairs(&parts.headers);
    let verified = verify_v4(
        &V4Request {
            method: parts.method.as_str(),
            raw_path: parts.uri.path(),
            raw_query: parts.uri.query(),
            headers: &headers,
        },
        |id| state.config.secret_of(id),
        now_unix(),
    )?;
    let mut stream: ByteStream = body
        .into_data_stream()
        .map_err(std::io::Error::other)
        .boxed();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
    };
    stream = match &verified.payload {
        PayloadMode::Sha256(hex) => check_payload_sha256(stream, hex.clone()),
        PayloadMode::Unsigned => stream,
        PayloadMode::StreamingSigned { .. } | PayloadMode::StreamingUnsignedTrailer => {
            let decoded_len = header("x-amz-decoded-content-length").and_then(|v| v.parse().ok());
            let trailers: Vec<String> = header("x-amz-trailer")
                .unwrap_or_default()
                .split(',')
                .map(|t| t.trim().to_ascii_lowercase())
                .filter(|t| !t.is_empty())
                .collect();
            let decoded = decode_aws_chunked(stream, &verified, decoded_len, &trailers);
            // Handlers see the payload, not the framing.
            strip_aws_chunked(&mut parts.headers, decoded_len);
            decoded
        }
    };
    stream = check_checksum_headers(stream, &headers)?;
    Ok(Request::from_parts(parts, Body::from_stream(stream)))
}

/// After aws-chunked decoding: `Content-Length` becomes the decoded length (or goes), and
/// `aws-chunked` leaves `Content-Encoding`.
fn strip_aws_chunked(headers: &mut axum::http::HeaderMap, decoded_len: Option<u64>) {
    headers.remove(header::TRANSFER_ENCODING);
    match decoded_len {
        Some(len) => {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        }
        None => {
            headers.remove(header::CONTENT_LENGTH);
        }
    }
    let rest: Vec<String> = headers
        .get_all(header::CONTENT_ENCODING)
        .iter()
        .flat_map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .split(',')
                .map(|e| e.trim().to_owned())
                .collect::<Vec<_>>()
        })
        .filter(|e| !e.is_empty() && !e.eq_ignore_ascii_case("aws-chunked"))
        .collect();
    headers.remove(header::CONTENT_ENCODING);
    if !rest.is_empty()
        && let Ok(value) = HeaderValue::from_str(&rest.join(", "))
    {
        headers.insert(header::CONTENT_ENCODING, value);
    }
}

fn check_signature(state: &AppState, request: &Request) -> Result<(), ApiError> {
    let query = query_pairs(request.uri().query());
    let headers = header_pairs(request.headers());
    let path = percent_decode_str(request.uri().path())
        .decode_utf8_lossy()
        .into_owned();
    let signed = SignedRequest {
        method: request.method().as_str(),
        decoded_path: &path,
        query: &query,
        headers: &headers,
    };
    verify(&signed, |id| state.config.secret_of(id), now_unix())?;
    Ok(())
}
