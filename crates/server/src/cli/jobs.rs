//! `jobs submit/ls/show/cancel` over the CI jobs API (`crates/api/src/ci/jobs.rs`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use reelflow_model::XmlElement;
use reqwest::Method;

use super::command::{Outcome, Session, usage};
use super::cos::{CosPath, leaf};
use super::output::{Table, print_json};
use super::runs::terminal;
use super::times::{TimeArg, display};
use super::xmljson::{answer_json, read_request};

/// `reelflow jobs …`.
#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Submit a job: a request file (`-f job.xml|job.json`) or `--tag/--input/--template/--to`.
    Submit(SubmitArgs),
    /// List jobs of one tag, newest first.
    Ls(LsArgs),
    /// Show jobs by id (comma list).
    Show {
        /// JobId(s) (`j…`).
        id: String,
    },
    /// Cancel a job that has not finished (stops its ffmpeg).
    Cancel {
        /// JobId (`j…`).
        id: String,
    },
}

/// `jobs submit`.
#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// The request body (`<Request><Tag>…`), XML or the same shape in JSON.
    #[arg(short, long, conflicts_with_all = ["tag", "input"])]
    file: Option<PathBuf>,
    /// The job's Tag (Transcode, Snapshot, Animation, MediaInfo, …).
    #[arg(long)]
    tag: Option<String>,
    /// The input object key.
    #[arg(long)]
    input: Option<String>,
    /// TemplateId for the Operation.
    #[arg(long)]
    template: Option<String>,
    /// Where the output goes (`cos://bucket/key`).
    #[arg(long)]
    to: Option<CosPath>,
    /// Wait until the job ends; exit status 3 when it ends Failed or Cancel.
    #[arg(long)]
    wait: bool,
}

/// `jobs ls` filters.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// The tag listed (the API lists one tag at a time).
    #[arg(long, default_value = "Transcode")]
    tag: String,
    /// Only these states (comma list: Submitted, Running, Success, Failed, Cancel, Pause).
    #[arg(long)]
    state: Option<String>,
    /// Only tasks of this workflow.
    #[arg(short, long)]
    workflow: Option<String>,
    /// Created at or after: RFC 3339, Unix seconds, or an age such as `30m`, `2h`, `1d`.
    #[arg(long)]
    since: Option<TimeArg>,
    /// Created before (same forms as `--since`).
    #[arg(long)]
    until: Option<TimeArg>,
    /// Page size (at most 100).
    #[arg(long, default_value_t = 20)]
    limit: u32,
    /// Continue after this token (printed by the previous page).
    #[arg(long)]
    next: Option<String>,
}

const LISTS: &[&str] = &["JobsDetail", "NonExistJobIds"];

/// Runs one `jobs` command on `bucket`.
pub async fn run(session: &Session, bucket: &str, command: JobsCommand) -> Result<Outcome> {
    let cos = &session.cos;
    let (doc, wait) = match command {
        JobsCommand::Submit(args) => {
            let body = submit_body(&args)?;
            let doc = cos
                .ci(Method::POST, bucket, "/jobs", &[], Some(body))
                .await?;
            (doc, args.wait)
        }
        JobsCommand::Ls(args) => {
            let doc = cos.ci_get(bucket, "/jobs", &list_query(&args)).await?;
            (Some(doc), false)
        }
        JobsCommand::Show { id } => {
            let doc = cos.ci_get(bucket, &format!("/jobs/{id}"), &[]).await?;
            if doc.child("JobsDetail").is_none() {
                bail!("job {id} does not exist in bucket {bucket}");
            }
            (Some(doc), false)
        }
        JobsCommand::Cancel { id } => {
            let path = format!("/jobs/{id}");
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
                println!("cancel requested for {id}");
            }
            return Ok(Outcome::Ok);
        }
    };
    let mut doc = doc.context("the server answered an empty body")?;
    if wait {
        doc = wait_for_jobs(session, bucket, &doc).await?;
    }
    print(session, &doc)?;
    let failed = doc
        .children_named("JobsDetail")
        .any(|j| matches!(leaf(j, "State"), "Failed" | "Cancel"));
    Ok(if wait && failed {
        Outcome::RunFailed
    } else {
        Outcome::Ok
    })
}

fn print(session: &Session, doc: &XmlElement) -> Result<()> {
    if session.json() {
        print_json(&answer_json(&doc.to_xml(), LISTS)?);
        return Ok(());
    }
    let mut table = Table::new(&[
        "JOB ID", "TAG", "STATE", "PROGRESS", "CREATED", "INPUT", "MESSAGE",
    ]);
    for j in doc.children_named("JobsDetail") {
        let input = j.child("Input").map(|i| leaf(i, "Object")).unwrap_or("");
        let progress = format!("{}%", leaf(j, "Progress"));
        let message = match leaf(j, "Code") {
            "" | "Success" => String::new(),
            code => format!(
                "{code}: {}",
                leaf(j, "Message").lines().next().unwrap_or("")
            ),
        };
        table.row(vec![
            leaf(j, "JobId").to_owned(),
            leaf(j, "Tag").to_owned(),
            leaf(j, "State").to_owned(),
            progress,
            display(leaf(j, "CreationTime")),
            input.to_owned(),
            message,
        ]);
    }
    table.print();
    for missing in doc.children_named("NonExistJobIds") {
        println!("no such job: {}", missing.text);
    }
    if let Some(next) = doc.text_of("NextToken").filter(|t| !t.is_empty()) {
        println!("(more: --next {next})");
    }
    Ok(())
}

/// The request body: the file, or one built from the flags.
fn submit_body(args: &SubmitArgs) -> Result<String> {
    if let Some(file) = &args.file {
        return read_request(file, None);
    }
    let (Some(tag), Some(input)) = (&args.tag, &args.input) else {
        return usage(
            "give -f FILE, or --tag and --input (with --template and --to as the tag needs)",
        );
    };
    let mut op = XmlElement::new("Operation");
    if let Some(t) = &args.template {
        op.push_leaf("TemplateId", t);
    }
    if let Some(to) = &args.to {
        op.push(
            XmlElement::new("Output")
                .with_leaf("Region", "ap-guangzhou")
                .with_leaf("Bucket", &to.bucket)
                .with_leaf("Object", &to.key),
        );
    }
    let mut request = XmlElement::new("Request")
        .with_leaf("Tag", tag)
        .with(XmlElement::new("Input").with_leaf("Object", input));
    if !op.children.is_empty() {
        request.push(op);
    }
    Ok(request.to_xml())
}

fn list_query(args: &LsArgs) -> Vec<(&'static str, String)> {
    let mut q = vec![("tag", args.tag.clone()), ("size", args.limit.to_string())];
    let mut push = |name, value: Option<String>| {
        if let Some(v) = value {
            q.push((name, v));
        }
    };
    push("states", args.state.clone());
    push("workflowId", args.workflow.clone());
    push("nextToken", args.next.clone());
    push("startCreationTime", args.since.map(TimeArg::ci));
    push("endCreationTime", args.until.map(TimeArg::ci));
    q
}

/// Polls the jobs of `doc` until each has ended; returns their last details.
async fn wait_for_jobs(session: &Session, bucket: &str, doc: &XmlElement) -> Result<XmlElement> {
    let ids: Vec<&str> = doc
        .children_named("JobsDetail")
        .map(|j| leaf(j, "JobId"))
        .collect();
    let path = format!("/jobs/{}", ids.join(","));
    loop {
        let now = session.cos.ci_get(bucket, &path, &[]).await?;
        if now
            .children_named("JobsDetail")
            .all(|j| terminal(leaf(j, "State")))
        {
            return Ok(now);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
