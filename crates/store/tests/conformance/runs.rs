//! Runs and tasks: claims, leases, the task-finish transaction.

use std::sync::Arc;

use reelflow_model::execution::{Instance, OutputObject, RunState, TaskState};
use reelflow_store::*;

use crate::support::*;

pub async fn upload_run_claim_finish_and_callback(store: Arc<dyn Store>) {
    store.create_bucket(B, 1).await.unwrap();
    let replaced = store
        .put_object(&record("in/a.mp4", "blob"), &[run("r1", 5)])
        .await
        .unwrap();
    assert_eq!(replaced, None);

    let a = store.claim_task("me", 11, 100).await.unwrap().unwrap();
    assert_eq!((a.node_name.as_str(), a.state), ("A", TaskState::Running));
    assert_eq!(a.started, Some(11));
    assert!(store.claim_task("other", 11, 100).await.unwrap().is_none());
    // A worker that does not hold the lease cannot finish the task.
    let lost = store
        .finish_task(
            &a.job_id,
            "other",
            &success(),
            &submit_b_then_end,
            &run_callback,
        )
        .await
        .unwrap();
    assert_eq!(lost, FinishResult::LeaseLost);
    let result = store
        .finish_task(
            &a.job_id,
            "me",
            &success(),
            &submit_b_then_end,
            &run_callback,
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
    // Finishing again is refused: the lease ended with the task.
    let again = store
        .finish_task(
            &a.job_id,
            "me",
            &success(),
            &submit_b_then_end,
            &run_callback,
        )
        .await
        .unwrap();
    assert_eq!(again, FinishResult::LeaseLost);

    let b = store.claim_task("me", 21, 100).await.unwrap().unwrap();
    assert_eq!((b.node_name.as_str(), b.input_key.as_str()), ("B", "out/a"));
    assert_eq!(b.created, 20);
    let result = store
        .finish_task(
            &b.job_id,
            "me",
            &success(),
            &submit_b_then_end,
            &run_callback,
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
    assert_eq!(
        (instance.state, instance.ended),
        (RunState::Success, Some(30))
    );
    assert!(
        tasks
            .iter()
            .all(|t| t.state == TaskState::Success && t.progress == 100 && t.ended == Some(25))
    );
    let all = store.callbacks_for_run("r1").await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].body, "Success 2");
    assert_eq!(all[0].origin.kind, CallbackKind::WorkflowFinish);
    assert_eq!(all[0].created_ms, 30_000);
    // Born leased to the node that finished the task, whose notifier reads it without a claim.
    assert_eq!(all[0].state, CallbackState::Sending);
    let leased = store.read_leased_callbacks("me", 0, 10).await.unwrap();
    assert_eq!(leased.len(), 1);
    assert!(
        store
            .read_leased_callbacks("other", 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.next_callback_due(&[]).await.unwrap(), None);
    assert!(store.claim_task("me", 31, 100).await.unwrap().is_none());
}

pub async fn a_finish_records_the_outcome_and_task_callbacks(store: Arc<dyn Store>) {
    store.create_run(&parallel_run("r1", 2)).await.unwrap();
    let t = store.claim_task("me", 11, 100).await.unwrap().unwrap();
    let failed = TaskOutcome {
        message: "ffmpeg: exit 1".into(),
        outputs: vec![OutputObject {
            bucket: B.into(),
            key: "out/x.mp4".into(),
        }],
        result: "<Result/>".into(),
        ..outcome(TaskState::Failed, 40)
    };
    store.set_progress(&t.job_id, 60).await.unwrap();
    let done = store
        .finish_task(
            &t.job_id,
            "me",
            &failed,
            &end_when_all_final,
            &finish_callbacks,
        )
        .await
        .unwrap();
    assert_eq!(
        done,
        FinishResult::Applied {
            run_ended: false,
            submitted: false
        }
    );
    let (task, instance) = store.get_task(&t.job_id).await.unwrap().unwrap();
    assert_eq!(instance.run_id, "r1");
    assert_eq!(task.state, TaskState::Failed);
    assert_eq!(
        (task.code.as_str(), task.message.as_str()),
        ("Failed", "ffmpeg: exit 1")
    );
    assert_eq!(task.outputs, failed.outputs);
    assert_eq!((task.result.as_str(), task.ended), ("<Result/>", Some(40)));
    assert_eq!(task.progress, 60, "a failure keeps the progress reached");
    let messages = store.callbacks_for_run("r1").await.unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].origin.kind, CallbackKind::TaskFinish);
    assert_eq!(
        messages[0].origin.job_id.as_deref(),
        Some(t.job_id.as_str())
    );
    assert_eq!(messages[0].origin.workflow_id, "w1");
    assert_eq!(messages[0].created_ms, 40_000);

    let other = store.claim_task("me", 12, 100).await.unwrap().unwrap();
    store
        .finish_task(
            &other.job_id,
            "me",
            &success(),
            &end_when_all_final,
            &finish_callbacks,
        )
        .await
        .unwrap();
    let (instance, _) = store.get_run("r1").await.unwrap().unwrap();
    assert_eq!(instance.state, RunState::Failed);
    let kinds: Vec<CallbackKind> = store
        .callbacks_for_run("r1")
        .await
        .unwrap()
        .iter()
        .map(|m| m.origin.kind)
        .collect();
    assert_eq!(kinds.len(), 3);
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == CallbackKind::WorkflowFinish)
            .count(),
        1
    );
}

pub async fn leases_renew_and_progress_only_while_running(store: Arc<dyn Store>) {
    store.create_run(&run("r1", 5)).await.unwrap();
    let a = store.claim_task("me", 11, 50).await.unwrap().unwrap();
    assert!(store.renew_lease(&a.job_id, "me", 80).await.unwrap());
    assert!(!store.renew_lease(&a.job_id, "other", 90).await.unwrap());
    assert_eq!(
        store.requeue_stale(70, None, false).await.unwrap(),
        0,
        "renewed to 80"
    );
    store.set_progress(&a.job_id, 42).await.unwrap();
    let (task, _) = store.get_task(&a.job_id).await.unwrap().unwrap();
    assert_eq!(task.progress, 42);
    // The waiting task is not running: its progress does not move.
    store.set_progress("jr12", 50).await.unwrap();
    let (waiting, _) = store.get_task("jr12").await.unwrap().unwrap();
    assert_eq!((waiting.state, waiting.progress), (TaskState::Waiting, 0));
    store
        .finish_task(
            &a.job_id,
            "me",
            &success(),
            &submit_b_then_end,
            &no_callbacks,
        )
        .await
        .unwrap();
    assert!(!store.renew_lease(&a.job_id, "me", 99).await.unwrap());
}

pub async fn stale_leases_are_requeued(store: Arc<dyn Store>) {
    store.create_run(&run("r2", 5)).await.unwrap();
    let a = store.claim_task("dead", 11, 50).await.unwrap().unwrap();
    store.set_progress(&a.job_id, 30).await.unwrap();
    assert_eq!(store.requeue_stale(40, None, false).await.unwrap(), 0);
    assert_eq!(store.requeue_stale(60, None, false).await.unwrap(), 1);
    let (requeued, _) = store.get_task(&a.job_id).await.unwrap().unwrap();
    assert_eq!(
        (requeued.state, requeued.progress),
        (TaskState::Submitted, 0)
    );
    let again = store.claim_task("alive", 61, 200).await.unwrap().unwrap();
    assert_eq!(again.job_id, a.job_id);
    assert_eq!(again.started, Some(11), "the first start is kept");
    // The dead worker's late result is refused.
    let late = store
        .finish_task(
            &a.job_id,
            "dead",
            &success(),
            &submit_b_then_end,
            &no_callbacks,
        )
        .await
        .unwrap();
    assert_eq!(late, FinishResult::LeaseLost);
    assert_eq!(
        store.requeue_stale(62, Some("alive"), false).await.unwrap(),
        1
    );
}

pub async fn lost_workers_count_as_attempts_and_hand_backs_do_not(store: Arc<dyn Store>) {
    store.create_run(&parallel_run("r3", 1)).await.unwrap();
    let attempts = |s: Arc<dyn Store>| async move {
        let (t, _) = s.get_task("jr3-0").await.unwrap().unwrap();
        (t.state, t.attempts, t.code)
    };
    // Expired lease: lost.
    store.claim_task("a", 10, 20).await.unwrap().unwrap();
    assert_eq!(store.requeue_stale(30, None, false).await.unwrap(), 1);
    assert_eq!(
        attempts(store.clone()).await,
        (TaskState::Submitted, 1, WORKER_LOST.to_owned())
    );
    // Graceful hand-back: not counted.
    store.claim_task("b", 31, 100).await.unwrap().unwrap();
    assert_eq!(store.requeue_stale(32, Some("b"), false).await.unwrap(), 1);
    assert_eq!(attempts(store.clone()).await.1, 1);
    // Its node restarted after a crash: counted.
    store.claim_task("b", 33, 100).await.unwrap().unwrap();
    assert_eq!(store.requeue_stale(34, Some("b"), true).await.unwrap(), 1);
    assert_eq!(attempts(store.clone()).await.1, 2);
    let (t, _) = store.get_task("jr3-0").await.unwrap().unwrap();
    assert!(
        t.message.contains("stopped before it finished"),
        "{}",
        t.message
    );
    // A crash restart never touches other nodes' live tasks.
    store.claim_task("c", 35, 100).await.unwrap().unwrap();
    assert_eq!(store.requeue_stale(36, Some("b"), true).await.unwrap(), 0);
}

pub async fn claims_take_the_oldest_submitted_task(store: Arc<dyn Store>) {
    let mut late = parallel_run("r1", 1);
    late.tasks[0].created = 50;
    let mut early = parallel_run("r2", 2);
    early.tasks[1].created = 5;
    store.create_run(&late).await.unwrap();
    store.create_run(&early).await.unwrap();
    let order: Vec<String> = [
        store.claim_task("me", 1, 100).await.unwrap().unwrap(),
        store.claim_task("me", 1, 100).await.unwrap().unwrap(),
        store.claim_task("me", 1, 100).await.unwrap().unwrap(),
    ]
    .iter()
    .map(|t| t.job_id.clone())
    .collect();
    // created 5, then 10, then 50.
    assert_eq!(order, ["jr2-1", "jr2-0", "jr1-0"]);
}

pub async fn runs_list_in_both_orders_with_filters_and_paging(store: Arc<dyn Store>) {
    for (id, created) in [("i01", 1), ("i02", 2), ("i03", 3)] {
        let mut r = run(id, created);
        r.instance.object = format!("in/{id}.mp4");
        store.create_run(&r).await.unwrap();
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
        states: vec![RunState::Running, RunState::Failed],
        ..Default::default()
    };
    assert_eq!(ids(store.list_runs(&q).await.unwrap()), ["i02", "i03"]);
    q.created_to = Some(2);
    assert_eq!(ids(store.list_runs(&q).await.unwrap()), ["i02"]);
    q.states = vec![RunState::Failed];
    assert!(store.list_runs(&q).await.unwrap().is_empty());
    let by_name = RunQuery {
        workflow_id: "w1".into(),
        limit: 10,
        name: Some("i03".into()),
        ..Default::default()
    };
    assert_eq!(ids(store.list_runs(&by_name).await.unwrap()), ["i03"]);
    let other = RunQuery {
        workflow_id: "w2".into(),
        limit: 10,
        ..Default::default()
    };
    assert!(store.list_runs(&other).await.unwrap().is_empty());
}
