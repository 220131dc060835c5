use reelflow_model::XmlElement;
use reelflow_model::execution::{Instance, RunState, Task, TaskState};
use reelflow_model::object::{ObjectOrigin, ObjectRecord};

use super::SqliteStore;
use crate::*;

fn record(key: &str) -> ObjectRecord {
    ObjectRecord {
        bucket: "b-1".into(),
        key: key.into(),
        blob_id: format!("blob-{key}"),
        size: 3,
        etag: "abc".into(),
        crc64: Some(u64::MAX - 1),
        content_type: "video/mp4".into(),
        last_modified_ms: 1,
        user_meta: vec![("x-cos-meta-id".into(), "v".into())],
        origin: ObjectOrigin::Upload,
    }
}

fn task(run: &str, job: &str, node: &str, state: TaskState) -> Task {
    Task {
        job_id: job.into(),
        run_id: run.into(),
        node_name: node.into(),
        node_type: "Transcode".into(),
        template_id: "t1".into(),
        template_name: "tn".into(),
        queue_id: String::new(),
        state,
        code: String::new(),
        message: String::new(),
        progress: 0,
        input_bucket: "b-1".into(),
        input_key: "in/a.mp4".into(),
        outputs: vec![],
        result: String::new(),
        created: 10,
        started: None,
        ended: None,
    }
}

fn run(run_id: &str, created: i64) -> NewRun {
    NewRun {
        instance: Instance {
            run_id: run_id.into(),
            workflow_id: "w1".into(),
            workflow_name: "wf".into(),
            bucket: "b-1".into(),
            object: "in/a.mp4".into(),
            cos_headers: vec![],
            topology_xml: XmlElement::new("Topology"),
            state: RunState::Running,
            created,
            ended: None,
        },
        tasks: vec![
            task(run_id, &format!("j{run_id}1"), "A", TaskState::Submitted),
            task(run_id, &format!("j{run_id}2"), "B", TaskState::Waiting),
        ],
    }
}

fn submit_b_then_end(_: &Instance, tasks: &[Task]) -> Decision {
    let b = tasks.iter().find(|t| t.node_name == "B").unwrap();
    if b.state == TaskState::Waiting {
        return Decision {
            task_updates: vec![TaskUpdate {
                job_id: b.job_id.clone(),
                state: TaskState::Submitted,
                created: 20,
                input_bucket: "b-1".into(),
                input_key: "out/a".into(),
            }],
            run_end: None,
        };
    }
    Decision {
        task_updates: vec![],
        run_end: Some(RunEnd {
            state: RunState::Success,
            ended: 30,
        }),
    }
}

/// One WorkflowFinish message once the run is over.
fn one_callback(
    instance: &Instance,
    tasks: &[Task],
    _job: &str,
) -> Vec<(CallbackKind, NewCallback)> {
    if instance.state == RunState::Running {
        return Vec::new();
    }
    vec![(
        CallbackKind::WorkflowFinish,
        NewCallback {
            id: format!("msg-{}", instance.run_id),
            url: "http://127.0.0.1:1/".into(),
            content_type: "application/xml".into(),
            body: format!("{} {}", instance.state.as_str(), tasks.len()),
        },
    )]
}

fn success() -> TaskOutcome {
    TaskOutcome {
        state: TaskState::Success,
        code: "Success".into(),
        message: String::new(),
        outputs: vec![],
        result: String::new(),
        ended: 25,
    }
}

#[tokio::test]
async fn upload_run_claim_finish_and_callback() {
    let store = SqliteStore::in_memory().await.unwrap();
    assert!(store.create_bucket("b-1", 1).await.unwrap());
    assert!(!store.create_bucket("b-1", 1).await.unwrap());
    assert_eq!(
        store
            .put_object(&record("in/a.mp4"), &[run("r1", 5)])
            .await
            .unwrap(),
        None
    );

    let a = store.claim_task("me", 11, 100).await.unwrap().unwrap();
    assert_eq!(a.node_name, "A");
    assert!(store.claim_task("other", 11, 100).await.unwrap().is_none());
    // A worker that lost the lease cannot finish the task.
    assert_eq!(
        store
            .finish_task(
                &a.job_id,
                "other",
                &success(),
                &submit_b_then_end,
                &one_callback
            )
            .await
            .unwrap(),
        FinishResult::LeaseLost
    );
    let result = store
        .finish_task(
            &a.job_id,
            "me",
            &success(),
            &submit_b_then_end,
            &one_callback,
        )
        .await
        .unwrap();
    assert_eq!(
        result,
        FinishResult::Applied {
            run_ended: false,
            submitted: true
        }
    );

    let b = store.claim_task("me", 21, 100).await.unwrap().unwrap();
    assert_eq!((b.node_name.as_str(), b.input_key.as_str()), ("B", "out/a"));
    let result = store
        .finish_task(
            &b.job_id,
            "me",
            &success(),
            &submit_b_then_end,
            &one_callback,
        )
        .await
        .unwrap();
    assert_eq!(
        result,
        FinishResult::Applied {
            run_ended: true,
            submitted: false
        }
    );

    let (instance, tasks) = store.get_run("r1").await.unwrap().unwrap();
    assert_eq!(instance.state, RunState::Success);
    assert!(
        tasks
            .iter()
            .all(|t| t.state == TaskState::Success && t.progress == 100)
    );
    // The run's end wrote its callback; the outbox itself is tested in `outbox/tests.rs`.
    let all = store.callbacks_for_run("r1").await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].body, "Success 2");
    assert_eq!(all[0].origin.kind, CallbackKind::WorkflowFinish);
    // Born leased to the node that finished the task, whose notifier reads it without a claim.
    assert_eq!(all[0].state, CallbackState::Sending);
    let leased = store.read_leased_callbacks("me", 0, 10).await.unwrap();
    assert_eq!(leased.len(), 1);
    assert_eq!(store.next_callback_due(&[]).await.unwrap(), None);
}

#[tokio::test]
async fn stale_leases_are_requeued() {
    let store = SqliteStore::in_memory().await.unwrap();
    store.create_run(&run("r2", 5)).await.unwrap();
    let a = store.claim_task("dead", 11, 50).await.unwrap().unwrap();
    assert_eq!(store.requeue_stale(40, None).await.unwrap(), 0);
    assert_eq!(store.requeue_stale(60, None).await.unwrap(), 1);
    let again = store.claim_task("alive", 61, 200).await.unwrap().unwrap();
    assert_eq!(again.job_id, a.job_id);
    assert_eq!(store.requeue_stale(62, Some("alive")).await.unwrap(), 1);
}

#[tokio::test]
async fn object_listing_is_byte_ordered_and_prefix_exact() {
    let store = SqliteStore::in_memory().await.unwrap();
    store.create_bucket("b-1", 1).await.unwrap();
    for key in ["a%/1", "a_/2", "ab/3", "a%/0"] {
        store.put_object(&record(key), &[]).await.unwrap();
    }
    let keys = |v: Vec<ObjectRecord>| v.into_iter().map(|r| r.key).collect::<Vec<_>>();
    assert_eq!(
        keys(store.list_objects("b-1", "a%", "", 10).await.unwrap()),
        ["a%/0", "a%/1"]
    );
    assert_eq!(
        keys(store.list_objects("b-1", "", "a%/1", 2).await.unwrap()),
        ["a_/2", "ab/3"]
    );
    let replaced = store
        .put_object(
            &ObjectRecord {
                blob_id: "new".into(),
                ..record("ab/3")
            },
            &[],
        )
        .await
        .unwrap();
    assert_eq!(replaced.as_deref(), Some("blob-ab/3"));
    assert!(matches!(
        store.delete_bucket("b-1").await,
        Err(StoreError::BucketNotEmpty(_))
    ));
    let obj = store.get_object("b-1", "ab/3").await.unwrap().unwrap();
    assert_eq!(
        obj.user_meta,
        vec![("x-cos-meta-id".to_owned(), "v".to_owned())]
    );
}

#[tokio::test]
async fn runs_list_in_both_orders_with_paging() {
    let store = SqliteStore::in_memory().await.unwrap();
    for (id, created) in [("i01", 1), ("i02", 2), ("i03", 3)] {
        store.create_run(&run(id, created)).await.unwrap();
    }
    let ids = |v: Vec<Instance>| v.into_iter().map(|i| i.run_id).collect::<Vec<_>>();
    let mut q = RunQuery {
        workflow_id: "w1".into(),
        descending: true,
        limit: 2,
        ..Default::default()
    };
    assert_eq!(ids(store.list_runs(&q).await.unwrap()), ["i03", "i02"]);
    q.after_run_id = Some("i02".into());
    assert_eq!(ids(store.list_runs(&q).await.unwrap()), ["i01"]);
    q = RunQuery {
        workflow_id: "w1".into(),
        limit: 10,
        created_from: Some(2),
        states: vec![RunState::Running],
        ..Default::default()
    };
    assert_eq!(ids(store.list_runs(&q).await.unwrap()), ["i02", "i03"]);
    q.states = vec![RunState::Failed];
    assert!(store.list_runs(&q).await.unwrap().is_empty());
}

#[tokio::test]
async fn queues_bound_concurrency_and_hold_work_while_paused() {
    let store = SqliteStore::in_memory().await.unwrap();
    let queue = store.default_queue("b-1", 1, 1).await.unwrap();
    assert_eq!(
        store.default_queue("b-1", 9, 2).await.unwrap().id,
        queue.id,
        "one default queue per bucket"
    );
    let mut r = run("r9", 5);
    for t in &mut r.tasks {
        t.state = TaskState::Submitted;
        t.queue_id = queue.id.clone();
    }
    store.create_run(&r).await.unwrap();
    assert!(store.claim_task("me", 10, 100).await.unwrap().is_some());
    assert!(
        store.claim_task("me", 10, 100).await.unwrap().is_none(),
        "MaxConcurrent 1 is full"
    );
    let mut wider = queue.clone();
    wider.max_concurrent = 2;
    wider.active = false;
    store.save_queue(&wider).await.unwrap();
    assert!(
        store.claim_task("me", 10, 100).await.unwrap().is_none(),
        "a paused queue holds its work"
    );
    wider.active = true;
    store.save_queue(&wider).await.unwrap();
    assert!(store.claim_task("me", 10, 100).await.unwrap().is_some());
}
