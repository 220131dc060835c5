//! Monitoring counts: runs and tasks by state, and the load of each queue.

use std::sync::Arc;

use reelflow_model::execution::{RunState, TaskState};
use reelflow_model::workflow::NodeType;
use reelflow_store::*;

use crate::support::*;

pub async fn an_empty_store_counts_zero_runs_in_every_state(store: Arc<dyn Store>) {
    let stats = store.stats().await.unwrap();
    assert_eq!(
        stats.runs,
        vec![
            (RunState::Running, 0),
            (RunState::Success, 0),
            (RunState::Failed, 0),
            (RunState::Cancel, 0),
        ]
    );
    assert!(
        stats.tasks.is_empty() && stats.queues.is_empty(),
        "{stats:?}"
    );
}

pub async fn runs_tasks_and_queue_loads_are_counted(store: Arc<dyn Store>) {
    let queue = store.default_queue(B, 5, 1).await.unwrap();
    let idle = store.default_queue("b-idle", 5, 1).await.unwrap();
    // Three queued tasks created at 5, 7 and 9; the middle one a Snapshot.
    let mut queued = parallel_run("q", 3);
    for (i, t) in queued.tasks.iter_mut().enumerate() {
        t.queue_id = queue.id.clone();
        t.created = 5 + 2 * i as i64;
    }
    set_type(&mut queued.tasks[1], NodeType::Snapshot);
    store.create_run(&queued).await.unwrap();
    // Two one-task runs without a queue, created at 3 and 12.
    for (id, created) in [("early", 3), ("late", 12)] {
        let mut free = parallel_run(id, 1);
        free.tasks[0].created = created;
        store.create_run(&free).await.unwrap();
    }
    // The early run fails; then the oldest queued task runs.
    let early = store.claim_task("me", 20, 100).await.unwrap().unwrap();
    assert_eq!(early.job_id, "jearly-0");
    let failed = outcome(TaskState::Failed, 21);
    let end = store
        .finish_task(
            &early.job_id,
            "me",
            &failed,
            &end_when_all_final,
            &no_callbacks,
        )
        .await
        .unwrap();
    assert!(matches!(
        end,
        FinishResult::Applied {
            run_ended: true,
            ..
        }
    ));
    let running = store.claim_task("me", 22, 100).await.unwrap().unwrap();
    assert_eq!(running.job_id, "jq-0");

    let stats = store.stats().await.unwrap();
    assert_eq!(
        stats.runs,
        vec![
            (RunState::Running, 2),
            (RunState::Success, 0),
            (RunState::Failed, 1),
            (RunState::Cancel, 0),
        ]
    );
    assert_eq!(
        stats.tasks,
        vec![
            ("Snapshot".to_owned(), TaskState::Submitted, 1),
            ("Transcode".to_owned(), TaskState::Failed, 1),
            ("Transcode".to_owned(), TaskState::Running, 1),
            ("Transcode".to_owned(), TaskState::Submitted, 2),
        ]
    );
    let load = &stats.queues[&queue.id];
    assert_eq!((load.bucket.as_str(), load.name.as_str()), (B, "default"));
    assert_eq!(
        (load.waiting, load.running, load.oldest_waiting),
        (2, 1, Some(7))
    );
    let load = &stats.queues[&idle.id];
    assert_eq!(
        (load.waiting, load.running, load.oldest_waiting),
        (0, 0, None)
    );
    let free = &stats.queues[""];
    assert_eq!(
        (free.waiting, free.running, free.oldest_waiting),
        (1, 0, Some(12))
    );
    assert_eq!(free.bucket, "", "tasks without a queue name no bucket");
}
