//! Concurrent callers: what one writer at a time gives SQLite, PostgreSQL's row locks must give
//! too. Each test starts its contenders together and checks an invariant over all outcomes.

use std::collections::{BTreeSet, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reelflow_model::execution::{RunState, TaskState};
use reelflow_store::*;
use tokio::sync::Barrier;

use crate::multipart::{part, upload};
use crate::outbox::{claim, message, origin};
use crate::support::*;

/// Runs `n` copies of `f(i)` at once (released together) and returns their results in order.
async fn together<T, F, Fut>(n: usize, f: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let barrier = barrier.clone();
            let job = f(i);
            tokio::spawn(async move {
                barrier.wait().await;
                job.await
            })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for handle in handles {
        out.push(handle.await.expect("contender panicked"));
    }
    out
}

pub async fn concurrent_claims_take_each_task_once(store: Arc<dyn Store>) {
    for r in 0..4 {
        store
            .create_run(&parallel_run(&format!("r{r}"), 10))
            .await
            .unwrap();
    }
    let claimed = together(6, |i| {
        let store = store.clone();
        async move {
            let mut mine = Vec::new();
            while let Some(t) = store.claim_task(&format!("w{i}"), 1, 100).await.unwrap() {
                assert_eq!(t.state, TaskState::Running);
                mine.push(t.job_id);
            }
            mine
        }
    })
    .await;
    let all: Vec<String> = claimed.into_iter().flatten().collect();
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(
        (all.len(), unique.len()),
        (40, 40),
        "each task claimed exactly once"
    );
}

pub async fn concurrent_sibling_finishes_end_each_run_once(store: Arc<dyn Store>) {
    for r in 0..8 {
        store
            .create_run(&parallel_run(&format!("r{r}"), 3))
            .await
            .unwrap();
    }
    let mut tasks = Vec::new();
    while let Some(t) = store.claim_task("w", 1, 100).await.unwrap() {
        tasks.push(t);
    }
    assert_eq!(tasks.len(), 24);
    let results = together(tasks.len(), |i| {
        let store = store.clone();
        let job = tasks[i].job_id.clone();
        async move {
            store
                .finish_task(
                    &job,
                    "w",
                    &success(),
                    &end_when_all_final,
                    &finish_callbacks,
                )
                .await
                .unwrap()
        }
    })
    .await;
    let ended = results
        .iter()
        .filter(|r| {
            matches!(
                r,
                FinishResult::Applied {
                    run_ended: true,
                    ..
                }
            )
        })
        .count();
    assert_eq!(ended, 8, "exactly one finish per run saw the run end");
    for r in 0..8 {
        let run_id = format!("r{r}");
        let (instance, _) = store.get_run(&run_id).await.unwrap().unwrap();
        assert_eq!(instance.state, RunState::Success, "{run_id}");
        let messages = store.callbacks_for_run(&run_id).await.unwrap();
        let kinds: Vec<CallbackKind> = messages.iter().map(|m| m.origin.kind).collect();
        assert_eq!(
            kinds.len(),
            4,
            "{run_id}: three TaskFinish and one WorkflowFinish"
        );
        assert_eq!(
            kinds
                .iter()
                .filter(|k| **k == CallbackKind::WorkflowFinish)
                .count(),
            1
        );
    }
}

pub async fn a_queue_limit_holds_under_concurrent_claims(store: Arc<dyn Store>) {
    for round in 0..4 {
        let bucket = format!("b-q{round}");
        let queue = store.default_queue(&bucket, 2, 1).await.unwrap();
        let mut r = parallel_run(&format!("r{round}"), 12);
        for t in &mut r.tasks {
            t.queue_id = queue.id.clone();
        }
        store.create_run(&r).await.unwrap();
        let claimed = together(8, |i| {
            let store = store.clone();
            async move { store.claim_task(&format!("w{i}"), 1, 100).await.unwrap() }
        })
        .await;
        assert_eq!(claimed.iter().flatten().count(), 2, "MaxConcurrent 2");
        assert!(store.claim_task("w", 1, 100).await.unwrap().is_none());
    }
}

pub async fn concurrent_claimers_never_split_a_sibling_group(store: Arc<dyn Store>) {
    for round in 0..12 {
        let run_id = format!("r{round}");
        store.create_run(&parallel_run(&run_id, 3)).await.unwrap();
        let groups = together(2, |i| {
            let store = store.clone();
            async move {
                store
                    .claim_group(&format!("w{i}"), 1, 100, 7)
                    .await
                    .unwrap()
            }
        })
        .await;
        let mut sizes: Vec<usize> = groups.iter().map(Vec::len).collect();
        sizes.sort_unstable();
        assert_eq!(
            sizes,
            [0, 3],
            "round {round}: one claimer takes the whole ladder"
        );
        let w = groups.iter().position(|g| !g.is_empty()).unwrap();
        for t in &groups[w] {
            assert_eq!(
                (t.run_id.as_str(), t.state),
                (run_id.as_str(), TaskState::Running)
            );
            assert!(
                store
                    .renew_lease(&t.job_id, &format!("w{w}"), 100)
                    .await
                    .unwrap()
            );
        }
    }
}

pub async fn a_claim_racing_a_cancel_agree(store: Arc<dyn Store>) {
    for r in 0..6 {
        let run_id = format!("r{r}");
        store.create_run(&parallel_run(&run_id, 1)).await.unwrap();
        let job = format!("j{run_id}-0");
        let (claimed, cancelled) = tokio::join!(
            {
                let store = store.clone();
                async move { store.claim_task("w", 1, 100).await.unwrap() }
            },
            {
                let store = store.clone();
                let job = job.clone();
                async move {
                    store
                        .cancel_task(&job, 2, &end_when_all_final, &no_callbacks)
                        .await
                        .unwrap()
                }
            }
        );
        let (task, _) = store.get_task(&job).await.unwrap().unwrap();
        match (claimed, cancelled) {
            (Some(t), CancelOutcome::Signalled) => {
                assert_eq!(t.job_id, job);
                assert_eq!(task.state, TaskState::Running);
                assert!(store.cancel_requested(&job).await.unwrap());
            }
            (None, CancelOutcome::Cancelled { run_ended: true }) => {
                assert_eq!(task.state, TaskState::Cancel);
            }
            other => panic!("claim and cancel disagree: {other:?}"),
        }
    }
}

pub async fn concurrent_replacements_hand_back_each_blob_once(store: Arc<dyn Store>) {
    let replaced = together(12, |i| {
        let store = store.clone();
        async move {
            store
                .put_object(&record("k", &format!("b{i}")), &[])
                .await
                .unwrap()
        }
    })
    .await;
    let last = store.get_object(B, "k").await.unwrap().unwrap().blob_id;
    let mut handed: Vec<String> = replaced.into_iter().flatten().collect();
    handed.push(last);
    let unique: BTreeSet<&String> = handed.iter().collect();
    assert_eq!(
        (handed.len(), unique.len()),
        (12, 12),
        "every blob but the current one handed back once: {handed:?}"
    );
}

pub async fn concurrent_part_uploads_hand_back_each_blob_once(store: Arc<dyn Store>) {
    store.create_upload(&upload("u1", "k", 1)).await.unwrap();
    let replaced = together(12, |i| {
        let store = store.clone();
        async move {
            store
                .put_part("u1", &part(1, &format!("p{i}")))
                .await
                .unwrap()
        }
    })
    .await;
    let parts = store.list_parts("u1", 0, 10).await.unwrap();
    assert_eq!(parts.len(), 1);
    let mut handed: Vec<String> = replaced.into_iter().flatten().collect();
    handed.push(parts[0].blob_id.clone());
    let unique: BTreeSet<&String> = handed.iter().collect();
    assert_eq!((handed.len(), unique.len()), (12, 12), "{handed:?}");
}

pub async fn a_completion_racing_an_abort_has_one_winner(store: Arc<dyn Store>) {
    for n in 0..5 {
        let (id, key) = (format!("u{n}"), format!("k{n}"));
        store.create_upload(&upload(&id, &key, 1)).await.unwrap();
        store
            .put_part(&id, &part(1, &format!("p{n}")))
            .await
            .unwrap();
        let parts = store.list_parts(&id, 0, 10).await.unwrap();
        let object = record(&key, &format!("m{n}"));
        let (completed, aborted) = tokio::join!(
            store.complete_upload(&id, &parts, &object, &[]),
            store.abort_upload(&id)
        );
        let exists = store.get_object(B, &key).await.unwrap().is_some();
        match (completed, aborted) {
            (Ok(_), Err(StoreError::NoSuchUpload(_))) => assert!(exists),
            (Err(StoreError::NoSuchUpload(_)), Ok(blobs)) => {
                assert!(!exists);
                assert_eq!(blobs, [format!("p{n}")]);
            }
            other => panic!("completion and abort both or neither won: {other:?}"),
        }
    }
}

pub async fn born_leased_messages_are_read_once_under_concurrent_writers(store: Arc<dyn Store>) {
    const WRITERS: usize = 6;
    const EACH: usize = 20;
    let writers = {
        let store = store.clone();
        tokio::spawn(async move {
            together(WRITERS, |w| {
                let store = store.clone();
                async move {
                    for j in 0..EACH {
                        let id = format!("w{w}-{j}");
                        store
                            .enqueue_callback(
                                &origin("r1", B),
                                &message(&id, "http://h/"),
                                1,
                                Some("node"),
                            )
                            .await
                            .unwrap();
                    }
                }
            })
            .await
        })
    };
    // The node's notifier: reads after its cursor, never re-reads.
    let mut seen = HashSet::new();
    let mut cursor = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.len() < WRITERS * EACH {
        assert!(
            Instant::now() < deadline,
            "a message committed behind the cursor was never read: {} of {}",
            seen.len(),
            WRITERS * EACH
        );
        for (seq, m) in store
            .read_leased_callbacks("node", cursor, 7)
            .await
            .unwrap()
        {
            assert!(seq > cursor);
            cursor = seq;
            assert!(seen.insert(m.id.clone()), "{} read twice", m.id);
        }
        tokio::task::yield_now().await;
    }
    writers.await.unwrap();
    assert!(
        store
            .read_leased_callbacks("node", cursor, 100)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn concurrent_callback_claims_are_disjoint(store: Arc<dyn Store>) {
    for i in 0..60 {
        store
            .enqueue_callback(
                &origin("r1", B),
                &message(&format!("m{i:02}"), "http://h/"),
                1,
                None,
            )
            .await
            .unwrap();
    }
    let claimed = together(5, |i| {
        let store = store.clone();
        async move {
            let mut mine = Vec::new();
            loop {
                let mut request = claim(&format!("n{i}"), 10, &[]);
                request.limit = 7;
                let batch = store.claim_callbacks(&request).await.unwrap();
                if batch.is_empty() {
                    return mine;
                }
                assert!(batch.iter().all(|m| m.state == CallbackState::Sending));
                mine.extend(batch.into_iter().map(|m| m.id));
            }
        }
    })
    .await;
    let all: Vec<String> = claimed.into_iter().flatten().collect();
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!((all.len(), unique.len()), (60, 60));
}

pub async fn first_writers_win_for_default_queues_and_secrets(store: Arc<dyn Store>) {
    let queues = together(6, |i| {
        let store = store.clone();
        async move { store.default_queue(B, i as u32 + 1, 1).await.unwrap() }
    })
    .await;
    assert!(queues.iter().all(|q| *q == queues[0]));
    assert_eq!(store.list_queues(B).await.unwrap().len(), 1);
    let secrets = together(6, |i| {
        let store = store.clone();
        async move {
            store
                .init_bucket_secret(B, &format!("whsec_{i}"), 1)
                .await
                .unwrap()
        }
    })
    .await;
    assert!(secrets.iter().all(|s| *s == secrets[0]));
}
