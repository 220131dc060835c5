//! Callback messages: list, show (with the attempt log), redeliver one, recover a time range.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use reelflow_store::{CallbackKind, CallbackQuery, CallbackState, RecoverFilter};
use serde::Deserialize;
use serde_json::json;

use super::views::{self, json, parse_time};
use super::{AdminError, Worker};
use crate::state::AppState;

const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 1000;

/// `GET /callbacks` filters.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListParams {
    bucket: Option<String>,
    workflow: Option<String>,
    run: Option<String>,
    state: Option<String>,
    kind: Option<String>,
    since: Option<String>,
    until: Option<String>,
    after: Option<String>,
    limit: Option<u32>,
}

impl ListParams {
    fn query(self) -> Result<CallbackQuery, AdminError> {
        let state = self
            .state
            .map(|s| {
                CallbackState::parse(&s).ok_or_else(|| {
                    AdminError::invalid("state: one of Pending, Sending, Delivered, Exhausted")
                })
            })
            .transpose()?;
        let kind = self
            .kind
            .map(|k| {
                CallbackKind::parse(&k)
                    .ok_or_else(|| AdminError::invalid("kind: WorkflowFinish or TaskFinish"))
            })
            .transpose()?;
        Ok(CallbackQuery {
            bucket: self.bucket,
            workflow_id: self.workflow,
            run_id: self.run,
            state,
            kind,
            created_from_ms: self.since.map(|t| parse_time("since", &t)).transpose()?,
            created_to_ms: self.until.map(|t| parse_time("until", &t)).transpose()?,
            after_id: self.after,
            limit: self.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE),
        })
    }
}

/// Messages, newest first; `next_after` continues the listing.
pub(crate) async fn list(
    State(state): State<AppState>,
    Query(params): Query<ListParams>,
) -> Result<Response, AdminError> {
    let query = params.query()?;
    let page = state.store.list_callbacks(&query).await?;
    let next_after = (page.len() as u32 == query.limit)
        .then(|| page.last().map(|m| m.id.clone()))
        .flatten();
    let items: Vec<_> = page.iter().map(views::message).collect();
    Ok(json(
        StatusCode::OK,
        &json!({"callbacks": items, "next_after": next_after}),
    ))
}

/// One message with its body and every attempt.
pub(crate) async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    let message = state
        .store
        .get_callback(&id)
        .await?
        .ok_or_else(|| AdminError::not_found(format!("no callback message {id}")))?;
    let attempts = state.store.callback_attempts(&id).await?;
    Ok(json(
        StatusCode::OK,
        &views::message_detail(&message, &attempts),
    ))
}

/// Sends one message again now, in a new delivery round, whatever its state.
pub(crate) async fn redeliver(
    State(state): State<AppState>,
    worker: Worker,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    let message = state
        .store
        .redeliver_callback(&id, now_ms())
        .await?
        .ok_or_else(|| AdminError::not_found(format!("no callback message {id}")))?;
    if message.state == CallbackState::Sending {
        return Err(AdminError::conflict(format!(
            "an attempt of {id} is in flight; redeliver it once the attempt ended"
        )));
    }
    if let Some(axum::extract::Extension(handle)) = worker {
        handle.wake();
    }
    tracing::info!(id = %id, "callback redelivery requested");
    Ok(json(StatusCode::ACCEPTED, &views::message(&message)))
}

/// `POST /callbacks/recover` parameters.
#[derive(Debug, Deserialize)]
pub(crate) struct RecoverParams {
    since: String,
    until: Option<String>,
    bucket: Option<String>,
    workflow: Option<String>,
}

/// Starts a new round for every exhausted message created in `[since, until)`.
pub(crate) async fn recover(
    State(state): State<AppState>,
    worker: Worker,
    Query(params): Query<RecoverParams>,
) -> Result<Response, AdminError> {
    let filter = RecoverFilter {
        since_ms: parse_time("since", &params.since)?,
        until_ms: params.until.map(|t| parse_time("until", &t)).transpose()?,
        bucket: params.bucket,
        workflow_id: params.workflow,
    };
    let ids = state.store.recover_callbacks(&filter, now_ms()).await?;
    if let Some(axum::extract::Extension(handle)) = worker {
        handle.wake();
    }
    tracing::info!(messages = ids.len(), "callback recovery requested");
    Ok(json(
        StatusCode::ACCEPTED,
        &json!({"recovered": ids.len(), "ids": ids}),
    ))
}

use reelflow_model::clock::now_ms;
