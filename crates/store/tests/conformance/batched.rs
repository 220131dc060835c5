//! Batched claims and task ends ([`RunStore::claim_groups`], [`RunStore::finish_tasks`]): the
//! same results as one claim or one end at a time.

use std::sync::Arc;

use reelflow_model::execution::{Instance, RunState, Task, TaskState};
use reelflow_model::workflow::NodeType;
use reelflow_store::*;

use crate::support::*;

/// [`submit_b_then_end`] for two-step runs, [`end_when_all_final`] otherwise; a run ends at
/// the end time of the task whose end ended it.
fn decide_timed(i: &Instance, tasks: &[Task], now: i64) -> Decision {
    let mut d = if tasks.iter().any(|t| t.node_name == "B") {
        submit_b_then_end(i, tasks)
    } else {
        end_when_all_final(i, tasks)
    };
    if let Some(end) = &mut d.run_end {
        end.ended = now;
    }
    d
}

/// Claims until nothing is claimable, `limit` at a time; every group is one task.
async fn claim_all(store: &dyn Store, owner: &str, limit: u32) -> Vec<Task> {
    let mut all = Vec::new();
    loop {
        let groups = store
            .claim_groups(owner, 11, 100, 0, limit, None)
            .await
            .unwrap();
        if groups.is_empty() {
            return all;
        }
        assert!(groups.len() <= limit as usize);
        assert!(groups.iter().all(|g| g.len() == 1));
        all.extend(groups.into_iter().flatten());
    }
}

pub async fn batched_ends_equal_ends_one_at_a_time(store: Arc<dyn Store>) {
    // r3's first task is held by another node; r1's and r2's by us, claimed 2 at a time.
    store.create_run(&run("r3", 2)).await.unwrap();
    let theirs = store.claim_task("other", 11, 100).await.unwrap().unwrap();
    assert_eq!(theirs.job_id, "jr31");
    store.create_run(&run("r1", 1)).await.unwrap();
    store.create_run(&parallel_run("r2", 3)).await.unwrap();
    let mine = claim_all(&*store, "me", 2).await;
    assert_eq!(job_ids(&mine), ["jr11", "jr2-0", "jr2-1", "jr2-2"]);
    let db_run = |id: &'static str| {
        let store = store.clone();
        async move { store.get_run(id).await.unwrap().unwrap() }
    };

    let failed = outcome(TaskState::Failed, 26);
    let ok = |ended| outcome(TaskState::Success, ended);
    let (o1, o2, o3, o4, o5) = (ok(25), ok(25), ok(27), ok(25), ok(25));
    let ends = [
        TaskEnd {
            job_id: "jr11",
            outcome: &o1,
        },
        TaskEnd {
            job_id: "jr2-0",
            outcome: &o2,
        },
        TaskEnd {
            job_id: "jr2-1",
            outcome: &failed,
        },
        TaskEnd {
            job_id: "jr2-2",
            outcome: &o3,
        },
        TaskEnd {
            job_id: "jr11",
            outcome: &o4,
        },
        TaskEnd {
            job_id: "jnope",
            outcome: &o5,
        },
        TaskEnd {
            job_id: "jr31",
            outcome: &o5,
        },
    ];
    let results = store
        .finish_tasks("me", &ends, &decide_timed, &finish_callbacks)
        .await
        .unwrap();
    let applied = |run_ended, submitted| FinishResult::Applied {
        run_ended,
        submitted,
    };
    assert_eq!(
        results,
        [
            applied(false, true),
            applied(false, false),
            applied(false, false),
            applied(true, false),
            FinishResult::LeaseLost,
            FinishResult::LeaseLost,
            FinishResult::LeaseLost,
        ]
    );
    let (r1, t1) = db_run("r1").await;
    assert_eq!(r1.state, RunState::Running);
    assert_eq!((t1[0].state, t1[0].progress), (TaskState::Success, 100));
    assert_eq!(
        (t1[1].state, t1[1].input_key.as_str(), t1[1].created),
        (TaskState::Submitted, "out/a", 20)
    );
    let (r2, t2) = db_run("r2").await;
    assert_eq!((r2.state, r2.ended), (RunState::Failed, Some(27)));
    assert_eq!(t2[1].state, TaskState::Failed);
    let ids: Vec<String> = store
        .callbacks_for_run("r2")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(ids.len(), 4, "three task ends and one run end: {ids:?}");
    assert_eq!(ids.iter().filter(|id| id.as_str() == "run-r2").count(), 1);
    assert_eq!(store.callbacks_for_run("r1").await.unwrap().len(), 1);
    let (_, t3) = db_run("r3").await;
    assert_eq!(
        t3[0].state,
        TaskState::Running,
        "another node's task is left alone"
    );
}

pub async fn batched_claims_take_the_oldest_once_and_end_at_a_fused_group(store: Arc<dyn Store>) {
    for (i, run_id) in ["r1", "r2", "r3", "r4"].iter().enumerate() {
        let mut r = parallel_run(run_id, 1);
        set_type(&mut r.tasks[0], NodeType::MediaInfo);
        r.tasks[0].created = i as i64;
        store.create_run(&r).await.unwrap();
    }
    let first = store.claim_groups("me", 11, 100, 7, 3, None).await.unwrap();
    assert!(!first.is_empty() && first.len() <= 3);
    assert_eq!(first[0][0].job_id, "jr1-0", "oldest first");
    let mut seen: Vec<String> = first.iter().flatten().map(|t| t.job_id.clone()).collect();
    seen.extend(
        claim_all(&*store, "me", 3)
            .await
            .into_iter()
            .map(|t| t.job_id),
    );
    seen.sort();
    assert_eq!(seen, ["jr1-0", "jr2-0", "jr3-0", "jr4-0"], "each task once");

    // A single task, then a section task with its siblings: the group comes last, whole.
    let mut single = parallel_run("r5", 1);
    set_type(&mut single.tasks[0], NodeType::MediaInfo);
    single.tasks[0].created = 1;
    store.create_run(&single).await.unwrap();
    let mut fused = parallel_run("r6", 3);
    for t in &mut fused.tasks {
        t.created = 2;
    }
    store.create_run(&fused).await.unwrap();
    let mut groups = Vec::new();
    while groups.iter().map(Vec::len).sum::<usize>() < 4 {
        let got = store.claim_groups("me", 11, 100, 7, 8, None).await.unwrap();
        assert!(!got.is_empty());
        groups.extend(got);
    }
    let sizes: Vec<usize> = groups.iter().map(Vec::len).collect();
    assert_eq!(sizes, [1, 3]);
    assert_eq!(job_ids(&groups[1]), ["jr6-0", "jr6-1", "jr6-2"]);
    assert!(
        store
            .claim_groups("me", 11, 100, 7, 8, None)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn batched_claims_keep_the_queue_limit(store: Arc<dyn Store>) {
    let queue = store.default_queue(B, 3, 1).await.unwrap();
    assert_eq!(queue.max_concurrent, 3);
    let mut r = parallel_run("r1", 6);
    for t in &mut r.tasks {
        set_type(t, NodeType::MediaInfo);
        t.queue_id = queue.id.clone();
    }
    store.create_run(&r).await.unwrap();
    let mut claimed = Vec::new();
    for _ in 0..4 {
        claimed.extend(store.claim_groups("me", 11, 100, 7, 8, None).await.unwrap());
    }
    assert_eq!(claimed.len(), 3, "MaxConcurrent 3 holds for batches");
    let (_, tasks) = store.get_run("r1").await.unwrap().unwrap();
    let running = tasks
        .iter()
        .filter(|t| t.state == TaskState::Running)
        .count();
    assert_eq!(running, 3);
}

pub async fn batched_claims_after_a_position_lose_nothing(store: Arc<dyn Store>) {
    for i in 0..4 {
        let mut r = parallel_run(&format!("r{i}"), 1);
        set_type(&mut r.tasks[0], NodeType::MediaInfo);
        r.tasks[0].created = i;
        store.create_run(&r).await.unwrap();
    }
    let after = ClaimPosition {
        queue_id: String::new(),
        created: 1,
        job_id: "jr1-0".into(),
    };
    let first = store
        .claim_groups("me", 11, 100, 7, 8, Some(&after))
        .await
        .unwrap();
    let mut seen: Vec<String> = first.iter().flatten().map(|t| t.job_id.clone()).collect();
    assert!(!seen.is_empty());
    if seen.contains(&"jr2-0".to_owned()) {
        // A store that uses the position takes only what lies after it.
        assert_eq!(seen, ["jr2-0", "jr3-0"]);
        assert_eq!(
            ClaimPosition::after(&first),
            Some(ClaimPosition {
                queue_id: String::new(),
                created: 3,
                job_id: "jr3-0".into()
            })
        );
    }
    // Claims without a position find what lies behind it.
    seen.extend(
        claim_all(&*store, "me", 8)
            .await
            .into_iter()
            .map(|t| t.job_id),
    );
    seen.sort();
    assert_eq!(seen, ["jr0-0", "jr1-0", "jr2-0", "jr3-0"]);
}
