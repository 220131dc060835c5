//! Sub-tasks (segmented transcoding): a running task splits into parts any worker claims,
//! parks without holding a slot, and is resubmitted by the decider when its parts ended.

use std::sync::Arc;

use reelflow_model::execution::{Instance, SubTask, Task, TaskState};
use reelflow_model::workflow::NodeType;
use reelflow_store::*;

use crate::support::*;

/// Part `i` of parent `jr1` (run `r1`).
fn part(i: usize) -> Task {
    let mut t = task(
        "r1",
        &format!("jr1-p{i}"),
        &format!("A#seg-{i}"),
        TaskState::Submitted,
    );
    set_type(&mut t, NodeType::TranscodePart);
    t.sub = Some(SubTask {
        parent_job_id: "jr1".into(),
        spec: format!("{{\"segment\":{i}}}"),
    });
    t
}

/// A run of one Transcode task `jr1` (node A, Submitted), claimed by `w1`.
async fn claimed_parent(store: &Arc<dyn Store>) {
    store.create_bucket(B, 1).await.unwrap();
    let run = NewRun {
        instance: instance("r1", 1),
        tasks: vec![task("r1", "jr1", "A", TaskState::Submitted)],
    };
    store.create_run(&run).await.unwrap();
    let claimed = store.claim_task("w1", 11, 100).await.unwrap().unwrap();
    assert_eq!(claimed.job_id, "jr1");
}

/// The engine's rule, reduced: a parked parent whose parts all ended is resubmitted; an ended
/// parent cancels its unfinished parts; the run ends when nothing is open.
fn parts_decider(i: &Instance, tasks: &[Task]) -> Decision {
    let parent = tasks.iter().find(|t| t.sub.is_none()).unwrap();
    let parts: Vec<&Task> = tasks.iter().filter(|t| t.sub.is_some()).collect();
    let update = |t: &Task, state| TaskUpdate {
        job_id: t.job_id.clone(),
        state,
        created: t.created,
        input_bucket: t.input_bucket.clone(),
        input_key: t.input_key.clone(),
    };
    if parent.is_parked() {
        let over = parts.iter().all(|p| p.state.is_terminal());
        return Decision {
            task_updates: over
                .then(|| update(parent, TaskState::Submitted))
                .into_iter()
                .collect(),
            run_end: None,
        };
    }
    if parent.state.is_terminal() {
        let mut d = end_when_all_final(i, std::slice::from_ref(parent));
        d.task_updates = parts
            .iter()
            .filter(|p| !p.state.is_terminal())
            .map(|p| update(p, TaskState::Cancel))
            .collect();
        return d;
    }
    Decision::default()
}

pub async fn a_split_parks_the_parent_and_inserts_claimable_parts(store: Arc<dyn Store>) {
    claimed_parent(&store).await;
    let parts = [part(0), part(1)];
    // Only the lease holder splits.
    assert!(!store.split_task("jr1", "w2", &parts).await.unwrap());
    assert!(store.sub_tasks("jr1").await.unwrap().is_empty());
    assert!(store.split_task("jr1", "w1", &parts).await.unwrap());
    // Once: the parent is no longer running.
    assert!(!store.split_task("jr1", "w1", &parts).await.unwrap());

    let (_, tasks) = store.get_run("r1").await.unwrap().unwrap();
    let parent = tasks.iter().find(|t| t.job_id == "jr1").unwrap();
    assert_eq!(parent.state, TaskState::Waiting);
    assert!(parent.is_parked() && parent.is_shown());
    assert_eq!(parent.shown_state(), TaskState::Running);
    // Its lease is gone: it holds no slot, nobody renews it, the sweeper leaves it alone.
    assert!(!store.renew_lease("jr1", "w1", 200).await.unwrap());
    assert_eq!(store.requeue_stale(1_000, None, false).await.unwrap(), 0);

    let stored = store.sub_tasks("jr1").await.unwrap();
    assert_eq!(job_ids(&stored), ["jr1-p0", "jr1-p1"]);
    for (got, want) in stored.iter().zip(&parts) {
        assert_eq!(got.state, TaskState::Submitted);
        assert_eq!(got.node_type, NodeType::TranscodePart);
        assert_eq!(got.sub, want.sub);
        assert!(!got.is_shown());
    }
    // Parts are claimed one by one (never fused), by any worker.
    let first = store.claim_groups("w2", 12, 100, 7, 1, None).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].len(), 1, "a part is not fused with its siblings");
    let second = store.claim_task("w3", 12, 100).await.unwrap().unwrap();
    assert_eq!(second.sub.as_ref().unwrap().parent_job_id, "jr1");
    // The job list shows the parent as Running, never its parts.
    let q = TaskQuery {
        bucket: B.into(),
        tag: "Transcode".into(),
        states: vec![TaskState::Running],
        limit: 10,
        ..Default::default()
    };
    let listed: Vec<String> = store
        .list_tasks(&q)
        .await
        .unwrap()
        .into_iter()
        .map(|(t, _)| t.job_id)
        .collect();
    assert_eq!(listed, ["jr1"]);
}

pub async fn the_last_part_resubmits_the_parent_and_progress_adds_up(store: Arc<dyn Store>) {
    claimed_parent(&store).await;
    assert!(
        store
            .split_task("jr1", "w1", &[part(0), part(1)])
            .await
            .unwrap()
    );
    let a = store.claim_task("w2", 12, 100).await.unwrap().unwrap();
    let b = store.claim_task("w3", 12, 100).await.unwrap().unwrap();
    store.set_progress(&a.job_id, 50).await.unwrap();
    store.refresh_parent_progress("jr1").await.unwrap();
    let progress = |store: Arc<dyn Store>| async move {
        let (_, tasks) = store.get_run("r1").await.unwrap().unwrap();
        tasks.iter().find(|t| t.job_id == "jr1").unwrap().progress
    };
    assert_eq!(progress(store.clone()).await, 23, "(50 + 0) / 2 of 95 %");

    let first = store
        .finish_task(&a.job_id, "w2", &success(), &parts_decider, &no_callbacks)
        .await
        .unwrap();
    assert_eq!(
        first,
        FinishResult::Applied {
            run_ended: false,
            submitted: false
        }
    );
    store.refresh_parent_progress("jr1").await.unwrap();
    assert_eq!(progress(store.clone()).await, 47, "(100 + 0) / 2 of 95 %");
    let last = store
        .finish_task(&b.job_id, "w3", &success(), &parts_decider, &no_callbacks)
        .await
        .unwrap();
    assert_eq!(
        last,
        FinishResult::Applied {
            run_ended: false,
            submitted: true
        }
    );
    // The resubmitted parent is claimed like any task and finishes the run.
    let parent = store.claim_task("w2", 13, 100).await.unwrap().unwrap();
    assert_eq!(parent.job_id, "jr1");
    let end = store
        .finish_task("jr1", "w2", &success(), &parts_decider, &no_callbacks)
        .await
        .unwrap();
    assert_eq!(
        end,
        FinishResult::Applied {
            run_ended: true,
            submitted: false
        }
    );
}

pub async fn a_cancel_before_the_split_refuses_it(store: Arc<dyn Store>) {
    claimed_parent(&store).await;
    let outcome = store
        .cancel_task("jr1", 12, &parts_decider, &no_callbacks)
        .await
        .unwrap();
    assert_eq!(outcome, CancelOutcome::Signalled);
    assert!(!store.split_task("jr1", "w1", &[part(0)]).await.unwrap());
    assert!(store.sub_tasks("jr1").await.unwrap().is_empty());
}

pub async fn cancelling_a_parked_parent_cancels_its_parts(store: Arc<dyn Store>) {
    claimed_parent(&store).await;
    assert!(
        store
            .split_task("jr1", "w1", &[part(0), part(1)])
            .await
            .unwrap()
    );
    let running = store.claim_task("w2", 12, 100).await.unwrap().unwrap();
    let outcome = store
        .cancel_task("jr1", 13, &parts_decider, &no_callbacks)
        .await
        .unwrap();
    assert_eq!(outcome, CancelOutcome::Cancelled { run_ended: true });
    let (run, tasks) = store.get_run("r1").await.unwrap().unwrap();
    assert_eq!(run.state, reelflow_model::execution::RunState::Cancel);
    assert!(tasks.iter().all(|t| t.state == TaskState::Cancel));
    // The running part's worker loses its lease at its next renewal and stops.
    assert!(!store.renew_lease(&running.job_id, "w2", 200).await.unwrap());
    assert_eq!(
        store
            .finish_task(
                &running.job_id,
                "w2",
                &success(),
                &parts_decider,
                &no_callbacks
            )
            .await
            .unwrap(),
        FinishResult::LeaseLost
    );
}

/// Part `job` ends with a piece named by `result`.
fn piece_end(result: &str) -> TaskOutcome {
    TaskOutcome {
        result: result.into(),
        ..success()
    }
}

/// The pieces to collect, by job id.
async fn pieces(store: &Arc<dyn Store>, limit: u32) -> Vec<(String, String)> {
    let mut pieces: Vec<(String, String)> = store
        .pieces_to_collect(limit)
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.job_id, p.result))
        .collect();
    pieces.sort();
    pieces
}

pub async fn pieces_of_a_cancelled_parent_are_listed_until_collected(store: Arc<dyn Store>) {
    claimed_parent(&store).await;
    let parts = [part(0), part(1), part(2)];
    assert!(store.split_task("jr1", "w1", &parts).await.unwrap());
    let a = store.claim_task("w2", 12, 100).await.unwrap().unwrap();
    let b = store.claim_task("w3", 12, 100).await.unwrap().unwrap();
    let c = store.claim_task("w4", 12, 100).await.unwrap().unwrap();
    for (part, owner, blob) in [(&a, "w2", "x0"), (&b, "w3", "x1")] {
        let end = piece_end(&format!("{{\"blob_id\":\"{blob}\"}}"));
        let applied = store
            .finish_task(&part.job_id, owner, &end, &parts_decider, &no_callbacks)
            .await
            .unwrap();
        assert!(matches!(applied, FinishResult::Applied { .. }));
    }
    // The parent still waits for its last part: its pieces are needed.
    assert!(pieces(&store, 10).await.is_empty());
    assert!(
        !store
            .mark_piece_collected(&a.job_id, "{\"blob_id\":\"x0\"}")
            .await
            .unwrap(),
        "no piece of a parent that has not ended is cleared"
    );

    let outcome = store
        .cancel_task("jr1", 13, &parts_decider, &no_callbacks)
        .await
        .unwrap();
    assert_eq!(outcome, CancelOutcome::Cancelled { run_ended: true });
    // The running part's end is refused: its result is never stored, nor listed.
    let late = piece_end("{\"blob_id\":\"x2\"}");
    let refused = store
        .finish_task(&c.job_id, "w4", &late, &parts_decider, &no_callbacks)
        .await
        .unwrap();
    assert_eq!(refused, FinishResult::LeaseLost);

    let listed = pieces(&store, 10).await;
    let want = [
        (a.job_id.clone(), "{\"blob_id\":\"x0\"}".to_owned()),
        (b.job_id.clone(), "{\"blob_id\":\"x1\"}".to_owned()),
    ];
    assert_eq!(listed, want);
    assert_eq!(
        store.pieces_to_collect(1).await.unwrap().len(),
        1,
        "limited"
    );

    // Collected once: a second mark, or a mark of another result, clears nothing.
    assert!(
        !store
            .mark_piece_collected(&a.job_id, "other")
            .await
            .unwrap()
    );
    assert!(
        store
            .mark_piece_collected(&a.job_id, &want[0].1)
            .await
            .unwrap()
    );
    assert!(
        !store
            .mark_piece_collected(&a.job_id, &want[0].1)
            .await
            .unwrap()
    );
    assert_eq!(pieces(&store, 10).await, want[1..]);
    assert!(
        store
            .mark_piece_collected(&b.job_id, &want[1].1)
            .await
            .unwrap()
    );
    assert!(pieces(&store, 10).await.is_empty());
    let stored = store.sub_tasks("jr1").await.unwrap();
    assert!(stored.iter().all(|t| t.result.is_empty()), "{stored:#?}");
}

pub async fn pieces_of_an_ended_parent_are_listed_but_not_its_own_result(store: Arc<dyn Store>) {
    claimed_parent(&store).await;
    assert!(
        store
            .split_task("jr1", "w1", &[part(0), part(1)])
            .await
            .unwrap()
    );
    let a = store.claim_task("w2", 12, 100).await.unwrap().unwrap();
    let b = store.claim_task("w3", 12, 100).await.unwrap().unwrap();
    let end = piece_end("{\"blob_id\":\"y0\"}");
    store
        .finish_task(&a.job_id, "w2", &end, &parts_decider, &no_callbacks)
        .await
        .unwrap();
    // The other part fails: the parent is resubmitted, and then fails too.
    let failed = outcome(TaskState::Failed, 25);
    let last = store
        .finish_task(&b.job_id, "w3", &failed, &parts_decider, &no_callbacks)
        .await
        .unwrap();
    assert_eq!(
        last,
        FinishResult::Applied {
            run_ended: false,
            submitted: true
        }
    );
    // Resubmitted, the parent still needs its pieces (it reads them, or names the failure).
    assert!(pieces(&store, 10).await.is_empty());
    let parent = store.claim_task("w2", 13, 100).await.unwrap().unwrap();
    assert_eq!(parent.job_id, "jr1");
    let parent_end = TaskOutcome {
        result: "<Result/>".into(),
        ..outcome(TaskState::Failed, 26)
    };
    store
        .finish_task("jr1", "w2", &parent_end, &parts_decider, &no_callbacks)
        .await
        .unwrap();
    let listed = pieces(&store, 10).await;
    assert_eq!(
        listed,
        [(a.job_id.clone(), "{\"blob_id\":\"y0\"}".to_owned())]
    );
    assert!(
        !store
            .mark_piece_collected("jr1", "<Result/>")
            .await
            .unwrap(),
        "only sub-tasks have pieces"
    );
}
