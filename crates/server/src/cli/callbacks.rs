//! The `callbacks` commands and how they print: tables for people, `--json` for scripts.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::output::Table;
use super::times::{TimeArg, display};
use super::{AdminClient, CallbacksCommand};

/// `callbacks list` filters.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this bucket.
    #[arg(long)]
    bucket: Option<String>,
    /// Only this workflow.
    #[arg(long)]
    workflow: Option<String>,
    /// Only this instance (RunId).
    #[arg(long)]
    run: Option<String>,
    /// Only this state: Pending, Sending, Delivered, Exhausted.
    #[arg(long)]
    state: Option<String>,
    /// Only this event: WorkflowFinish, TaskFinish.
    #[arg(long)]
    kind: Option<String>,
    /// Created at or after: RFC 3339, Unix seconds, or an age such as `30m`, `2h`, `1d`.
    #[arg(long)]
    since: Option<TimeArg>,
    /// Created before (same forms as `--since`).
    #[arg(long)]
    until: Option<TimeArg>,
    /// Continue after this message id (from the previous page).
    #[arg(long)]
    after: Option<String>,
    /// Page size (at most 1000).
    #[arg(long)]
    limit: Option<u32>,
}

/// `callbacks recover` range.
#[derive(Debug, Args)]
pub struct RecoverArgs {
    /// Created at or after: RFC 3339, Unix seconds, or an age such as `30m`, `2h`, `1d`.
    #[arg(long)]
    since: TimeArg,
    /// Created before (same forms as `--since`; default: now).
    #[arg(long)]
    until: Option<TimeArg>,
    /// Only this bucket.
    #[arg(long)]
    bucket: Option<String>,
    /// Only this workflow.
    #[arg(long)]
    workflow: Option<String>,
}

/// `callbacks secret …`.
#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Print the bucket's current signing secret (and the previous one during a rotation).
    Show {
        /// Bucket.
        #[arg(long)]
        bucket: String,
    },
    /// Make a new secret current; the old one keeps signing for the grace period.
    Rotate {
        /// Bucket.
        #[arg(long)]
        bucket: String,
        /// How long the old secret keeps signing (30m, 24h, …).
        #[arg(long, default_value = "24h")]
        grace: String,
        /// The new `whsec_…` secret (generated when absent).
        #[arg(long)]
        secret: Option<String>,
    },
}

pub(super) async fn run(client: &AdminClient, command: CallbacksCommand, raw: bool) -> Result<()> {
    let (body, print): (String, fn(&Value)) = match command {
        CallbacksCommand::List(args) => (list(client, args).await?, print_list),
        CallbacksCommand::Show { id } => (
            client.get(&format!("/callbacks/{id}"), &[]).await?,
            print_detail,
        ),
        CallbacksCommand::Redeliver { id } => {
            let path = format!("/callbacks/{id}/redeliver");
            (client.post(&path, &[], None).await?, print_redeliver)
        }
        CallbacksCommand::Recover(args) => (recover(client, args).await?, print_recover),
        CallbacksCommand::Secret(command) => (secret(client, command).await?, print_secret),
        CallbacksCommand::Metrics => {
            let text = client.get("/metrics", &[]).await?;
            if raw {
                super::output::print_json(&metrics_json(&text));
            } else {
                print!("{text}");
            }
            return Ok(());
        }
    };
    if raw {
        println!("{body}");
    } else {
        print(&parse(&body)?);
    }
    Ok(())
}

fn push(query: &mut Vec<(&'static str, String)>, name: &'static str, value: Option<String>) {
    if let Some(value) = value {
        query.push((name, value));
    }
}

async fn list(client: &AdminClient, args: ListArgs) -> Result<String> {
    let mut query = Vec::new();
    push(&mut query, "bucket", args.bucket);
    push(&mut query, "workflow", args.workflow);
    push(&mut query, "run", args.run);
    push(&mut query, "state", args.state);
    push(&mut query, "kind", args.kind);
    push(&mut query, "since", args.since.map(TimeArg::rfc3339));
    push(&mut query, "until", args.until.map(TimeArg::rfc3339));
    push(&mut query, "after", args.after);
    push(&mut query, "limit", args.limit.map(|l| l.to_string()));
    client.get("/callbacks", &query).await
}

fn print_list(page: &Value) {
    print!("{}", list_table(page).render());
    if let Some(next) = page["next_after"].as_str() {
        println!("(more: --after {next})");
    }
}

fn list_table(page: &Value) -> Table {
    let mut table =
        Table::new(&["ID", "STATE", "ATTEMPTS", "STATUS", "CREATED", "URL"]).right_aligned(&[2, 3]);
    for m in page["callbacks"].as_array().into_iter().flatten() {
        table.row(vec![
            text(&m["id"]),
            text(&m["state"]),
            text(&m["attempt_count"]),
            text(&m["last_status"]),
            display(&text(&m["created_at"])),
            text(&m["url"]),
        ]);
    }
    table
}

fn print_redeliver(m: &Value) {
    println!(
        "{} queued for redelivery (round {})",
        text(&m["id"]),
        m["round"]
    );
}

async fn recover(client: &AdminClient, args: RecoverArgs) -> Result<String> {
    let mut query = vec![("since", args.since.rfc3339())];
    push(&mut query, "until", args.until.map(TimeArg::rfc3339));
    push(&mut query, "bucket", args.bucket);
    push(&mut query, "workflow", args.workflow);
    client.post("/callbacks/recover", &query, None).await
}

fn print_recover(result: &Value) {
    println!(
        "{} exhausted message(s) queued for redelivery",
        result["recovered"]
    );
    for id in result["ids"].as_array().into_iter().flatten() {
        println!("  {}", text(id));
    }
}

async fn secret(client: &AdminClient, command: SecretCommand) -> Result<String> {
    match command {
        SecretCommand::Show { bucket } => {
            client
                .get(&format!("/buckets/{bucket}/callback-secret"), &[])
                .await
        }
        SecretCommand::Rotate {
            bucket,
            grace,
            secret,
        } => {
            let request = json!({"grace": grace, "secret": secret});
            let path = format!("/buckets/{bucket}/callback-secret/rotate");
            client.post(&path, &[], Some(&request)).await
        }
    }
}

fn print_secret(info: &Value) {
    println!("bucket:   {}", text(&info["bucket"]));
    println!("secret:   {}", text(&info["secret"]));
    println!("source:   {}", text(&info["source"]));
    if let Some(previous) = info["previous"].as_str() {
        println!(
            "previous: {previous} (valid until {})",
            text(&info["previous_valid_until"])
        );
    }
}

fn print_detail(m: &Value) {
    print!("{}", detail_text(m));
}

/// A message's fields, body and delivery attempts as text.
fn detail_text(m: &Value) -> String {
    let mut fields = Table::new(&["FIELD", "VALUE"]);
    for key in [
        "id",
        "kind",
        "state",
        "bucket",
        "workflow_id",
        "run_id",
        "job_id",
        "url",
        "round",
        "attempt_count",
        "created_at",
        "next_attempt_at",
        "delivered_at",
        "last_error",
    ] {
        let value = match key {
            "created_at" | "next_attempt_at" | "delivered_at" => display(&text(&m[key])),
            _ => text(&m[key]),
        };
        fields.row(vec![key.to_owned(), value]);
    }
    // The field names without the header row.
    let mut out: String = fields
        .render()
        .lines()
        .skip(1)
        .map(|l| format!("{l}\n"))
        .collect();
    out.push_str(&format!("body:\n{}\n\n", text(&m["body"])));
    let mut attempts = Table::new(&[
        "#", "ROUND", "TRIGGER", "STARTED", "MS", "STATUS", "VERDICT", "ERROR",
    ])
    .right_aligned(&[0, 1, 4, 5]);
    for a in m["attempts"].as_array().into_iter().flatten() {
        attempts.row(vec![
            text(&a["number"]),
            text(&a["round"]),
            text(&a["trigger"]),
            display(&text(&a["started_at"])),
            text(&a["duration_ms"]),
            text(&a["status"]),
            text(&a["verdict"]),
            text(&a["error"]),
        ]);
    }
    out.push_str(&attempts.render());
    out
}

fn parse(body: &str) -> Result<Value> {
    serde_json::from_str(body).context("the server answered something that is not JSON")
}

/// A JSON scalar as plain text (`-` for null).
fn text(value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::String(s) if s.is_empty() => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Prometheus text as JSON: `{"samples": [{"name", "labels": {…}, "value"}], "text": …}`
/// (the text kept for anything the parse leaves out).
pub fn metrics_json(text: &str) -> serde_json::Value {
    let samples: Vec<serde_json::Value> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let value: f64 = value.parse().ok()?;
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.strip_suffix('}').unwrap_or(rest)),
                None => (series, ""),
            };
            let mut map = serde_json::Map::new();
            for pair in split_labels(labels) {
                if let Some((k, v)) = pair.split_once('=') {
                    let v = v.trim().trim_matches('"').replace("\\\"", "\"");
                    map.insert(k.trim().to_owned(), serde_json::Value::String(v));
                }
            }
            Some(serde_json::json!({"name": name, "labels": map, "value": value}))
        })
        .collect();
    serde_json::json!({"samples": samples, "text": text})
}

/// `a="x",b="y,z"` split on the commas outside quotes.
fn split_labels(labels: &str) -> Vec<&str> {
    let (mut out, mut start, mut quoted, mut escaped) = (Vec::new(), 0, false, false);
    for (i, c) in labels.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&labels[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < labels.len() {
        out.push(&labels[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where each column starts on `line`, in terminal columns: after a run of 2+ spaces.
    fn starts(line: &str) -> Vec<usize> {
        let mut out = vec![0];
        let (mut col, mut spaces) = (0, 0);
        for c in line.chars() {
            if c == ' ' {
                spaces += 1;
            } else {
                if spaces >= 2 {
                    out.push(col);
                }
                spaces = 0;
            }
            col += super::super::output::width(c.encode_utf8(&mut [0; 4]));
        }
        out
    }

    #[test]
    fn callback_tables_line_up_with_their_headers() {
        let page = json!({"callbacks": [
            {"id": "msg_i1_workflowfinish", "state": "Delivered", "attempt_count": 1,
             "last_status": 200, "created_at": "2026-12-01T00:47:34.123Z", "url": "http://h/视频"},
            {"id": "msg_i22_taskfinish", "state": "Exhausted", "attempt_count": 12,
             "last_status": null, "created_at": "2026-12-01T08:47:35+08:00", "url": "http://h/b"},
        ]});
        let text = list_table(&page).render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        // ATTEMPTS and STATUS are right-aligned: their header and cells end together.
        let header = lines[0];
        for line in &lines[1..] {
            assert_eq!(starts(line).len(), 6, "{text}");
            let (h, l) = (starts(header), starts(line));
            for column in [0, 1, 4, 5] {
                assert_eq!(h[column], l[column], "column {column}:\n{text}");
            }
        }
        assert!(text.contains("2026-12-01T00:47:34Z") && text.contains("2026-12-01T00:47:35Z"));
        let detail = detail_text(&json!({
            "id": "msg_x", "created_at": "2026-12-01T00:47:34Z", "body": "<x/>",
            "attempts": [{"number": 1, "round": 1, "trigger": "schedule",
                "started_at": "2026-12-01T00:47:34.5Z", "duration_ms": 12345, "status": 500,
                "verdict": "retry", "error": "HTTP 500"}],
        }));
        let rows: Vec<&str> = detail.lines().skip_while(|l| !l.starts_with('#')).collect();
        assert_eq!(rows.len(), 2, "{detail}");
        assert_eq!(starts(rows[0])[3], starts(rows[1])[3], "{detail}");
        assert_eq!(
            rows[0].find("MS").map(|i| i + 2),
            rows[1].find("12345").map(|i| i + 5)
        );
    }
}
