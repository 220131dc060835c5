//! Ranged reads of stored blobs for ffmpeg: a loopback HTTP server that serves a blob the
//! engine shares for the length of one task, so ffmpeg fetches only the bytes it reads
//! (`Range: bytes=a-b`, RFC 9110 §14, resolved by `reelflow_objects::range` like GET Object) instead of the task downloading the whole object first.
//!
//! A segment of a long input needs the container's index and its own stretch of the file;
//! with the blob store on S3 (no local path) each segment would otherwise download the whole
//! input. The server listens on 127.0.0.1 only, a blob is reachable only under a random
//! 128-bit token while its [`Share`] is alive, and reads go through [`BlobStore::get`], so
//! composites (multipart uploads) are served like any blob.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::StreamExt;
use reelflow_objects::BlobStore;
use reelflow_objects::range::{RangeAnswer, resolve};

use crate::Engine;
use crate::execute::{Failure, ScratchDir};

/// Blobs shared now: token → what is shared.
type Shares = Arc<Mutex<HashMap<String, Shared>>>;

#[derive(Debug, Clone)]
struct Shared {
    blob_id: String,
    size: u64,
    /// Bytes sent so far (logged when the share ends).
    sent: Arc<AtomicU64>,
}

/// The running loopback server.
#[derive(Debug)]
pub(crate) struct BlobHttp {
    addr: SocketAddr,
    shares: Shares,
}

/// A blob reachable at [`Share::url`] until this is dropped.
#[derive(Debug)]
pub(crate) struct Share {
    pub url: String,
    token: String,
    shares: Shares,
}

impl Drop for Share {
    fn drop(&mut self) {
        let ended = self
            .shares
            .lock()
            .ok()
            .and_then(|mut s| s.remove(&self.token));
        if let Some(shared) = ended {
            tracing::info!(
                read_bytes = shared.sent.load(Ordering::Relaxed),
                size = shared.size,
                "input read by ranged requests"
            );
        }
    }
}

#[derive(Clone)]
struct Served {
    blobs: Arc<dyn BlobStore>,
    shares: Shares,
}

impl BlobHttp {
    /// Starts the server on an ephemeral loopback port; it runs until the runtime stops.
    pub(crate) async fn start(blobs: Arc<dyn BlobStore>) -> std::io::Result<Self> {
        let listener = loopback_listener()?;
        let addr = listener.local_addr()?;
        let shares = Shares::default();
        let app = Router::new()
            .route("/b/{token}/{name}", get(serve).head(serve))
            .with_state(Served {
                blobs,
                shares: shares.clone(),
            });
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::warn!(%error, "the loopback blob server stopped");
            }
        });
        Ok(Self { addr, shares })
    }

    /// Shares blob `blob_id` of `size` bytes; `name` ends the URL (ffmpeg guesses formats
    /// from the extension).
    pub(crate) fn share(&self, blob_id: &str, size: u64, name: &str) -> Share {
        let token = uuid::Uuid::new_v4().simple().to_string();
        let name: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            .collect();
        let name = if name.is_empty() {
            "input".into()
        } else {
            name
        };
        let shared = Shared {
            blob_id: blob_id.to_owned(),
            size,
            sent: Arc::default(),
        };
        if let Ok(mut shares) = self.shares.lock() {
            shares.insert(token.clone(), shared);
        }
        Share {
            url: format!("http://{}/b/{token}/{name}", self.addr),
            token,
            shares: self.shares.clone(),
        }
    }
}

/// Bytes a loopback connection may hold unread: ffmpeg closes its connection at every seek,
/// and whatever the server had already pushed into the socket is fetched from the store for
/// nothing (Linux's default send buffer grows to 4 MiB; measured: a part of a 3.9 MB input
/// was sent 11 MB over its three requests). Loopback still carries GB/s with this much.
const LOOPBACK_SEND_BUFFER: u32 = 256 * 1024;

/// A listener on an ephemeral 127.0.0.1 port for serving a blob to ffmpeg, its accepted
/// connections with a small send buffer ([`LOOPBACK_SEND_BUFFER`]).
pub fn loopback_listener() -> std::io::Result<tokio::net::TcpListener> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_send_buffer_size(LOOPBACK_SEND_BUFFER)?;
    socket.bind((std::net::Ipv4Addr::LOCALHOST, 0).into())?;
    socket.listen(128)
}

impl Engine {
    /// Where ffmpeg reads the stored object `bucket/key` from for a task that needs only part
    /// of it (a segment): the blob's local path when the blob store has one, else a loopback
    /// URL served with ranged reads while the returned [`Share`] lives. Names are recorded
    /// for failure messages as [`Engine::local_object`] does. `planned` is the blob the
    /// parent planned from, its content already checked: the object must still name it
    /// (a part of a replaced input fails), it is not read again to check it, and when the
    /// parent's download of it is kept on this worker it is read from there
    /// ([`crate::segmented`]'s `kept`).
    pub(crate) async fn ranged_object(
        &self,
        bucket: &str,
        key: &str,
        planned: Option<&str>,
        scratch: &ScratchDir,
    ) -> Result<(std::path::PathBuf, Option<Share>), Failure> {
        let object = self.input_object(bucket, key, scratch).await?;
        match planned {
            Some(blob) if blob == object.blob_id => {
                if let Some(path) = self.kept_input(blob, scratch).await {
                    tracing::info!("input read from the parent's download kept on this worker");
                    scratch.names.add(&path, key);
                    return Ok((path, None));
                }
            }
            Some(_) => return Err(crate::segmented::input_replaced(key, "replaced")),
            None => match self.input_kind(&object).await? {
                reelflow_media::sniff::InputKind::Media => {}
                reelflow_media::sniff::InputKind::Refused(what) => {
                    return Err(crate::execute::not_media(key, what));
                }
                _ => return Err(crate::execute::not_media(key, "a playlist")),
            },
        }
        if let Some(path) = self.blobs().local_path(&object.blob_id) {
            scratch.names.add(&path, key);
            return Ok((path, None));
        }
        let server = self
            .inner
            .blob_http
            .get_or_try_init(|| BlobHttp::start(self.blobs().clone()))
            .await
            .map_err(|e| Failure {
                transient: true,
                ..Failure::new("InternalError", format!("cannot serve the input: {e}"))
            })?;
        let name = key.rsplit('/').next().unwrap_or(key);
        let share = server.share(&object.blob_id, object.size, name);
        let path = std::path::PathBuf::from(&share.url);
        scratch.names.add(&path, key);
        Ok((path, Some(share)))
    }
}

async fn serve(
    State(served): State<Served>,
    Path((token, _name)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let shared = served
        .shares
        .lock()
        .ok()
        .and_then(|s| s.get(&token).cloned());
    let Some(Shared {
        blob_id,
        size,
        sent,
    }) = shared
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let header = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let (status, start, end) = match resolve(header, size) {
        RangeAnswer::Partial { start, end } => (StatusCode::PARTIAL_CONTENT, start, end),
        RangeAnswer::Whole => (StatusCode::OK, 0, size.saturating_sub(1)),
        RangeAnswer::Unsatisfiable => {
            let unsatisfied = format!("bytes */{size}");
            return (
                StatusCode::RANGE_NOT_SATISFIABLE,
                [(header::CONTENT_RANGE, unsatisfied)],
            )
                .into_response();
        }
    };
    let mut response = Response::builder()
        .status(status)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(
            header::CONTENT_LENGTH,
            if size == 0 { 0 } else { end + 1 - start },
        );
    if status == StatusCode::PARTIAL_CONTENT {
        response = response.header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{size}"));
    }
    let body = if method == Method::HEAD || size == 0 {
        Body::empty()
    } else {
        match served.blobs.get(&blob_id, Some((start, end))).await {
            Ok(stream) => Body::from_stream(stream.inspect(move |chunk| {
                if let Ok(bytes) = chunk {
                    sent.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                }
            })),
            Err(error) => {
                tracing::warn!(%error, "loopback read of a shared blob failed");
                return StatusCode::BAD_GATEWAY.into_response();
            }
        }
    };
    response
        .body(body)
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
