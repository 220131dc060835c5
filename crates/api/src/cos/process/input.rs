//! How ffmpeg reads the object of a synchronous media call, and where it writes.
//!
//! **Input.** A blob with a local file ([`BlobStore::local_path`]) is read in place. A blob
//! without one — a completed multipart upload is a *composite*, a manifest over its part
//! files — is served to ffmpeg over HTTP on the loopback interface by a one-object server
//! that lives as long as the call: `GET`/`HEAD` with single `Range`s, streamed from
//! [`BlobStore::get`]. Compared with the alternatives:
//! - a temporary copy costs the whole object (gigabytes for a long video) before the first
//!   frame, for every call;
//! - ffmpeg's `concat:` protocol over the part files needs part paths the blob store does
//!   not expose, and ten thousand parts overflow a command line;
//! - stdin is not seekable, and an MP4 whose index sits at the end cannot be read from a pipe;
//! - ffmpeg's HTTP client seeks with `Range` requests (one short request per seek), so a
//!   snapshot at 5 minutes reads the index and one GOP, nothing else.
//!
//! The URL's path is a random 128-bit token and the server answers nothing else; ffmpeg
//! runs with `-protocol_whitelist http,tcp` for it ([`MediaSource`]).
//!
//! **Output.** Each call gets a scratch directory under the engine's work directory
//! ([`Scratch`]), removed when the call ends; a tool still running there after a crash is
//! reaped at the next start like any task's.
//!
//! [`BlobStore::local_path`]: reelflow_objects::BlobStore::local_path
//! [`BlobStore::get`]: reelflow_objects::BlobStore::get

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use reelflow_media::MediaSource;
use reelflow_model::object::ObjectRecord;
use reelflow_objects::BlobStore;
use tokio::task::JoinHandle;

use crate::ApiError;
use crate::state::AppState;
use reelflow_objects::range::{RangeAnswer, resolve};

/// The input of one call; keeps its loopback server (if any) alive until dropped.
#[derive(Debug)]
pub(super) struct MediaInput {
    source: MediaSource,
    _server: Option<Loopback>,
}

impl MediaInput {
    /// The object's blob as ffmpeg input: its local file, or a loopback URL. Content that
    /// makes ffmpeg open other files (a playlist, whatever the key: see
    /// [`reelflow_media::sniff`]) is refused with 400 before ffmpeg sees it.
    pub(super) async fn open(state: &AppState, record: &ObjectRecord) -> Result<Self, ApiError> {
        let head = reelflow_objects::read_prefix(
            state.blobs.as_ref(),
            &record.blob_id,
            record.size,
            reelflow_media::sniff::HEAD_LEN,
        )
        .await
        .map_err(|e| ApiError::internal(&e))?;
        let kind = reelflow_media::sniff::classify(&head);
        if kind != reelflow_media::sniff::InputKind::Media {
            tracing::debug!(key = %record.key, ?kind, "ci-process input names other files");
            return Err(ApiError::invalid(format!(
                "object {:?} is not a media file (it is a playlist or names other files)",
                record.key
            )));
        }
        if let Some(path) = state.blobs.local_path(&record.blob_id) {
            return Ok(Self {
                source: MediaSource::File(path),
                _server: None,
            });
        }
        let blob = Arc::new(Blob {
            store: state.blobs.clone(),
            id: record.blob_id.clone(),
            size: record.size,
            path: format!("/{}", uuid::Uuid::new_v4().simple()),
        });
        let server = Loopback::start(blob)
            .await
            .map_err(|e| ApiError::internal(&e))?;
        Ok(Self {
            source: MediaSource::Http(server.url.clone()),
            _server: Some(server),
        })
    }

    /// What to hand to ffmpeg and ffprobe.
    pub(super) fn source(&self) -> &MediaSource {
        &self.source
    }
}

/// The blob a loopback server serves, and the secret path it answers on.
#[derive(Debug)]
struct Blob {
    store: Arc<dyn BlobStore>,
    id: String,
    size: u64,
    path: String,
}

/// A one-blob HTTP server on 127.0.0.1; stops accepting when dropped (connections end when
/// the tool that opened them exits).
#[derive(Debug)]
struct Loopback {
    url: String,
    task: JoinHandle<()>,
}

impl Loopback {
    async fn start(blob: Arc<Blob>) -> std::io::Result<Self> {
        let listener = reelflow_engine::loopback_listener()?;
        let url = format!("http://{}{}", listener.local_addr()?, blob.path);
        let app = axum::Router::new().fallback(serve).with_state(blob);
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::warn!(%error, "loopback media server failed");
            }
        });
        Ok(Self { url, task })
    }
}

impl Drop for Loopback {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `GET`/`HEAD` of the blob, whole or one byte range; 404 for any other path.
async fn serve(State(blob): State<Arc<Blob>>, request: Request) -> Response {
    if request.uri().path() != blob.path {
        return StatusCode::NOT_FOUND.into_response();
    }
    let method = request.method();
    if method != Method::GET && method != Method::HEAD {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let range = request
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok());
    let (status, span) = match resolve(range, blob.size) {
        RangeAnswer::Whole => (StatusCode::OK, None),
        RangeAnswer::Partial { start, end } => (StatusCode::PARTIAL_CONTENT, Some((start, end))),
        RangeAnswer::Unsatisfiable => {
            let mut response = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            set(
                &mut response,
                header::CONTENT_RANGE,
                format!("bytes */{}", blob.size),
            );
            return response;
        }
    };
    let length = span.map_or(blob.size, |(start, end)| end - start + 1);
    let body = if method == Method::HEAD || length == 0 {
        Body::empty()
    } else {
        match blob.store.get(&blob.id, span).await {
            Ok(stream) => Body::from_stream(stream),
            Err(error) => {
                tracing::warn!(%error, "loopback media server could not read the blob");
                return StatusCode::NOT_FOUND.into_response();
            }
        }
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    set(&mut response, header::ACCEPT_RANGES, "bytes".into());
    set(&mut response, header::CONTENT_LENGTH, length.to_string());
    if let Some((start, end)) = span {
        let value = format!("bytes {start}-{end}/{}", blob.size);
        set(&mut response, header::CONTENT_RANGE, value);
    }
    response
}

fn set(response: &mut Response, name: header::HeaderName, value: String) {
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(name, value);
    }
}

/// A call's scratch directory under `<work dir>/ci-process/`, removed on drop.
#[derive(Debug)]
pub(super) struct Scratch(PathBuf);

impl Scratch {
    /// Creates a fresh directory.
    pub(super) async fn create(work_dir: &Path) -> Result<Self, ApiError> {
        let dir = work_dir
            .join("ci-process")
            .join(uuid::Uuid::new_v4().simple().to_string());
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| ApiError::internal(&e))?;
        Ok(Self(dir))
    }

    /// A file in the directory.
    pub(super) fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Err(error) = std::fs::remove_dir_all(&self.0)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(%error, dir = %self.0.display(), "could not remove a ci-process scratch directory");
        }
    }
}
