//! `reelflow demo`: the whole product in one command on a fresh install.
//!
//! It creates a bucket and an Active workflow (Transcode to MP4 360p and Snapshot, both with
//! Official templates, so nothing else must exist), starts a callback receiver on 127.0.0.1
//! inside this process, generates a short clip with ffmpeg's `lavfi` test source, uploads it,
//! shows the run live (as `runs watch`) and prints the callback the server POSTed.
//!
//! The clip is made first, so a machine without ffmpeg gets an error before anything is
//! created. At the end the workflow is paused (its callback URL dies with this process), so
//! later uploads to the bucket start no run of it.
//!
//! The receiver is on loopback, which a server refuses as a callback destination unless its
//! `REELFLOW_CALLBACK_ALLOW_CIDRS` allows it (SSRF protection). When no callback arrives, the
//! demo reads the message's delivery attempts from the management API and says what to change.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use clap::Args;
use reelflow_model::XmlElement;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::command::{Outcome, Session};
use super::cos::leaf;
use super::output::print_json;
use super::runs;

/// `demo` arguments.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Bucket to use (created when missing) [default: a new `demo-<random>-1250000000`].
    #[arg(long)]
    pub demo_bucket: Option<String>,
    /// Seconds to wait for the callback after the run ended.
    #[arg(long, default_value_t = 20)]
    pub callback_wait: u64,
}

/// One request the receiver got.
#[derive(Debug)]
struct Callback {
    path: String,
    webhook_id: String,
    body: String,
}

/// What the demo got to, for the one JSON document `--output json` prints whatever happens.
#[derive(Debug, Default)]
struct Progress {
    bucket: Option<String>,
    workflow_id: Option<String>,
    run_id: Option<String>,
    run_state: Option<String>,
    workflow_paused: bool,
}

/// Runs the demo. With `--output json`, every outcome prints exactly one JSON document on
/// stdout: `succeeded`, what was created (`bucket`, `workflow_id`, `run_id`, `run_state`),
/// `workflow_paused`, the `callback` received (or null) and, when the demo failed, its
/// `error` (also printed on stderr; the exit status is the same as without JSON).
pub async fn run(session: &Session, args: DemoArgs) -> Result<Outcome> {
    let mut progress = Progress::default();
    let result = demo(session, &args, &mut progress).await;
    if session.json() {
        let (succeeded, callback, error) = match &result {
            Ok((outcome, callback)) => (
                *outcome == Outcome::Ok,
                json!({"path": callback.path, "webhook_id": callback.webhook_id,
                    "body": callback.body}),
                Value::Null,
            ),
            Err(e) => (false, Value::Null, Value::String(format!("{e:#}"))),
        };
        print_json(&json!({"succeeded": succeeded, "bucket": progress.bucket,
            "workflow_id": progress.workflow_id, "run_id": progress.run_id,
            "run_state": progress.run_state, "workflow_paused": progress.workflow_paused,
            "callback": callback, "error": error}));
    }
    result.map(|(outcome, _)| outcome)
}

async fn demo(
    session: &Session,
    args: &DemoArgs,
    progress: &mut Progress,
) -> Result<(Outcome, Callback)> {
    let say = |line: &str| {
        if !session.json() {
            println!("{line}");
        }
    };
    // The clip comes first: without ffmpeg nothing is created on the server.
    let clip = make_clip().await?;
    let bucket = args.demo_bucket.clone().unwrap_or_else(|| {
        let id = uuid::Uuid::new_v4().simple().to_string();
        format!("demo-{}-1250000000", &id[..8])
    });
    session.cos.create_bucket(&bucket).await?;
    progress.bucket = Some(bucket.clone());
    say(&format!("bucket      {bucket}"));
    let (url, mut received) = start_receiver().await?;
    say(&format!("receiver    {url} (in this process)"));
    let workflow = create_workflow(session, &bucket, &url).await?;
    progress.workflow_id = Some(workflow.clone());
    say(&format!(
        "workflow    {workflow} (Active: Transcode 360p + Snapshot)"
    ));
    // The workflow calls back this process, which is gone after the demo: it is paused at
    // the end whatever happens, so later uploads to the bucket start no run calling a dead URL.
    let result = async {
        let key = upload_clip(session, &bucket, clip).await?;
        say(&format!(
            "uploaded    cos://{bucket}/{key} (3 s testsrc2 clip)"
        ));
        let run_id = first_run(session, &bucket, &workflow).await?;
        progress.run_id = Some(run_id.clone());
        say(&format!("run         {run_id}\n"));
        let run = runs::follow(session, &bucket, &run_id, Some(600), !session.json()).await?;
        progress.run_state = Some(leaf(&run, "State").to_owned());
        let callback = wait_for_callback(session, &mut received, &run_id, args.callback_wait)
            .await
            .with_context(|| format!("no callback reached {url}"))?;
        anyhow::Ok((run, callback))
    }
    .await;
    let paused = session
        .cos
        .ci(
            Method::PUT,
            &bucket,
            &format!("/workflow/{workflow}"),
            &[("paused", String::new())],
            None,
        )
        .await;
    progress.workflow_paused = paused.is_ok();
    match &paused {
        Ok(_) => say(&format!(
            "\nworkflow    {workflow} paused (its callback receiver ended with the demo)"
        )),
        Err(e) => eprintln!(
            "warning: could not pause demo workflow {workflow} ({e:#}): pause it with \
             `reelflow workflow pause {workflow} -b {bucket}`"
        ),
    }
    let (run, callback) = result?;
    if !session.json() {
        println!(
            "\ncallback received: POST {} (webhook-id {})",
            callback.path, callback.webhook_id
        );
        println!("{}", callback.body);
    }
    Ok((runs::outcome_of(&run), callback))
}

/// Generates the clip in a temporary directory; returns its bytes.
async fn make_clip() -> Result<Vec<u8>> {
    let dir = tempfile_dir()?;
    let clip = dir.join("demo.mp4");
    let body = match generate_clip(&clip).await {
        Ok(()) => tokio::fs::read(&clip).await.context("reading the clip"),
        Err(e) => Err(e),
    };
    let _ = std::fs::remove_dir_all(&dir);
    body
}

/// Uploads the clip under `input/` (where the demo workflow listens); returns its key.
async fn upload_clip(session: &Session, bucket: &str, body: Vec<u8>) -> Result<&'static str> {
    let key = "input/demo.mp4";
    let request = session.cos.object(Method::PUT, bucket, key, &[])?;
    session.cos.client.execute(request.body(body)).await?;
    Ok(key)
}

fn tempfile_dir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("reelflow-demo-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// Binds 127.0.0.1 on a free port and records every request; returns its URL.
async fn start_receiver() -> Result<(String, mpsc::UnboundedReceiver<Callback>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding the callback receiver on 127.0.0.1")?;
    let port = listener.local_addr()?.port();
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().fallback(record).with_state(tx);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((format!("http://127.0.0.1:{port}/callback"), rx))
}

async fn record(
    State(tx): State<mpsc::UnboundedSender<Callback>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> &'static str {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let _ = tx.send(Callback {
        path: uri.path().to_owned(),
        webhook_id: header("webhook-id"),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    "ok"
}

/// The demo workflow: Start → Transcode_1, Snapshot_1 → End, calling back `url` at the end.
fn workflow_request(bucket: &str, url: &str) -> XmlElement {
    let output = |object: &str| {
        XmlElement::new("Output")
            .with_leaf("Region", "ap-guangzhou")
            .with_leaf("Bucket", bucket)
            .with_leaf("Object", object)
    };
    let node = |kind: &str, template: &str, object: &str| {
        XmlElement::new(format!("{kind}_1"))
            .with_leaf("Type", kind)
            .with(
                XmlElement::new("Operation")
                    .with_leaf("TemplateId", template)
                    .with(output(object)),
            )
    };
    let notify = XmlElement::new("NotifyConfig")
        .with_leaf("Url", url)
        .with_leaf("Event", "WorkflowFinish")
        .with_leaf("ResultFormat", "XML")
        .with_leaf("Type", "Url")
        .with_leaf("State", "On");
    let start = XmlElement::new("Start").with_leaf("Type", "Start").with(
        XmlElement::new("Input")
            .with_leaf("ObjectPrefix", "input/")
            .with(notify)
            .with(
                XmlElement::new("ExtFilter")
                    .with_leaf("State", "On")
                    .with_leaf("Video", "true"),
            ),
    );
    let nodes = XmlElement::new("Nodes")
        .with(start)
        .with(node(
            "Transcode",
            "t00000000000000000000000000000f360",
            "output/${RunId}/${InputName}.${Ext}",
        ))
        .with(node(
            "Snapshot",
            "t000000000000000000000000000000c01",
            "output/${RunId}/snapshot-${Number}.jpg",
        ));
    let dependencies = XmlElement::new("Dependencies")
        .with_leaf("Start", "Transcode_1,Snapshot_1")
        .with_leaf("Transcode_1", "End")
        .with_leaf("Snapshot_1", "End");
    let name = format!("demo-{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);
    XmlElement::new("Request").with(
        XmlElement::new("MediaWorkflow")
            .with_leaf("Name", name)
            .with_leaf("State", "Active")
            .with(XmlElement::new("Topology").with(dependencies).with(nodes)),
    )
}

async fn create_workflow(session: &Session, bucket: &str, url: &str) -> Result<String> {
    let body = workflow_request(bucket, url).to_xml();
    let doc = session
        .cos
        .ci(Method::POST, bucket, "/workflow", &[], Some(body))
        .await?
        .context("empty answer to the workflow creation")?;
    let workflow = doc
        .child("MediaWorkflow")
        .context("no MediaWorkflow in the answer")?;
    Ok(leaf(workflow, "WorkflowId").to_owned())
}

/// A 3-second 320x240 H.264/AAC clip from ffmpeg's test sources.
async fn generate_clip(path: &Path) -> Result<()> {
    let status = tokio::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"])
        .args([
            "-t", "3", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
        ])
        .args(["-c:a", "aac", "-movflags", "+faststart"])
        .arg(path)
        .status()
        .await
        .context("running ffmpeg to generate the demo clip (is ffmpeg installed?)")?;
    if !status.success() {
        bail!("ffmpeg could not generate the demo clip ({status})");
    }
    Ok(())
}

/// The run the upload started (waits up to 30 s for it to be listed).
async fn first_run(session: &Session, bucket: &str, workflow: &str) -> Result<String> {
    let query = [("workflowId", workflow.to_owned())];
    for _ in 0..60 {
        let doc = session
            .cos
            .ci_get(bucket, "/workflowexecution", &query)
            .await?;
        if let Some(run) = doc.child("WorkflowExecutionList") {
            return Ok(leaf(run, "RunId").to_owned());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    bail!("the upload started no run of workflow {workflow} within 30 s")
}

/// The first callback the receiver gets. Gives up at once when the server's delivery log
/// shows it refused the loopback URL, else after `secs` seconds, saying why.
async fn wait_for_callback(
    session: &Session,
    received: &mut mpsc::UnboundedReceiver<Callback>,
    run_id: &str,
    secs: u64,
) -> Result<Callback> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let next = tokio::time::timeout(Duration::from_secs(1), received.recv()).await;
        if let Ok(Some(callback)) = next {
            return Ok(callback);
        }
        let (refused, why) = diagnose(session, run_id).await;
        if refused || tokio::time::Instant::now() >= deadline {
            bail!("{why}");
        }
    }
}

/// Why the run's callback has not arrived (from its delivery attempts, with what to do), and
/// whether the server refused the destination.
async fn diagnose(session: &Session, run_id: &str) -> (bool, String) {
    let query = [("run", run_id.to_owned())];
    let list = session.cos.client.get("/callbacks", &query).await;
    let Ok(list) = list.and_then(|b| Ok(serde_json::from_str::<Value>(&b)?)) else {
        return (
            false,
            "the server's callback log could not be read".to_owned(),
        );
    };
    let Some(message) = list["callbacks"].as_array().and_then(|l| l.first()) else {
        return (
            false,
            "the server has no callback message for this run".to_owned(),
        );
    };
    let error = message["last_error"].as_str().unwrap_or("").to_owned();
    let path = format!("/callbacks/{}", message["id"].as_str().unwrap_or(""));
    let refused = match session.cos.client.get(&path, &[]).await {
        Ok(detail) => detail.contains("ssrf_refused"),
        Err(_) => error.contains("refus") || error.contains("private"),
    };
    let text = if refused {
        format!(
            "the server refused to call a loopback address ({error}). Restart it with \
             REELFLOW_CALLBACK_ALLOW_CIDRS=127.0.0.0/8 (e.g. `REELFLOW_CALLBACK_ALLOW_CIDRS=127.0.0.0/8 \
             bash scripts/serve.sh`) and run the demo again"
        )
    } else {
        format!(
            "callback {} is {} after {} attempt(s): {error}",
            message["id"], message["state"], message["attempt_count"]
        )
    };
    (refused, text)
}
