//! The web console: static assets under `/_reelflow/console/` (embedded in the binary at build
//! time, plain HTML/CSS/ES modules from `crates/api/console/`, no build step) and the two
//! signed endpoints it needs besides the CI and management APIs:
//!
//! * `POST /_reelflow/v1/sessions` — signed with a key pair (never with a session): mints a
//!   short-lived session token ([`session`]), `{"ttl_secs": 3600}` optional.
//! * `POST /_reelflow/v1/presign` — `{"bucket", "key", "query"?, "expires_secs"?}`: a short-lived
//!   q-sign pre-signed GET URL, so `<img>`, `<video>` and downloads work without cookies.
//!
//! The console keeps only its session token (in `sessionStorage`) and sends it as
//! `Authorization: Bearer …`; no cookie ever authorizes a request, so there is nothing for a
//! cross-site request to ride on.

pub mod session;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use reelflow_model::clock::now_unix;
use reelflow_signature::{Credentials, SignedRequest, cos_encode, presign as presign_fields};
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::context::{query_pairs, query_value};
use crate::state::AppState;
pub use session::Session;

/// Where the console is served.
pub const PREFIX: &str = "/_reelflow/console";

/// Longest lifetime of a pre-signed URL the console may ask for.
const MAX_PRESIGN_SECS: i64 = 12 * 3600;
/// Lifetime of a pre-signed URL when none is asked for.
const DEFAULT_PRESIGN_SECS: i64 = 900;

/// One embedded file: path below the console root, content type, bytes.
type Asset = (&'static str, &'static str, &'static [u8]);

macro_rules! asset {
    ($path:literal, $type:expr) => {
        (
            $path,
            $type,
            include_bytes!(concat!("../../console/", $path)) as &[u8],
        )
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// The console's files (crates/api/console/).
const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("js/app.js", JS),
    asset!("js/api.js", JS),
    asset!("js/sign.js", JS),
    asset!("js/ui.js", JS),
    asset!("js/dag.js", JS),
    asset!("js/pages/buckets.js", JS),
    asset!("js/pages/workflows.js", JS),
    asset!("js/pages/runs.js", JS),
    asset!("js/pages/callbacks.js", JS),
    asset!("js/pages/templates.js", JS),
    asset!("js/pages/queues.js", JS),
    asset!("vendor/hls.light.min.js", JS),
    asset!("vendor/hls.js-LICENSE", "text/plain; charset=utf-8"),
    asset!("vendor/README.md", "text/markdown; charset=utf-8"),
];

/// Public routes: the console's files (no secret in them; every API call they make is
/// authenticated).
pub fn public_routes() -> Router<AppState> {
    Router::new()
        .route(
            PREFIX,
            get(|| async { Redirect::permanent("/_reelflow/console/") }),
        )
        .route(
            "/_reelflow/console/",
            get(|| serve_file("index.html".to_owned())),
        )
        .route(
            "/_reelflow/console/{*path}",
            get(|Path(path): Path<String>| serve_file(path)),
        )
}

/// Serves one of [`ASSETS`]. For work on the console itself, `REELFLOW_CONSOLE_DIR` (a copy of
/// `crates/api/console`) makes the same files come from disk instead, so a page reload shows an
/// edit without rebuilding; only the names in [`ASSETS`] are served either way.
async fn serve_file(path: String) -> Response {
    if let Some(dir) = std::env::var_os("REELFLOW_CONSOLE_DIR")
        && let Some((name, content_type, _)) = ASSETS.iter().find(|(p, _, _)| *p == path)
        && let Ok(bytes) = tokio::fs::read(std::path::Path::new(&dir).join(name)).await
    {
        return with_headers(Bytes::from(bytes).into_response(), content_type);
    }
    serve(&path)
}

/// Signed routes (behind the authentication middleware).
pub fn signed_routes() -> Router<AppState> {
    Router::new()
        .route("/_reelflow/v1/sessions", post(mint))
        .route("/_reelflow/v1/presign", post(presign))
}

fn serve(path: &str) -> Response {
    let Some((_, content_type, bytes)) = ASSETS.iter().find(|(p, _, _)| *p == path) else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    with_headers(Bytes::from_static(bytes).into_response(), content_type)
}

fn with_headers(mut response: Response, content_type: &'static str) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    // The two hashes allow exactly the two `style` attributes Chrome writes into the error
    // document `DOMParser` returns for XML that is not well-formed (the workflow XML editor
    // parses what is typed): without them every typo logs a CSP violation. No other inline
    // style is allowed.
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-hashes' \
             'sha256-ICa0DhwZQJsOd/Rn0N8H6FdQ71GfNL+op2zhAQ+Y4mM=' \
             'sha256-ZD0chCyBaNHl+4UwQHJIHGoYhKwMeyCXGgJTKW5/67E='; img-src 'self' data: blob:; \
             media-src 'self' blob:; connect-src 'self'; worker-src 'self' blob:; \
             object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
    );
    response
}

/// A JSON answer.
fn json_response(status: StatusCode, value: &serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

fn json_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    json_response(status, &json!({"code": code, "message": message.into()}))
}

fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// The SecretId a key-signed request was signed with (`q-ak` in the header or query, or the
/// SigV4 credential). The middleware has verified the signature already.
fn signer_id(request: &Request) -> Option<String> {
    let query = query_pairs(request.uri().query());
    if let Some(id) = query_value(&query, "q-ak") {
        return Some(id.to_owned());
    }
    if let Some(credential) = query_value(&query, "X-Amz-Credential") {
        return credential.split('/').next().map(str::to_owned);
    }
    let auth = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    if let Some(rest) = auth.split("Credential=").nth(1) {
        return rest.split('/').next().map(|s| s.trim().to_owned());
    }
    auth.split('&')
        .find_map(|field| field.trim().strip_prefix("q-ak="))
        .map(str::to_owned)
}

#[derive(Debug, Default, Deserialize)]
struct MintBody {
    ttl_secs: Option<i64>,
}

/// `POST /_reelflow/v1/sessions`.
async fn mint(State(state): State<AppState>, request: Request) -> Response {
    if request.extensions().get::<Session>().is_some() {
        return json_error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "a session token cannot mint sessions; sign the request with a key pair",
        );
    }
    let Some(secret_id) = signer_id(&request) else {
        return json_error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "no key pair signed this request",
        );
    };
    let Some(secret_key) = state.config.secret_of(&secret_id) else {
        return json_error(StatusCode::FORBIDDEN, "AccessDenied", "unknown SecretId");
    };
    let body = match axum::body::to_bytes(request.into_body(), 64 * 1024).await {
        Ok(body) => body,
        Err(_) => return json_error(StatusCode::BAD_REQUEST, "InvalidArgument", "body too large"),
    };
    let params: MintBody = if body.iter().all(u8::is_ascii_whitespace) {
        MintBody::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(params) => params,
            Err(e) => {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidArgument",
                    format!("body: {e}"),
                );
            }
        }
    };
    let ttl = params.ttl_secs.unwrap_or(session::DEFAULT_TTL_SECS);
    if !(session::MIN_TTL_SECS..=session::MAX_TTL_SECS).contains(&ttl) {
        return json_error(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            format!(
                "ttl_secs: between {} and {}",
                session::MIN_TTL_SECS,
                session::MAX_TTL_SECS
            ),
        );
    }
    let expires_at = now_unix() + ttl;
    let token = session::mint(&secret_id, &secret_key, expires_at);
    tracing::info!(secret_id = %secret_id, ttl, "console session minted");
    json_response(
        StatusCode::CREATED,
        &json!({
            "token": token,
            "token_type": "Bearer",
            "secret_id": secret_id,
            "expires_at": rfc3339(expires_at),
            "expires_in": ttl,
        }),
    )
}

#[derive(Debug, Deserialize)]
struct PresignBody {
    bucket: String,
    key: String,
    #[serde(default)]
    query: Vec<(String, String)>,
    expires_secs: Option<i64>,
}

/// `POST /_reelflow/v1/presign`: a pre-signed, path-style GET URL of an object (relative to
/// this server), signed with the caller's key pair.
async fn presign(State(state): State<AppState>, request: Request) -> Response {
    let caller = match request.extensions().get::<Session>() {
        Some(session) => Some(session.secret_id.clone()),
        None => signer_id(&request),
    };
    let Some((secret_id, secret_key)) =
        caller.and_then(|id| state.config.secret_of(&id).map(|key| (id, key)))
    else {
        return json_error(StatusCode::FORBIDDEN, "AccessDenied", "unknown caller");
    };
    let body = match axum::body::to_bytes(request.into_body(), 64 * 1024).await {
        Ok(body) => body,
        Err(_) => return json_error(StatusCode::BAD_REQUEST, "InvalidArgument", "body too large"),
    };
    let params: PresignBody = match serde_json::from_slice(&body) {
        Ok(params) => params,
        Err(e) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                "InvalidArgument",
                format!("body: {e}"),
            );
        }
    };
    if params.bucket.is_empty() || params.bucket.contains('/') || params.key.is_empty() {
        return json_error(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "bucket and key are required",
        );
    }
    let ttl = params.expires_secs.unwrap_or(DEFAULT_PRESIGN_SECS);
    if !(1..=MAX_PRESIGN_SECS).contains(&ttl) {
        return json_error(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            format!("expires_secs: between 1 and {MAX_PRESIGN_SECS}"),
        );
    }
    let url = presigned_url(
        &Credentials {
            secret_id,
            secret_key,
        },
        &params.bucket,
        &params.key,
        &params.query,
        now_unix(),
        ttl,
    );
    json_response(
        StatusCode::OK,
        &json!({"url": url, "expires_at": rfc3339(now_unix() + ttl)}),
    )
}

/// `/<bucket>/<key>?<query>&q-sign-…`, with `query` signed and no header signed.
pub fn presigned_url(
    credentials: &Credentials,
    bucket: &str,
    key: &str,
    query: &[(String, String)],
    now: i64,
    ttl: i64,
) -> String {
    let path = format!("/{bucket}/{key}");
    let names: Vec<&str> = query.iter().map(|(k, _)| k.as_str()).collect();
    let fields = presign_fields(
        &SignedRequest {
            method: "GET",
            decoded_path: &path,
            query,
            headers: &[],
        },
        credentials,
        now - 60,
        now + ttl,
        &[],
        &names,
    );
    let encoded_path: Vec<String> = path.split('/').map(cos_encode).collect();
    let pairs: Vec<String> = query
        .iter()
        .cloned()
        .chain(fields)
        .map(|(k, v)| format!("{}={}", cos_encode(&k), cos_encode(&v)))
        .collect();
    format!("{}?{}", encoded_path.join("/"), pairs.join("&"))
}
