//! Triggering workflows and reading their executions.

use axum::response::Response;
use reelflow_model::XmlElement;
use reelflow_model::clock::DisplayOffset;
use reelflow_model::execution::{Instance, RunState, Task};
use reelflow_store::RunQuery;

use super::listing;
use crate::context::query_value;
use crate::state::AppState;
use crate::xml::xml_response;
use crate::{ApiError, Ctx};

pub(super) async fn trigger(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let workflow_id = required(ctx, "workflowId")?;
    let key = required(ctx, "object")?;
    let workflow = state.store.get_workflow(workflow_id).await?;
    if workflow.is_none_or(|w| w.bucket != ctx.bucket) {
        return Err(ApiError::not_found(format!(
            "workflow {workflow_id} does not exist"
        )));
    }
    let run_id = state
        .engine
        .trigger(workflow_id, key.trim_start_matches('/'))
        .await?;
    Ok(xml_response(
        &XmlElement::new("Response")
            .with_leaf("RequestId", &ctx.request_id)
            .with_leaf("InstanceId", run_id),
    ))
}

fn required<'a>(ctx: &'a Ctx, name: &str) -> Result<&'a str, ApiError> {
    query_value(&ctx.query, name)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::invalid(format!("query parameter {name} is required")))
}

pub(super) async fn get(state: &AppState, ctx: &Ctx, run_id: &str) -> Result<Response, ApiError> {
    let (instance, tasks) = state
        .store
        .get_run(run_id)
        .await?
        .filter(|(i, _)| i.bucket == ctx.bucket)
        .ok_or_else(|| {
            ApiError::not_found(format!("workflow execution {run_id} does not exist"))
        })?;
    let doc = XmlElement::new("Response")
        .with_leaf("RequestId", &ctx.request_id)
        .with(execution_xml(&instance, &tasks, state.config.offset));
    Ok(xml_response(&doc))
}

fn execution_xml(i: &Instance, tasks: &[Task], offset: DisplayOffset) -> XmlElement {
    let mut el = XmlElement::new("WorkflowExecution")
        .with_leaf("RunId", &i.run_id)
        .with_leaf("WorkflowId", &i.workflow_id)
        .with_leaf("WorkflowName", &i.workflow_name)
        .with_leaf("State", i.state.as_str())
        .with_leaf("CreateTime", offset.api_time(i.created))
        .with_leaf("Object", &i.object)
        .with(i.topology_xml.clone());
    for t in tasks.iter().filter(|t| t.is_shown()) {
        el.push(task_xml(t, offset));
    }
    el
}

fn task_xml(t: &Task, offset: DisplayOffset) -> XmlElement {
    let time = |v: Option<i64>| v.map(|s| offset.api_time(s)).unwrap_or_default();
    let mut result =
        XmlElement::new("ResultInfo").with_leaf("ObjectCount", t.outputs.len().to_string());
    for o in &t.outputs {
        result.push(
            XmlElement::new("ObjectInfo")
                .with_leaf("ObjectName", &o.key)
                .with_leaf("ObjectUrl", format!("{}/{}", o.bucket, o.key))
                .with_leaf("InputObjectName", &t.input_key)
                .with_leaf("Code", "Success")
                .with_leaf("Message", "Success"),
        );
    }
    XmlElement::new("Tasks")
        .with_leaf("Type", &t.tag)
        .with_leaf("JobId", &t.job_id)
        .with_leaf("Name", &t.node_name)
        .with_leaf("State", t.shown_state().as_str())
        .with_leaf("Progress", t.progress.to_string())
        .with_leaf("CreateTime", offset.api_time(t.created))
        .with_leaf("StartTime", time(t.started))
        .with_leaf("EndTime", time(t.ended))
        .with_leaf("Code", &t.code)
        .with_leaf("Message", &t.message)
        .with_leaf("TemplateId", &t.template_id)
        .with_leaf("TemplateName", &t.template_name)
        .with(result)
}

pub(super) async fn list(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let workflow_id = required(ctx, "workflowId")?;
    if state
        .store
        .get_workflow(workflow_id)
        .await?
        .is_none_or(|w| w.bucket != ctx.bucket)
    {
        return Err(ApiError::not_found(format!(
            "workflow {workflow_id} does not exist"
        )));
    }
    let query = run_query(ctx, workflow_id)?;
    let limit = query.limit as usize;
    let runs = state
        .store
        .list_runs(&RunQuery {
            limit: query.limit + 1,
            ..query
        })
        .await?;
    let mut doc = XmlElement::new("Response").with_leaf("RequestId", &ctx.request_id);
    let offset = state.config.offset;
    for i in runs.iter().take(limit) {
        doc.push(
            XmlElement::new("WorkflowExecutionList")
                .with_leaf("RunId", &i.run_id)
                .with_leaf("WorkflowId", &i.workflow_id)
                .with_leaf("State", i.state.as_str())
                .with_leaf("CreateTime", offset.api_time(i.created))
                .with_leaf("Object", &i.object),
        );
    }
    let next = if runs.len() > limit {
        runs[limit - 1].run_id.clone()
    } else {
        String::new()
    };
    doc.push_leaf("NextToken", next);
    Ok(xml_response(&doc))
}

fn run_query(ctx: &Ctx, workflow_id: &str) -> Result<RunQuery, ApiError> {
    Ok(RunQuery {
        workflow_id: workflow_id.to_owned(),
        states: listing::states(ctx, RunState::parse)?,
        name: listing::value(ctx, "name").map(str::to_owned),
        created_from: listing::time(ctx, "startCreationTime")?,
        created_to: listing::time(ctx, "endCreationTime")?,
        descending: listing::descending(ctx)?,
        after_run_id: listing::next_token(ctx, reelflow_model::ids::is_run_id)?,
        // `jobId=b…` (the Python SDK's BatchJobId): only this batch's instances.
        batch_id: listing::value(ctx, "jobId").map(str::to_owned),
        limit: listing::bounded(ctx, "size", 10, 100)?,
    })
}
