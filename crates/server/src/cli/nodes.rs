//! `reelflow nodes`: the processes sharing the server's database, one line each.

use anyhow::{Context, Result};
use serde_json::Value;

use super::AdminClient;

/// Prints `GET /_reelflow/v1/nodes` as a table, or as it came with `raw`.
pub(super) async fn run(client: &AdminClient, raw: bool) -> Result<()> {
    let body = client.get("/nodes", &[]).await?;
    if raw {
        println!("{body}");
        return Ok(());
    }
    let page: Value =
        serde_json::from_str(&body).context("the server answered something that is not JSON")?;
    println!(
        "{:<34} {:<7} {:<8} {:<20} {:>8} {:>6} {:>10} {:>9} {:>10}",
        "NODE", "ROLE", "STATE", "HOST", "PID", "TASKS", "CALLBACKS", "DONE", "HEARTBEAT"
    );
    for n in page["nodes"].as_array().into_iter().flatten() {
        let text = |name: &str| n[name].as_str().unwrap_or("").to_owned();
        let int = |name: &str| n[name].as_u64().unwrap_or(0);
        println!(
            "{:<34} {:<7} {:<8} {:<20} {:>8} {:>6} {:>10} {:>9} {:>9}s",
            text("id"),
            text("role"),
            text("state"),
            text("hostname"),
            int("pid"),
            int("tasks_held"),
            int("callbacks_held"),
            n["metrics"]["tasks_succeeded"].as_u64().unwrap_or(0),
            int("heartbeat_age_ms") / 1000,
        );
    }
    Ok(())
}
