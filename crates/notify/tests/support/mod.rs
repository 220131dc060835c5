//! Real receivers on 127.0.0.1 (and ::1), an in-memory store and a notifier to drive them.

#![allow(dead_code)] // each test binary uses a different part

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use reelflow_notify::{AddressPolicy, Notifier, NotifierConfig, RetrySchedule, WebhookSecret};
use reelflow_store::sqlite::SqliteStore;
use reelflow_store::*;
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// How the receiver answers one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// This status, empty body.
    Status(u16),
    /// This status with one header.
    WithHeader(u16, &'static str, &'static str),
    /// Sleep, then 200.
    Slow(Duration),
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Hit {
    pub headers: HeaderMap,
    pub body: String,
    pub peer: SocketAddr,
    pub at: Instant,
}

#[derive(Clone, Default)]
pub struct Receiver {
    pub hits: Arc<Mutex<Vec<Hit>>>,
    in_flight: Arc<Mutex<(usize, usize)>>,
}

impl Receiver {
    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// Most requests that were in flight at once.
    pub fn peak_in_flight(&self) -> usize {
        self.in_flight.lock().unwrap().1
    }
}

/// An HTTP receiver on `bind` (e.g. "127.0.0.1:0") answering `script` in order, then the last
/// entry forever. Returns `http://addr/hook`.
pub async fn receiver_on(bind: &str, script: Vec<Reply>) -> (String, Receiver) {
    let receiver = Receiver::default();
    let state = receiver.clone();
    let app = Router::new().route(
        "/hook",
        post(
            move |ConnectInfo(peer): ConnectInfo<SocketAddr>, headers: HeaderMap, body: String| {
                let state = state.clone();
                let script = script.clone();
                async move { answer(state, script, peer, headers, body).await }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind(bind).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, service).await.unwrap()
    });
    (format!("http://{addr}/hook"), receiver)
}

pub async fn receiver(script: Vec<Reply>) -> (String, Receiver) {
    receiver_on("127.0.0.1:0", script).await
}

async fn answer(
    state: Receiver,
    script: Vec<Reply>,
    peer: SocketAddr,
    headers: HeaderMap,
    body: String,
) -> Response {
    let n = {
        let mut hits = state.hits.lock().unwrap();
        hits.push(Hit {
            headers,
            body,
            peer,
            at: Instant::now(),
        });
        hits.len()
    };
    {
        let mut flight = state.in_flight.lock().unwrap();
        flight.0 += 1;
        flight.1 = flight.1.max(flight.0);
    }
    let reply = script[(n - 1).min(script.len() - 1)].clone();
    let mut response = Response::new(axum::body::Body::from("answer body"));
    match reply {
        Reply::Status(code) => *response.status_mut() = StatusCode::from_u16(code).unwrap(),
        Reply::WithHeader(code, name, value) => {
            *response.status_mut() = StatusCode::from_u16(code).unwrap();
            response
                .headers_mut()
                .insert(name, HeaderValue::from_static(value));
        }
        Reply::Slow(delay) => tokio::time::sleep(delay).await,
    }
    state.in_flight.lock().unwrap().0 -= 1;
    response
}

/// A raw TCP receiver: connection *n* gets `scripts[n]` written after the request was read
/// (then the connection is closed), or a proper 200 once the scripts are used up.
pub async fn raw_receiver(scripts: Vec<&'static str>) -> (String, Arc<Mutex<usize>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(Mutex::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let n = {
                let mut c = seen.lock().unwrap();
                *c += 1;
                *c
            };
            let reply = scripts
                .get(n - 1)
                .copied()
                .unwrap_or("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut got = Vec::new();
                // Read headers and the body announced by content-length.
                while !complete(&got) {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(k) => got.extend_from_slice(&buf[..k]),
                    }
                }
                let _ = socket.write_all(reply.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (format!("http://{addr}/hook"), count)
}

fn complete(request: &[u8]) -> bool {
    let text = String::from_utf8_lossy(request);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let length = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    body.len() >= length
}

pub fn origin(bucket: &str) -> CallbackOrigin {
    CallbackOrigin {
        kind: CallbackKind::WorkflowFinish,
        run_id: "i1".into(),
        job_id: None,
        bucket: bucket.into(),
        workflow_id: "w1".into(),
    }
}

/// A store holding one message per `(id, url)`, all for bucket `b`.
pub async fn store_with(messages: &[(&str, &str)]) -> Arc<SqliteStore> {
    let store = Arc::new(SqliteStore::in_memory().await.unwrap());
    for (id, url) in messages {
        let message = NewCallback {
            id: (*id).into(),
            url: (*url).into(),
            content_type: "application/xml".into(),
            body: format!("<Response><Id>{id}</Id></Response>"),
        };
        store
            .enqueue_callback(&origin("b"), &message, now_ms(), None)
            .await
            .unwrap();
    }
    store
}

pub fn config(schedule: &str, allow: &str) -> NotifierConfig {
    NotifierConfig {
        schedule: RetrySchedule::parse(schedule).unwrap(),
        timeout: Duration::from_secs(5),
        policy: AddressPolicy::parse(allow).unwrap(),
        default_secret: Some(WebhookSecret::parse(SECRET).unwrap()),
        node_id: "test-node".into(),
        poll_interval: Duration::from_millis(50),
        sweep_interval: Duration::from_millis(200),
        ..NotifierConfig::default()
    }
}

/// Runs a notifier until the returned token is cancelled.
pub fn start(store: Arc<SqliteStore>, config: NotifierConfig) -> (CancellationToken, Notifier) {
    let notifier = Notifier::new(store, config, Arc::new(Notify::new())).unwrap();
    (CancellationToken::new(), notifier)
}

pub fn spawn(store: Arc<SqliteStore>, config: NotifierConfig) -> CancellationToken {
    let (stop, notifier) = start(store, config);
    tokio::spawn(notifier.run(stop.clone()));
    stop
}

/// Waits (up to 10 s) until message `id` is in `state`.
pub async fn wait_state(store: &SqliteStore, id: &str, state: CallbackState) -> CallbackMessage {
    for _ in 0..200 {
        let m = store.get_callback(id).await.unwrap().unwrap();
        if m.state == state {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "callback {id} never reached {state:?}: {:?}",
        store.get_callback(id).await.unwrap()
    );
}

/// Independent Standard Webhooks verification: true when one `v1,` entry is the HMAC-SHA256
/// of `id.timestamp.body` under `secret`.
pub fn signature_ok(hit: &Hit, secret: &str) -> bool {
    let key = STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .unwrap();
    let header = |n: &str| hit.headers[n].to_str().unwrap().to_owned();
    let signed = format!(
        "{}.{}.{}",
        header("webhook-id"),
        header("webhook-timestamp"),
        hit.body
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(signed.as_bytes());
    let want = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    header("webhook-signature").split(' ').any(|s| s == want)
}

pub fn now_ms() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    d.as_millis() as i64
}
