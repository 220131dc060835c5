//! The SSRF guard, operator controls (redeliver, recover), secret rotation and metrics, against
//! real receivers on loopback. Refused destinations are never contacted: 169.254.169.254 and
//! 10.0.0.1 are refused before any connection is made.

mod support;

use std::time::Duration;

use reelflow_notify::WebhookSecret;
use reelflow_store::*;
use support::*;

async fn first_attempt(store: &reelflow_store::sqlite::SqliteStore, id: &str) -> AttemptLog {
    for _ in 0..200 {
        if let Some(a) = store
            .callback_attempts(id)
            .await
            .unwrap()
            .into_iter()
            .next()
        {
            return a;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no attempt for {id}");
}

#[tokio::test]
async fn non_public_destinations_are_refused_without_the_allow_list() {
    let (url, rx) = receiver(vec![Reply::Status(200)]).await;
    let port = url
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let localhost = format!("http://localhost:{port}/hook");
    let store = store_with(&[
        ("metadata", "http://169.254.169.254/latest/meta-data/"),
        ("private", "http://10.0.0.1/hook"),
        ("v6-loopback", "http://[::1]:9/hook"),
        ("mapped", "http://[::ffff:127.0.0.1]:9/hook"),
        ("name", &localhost),
        ("ftp", "ftp://example.com/x"),
    ])
    .await;
    let stop = spawn(store.clone(), config("5s", ""));
    for id in ["metadata", "private", "v6-loopback", "mapped"] {
        // An IP literal cannot change: refused once, exhausted at once.
        let m = wait_state(&store, id, CallbackState::Exhausted).await;
        assert_eq!(m.attempts, 1, "{id}");
        let a = first_attempt(&store, id).await;
        assert_eq!(a.error_kind.as_deref(), Some("ssrf_refused"), "{id}");
        assert!(a.error.contains("non-public"), "{id}: {}", a.error);
    }
    // A name is refused after resolution; DNS may change, so it is retried later.
    let a = first_attempt(&store, "name").await;
    assert_eq!(a.error_kind.as_deref(), Some("ssrf_refused"), "{a:?}");
    assert!(
        a.error.contains("127.0.0.1") || a.error.contains("::1"),
        "{}",
        a.error
    );
    assert!(matches!(a.verdict, AttemptVerdict::Retry { .. }));
    let ftp = wait_state(&store, "ftp", CallbackState::Exhausted).await;
    assert!(ftp.last_error.contains("scheme"), "{}", ftp.last_error);
    stop.cancel();
    assert!(rx.hits().is_empty(), "nothing reached the receiver");
}

#[tokio::test]
async fn allowed_loopback_destinations_are_delivered() {
    let (v4, rx4) = receiver(vec![Reply::Status(200)]).await;
    let port = v4
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let (v6, rx6) = receiver_on("[::1]:0", vec![Reply::Status(200)]).await;
    let by_name = format!("http://localhost:{port}/hook");
    let store = store_with(&[("v4", &v4), ("v6", &v6), ("name", &by_name)]).await;
    let stop = spawn(store.clone(), config("100ms", "127.0.0.0/8,::1"));
    for id in ["v4", "v6", "name"] {
        wait_state(&store, id, CallbackState::Delivered).await;
    }
    stop.cancel();
    assert_eq!(rx4.hits().len(), 2);
    assert_eq!(rx6.hits().len(), 1);
}

#[tokio::test]
async fn redeliver_and_recover_start_manual_rounds_in_the_log() {
    let (url, rx) = receiver(vec![Reply::Status(200)]).await;
    let (down, _) = receiver(vec![
        Reply::Status(503),
        Reply::Status(503),
        Reply::Status(200),
    ])
    .await;
    let store = store_with(&[("ok", &url), ("down", &down)]).await;
    let (stop, notifier) = start(store.clone(), config("50ms", "127.0.0.0/8"));
    let handle = notifier.handle();
    tokio::spawn(notifier.run(stop.clone()));
    wait_state(&store, "ok", CallbackState::Delivered).await;
    wait_state(&store, "down", CallbackState::Exhausted).await;

    store.redeliver_callback("ok", now_ms()).await.unwrap();
    handle.wake();
    let filter = RecoverFilter {
        since_ms: now_ms() - 60_000,
        ..RecoverFilter::default()
    };
    assert_eq!(
        store.recover_callbacks(&filter, now_ms()).await.unwrap(),
        ["down"]
    );
    handle.wake();
    for id in ["ok", "down"] {
        let m = wait_state(&store, id, CallbackState::Delivered).await;
        assert_eq!(m.round, 2, "{id}");
        let log = store.callback_attempts(id).await.unwrap();
        let last = log.last().unwrap();
        assert_eq!(
            (last.trigger, last.round),
            (AttemptTrigger::Manual, 2),
            "{id}"
        );
    }
    stop.cancel();
    let hits = rx.hits();
    assert_eq!(hits.len(), 2, "delivered, then redelivered once");
    assert_eq!(hits[0].headers["webhook-id"], hits[1].headers["webhook-id"]);
    assert_eq!(hits[0].body, hits[1].body);
}

#[tokio::test]
async fn rotation_signs_with_both_secrets_during_the_grace_period() {
    let (url, rx) = receiver(vec![Reply::Status(200)]).await;
    let store = store_with(&[("before", &url)]).await;
    let mut cfg = config("50ms", "127.0.0.0/8");
    cfg.default_secret = None;
    let (stop, notifier) = start(store.clone(), cfg);
    let handle = notifier.handle();
    tokio::spawn(notifier.run(stop.clone()));
    wait_state(&store, "before", CallbackState::Delivered).await;
    let old = handle.secrets().describe("b").await.unwrap();
    assert!(
        signature_ok(&rx.hits()[0], &old.secret),
        "generated bucket secret"
    );

    let new = WebhookSecret::generate();
    let info = handle
        .secrets()
        .rotate("b", Some(new.clone()), Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(info.previous.as_deref(), Some(old.secret.as_str()));
    let message = NewCallback {
        id: "after".into(),
        url: url.clone(),
        content_type: "application/json".into(),
        body: "{\"x\":\"1\"}".into(),
    };
    store
        .enqueue_callback(&origin("b"), &message, now_ms(), None)
        .await
        .unwrap();
    handle.wake();
    wait_state(&store, "after", CallbackState::Delivered).await;
    stop.cancel();
    let hit = &rx.hits()[1];
    assert_eq!(
        hit.headers["webhook-signature"]
            .to_str()
            .unwrap()
            .split(' ')
            .count(),
        2
    );
    assert!(signature_ok(hit, &new.to_text()), "new secret");
    assert!(
        signature_ok(hit, &old.secret),
        "old secret during the grace period"
    );
}
