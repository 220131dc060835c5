//! Delivery against real HTTP receivers on 127.0.0.1.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use reelflow_model::XmlElement;
use reelflow_model::execution::{Instance, RunState, Task, TaskState};
use reelflow_notify::{AddressPolicy, Notifier, NotifierConfig, RetrySchedule, WebhookSecret};
use reelflow_store::sqlite::SqliteStore;
use reelflow_store::*;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<(HeaderMap, String)>>>);

/// A receiver answering the given statuses in order (the last one repeats).
async fn receiver(statuses: Vec<u16>, redirect: bool) -> (String, Received) {
    let received = Received::default();
    let log = received.clone();
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: String| {
            let log = log.clone();
            let statuses = statuses.clone();
            async move {
                let n = {
                    let mut v = log.0.lock().unwrap();
                    v.push((headers, body));
                    v.len()
                };
                let status = statuses[(n - 1).min(statuses.len() - 1)];
                let mut response = axum::response::Response::new(axum::body::Body::empty());
                *response.status_mut() = StatusCode::from_u16(status).unwrap();
                if redirect {
                    response
                        .headers_mut()
                        .insert("location", "/hook".parse().unwrap());
                }
                response
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), received)
}

/// A store holding one finished run whose callback goes to `url`.
async fn store_with_callback(url: &str) -> Arc<SqliteStore> {
    let store = Arc::new(SqliteStore::in_memory().await.unwrap());
    let task = Task {
        job_id: "j1".into(),
        run_id: "i1".into(),
        node_name: "A".into(),
        node_type: "Transcode".into(),
        template_id: "t".into(),
        template_name: "t".into(),
        state: TaskState::Submitted,
        code: String::new(),
        message: String::new(),
        progress: 0,
        input_bucket: "b".into(),
        input_key: "k".into(),
        outputs: vec![],
        created: 1,
        started: None,
        ended: None,
    };
    let instance = Instance {
        run_id: "i1".into(),
        workflow_id: "w".into(),
        workflow_name: "w".into(),
        bucket: "b".into(),
        object: "k".into(),
        cos_headers: vec![],
        topology_xml: XmlElement::new("Topology"),
        state: RunState::Running,
        created: 1,
        ended: None,
    };
    store
        .create_run(&NewRun {
            instance,
            tasks: vec![task],
        })
        .await
        .unwrap();
    store.claim_task("n", 1, i64::MAX).await.unwrap().unwrap();
    let url = url.to_owned();
    let outcome = TaskOutcome {
        state: TaskState::Success,
        code: "Success".into(),
        message: String::new(),
        outputs: vec![],
        ended: 2,
    };
    let decide = |_: &Instance, _: &[Task]| Decision {
        task_updates: vec![],
        run_end: Some(RunEnd {
            state: RunState::Success,
            ended: 2,
        }),
    };
    let build = move |_: &Instance, _: &[Task]| {
        vec![NewCallback {
            id: "msg_1".into(),
            url: url.clone(),
            content_type: "application/xml".into(),
            body: "<Response/>".into(),
        }]
    };
    store
        .finish_task("j1", "n", &outcome, &decide, &build)
        .await
        .unwrap();
    store
}

fn notifier(store: Arc<SqliteStore>, allow: &str) -> Notifier {
    Notifier::new(
        store,
        NotifierConfig {
            schedule: RetrySchedule::parse("100ms,100ms,100ms").unwrap(),
            timeout: Duration::from_secs(5),
            policy: AddressPolicy::parse(allow).unwrap(),
            secret: WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap(),
            concurrency: 4,
            poll_interval: Duration::from_millis(50),
        },
        Arc::new(Notify::new()),
    )
    .unwrap()
}

async fn wait_state(store: &SqliteStore, state: &str) -> CallbackMessage {
    for _ in 0..100 {
        let m = store.callbacks_for_run("i1").await.unwrap().remove(0);
        if m.state == state {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "callback never reached {state}: {:?}",
        store.callbacks_for_run("i1").await.unwrap()
    );
}

#[tokio::test]
async fn retries_until_delivered_with_a_stable_id_and_body() {
    let (url, received) = receiver(vec![500, 500, 200], false).await;
    let store = store_with_callback(&url).await;
    let stop = CancellationToken::new();
    tokio::spawn(notifier(store.clone(), "127.0.0.0/8").run(stop.clone()));
    let message = wait_state(&store, "Delivered").await;
    stop.cancel();
    assert_eq!(message.attempts, 3);
    let got = received.0.lock().unwrap().clone();
    assert_eq!(got.len(), 3, "exactly three POSTs");
    for (headers, body) in &got {
        assert_eq!(headers["webhook-id"], "msg_1");
        assert_eq!(headers["content-type"], "application/xml");
        assert!(
            headers["webhook-signature"]
                .to_str()
                .unwrap()
                .starts_with("v1,")
        );
        assert_eq!(body, "<Response/>");
    }
}

#[tokio::test]
async fn redirects_fail_and_the_message_is_exhausted() {
    let (url, received) = receiver(vec![302], true).await;
    let store = store_with_callback(&url).await;
    let stop = CancellationToken::new();
    tokio::spawn(notifier(store.clone(), "127.0.0.0/8").run(stop.clone()));
    let message = wait_state(&store, "Exhausted").await;
    stop.cancel();
    assert_eq!(message.attempts, 4, "first attempt plus three retries");
    assert!(message.last_error.contains("302"), "{}", message.last_error);
    assert_eq!(
        received.0.lock().unwrap().len(),
        4,
        "the redirect was never followed"
    );
}

#[tokio::test]
async fn loopback_is_refused_without_the_allow_list() {
    let (url, received) = receiver(vec![200], false).await;
    let store = store_with_callback(&url).await;
    let stop = CancellationToken::new();
    tokio::spawn(notifier(store.clone(), "").run(stop.clone()));
    let message = wait_state(&store, "Exhausted").await;
    stop.cancel();
    assert!(
        message.last_error.contains("non-public"),
        "{}",
        message.last_error
    );
    assert!(received.0.lock().unwrap().is_empty());
}
