//! Callback delivery benchmark.
//!
//! A real SQLite outbox (WAL, `synchronous=FULL`, on disk), the real notifier, and an HTTP/1.1
//! keep-alive receiver on 127.0.0.1 in the same process (all on the machine's cores). Each
//! "finished instance" is one outbox message with a seed-shaped XML body (~1 KB), committed
//! the way the run-ending transaction commits it; "instance end" is that commit.
//!
//! - **drain**: N messages are committed first, then the notifier starts; the figure is
//!   messages per second until the receiver has every POST (and the store has recorded them).
//! - **live**: the notifier runs while two producers (like the engine's two workers) commit N
//!   messages, unpaced or at `--rate`, born leased to the notifier's node as the engine's
//!   task-finish transaction writes them; the figures are p50/p90/p99/max of commit → POST
//!   arrival, and the delivered rate.
//!
//! Usage: `reelflow-callback-bench [--instances N] [--rate R] [--out FILE]`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::post;
use reelflow_notify::{AddressPolicy, Notifier, NotifierConfig, RetrySchedule, WebhookSecret};
use reelflow_store::sqlite::SqliteStore;
use reelflow_store::{CallbackKind, CallbackOrigin, CallbackStore, NewCallback};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The notifier's node id.
const NODE: &str = "bench";

/// Arrivals, indexed by message number.
struct Receiver {
    arrivals: Mutex<Vec<Option<Instant>>>,
    count: AtomicUsize,
    done: Notify,
    target: usize,
}

impl Receiver {
    fn new(n: usize) -> Arc<Self> {
        Arc::new(Self {
            arrivals: Mutex::new(vec![None; n]),
            count: AtomicUsize::new(0),
            done: Notify::new(),
            target: n,
        })
    }

    fn hit(&self, headers: &HeaderMap) {
        let now = Instant::now();
        let n = headers
            .get("webhook-id")
            .and_then(|v| v.to_str().ok())
            .and_then(|id| id.strip_prefix("msg_"))
            .and_then(|n| n.parse::<usize>().ok());
        if let Some(n) = n {
            let mut arrivals = self.arrivals.lock().unwrap();
            if n < arrivals.len() && arrivals[n].is_none() {
                arrivals[n] = Some(now);
                drop(arrivals);
                if self.count.fetch_add(1, Ordering::AcqRel) + 1 == self.target {
                    self.done.notify_one();
                }
            }
        }
    }

    async fn wait(&self) {
        while self.count.load(Ordering::Acquire) < self.target {
            tokio::select! {
                () = self.done.notified() => {}
                () = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
        }
    }
}

async fn start_receiver(rx: Arc<Receiver>) -> String {
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap| {
            let rx = rx.clone();
            async move {
                rx.hit(&headers);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/hook")
}

fn body(n: usize) -> String {
    format!(
        "<Response><WorkflowExecution><RunId>i{n:032x}</RunId><BucketId>examplebucket-1250000000\
         </BucketId><Object>input/{n}.mp4</Object><CosHeaders><Key>x-cos-meta-id</Key><Value>testid\
         </Value></CosHeaders><WorkflowId>w{n:032x}</WorkflowId><WorkflowName>example</WorkflowName>\
         <CreateTime>2026-11-27 12:00:00+0800</CreateTime><State>Success</State><Tasks><Type>Transcode\
         </Type><CreateTime>2026-11-27 12:00:00+0800</CreateTime><EndTime>2026-11-27 12:00:09+0800\
         </EndTime><State>Success</State><JobId>j{n:032x}</JobId><Name>Transcode_1600413767353</Name>\
         <TemplateId>t1{n:032x}</TemplateId><TemplateName>example_320x180</TemplateName></Tasks><Tasks>\
         <Type>Transcode</Type><CreateTime>2026-11-27 12:00:00+0800</CreateTime><EndTime>2026-11-27 \
         12:00:11+0800</EndTime><State>Success</State><JobId>j{m:032x}</JobId><Name>Transcode_1600413767444\
         </Name><TemplateId>t1{m:032x}</TemplateId><TemplateName>example_256x144</TemplateName></Tasks>\
         </WorkflowExecution></Response>",
        m = n + 1_000_000
    )
}

/// Commits message `n` ("the instance ends") and returns the commit time. `leased_to` is the
/// notifier's node id when the message is committed the way the engine's task-finish
/// transaction commits it (born leased to the node); `None` leaves it for a claim.
async fn finish(
    store: &SqliteStore,
    url: &str,
    n: usize,
    leased_to: Option<&str>,
) -> (Instant, i64) {
    let origin = CallbackOrigin {
        kind: CallbackKind::WorkflowFinish,
        run_id: format!("i{n:032x}"),
        job_id: None,
        bucket: "examplebucket-1250000000".into(),
        workflow_id: "wbench".into(),
    };
    let message = NewCallback {
        id: format!("msg_{n}"),
        url: url.to_owned(),
        content_type: "application/xml".into(),
        body: body(n),
    };
    store
        .enqueue_callback(&origin, &message, now_ms(), leased_to)
        .await
        .unwrap();
    (Instant::now(), now_us())
}

fn now_us() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    d.as_micros() as i64
}

fn now_ms() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    d.as_millis() as i64
}

fn notifier(store: Arc<SqliteStore>, wake: Arc<Notify>) -> Notifier {
    let config = NotifierConfig {
        schedule: RetrySchedule::parse("1s,5s").unwrap(),
        policy: AddressPolicy::parse("127.0.0.0/8").unwrap(),
        default_secret: Some(WebhookSecret::generate()),
        node_id: NODE.into(),
        ..NotifierConfig::default()
    };
    Notifier::new(store, config, wake).unwrap()
}

async fn open_store(dir: &tempfile::TempDir) -> Arc<SqliteStore> {
    Arc::new(
        SqliteStore::open(&dir.path().join("bench.db"))
            .await
            .unwrap(),
    )
}

/// Waits until the store recorded every delivery.
async fn wait_recorded(store: &SqliteStore, n: usize) -> Instant {
    loop {
        let stats = store.callback_stats().await.unwrap();
        if stats.by_state[2] as usize >= n {
            return Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn drain(n: usize) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir).await;
    let rx = Receiver::new(n);
    let url = start_receiver(rx.clone()).await;
    for i in 0..n {
        finish(&store, &url, i, None).await;
    }
    let stop = CancellationToken::new();
    let started = Instant::now();
    let running = tokio::spawn(notifier(store.clone(), Arc::new(Notify::new())).run(stop.clone()));
    rx.wait().await;
    let received = started.elapsed();
    let recorded = wait_recorded(&store, n).await - started;
    stop.cancel();
    running.await.unwrap();
    let per_sec = n as f64 / received.as_secs_f64();
    println!(
        "drain: {n} callbacks received in {:.3} s = {per_sec:.0}/s (all recorded Delivered after {:.3} s)",
        received.as_secs_f64(),
        recorded.as_secs_f64()
    );
    serde_json::json!({
        "instances": n,
        "received_secs": received.as_secs_f64(),
        "callbacks_per_sec": per_sec,
        "recorded_secs": recorded.as_secs_f64(),
    })
}

async fn live(n: usize, rate: f64) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir).await;
    let rx = Receiver::new(n);
    let url = start_receiver(rx.clone()).await;
    let wake = Arc::new(Notify::new());
    let stop = CancellationToken::new();
    let running = tokio::spawn(notifier(store.clone(), wake.clone()).run(stop.clone()));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let ends = Arc::new(Mutex::new(vec![None; n]));
    let producers = 1;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for p in 0..producers {
        let (store, url, wake, ends) = (store.clone(), url.clone(), wake.clone(), ends.clone());
        tasks.push(tokio::spawn(async move {
            for i in (p..n).step_by(producers) {
                if rate > 0.0 {
                    let due = started + Duration::from_secs_f64(i as f64 / rate);
                    tokio::time::sleep_until(due.into()).await;
                }
                let end = finish(&store, &url, i, Some(NODE)).await;
                wake.notify_one();
                ends.lock().unwrap()[i] = Some(end);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let produced = started.elapsed();
    rx.wait().await;
    let received = started.elapsed();
    stop.cancel();
    running.await.unwrap();
    let ends: Vec<(Instant, i64)> = ends.lock().unwrap().iter().map(|e| e.unwrap()).collect();
    let arrivals: Vec<Instant> = rx
        .arrivals
        .lock()
        .unwrap()
        .iter()
        .map(|a| a.unwrap())
        .collect();
    let total = percentiles(
        ends.iter()
            .zip(&arrivals)
            .map(|((e, _), a)| a.saturating_duration_since(*e).as_secs_f64() * 1000.0)
            .collect(),
    );
    // Where the time goes: commit → attempt start (wake-up and claim), from the attempt log.
    let mut queued = Vec::with_capacity(n);
    for (i, (_, end_us)) in ends.iter().enumerate() {
        let log = store.callback_attempts(&format!("msg_{i}")).await.unwrap();
        let started_ms = log.first().map_or(0, |a| a.started_ms);
        queued.push((started_ms as f64 - *end_us as f64 / 1000.0).max(0.0));
    }
    let queued = percentiles(queued);
    let label = if rate > 0.0 {
        format!("{rate:.0}/s")
    } else {
        "max rate".to_owned()
    };
    let per_sec = n as f64 / received.as_secs_f64();
    println!(
        "live ({label}): {n} instances committed in {:.3} s, all received after {:.3} s = {per_sec:.0}/s\n  \
         end→POST    {}\n  end→attempt {} (wake-up + claim; ms resolution)",
        produced.as_secs_f64(),
        received.as_secs_f64(),
        show(&total),
        show(&queued),
    );
    serde_json::json!({
        "instances": n,
        "rate": if rate > 0.0 { serde_json::json!(rate) } else { serde_json::json!("max") },
        "committed_secs": produced.as_secs_f64(),
        "received_secs": received.as_secs_f64(),
        "callbacks_per_sec": per_sec,
        "latency_ms": total,
        "end_to_attempt_ms": queued,
    })
}

/// p50, p90, p99 and max of `values` (ms).
fn percentiles(mut values: Vec<f64>) -> serde_json::Value {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pct =
        |p: f64| values[((values.len() as f64 * p).ceil() as usize).clamp(1, values.len()) - 1];
    serde_json::json!({"p50": pct(0.50), "p90": pct(0.90), "p99": pct(0.99), "max": values[values.len() - 1]})
}

fn show(p: &serde_json::Value) -> String {
    format!(
        "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        p["p50"].as_f64().unwrap_or(0.0),
        p["p90"].as_f64().unwrap_or(0.0),
        p["p99"].as_f64().unwrap_or(0.0),
        p["max"].as_f64().unwrap_or(0.0)
    )
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = arg(&args, "--instances").map_or(10_000, |v| v.parse().unwrap());
    let rate: f64 = arg(&args, "--rate").map_or(1000.0, |v| v.parse().unwrap());
    let cores = std::thread::available_parallelism().map_or(0, |c| c.get());
    println!("reelflow callback benchmark: {n} instances, {cores} cores");
    let only = arg(&args, "--only").unwrap_or_default();
    let drained = if only.is_empty() || only == "drain" {
        drain(n).await
    } else {
        serde_json::Value::Null
    };
    let unpaced = if only.is_empty() || only == "max" {
        live(n, 0.0).await
    } else {
        serde_json::Value::Null
    };
    let paced = if only.is_empty() || only == "paced" {
        live(n, rate).await
    } else {
        serde_json::Value::Null
    };
    let report = serde_json::json!({
        "cores": cores,
        "drain": drained,
        "live_max_rate": unpaced,
        "live_paced": paced,
    });
    if let Some(out) = arg(&args, "--out") {
        std::fs::write(&out, serde_json::to_string_pretty(&report).unwrap()).unwrap();
        println!("report written to {out}");
    }
}
