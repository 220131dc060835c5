//! Shared harness of the engine's integration tests: real SQLite, real local blobs, real
//! ffmpeg on generated media, no HTTP.
#![allow(dead_code)]

pub mod outputs;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use reelflow_engine::{Engine, EngineConfig, RetryPolicy};
use reelflow_model::XmlElement;
use reelflow_model::clock::DisplayOffset;
use reelflow_model::execution::RunState;
use reelflow_model::ids::{new_template_id, new_workflow_id};
use reelflow_model::object::{ObjectOrigin, ObjectRecord};
use reelflow_model::template::{Template, TemplateCategory, TemplateSpec};
use reelflow_model::workflow::{Workflow, WorkflowSpec};
use reelflow_objects::{BlobStore, LocalBlobStore};
use reelflow_store::Store;
use reelflow_store::sqlite::SqliteStore;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub const BUCKET: &str = "b-1250000000";

pub struct Harness {
    pub engine: Engine,
    pub store: Arc<dyn Store>,
    pub blobs: Arc<LocalBlobStore>,
    pub dir: tempfile::TempDir,
    pub stop: CancellationToken,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// How a test's engine differs from the default one.
#[derive(Debug, Clone, Default)]
pub struct Setup {
    /// Fuse sibling sections (on unless `no_fuse`).
    pub no_fuse: bool,
    /// How `Input.Url`s are fetched.
    pub fetch: reelflow_engine::FetchConfig,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
    /// How hard batches push.
    pub batch_limits: reelflow_engine::BatchLimits,
    /// When Transcode tasks are split into segments.
    pub segmented: reelflow_engine::SegmentedConfig,
}

pub async fn harness() -> Harness {
    harness_setup(Setup::default()).await
}

pub async fn harness_with(fuse: bool) -> Harness {
    harness_setup(Setup {
        no_fuse: !fuse,
        ..Setup::default()
    })
    .await
}

/// A harness whose jobs fetch `Input.Url`s with `fetch`.
pub async fn harness_fetching(fuse: bool, fetch: reelflow_engine::FetchConfig) -> Harness {
    harness_setup(Setup {
        no_fuse: !fuse,
        fetch,
        ..Setup::default()
    })
    .await
}

/// A harness retrying transient failures by `retry`.
pub async fn harness_retrying(retry: RetryPolicy) -> Harness {
    harness_setup(Setup {
        retry,
        ..Setup::default()
    })
    .await
}

/// The harness every engine test starts from: SQLite and local blobs in a temporary
/// directory, bucket [`BUCKET`], the engine's workers running until the harness drops.
pub async fn harness_setup(setup: Setup) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("db.sqlite"))
            .await
            .unwrap(),
    );
    let blobs = Arc::new(
        LocalBlobStore::open(&dir.path().join("blobs"))
            .await
            .unwrap(),
    );
    store.create_bucket(BUCKET, 1).await.unwrap();
    let engine = Engine::new(
        store.clone(),
        blobs.clone(),
        EngineConfig {
            offset: DisplayOffset::UTC,
            node_id: "test-node".into(),
            work_dir: dir.path().join("work"),
            workers: 2,
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_millis(200),
            default_max_concurrent: 2,
            fuse_siblings: !setup.no_fuse,
            noop_tasks: false,
            segmented: setup.segmented,
            fetch: setup.fetch,
        },
        Arc::new(Notify::new()),
    )
    .with_retry(setup.retry)
    .with_batch_limits(setup.batch_limits);
    let stop = CancellationToken::new();
    let mut workers = engine.spawn_workers(stop.clone()).await.unwrap();
    tokio::spawn(async move { while workers.join_next().await.is_some() {} });
    Harness {
        engine,
        store,
        blobs,
        dir,
        stop,
    }
}

pub fn ffmpeg(args: &[&str]) {
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(args)
        .status()
        .unwrap();
    assert!(status.success());
}

impl Harness {
    pub async fn upload(&self, key: &str, path: &Path) -> Vec<String> {
        let written = self.blobs.put_file(path).await.unwrap();
        let record = ObjectRecord {
            bucket: BUCKET.into(),
            key: key.into(),
            blob_id: written.id,
            size: written.size,
            etag: written.md5_hex,
            crc64: Some(written.crc64),
            content_type: "video/mp4".into(),
            last_modified_ms: 0,
            user_meta: vec![("x-cos-meta-id".into(), "testid".into())],
            origin: ObjectOrigin::Upload,
        };
        self.engine.object_uploaded(record).await.unwrap()
    }

    pub fn clip(&self, seconds: u32) -> std::path::PathBuf {
        let path = self.dir.path().join(format!("clip{seconds}.mp4"));
        if !path.exists() {
            let d = seconds.to_string();
            ffmpeg(&[
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=320x240:rate=25",
                "-f",
                "lavfi",
                "-i",
                "sine",
                "-t",
                &d,
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-c:a",
                "aac",
                path.to_str().unwrap(),
            ]);
        }
        path
    }

    pub async fn template(&self, body: &str) -> String {
        let spec =
            TemplateSpec::from_request(&XmlElement::parse(body.as_bytes()).unwrap()).unwrap();
        let t = Template {
            id: new_template_id(),
            bucket: BUCKET.into(),
            name: spec.name,
            tag: spec.tag,
            category: TemplateCategory::Custom,
            params: spec.params,
            created: 1,
            updated: 1,
        };
        self.store.save_template(&t).await.unwrap();
        t.id
    }

    pub async fn workflow(&self, deps: &str, nodes: &str) -> String {
        let body = format!(
            "<Request><MediaWorkflow><Name>wf</Name><State>Active</State><Topology><Dependencies>{deps}</Dependencies>\
             <Nodes><Start><Type>Start</Type><Input><ObjectPrefix>in/</ObjectPrefix></Input></Start>{nodes}</Nodes></Topology></MediaWorkflow></Request>"
        );
        let spec =
            WorkflowSpec::from_request(&XmlElement::parse(body.as_bytes()).unwrap()).unwrap();
        let w = Workflow {
            id: new_workflow_id(),
            bucket: BUCKET.into(),
            name: spec.name,
            state: spec.state,
            topology_xml: spec.topology_xml,
            created: 1,
            updated: 1,
        };
        self.store.save_workflow(&w).await.unwrap();
        w.id
    }

    pub async fn wait_run(
        &self,
        run_id: &str,
    ) -> (
        reelflow_model::execution::Instance,
        Vec<reelflow_model::execution::Task>,
    ) {
        for _ in 0..600 {
            let (i, t) = self.store.get_run(run_id).await.unwrap().unwrap();
            if i.state != RunState::Running {
                return (i, t);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("run {run_id} did not finish");
    }
}

/// A workflow node `name` of type `ty` with the Operation `body`.
pub fn op(name: &str, ty: &str, body: &str) -> String {
    format!("<{name}><Type>{ty}</Type><Operation>{body}</Operation></{name}>")
}

/// An Output writing `object` to [`BUCKET`].
pub fn out(object: &str) -> String {
    format!("<Output><Region>r</Region><Bucket>{BUCKET}</Bucket><Object>{object}</Object></Output>")
}

pub fn node(name: &str, ty: &str, template: &str, object: &str) -> String {
    format!(
        "<{name}><Type>{ty}</Type><Operation><TemplateId>{template}</TemplateId><Output><Region>r</Region><Bucket>{BUCKET}</Bucket><Object>{object}</Object></Output></Operation></{name}>"
    )
}

/// ffprobe's JSON report of a file (streams with counted frames, and the format).
pub fn probe(path: &Path) -> serde_json::Value {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-print_format",
            "json",
            "-show_streams",
            "-show_format",
        ])
        .arg(path)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}
