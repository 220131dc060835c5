//! The node registry: registration, heartbeats, graceful stops, and what each node holds.

use std::sync::Arc;

use reelflow_model::node::{NodeMetrics, NodeRole};
use reelflow_store::*;

use crate::support::*;

fn info(id: &str, role: NodeRole) -> NodeInfo {
    NodeInfo {
        id: id.to_owned(),
        role,
        version: "0.1.0".to_owned(),
        hostname: "host-a".to_owned(),
        pid: 4242,
        listen: "127.0.0.1:9600".to_owned(),
        workers: 2,
    }
}

pub async fn nodes_register_beat_stop_and_restart(store: Arc<dyn Store>) {
    assert!(store.list_nodes().await.unwrap().is_empty());
    store
        .register_node(&info("n-b", NodeRole::Worker), 1_000)
        .await
        .unwrap();
    store
        .register_node(&info("n-a", NodeRole::Api), 1_500)
        .await
        .unwrap();
    let metrics = NodeMetrics {
        tasks_claimed: 3,
        tasks_succeeded: 2,
        callbacks_delivered: 1,
        ..NodeMetrics::default()
    };
    assert!(store.node_heartbeat("n-b", 6_000, &metrics).await.unwrap());
    assert!(
        !store
            .node_heartbeat("ghost", 6_000, &metrics)
            .await
            .unwrap(),
        "an unregistered node is told so"
    );
    let nodes = store.list_nodes().await.unwrap();
    let ids: Vec<_> = nodes.iter().map(|n| n.info.id.as_str()).collect();
    assert_eq!(ids, ["n-a", "n-b"], "listed by id");
    let b = &nodes[1];
    assert_eq!(b.info, info("n-b", NodeRole::Worker));
    assert_eq!(
        (b.started_ms, b.heartbeat_ms, b.stopped_ms),
        (1_000, 6_000, None)
    );
    assert_eq!(b.metrics, metrics);

    store.node_stopped("n-b", 7_000, &metrics).await.unwrap();
    let b = store.list_nodes().await.unwrap().remove(1);
    assert_eq!(b.stopped_ms, Some(7_000));
    // A restart of the same data directory replaces the description and clears the stop.
    let mut again = info("n-b", NodeRole::All);
    again.pid = 7;
    store.register_node(&again, 9_000).await.unwrap();
    let b = store.list_nodes().await.unwrap().remove(1);
    assert_eq!(b.info, again);
    assert_eq!(
        (b.started_ms, b.heartbeat_ms, b.stopped_ms),
        (9_000, 9_000, None)
    );
    assert_eq!(b.metrics, NodeMetrics::default(), "counters start again");
}

pub async fn nodes_show_the_tasks_they_hold(store: Arc<dyn Store>) {
    store
        .register_node(&info("n-1", NodeRole::Worker), 1)
        .await
        .unwrap();
    store
        .register_node(&info("n-2", NodeRole::Worker), 1)
        .await
        .unwrap();
    store.create_run(&parallel_run("r1", 3)).await.unwrap();
    store.claim_task("n-1", 10, 100).await.unwrap().unwrap();
    store.claim_task("n-1", 10, 100).await.unwrap().unwrap();
    let done = store.claim_task("n-2", 10, 100).await.unwrap().unwrap();
    store
        .finish_task(
            &done.job_id,
            "n-2",
            &success(),
            &end_when_all_final,
            &no_callbacks,
        )
        .await
        .unwrap();
    let held: Vec<_> = store
        .list_nodes()
        .await
        .unwrap()
        .iter()
        .map(|n| (n.info.id.clone(), n.tasks_held, n.callbacks_held))
        .collect();
    assert_eq!(held, [("n-1".to_owned(), 2, 0), ("n-2".to_owned(), 0, 0)]);
    // A lost node's leases are swept back; it then holds nothing.
    store.requeue_stale(1_000, None, false).await.unwrap();
    assert_eq!(store.list_nodes().await.unwrap()[0].tasks_held, 0);
}
