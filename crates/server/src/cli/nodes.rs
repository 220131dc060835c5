//! `reelflow nodes`: the processes sharing the server's database, one line each.

use anyhow::{Context, Result};
use serde_json::Value;

use super::AdminClient;
use super::output::Table;

/// Prints `GET /_reelflow/v1/nodes` as a table, or as it came with `raw`.
pub(super) async fn run(client: &AdminClient, raw: bool) -> Result<()> {
    let body = client.get("/nodes", &[]).await?;
    if raw {
        println!("{body}");
        return Ok(());
    }
    let page: Value =
        serde_json::from_str(&body).context("the server answered something that is not JSON")?;
    let mut table = Table::new(&[
        "NODE",
        "ROLE",
        "STATE",
        "HOST",
        "PID",
        "TASKS",
        "CALLBACKS",
        "DONE",
        "HEARTBEAT",
    ])
    .right_aligned(&[4, 5, 6, 7, 8]);
    for n in page["nodes"].as_array().into_iter().flatten() {
        let text = |name: &str| n[name].as_str().unwrap_or("").to_owned();
        let int = |name: &str| n[name].as_u64().unwrap_or(0);
        table.row(vec![
            text("id"),
            text("role"),
            text("state"),
            text("hostname"),
            int("pid").to_string(),
            int("tasks_held").to_string(),
            int("callbacks_held").to_string(),
            n["metrics"]["tasks_succeeded"]
                .as_u64()
                .unwrap_or(0)
                .to_string(),
            format!("{}s", int("heartbeat_age_ms") / 1000),
        ]);
    }
    table.print();
    Ok(())
}
