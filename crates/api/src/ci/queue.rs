//! Queues: `GET /queue` and `PUT /queue/<id>`. Each bucket has one default queue, created on
//! first use.

use axum::body::Body;
use axum::response::Response;
use reelflow_model::XmlElement;
use reelflow_model::clock::now_unix;
use reelflow_model::queue::{Queue, apply_update};

use super::listing;
use crate::state::AppState;
use crate::xml::{read_xml, xml_response};
use crate::{ApiError, Ctx};

fn queue_xml(q: &Queue, name: &str, state: &AppState) -> XmlElement {
    let offset = state.config.offset;
    let mut notify = q.notify.clone();
    notify.name = "NotifyConfig".to_owned();
    XmlElement::new(name)
        .with_leaf("QueueId", &q.id)
        .with_leaf("Name", &q.name)
        .with_leaf("State", q.state())
        .with_leaf("MaxSize", q.max_size.to_string())
        .with_leaf("MaxConcurrent", q.max_concurrent.to_string())
        .with_leaf("CreateTime", offset.api_time(q.created))
        .with_leaf("UpdateTime", offset.api_time(q.updated))
        .with_leaf("BucketId", &q.bucket)
        .with_leaf("Category", "CateAll")
        .with(notify)
}

pub(super) async fn list(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    state.engine.queue_for(&ctx.bucket, None).await?;
    let ids = listing::list(ctx, "queueIds");
    let wanted_state = listing::value(ctx, "state").filter(|s| !s.eq_ignore_ascii_case("All"));
    if let Some(s) = wanted_state
        .filter(|s| !s.eq_ignore_ascii_case("Active") && !s.eq_ignore_ascii_case("Paused"))
    {
        return Err(ApiError::invalid(format!(
            "state must be All, Active or Paused, got {s:?}"
        )));
    }
    let all: Vec<Queue> = state
        .store
        .list_queues(&ctx.bucket)
        .await?
        .into_iter()
        .filter(|q| ids.is_empty() || ids.contains(&q.id.as_str()))
        .filter(|q| wanted_state.is_none_or(|s| q.state().eq_ignore_ascii_case(s)))
        .collect();
    let mut doc = listing::paged_document(ctx, &all, |q| queue_xml(q, "QueueList", state))?;
    for missing in ids.iter().filter(|id| !all.iter().any(|q| q.id == **id)) {
        doc.push_leaf("NonExistPIDs", *missing);
    }
    Ok(xml_response(&doc))
}

pub(super) async fn update(
    state: &AppState,
    ctx: &Ctx,
    id: &str,
    body: Body,
    limit: usize,
) -> Result<Response, ApiError> {
    let queue = state
        .store
        .get_queue(id)
        .await?
        .filter(|q| q.bucket == ctx.bucket)
        .ok_or_else(|| ApiError::not_found(format!("queue {id} does not exist")))?;
    let updated = apply_update(&queue, &read_xml(body, limit).await?, now_unix())?;
    state.store.save_queue(&updated).await?;
    if updated.active && !queue.active {
        state.engine.wake();
    }
    Ok(xml_response(
        &XmlElement::new("Response")
            .with_leaf("RequestId", &ctx.request_id)
            .with(queue_xml(&updated, "Queue", state)),
    ))
}
