//! `workflow create/ls/show/activate/pause/rm` over the CI workflow API
//! (`crates/api/src/ci/workflow.rs`): every answer carries the whole `MediaWorkflow`.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use reelflow_model::XmlElement;
use reqwest::Method;
use serde_json::Value;

use super::command::{Outcome, Session};
use super::cos::leaf;
use super::output::{Table, print_json};
use super::times::display;
use super::xmljson::{answer_json, read_request};

/// `reelflow workflow …`.
#[derive(Debug, Subcommand)]
pub enum WorkflowCommand {
    /// Create a workflow from a CI request body (`wf.xml`) or the same shape in JSON (`wf.json`).
    Create {
        /// The request file.
        #[arg(short, long)]
        file: PathBuf,
    },
    /// List the bucket's workflows.
    Ls,
    /// Show one workflow: state, and its topology node by node.
    Show {
        /// WorkflowId.
        id: String,
    },
    /// Make a workflow Active: uploads start runs.
    Activate {
        /// WorkflowId.
        id: String,
    },
    /// Pause a workflow: uploads no longer start runs (it can then be updated).
    Pause {
        /// WorkflowId.
        id: String,
    },
    /// Delete a workflow.
    Rm {
        /// WorkflowId.
        id: String,
    },
}

/// Lists in workflow answers that are arrays in JSON even with one entry.
const LISTS: &[&str] = &["MediaWorkflowList", "NonExistIDs"];

/// Runs one workflow command on `bucket`.
pub async fn run(session: &Session, bucket: &str, command: WorkflowCommand) -> Result<Outcome> {
    let cos = &session.cos;
    let doc = match command {
        WorkflowCommand::Create { file } => {
            let body = read_request(&file, Some("MediaWorkflow"))?;
            cos.ci(Method::POST, bucket, "/workflow", &[], Some(body))
                .await?
        }
        WorkflowCommand::Ls => return list(session, bucket).await,
        WorkflowCommand::Show { id } => {
            let doc = cos
                .ci_get(bucket, "/workflow", &[("ids", id.clone())])
                .await?;
            if doc.child("MediaWorkflowList").is_none() {
                bail!("workflow {id} does not exist in bucket {bucket}");
            }
            Some(doc)
        }
        WorkflowCommand::Activate { id } => switch(session, bucket, &id, "active").await?,
        WorkflowCommand::Pause { id } => switch(session, bucket, &id, "paused").await?,
        WorkflowCommand::Rm { id } => {
            let doc = cos
                .ci(
                    Method::DELETE,
                    bucket,
                    &format!("/workflow/{id}"),
                    &[],
                    None,
                )
                .await?;
            if session.json() {
                let doc = doc.context("the server answered an empty body")?;
                print_json(&answer_json(&doc.to_xml(), LISTS)?);
            } else {
                println!("deleted workflow {id} from bucket {bucket}");
            }
            return Ok(Outcome::Ok);
        }
    };
    let doc = doc.context("the server answered an empty body")?;
    if session.json() {
        print_json(&answer_json(&doc.to_xml(), LISTS)?);
    } else {
        print_workflow(&doc);
    }
    Ok(Outcome::Ok)
}

async fn switch(session: &Session, bucket: &str, id: &str, to: &str) -> Result<Option<XmlElement>> {
    let path = format!("/workflow/{id}");
    session
        .cos
        .ci(Method::PUT, bucket, &path, &[(to, String::new())], None)
        .await
}

async fn list(session: &Session, bucket: &str) -> Result<Outcome> {
    let mut all: Vec<XmlElement> = Vec::new();
    for page in 1.. {
        let query = [("pageNumber", page.to_string()), ("pageSize", "100".into())];
        let doc = session.cos.ci_get(bucket, "/workflow", &query).await?;
        let total: usize = leaf(&doc, "TotalCount").parse().unwrap_or(0);
        let before = all.len();
        all.extend(doc.children_named("MediaWorkflowList").cloned());
        if all.len() >= total || all.len() == before {
            break;
        }
    }
    if session.json() {
        let list: Vec<Value> = all.iter().filter_map(|w| w.json_value(&[])).collect();
        print_json(&serde_json::json!({ "workflows": list }));
        return Ok(Outcome::Ok);
    }
    let mut table = Table::new(&["WORKFLOW ID", "STATE", "UPDATED", "NAME"]);
    for w in &all {
        table.row(vec![
            leaf(w, "WorkflowId").to_owned(),
            leaf(w, "State").to_owned(),
            display(leaf(w, "UpdateTime")),
            leaf(w, "Name").to_owned(),
        ]);
    }
    table.print();
    Ok(Outcome::Ok)
}

/// The workflow in an answer (`MediaWorkflow` or the first `MediaWorkflowList`), or the answer.
fn print_workflow(doc: &XmlElement) {
    let Some(w) = doc
        .child("MediaWorkflow")
        .or_else(|| doc.child("MediaWorkflowList"))
    else {
        println!("ok");
        return;
    };
    for name in [
        "WorkflowId",
        "Name",
        "State",
        "BucketId",
        "CreateTime",
        "UpdateTime",
    ] {
        let value = match name {
            "CreateTime" | "UpdateTime" => display(leaf(w, name)),
            _ => leaf(w, name).to_owned(),
        };
        println!("{name:<11} {value}");
    }
    if let Some(topology) = w.child("Topology") {
        println!();
        print!("{}", describe_topology(topology));
    }
}

/// The topology as text: each node, what it runs and writes, and where it leads.
pub fn describe_topology(topology: &XmlElement) -> String {
    let next = |name: &str| {
        topology
            .child("Dependencies")
            .and_then(|d| d.text_of(name))
            .unwrap_or("")
            .replace(',', ", ")
    };
    let mut table = Table::new(&["NODE", "TYPE", "TEMPLATE", "OUTPUT", "NEXT"]);
    for node in in_topological_order(topology) {
        let op = node.child("Operation");
        let template = op.and_then(|o| o.text_of("TemplateId")).unwrap_or("");
        let output = op
            .and_then(|o| o.child("Output"))
            .map(|o| format!("cos://{}/{}", leaf(o, "Bucket"), leaf(o, "Object")))
            .unwrap_or_default();
        table.row(vec![
            node.name.clone(),
            leaf(node, "Type").to_owned(),
            template.to_owned(),
            output,
            next(&node.name),
        ]);
    }
    table.render()
}

/// The nodes of `topology` from `Start` on, each after every node leading to it (Kahn's
/// algorithm over `Dependencies`, ties in document order); nodes the graph does not reach
/// come last, in document order.
fn in_topological_order(topology: &XmlElement) -> Vec<&XmlElement> {
    let nodes: Vec<&XmlElement> = topology
        .child("Nodes")
        .map(|n| n.children.iter().collect())
        .unwrap_or_default();
    let edges: Vec<(String, String)> = topology
        .child("Dependencies")
        .map(|d| {
            d.children
                .iter()
                .flat_map(|from| {
                    from.text
                        .split(',')
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(|to| (from.name.clone(), to.to_owned()))
                        .collect::<Vec<_>>()
                })
                .collect()
        })
        .unwrap_or_default();
    let mut indegree: std::collections::HashMap<&str, usize> =
        nodes.iter().map(|n| (n.name.as_str(), 0)).collect();
    for (_, to) in &edges {
        if let Some(d) = indegree.get_mut(to.as_str()) {
            *d += 1;
        }
    }
    let mut order: Vec<&XmlElement> = Vec::new();
    let mut done = std::collections::HashSet::new();
    while let Some(next) = nodes
        .iter()
        .find(|n| !done.contains(n.name.as_str()) && indegree[n.name.as_str()] == 0)
    {
        done.insert(next.name.as_str());
        order.push(next);
        for (_, to) in edges.iter().filter(|(from, _)| *from == next.name) {
            if let Some(d) = indegree.get_mut(to.as_str()) {
                *d = d.saturating_sub(1);
            }
        }
    }
    order.extend(nodes.iter().filter(|n| !done.contains(n.name.as_str())));
    order
}
