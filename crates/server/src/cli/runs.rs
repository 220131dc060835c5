//! `runs ls/show/watch`: workflow executions (`/workflowexecution`).
//!
//! `watch` polls the run once a second. On a terminal it redraws the run's task table in place
//! until the run ends; elsewhere it prints one line per task state change. It exits 0 when the
//! run ends `Success` and [`EXIT_RUN_FAILED`](super::command::EXIT_RUN_FAILED) when it ends
//! `Failed` or `Cancel`.

use std::io::Write as _;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use reelflow_model::XmlElement;
use serde_json::{Value, json};

use super::command::{Outcome, Session};
use super::cos::leaf;
use super::output::{Table, cut_to_width, interactive, print_json, width};
use super::times::{TimeArg, display};
use super::xmljson::answer_json;

/// `reelflow runs …`.
#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// List runs, newest first (every workflow of the bucket unless `--workflow`).
    Ls(LsArgs),
    /// Show one run and its tasks.
    Show {
        /// RunId (`i…`).
        id: String,
    },
    /// Follow a run until it ends; exit status 3 when it ends Failed or Cancel.
    Watch {
        /// RunId (`i…`).
        id: String,
        /// Give up (exit 1) after this many seconds.
        #[arg(long)]
        timeout: Option<u64>,
    },
}

/// `runs ls` filters.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only this workflow.
    #[arg(short, long)]
    workflow: Option<String>,
    /// Only these states (comma list: Running, Success, Failed, Cancel).
    #[arg(long)]
    state: Option<String>,
    /// Created at or after: RFC 3339, Unix seconds, or an age such as `30m`, `2h`, `1d`.
    #[arg(long)]
    since: Option<TimeArg>,
    /// Created before (same forms as `--since`).
    #[arg(long)]
    until: Option<TimeArg>,
    /// At most this many runs.
    #[arg(long, default_value_t = 20)]
    limit: usize,
}

/// Lists that are arrays in JSON even with one entry.
const LISTS: &[&str] = &["Tasks", "WorkflowExecutionList", "ObjectInfo"];

/// Runs one `runs` command on `bucket`.
pub async fn run(session: &Session, bucket: &str, command: RunsCommand) -> Result<Outcome> {
    match command {
        RunsCommand::Ls(args) => list(session, bucket, args).await,
        RunsCommand::Show { id } => {
            let run = fetch(session, bucket, &id).await?;
            if session.json() {
                print_json(&answer_json(&run.to_xml(), LISTS)?);
            } else {
                print!("{}", render(&run));
            }
            Ok(Outcome::Ok)
        }
        RunsCommand::Watch { id, timeout } => watch(session, bucket, &id, timeout).await,
    }
}

/// `GET /workflowexecution/<id>`: the `WorkflowExecution` element.
pub async fn fetch(session: &Session, bucket: &str, id: &str) -> Result<XmlElement> {
    let doc = session
        .cos
        .ci_get(bucket, &format!("/workflowexecution/{id}"), &[])
        .await?;
    doc.child("WorkflowExecution")
        .cloned()
        .with_context(|| format!("no WorkflowExecution in the answer for {id}"))
}

async fn list(session: &Session, bucket: &str, args: LsArgs) -> Result<Outcome> {
    let workflows = match &args.workflow {
        Some(w) => vec![w.clone()],
        None => workflow_ids(session, bucket).await?,
    };
    let mut query = vec![("size", args.limit.clamp(1, 100).to_string())];
    if let Some(states) = &args.state {
        query.push(("states", states.clone()));
    }
    if let Some(since) = args.since {
        query.push(("startCreationTime", since.ci()));
    }
    if let Some(until) = args.until {
        query.push(("endCreationTime", until.ci()));
    }
    let mut runs: Vec<XmlElement> = Vec::new();
    for workflow in workflows {
        let mut q = query.clone();
        q.push(("workflowId", workflow));
        let doc = session.cos.ci_get(bucket, "/workflowexecution", &q).await?;
        runs.extend(doc.children_named("WorkflowExecutionList").cloned());
    }
    // RunIds are time-ordered, so their order is the creation order.
    runs.sort_by(|a, b| leaf(b, "RunId").cmp(leaf(a, "RunId")));
    runs.truncate(args.limit);
    if session.json() {
        let list: Vec<Value> = runs.iter().filter_map(|r| r.json_value(&[])).collect();
        print_json(&json!({ "runs": list }));
        return Ok(Outcome::Ok);
    }
    let mut table = Table::new(&["RUN ID", "WORKFLOW ID", "STATE", "CREATED", "OBJECT"]);
    for r in &runs {
        table.row(vec![
            leaf(r, "RunId").to_owned(),
            leaf(r, "WorkflowId").to_owned(),
            leaf(r, "State").to_owned(),
            display(leaf(r, "CreateTime")),
            leaf(r, "Object").to_owned(),
        ]);
    }
    table.print();
    Ok(Outcome::Ok)
}

async fn workflow_ids(session: &Session, bucket: &str) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    for page in 1.. {
        let query = [("pageNumber", page.to_string()), ("pageSize", "100".into())];
        let doc = session.cos.ci_get(bucket, "/workflow", &query).await?;
        let before = ids.len();
        ids.extend(
            doc.children_named("MediaWorkflowList")
                .map(|w| leaf(w, "WorkflowId").to_owned()),
        );
        let total: usize = leaf(&doc, "TotalCount").parse().unwrap_or(0);
        if ids.len() >= total || ids.len() == before {
            return Ok(ids);
        }
    }
    Ok(ids)
}

/// A run and its tasks as text.
pub fn render(run: &XmlElement) -> String {
    let mut out = format!(
        "run {}  {}  workflow {} ({})  object {}\n",
        leaf(run, "RunId"),
        leaf(run, "State"),
        leaf(run, "WorkflowId"),
        leaf(run, "WorkflowName"),
        leaf(run, "Object"),
    );
    let mut table = Table::new(&[
        "TASK", "TYPE", "STATE", "PROGRESS", "STARTED", "ENDED", "OUTPUTS", "MESSAGE",
    ]);
    for t in run.children_named("Tasks") {
        let outputs = t
            .child("ResultInfo")
            .map(|r| leaf(r, "ObjectCount").to_owned())
            .unwrap_or_default();
        let message = match leaf(t, "Code") {
            "" | "Success" => String::new(),
            code => format!("{code}: {}", short(leaf(t, "Message"), 60)),
        };
        table.row(vec![
            leaf(t, "Name").to_owned(),
            leaf(t, "Type").to_owned(),
            leaf(t, "State").to_owned(),
            format!("{}%", leaf(t, "Progress")),
            display(leaf(t, "StartTime")),
            display(leaf(t, "EndTime")),
            outputs,
            message,
        ]);
    }
    out.push_str(&table.render());
    // Where each task wrote, as `get` takes it.
    let mut outputs = Table::new(&["OUTPUT OF", "OBJECT"]);
    let mut any = false;
    for t in run.children_named("Tasks") {
        for o in t
            .child("ResultInfo")
            .into_iter()
            .flat_map(|r| r.children_named("ObjectInfo"))
        {
            any = true;
            outputs.row(vec![
                leaf(t, "Name").to_owned(),
                format!("cos://{}", leaf(o, "ObjectUrl")),
            ]);
        }
    }
    if any {
        out.push('\n');
        out.push_str(&outputs.render());
    }
    out
}

fn short(text: &str, max: usize) -> String {
    let first = text.lines().next().unwrap_or("");
    if width(first) <= max {
        return first.to_owned();
    }
    cut_to_width(first, max).to_owned() + "…"
}

/// Whether a run (or task) state is final.
pub fn terminal(state: &str) -> bool {
    matches!(state, "Success" | "Failed" | "Cancel")
}

/// Follows run `id` until it ends (see the module docs).
pub async fn watch(
    session: &Session,
    bucket: &str,
    id: &str,
    timeout: Option<u64>,
) -> Result<Outcome> {
    let run = follow(session, bucket, id, timeout, !session.json()).await?;
    if session.json() {
        print_json(&answer_json(&run.to_xml(), LISTS)?);
    }
    Ok(outcome_of(&run))
}

/// [`Outcome::Ok`] for a run that ended `Success`, else [`Outcome::RunFailed`].
pub fn outcome_of(run: &XmlElement) -> Outcome {
    match leaf(run, "State") {
        "Success" => Outcome::Ok,
        _ => Outcome::RunFailed,
    }
}

/// Polls run `id` once a second until it ends and returns it; with `show`, draws it live on a
/// terminal, else prints state changes and the final table.
pub async fn follow(
    session: &Session,
    bucket: &str,
    id: &str,
    timeout: Option<u64>,
    show: bool,
) -> Result<XmlElement> {
    let deadline = timeout.map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
    let live = show && interactive(session.output);
    let (mut drawn_lines, mut seen) = (0, Vec::new());
    // Transient failures (connection refused or reset while the server restarts, 502/503/504
    // from a proxy, 5xx) are retried with a doubling pause, for up to RETRY_FOR since the last
    // answer; anything else (404, 403, …) ends the watch at once.
    let mut failing_since: Option<tokio::time::Instant> = None;
    let mut pause = Duration::from_millis(500);
    loop {
        let run = match fetch(session, bucket, id).await {
            Ok(run) => {
                if failing_since.take().is_some() {
                    eprintln!("reconnected");
                }
                pause = Duration::from_millis(500);
                run
            }
            Err(e) if transient(&e) => {
                let since = *failing_since.get_or_insert_with(tokio::time::Instant::now);
                if since.elapsed() >= RETRY_FOR {
                    return Err(e.context(format!(
                        "gave up following run {id} after {} s of errors",
                        RETRY_FOR.as_secs()
                    )));
                }
                if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                    return Err(e.context(format!("run {id}: timeout while retrying")));
                }
                eprintln!("{e:#}; retrying in {:.1} s", pause.as_secs_f32());
                drawn_lines = 0; // the message moved the cursor: draw below it
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(8));
                continue;
            }
            Err(e) => return Err(e),
        };
        let done = terminal(leaf(&run, "State"));
        if live {
            // Cut to the width while redrawing; the last draw stays, so it is whole.
            let text = match done {
                true => render(&run),
                false => fit_to_terminal(&render(&run)),
            };
            if drawn_lines > 0 {
                print!("\x1b[{drawn_lines}A\x1b[J");
            }
            print!("{text}");
            let _ = std::io::stdout().flush();
            drawn_lines = text.lines().count();
        } else if show {
            print_changes(&run, &mut seen);
        }
        if done {
            if show && !live {
                print!("{}", render(&run));
            }
            return Ok(run);
        }
        if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
            bail!(
                "run {id} is still {} after the timeout",
                leaf(&run, "State")
            );
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// How long `runs watch` keeps retrying a server that does not answer.
const RETRY_FOR: Duration = Duration::from_secs(60);

/// Whether a failed request may succeed when tried again: no answer at all (connection
/// refused, reset, timed out) or a server-side status (5xx).
fn transient(error: &anyhow::Error) -> bool {
    match super::cos::status_of(error) {
        Some(status) => status >= 500,
        None => error
            .chain()
            .any(|e| e.downcast_ref::<reqwest::Error>().is_some()),
    }
}

/// `text` with each line cut to the terminal's width, so that redrawing in place (cursor up
/// one row per line) never leaves wrapped rows behind.
fn fit_to_terminal(text: &str) -> String {
    let width = usize::from(console::Term::stdout().size().1).max(20) - 1;
    text.lines()
        .map(|line| cut_to_width(line, width).to_owned() + "\n")
        .collect()
}

/// Prints one line for the run and each task whose state differs from `seen`.
fn print_changes(run: &XmlElement, seen: &mut Vec<(String, String)>) {
    let mut now = vec![("run".to_owned(), leaf(run, "State").to_owned())];
    now.extend(
        run.children_named("Tasks")
            .map(|t| (leaf(t, "Name").to_owned(), leaf(t, "State").to_owned())),
    );
    for (name, state) in &now {
        if !seen.iter().any(|(n, s)| n == name && s == state) {
            println!("{name}: {state}");
        }
    }
    *seen = now;
}
