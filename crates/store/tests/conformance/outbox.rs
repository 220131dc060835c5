//! The callback outbox state machine and per-bucket secrets.

use std::sync::Arc;

use reelflow_store::*;

pub fn origin(run: &str, bucket: &str) -> CallbackOrigin {
    CallbackOrigin {
        kind: CallbackKind::WorkflowFinish,
        run_id: run.into(),
        job_id: None,
        bucket: bucket.into(),
        workflow_id: "w1".into(),
    }
}

pub fn message(id: &str, url: &str) -> NewCallback {
    NewCallback {
        id: id.into(),
        url: url.into(),
        content_type: "application/xml".into(),
        body: format!("<Response>{id}</Response>"),
    }
}

pub fn claim(owner: &str, now_ms: i64, skip: &[&str]) -> ClaimRequest {
    ClaimRequest {
        owner: owner.into(),
        now_ms,
        lease_until_ms: now_ms + 1000,
        limit: 10,
        skip_endpoints: skip.iter().map(|s| s.to_string()).collect(),
    }
}

pub fn attempt(m: &CallbackMessage, status: u16, verdict: AttemptVerdict) -> AttemptLog {
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
        error: if status >= 300 {
            format!("HTTP {status}")
        } else {
            String::new()
        },
        response_body: "ok".into(),
        verdict,
    }
}

async fn enqueue(store: &Arc<dyn Store>, ids: &[(&str, &str)]) {
    for (id, url) in ids {
        let new = store
            .enqueue_callback(&origin("r1", "b-1"), &message(id, url), 10, None)
            .await
            .unwrap();
        assert!(new);
    }
}

pub async fn claim_retry_deliver_and_log(store: Arc<dyn Store>) {
    enqueue(&store, &[("m1", "http://A.example/x")]).await;
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
    assert_eq!((got[0].round, got[0].attempts), (1, 0));
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
    let m = store.get_callback("m1").await.unwrap().unwrap();
    assert_eq!((m.state, m.next_attempt_ms), (CallbackState::Pending, 50));
    assert_eq!(
        (m.last_status, m.last_error.as_str()),
        (Some(500), "HTTP 500")
    );
    assert_eq!((m.last_attempt_ms, m.round_attempts), (Some(100), 1));
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
    assert_eq!((m.delivered_ms, m.last_error.as_str()), (Some(105), ""));
    let log = store.callback_attempts("m1").await.unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].verdict, AttemptVerdict::Retry { at_ms: 50 });
    assert_eq!(log[0].error_kind.as_deref(), Some("http_status"));
    assert_eq!((log[1].number, log[1].status), (2, Some(200)));
    assert_eq!(log[1], attempt(&again[0], 200, AttemptVerdict::Delivered));
    assert_eq!(store.next_callback_due(&[]).await.unwrap(), None);
    assert!(store.get_callback("nope").await.unwrap().is_none());
}

pub async fn exhausted_messages_keep_their_due_time(store: Arc<dyn Store>) {
    enqueue(&store, &[("m1", "http://a/")]).await;
    let got = store.claim_callbacks(&claim("n", 10, &[])).await.unwrap();
    let last = attempt(&got[0], 410, AttemptVerdict::Exhausted);
    store.record_callback_attempts("n", &[last]).await.unwrap();
    let m = store.get_callback("m1").await.unwrap().unwrap();
    assert_eq!((m.state, m.next_attempt_ms), (CallbackState::Exhausted, 10));
    assert_eq!(m.delivered_ms, None);
    assert!(
        store
            .claim_callbacks(&claim("n", 99, &[]))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn attempts_of_one_message_in_a_batch_apply_once(store: Arc<dyn Store>) {
    enqueue(&store, &[("m1", "http://a/"), ("m2", "http://a/")]).await;
    let got = store.claim_callbacks(&claim("n", 10, &[])).await.unwrap();
    let m1 = got.iter().find(|m| m.id == "m1").unwrap();
    let m2 = got.iter().find(|m| m.id == "m2").unwrap();
    let batch = [
        attempt(m1, 500, AttemptVerdict::Retry { at_ms: 70 }),
        attempt(m2, 200, AttemptVerdict::Delivered),
        attempt(m1, 200, AttemptVerdict::Delivered),
    ];
    store.record_callback_attempts("n", &batch).await.unwrap();
    let m1 = store.get_callback("m1").await.unwrap().unwrap();
    // The first attempt released the lease; the second is logged only.
    assert_eq!((m1.state, m1.attempts), (CallbackState::Pending, 1));
    assert_eq!(store.callback_attempts("m1").await.unwrap().len(), 2);
    let m2 = store.get_callback("m2").await.unwrap().unwrap();
    assert_eq!((m2.state, m2.attempts), (CallbackState::Delivered, 1));
    store.record_callback_attempts("n", &[]).await.unwrap();
}

pub async fn a_lost_lease_logs_the_attempt_but_keeps_the_new_owner_state(store: Arc<dyn Store>) {
    enqueue(&store, &[("m1", "http://a/")]).await;
    let got = store
        .claim_callbacks(&claim("dead", 10, &[]))
        .await
        .unwrap();
    assert_eq!(
        store.requeue_callbacks(10, None).await.unwrap(),
        0,
        "lease not expired"
    );
    assert_eq!(store.renew_callback_leases("dead", 5000).await.unwrap(), 1);
    assert_eq!(
        store.requeue_callbacks(2000, None).await.unwrap(),
        0,
        "renewed"
    );
    assert_eq!(store.requeue_callbacks(6000, None).await.unwrap(), 1);
    let taken = store
        .claim_callbacks(&claim("alive", 6000, &[]))
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
    assert_eq!(m.attempts, 0);
    assert_eq!(store.callback_attempts("m1").await.unwrap().len(), 1);
    // A restart of "alive" releases what it held without waiting for the lease.
    assert_eq!(store.requeue_callbacks(0, Some("alive")).await.unwrap(), 1);
    assert_eq!(store.renew_callback_leases("alive", 9).await.unwrap(), 0);
}

pub async fn born_leased_messages_are_read_in_commit_order_once(store: Arc<dyn Store>) {
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
    assert!(rest[0].0 > first[0].0);
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
            .read_leased_callbacks("node", 0, 10)
            .await
            .unwrap()
            .len()
            == 2
    );
    // A born message's lease expires like any other; a restart releases born leases too.
    assert_eq!(store.requeue_callbacks(0, Some("node")).await.unwrap(), 3);
    assert!(
        store
            .read_leased_callbacks("node", 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn saturated_endpoints_are_skipped(store: Arc<dyn Store>) {
    enqueue(&store, &[("m1", "http://slow/"), ("m2", "http://fast/")]).await;
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

pub async fn claims_take_the_earliest_due_first_up_to_the_limit(store: Arc<dyn Store>) {
    for (id, due) in [("c", 30), ("a", 20), ("b", 20), ("d", 5)] {
        store
            .enqueue_callback(&origin("r1", "b-1"), &message(id, "http://h/"), due, None)
            .await
            .unwrap();
    }
    let mut first = claim("n", 25, &[]);
    first.limit = 2;
    let got = store.claim_callbacks(&first).await.unwrap();
    assert_eq!(
        got.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        ["d", "a"]
    );
    let rest = store.claim_callbacks(&claim("n", 25, &[])).await.unwrap();
    assert_eq!(
        rest.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        ["b"]
    );
}

pub async fn redeliver_and_recover_start_new_rounds(store: Arc<dyn Store>) {
    enqueue(&store, &[("m1", "http://a/"), ("m2", "http://a/")]).await;
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
        (m1.state, m1.round, m1.round_attempts, m1.attempts),
        (CallbackState::Pending, 2, 0, 1)
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
    let other_bucket = RecoverFilter {
        bucket: Some("b-2".into()),
        ..RecoverFilter::default()
    };
    assert!(
        store
            .recover_callbacks(&other_bucket, 600)
            .await
            .unwrap()
            .is_empty()
    );
    let filter = RecoverFilter {
        bucket: Some("b-1".into()),
        workflow_id: Some("w1".into()),
        ..RecoverFilter::default()
    };
    assert_eq!(store.recover_callbacks(&filter, 600).await.unwrap(), ["m2"]);
    let stats = store.callback_stats().await.unwrap();
    assert_eq!(stats.by_state, [2, 0, 0, 0]);
    assert_eq!(stats.oldest_pending_ms, Some(10));

    let claimed = store.claim_callbacks(&claim("n", 600, &[])).await.unwrap();
    assert!(claimed.iter().all(|m| m.trigger == AttemptTrigger::Manual));
    let stats = store.callback_stats().await.unwrap();
    assert_eq!(stats.by_state, [0, 2, 0, 0]);
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
    let manual = attempt(&claimed[0], 200, AttemptVerdict::Delivered);
    store
        .record_callback_attempts("n", &[manual])
        .await
        .unwrap();
    let log = store.callback_attempts(&claimed[0].id).await.unwrap();
    assert_eq!(log.last().unwrap().trigger, AttemptTrigger::Manual);
    let after = store.get_callback(&claimed[0].id).await.unwrap().unwrap();
    assert_eq!(
        after.trigger,
        AttemptTrigger::Scheduled,
        "retries of a round are scheduled"
    );
}

pub async fn listing_filters_and_pages_newest_first(store: Arc<dyn Store>) {
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
        kind: Some(CallbackKind::WorkflowFinish),
        workflow_id: Some("w1".into()),
        limit: 10,
        ..CallbackQuery::default()
    };
    assert_eq!(store.list_callbacks(&by_run).await.unwrap().len(), 1);
    let window = CallbackQuery {
        created_from_ms: Some(1),
        created_to_ms: Some(2),
        limit: 10,
        ..CallbackQuery::default()
    };
    let found = store.list_callbacks(&window).await.unwrap();
    assert_eq!(
        found.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        ["b"]
    );
    let tasks = CallbackQuery {
        kind: Some(CallbackKind::TaskFinish),
        limit: 10,
        ..CallbackQuery::default()
    };
    assert!(store.list_callbacks(&tasks).await.unwrap().is_empty());
}

pub async fn nul_characters_in_free_text_read_back_as_replacement_characters(
    store: Arc<dyn Store>,
) {
    enqueue(&store, &[("m1", "http://a/")]).await;
    let got = store.claim_callbacks(&claim("n", 10, &[])).await.unwrap();
    let mut a = attempt(&got[0], 500, AttemptVerdict::Exhausted);
    a.response_body = "bin\0ary".into();
    a.error = "bad\0".into();
    store.record_callback_attempts("n", &[a]).await.unwrap();
    let log = store.callback_attempts("m1").await.unwrap();
    assert_eq!(log[0].response_body, "bin\u{FFFD}ary");
    assert_eq!(log[0].error, "bad\u{FFFD}");
    let m = store.get_callback("m1").await.unwrap().unwrap();
    assert_eq!(m.last_error, "bad\u{FFFD}");
}

pub async fn bucket_secrets_init_once_and_rotate(store: Arc<dyn Store>) {
    assert!(store.bucket_secret("b").await.unwrap().is_none());
    let first = store.init_bucket_secret("b", "whsec_one", 1).await.unwrap();
    assert_eq!(
        (first.secret.as_str(), first.previous.as_deref()),
        ("whsec_one", None)
    );
    let again = store.init_bucket_secret("b", "whsec_two", 2).await.unwrap();
    assert_eq!(first, again, "the first writer wins");
    let rotated = store
        .rotate_bucket_secret("b", "whsec_two", Some("whsec_one"), 99, 3)
        .await
        .unwrap();
    assert_eq!(rotated.secret, "whsec_two");
    assert_eq!(rotated.previous.as_deref(), Some("whsec_one"));
    assert_eq!(
        (rotated.previous_until_ms, rotated.updated_ms),
        (Some(99), 3)
    );
    assert_eq!(store.bucket_secret("b").await.unwrap(), Some(rotated));
    let fresh = store
        .rotate_bucket_secret("new", "whsec_x", None, 99, 4)
        .await
        .unwrap();
    assert_eq!(
        (fresh.previous.as_deref(), fresh.previous_until_ms),
        (None, None)
    );
}
