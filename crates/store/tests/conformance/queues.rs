//! Queues: the default queue, and the limits they put on claims.

use std::sync::Arc;

use reelflow_model::XmlElement;
use reelflow_model::execution::TaskState;
use reelflow_store::*;

use crate::support::*;

pub async fn queues_bound_concurrency_and_hold_work_while_paused(store: Arc<dyn Store>) {
    let queue = store.default_queue(B, 1, 1).await.unwrap();
    assert_eq!(
        store.default_queue(B, 9, 2).await.unwrap(),
        queue,
        "one default queue per bucket, created once"
    );
    assert_eq!((queue.max_concurrent, queue.active), (1, true));
    let mut r = run("r9", 5);
    for t in &mut r.tasks {
        t.state = TaskState::Submitted;
        t.queue_id = queue.id.clone();
    }
    store.create_run(&r).await.unwrap();
    let running = store.claim_task("me", 10, 100).await.unwrap().unwrap();
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
    // A task without a queue is claimable whatever the queues do.
    store.create_run(&parallel_run("free", 1)).await.unwrap();
    wider.active = false;
    store.save_queue(&wider).await.unwrap();
    let free = store.claim_task("me", 10, 100).await.unwrap().unwrap();
    assert_eq!(free.job_id, "jfree-0");
    assert_ne!(running.job_id, free.job_id);
}

pub async fn a_full_queue_does_not_block_other_queues(store: Arc<dyn Store>) {
    let full = store.default_queue(B, 1, 1).await.unwrap();
    let open = store.default_queue("b-2", 1, 1).await.unwrap();
    let mut busy = parallel_run("r1", 3);
    for t in &mut busy.tasks {
        t.queue_id = full.id.clone();
        t.created = 1;
    }
    store.create_run(&busy).await.unwrap();
    let mut later = parallel_run("r2", 1);
    later.tasks[0].queue_id = open.id.clone();
    store.create_run(&later).await.unwrap();
    assert_eq!(
        store
            .claim_task("me", 10, 100)
            .await
            .unwrap()
            .unwrap()
            .job_id,
        "jr1-0"
    );
    // The older tasks wait for their queue; the younger one of another queue goes first.
    assert_eq!(
        store
            .claim_task("me", 10, 100)
            .await
            .unwrap()
            .unwrap()
            .job_id,
        "jr2-0"
    );
    assert!(store.claim_task("me", 10, 100).await.unwrap().is_none());
}

pub async fn queues_are_listed_read_and_saved(store: Arc<dyn Store>) {
    let q = store.default_queue(B, 3, 7).await.unwrap();
    assert_eq!((q.bucket.as_str(), q.name.as_str()), (B, "default"));
    assert_eq!((q.max_size, q.created, q.updated), (10000, 7, 7));
    assert!(q.notify.is_empty());
    assert_eq!(store.get_queue(&q.id).await.unwrap(), Some(q.clone()));
    assert_eq!(store.get_queue("nope").await.unwrap(), None);
    let mut notify = XmlElement::new("NotifyConfig");
    notify.push_leaf("Url", "http://h/");
    let saved = reelflow_model::queue::Queue {
        name: "renamed".into(),
        max_size: 5,
        notify,
        updated: 9,
        ..q.clone()
    };
    store.save_queue(&saved).await.unwrap();
    assert_eq!(store.list_queues(B).await.unwrap(), [saved]);
    assert!(store.list_queues("b-2").await.unwrap().is_empty());
}
