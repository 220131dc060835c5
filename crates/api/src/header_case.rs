//! Response header names spelled exactly as COS spells them (`ETag`, `Content-Length`,
//! `x-cos-hash-crc64ecma`, …).
//!
//! The Python SDK copies response headers into a plain dict and indexes it with fixed names
//! (`download_file` reads `['Content-Length']`, `['ETag']`, `['Last-Modified']`); neither
//! hyper's default (lower case) nor its title case (`Etag`) satisfies it (api-reference-2.md
//! §1.6). HTTP header names are case-insensitive by RFC 9110 §5.1, so the spelling is ours to
//! choose.
//!
//! hyper writes a response header in the spelling recorded for it in the response's
//! header-case map extension, when one is present. That map type is private to hyper, but hyper
//! builds one for every request it parses with `preserve_header_case`. [`canonical_case`]
//! therefore has hyper parse, once, an in-memory request whose headers are spelled the COS way
//! and keeps that request's extensions; [`apply`] copies them onto each response. Names not in
//! [`SPELLINGS`] (e.g. `x-cos-meta-*`, which are lower case anyway) go out lower case.

use std::convert::Infallible;
use std::sync::LazyLock;

use axum::http::{Extensions, Request, Response};
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;

/// Every response header name reelflow sends, in the spelling COS uses.
pub const SPELLINGS: &[&str] = &[
    "Accept-Ranges",
    "Cache-Control",
    "Connection",
    "Content-Disposition",
    "Content-Encoding",
    "Content-Language",
    "Content-Length",
    "Content-MD5",
    "Content-Range",
    "Content-Type",
    "Date",
    "ETag",
    "Expires",
    "Last-Modified",
    "Location",
    "Retry-After",
    "Server",
    "x-ci-request-id",
    "x-cos-error-code",
    "x-cos-hash-crc64ecma",
    "x-cos-request-id",
    "x-cos-storage-class",
    "x-cos-version-id",
    // Last: it makes the in-memory request chunked (hyper ignores a Content-Length after it).
    "Transfer-Encoding",
];

/// The response extensions that make hyper spell header names as in [`SPELLINGS`].
static CANONICAL: LazyLock<Extensions> = LazyLock::new(|| {
    // Built on a thread of its own so it works inside or outside a Tokio runtime.
    std::thread::spawn(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()
            .and_then(|rt| rt.block_on(canonical_case()))
            .unwrap_or_default()
    })
    .join()
    .unwrap_or_default()
});

/// Gives `response` the COS spelling of its header names.
pub fn apply<B>(response: &mut Response<B>) {
    response.extensions_mut().extend(CANONICAL.clone());
}

/// Has hyper parse a request whose header names are spelled as in [`SPELLINGS`] and returns
/// its extensions (which hold hyper's header-case map). `None` if hyper did not answer.
pub async fn canonical_case() -> Option<Extensions> {
    let (client, server) = tokio::io::duplex(16 * 1024);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let tx = std::sync::Mutex::new(Some(tx));
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        if let Some(tx) = tx.lock().ok().and_then(|mut slot| slot.take()) {
            let _ = tx.send(request.extensions().clone());
        }
        async { Ok::<_, Infallible>(Response::new(Empty::<Bytes>::new())) }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .preserve_header_case(true)
        .serve_connection(TokioIo::new(server), service);
    let serve = tokio::spawn(connection);
    let mut client = client;
    client.write_all(fake_request().as_bytes()).await.ok()?;
    let extensions = rx.await.ok();
    drop(client);
    let _ = serve.await;
    extensions
}

/// `POST / HTTP/1.1` with one header line per spelling and an empty chunked body.
fn fake_request() -> String {
    let mut text = String::from("POST / HTTP/1.1\r\nHost: localhost\r\n");
    for name in SPELLINGS {
        let value = match *name {
            "Content-Length" => "0",
            "Transfer-Encoding" => "chunked",
            _ => "x",
        };
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n0\r\n\r\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hyper_parses_the_spellings() {
        let extensions = canonical_case().await.expect("hyper answered");
        assert!(!extensions.is_empty(), "hyper recorded the header case map");
    }
}
