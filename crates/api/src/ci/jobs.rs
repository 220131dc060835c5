//! Jobs: submit (`POST /jobs`), describe (`GET /jobs/<id>[,<id>…]`), list (`GET /jobs`) and
//! cancel (`PUT /jobs/<id>?cancel`). Workflow tasks are jobs too, with their `Workflow` block.

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use reelflow_engine::JobError;
use reelflow_model::XmlElement;
use reelflow_model::execution::{Instance, Task, TaskState};
use reelflow_model::ids::is_job_id;
use reelflow_model::job::{JobRequestError, parse_jobs};
use reelflow_model::jobs_detail::jobs_detail;
use reelflow_model::workflow::Topology;
use reelflow_store::{CancelOutcome, TaskQuery};

use super::listing;
use crate::state::AppState;
use crate::xml::{read_xml, xml_response};
use crate::{ApiError, Ctx};

fn detail(state: &AppState, task: &Task, instance: &Instance) -> XmlElement {
    let topology = Topology::parse(&instance.topology_xml).ok();
    let node = topology.as_ref().and_then(|t| t.node(&task.node_name));
    jobs_detail(task, instance, node, state.config.offset)
}

impl From<JobError> for ApiError {
    fn from(e: JobError) -> Self {
        match e {
            JobError::Invalid(i) => i.into(),
            JobError::NoSuchKey(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "NoSuchKey", e.to_string())
            }
            JobError::NotFound(_) => ApiError::not_found(e.to_string()),
            JobError::InputUrl(_) => ApiError::invalid(e.to_string()),
            JobError::Engine(inner) => inner.into(),
        }
    }
}

impl From<JobRequestError> for ApiError {
    fn from(e: JobRequestError) -> Self {
        match e {
            JobRequestError::Invalid(i) => i.into(),
            JobRequestError::NotImplemented { .. } => {
                ApiError::new(StatusCode::NOT_IMPLEMENTED, e.code(), e.to_string())
            }
        }
    }
}

pub(super) async fn submit(
    state: &AppState,
    ctx: &Ctx,
    body: Body,
    limit: usize,
) -> Result<Response, ApiError> {
    let jobs = parse_jobs(&read_xml(body, limit).await?)?;
    let created = state.engine.submit_jobs(&ctx.bucket, jobs).await?;
    let mut doc = XmlElement::new("Response").with_leaf("RequestId", &ctx.request_id);
    for (task, instance) in &created {
        doc.push(detail(state, task, instance));
    }
    Ok(xml_response(&doc))
}

pub(super) async fn describe(state: &AppState, ctx: &Ctx, ids: &str) -> Result<Response, ApiError> {
    let mut doc = XmlElement::new("Response").with_leaf("RequestId", &ctx.request_id);
    let mut missing = Vec::new();
    for id in ids.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match state
            .store
            .get_task(id)
            .await?
            .filter(|(t, i)| i.bucket == ctx.bucket && t.is_shown())
        {
            Some((task, instance)) => doc.push(detail(state, &task, &instance)),
            None => missing.push(id.to_owned()),
        }
    }
    for id in missing {
        doc.push_leaf("NonExistJobIds", id);
    }
    Ok(xml_response(&doc))
}

pub(super) async fn cancel(state: &AppState, ctx: &Ctx, id: &str) -> Result<Response, ApiError> {
    let owned = state
        .store
        .get_task(id)
        .await?
        .is_some_and(|(t, i)| i.bucket == ctx.bucket && t.is_shown());
    if !owned {
        return Err(ApiError::not_found(format!("job {id} does not exist")));
    }
    let outcome = state.engine.cancel(id).await?;
    if outcome == CancelOutcome::AlreadyFinished {
        return Err(ApiError::invalid(format!(
            "job {id} has already finished and cannot be cancelled"
        )));
    }
    Ok(xml_response(
        &XmlElement::new("Response").with_leaf("RequestId", &ctx.request_id),
    ))
}

pub(super) async fn list(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let query = task_query(ctx)?;
    let limit = query.limit as usize;
    let found = state
        .store
        .list_tasks(&TaskQuery {
            limit: query.limit + 1,
            ..query
        })
        .await?;
    let mut doc = XmlElement::new("Response").with_leaf("RequestId", &ctx.request_id);
    for (task, instance) in found.iter().take(limit) {
        doc.push(detail(state, task, instance));
    }
    let next = if found.len() > limit {
        found[limit - 1].0.job_id.clone()
    } else {
        String::new()
    };
    doc.push_leaf("NextToken", next);
    Ok(xml_response(&doc))
}

fn task_query(ctx: &Ctx) -> Result<TaskQuery, ApiError> {
    let tag = listing::value(ctx, "tag")
        .ok_or_else(|| ApiError::invalid("query parameter tag is required"))?;
    let tag = if tag.eq_ignore_ascii_case("HighSpeedHd") {
        "Transcode"
    } else {
        tag
    };
    // CI's `Pause` is what reelflow calls a Submitted task waiting in a paused queue.
    let parse_state = |s: &str| {
        TaskState::parse(s)
            .filter(|st| st.is_visible())
            .or_else(|| {
                s.eq_ignore_ascii_case("Pause")
                    .then_some(TaskState::Submitted)
            })
    };
    Ok(TaskQuery {
        bucket: ctx.bucket.clone(),
        tag: tag.to_owned(),
        queue_id: listing::value(ctx, "queueId").map(str::to_owned),
        states: listing::states(ctx, parse_state)?,
        workflow_id: listing::value(ctx, "workflowId").map(str::to_owned),
        input_object: listing::value(ctx, "inputObject")
            .map(|o| o.trim_start_matches('/').to_owned()),
        created_from: listing::time(ctx, "startCreationTime")?,
        created_to: listing::time(ctx, "endCreationTime")?,
        descending: listing::descending(ctx)?,
        after_job_id: listing::next_token(ctx, is_job_id)?,
        batch_id: listing::value(ctx, "inventoryTriggerJobId").map(str::to_owned),
        limit: listing::bounded(ctx, "size", 10, 100)?,
    })
}
