//! Delivery against real HTTP receivers on 127.0.0.1: retries, timeouts, 429 with Retry-After,
//! redirects, broken connections, per-host limits over keep-alive, exhaustion and restarts.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use reelflow_store::*;
use support::*;

#[tokio::test]
async fn retries_until_delivered_with_a_stable_id_and_body() {
    let (url, rx) = receiver(vec![
        Reply::Status(500),
        Reply::Status(500),
        Reply::Status(200),
    ])
    .await;
    let store = store_with(&[("msg_1", &url)]).await;
    let stop = spawn(store.clone(), config("100ms,100ms,100ms", "127.0.0.0/8"));
    let m = wait_state(&store, "msg_1", CallbackState::Delivered).await;
    stop.cancel();
    assert_eq!((m.attempts, m.last_status), (3, Some(200)));
    let hits = rx.hits();
    assert_eq!(hits.len(), 3, "exactly three POSTs");
    for hit in &hits {
        assert_eq!(hit.headers["webhook-id"], "msg_1");
        assert_eq!(hit.headers["content-type"], "application/xml");
        assert_eq!(hit.body, hits[0].body, "identical body on every attempt");
        assert!(signature_ok(hit, SECRET));
    }
    let log = store.callback_attempts("msg_1").await.unwrap();
    let verdicts: Vec<_> = log.iter().map(|a| a.verdict).collect();
    assert!(matches!(
        verdicts[..],
        [
            AttemptVerdict::Retry { .. },
            AttemptVerdict::Retry { .. },
            AttemptVerdict::Delivered
        ]
    ));
    assert_eq!(
        log.iter()
            .filter(|a| a.verdict == AttemptVerdict::Delivered)
            .count(),
        1
    );
    assert_eq!(log[0].error_kind.as_deref(), Some("http_status"));
    assert_eq!(log[0].response_body, "answer body", "the answer is logged");
}

#[tokio::test]
async fn a_timeout_is_retried_after_the_overload_floor() {
    let (url, rx) = receiver(vec![
        Reply::Slow(Duration::from_secs(2)),
        Reply::Status(200),
    ])
    .await;
    let store = store_with(&[("m", &url)]).await;
    let mut cfg = config("100ms,300ms", "127.0.0.0/8");
    cfg.timeout = Duration::from_millis(300);
    let stop = spawn(store.clone(), cfg);
    wait_state(&store, "m", CallbackState::Delivered).await;
    stop.cancel();
    let log = store.callback_attempts("m").await.unwrap();
    assert_eq!(log[0].error_kind.as_deref(), Some("timeout"));
    assert_eq!(log[0].status, None);
    let AttemptVerdict::Retry { at_ms } = log[0].verdict else {
        panic!("{:?}", log[0]);
    };
    // The floor of this schedule is its longest delay (300 ms), ±20 %.
    let wait = at_ms - (log[0].started_ms + log[0].duration_ms);
    assert!((230..=370).contains(&wait), "waited {wait} ms");
    assert_eq!(rx.hits().len(), 2);
}

#[tokio::test]
async fn retry_after_on_429_is_honoured_within_twice_the_base() {
    let (url, rx) = receiver(vec![
        Reply::WithHeader(429, "retry-after", "1"),
        Reply::Status(200),
    ])
    .await;
    let store = store_with(&[("m", &url)]).await;
    // Base 100 ms, raised to the 400 ms floor by the 429; Retry-After 1 s clamps to 800 ms.
    let stop = spawn(store.clone(), config("100ms,400ms", "127.0.0.0/8"));
    wait_state(&store, "m", CallbackState::Delivered).await;
    stop.cancel();
    let hits = rx.hits();
    let gap = hits[1].at - hits[0].at;
    assert!(gap >= Duration::from_millis(780), "retried after {gap:?}");
    assert!(gap < Duration::from_millis(1000), "retried after {gap:?}");
    let log = store.callback_attempts("m").await.unwrap();
    assert_eq!(log[0].status, Some(429));
}

#[tokio::test]
async fn redirects_fail_are_not_followed_and_exhaust_visibly() {
    let (url, rx) = receiver(vec![Reply::WithHeader(302, "location", "/elsewhere")]).await;
    let store = store_with(&[("m", &url)]).await;
    let (stop, notifier) = start(store.clone(), config("50ms,50ms", "127.0.0.0/8"));
    let handle = notifier.handle();
    tokio::spawn(notifier.run(stop.clone()));
    let m = wait_state(&store, "m", CallbackState::Exhausted).await;
    stop.cancel();
    assert_eq!(m.attempts, 3, "first attempt plus two retries");
    assert!(
        m.last_error.contains("302") && m.last_error.contains("not followed"),
        "{}",
        m.last_error
    );
    assert_eq!(rx.hits().len(), 3, "the redirect was never followed");
    let log = store.callback_attempts("m").await.unwrap();
    assert_eq!(log[2].verdict, AttemptVerdict::Exhausted);
    assert!(
        log.iter()
            .all(|a| a.error_kind.as_deref() == Some("redirect"))
    );
    let text = handle.metrics_text().await.unwrap();
    assert!(
        text.contains("reelflow_callback_attempts_total{outcome=\"exhausted\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("reelflow_callback_messages{state=\"Exhausted\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn broken_connections_are_retried() {
    let (url, connections) = raw_receiver(vec![
        // a 200 whose body breaks off
        "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial",
        // closed without any answer
        "",
    ])
    .await;
    let store = store_with(&[("m", &url)]).await;
    let stop = spawn(store.clone(), config("50ms,50ms,50ms", "127.0.0.0/8"));
    let m = wait_state(&store, "m", CallbackState::Delivered).await;
    stop.cancel();
    assert_eq!(m.attempts, 3);
    assert_eq!(*connections.lock().unwrap(), 3);
    let log = store.callback_attempts("m").await.unwrap();
    assert_eq!(log[0].error_kind.as_deref(), Some("incomplete_response"));
    assert_eq!(
        (log[0].status, log[0].response_body.as_str()),
        (Some(200), "partial")
    );
    assert_eq!(log[1].error_kind.as_deref(), Some("connection"));
    assert_eq!(log[2].verdict, AttemptVerdict::Delivered);
}

#[tokio::test]
async fn in_flight_requests_per_host_are_bounded_and_connections_reused() {
    let (url, rx) = receiver(vec![Reply::Slow(Duration::from_millis(30))]).await;
    let ids: Vec<String> = (0..40).map(|i| format!("m{i:02}")).collect();
    let messages: Vec<(&str, &str)> = ids.iter().map(|id| (id.as_str(), url.as_str())).collect();
    let store = store_with(&messages).await;
    let mut cfg = config("100ms", "127.0.0.0/8");
    cfg.per_host = 3;
    let stop = spawn(store.clone(), cfg);
    for id in &ids {
        wait_state(&store, id, CallbackState::Delivered).await;
    }
    stop.cancel();
    assert_eq!(rx.hits().len(), 40);
    assert!(rx.peak_in_flight() <= 3, "peak {}", rx.peak_in_flight());
    let connections: HashSet<_> = rx.hits().iter().map(|h| h.peer).collect();
    assert!(
        connections.len() <= 3,
        "{} connections for 40 requests",
        connections.len()
    );
}

#[tokio::test]
async fn a_restart_releases_its_own_claims_and_the_sweeper_takes_expired_ones() {
    let (url, rx) = receiver(vec![Reply::Status(200)]).await;
    let store = store_with(&[("mine", &url), ("theirs", &url)]).await;
    // A crash mid-attempt: "test-node" claimed one message; a dead node claimed the other.
    let claim = |owner: &str, lease_until_ms| ClaimRequest {
        owner: owner.into(),
        now_ms: now_ms(),
        lease_until_ms,
        limit: 1,
        skip_endpoints: vec![],
    };
    assert_eq!(
        store
            .claim_callbacks(&claim("test-node", i64::MAX))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .claim_callbacks(&claim("dead", now_ms() + 300))
            .await
            .unwrap()
            .len(),
        1
    );
    let stop = spawn(store.clone(), config("100ms", "127.0.0.0/8"));
    wait_state(&store, "mine", CallbackState::Delivered).await;
    wait_state(&store, "theirs", CallbackState::Delivered).await;
    stop.cancel();
    assert_eq!(rx.hits().len(), 2);
}

#[tokio::test]
async fn messages_born_leased_to_this_node_are_sent_without_a_claim() {
    let (url, rx) = receiver(vec![Reply::Status(200)]).await;
    let store = store_with(&[]).await;
    let (stop, notifier) = start(store.clone(), config("100ms", "127.0.0.0/8"));
    let handle = notifier.handle();
    tokio::spawn(notifier.run(stop.clone()));
    tokio::time::sleep(Duration::from_millis(100)).await;
    for (id, owner) in [("ours", "test-node"), ("theirs", "other-node")] {
        let message = NewCallback {
            id: id.into(),
            url: url.clone(),
            content_type: "application/xml".into(),
            body: "<Response/>".into(),
        };
        let lease = Some(owner);
        store
            .enqueue_callback(&origin("b"), &message, now_ms(), lease)
            .await
            .unwrap();
    }
    handle.wake();
    wait_state(&store, "ours", CallbackState::Delivered).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let theirs = store.get_callback("theirs").await.unwrap().unwrap();
    assert_eq!(
        theirs.state,
        CallbackState::Sending,
        "another live node's message is left alone"
    );
    stop.cancel();
    assert_eq!(rx.hits().len(), 1);
}

#[tokio::test]
async fn shutdown_finishes_in_flight_attempts_and_releases_the_rest() {
    let (url, rx) = receiver(vec![Reply::Slow(Duration::from_millis(300))]).await;
    let store = store_with(&[("a", &url), ("b", &url), ("c", &url)]).await;
    let mut cfg = config("100ms", "127.0.0.0/8");
    cfg.per_host = 1;
    let (stop, notifier) = start(store.clone(), cfg);
    let running = tokio::spawn(notifier.run(stop.clone()));
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.cancel();
    running.await.unwrap();
    assert_eq!(rx.hits().len(), 1, "one attempt was in flight");
    let states: Vec<_> = futures_states(&store, &["a", "b", "c"]).await;
    assert_eq!(
        states
            .iter()
            .filter(|s| **s == CallbackState::Delivered)
            .count(),
        1
    );
    assert_eq!(
        states
            .iter()
            .filter(|s| **s == CallbackState::Pending)
            .count(),
        2
    );
}

async fn futures_states(
    store: &reelflow_store::sqlite::SqliteStore,
    ids: &[&str],
) -> Vec<CallbackState> {
    let mut out = Vec::new();
    for id in ids {
        out.push(store.get_callback(id).await.unwrap().unwrap().state);
    }
    out
}
