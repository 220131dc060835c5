//! Batch (inventory) trigger jobs (api-reference-2.md §4): create (`POST /inventorytriggerjob`),
//! describe (`GET /inventorytriggerjob/<id>`, `NonExistJobIds` for an unknown id), list
//! (`GET /inventorytriggerjob` with `type`, `states`, `orderByTime`, `size`, `nextToken`,
//! `startCreationTime`, `endCreationTime`, `workflowId`, `jobId`, `name`) and cancel
//! (`PUT /inventorytriggerjob/<id>?cancel`, or the Go SDK's bare PUT: 200 with
//! `Content-Length: 0`).

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use reelflow_engine::BatchError;
use reelflow_engine::batch::{UnsetTime, batch_detail};
use reelflow_model::XmlElement;
use reelflow_model::batch::{BatchState, BatchType};
use reelflow_model::ids::is_batch_id;
use reelflow_store::{BatchCancel, BatchQuery, BatchRecord};

use super::listing;
use crate::state::AppState;
use crate::xml::{read_xml, xml_response};
use crate::{ApiError, Ctx};

/// Most `Result` entries (object → instance/job) shown by a describe.
const RESULTS_SHOWN: u32 = 100;

impl From<BatchError> for ApiError {
    fn from(e: BatchError) -> Self {
        match e {
            BatchError::Invalid(i) => i.into(),
            BatchError::JobRequest(j) => j.into(),
            BatchError::Job(j) => j.into(),
            BatchError::NotFound(_) => ApiError::not_found(e.to_string()),
            BatchError::Engine(inner) => inner.into(),
        }
    }
}

/// `POST /inventorytriggerjob`.
pub(super) async fn create(
    state: &AppState,
    ctx: &Ctx,
    body: Body,
    limit: usize,
) -> Result<Response, ApiError> {
    let request = read_xml(body, limit).await?;
    let mut batch = state.engine.create_batch(&ctx.bucket, &request).await?;
    // The reference's create answer shows StartTime already set and an empty EndTime.
    batch.started = Some(batch.created);
    let detail = batch_detail(
        &batch,
        &Default::default(),
        &[],
        state.config.offset,
        UnsetTime::Empty,
    );
    Ok(xml_response(&response(ctx).with(detail)))
}

/// `GET /inventorytriggerjob/<id>`.
pub(super) async fn describe(state: &AppState, ctx: &Ctx, id: &str) -> Result<Response, ApiError> {
    let mut doc = response(ctx);
    match owned(state, ctx, id).await? {
        Some(batch) => {
            let progress = state.store.batch_progress(&batch.id).await?;
            let items = state
                .store
                .batch_items(&batch.id, None, RESULTS_SHOWN)
                .await?;
            doc.push(batch_detail(
                &batch,
                &progress,
                &items,
                state.config.offset,
                UnsetTime::Dash,
            ));
        }
        None => doc.push_leaf("NonExistJobIds", id),
    }
    Ok(xml_response(&doc))
}

/// `PUT /inventorytriggerjob/<id>[?cancel]`: 200, empty body.
pub(super) async fn cancel(state: &AppState, ctx: &Ctx, id: &str) -> Result<Response, ApiError> {
    if owned(state, ctx, id).await?.is_none() {
        return Err(ApiError::not_found(format!(
            "batch trigger job {id} does not exist"
        )));
    }
    match state.engine.cancel_batch(id).await? {
        // An ended batch stays as it ended; the call still succeeds (a client cancelling a
        // batch that just finished is not in error).
        BatchCancel::Cancelled(_) | BatchCancel::AlreadyEnded(_) => {}
        BatchCancel::NotFound => {
            return Err(ApiError::not_found(format!(
                "batch trigger job {id} does not exist"
            )));
        }
    }
    let mut answer = Response::new(Body::empty());
    answer
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    *answer.status_mut() = StatusCode::OK;
    Ok(answer)
}

/// `GET /inventorytriggerjob`.
pub(super) async fn list(state: &AppState, ctx: &Ctx) -> Result<Response, ApiError> {
    let query = batch_query(ctx)?;
    let limit = query.limit as usize;
    let found = state
        .store
        .list_batches(&BatchQuery {
            limit: query.limit + 1,
            ..query
        })
        .await?;
    let mut doc = response(ctx);
    for batch in found.iter().take(limit) {
        let progress = state.store.batch_progress(&batch.id).await?;
        doc.push(batch_detail(
            batch,
            &progress,
            &[],
            state.config.offset,
            UnsetTime::Dash,
        ));
    }
    let next = if found.len() > limit {
        found[limit - 1].id.clone()
    } else {
        String::new()
    };
    doc.push_leaf("NextToken", next);
    Ok(xml_response(&doc))
}

fn response(ctx: &Ctx) -> XmlElement {
    XmlElement::new("Response").with_leaf("RequestId", &ctx.request_id)
}

/// The batch `id` if it exists in the request's bucket.
async fn owned(state: &AppState, ctx: &Ctx, id: &str) -> Result<Option<BatchRecord>, ApiError> {
    if !is_batch_id(id) {
        return Ok(None);
    }
    Ok(state
        .store
        .get_batch(id)
        .await?
        .filter(|b| b.bucket == ctx.bucket))
}

fn batch_query(ctx: &Ctx) -> Result<BatchQuery, ApiError> {
    let kind = listing::value(ctx, "type")
        .map(|t| {
            BatchType::parse(t).ok_or_else(|| {
                ApiError::invalid(format!("type must be Workflow or Job, got {t:?}"))
            })
        })
        .transpose()?;
    Ok(BatchQuery {
        bucket: ctx.bucket.clone(),
        kind,
        states: listing::states(ctx, BatchState::parse)?,
        workflow_id: listing::value(ctx, "workflowId").map(str::to_owned),
        id: listing::value(ctx, "jobId").map(str::to_owned),
        name: listing::value(ctx, "name").map(str::to_owned),
        created_from: listing::time(ctx, "startCreationTime")?,
        created_to: listing::time(ctx, "endCreationTime")?,
        descending: listing::descending(ctx)?,
        after_id: listing::next_token(ctx, is_batch_id)?,
        limit: listing::bounded(ctx, "size", 10, 100)?,
    })
}
