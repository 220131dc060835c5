//! `GET /_reelflow/metrics` end to end in one process: a workflow runs a MediaInfo task on an
//! uploaded clip, then the scrape shows the run and task by state (from the database), the
//! task duration histogram of the node type, the queue gauges and the HTTP latency series of
//! the upload. Signed on the API listener (403 without a signature), unsigned on the separate
//! `metrics_listen` listener. On SQLite, and on PostgreSQL when a test database is configured.

mod common;

use std::time::Duration;

use common::{Db, TestApp, drop_postgres, fresh_postgres};
use reelflow::config::Role;
use reelflow_signature::{Credentials, SignedRequest, sign};

const BUCKET: &str = "metrics-1250000000";

const WORKFLOW: &str = "<Request><MediaWorkflow><Name>probe</Name><State>Active</State><Topology>\
    <Dependencies><Start>MediaInfo_1</Start><MediaInfo_1>End</MediaInfo_1></Dependencies>\
    <Nodes><Start><Type>Start</Type><Input><ObjectPrefix>in/</ObjectPrefix></Input></Start>\
    <MediaInfo_1><Type>MediaInfo</Type><Operation/></MediaInfo_1></Nodes>\
    </Topology></MediaWorkflow></Request>";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_run_shows_in_the_metrics_on_sqlite() {
    scenario(&Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_run_shows_in_the_metrics_on_postgres() {
    let Some(url) = fresh_postgres().await else {
        return;
    };
    scenario(&Db::Postgres(url.clone())).await;
    drop_postgres(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_process_serves_signed_metrics_beside_its_health_check() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::spawn(dir.path(), &Db::Sqlite, Role::Worker).await;
    let text = wait_for(&app, "reelflow_runs{state=\"Success\"}", 0.0).await;
    assert!(text.contains("reelflow_node_up{"), "{text}");
    let unsigned = reqwest::get(format!("{}/_reelflow/metrics", app.base))
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 403);
    // A client pointed at a worker by mistake learns where requests go, signed or not.
    for request in [
        signed(&app, reqwest::Method::GET, "/b-1250000000/in/a.mp4"),
        reqwest::Client::new().get(format!("{}/b-1250000000/in/a.mp4", app.base)),
    ] {
        let answer = request.send().await.unwrap();
        assert_eq!(answer.status(), 501);
        let body = answer.text().await.unwrap();
        assert!(body.contains("<Code>NotImplemented</Code>"), "{body}");
        assert!(
            body.contains("--role worker") && body.contains("<RequestId>"),
            "{body}"
        );
    }
    app.stop().await.unwrap();
}

async fn scenario(db: &Db) {
    let dir = tempfile::tempdir().unwrap();
    let metrics_addr = free_addr();
    let app = TestApp::spawn_with(dir.path(), db, Role::All, |c| {
        c.metrics_listen = Some(metrics_addr);
    })
    .await;
    send(
        &app,
        reqwest::Method::PUT,
        &format!("/{BUCKET}"),
        Vec::new(),
    )
    .await;
    send(
        &app,
        reqwest::Method::POST,
        &format!("/{BUCKET}/workflow"),
        WORKFLOW.as_bytes().to_vec(),
    )
    .await;
    let clip = dir.path().join("clip.mp4");
    make_clip(&clip);
    send(
        &app,
        reqwest::Method::PUT,
        &format!("/{BUCKET}/in/clip.mp4"),
        std::fs::read(&clip).unwrap(),
    )
    .await;

    let text = wait_for(&app, "reelflow_runs{state=\"Success\"}", 1.0).await;
    assert_eq!(value(&text, "reelflow_runs{state=\"Running\"}"), Some(0.0));
    assert_eq!(value(&text, "reelflow_runs{state=\"Failed\"}"), Some(0.0));
    assert_eq!(
        value(
            &text,
            "reelflow_tasks{node_type=\"MediaInfo\",state=\"Success\"}"
        ),
        Some(1.0),
        "{text}"
    );
    let duration = "reelflow_task_duration_seconds";
    let series = "{node_type=\"MediaInfo\",outcome=\"success\"}";
    assert_eq!(
        value(&text, &format!("{duration}_count{series}")),
        Some(1.0)
    );
    let sum = value(&text, &format!("{duration}_sum{series}")).unwrap();
    assert!(sum > 0.0 && sum < 60.0, "task took {sum} s");
    assert_eq!(
        value(
            &text,
            &format!(
                "{duration}_bucket{{node_type=\"MediaInfo\",outcome=\"success\",le=\"+Inf\"}}"
            )
        ),
        Some(1.0)
    );
    // The bucket's default queue: nothing waits any more.
    let depth = line_starting(&text, "reelflow_queue_depth{queue=\"").expect("a queue series");
    assert!(
        depth.contains(&format!("bucket=\"{BUCKET}\"}} 0")),
        "{depth}"
    );
    assert!(text.contains("reelflow_queue_oldest_waiting_age_seconds{"));
    // The upload was timed: one PUT of an object answered 200.
    let upload = "reelflow_http_request_duration_seconds_count{route=\"object\",method=\"PUT\",status=\"200\"}";
    assert_eq!(value(&text, upload), Some(1.0), "{text}");
    // The callback and node series are in the same text.
    assert!(text.contains("reelflow_callback_queue_depth"));
    assert!(text.contains("reelflow_node_up{"));

    // Without a signature: refused on the API listener, served on the metrics listener.
    let http = reqwest::Client::new();
    let unsigned = http
        .get(format!("{}/_reelflow/metrics", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 403);
    let open = http
        .get(format!("http://{metrics_addr}/_reelflow/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(open.status(), 200);
    let open = open.text().await.unwrap();
    assert_eq!(value(&open, "reelflow_runs{state=\"Success\"}"), Some(1.0));
    // The signed management path answers the same families.
    let v1 = app.get_text("/metrics").await;
    assert_eq!(
        value(&v1, &format!("{duration}_count{series}")),
        Some(1.0),
        "{v1}"
    );
    app.stop().await.unwrap();
}

/// A signed request to `path` on the API listener, which must succeed.
async fn send(app: &TestApp, method: reqwest::Method, path: &str, body: Vec<u8>) {
    let response = signed(app, method, path).body(body).send().await.unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
}

/// A request to `path` (no query) signed with the COS scheme, with the server's key pair.
fn signed(app: &TestApp, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    let line = std::fs::read_to_string(app.data.join("credentials")).unwrap();
    let (secret_id, secret_key) = line.trim().split_once(' ').unwrap();
    let credentials = Credentials {
        secret_id: secret_id.to_owned(),
        secret_key: secret_key.to_owned(),
    };
    let host = app.base.trim_start_matches("http://").to_owned();
    let headers = [("host".to_owned(), host)];
    let request = SignedRequest {
        method: method.as_str(),
        decoded_path: path,
        query: &[],
        headers: &headers,
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let authorization = sign(&request, &credentials, now - 60, now + 600, &["host"], &[]);
    reqwest::Client::new()
        .request(method, format!("{}{path}", app.base))
        .header("authorization", authorization)
}

/// Scrapes (signed) until the sample `series` has `expected`, and returns that text.
async fn wait_for(app: &TestApp, series: &str, expected: f64) -> String {
    let mut text = String::new();
    for _ in 0..300 {
        let response = signed(app, reqwest::Method::GET, "/_reelflow/metrics")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            content_type.starts_with("text/plain; version=0.0.4"),
            "{content_type}"
        );
        text = response.text().await.unwrap();
        if value(&text, series) == Some(expected) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{series} never reached {expected}:\n{text}");
}

/// The value of the sample written exactly as `series` (name and labels).
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.trim().parse().expect("a number"))
}

fn line_starting<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.lines().find(|l| l.starts_with(prefix))
}

fn free_addr() -> std::net::SocketAddr {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    probe.local_addr().unwrap()
}

fn make_clip(path: &std::path::Path) {
    let status = std::process::Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
        ])
        .arg("testsrc2=size=160x120:rate=10")
        .args(["-t", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p"])
        .arg(path)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success());
}
