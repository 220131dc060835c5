//! The outbox state machine on a real (in-memory) SQLite database.

use crate::sqlite::SqliteStore;
use crate::*;

fn origin(run: &str, bucket: &str) -> CallbackOrigin {
    CallbackOrigin {
        kind: CallbackKind::WorkflowFinish,
        run_id: run.into(),
        job_id: None,
        bucket: bucket.into(),
        workflow_id: "w1".into(),
    }
}

fn message(id: &str, url: &str) -> NewCallback {
    NewCallback {
        id: id.into(),
        url: url.into(),
        content_type: "application/xml".into(),
        body: format!("<Response>{id}</Response>"),
    }
}

fn claim(owner: &str, now_ms: i64, skip: &[&str]) -> ClaimRequest {
    ClaimRequest {
        owner: owner.into(),
        now_ms,
        lease_until_ms: now_ms + 1000,
        limit: 10,
        skip_endpoints: skip.iter().map(|s| s.to_string()).collect(),
    }
}

fn attempt(m: &CallbackMessage, status: u16, verdict: AttemptVerdict) -> AttemptLog {
    AttemptLog {
        message_id: m.id.clone(),
        number: m.attempts + 1,
        round: m.round,
        trigger: m.trigger,
        started_ms: 100,
        duration_ms: 5,
        url: m.url.clone(),
        status: Some(status),
        error_kind: (status >= 300).then(|| "http_status".to_owned()),
        error: String::new(),
        response_body: "ok".into(),
        verdict,
    }
}

async fn store_with(ids: &[(&str, &str)]) -> SqliteStore {
    let store = SqliteStore::in_memory().await.unwrap();
    for (id, url) in ids {
        let new = store
            .enqueue_callback(&origin("r1", "b-1"), &message(id, url), 10, None)
            .await
            .unwrap();
        assert!(new);
    }
    store
}

#[tokio::test]
async fn claim_retry_deliver_and_log() {
    let store = store_with(&[("m1", "http://a.example/x")]).await;
    assert!(
        !store
            .enqueue_callback(&origin("r1", "b-1"), &message("m1", "http://x/"), 10, None)
            .await
            .unwrap(),
        "an id is enqueued once"
    );
    let got = store.claim_callbacks(&claim("n1", 10, &[])).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].state, CallbackState::Sending);
    assert_eq!(got[0].endpoint, "http://a.example");
    assert!(
        store
            .claim_callbacks(&claim("n2", 10, &[]))
            .await
            .unwrap()
            .is_empty()
    );

    let first = attempt(&got[0], 500, AttemptVerdict::Retry { at_ms: 50 });
    store
        .record_callback_attempts("n1", &[first])
        .await
        .unwrap();
    assert!(
        store
            .claim_callbacks(&claim("n1", 40, &[]))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.next_callback_due(&[]).await.unwrap(), Some(50));

    let again = store.claim_callbacks(&claim("n1", 50, &[])).await.unwrap();
    let second = attempt(&again[0], 200, AttemptVerdict::Delivered);
    store
        .record_callback_attempts("n1", &[second])
        .await
        .unwrap();
    let m = store.get_callback("m1").await.unwrap().unwrap();
    assert_eq!(
        (m.state, m.attempts, m.last_status),
        (CallbackState::Delivered, 2, Some(200))
    );
    assert_eq!(m.delivered_ms, Some(105));
    let log = store.callback_attempts("m1").await.unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].verdict, AttemptVerdict::Retry { at_ms: 50 });
    assert_eq!((log[1].number, log[1].status), (2, Some(200)));
    assert_eq!(store.next_callback_due(&[]).await.unwrap(), None);
}

#[tokio::test]
async fn a_lost_lease_logs_the_attempt_but_keeps_the_new_owner_state() {
    let store = store_with(&[("m1", "http://a/")]).await;
    let got = store
        .claim_callbacks(&claim("dead", 10, &[]))
        .await
        .unwrap();
    assert_eq!(
        store.requeue_callbacks(10, None).await.unwrap(),
        0,
        "lease not expired"
    );
    assert_eq!(store.requeue_callbacks(2000, None).await.unwrap(), 1);
    let taken = store
        .claim_callbacks(&claim("alive", 2000, &[]))
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);
    let late = attempt(&got[0], 200, AttemptVerdict::Delivered);
    store
        .record_callback_attempts("dead", &[late])
        .await
        .unwrap();
    let m = store.get_callback("m1").await.unwrap().unwrap();
    assert_eq!(m.state, CallbackState::Sending, "still the new owner's");
    assert_eq!(store.callback_attempts("m1").await.unwrap().len(), 1);
    // A restart of "alive" releases what it held without waiting for the lease.
    assert_eq!(store.requeue_callbacks(0, Some("alive")).await.unwrap(), 1);
    assert_eq!(store.renew_callback_leases("alive", 9).await.unwrap(), 0);
}

#[tokio::test]
async fn born_leased_messages_are_read_in_commit_order_once() {
    let store = SqliteStore::in_memory().await.unwrap();
    for id in ["a", "b", "c"] {
        let owner = if id == "b" { None } else { Some("node") };
        store
            .enqueue_callback(&origin("r1", "b-1"), &message(id, "http://h/"), 10, owner)
            .await
            .unwrap();
    }
    let first = store.read_leased_callbacks("node", 0, 1).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(
        (first[0].1.id.as_str(), first[0].1.state),
        ("a", CallbackState::Sending)
    );
    let rest = store
        .read_leased_callbacks("node", first[0].0, 10)
        .await
        .unwrap();
    assert_eq!(
        rest.iter().map(|(_, m)| m.id.as_str()).collect::<Vec<_>>(),
        ["c"]
    );
    assert!(
        store
            .read_leased_callbacks("node", rest[0].0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .read_leased_callbacks("other", 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // "b" was not born leased: it waits for a claim.
    let claimed = store
        .claim_callbacks(&claim("node", 10, &[]))
        .await
        .unwrap();
    assert_eq!(
        claimed.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        ["b"]
    );
    assert!(
        store
            .read_leased_callbacks("node", rest[0].0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // A restart releases born leases like any other.
    assert_eq!(store.requeue_callbacks(0, Some("node")).await.unwrap(), 3);
}

#[tokio::test]
async fn saturated_endpoints_are_skipped() {
    let store = store_with(&[("m1", "http://slow/"), ("m2", "http://fast/")]).await;
    let got = store
        .claim_callbacks(&claim("n", 10, &["http://slow"]))
        .await
        .unwrap();
    assert_eq!(
        got.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        ["m2"]
    );
    let skip = ["http://slow".to_owned()];
    assert_eq!(store.next_callback_due(&skip).await.unwrap(), None);
    assert_eq!(store.next_callback_due(&[]).await.unwrap(), Some(10));
}

#[tokio::test]
async fn redeliver_and_recover_start_new_rounds() {
    let store = store_with(&[("m1", "http://a/"), ("m2", "http://a/")]).await;
    let got = store.claim_callbacks(&claim("n", 10, &[])).await.unwrap();
    let done: Vec<_> = got
        .iter()
        .map(|m| {
            let verdict = if m.id == "m1" {
                AttemptVerdict::Delivered
            } else {
                AttemptVerdict::Exhausted
            };
            attempt(m, if m.id == "m1" { 200 } else { 500 }, verdict)
        })
        .collect();
    store.record_callback_attempts("n", &done).await.unwrap();

    let m1 = store.redeliver_callback("m1", 500).await.unwrap().unwrap();
    assert_eq!(
        (m1.state, m1.round, m1.round_attempts),
        (CallbackState::Pending, 2, 0)
    );
    assert_eq!(
        (m1.trigger, m1.next_attempt_ms),
        (AttemptTrigger::Manual, 500)
    );
    assert!(store.redeliver_callback("nope", 1).await.unwrap().is_none());

    let filter = RecoverFilter {
        since_ms: 0,
        until_ms: Some(5),
        ..RecoverFilter::default()
    };
    assert!(
        store
            .recover_callbacks(&filter, 600)
            .await
            .unwrap()
            .is_empty(),
        "created at 10"
    );
    let filter = RecoverFilter {
        bucket: Some("b-1".into()),
        ..RecoverFilter::default()
    };
    assert_eq!(store.recover_callbacks(&filter, 600).await.unwrap(), ["m2"]);
    let stats = store.callback_stats().await.unwrap();
    assert_eq!(stats.by_state, [2, 0, 0, 0]);
    assert_eq!(stats.oldest_pending_ms, Some(10));

    let claimed = store.claim_callbacks(&claim("n", 600, &[])).await.unwrap();
    assert!(claimed.iter().all(|m| m.trigger == AttemptTrigger::Manual));
    assert_eq!(
        store
            .redeliver_callback("m1", 700)
            .await
            .unwrap()
            .unwrap()
            .state,
        CallbackState::Sending,
        "an attempt in flight is not interrupted"
    );
}

#[tokio::test]
async fn listing_filters_and_pages_newest_first() {
    let store = SqliteStore::in_memory().await.unwrap();
    for (i, id) in ["a", "b", "c"].iter().enumerate() {
        let bucket = if *id == "c" { "b-2" } else { "b-1" };
        store
            .enqueue_callback(
                &origin(id, bucket),
                &message(id, "http://h/"),
                i as i64,
                None,
            )
            .await
            .unwrap();
    }
    let q = |after: Option<&str>| CallbackQuery {
        bucket: Some("b-1".into()),
        after_id: after.map(str::to_owned),
        limit: 1,
        ..CallbackQuery::default()
    };
    let page1 = store.list_callbacks(&q(None)).await.unwrap();
    assert_eq!(page1[0].id, "b");
    let page2 = store.list_callbacks(&q(Some("b"))).await.unwrap();
    assert_eq!(page2[0].id, "a");
    assert!(
        store
            .list_callbacks(&q(Some("a")))
            .await
            .unwrap()
            .is_empty()
    );
    let by_run = CallbackQuery {
        run_id: Some("c".into()),
        state: Some(CallbackState::Pending),
        limit: 10,
        ..CallbackQuery::default()
    };
    assert_eq!(store.list_callbacks(&by_run).await.unwrap().len(), 1);
}

#[tokio::test]
async fn bucket_secrets_init_once_and_rotate() {
    let store = SqliteStore::in_memory().await.unwrap();
    assert!(store.bucket_secret("b").await.unwrap().is_none());
    let first = store.init_bucket_secret("b", "whsec_one", 1).await.unwrap();
    let again = store.init_bucket_secret("b", "whsec_two", 2).await.unwrap();
    assert_eq!(first, again, "the first writer wins");
    let rotated = store
        .rotate_bucket_secret("b", "whsec_two", Some("whsec_one"), 99, 3)
        .await
        .unwrap();
    assert_eq!(rotated.secret, "whsec_two");
    assert_eq!(rotated.previous.as_deref(), Some("whsec_one"));
    assert_eq!(rotated.previous_until_ms, Some(99));
    assert_eq!(store.bucket_secret("b").await.unwrap(), Some(rotated));
}
