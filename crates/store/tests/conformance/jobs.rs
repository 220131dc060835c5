//! Tasks seen as jobs: listing, cancellation, fused sibling claims.

use std::sync::Arc;

use reelflow_model::execution::{Instance, RunState, Task, TaskState};
use reelflow_model::workflow::NodeType;
use reelflow_store::*;

use crate::support::*;

fn listed(v: Vec<(Task, Instance)>) -> Vec<String> {
    v.into_iter().map(|(t, _)| t.job_id).collect()
}

pub async fn tasks_are_listed_with_filters_and_paging(store: Arc<dyn Store>) {
    let mut r = parallel_run("r1", 3);
    r.tasks[0].state = TaskState::Waiting;
    r.tasks[1].queue_id = "q1".into();
    set_type(&mut r.tasks[2], NodeType::Snapshot);
    r.tasks[2].input_key = "in/b.mp4".into();
    r.tasks[2].created = 20;
    store.create_run(&r).await.unwrap();
    let mut other = parallel_run("r2", 1);
    other.instance.bucket = "b-2".into();
    store.create_run(&other).await.unwrap();

    let mut q = TaskQuery {
        bucket: B.into(),
        tag: "Transcode".into(),
        limit: 10,
        ..Default::default()
    };
    // Waiting (internal) tasks are not shown unless asked for.
    assert_eq!(listed(store.list_tasks(&q).await.unwrap()), ["jr1-1"]);
    q.states = vec![TaskState::Waiting, TaskState::Submitted];
    assert_eq!(
        listed(store.list_tasks(&q).await.unwrap()),
        ["jr1-0", "jr1-1"]
    );
    q.descending = true;
    assert_eq!(
        listed(store.list_tasks(&q).await.unwrap()),
        ["jr1-1", "jr1-0"]
    );
    q.after_job_id = Some("jr1-1".into());
    assert_eq!(listed(store.list_tasks(&q).await.unwrap()), ["jr1-0"]);
    q.after_job_id = None;
    q.queue_id = Some("q1".into());
    assert_eq!(listed(store.list_tasks(&q).await.unwrap()), ["jr1-1"]);

    let snaps = TaskQuery {
        bucket: B.into(),
        tag: "Snapshot".into(),
        workflow_id: Some("w1".into()),
        input_object: Some("in/b.mp4".into()),
        created_from: Some(20),
        created_to: Some(20),
        limit: 10,
        ..Default::default()
    };
    let found = store.list_tasks(&snaps).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].0.job_id.as_str(), found[0].1.run_id.as_str()),
        ("jr1-2", "r1")
    );
    let none = TaskQuery {
        workflow_id: Some("w9".into()),
        ..snaps.clone()
    };
    assert!(store.list_tasks(&none).await.unwrap().is_empty());
    let (task, instance) = store.get_task("jr1-2").await.unwrap().unwrap();
    assert_eq!(task, r.tasks[2]);
    assert_eq!(instance, r.instance);
    assert!(store.get_task("nope").await.unwrap().is_none());
}

pub async fn a_cancel_before_start_ends_the_task_and_applies_the_decision(store: Arc<dyn Store>) {
    store.create_run(&parallel_run("r1", 2)).await.unwrap();
    let outcome = store
        .cancel_task("jr1-0", 50, &end_when_all_final, &finish_callbacks)
        .await
        .unwrap();
    assert_eq!(outcome, CancelOutcome::Cancelled { run_ended: false });
    let (task, _) = store.get_task("jr1-0").await.unwrap().unwrap();
    assert_eq!(task.state, TaskState::Cancel);
    assert_eq!(
        (task.code.as_str(), task.ended, task.started),
        ("Cancelled", Some(50), Some(50))
    );
    // Nobody's notifier waits for a cancel's messages: they are claimed from Pending.
    let messages = store.callbacks_for_run("r1").await.unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].state, CallbackState::Pending);
    assert_eq!(store.next_callback_due(&[]).await.unwrap(), Some(50_000));

    let outcome = store
        .cancel_task("jr1-1", 51, &end_when_all_final, &finish_callbacks)
        .await
        .unwrap();
    assert_eq!(outcome, CancelOutcome::Cancelled { run_ended: true });
    let (instance, _) = store.get_run("r1").await.unwrap().unwrap();
    assert_eq!(instance.state, RunState::Cancel);
    assert_eq!(store.callbacks_for_run("r1").await.unwrap().len(), 3);
    assert!(store.claim_task("me", 60, 100).await.unwrap().is_none());

    let again = store
        .cancel_task("jr1-1", 52, &end_when_all_final, &finish_callbacks)
        .await
        .unwrap();
    assert_eq!(again, CancelOutcome::AlreadyFinished);
    let missing = store
        .cancel_task("nope", 52, &end_when_all_final, &finish_callbacks)
        .await
        .unwrap();
    assert_eq!(missing, CancelOutcome::NotFound);
}

pub async fn a_cancel_of_a_running_task_signals_its_worker(store: Arc<dyn Store>) {
    store.create_run(&run("r1", 1)).await.unwrap();
    let a = store.claim_task("me", 11, 100).await.unwrap().unwrap();
    assert!(!store.cancel_requested(&a.job_id).await.unwrap());
    let outcome = store
        .cancel_task(&a.job_id, 12, &submit_b_then_end, &finish_callbacks)
        .await
        .unwrap();
    assert_eq!(outcome, CancelOutcome::Signalled);
    assert!(store.cancel_requested(&a.job_id).await.unwrap());
    assert!(!store.cancel_requested("jr12").await.unwrap());
    assert!(!store.cancel_requested("nope").await.unwrap());
    let (task, _) = store.get_task(&a.job_id).await.unwrap().unwrap();
    assert_eq!(task.state, TaskState::Running, "its worker ends it");
    assert!(store.callbacks_for_run("r1").await.unwrap().is_empty());
}

pub async fn siblings_reading_the_same_input_are_claimed_together(store: Arc<dyn Store>) {
    let mut r = parallel_run("r1", 6);
    set_type(&mut r.tasks[2], NodeType::Snapshot);
    set_type(&mut r.tasks[3], NodeType::Animation);
    r.tasks[4].input_key = "other.mp4".into();
    store.create_run(&r).await.unwrap();
    let group = store.claim_group("me", 11, 100, 7).await.unwrap();
    // Sections of any kind, not the Animation, nor the task reading another input.
    assert_eq!(job_ids(&group), ["jr1-0", "jr1-1", "jr1-2", "jr1-5"]);
    assert!(group.iter().all(|t| t.state == TaskState::Running));
    assert!(group.iter().all(|t| t.started == Some(11)));
    for t in &group {
        assert!(store.renew_lease(&t.job_id, "me", 120).await.unwrap());
    }
    // A task that is not a section is claimed alone, siblings asked for or not.
    let alone = store.claim_group("me", 11, 100, 7).await.unwrap();
    assert_eq!(job_ids(&alone), ["jr1-3"]);
    let other_input = store.claim_group("me", 11, 100, 7).await.unwrap();
    assert_eq!(
        job_ids(&other_input),
        ["jr1-4"],
        "claimed ones are not claimed twice"
    );
    assert!(
        store
            .claim_group("me", 11, 100, 7)
            .await
            .unwrap()
            .is_empty()
    );

    let mut limited = parallel_run("r2", 4);
    for t in &mut limited.tasks {
        t.created = 1;
    }
    store.create_run(&limited).await.unwrap();
    let head_and_two = store.claim_group("me", 11, 100, 2).await.unwrap();
    assert_eq!(job_ids(&head_and_two), ["jr2-0", "jr2-1", "jr2-2"]);
    let without_siblings = store.claim_task("me", 11, 100).await.unwrap().unwrap();
    assert_eq!(without_siblings.job_id, "jr2-3");
}

pub async fn a_retried_task_waits_its_turn_and_keeps_its_count(store: Arc<dyn Store>) {
    let mut r = parallel_run("r1", 2);
    r.tasks[1].created = 11;
    store.create_run(&r).await.unwrap();
    let a = store.claim_task("me", 20, 100).await.unwrap().unwrap();
    assert_eq!(a.job_id, "jr1-0");
    assert_eq!((a.attempts, a.not_before), (0, 0));
    assert!(
        !store
            .retry_task(&a.job_id, "other", 50, "InternalError", "x")
            .await
            .unwrap(),
        "only the lease owner puts a task back"
    );
    assert!(
        store
            .retry_task(&a.job_id, "me", 50, "TranscodeFailed", "ffmpeg was killed")
            .await
            .unwrap()
    );
    let (back, _) = store.get_task(&a.job_id).await.unwrap().unwrap();
    assert_eq!(back.state, TaskState::Submitted);
    assert_eq!((back.attempts, back.not_before), (1, 50));
    assert_eq!(back.code, "TranscodeFailed");
    assert!(back.outputs.is_empty());
    // Before its time the younger task goes first, then nothing.
    let b = store.claim_task("me", 30, 100).await.unwrap().unwrap();
    assert_eq!(b.job_id, "jr1-1");
    assert!(store.claim_task("me", 49, 100).await.unwrap().is_none());
    let again = store.claim_task("me", 50, 200).await.unwrap().unwrap();
    assert_eq!(again.job_id, "jr1-0");
    assert_eq!(again.attempts, 1);
    assert_eq!(again.started, Some(20), "the first start is kept");
}
