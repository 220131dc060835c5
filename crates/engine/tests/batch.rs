//! Batch triggers through the engine (no HTTP): a paused queue holds a batch in `Pause` with
//! nothing submitted; once resumed, the batch runs every object exactly once and never keeps
//! more than `REELFLOW_BATCH_MAX_IN_FLIGHT` of its instances unfinished.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use reelflow_engine::BatchLimits;
use reelflow_model::XmlElement;
use reelflow_model::batch::BatchState;
use reelflow_store::BatchRecord;

const MEDIAINFO: &str = "<MediaInfo_1><Type>MediaInfo</Type></MediaInfo_1>";
const DEPS: &str = "<Start>MediaInfo_1</Start><MediaInfo_1>End</MediaInfo_1>";

async fn batch_harness(batch_limits: BatchLimits) -> Harness {
    harness_setup(Setup {
        batch_limits,
        ..Setup::default()
    })
    .await
}

async fn batch_state(h: &Harness, id: &str) -> BatchRecord {
    h.store.get_batch(id).await.unwrap().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_queue_holds_the_batch_then_every_object_runs_once_within_the_window() {
    let h = batch_harness(BatchLimits {
        max_in_flight: 2,
        page_size: 2,
    })
    .await;
    let clip = h.clip(1);
    let keys: Vec<String> = (0..7).map(|i| format!("in/{i}.mp4")).collect();
    for k in &keys {
        assert!(h.upload(k, &clip).await.is_empty(), "no workflow yet");
    }
    let wf = h.workflow(DEPS, MEDIAINFO).await;
    let mut queue = h.store.default_queue(BUCKET, 2, 1).await.unwrap();
    queue.active = false;
    h.store.save_queue(&queue).await.unwrap();

    let request = format!(
        "<Request><Name>engine</Name><Input><Prefix>in/</Prefix></Input>\
         <Operation><WorkflowIds>{wf}</WorkflowIds></Operation></Request>"
    );
    let request = XmlElement::parse(request.as_bytes()).unwrap();
    let batch = h.engine.create_batch(BUCKET, &request).await.unwrap();
    for _ in 0..300 {
        if batch_state(&h, &batch.id).await.state == BatchState::Pause {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(batch_state(&h, &batch.id).await.state, BatchState::Pause);
    assert_eq!(
        h.store.batch_progress(&batch.id).await.unwrap().submitted,
        0
    );

    queue.active = true;
    h.store.save_queue(&queue).await.unwrap();
    h.engine.wake();
    let mut most_in_flight = 0;
    let end = loop {
        let p = h.store.batch_progress(&batch.id).await.unwrap();
        most_in_flight = most_in_flight.max(p.running);
        let b = batch_state(&h, &batch.id).await;
        if b.state.is_terminal() {
            break b;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(end.state, BatchState::Success, "{end:?}");
    assert_eq!((end.total, end.listing_done), (7, true));
    assert!(most_in_flight <= 2, "{most_in_flight} instances in flight");
    let items = h.store.batch_items(&batch.id, None, 100).await.unwrap();
    let objects: HashSet<&str> = items.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(items.len(), 7);
    assert_eq!(objects, keys.iter().map(String::as_str).collect());
    for item in &items {
        let (instance, _) = h.wait_run(&item.run_id).await;
        assert_eq!(instance.object, item.key);
    }
}
