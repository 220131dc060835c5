//! The CI media-workflow API: templates, workflows, triggers and executions.
//!
//! [`Route::parse`] decides whether a request is a CI call. On a `.ci.` host every path is; on
//! the `.cos.` host (where the Python SDK sends CI calls) only the CI resource paths are, so an
//! object whose key's first segment is `workflow`, `template`, … is reachable path-style only.

mod execution;
mod jobs;
mod listing;
mod queue;
mod template;
mod workflow;

use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::Response;

use crate::state::AppState;
use crate::{ApiError, Ctx};

/// A recognised CI operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `POST /template`
    CreateTemplate,
    /// `GET /template`
    ListTemplates,
    /// `PUT /template/<id>`
    UpdateTemplate(String),
    /// `DELETE /template/<id>`
    DeleteTemplate(String),
    /// `POST /workflow`
    CreateWorkflow,
    /// `GET /workflow`
    ListWorkflows,
    /// `PUT /workflow/<id>` (`?active`/`?paused` switch state)
    UpdateWorkflow(String),
    /// `DELETE /workflow/<id>`
    DeleteWorkflow(String),
    /// `POST /triggerworkflow`
    Trigger,
    /// `GET /workflowexecution`
    ListExecutions,
    /// `GET /workflowexecution/<RunId>`
    GetExecution(String),
    /// `POST /jobs`
    SubmitJobs,
    /// `GET /jobs`
    ListJobs,
    /// `GET /jobs/<id>[,<id>…]`
    DescribeJobs(String),
    /// `PUT /jobs/<id>?cancel`
    CancelJob(String),
    /// `GET /queue`
    ListQueues,
    /// `PUT /queue/<id>`
    UpdateQueue(String),
    /// A CI path with a method it does not support.
    Unsupported,
}

const CI_RESOURCES: &[&str] = &[
    "template",
    "workflow",
    "triggerworkflow",
    "workflowexecution",
    "jobs",
    "queue",
    "inventorytriggerjob",
];

impl Route {
    /// The CI route for a request, or `None` when it is an object request.
    ///
    /// On the `.cos.` host, a path under a CI resource name is a CI call only when its id has
    /// the shape of that resource's ids (so an object such as `jobs/out.mp4` stays readable).
    pub fn parse(
        method: &Method,
        rest: &str,
        ci_host: bool,
        query: &[(String, String)],
    ) -> Option<Route> {
        let (resource, id) = rest.split_once('/').unwrap_or((rest, ""));
        if !CI_RESOURCES.contains(&resource) {
            return ci_host.then_some(Route::Unsupported);
        }
        if !ci_host && !id.is_empty() && !id_shape_matches(resource, id) {
            return None;
        }
        let has = |name: &str| query.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
        let id = id.to_owned();
        let route = match (method.clone(), resource, id.is_empty()) {
            (Method::POST, "template", true) => Route::CreateTemplate,
            (Method::GET, "template", true) => Route::ListTemplates,
            (Method::PUT, "template", false) => Route::UpdateTemplate(id),
            (Method::DELETE, "template", false) => Route::DeleteTemplate(id),
            (Method::POST, "workflow", true) => Route::CreateWorkflow,
            (Method::GET, "workflow", true) => Route::ListWorkflows,
            (Method::PUT, "workflow", false) => Route::UpdateWorkflow(id),
            (Method::DELETE, "workflow", false) => Route::DeleteWorkflow(id),
            (Method::POST, "triggerworkflow", true) => Route::Trigger,
            (Method::GET, "workflowexecution", true) => Route::ListExecutions,
            (Method::GET, "workflowexecution", false) => Route::GetExecution(id),
            (Method::POST, "jobs", true) => Route::SubmitJobs,
            (Method::GET, "jobs", true) => Route::ListJobs,
            (Method::GET, "jobs", false) => Route::DescribeJobs(id),
            (Method::PUT, "jobs", false) if has("cancel") => Route::CancelJob(id),
            (Method::GET, "queue", true) => Route::ListQueues,
            (Method::PUT, "queue", false) => Route::UpdateQueue(id),
            // Batch (inventory) triggers are CI calls reelflow does not offer.
            (_, "inventorytriggerjob", _) => Route::Unsupported,
            // On the COS host, anything else under these names is an object request
            // (e.g. uploading the key `workflow`).
            _ if !ci_host => return None,
            _ => Route::Unsupported,
        };
        Some(route)
    }
}

/// Whether `id` looks like an id of `resource` (comma lists for jobs).
fn id_shape_matches(resource: &str, id: &str) -> bool {
    use reelflow_model::ids::{is_id, is_job_id, is_run_id, is_template_id, is_workflow_id};
    match resource {
        "template" => is_template_id(id),
        "workflow" => is_workflow_id(id),
        "workflowexecution" => is_run_id(id),
        "jobs" => id.split(',').all(|j| is_job_id(j.trim())),
        "queue" => is_id(id, "p", 32),
        "inventorytriggerjob" => true,
        _ => false,
    }
}

/// Serves a CI request.
pub async fn handle(
    state: &AppState,
    ctx: &Ctx,
    route: Route,
    request: Request,
) -> Result<Response, ApiError> {
    require_bucket(state, ctx).await?;
    let limit = state.config.max_xml_body;
    let body = request.into_body();
    match route {
        Route::CreateTemplate => template::create(state, ctx, body, limit).await,
        Route::ListTemplates => template::list(state, ctx).await,
        Route::UpdateTemplate(id) => template::update(state, ctx, &id, body, limit).await,
        Route::DeleteTemplate(id) => template::delete(state, ctx, &id).await,
        Route::CreateWorkflow => workflow::create(state, ctx, body, limit).await,
        Route::ListWorkflows => workflow::list(state, ctx).await,
        Route::UpdateWorkflow(id) => workflow::update(state, ctx, &id, body, limit).await,
        Route::DeleteWorkflow(id) => workflow::delete(state, ctx, &id).await,
        Route::Trigger => execution::trigger(state, ctx).await,
        Route::ListExecutions => execution::list(state, ctx).await,
        Route::GetExecution(id) => execution::get(state, ctx, &id).await,
        Route::SubmitJobs => jobs::submit(state, ctx, body, limit).await,
        Route::ListJobs => jobs::list(state, ctx).await,
        Route::DescribeJobs(ids) => jobs::describe(state, ctx, &ids).await,
        Route::CancelJob(id) => jobs::cancel(state, ctx, &id).await,
        Route::ListQueues => queue::list(state, ctx).await,
        Route::UpdateQueue(id) => queue::update(state, ctx, &id, body, limit).await,
        Route::Unsupported => Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            "this CI operation is not supported by reelflow",
        )),
    }
}

async fn require_bucket(state: &AppState, ctx: &Ctx) -> Result<(), ApiError> {
    if state.store.bucket_exists(&ctx.bucket).await? {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "NoSuchBucket",
            format!("bucket {} does not exist", ctx.bucket),
        ))
    }
}
