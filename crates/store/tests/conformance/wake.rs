//! Cross-process wake-ups, where the backend has them.

use std::sync::Arc;
use std::time::Duration;

use reelflow_store::*;
use tokio::time::timeout;

use crate::outbox::{message, origin};
use crate::support::*;

pub async fn work_made_ready_raises_the_wake_signals(store: Arc<dyn Store>) {
    let Some(signals) = store.wake_signals().await.unwrap() else {
        // A single-process backend: nothing to signal, callers poll.
        return;
    };
    let again = store.wake_signals().await.unwrap().unwrap();
    assert!(
        Arc::ptr_eq(&signals.tasks, &again.tasks),
        "one listener per store"
    );
    let wait = Duration::from_secs(5);

    store.create_run(&run("r1", 1)).await.unwrap();
    timeout(wait, signals.tasks.notified())
        .await
        .expect("a submitted task wakes task workers");

    store
        .enqueue_callback(&origin("r1", B), &message("m1", "http://h/"), 1, None)
        .await
        .unwrap();
    timeout(wait, signals.callbacks.notified())
        .await
        .expect("a pending callback wakes notifiers");

    let a = store.claim_task("me", 1, 10).await.unwrap().unwrap();
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
    timeout(wait, signals.tasks.notified())
        .await
        .expect("a submitted successor wakes task workers");
}
