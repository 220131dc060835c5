//! One delivery attempt: a signed POST, classified into an [`Outcome`].
//!
//! Only a complete 2xx response is a success. A redirect is a failure and is never followed
//! (following it would let a receiver point us at an address the SSRF guard refuses). A 2xx
//! whose body breaks off is a failure too: we cannot tell whether the receiver finished, and
//! at-least-once delivery prefers a duplicate (which receivers drop by `webhook-id`) to a loss.
//! The first 20 KB of every response body are kept for the attempt log.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use reelflow_store::CallbackMessage;

use crate::now_ms;
use crate::schedule::FailureHint;
use crate::secrets::SigningKeys;
use crate::ssrf::{AddressPolicy, RefusedAddress};

/// How much of a response body is kept (Svix keeps 20 000 bytes).
pub const RESPONSE_KEEP: usize = 20_000;

/// Stable kinds of failed attempts, as logged and counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The URL does not parse or is not http(s). Permanent.
    InvalidUrl,
    /// The destination resolves to a refused address.
    SsrfRefused,
    /// No complete answer within the request timeout.
    Timeout,
    /// The TCP or TLS connection could not be made.
    Connect,
    /// The connection broke before a response arrived.
    Connection,
    /// A 3xx answer (not followed).
    Redirect,
    /// A 4xx or 5xx answer.
    HttpStatus,
    /// The response body broke off.
    IncompleteResponse,
    /// Our side failed before sending (the secret could not be read).
    Internal,
}

impl ErrorKind {
    /// Every kind, for metrics.
    pub const ALL: [ErrorKind; 9] = [
        ErrorKind::InvalidUrl,
        ErrorKind::SsrfRefused,
        ErrorKind::Timeout,
        ErrorKind::Connect,
        ErrorKind::Connection,
        ErrorKind::Redirect,
        ErrorKind::HttpStatus,
        ErrorKind::IncompleteResponse,
        ErrorKind::Internal,
    ];

    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::InvalidUrl => "invalid_url",
            ErrorKind::SsrfRefused => "ssrf_refused",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Connect => "connect",
            ErrorKind::Connection => "connection",
            ErrorKind::Redirect => "redirect",
            ErrorKind::HttpStatus => "http_status",
            ErrorKind::IncompleteResponse => "incomplete_response",
            ErrorKind::Internal => "internal",
        }
    }
}

/// Why an attempt failed.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Kind.
    pub kind: ErrorKind,
    /// Human-readable detail with the cause chain.
    pub detail: String,
    /// Input for the retry delay.
    pub hint: FailureHint,
    /// No retry can succeed (invalid URL, refused IP literal, 410 Gone).
    pub permanent: bool,
}

impl Failure {
    fn new(kind: ErrorKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
            hint: FailureHint::default(),
            permanent: false,
        }
    }

    fn permanent(mut self) -> Self {
        self.permanent = true;
        self
    }

    /// A failure on our side before anything was sent.
    pub fn internal(error: &dyn std::error::Error) -> Self {
        Self::new(ErrorKind::Internal, chain(error))
    }
}

/// What one attempt came to.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Start (Unix ms).
    pub started_ms: i64,
    /// Duration.
    pub duration: Duration,
    /// HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// `None` on success.
    pub failure: Option<Failure>,
    /// The first [`RESPONSE_KEEP`] bytes of the response body (lossy UTF-8).
    pub body: String,
}

impl Outcome {
    /// An attempt that failed on our side before anything was sent.
    pub fn internal(error: &dyn std::error::Error) -> Self {
        Self {
            started_ms: now_ms(),
            duration: Duration::ZERO,
            status: None,
            failure: Some(Failure::internal(error)),
            body: String::new(),
        }
    }
}

/// Posts `message` once.
pub async fn send(
    client: &reqwest::Client,
    policy: &AddressPolicy,
    message: &CallbackMessage,
    keys: &SigningKeys,
) -> Outcome {
    let started_ms = now_ms();
    let clock = Instant::now();
    let mut outcome = Outcome {
        started_ms,
        duration: Duration::ZERO,
        status: None,
        failure: None,
        body: String::new(),
    };
    if let Err(failure) = exchange(client, policy, message, keys, &mut outcome).await {
        outcome.failure = Some(failure);
    }
    outcome.duration = clock.elapsed();
    outcome
}

async fn exchange(
    client: &reqwest::Client,
    policy: &AddressPolicy,
    message: &CallbackMessage,
    keys: &SigningKeys,
    outcome: &mut Outcome,
) -> Result<(), Failure> {
    let url = checked_url(policy, &message.url)?;
    let timestamp = outcome.started_ms / 1000;
    let signature = keys.signature(&message.id, timestamp, &message.body, outcome.started_ms);
    let mut response = client
        .post(url)
        .header("content-type", &message.content_type)
        .header("webhook-id", &message.id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(message.body.clone())
        .send()
        .await
        .map_err(|e| classify(&e))?;
    let status = response.status();
    outcome.status = Some(status.as_u16());
    let hint = FailureHint {
        overloaded: status.as_u16() == 429,
        retry_after: retry_after(response.headers()),
    };
    let location = response
        .headers()
        .get("location")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let read = read_capped(&mut response, &mut outcome.body).await;
    judge(status, hint, location, read)
}

fn checked_url(policy: &AddressPolicy, text: &str) -> Result<reqwest::Url, Failure> {
    let url = reqwest::Url::parse(text).map_err(|e| {
        Failure::new(ErrorKind::InvalidUrl, format!("invalid URL: {e}")).permanent()
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        let detail = format!(
            "scheme {} is not allowed (only http and https)",
            url.scheme()
        );
        return Err(Failure::new(ErrorKind::InvalidUrl, detail).permanent());
    }
    let literal = match url.host() {
        Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
        Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
        Some(url::Host::Domain(_)) => None,
        None => {
            return Err(Failure::new(ErrorKind::InvalidUrl, "URL has no host").permanent());
        }
    };
    if let Some(ip) = literal {
        // An IP literal cannot change: refusing it is final.
        policy
            .check(ip)
            .map_err(|e| Failure::new(ErrorKind::SsrfRefused, e.to_string()).permanent())?;
    }
    Ok(url)
}

fn judge(
    status: reqwest::StatusCode,
    hint: FailureHint,
    location: Option<String>,
    read: Result<(), reqwest::Error>,
) -> Result<(), Failure> {
    let code = status.as_u16();
    if status.is_redirection() {
        let to = location.map(|l| format!(" to {l}")).unwrap_or_default();
        let detail = format!("receiver answered HTTP {code} (redirect{to}; not followed)");
        return Err(Failure::new(ErrorKind::Redirect, detail));
    }
    if !status.is_success() {
        let mut failure = Failure::new(
            ErrorKind::HttpStatus,
            format!("receiver answered HTTP {code}"),
        );
        failure.hint = hint;
        failure.permanent = code == 410;
        return Err(failure);
    }
    read.map_err(|e| {
        let detail = format!("HTTP {code} but the response broke off: {}", chain(&e));
        Failure::new(ErrorKind::IncompleteResponse, detail)
    })
}

/// Reads up to [`RESPONSE_KEEP`] bytes; the rest is not read (the connection is then dropped
/// rather than reused, which is cheaper than draining a large body).
async fn read_capped(
    response: &mut reqwest::Response,
    out: &mut String,
) -> Result<(), reqwest::Error> {
    let mut kept = Vec::new();
    let result = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = RESPONSE_KEEP - kept.len();
                kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if kept.len() >= RESPONSE_KEEP {
                    break Ok(());
                }
            }
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    *out = String::from_utf8_lossy(&kept).into_owned();
    result
}

fn classify(error: &reqwest::Error) -> Failure {
    let detail = chain(error);
    if refused(error) {
        return Failure::new(ErrorKind::SsrfRefused, detail);
    }
    let mut failure = if error.is_timeout() {
        Failure::new(ErrorKind::Timeout, detail)
    } else if error.is_connect() {
        Failure::new(ErrorKind::Connect, detail)
    } else {
        Failure::new(ErrorKind::Connection, detail)
    };
    failure.hint.overloaded = failure.kind == ErrorKind::Timeout;
    failure
}

fn refused(error: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.downcast_ref::<RefusedAddress>().is_some() {
            return true;
        }
        source = e.source();
    }
    false
}

/// `Retry-After` in seconds or as an HTTP date.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let text = headers.get("retry-after")?.to_str().ok()?.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(text).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    )
}

/// The error and its causes, `: `-separated.
pub fn chain(error: &dyn std::error::Error) -> String {
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
