//! JSON shapes of the management API and its time formats.
//!
//! Times are RFC 3339 in UTC with milliseconds (`2026-11-27T12:00:00.123Z`); query parameters
//! accept that form or Unix seconds.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use reelflow_store::{AttemptLog, AttemptVerdict, CallbackMessage, CallbackState};
use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::AdminError;

/// A JSON response.
pub(crate) fn json(status: StatusCode, value: &impl Serialize) -> Response {
    let body = serde_json::to_string_pretty(value).unwrap_or_else(|_| "{}".to_owned());
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Unix ms as RFC 3339 UTC.
pub(crate) fn time(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

fn opt_time(ms: Option<i64>) -> Value {
    ms.map_or(Value::Null, |ms| Value::String(time(ms)))
}

/// Parses `2026-11-27T12:00:00Z` or Unix seconds into Unix ms.
pub(crate) fn parse_time(name: &str, text: &str) -> Result<i64, AdminError> {
    if let Ok(secs) = text.trim().parse::<i64>() {
        return Ok(secs.saturating_mul(1000));
    }
    OffsetDateTime::parse(text.trim(), &Rfc3339)
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .map_err(|_| AdminError::invalid(format!("{name}: expected RFC 3339 time or Unix seconds")))
}

/// A message without its body.
pub(crate) fn message(m: &CallbackMessage) -> Value {
    let next = (m.state == CallbackState::Pending).then_some(m.next_attempt_ms);
    json!({
        "id": m.id,
        "kind": m.origin.kind.as_str(),
        "state": m.state.as_str(),
        "bucket": m.origin.bucket,
        "workflow_id": m.origin.workflow_id,
        "run_id": m.origin.run_id,
        "job_id": m.origin.job_id,
        "url": m.url,
        "content_type": m.content_type,
        "attempt_count": m.attempts,
        "round": m.round,
        "created_at": time(m.created_ms),
        "next_attempt_at": opt_time(next),
        "next_attempt_trigger": next.map(|_| m.trigger.as_str()),
        "last_attempt_at": opt_time(m.last_attempt_ms),
        "last_status": m.last_status,
        "last_error": m.last_error,
        "delivered_at": opt_time(m.delivered_ms),
    })
}

/// A message with its body and attempt log.
pub(crate) fn message_detail(m: &CallbackMessage, attempts: &[AttemptLog]) -> Value {
    let mut value = message(m);
    value["body"] = Value::String(m.body.clone());
    value["attempts"] = attempts.iter().map(attempt).collect();
    value
}

fn attempt(a: &AttemptLog) -> Value {
    let (verdict, next) = match a.verdict {
        AttemptVerdict::Delivered => ("Delivered", None),
        AttemptVerdict::Retry { at_ms } => ("Retry", Some(at_ms)),
        AttemptVerdict::Exhausted => ("Exhausted", None),
    };
    json!({
        "number": a.number,
        "round": a.round,
        "trigger": a.trigger.as_str(),
        "started_at": time(a.started_ms),
        "duration_ms": a.duration_ms,
        "url": a.url,
        "status": a.status,
        "error_kind": a.error_kind,
        "error": a.error,
        "response_body": a.response_body,
        "verdict": verdict,
        "next_attempt_at": opt_time(next),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip() {
        assert_eq!(time(1_764_244_800_123), "2025-11-27T12:00:00.123Z");
        assert_eq!(
            parse_time("since", "2025-11-27T12:00:00.123Z").unwrap(),
            1_764_244_800_123
        );
        assert_eq!(
            parse_time("since", "1764244800").unwrap(),
            1_764_244_800_000
        );
        assert!(parse_time("since", "yesterday").is_err());
    }
}
