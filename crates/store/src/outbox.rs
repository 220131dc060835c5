//! The outbox rule both backends share: how logging a delivery attempt changes its message.
//!
//! (SQLite used to apply it in an `AFTER INSERT` trigger on `callback_attempts`; the rule now
//! lives here once, as the effect of each verdict plus one SQL text that both backends execute,
//! with their own placeholder syntax, next to the `INSERT` of the attempt rows.)
//!
//! An attempt's verdict applies only while the attempt's node still holds the message's lease
//! (`state = 'Sending' AND lease_owner = node`): an attempt of a node whose lease was taken over
//! is logged but changes nothing. The first attempt of a message in a batch releases its lease,
//! so a later attempt of the same message in that batch is logged only.

use std::collections::HashSet;

use sqlx::query::Query;
use sqlx::{Database, Encode, Type};

use crate::callbacks::{AttemptLog, AttemptVerdict, CallbackState};
use crate::rows::clean_text;

/// Bound values per attempt row in [`insert_attempts_sql`].
pub(crate) const ATTEMPT_COLUMNS: usize = 14;

/// Bound values per effect row in [`apply_effects_sql`].
pub(crate) const EFFECT_COLUMNS: usize = 7;

/// The stored verdict name and the retry time it carries.
pub(crate) fn verdict_columns(verdict: AttemptVerdict) -> (&'static str, Option<i64>) {
    match verdict {
        AttemptVerdict::Delivered => ("Delivered", None),
        AttemptVerdict::Retry { at_ms } => ("Retry", Some(at_ms)),
        AttemptVerdict::Exhausted => ("Exhausted", None),
    }
}

/// What one attempt does to its message (when its node still holds the lease).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VerdictEffect<'a> {
    /// The message.
    pub message_id: &'a str,
    /// Delivered, Pending (retry) or Exhausted.
    pub state: CallbackState,
    /// Becomes `last_attempt_ms`.
    pub started_ms: i64,
    /// Becomes `last_status`.
    pub status: Option<i64>,
    /// Becomes `last_error`.
    pub error: &'a str,
    /// The retry time, for `Retry`; otherwise `next_attempt_ms` is kept.
    pub next_attempt_ms: Option<i64>,
    /// End of the delivering attempt, for `Delivered`; otherwise `delivered_ms` is kept.
    pub delivered_ms: Option<i64>,
}

impl<'a> VerdictEffect<'a> {
    /// The effect of one attempt.
    pub(crate) fn of(attempt: &'a AttemptLog) -> Self {
        let (state, next_attempt_ms, delivered_ms) = match attempt.verdict {
            AttemptVerdict::Delivered => (
                CallbackState::Delivered,
                None,
                Some(attempt.started_ms + attempt.duration_ms),
            ),
            AttemptVerdict::Retry { at_ms } => (CallbackState::Pending, Some(at_ms), None),
            AttemptVerdict::Exhausted => (CallbackState::Exhausted, None, None),
        };
        VerdictEffect {
            message_id: &attempt.message_id,
            state,
            started_ms: attempt.started_ms,
            status: attempt.status.map(i64::from),
            error: &attempt.error,
            next_attempt_ms,
            delivered_ms,
        }
    }
}

/// The effects of a batch: the first attempt of each message, in batch order.
pub(crate) fn verdict_effects(attempts: &[AttemptLog]) -> Vec<VerdictEffect<'_>> {
    let mut seen = HashSet::new();
    attempts
        .iter()
        .filter(|a| seen.insert(a.message_id.as_str()))
        .map(VerdictEffect::of)
        .collect()
}

/// `INSERT` of `rows` attempt rows; placeholders `1..=rows * ATTEMPT_COLUMNS` in the order of
/// [`bind_attempts`].
pub(crate) fn insert_attempts_sql(rows: usize, placeholder: fn(usize) -> String) -> String {
    let values = tuples(rows, ATTEMPT_COLUMNS, 1, placeholder);
    format!(
        "INSERT INTO callback_attempts (message_id, number, round, triggered_by, started_ms, \
         duration_ms, url, status, error_kind, error, response_body, verdict, next_attempt_ms, \
         node) VALUES {values}"
    )
}

/// The `UPDATE` applying `rows` effects; placeholder `first` is the node, then
/// `rows * EFFECT_COLUMNS` values in the order of [`bind_effects`].
pub(crate) fn apply_effects_sql(
    rows: usize,
    first: usize,
    placeholder: fn(usize) -> String,
) -> String {
    let node = placeholder(first);
    let values = tuples(rows, EFFECT_COLUMNS, first + 1, placeholder);
    // VALUES columns are named column1.. in both SQLite and PostgreSQL.
    format!(
        "UPDATE callbacks SET state = v.column2, attempts = attempts + 1, \
         round_attempts = round_attempts + 1, last_attempt_ms = v.column3, \
         last_status = v.column4, last_error = v.column5, \
         next_attempt_ms = COALESCE(v.column6, callbacks.next_attempt_ms), \
         delivered_ms = COALESCE(v.column7, callbacks.delivered_ms), \
         next_trigger = 'Scheduled', lease_owner = NULL, lease_until_ms = NULL \
         FROM (VALUES {values}) AS v \
         WHERE callbacks.id = v.column1 AND callbacks.state = 'Sending' \
         AND callbacks.lease_owner = {node}"
    )
}

fn tuples(rows: usize, columns: usize, first: usize, placeholder: fn(usize) -> String) -> String {
    (0..rows)
        .map(|row| {
            let cells: Vec<String> = (0..columns)
                .map(|col| placeholder(first + row * columns + col))
                .collect();
            format!("({})", cells.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Binds attempt rows for [`insert_attempts_sql`], free text cleaned as everywhere.
pub(crate) fn bind_attempts<'q, DB: Database>(
    mut query: Query<'q, DB, <DB as Database>::Arguments>,
    owner: &str,
    attempts: &[AttemptLog],
) -> Query<'q, DB, <DB as Database>::Arguments>
where
    for<'t> &'t str: Encode<'t, DB> + Type<DB>,
    for<'t> Option<&'t str>: Encode<'t, DB> + Type<DB>,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
    for<'t> Option<i64>: Encode<'t, DB> + Type<DB>,
{
    for a in attempts {
        let (verdict, next_ms) = verdict_columns(a.verdict);
        query = query
            .bind(a.message_id.as_str())
            .bind(i64::from(a.number))
            .bind(i64::from(a.round))
            .bind(a.trigger.as_str())
            .bind(a.started_ms)
            .bind(a.duration_ms)
            .bind(clean_text(&a.url).as_ref())
            .bind(a.status.map(i64::from))
            .bind(a.error_kind.as_deref().map(clean_text).as_deref())
            .bind(clean_text(&a.error).as_ref())
            .bind(clean_text(&a.response_body).as_ref())
            .bind(verdict)
            .bind(next_ms)
            .bind(owner);
    }
    query
}

/// Binds the node and the effects for [`apply_effects_sql`].
pub(crate) fn bind_effects<'q, DB: Database>(
    mut query: Query<'q, DB, <DB as Database>::Arguments>,
    owner: &str,
    effects: &[VerdictEffect<'_>],
) -> Query<'q, DB, <DB as Database>::Arguments>
where
    for<'t> &'t str: Encode<'t, DB> + Type<DB>,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
    for<'t> Option<i64>: Encode<'t, DB> + Type<DB>,
{
    query = query.bind(owner);
    for e in effects {
        query = query
            .bind(e.message_id)
            .bind(e.state.as_str())
            .bind(e.started_ms)
            .bind(e.status)
            .bind(clean_text(e.error).as_ref())
            .bind(e.next_attempt_ms)
            .bind(e.delivered_ms);
    }
    query
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callbacks::AttemptTrigger;

    fn attempt(id: &str, verdict: AttemptVerdict) -> AttemptLog {
        AttemptLog {
            message_id: id.into(),
            number: 1,
            round: 1,
            trigger: AttemptTrigger::Scheduled,
            started_ms: 100,
            duration_ms: 5,
            url: "http://h/".into(),
            status: Some(200),
            error_kind: None,
            error: String::new(),
            response_body: String::new(),
            verdict,
        }
    }

    #[test]
    fn verdicts_map_to_states_and_times() {
        let delivered = attempt("a", AttemptVerdict::Delivered);
        let e = VerdictEffect::of(&delivered);
        assert_eq!(
            (e.state, e.delivered_ms),
            (CallbackState::Delivered, Some(105))
        );
        let retry = attempt("a", AttemptVerdict::Retry { at_ms: 7 });
        let e = VerdictEffect::of(&retry);
        assert_eq!(
            (e.state, e.next_attempt_ms),
            (CallbackState::Pending, Some(7))
        );
        let done = attempt("a", AttemptVerdict::Exhausted);
        assert_eq!(VerdictEffect::of(&done).state, CallbackState::Exhausted);
    }

    #[test]
    fn only_the_first_attempt_of_a_message_in_a_batch_has_an_effect() {
        let batch = [
            attempt("a", AttemptVerdict::Retry { at_ms: 1 }),
            attempt("b", AttemptVerdict::Delivered),
            attempt("a", AttemptVerdict::Delivered),
        ];
        let effects = verdict_effects(&batch);
        assert_eq!(effects.len(), 2);
        assert_eq!(effects[0].state, CallbackState::Pending);
        assert_eq!(effects[1].message_id, "b");
    }

    #[test]
    fn placeholders_number_through_both_statements() {
        let pg = |n: usize| format!("${n}");
        assert!(insert_attempts_sql(2, pg).ends_with("$27, $28)"));
        let update = apply_effects_sql(1, 29, pg);
        assert!(update.contains("($30, $31, $32, $33, $34, $35, $36)"));
        assert!(update.ends_with("lease_owner = $29"));
    }
}
