//! Workflow create/update/activate/pause/list/delete.

use std::collections::{HashMap, HashSet};

use axum::body::Body;
use axum::response::Response;
use reelflow_model::XmlElement;
use reelflow_model::clock::now_unix;
use reelflow_model::ids::new_workflow_id;
use reelflow_model::template::Template;
use reelflow_model::topology::check_references;
use reelflow_model::workflow::{Workflow, WorkflowSpec, WorkflowState};

use super::listing;
use crate::context::query_value;
use crate::state::AppState;
use crate::xml::{read_xml, xml_response};
use crate::{ApiError, Ctx};

/// The `MediaWorkflow` element of responses (also used for list entries, renamed).
fn workflow_xml(w: &Workflow, state: &AppState) -> XmlElement {
    let offset = state.config.offset;
    XmlElement::new("MediaWorkflow")
        .with_leaf("Name", &w.name)
        .with_leaf("State", w.state.as_str())
        .with_leaf("WorkflowId", &w.id)
        .with_leaf("BucketId", &w.bucket)
        .with_leaf("CreateTime", offset.api_time(w.created))
        .with_leaf("UpdateTime", offset.api_time(w.updated))
        .with(w.topology_xml.clone())
}

fn single(ctx: &Ctx, w: &Workflow, state: &AppState) -> Response {
    xml_response(
        &XmlElement::new("Response")
            .with_leaf("RequestId", &ctx.request_id)
            .with(workflow_xml(w, state)),
    )
}

/// Parses and fully validates a create/update body, including the rules that need the store.
async fn validated_spec(
    state: &AppState,
    ctx: &Ctx,
    body: Body,
    limit: usize,
) -> Result<WorkflowSpec, ApiError> {
    let spec = WorkflowSpec::from_request(&read_xml(body, limit).await?)?;
    let mut templates = HashMap::new();
    let mut buckets = HashSet::new();
    for op in spec.topology.nodes.iter().map(|n| &n.operation) {
        for id in op.template_id.iter().chain(&op.watermark_template_ids) {
            // A bucket sees its own templates and the official ones (bucket "").
            let visible = |t: &Template| t.bucket == ctx.bucket || t.bucket.is_empty();
            if let Some(t) = state.store.get_template(id).await?.filter(visible) {
                templates.insert(t.id.clone(), t);
            }
        }
        if let Some(output) = &op.output
            && state.store.bucket_exists(&output.bucket).await?
        {
            buckets.insert(output.bucket.clone());
        }
    }
    check_references(&spec.topology, &templates, &buckets)?;
    Ok(spec)
}

pub(super) async fn create(
    state: &AppState,
    ctx: &Ctx,
    body: Body,
    limit: usize,
) -> Result<Response, ApiError> {
    let spec = validated_spec(state, ctx, body, limit).await?;
    let now = now_unix();
    let workflow = Workflow {
        id: new_workflow_id(),
        bucket: ctx.bucket.clone(),
        name: spec.name,
        state: spec.state,
        topology_xml: spec.topology_xml,
        created: now,
        updated: now,
    };
    state.store.save_workflow(&workflow).await?;
    Ok(single(ctx, &workflow, state))
}

async fn owned(state: &AppState, ctx: &Ctx, id: &str) -> Result<Workflow, ApiError> {
    state
        .store
        .get_workflow(id)
        .await?
        .filter(|w| w.bucket == ctx.bucket)
        .ok_or_else(|| ApiError::not_found(format!("workflow {id} does not exist")))
}

pub(super) async fn update(
    state: &AppState,
    ctx: &Ctx,
    id: &str,
    body: Body,
    limit: usize,
) -> Result<Response, ApiError> {
    let existing = owned(state, ctx, id).await?;
    let switch = if query_value(&ctx.query, "active").is_some() {
        Some(WorkflowState::Active)
    } else if query_value(&ctx.query, "paused").is_some() {
        Some(WorkflowState::Paused)
    } else {
        None
    };
    let updated = match switch {
        Some(new_state) => Workflow {
            state: new_state,
            updated: now_unix(),
            ..existing
        },
        None => {
            if existing.state == WorkflowState::Active {
                return Err(ApiError::invalid(format!(
                    "workflow {id} is Active: pause the workflow before updating it"
                )));
            }
            let spec = validated_spec(state, ctx, body, limit).await?;
            Workflow {
                name: spec.name,
                state: spec.state,
                topology_xml: spec.topology_xml,
                updated: now_unix(),
                ..existing
            }
        }
    };
    state.store.save_workflow(&updated).await?;
    Ok(single(ctx, &updated, state))
}

pub(super) async fn delete(state: &AppState, ctx: &Ctx, id: &str) -> Result<Response, ApiError> {
    owned(state, ctx, id).await?;
    state.store.delete_workflow(id).await?;
    Ok(xml_response(
        &XmlElement::new("Response")
            .with_leaf("RequestId", &ctx.request_id)
            .with_leaf("WorkflowId", id),
    ))
}

pub(super) async fn list(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let ids = listing::list(ctx, "ids");
    let name = listing::value(ctx, "name").unwrap_or("");
    let all: Vec<Workflow> = state
        .store
        .list_workflows(&ctx.bucket)
        .await?
        .into_iter()
        .filter(|w| ids.is_empty() || ids.contains(&w.id.as_str()))
        .filter(|w| name.is_empty() || w.name == name)
        .collect();
    let mut doc = listing::paged_document(ctx, &all, |w| {
        let mut el = workflow_xml(w, state);
        el.name = "MediaWorkflowList".to_owned();
        el
    })?;
    for missing in ids.iter().filter(|id| !all.iter().any(|w| w.id == **id)) {
        doc.push_leaf("NonExistIDs", *missing);
    }
    Ok(xml_response(&doc))
}
