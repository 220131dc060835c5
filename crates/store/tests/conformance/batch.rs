//! Batches (inventory trigger jobs): creation and listing, one driver per batch, the page
//! transaction (runs + items + cursor, only under the lease), cancel and the end with its
//! callback.

use std::sync::Arc;

use reelflow_model::XmlElement;
use reelflow_model::batch::{BatchState, BatchType};
use reelflow_model::execution::TaskState;
use reelflow_store::*;

use crate::support::*;

fn batch(id: &str, created: i64, kind: BatchType, workflows: &[&str]) -> BatchRecord {
    BatchRecord {
        id: id.into(),
        bucket: B.into(),
        name: format!("n-{id}"),
        kind,
        state: BatchState::Submitted,
        request: XmlElement::new("Request").with_leaf("Name", format!("n-{id}")),
        workflow_ids: workflows.iter().map(|w| (*w).to_owned()).collect(),
        code: String::new(),
        message: String::new(),
        cursor: String::new(),
        listing_done: false,
        total: 0,
        created,
        started: None,
        ended: None,
    }
}

fn item(key: &str, run_id: &str) -> BatchItem {
    BatchItem {
        key: key.into(),
        workflow_id: "w1".into(),
        run_id: run_id.into(),
        job_id: String::new(),
    }
}

/// A page with one two-task run per `(key, run id)`.
fn page(entries: &[(&str, &str)], cursor: &str, done: bool) -> BatchPage {
    BatchPage {
        runs: entries.iter().map(|(_, r)| run(r, 1)).collect(),
        items: entries.iter().map(|(k, r)| item(k, r)).collect(),
        objects: entries.len() as u64,
        cursor: cursor.into(),
        listing_done: done,
    }
}

fn ids(v: Vec<BatchRecord>) -> Vec<String> {
    v.into_iter().map(|b| b.id).collect()
}

pub async fn batches_are_created_read_and_listed_with_filters_and_paging(store: Arc<dyn Store>) {
    store
        .create_batch(&batch("b01", 1, BatchType::Workflow, &["w1"]))
        .await
        .unwrap();
    store
        .create_batch(&batch("b02", 2, BatchType::Job, &[]))
        .await
        .unwrap();
    store
        .create_batch(&batch("b03", 3, BatchType::Workflow, &["w1", "w2"]))
        .await
        .unwrap();
    let got = store.get_batch("b03").await.unwrap().unwrap();
    assert_eq!(got, batch("b03", 3, BatchType::Workflow, &["w1", "w2"]));
    assert!(store.get_batch("b99").await.unwrap().is_none());
    let mut q = BatchQuery {
        bucket: B.into(),
        descending: true,
        limit: 2,
        ..Default::default()
    };
    assert_eq!(ids(store.list_batches(&q).await.unwrap()), ["b03", "b02"]);
    q.after_id = Some("b02".into());
    assert_eq!(ids(store.list_batches(&q).await.unwrap()), ["b01"]);
    let q = |f: &dyn Fn(&mut BatchQuery)| {
        let mut q = BatchQuery {
            bucket: B.into(),
            limit: 10,
            ..Default::default()
        };
        f(&mut q);
        q
    };
    let list = |q: BatchQuery| {
        let store = store.clone();
        async move { ids(store.list_batches(&q).await.unwrap()) }
    };
    assert_eq!(list(q(&|q| q.kind = Some(BatchType::Job))).await, ["b02"]);
    assert_eq!(
        list(q(&|q| q.workflow_id = Some("w2".into()))).await,
        ["b03"]
    );
    assert_eq!(
        list(q(&|q| q.workflow_id = Some("w".into()))).await,
        Vec::<String>::new()
    );
    assert_eq!(list(q(&|q| q.id = Some("b01".into()))).await, ["b01"]);
    assert_eq!(list(q(&|q| q.name = Some("n-b02".into()))).await, ["b02"]);
    assert_eq!(list(q(&|q| q.created_from = Some(2))).await, ["b02", "b03"]);
    assert_eq!(list(q(&|q| q.created_to = Some(1))).await, ["b01"]);
    assert_eq!(
        list(q(&|q| q.states = vec![BatchState::Running])).await,
        Vec::<String>::new()
    );
    assert_eq!(
        list(q(&|q| q.bucket = "other".into())).await,
        Vec::<String>::new()
    );
}

pub async fn one_driver_holds_a_batch_until_its_lease_expires_or_it_releases_it(
    store: Arc<dyn Store>,
) {
    store
        .create_batch(&batch("b01", 1, BatchType::Workflow, &["w1"]))
        .await
        .unwrap();
    let mut claims = Vec::new();
    for n in 0..8 {
        let store = store.clone();
        claims.push(tokio::spawn(async move {
            store
                .claim_batch(&format!("node{n}"), 100, 130)
                .await
                .unwrap()
        }));
    }
    let mut won = Vec::new();
    for c in claims {
        won.extend(c.await.unwrap());
    }
    assert_eq!(won.len(), 1, "exactly one driver claims the batch");
    assert_eq!(
        (won[0].state, won[0].started),
        (BatchState::Running, Some(100))
    );
    assert!(store.claim_batch("late", 120, 150).await.unwrap().is_none());
    // An expired lease is taken over; the first owner's writes are then refused.
    let taken = store.claim_batch("late", 131, 160).await.unwrap().unwrap();
    assert_eq!(taken.started, Some(100), "StartTime is kept");
    assert!(
        store
            .renew_batch("b01", "late", 170, BatchState::Pause)
            .await
            .unwrap()
    );
    assert_eq!(
        store.get_batch("b01").await.unwrap().unwrap().state,
        BatchState::Pause
    );
    assert_eq!(store.release_batches("late").await.unwrap(), 1);
    let again = store
        .claim_batch("restarted", 140, 170)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.state, BatchState::Pause, "a claim keeps Pause");
}

pub async fn a_page_commits_runs_items_and_cursor_together_only_under_the_lease(
    store: Arc<dyn Store>,
) {
    store
        .create_batch(&batch("b01", 1, BatchType::Workflow, &["w1"]))
        .await
        .unwrap();
    let p1 = page(
        &[("in/a.mp4", "i01"), ("in/b.mp4", "i02")],
        "in/b.mp4",
        false,
    );
    assert!(
        !store.commit_batch_page("b01", "me", &p1).await.unwrap(),
        "not claimed yet"
    );
    store.claim_batch("me", 10, 40).await.unwrap().unwrap();
    assert!(!store.commit_batch_page("b01", "other", &p1).await.unwrap());
    assert!(
        store.get_run("i01").await.unwrap().is_none(),
        "a refused page writes nothing"
    );
    assert!(store.commit_batch_page("b01", "me", &p1).await.unwrap());
    let b = store.get_batch("b01").await.unwrap().unwrap();
    assert_eq!(
        (b.cursor.as_str(), b.listing_done, b.total),
        ("in/b.mp4", false, 2)
    );
    assert!(store.get_run("i02").await.unwrap().is_some());
    // The same object twice in one batch is refused, and the whole page with it.
    let dup = page(
        &[("in/c.mp4", "i03"), ("in/a.mp4", "i04")],
        "in/c.mp4",
        true,
    );
    assert!(store.commit_batch_page("b01", "me", &dup).await.is_err());
    assert!(store.get_run("i03").await.unwrap().is_none());
    assert_eq!(
        store.get_batch("b01").await.unwrap().unwrap().cursor,
        "in/b.mp4"
    );
    let p2 = page(&[("in/c.mp4", "i03")], "in/c.mp4", true);
    assert!(store.commit_batch_page("b01", "me", &p2).await.unwrap());
    let b = store.get_batch("b01").await.unwrap().unwrap();
    assert_eq!((b.listing_done, b.total), (true, 3));
    let items = store.batch_items("b01", None, 2).await.unwrap();
    assert_eq!(
        items,
        vec![item("in/a.mp4", "i01"), item("in/b.mp4", "i02")]
    );
    let rest = store
        .batch_items("b01", Some(("in/b.mp4", "w1")), 10)
        .await
        .unwrap();
    assert_eq!(rest, vec![item("in/c.mp4", "i03")]);
    let p = store.batch_progress("b01").await.unwrap();
    assert_eq!(
        p,
        BatchProgress {
            submitted: 3,
            running: 3,
            ..Default::default()
        }
    );
    let q = RunQuery {
        workflow_id: "w1".into(),
        batch_id: Some("b01".into()),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(store.list_runs(&q).await.unwrap().len(), 3);
    let jobs = TaskQuery {
        bucket: B.into(),
        tag: "Transcode".into(),
        batch_id: Some("b01".into()),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(
        store.list_tasks(&jobs).await.unwrap().len(),
        3,
        "each run's submitted task"
    );
    let none = TaskQuery {
        batch_id: Some("b02".into()),
        ..jobs
    };
    assert!(store.list_tasks(&none).await.unwrap().is_empty());
}

pub async fn cancel_stops_the_driver_and_returns_unstarted_tasks(store: Arc<dyn Store>) {
    store
        .create_batch(&batch("b01", 1, BatchType::Workflow, &["w1"]))
        .await
        .unwrap();
    store.claim_batch("me", 10, 40).await.unwrap().unwrap();
    let p = page(
        &[("in/a.mp4", "i01"), ("in/b.mp4", "i02")],
        "in/b.mp4",
        false,
    );
    assert!(store.commit_batch_page("b01", "me", &p).await.unwrap());
    // One task of i01 starts running: it is not returned.
    let claimed = store.claim_task("worker", 10, 40).await.unwrap().unwrap();
    assert_eq!(claimed.state, TaskState::Running);
    let BatchCancel::Cancelled(pending) = store.cancel_batch("b01", 50).await.unwrap() else {
        panic!("not cancelled");
    };
    assert_eq!(pending.len(), 1);
    assert_ne!(pending[0], claimed.job_id);
    let b = store.get_batch("b01").await.unwrap().unwrap();
    assert_eq!((b.state, b.ended), (BatchState::Cancel, Some(50)));
    let p2 = page(&[("in/c.mp4", "i03")], "in/c.mp4", true);
    assert!(!store.commit_batch_page("b01", "me", &p2).await.unwrap());
    assert!(
        !store
            .renew_batch("b01", "me", 60, BatchState::Running)
            .await
            .unwrap()
    );
    assert!(store.claim_batch("any", 100, 130).await.unwrap().is_none());
    assert_eq!(
        store.cancel_batch("b01", 60).await.unwrap(),
        BatchCancel::AlreadyEnded(BatchState::Cancel)
    );
    assert_eq!(
        store.cancel_batch("b99", 60).await.unwrap(),
        BatchCancel::NotFound
    );
}

pub async fn the_end_is_written_with_its_callback_by_the_owner_only(store: Arc<dyn Store>) {
    store
        .create_batch(&batch("b01", 1, BatchType::Workflow, &["w1"]))
        .await
        .unwrap();
    store.claim_batch("me", 10, 40).await.unwrap().unwrap();
    let end = BatchEnd {
        state: BatchState::Success,
        code: "Success".into(),
        message: String::new(),
        ended: 20,
        callback: Some((
            CallbackOrigin {
                kind: CallbackKind::BatchFinish,
                run_id: "b01".into(),
                job_id: None,
                bucket: B.into(),
                workflow_id: "w1".into(),
            },
            NewCallback {
                id: "msg_b01_batchfinish".into(),
                url: "http://127.0.0.1:1/cb".into(),
                content_type: "application/xml".into(),
                body: "<Response/>".into(),
            },
        )),
    };
    assert!(!store.finish_batch("b01", "other", &end).await.unwrap());
    assert!(store.finish_batch("b01", "me", &end).await.unwrap());
    assert!(
        !store.finish_batch("b01", "me", &end).await.unwrap(),
        "once"
    );
    let b = store.get_batch("b01").await.unwrap().unwrap();
    assert_eq!(
        (b.state, b.code.as_str(), b.ended),
        (BatchState::Success, "Success", Some(20))
    );
    let messages = store
        .list_callbacks(&CallbackQuery {
            run_id: Some("b01".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].origin.kind, CallbackKind::BatchFinish);
}
