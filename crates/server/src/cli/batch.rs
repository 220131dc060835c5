//! `batch create/ls/show/cancel`: batch triggers (inventory trigger jobs,
//! `crates/api/src/ci/inventory.rs`) that run a workflow or a job for objects already stored.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use reelflow_model::XmlElement;
use reqwest::Method;

use super::command::{Outcome, Session, usage};
use super::cos::leaf;
use super::output::{Table, print_json};
use super::times::display;
use super::xmljson::{answer_json, read_request};

/// `reelflow batch …`.
#[derive(Debug, Subcommand)]
pub enum BatchCommand {
    /// Create a batch: a request file (`-f batch.xml|batch.json`) or
    /// `--name/--workflow/--prefix` (or `--object`).
    Create(CreateArgs),
    /// List batches, newest first.
    Ls(LsArgs),
    /// Show one batch with its statistics and first results.
    Show {
        /// Batch id (`b…`).
        id: String,
    },
    /// Cancel a batch: nothing more is submitted, unstarted tasks are cancelled.
    Cancel {
        /// Batch id (`b…`).
        id: String,
    },
}

/// `batch create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The request body (`<Request><Name>…`), XML or the same shape in JSON.
    #[arg(short, long, conflicts_with_all = ["name", "workflow"])]
    file: Option<PathBuf>,
    /// The batch's name.
    #[arg(long)]
    name: Option<String>,
    /// WorkflowId(s) to run for each object (comma list).
    #[arg(short, long)]
    workflow: Option<String>,
    /// Every object under this prefix (`/` for the whole bucket).
    #[arg(long, conflicts_with = "object")]
    prefix: Option<String>,
    /// This one object.
    #[arg(long)]
    object: Option<String>,
}

/// `batch ls` filters.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only batches running this workflow.
    #[arg(short, long)]
    workflow: Option<String>,
    /// Only these states (comma list: Submitted, Running, Success, Failed, Pause, Cancel).
    #[arg(long)]
    state: Option<String>,
    /// Page size (at most 100).
    #[arg(long, default_value_t = 20)]
    limit: u32,
}

const LISTS: &[&str] = &["JobsDetail", "Result", "NonExistJobIds"];

/// Runs one `batch` command on `bucket`.
pub async fn run(session: &Session, bucket: &str, command: BatchCommand) -> Result<Outcome> {
    let cos = &session.cos;
    let doc = match command {
        BatchCommand::Create(args) => {
            let body = create_body(&args)?;
            cos.ci(
                Method::POST,
                bucket,
                "/inventorytriggerjob",
                &[],
                Some(body),
            )
            .await?
        }
        BatchCommand::Ls(args) => {
            let mut q = vec![("size", args.limit.to_string())];
            q.extend(args.workflow.map(|w| ("workflowId", w)));
            q.extend(args.state.map(|s| ("states", s)));
            Some(cos.ci_get(bucket, "/inventorytriggerjob", &q).await?)
        }
        BatchCommand::Show { id } => {
            let doc = cos
                .ci_get(bucket, &format!("/inventorytriggerjob/{id}"), &[])
                .await?;
            if doc.child("JobsDetail").is_none() {
                bail!("batch {id} does not exist in bucket {bucket}");
            }
            Some(doc)
        }
        BatchCommand::Cancel { id } => {
            let path = format!("/inventorytriggerjob/{id}");
            let now = cos.ci_get(bucket, &path, &[]).await?;
            let Some(detail) = now.child("JobsDetail") else {
                bail!("batch {id} does not exist in bucket {bucket}");
            };
            let state = leaf(detail, "State");
            if matches!(state, "Success" | "Failed" | "Cancel") {
                bail!("batch {id} already ended ({state}): nothing to cancel");
            }
            cos.ci(
                Method::PUT,
                bucket,
                &path,
                &[("cancel", String::new())],
                None,
            )
            .await?;
            if session.json() {
                print_json(&serde_json::json!({"cancelled": id}));
            } else {
                println!("batch {id} cancelled");
            }
            return Ok(Outcome::Ok);
        }
    };
    let doc = doc.context("the server answered an empty body")?;
    if session.json() {
        print_json(&answer_json(&doc.to_xml(), LISTS)?);
    } else {
        print_table(&doc);
    }
    Ok(Outcome::Ok)
}

fn create_body(args: &CreateArgs) -> Result<String> {
    if let Some(file) = &args.file {
        return read_request(file, None);
    }
    let (Some(name), Some(workflow)) = (&args.name, &args.workflow) else {
        return usage("give -f FILE, or --name and --workflow with --prefix or --object");
    };
    let input = match (&args.prefix, &args.object) {
        (_, Some(object)) => XmlElement::new("Input").with_leaf("Object", object),
        (Some(prefix), None) => XmlElement::new("Input").with_leaf("Prefix", prefix),
        (None, None) => return usage("which objects? give --prefix or --object"),
    };
    Ok(XmlElement::new("Request")
        .with_leaf("Name", name)
        .with_leaf("Type", "Workflow")
        .with(input)
        .with(XmlElement::new("Operation").with_leaf("WorkflowIds", workflow))
        .to_xml())
}

fn print_table(doc: &XmlElement) {
    let mut table = Table::new(&[
        "BATCH ID",
        "NAME",
        "STATE",
        "PROGRESS",
        "TOTAL",
        "SUBMITTED",
        "OK",
        "FAILED",
        "RUNNING",
        "CREATED",
    ]);
    for b in doc.children_named("JobsDetail") {
        let stat = |n: &str| {
            b.child("Statistics")
                .map(|s| leaf(s, n))
                .unwrap_or("")
                .to_owned()
        };
        table.row(vec![
            leaf(b, "JobId").to_owned(),
            leaf(b, "Name").to_owned(),
            leaf(b, "State").to_owned(),
            format!("{}%", leaf(b, "Progress")),
            stat("Total"),
            stat("Submitted"),
            stat("Succeeded"),
            stat("Failed"),
            stat("Running"),
            display(leaf(b, "CreationTime")),
        ]);
    }
    table.print();
    let results: Vec<&XmlElement> = doc
        .children_named("JobsDetail")
        .flat_map(|b| b.children_named("Result"))
        .collect();
    if !results.is_empty() {
        let mut table = Table::new(&["OBJECT", "WORKFLOW ID", "INSTANCE / JOB"]);
        for r in results {
            let id = r.text_of("InstanceId").or(r.text_of("JobId")).unwrap_or("");
            table.row(vec![
                leaf(r, "Object").to_owned(),
                leaf(r, "WorkflowId").to_owned(),
                id.to_owned(),
            ]);
        }
        println!();
        table.print();
    }
}
