//! The CI media-workflow API: templates, workflows, triggers and executions.
//!
//! [`Route::parse`] decides whether a request is a CI call. On a `.ci.` host every path is; on
//! the `.cos.` host (where the Python SDK sends CI calls) only the CI resource paths are, so an
//! object whose key's first segment is `workflow`, `template`, … is reachable path-style only.

mod execution;
mod inventory;
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
    /// `POST /inventorytriggerjob`
    CreateBatch,
    /// `GET /inventorytriggerjob`
    ListBatches,
    /// `GET /inventorytriggerjob/<id>`
    DescribeBatch(String),
    /// `PUT /inventorytriggerjob/<id>?cancel` (the Go SDK sends no `?cancel`: any PUT cancels)
    CancelBatch(String),
    /// A CI path with a method it does not support.
    Unsupported,
}

/// CI resources reelflow serves (see [`Route`]).
const CI_RESOURCES: &[&str] = &[
    "template",
    "workflow",
    "triggerworkflow",
    "workflowexecution",
    "jobs",
    "queue",
    "inventorytriggerjob",
];

/// CI resources Tencent documents that reelflow does not serve: on the COS host a request for
/// one of them (the bare name, or the name and one id segment) answers 501 `NotImplemented`
/// instead of reaching the object API, which would store an object under that name. Names from
/// the CI API documentation and the SDKs' request paths (cos-python-sdk-v5 `cos_client.py`).
const UNSERVED_CI_RESOURCES: &[&str] = &[
    "ai_bucket",
    "ai_jobs",
    "ai_queue",
    "aiqueue",
    "asr_jobs",
    "asrbucket",
    "asrqueue",
    "docbucket",
    "doc_jobs",
    "docqueue",
    "file_jobs",
    "fileprocess",
    "mediabucket",
    "picbucket",
    "pic_jobs",
    "picqueue",
    "playKey",
    "report",
    "virus",
    "wordsgeneralize",
];

/// Content-moderation namespaces, requested as `/<kind>/auditing[/<JobId>]` and
/// `/video/cancel_auditing/<JobId>`.
const AUDITING_KINDS: &[&str] = &[
    "audio", "document", "image", "live", "text", "video", "virus", "webpage",
];

/// Whether `rest` is a CI resource reelflow does not serve (see [`UNSERVED_CI_RESOURCES`]).
pub(crate) fn is_unserved_ci_path(rest: &str) -> bool {
    let segments: Vec<&str> = rest.split('/').collect();
    match segments.as_slice() {
        [name] | [name, _] if UNSERVED_CI_RESOURCES.contains(name) => true,
        [kind, action] | [kind, action, _] if AUDITING_KINDS.contains(kind) => {
            matches!(*action, "auditing" | "cancel_auditing" | "detect")
        }
        ["report", "badcase"] => true,
        _ => false,
    }
}

impl Route {
    /// The CI route for a request, or `None` when it is an object request.
    ///
    /// On the `.cos.` host, a path under a CI resource name is a CI call only when its id has
    /// the shape of that resource's ids (so an object such as `jobs/out.mp4` stays readable).
    /// Paths of CI resources reelflow does not serve are always CI calls ([`Route::Unsupported`]),
    /// so a CI request never writes an object.
    pub fn parse(
        method: &Method,
        rest: &str,
        ci_host: bool,
        query: &[(String, String)],
    ) -> Option<Route> {
        if is_unserved_ci_path(rest) {
            return Some(Route::Unsupported);
        }
        let (resource, id) = rest.split_once('/').unwrap_or((rest, ""));
        if !CI_RESOURCES.contains(&resource) {
            return ci_host.then_some(Route::Unsupported);
        }
        if !ci_host && !id.is_empty() && !id_shape_matches(resource, id) && !ci_id_like(id) {
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
            (Method::POST, "inventorytriggerjob", true) => Route::CreateBatch,
            (Method::GET, "inventorytriggerjob", true) => Route::ListBatches,
            (Method::GET, "inventorytriggerjob", false) => Route::DescribeBatch(id),
            (Method::PUT, "inventorytriggerjob", false) => Route::CancelBatch(id),
            (_, "inventorytriggerjob", _) => Route::Unsupported,
            // A CI id with a method that resource does not support: a CI error, never an
            // object write.
            _ if !id.is_empty() => Route::Unsupported,
            // On the COS host, other methods on a bare resource name are object requests
            // (e.g. uploading the key `workflow` path-style).
            _ if !ci_host => return None,
            _ => Route::Unsupported,
        };
        Some(route)
    }
}

/// Whether `id` could be a CI id even without the shape reelflow gives its ids (a client may
/// send another service's ids, e.g. the SDK demos' placeholders): one path segment without an
/// extension. Such a request is answered by the CI API (404 for an unknown id), never stored
/// as an object.
fn ci_id_like(id: &str) -> bool {
    !id.is_empty() && !id.contains('/') && !id.contains('.')
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
        Route::CreateBatch => inventory::create(state, ctx, body, limit).await,
        Route::ListBatches => inventory::list(state, ctx).await,
        Route::DescribeBatch(id) => inventory::describe(state, ctx, &id).await,
        Route::CancelBatch(id) => inventory::cancel(state, ctx, &id).await,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(method: Method, rest: &str) -> Option<Route> {
        Route::parse(&method, rest, false, &[])
    }

    #[test]
    fn unserved_ci_resources_never_reach_the_object_api() {
        for (method, rest) in [
            (Method::PUT, "playKey"),
            (Method::GET, "playKey"),
            (Method::PUT, "picqueue/p0123456789abcdef0123456789abcdef"),
            (Method::GET, "picqueue"),
            (Method::POST, "ai_queue"),
            (Method::PUT, "asrqueue/pabc"),
            (Method::GET, "mediabucket"),
            (Method::POST, "doc_jobs"),
            (Method::GET, "pic_jobs/j123"),
            (Method::POST, "video/auditing"),
            (Method::GET, "text/auditing/st123"),
            (Method::POST, "video/cancel_auditing/av123"),
            (Method::POST, "virus/detect"),
            (Method::POST, "report/badcase"),
            (Method::DELETE, "inventorytriggerjob/b123"),
        ] {
            assert_eq!(
                parse(method.clone(), rest),
                Some(Route::Unsupported),
                "{method} {rest}"
            );
        }
    }

    #[test]
    fn objects_under_ci_like_names_stay_objects() {
        for (method, rest) in [
            (Method::PUT, "jobs/out.mp4"),
            (Method::GET, "workflow/a/b.mp4"),
            (Method::PUT, "picqueue/a/b.mp4"),
            (Method::PUT, "video/in/a.mp4"),
            (Method::PUT, "workflow"),
            (Method::GET, "in/playKey"),
            (Method::PUT, "queue/a/b"),
        ] {
            assert_eq!(parse(method.clone(), rest), None, "{method} {rest}");
        }
    }

    #[test]
    fn foreign_ids_under_served_resources_are_ci_calls() {
        assert_eq!(
            parse(Method::PUT, "workflow/wd34ca394909xxxxxxxxxxxx4d"),
            Some(Route::UpdateWorkflow("wd34ca394909xxxxxxxxxxxx4d".into()))
        );
        assert_eq!(
            parse(Method::PUT, "queue/p-demo"),
            Some(Route::UpdateQueue("p-demo".into()))
        );
        assert_eq!(parse(Method::PUT, "queue/demo.mp4"), None);
    }

    #[test]
    fn batch_triggers_are_routed_and_a_bare_put_cancels() {
        let id = format!("b{}", "0".repeat(32));
        let path = format!("inventorytriggerjob/{id}");
        assert_eq!(
            parse(Method::POST, "inventorytriggerjob"),
            Some(Route::CreateBatch)
        );
        assert_eq!(
            parse(Method::GET, "inventorytriggerjob"),
            Some(Route::ListBatches)
        );
        assert_eq!(
            parse(Method::GET, &path),
            Some(Route::DescribeBatch(id.clone()))
        );
        assert_eq!(parse(Method::PUT, &path), Some(Route::CancelBatch(id)));
    }

    #[test]
    fn ids_with_unsupported_methods_are_ci_errors() {
        let workflow = format!("workflow/w{}", "0".repeat(32));
        assert_eq!(parse(Method::POST, &workflow), Some(Route::Unsupported));
        assert_eq!(
            parse(Method::PUT, &workflow),
            Some(Route::UpdateWorkflow(workflow[9..].to_owned()))
        );
    }
}
