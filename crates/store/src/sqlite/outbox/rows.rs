//! Row → outbox type conversions.

use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::StoreResult;
use crate::callbacks::{
    AttemptLog, AttemptTrigger, AttemptVerdict, CallbackKind, CallbackMessage, CallbackOrigin,
    CallbackState,
};
use crate::error::corrupt;

fn status(value: Option<i64>) -> Option<u16> {
    value.and_then(|v| u16::try_from(v).ok())
}

fn count(value: i64) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

pub(super) fn message(row: &SqliteRow) -> StoreResult<CallbackMessage> {
    let kind: String = row.try_get("kind")?;
    let state: String = row.try_get("state")?;
    let trigger: String = row.try_get("next_trigger")?;
    Ok(CallbackMessage {
        id: row.try_get("id")?,
        origin: CallbackOrigin {
            kind: CallbackKind::parse(&kind).ok_or_else(|| corrupt("callbacks.kind", &kind))?,
            run_id: row.try_get("run_id")?,
            job_id: row.try_get("job_id")?,
            bucket: row.try_get("bucket")?,
            workflow_id: row.try_get("workflow_id")?,
        },
        url: row.try_get("url")?,
        endpoint: row.try_get("endpoint")?,
        content_type: row.try_get("content_type")?,
        body: row.try_get("body")?,
        state: CallbackState::parse(&state).ok_or_else(|| corrupt("callbacks.state", &state))?,
        attempts: count(row.try_get("attempts")?),
        round: count(row.try_get("round")?),
        round_attempts: count(row.try_get("round_attempts")?),
        trigger: AttemptTrigger::parse(&trigger),
        next_attempt_ms: row.try_get("next_attempt_ms")?,
        created_ms: row.try_get("created_ms")?,
        last_attempt_ms: row.try_get("last_attempt_ms")?,
        last_status: status(row.try_get("last_status")?),
        last_error: row.try_get("last_error")?,
        delivered_ms: row.try_get("delivered_ms")?,
    })
}

pub(super) fn attempt(row: &SqliteRow) -> StoreResult<AttemptLog> {
    let verdict: String = row.try_get("verdict")?;
    let next: Option<i64> = row.try_get("next_attempt_ms")?;
    let verdict = match (verdict.as_str(), next) {
        ("Delivered", _) => AttemptVerdict::Delivered,
        ("Retry", Some(at_ms)) => AttemptVerdict::Retry { at_ms },
        ("Exhausted", _) => AttemptVerdict::Exhausted,
        _ => return Err(corrupt("callback_attempts.verdict", verdict)),
    };
    Ok(AttemptLog {
        message_id: row.try_get("message_id")?,
        number: count(row.try_get("number")?),
        round: count(row.try_get("round")?),
        trigger: AttemptTrigger::parse(&row.try_get::<String, _>("triggered_by")?),
        started_ms: row.try_get("started_ms")?,
        duration_ms: row.try_get("duration_ms")?,
        url: row.try_get("url")?,
        status: status(row.try_get("status")?),
        error_kind: row.try_get("error_kind")?,
        error: row.try_get("error")?,
        response_body: row.try_get("response_body")?,
        verdict,
    })
}
