//! Row → outbox type conversions.

use super::Cols;
use crate::StoreResult;
use crate::callbacks::{
    AttemptLog, AttemptTrigger, AttemptVerdict, BucketSecret, CallbackKind, CallbackMessage,
    CallbackOrigin, CallbackState,
};
use crate::error::corrupt;

fn status(value: Option<i64>) -> Option<u16> {
    value.and_then(|v| u16::try_from(v).ok())
}

fn count(value: i64) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

pub(crate) fn message(row: &impl Cols) -> StoreResult<CallbackMessage> {
    let kind = row.text("kind")?;
    let state = row.text("state")?;
    Ok(CallbackMessage {
        id: row.text("id")?,
        origin: CallbackOrigin {
            kind: CallbackKind::parse(&kind).ok_or_else(|| corrupt("callbacks.kind", &kind))?,
            run_id: row.text("run_id")?,
            job_id: row.opt_text("job_id")?,
            bucket: row.text("bucket")?,
            workflow_id: row.text("workflow_id")?,
        },
        url: row.text("url")?,
        endpoint: row.text("endpoint")?,
        content_type: row.text("content_type")?,
        body: row.text("body")?,
        state: CallbackState::parse(&state).ok_or_else(|| corrupt("callbacks.state", &state))?,
        attempts: count(row.int("attempts")?),
        round: count(row.int("round")?),
        round_attempts: count(row.int("round_attempts")?),
        trigger: AttemptTrigger::parse(&row.text("next_trigger")?),
        next_attempt_ms: row.int("next_attempt_ms")?,
        created_ms: row.int("created_ms")?,
        last_attempt_ms: row.opt_int("last_attempt_ms")?,
        last_status: status(row.opt_int("last_status")?),
        last_error: row.text("last_error")?,
        delivered_ms: row.opt_int("delivered_ms")?,
    })
}

pub(crate) fn attempt(row: &impl Cols) -> StoreResult<AttemptLog> {
    let verdict = row.text("verdict")?;
    let next = row.opt_int("next_attempt_ms")?;
    let verdict = match (verdict.as_str(), next) {
        ("Delivered", _) => AttemptVerdict::Delivered,
        ("Retry", Some(at_ms)) => AttemptVerdict::Retry { at_ms },
        ("Exhausted", _) => AttemptVerdict::Exhausted,
        _ => return Err(corrupt("callback_attempts.verdict", verdict)),
    };
    Ok(AttemptLog {
        message_id: row.text("message_id")?,
        number: count(row.int("number")?),
        round: count(row.int("round")?),
        trigger: AttemptTrigger::parse(&row.text("triggered_by")?),
        started_ms: row.int("started_ms")?,
        duration_ms: row.int("duration_ms")?,
        url: row.text("url")?,
        status: status(row.opt_int("status")?),
        error_kind: row.opt_text("error_kind")?,
        error: row.text("error")?,
        response_body: row.text("response_body")?,
        verdict,
    })
}

pub(crate) fn secret(row: &impl Cols) -> StoreResult<BucketSecret> {
    Ok(BucketSecret {
        bucket: row.text("bucket")?,
        secret: row.text("secret")?,
        previous: row.opt_text("previous")?,
        previous_until_ms: row.opt_int("previous_until_ms")?,
        updated_ms: row.int("updated_ms")?,
    })
}
