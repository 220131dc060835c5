//! The refused part's piece on a real store and blob store (SQLite, local files).

use std::sync::Arc;
use std::time::Duration;

use reelflow_model::XmlElement;
use reelflow_model::clock::DisplayOffset;
use reelflow_model::execution::{Instance, RunState};
use reelflow_objects::{BlobStore, LocalBlobStore};
use reelflow_store::sqlite::SqliteStore;
use reelflow_store::{Decision, NewRun, Store};

use super::*;
use crate::{EngineConfig, FetchConfig, SegmentedConfig};

#[test]
fn a_piece_is_named_by_its_parts_result() {
    assert_eq!(piece_blob("{\"blob_id\":\"b1\"}").as_deref(), Some("b1"));
    assert_eq!(piece_blob("{\"blob_id\":null}"), None);
    assert_eq!(piece_blob(""), None);
}

/// A run `r1` of one part `p1` (Submitted), an engine on it, and a piece `p1` stored.
async fn setup(dir: &std::path::Path) -> (Engine, Task, String) {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.join("db")).await.unwrap());
    let blobs = Arc::new(LocalBlobStore::open(dir.join("blobs")).await.unwrap());
    store.create_bucket("b", 1).await.unwrap();
    let part = part_task();
    let run = NewRun {
        instance: Instance {
            run_id: "r1".into(),
            workflow_id: "w".into(),
            workflow_name: "w".into(),
            bucket: "b".into(),
            object: "in.mp4".into(),
            cos_headers: vec![],
            topology_xml: XmlElement::new("Topology"),
            state: RunState::Running,
            created: 1,
            ended: None,
        },
        tasks: vec![part.clone()],
    };
    store.create_run(&run).await.unwrap();
    let file = dir.join("piece.mp4");
    std::fs::write(&file, b"piece").unwrap();
    let blob = blobs.put_file(&file).await.unwrap().id;
    let engine = Engine::new(
        store,
        blobs,
        config(dir),
        Arc::new(tokio::sync::Notify::new()),
    );
    (engine, part, blob)
}

fn config(dir: &std::path::Path) -> EngineConfig {
    EngineConfig {
        offset: DisplayOffset::UTC,
        node_id: "n1".into(),
        work_dir: dir.join("work"),
        workers: 1,
        lease: Duration::from_secs(30),
        poll_interval: Duration::from_millis(200),
        default_max_concurrent: 2,
        fuse_siblings: false,
        fetch: FetchConfig::default(),
        noop_tasks: false,
        segmented: SegmentedConfig::default(),
    }
}

fn part_task() -> Task {
    Task {
        run_id: "r1".into(),
        started: None,
        ..super::super::fixtures::part("p1", "T#seg-00000", "p0", TaskState::Submitted)
    }
}

fn ended_with(blob: &str) -> TaskOutcome {
    TaskOutcome {
        state: TaskState::Success,
        code: "Success".into(),
        message: "Success".into(),
        outputs: vec![],
        result: format!("{{\"blob_id\":\"{blob}\"}}"),
        ended: 2,
    }
}

#[tokio::test]
async fn a_refused_part_deletes_its_piece() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, part, blob) = setup(dir.path()).await;
    let outcome = ended_with(&blob);
    assert_eq!(piece_of(&part, &outcome).as_deref(), Some(blob.as_str()));
    engine.drop_refused_piece(&part, &blob).await;
    assert!(
        engine.blobs().size(&blob).await.is_err(),
        "piece left behind"
    );
    // Deleting again (a retried refusal) is harmless.
    engine.drop_refused_piece(&part, &blob).await;
}

#[tokio::test]
async fn a_piece_the_store_holds_after_all_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, part, blob) = setup(dir.path()).await;
    let store = engine.store().clone();
    let claimed = store.claim_task("n1", 1, 100).await.unwrap().unwrap();
    assert_eq!(claimed.job_id, "p1");
    let keep = |_: &Instance, _: &[Task]| Decision::default();
    let none = |_: &Instance, _: &[Task], _: &str| Vec::new();
    let outcome = ended_with(&blob);
    store
        .finish_task("p1", "n1", &outcome, &keep, &none)
        .await
        .unwrap();
    // The end committed, but its reply was lost and the retry refused.
    engine.drop_refused_piece(&part, &blob).await;
    assert!(
        engine.blobs().size(&blob).await.is_ok(),
        "a recorded piece was deleted"
    );
}

#[test]
fn only_parts_have_pieces() {
    let mut task = part_task();
    task.node_type = NodeType::Transcode;
    assert_eq!(piece_of(&task, &ended_with("b1")), None);
}
