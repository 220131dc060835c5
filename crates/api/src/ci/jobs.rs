//! Jobs: submit (`POST /jobs`), describe (`GET /jobs/<id>[,<id>…]`), list (`GET /jobs`) and
//! cancel (`PUT /jobs/<id>?cancel`). Workflow tasks are jobs too, with their `Workflow` block.

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use reelflow_engine::JobError;
use reelflow_model::XmlElement;
use reelflow_model::clock::parse_api_time;
use reelflow_model::execution::{Instance, Task, TaskState};
use reelflow_model::ids::is_job_id;
use reelflow_model::job::parse_jobs;
use reelflow_model::jobs_detail::jobs_detail;
use reelflow_model::workflow::Topology;
use reelflow_store::{CancelOutcome, TaskQuery};

use crate::context::query_value;
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
            JobError::Engine(inner) => inner.into(),
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
            .filter(|(t, i)| i.bucket == ctx.bucket && t.state.is_visible())
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
        .is_some_and(|(t, i)| i.bucket == ctx.bucket && t.state.is_visible());
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
    let q = &ctx.query;
    let value = |n: &str| query_value(q, n).filter(|v| !v.is_empty());
    let tag = value("tag").ok_or_else(|| ApiError::invalid("query parameter tag is required"))?;
    let tag = if tag.eq_ignore_ascii_case("HighSpeedHd") {
        "Transcode"
    } else {
        tag
    };
    let descending = match value("orderByTime") {
        None => true,
        Some(v) if v.eq_ignore_ascii_case("desc") => true,
        Some(v) if v.eq_ignore_ascii_case("asc") => false,
        Some(v) => {
            return Err(ApiError::invalid(format!(
                "orderByTime must be Desc or Asc, got {v:?}"
            )));
        }
    };
    let limit = match value("size") {
        None => 10,
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "size must be an integer between 1 and 100, got {v:?}"
                ))
            })?,
    };
    let mut states = Vec::new();
    for s in value("states")
        .unwrap_or("All")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        if s.eq_ignore_ascii_case("All") {
            states.clear();
            break;
        }
        let state = TaskState::parse(s)
            .filter(|st| st.is_visible())
            .or_else(|| {
                s.eq_ignore_ascii_case("Pause")
                    .then_some(TaskState::Submitted)
            });
        states
            .push(state.ok_or_else(|| ApiError::invalid(format!("states: unknown state {s:?}")))?);
    }
    let time = |n: &str| -> Result<Option<i64>, ApiError> {
        value(n)
            .map(|v| {
                parse_api_time(v).ok_or_else(|| {
                    ApiError::invalid(format!(
                        "{n} must look like 2022-08-09T14:54:17+0800, got {v:?}"
                    ))
                })
            })
            .transpose()
    };
    let after = value("nextToken").map(str::to_owned);
    if after.as_deref().is_some_and(|t| !is_job_id(t)) {
        return Err(ApiError::invalid(
            "nextToken is not a token returned by this API",
        ));
    }
    Ok(TaskQuery {
        bucket: ctx.bucket.clone(),
        tag: tag.to_owned(),
        queue_id: value("queueId").map(str::to_owned),
        states,
        workflow_id: value("workflowId").map(str::to_owned),
        input_object: value("inputObject").map(|o| o.trim_start_matches('/').to_owned()),
        created_from: time("startCreationTime")?,
        created_to: time("endCreationTime")?,
        descending,
        after_job_id: after,
        limit,
    })
}
