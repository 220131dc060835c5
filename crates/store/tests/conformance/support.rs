//! Backends to run the suite on, and the fixtures its tests share.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use reelflow_model::XmlElement;
use reelflow_model::execution::{Instance, RunState, Task, TaskState};
use reelflow_model::object::{ObjectOrigin, ObjectRecord};
use reelflow_model::workflow::NodeType;
use reelflow_store::postgres::{PgConfig, PgStore};
use reelflow_store::sqlite::SqliteStore;
use reelflow_store::*;
use sqlx::{AssertSqlSafe, Connection, PgConnection};

/// Runs `test` on a fresh SQLite database in a temporary file (WAL, a pool of connections: the
/// configuration the service uses, so concurrent tests really overlap).
pub async fn on_sqlite<F, Fut>(test: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("conformance.db"))
        .await
        .expect("open SQLite");
    test(Arc::new(store)).await;
}

/// The PostgreSQL server for the suite, from `REELFLOW_TEST_DATABASE_URL`. Unset, the test is
/// skipped with a message, except in CI (`CI` set and not `false`/`0`), where it fails:
/// `scripts/setup.sh` starts a cluster and writes its URL for `scripts/test.sh`.
fn test_database_url() -> Option<String> {
    if let Ok(url) = std::env::var("REELFLOW_TEST_DATABASE_URL")
        && !url.trim().is_empty()
    {
        return Some(url.trim().to_owned());
    }
    let ci = std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"));
    assert!(
        !ci,
        "REELFLOW_TEST_DATABASE_URL is not set, and in CI the PostgreSQL conformance tests must \
         run: `bash scripts/setup.sh --postgres-only` starts a test cluster and writes its URL \
         to target/test-database-url (scripts/test.sh exports it)"
    );
    eprintln!("skipped: set REELFLOW_TEST_DATABASE_URL to run the PostgreSQL conformance tests");
    None
}

static SCHEMAS: AtomicU32 = AtomicU32::new(0);

/// Runs `test` on PostgreSQL in a schema of its own (dropped after a passing test, kept for a
/// look after a failing one), so tests run in parallel on one database.
pub async fn on_postgres<F, Fut>(test: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(url) = test_database_url() else {
        return;
    };
    let schema = format!(
        "rft_{}_{}",
        std::process::id(),
        SCHEMAS.fetch_add(1, Ordering::Relaxed)
    );
    // A schema left by an earlier run whose process had the same id must not leak in.
    drop_schema(&url, &schema).await;
    let config = PgConfig {
        url: url.clone(),
        max_connections: 8,
        schema: Some(schema.clone()),
    };
    let store = PgStore::connect(&config).await.expect("connect PostgreSQL");
    test(Arc::new(store.clone())).await;
    store.close().await;
    drop_schema(&url, &schema).await;
}

async fn drop_schema(url: &str, schema: &str) {
    let mut conn = PgConnection::connect(url)
        .await
        .expect("connect PostgreSQL");
    let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
    sqlx::query(AssertSqlSafe(sql))
        .execute(&mut conn)
        .await
        .expect("drop schema");
    let _ = conn.close().await;
}

pub const B: &str = "b-1";

pub fn record(key: &str, blob: &str) -> ObjectRecord {
    ObjectRecord {
        bucket: B.into(),
        key: key.into(),
        blob_id: blob.into(),
        size: 7,
        etag: "0123456789abcdef0123456789abcdef-2".into(),
        crc64: Some(u64::MAX - 1),
        content_type: "video/mp4".into(),
        last_modified_ms: 5,
        user_meta: vec![("x-cos-meta-id".into(), "v".into())],
        origin: ObjectOrigin::Upload,
    }
}

pub fn task(run: &str, job: &str, node: &str, state: TaskState) -> Task {
    Task {
        job_id: job.into(),
        run_id: run.into(),
        node_name: node.into(),
        node_type: NodeType::Transcode,
        tag: "Transcode".into(),
        template_id: "t1".into(),
        template_name: "tn".into(),
        queue_id: String::new(),
        state,
        code: String::new(),
        message: String::new(),
        progress: 0,
        input_bucket: B.into(),
        input_key: "in/a.mp4".into(),
        outputs: vec![],
        result: String::new(),
        created: 10,
        started: None,
        ended: None,
        attempts: 0,
        not_before: 0,
        sub: None,
    }
}

pub fn instance(run_id: &str, created: i64) -> Instance {
    Instance {
        run_id: run_id.into(),
        workflow_id: "w1".into(),
        workflow_name: "wf".into(),
        bucket: B.into(),
        object: "in/a.mp4".into(),
        cos_headers: vec![("x-cos-meta-id".into(), "1".into())],
        topology_xml: XmlElement::new("Topology"),
        state: RunState::Running,
        created,
        ended: None,
    }
}

/// A run of two tasks: `j<run>1` (node A, Submitted) then `j<run>2` (node B, Waiting).
pub fn run(run_id: &str, created: i64) -> NewRun {
    NewRun {
        instance: instance(run_id, created),
        tasks: vec![
            task(run_id, &format!("j{run_id}1"), "A", TaskState::Submitted),
            task(run_id, &format!("j{run_id}2"), "B", TaskState::Waiting),
        ],
    }
}

/// A run of `n` parallel tasks `j<run>-<i>`, all Submitted.
/// Makes `task` a task of `node_type` (its stored type name too).
pub fn set_type(task: &mut Task, node_type: NodeType) {
    task.node_type = node_type;
    task.tag = node_type.as_str().to_owned();
}

pub fn parallel_run(run_id: &str, n: usize) -> NewRun {
    NewRun {
        instance: instance(run_id, 1),
        tasks: (0..n)
            .map(|i| {
                let node = format!("N{i}");
                task(
                    run_id,
                    &format!("j{run_id}-{i}"),
                    &node,
                    TaskState::Submitted,
                )
            })
            .collect(),
    }
}

/// The decider of [`run`]: A's end submits B (input `out/a`); B's end ends the run.
pub fn submit_b_then_end(_: &Instance, tasks: &[Task]) -> Decision {
    let b = tasks.iter().find(|t| t.node_name == "B").unwrap();
    if b.state == TaskState::Waiting {
        return Decision {
            task_updates: vec![TaskUpdate {
                job_id: b.job_id.clone(),
                state: TaskState::Submitted,
                created: 20,
                input_bucket: B.into(),
                input_key: "out/a".into(),
            }],
            run_end: None,
        };
    }
    end_when_all_final(&instance("", 0), tasks)
}

/// Ends the run (Success, or Failed when a task failed; Cancel when one was cancelled) once no
/// task is waiting, submitted or running.
pub fn end_when_all_final(_: &Instance, tasks: &[Task]) -> Decision {
    let open = tasks.iter().any(|t| {
        matches!(
            t.state,
            TaskState::Waiting | TaskState::Submitted | TaskState::Running
        )
    });
    if open {
        return Decision::default();
    }
    let state = if tasks.iter().any(|t| t.state == TaskState::Cancel) {
        RunState::Cancel
    } else if tasks.iter().any(|t| t.state == TaskState::Failed) {
        RunState::Failed
    } else {
        RunState::Success
    };
    Decision {
        task_updates: vec![],
        run_end: Some(RunEnd { state, ended: 30 }),
    }
}

/// One TaskFinish message per ended task, and one WorkflowFinish once the run is over.
pub fn finish_callbacks(
    instance: &Instance,
    tasks: &[Task],
    job: &str,
) -> Vec<(CallbackKind, NewCallback)> {
    let mut out = vec![(
        CallbackKind::TaskFinish,
        NewCallback {
            id: format!("task-{job}"),
            url: "http://127.0.0.1:1/task".into(),
            content_type: "application/xml".into(),
            body: format!("task {job}"),
        },
    )];
    if instance.state != RunState::Running {
        out.push((
            CallbackKind::WorkflowFinish,
            NewCallback {
                id: format!("run-{}", instance.run_id),
                url: "http://127.0.0.1:1/".into(),
                content_type: "application/xml".into(),
                body: format!("{} {}", instance.state.as_str(), tasks.len()),
            },
        ));
    }
    out
}

/// One WorkflowFinish message once the run is over.
pub fn run_callback(
    instance: &Instance,
    tasks: &[Task],
    job: &str,
) -> Vec<(CallbackKind, NewCallback)> {
    let mut all = finish_callbacks(instance, tasks, job);
    all.retain(|(kind, _)| *kind == CallbackKind::WorkflowFinish);
    all
}

/// No callbacks.
pub fn no_callbacks(_: &Instance, _: &[Task], _: &str) -> Vec<(CallbackKind, NewCallback)> {
    Vec::new()
}

pub fn outcome(state: TaskState, ended: i64) -> TaskOutcome {
    TaskOutcome {
        state,
        code: if state == TaskState::Success {
            "Success".into()
        } else {
            "Failed".into()
        },
        message: String::new(),
        outputs: vec![],
        result: String::new(),
        ended,
    }
}

pub fn success() -> TaskOutcome {
    outcome(TaskState::Success, 25)
}

/// Job ids of tasks, sorted.
pub fn job_ids(tasks: &[Task]) -> Vec<String> {
    let mut ids: Vec<String> = tasks.iter().map(|t| t.job_id.clone()).collect();
    ids.sort();
    ids
}
