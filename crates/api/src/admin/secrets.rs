//! Per-bucket signing secrets: show (generating the bucket's own when it has none and the
//! server has no default) and rotate with a grace period.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use reelflow_notify::{SecretInfo, WebhookSecret, parse_duration};
use serde::Deserialize;
use serde_json::json;

use super::views::{json, time};
use super::{AdminError, Worker, worker};
use crate::state::AppState;

/// How long the replaced secret keeps signing unless the request says otherwise.
const DEFAULT_GRACE: Duration = Duration::from_secs(24 * 3600);

fn view(info: &SecretInfo) -> serde_json::Value {
    json!({
        "bucket": info.bucket,
        "secret": info.secret,
        "source": info.source.as_str(),
        "previous": info.previous,
        "previous_valid_until": info.previous_until_ms.map(time),
    })
}

async fn existing(state: &AppState, bucket: &str) -> Result<(), AdminError> {
    if state.store.bucket_exists(bucket).await? {
        Ok(())
    } else {
        Err(AdminError::not_found(format!(
            "bucket {bucket} does not exist"
        )))
    }
}

/// The secrets that sign the bucket's callbacks now.
pub(crate) async fn show(
    State(state): State<AppState>,
    handle: Worker,
    Path(bucket): Path<String>,
) -> Result<Response, AdminError> {
    let handle = worker(handle)?;
    existing(&state, &bucket).await?;
    let info = handle.secrets().describe(&bucket).await?;
    Ok(json(StatusCode::OK, &view(&info)))
}

/// Optional JSON body of a rotation.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RotateBody {
    /// The new `whsec_…` secret; generated when absent.
    secret: Option<String>,
    /// Grace period of the old secret (`30m`, `24h`); 24 h when absent.
    grace: Option<String>,
}

/// Makes a new secret current; the old one keeps signing for the grace period.
pub(crate) async fn rotate(
    State(state): State<AppState>,
    handle: Worker,
    Path(bucket): Path<String>,
    body: Bytes,
) -> Result<Response, AdminError> {
    let handle = worker(handle)?;
    existing(&state, &bucket).await?;
    let request: RotateBody = if body.iter().all(u8::is_ascii_whitespace) {
        RotateBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| AdminError::invalid(format!("rotation body: {e}")))?
    };
    let secret = request
        .secret
        .map(|s| WebhookSecret::parse(&s))
        .transpose()
        .map_err(|e| AdminError::invalid(e.to_string()))?;
    let grace = match request.grace {
        Some(text) => parse_duration(&text)
            .ok_or_else(|| AdminError::invalid("grace: a duration like 30m or 24h"))?,
        None => DEFAULT_GRACE,
    };
    let info = handle.secrets().rotate(&bucket, secret, grace).await?;
    tracing::info!(bucket = %bucket, ?grace, "callback secret rotated");
    Ok(json(StatusCode::OK, &view(&info)))
}
