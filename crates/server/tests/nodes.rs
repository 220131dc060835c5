//! The node registry seen through the API: `GET /_reelflow/v1/nodes` and the per-node series
//! of `/_reelflow/v1/metrics`, for one process on SQLite and for an API process plus a worker
//! on PostgreSQL.

mod common;

use common::{Db, TestApp, drop_postgres, fresh_postgres};
use reelflow::config::Role;
use serde_json::Value;

fn by_role(nodes: &Value, role: &str) -> Value {
    nodes["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["role"] == role)
        .unwrap_or_else(|| panic!("no {role} node in {nodes:#}"))
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_lists_itself_alive_then_stopped_then_alive_again() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::spawn(dir.path(), &Db::Sqlite, Role::All).await;
    let nodes = app.get_json("/nodes").await;
    assert_eq!(nodes["nodes"].as_array().unwrap().len(), 1, "{nodes:#}");
    let me = by_role(&nodes, "all");
    assert_eq!(me["state"], "Alive");
    assert_eq!(me["pid"], std::process::id());
    assert_eq!(me["workers"], 2);
    assert_eq!(me["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(me["tasks_held"], 0);
    assert!(me["heartbeat_age_ms"].as_i64().unwrap() < 15_000);
    let id = me["id"].as_str().unwrap().to_owned();
    let metrics = app.get_text("/metrics").await;
    assert!(
        metrics.contains(&format!("reelflow_node_up{{node=\"{id}\",role=\"all\"}} 1")),
        "{metrics}"
    );
    app.stop().await.unwrap();

    // The same data directory is the same node; it registers again at start.
    let app = TestApp::spawn(dir.path(), &Db::Sqlite, Role::All).await;
    let again = by_role(&app.get_json("/nodes").await, "all");
    assert_eq!(
        (again["id"].as_str(), again["state"].as_str()),
        (Some(id.as_str()), Some("Alive"))
    );
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_process_lists_a_worker_and_sees_its_graceful_stop() {
    let Some(url) = fresh_postgres().await else {
        return;
    };
    let db = Db::Postgres(url.clone());
    let (api_dir, worker_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let api = TestApp::spawn(api_dir.path(), &db, Role::Api).await;
    // Same credentials for both, as a deployment shares its key pair.
    std::fs::copy(
        api_dir.path().join("credentials"),
        worker_dir.path().join("credentials"),
    )
    .unwrap();
    let worker = TestApp::spawn(worker_dir.path(), &db, Role::Worker).await;
    let nodes = api.get_json("/nodes").await;
    assert_eq!(nodes["nodes"].as_array().unwrap().len(), 2, "{nodes:#}");
    assert_eq!(by_role(&nodes, "api")["workers"], 0);
    assert_eq!(by_role(&nodes, "worker")["state"], "Alive");
    worker.stop().await.unwrap();
    let gone = by_role(&api.get_json("/nodes").await, "worker");
    assert_eq!(gone["state"], "Stopped", "{gone:#}");
    assert!(gone["stopped_at"].is_string());
    api.stop().await.unwrap();
    drop_postgres(&url).await;
}
