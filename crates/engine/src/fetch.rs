//! Job inputs given as `Input.Url`. A URL naming an object of this server in the COS form
//! (`http(s)://<bucket>.cos.<region>.myqcloud.com/<key>`, the bucket existing here) is read in
//! place from the bucket. Any other URL is downloaded over http(s) into the task's scratch
//! directory:
//!
//! - through the SSRF guard the callbacks use (`reelflow-netguard`): the URL's IP-literal host
//!   before any request, every resolved address at connect time, and every redirect hop again;
//!   private networks are refused unless allowed with `REELFLOW_FETCH_ALLOW_CIDRS`;
//! - streamed to disk chunk by chunk, never held in memory whole, and stopped as soon as it
//!   passes the size limit (a larger `Content-Length` is refused before reading);
//! - stopped when the task is cancelled.
//!
//! Failure messages name the URL as the user sent it, without user info or query (a
//! presigned URL's signature is not repeated), never scratch paths or internal ids.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use reelflow_media::RunControl;
use reelflow_model::job::{cos_object_of, display_url, key_of_url};
use reelflow_model::workflow::NodeType;
use reelflow_netguard::{
    AddressPolicy, GuardedResolver, UrlRefusal, check_url, redirect_policy, refused_in,
};
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;

use crate::Engine;
use crate::execute::{Failure, Job, ScratchDir};

/// The setting that lets URL inputs reach private networks.
pub const FETCH_ALLOW_SETTING: &str = "REELFLOW_FETCH_ALLOW_CIDRS";

/// How URL inputs are fetched.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// Which addresses may be contacted.
    pub policy: AddressPolicy,
    /// Largest body accepted, in bytes.
    pub max_size: u64,
    /// Time allowed to connect.
    pub connect_timeout: Duration,
    /// Longest wait for the next piece of the body.
    pub read_timeout: Duration,
    /// Most redirects followed.
    pub max_redirects: usize,
}

impl Default for FetchConfig {
    /// Public addresses only, 50 GiB, 10 s to connect, 60 s between reads, 5 redirects.
    fn default() -> Self {
        Self {
            policy: AddressPolicy::default().named(FETCH_ALLOW_SETTING),
            max_size: 50 << 30,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
            max_redirects: 5,
        }
    }
}

/// Why a URL input could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Not a usable http(s) URL.
    #[error("input URL {url} is not valid: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// The SSRF guard refused it (or a redirect).
    #[error("input URL {url} was refused: {source}")]
    Refused {
        url: String,
        #[source]
        source: UrlRefusal,
    },
    /// The server answered with an error status.
    #[error("input URL {url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    /// Larger than the limit.
    #[error("input URL {url} is larger than the {limit}-byte limit for URL inputs")]
    TooLarge { url: String, limit: u64 },
    /// Nothing was received.
    #[error("input URL {url} returned an empty body")]
    Empty { url: String },
    /// Connecting or reading failed.
    #[error("input URL {url} could not be downloaded: {detail}")]
    Transfer { url: String, detail: String },
    /// The task was cancelled while downloading.
    #[error("downloading input URL {url} was cancelled")]
    Cancelled { url: String },
    /// The scratch file could not be written.
    #[error("cannot store the download of input URL {url}: {source}")]
    Io {
        url: String,
        #[source]
        source: std::io::Error,
    },
}

impl FetchError {
    /// Stable task error code.
    pub fn code(&self) -> &'static str {
        match self {
            FetchError::InvalidUrl { .. } => "InvalidArgument",
            FetchError::Refused { .. } => "ResourceAccessDenied",
            FetchError::Status {
                status: 404 | 410, ..
            } => "ResourceNotFound",
            FetchError::Status { .. } | FetchError::Transfer { .. } => "ResourceDownloadFailed",
            FetchError::TooLarge { .. } => "EntityTooLarge",
            FetchError::Empty { .. } => "InvalidInput",
            FetchError::Cancelled { .. } => "Cancelled",
            FetchError::Io { .. } => "InternalError",
        }
    }
}

impl From<FetchError> for Failure {
    fn from(e: FetchError) -> Self {
        // A broken transfer or a local write error may pass on a later attempt; a refused,
        // missing or oversized resource will not.
        let transient = matches!(e, FetchError::Transfer { .. } | FetchError::Io { .. });
        Failure {
            transient,
            ..Failure::new(e.code(), e.to_string())
        }
    }
}

/// Checks `url` as far as possible without a request (syntax, scheme, IP-literal host).
pub fn check_input_url(config: &FetchConfig, url: &str) -> Result<(), FetchError> {
    let shown = display_url(url);
    let parsed = reqwest::Url::parse(url).map_err(|e| FetchError::InvalidUrl {
        url: shown.clone(),
        reason: e.to_string(),
    })?;
    check_url(&config.policy, &parsed).map_err(|source| FetchError::Refused { url: shown, source })
}

/// Downloads `url` into `dest`; returns the bytes written. `dest` is removed on failure.
pub async fn fetch_to(
    config: &FetchConfig,
    url: &str,
    dest: &Path,
    cancel: &CancellationToken,
) -> Result<u64, FetchError> {
    check_input_url(config, url)?;
    let shown = display_url(url);
    let result = tokio::select! {
        result = download(config, url, &shown, dest) => result,
        () = cancel.cancelled() => Err(FetchError::Cancelled { url: shown.clone() }),
    };
    if result.is_err() {
        let _ = tokio::fs::remove_file(dest).await;
    }
    result
}

async fn download(
    config: &FetchConfig,
    url: &str,
    shown: &str,
    dest: &Path,
) -> Result<u64, FetchError> {
    let transfer = |e: reqwest::Error| match refused_in(&e) {
        Some(source) => FetchError::Refused {
            url: shown.to_owned(),
            source,
        },
        None => FetchError::Transfer {
            url: shown.to_owned(),
            detail: chain(&e.without_url()),
        },
    };
    let mut response = client(config, shown)?
        .get(url)
        .send()
        .await
        .map_err(transfer)?;
    let status = response.status();
    if !status.is_success() {
        return Err(FetchError::Status {
            url: shown.to_owned(),
            status: status.as_u16(),
        });
    }
    let too_large = || FetchError::TooLarge {
        url: shown.to_owned(),
        limit: config.max_size,
    };
    if response
        .content_length()
        .is_some_and(|n| n > config.max_size)
    {
        return Err(too_large());
    }
    let io = |source| FetchError::Io {
        url: shown.to_owned(),
        source,
    };
    let mut file = tokio::fs::File::create(dest).await.map_err(io)?;
    let mut written: u64 = 0;
    while let Some(chunk) = response.chunk().await.map_err(transfer)? {
        written += chunk.len() as u64;
        if written > config.max_size {
            return Err(too_large());
        }
        file.write_all(&chunk).await.map_err(io)?;
    }
    file.flush().await.map_err(io)?;
    if written == 0 {
        return Err(FetchError::Empty {
            url: shown.to_owned(),
        });
    }
    Ok(written)
}

fn client(config: &FetchConfig, shown: &str) -> Result<reqwest::Client, FetchError> {
    let policy = Arc::new(config.policy.clone());
    reqwest::Client::builder()
        .redirect(redirect_policy(policy.clone(), config.max_redirects))
        .connect_timeout(config.connect_timeout)
        .read_timeout(config.read_timeout)
        // A proxy would connect on our behalf, past the address check.
        .no_proxy()
        .user_agent(concat!("reelflow/", env!("CARGO_PKG_VERSION")))
        .dns_resolver(Arc::new(GuardedResolver::new(policy)))
        .build()
        .map_err(|e| FetchError::Transfer {
            url: shown.to_owned(),
            detail: format!("cannot build an HTTP client: {}", chain(&e)),
        })
}

/// The error and its causes, `: `-separated.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

impl Engine {
    /// The URL-input settings.
    pub fn fetch_config(&self) -> &FetchConfig {
        &self.inner.config.fetch
    }

    /// `(bucket, key)` when `url` is the COS object URL of a bucket on this server.
    pub async fn local_cos_object(
        &self,
        url: &str,
    ) -> Result<Option<(String, String)>, reelflow_store::StoreError> {
        match cos_object_of(url) {
            Some((bucket, key)) if self.store().bucket_exists(&bucket).await? => {
                Ok(Some((bucket, key)))
            }
            _ => Ok(None),
        }
    }

    /// The local file a job reads: its object, its `Input.Url` (read in place or downloaded),
    /// or nothing for a Concat job of fragments only.
    pub(crate) async fn job_input(
        &self,
        job: &Job,
        scratch: &ScratchDir,
        ctl: &RunControl,
    ) -> Result<Option<PathBuf>, Failure> {
        if let Some(url) = &job.node.operation.input_url {
            return self.url_input(url, scratch, ctl).await.map(Some);
        }
        if job.task.input_key.is_empty() && job.node.node_type == NodeType::Concat {
            return Ok(None);
        }
        let (bucket, key) = (&job.task.input_bucket, &job.task.input_key);
        self.local_object(bucket, key, scratch).await.map(Some)
    }

    async fn url_input(
        &self,
        url: &str,
        scratch: &ScratchDir,
        ctl: &RunControl,
    ) -> Result<PathBuf, Failure> {
        if let Some((bucket, key)) = self.local_cos_object(url).await? {
            return self.local_object(&bucket, &key, scratch).await;
        }
        let ext: String = key_of_url(url)
            .rsplit_once('.')
            .map_or(String::new(), |(_, e)| e.to_owned())
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(16)
            .collect();
        let ext = if ext.is_empty() {
            "bin".to_owned()
        } else {
            ext
        };
        let dest = scratch.root.join(format!("url-input.{ext}"));
        scratch.names.add(&dest, &display_url(url));
        fetch_to(self.fetch_config(), url, &dest, &ctl.cancel).await?;
        Ok(dest)
    }
}
