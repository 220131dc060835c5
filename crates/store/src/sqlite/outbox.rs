//! The callback outbox on SQLite (see [`crate::callbacks`] for the state machine).
//!
//! Every step is one statement or one short transaction, so many delivery tasks share the
//! database without holding it: claims lease a whole batch with one `UPDATE … RETURNING`, the
//! node's heartbeat renews all its leases with one statement, and attempt results arrive in
//! batches that are written in one transaction (one fsync for hundreds of attempts).

mod rows;
mod secrets;

use async_trait::async_trait;
use sqlx::query::Query;
use sqlx::sqlite::SqliteArguments;
use sqlx::{Sqlite, SqliteConnection, SqlitePool};

use super::SqliteStore;
use crate::StoreResult;
use crate::callbacks::{
    AttemptLog, AttemptVerdict, BucketSecret, CallbackMessage, CallbackOrigin, CallbackQuery,
    CallbackState, CallbackStats, CallbackStore, ClaimRequest, NewCallback, RecoverFilter,
    endpoint_of,
};

/// Inserts a message inside the caller's transaction (the one that ends its subject); a
/// message whose id exists is left alone, so replays of that transaction stay idempotent.
pub(crate) async fn insert_callback(
    conn: &mut SqliteConnection,
    origin: &CallbackOrigin,
    message: &NewCallback,
    created_ms: i64,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "INSERT OR IGNORE INTO callbacks (id, run_id, bucket, url, content_type, body, state, \
         attempts, next_attempt_ms, created_ms, kind, job_id, workflow_id, endpoint) \
         VALUES (?, ?, ?, ?, ?, ?, 'Pending', 0, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&message.id)
    .bind(&origin.run_id)
    .bind(&origin.bucket)
    .bind(&message.url)
    .bind(&message.content_type)
    .bind(&message.body)
    .bind(created_ms)
    .bind(created_ms)
    .bind(origin.kind.as_str())
    .bind(origin.job_id.as_deref())
    .bind(&origin.workflow_id)
    .bind(endpoint_of(&message.url))
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

async fn record_one(conn: &mut SqliteConnection, owner: &str, a: &AttemptLog) -> StoreResult<()> {
    let (verdict, next_ms) = match a.verdict {
        AttemptVerdict::Delivered => ("Delivered", None),
        AttemptVerdict::Retry { at_ms } => ("Retry", Some(at_ms)),
        AttemptVerdict::Exhausted => ("Exhausted", None),
    };
    sqlx::query(
        "INSERT INTO callback_attempts (message_id, number, round, triggered_by, started_ms, \
         duration_ms, url, status, error_kind, error, response_body, verdict, next_attempt_ms) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&a.message_id)
    .bind(i64::from(a.number))
    .bind(i64::from(a.round))
    .bind(a.trigger.as_str())
    .bind(a.started_ms)
    .bind(a.duration_ms)
    .bind(&a.url)
    .bind(a.status.map(i64::from))
    .bind(a.error_kind.as_deref())
    .bind(&a.error)
    .bind(&a.response_body)
    .bind(verdict)
    .bind(next_ms)
    .execute(&mut *conn)
    .await?;
    let state = match a.verdict {
        AttemptVerdict::Delivered => CallbackState::Delivered,
        AttemptVerdict::Retry { .. } => CallbackState::Pending,
        AttemptVerdict::Exhausted => CallbackState::Exhausted,
    };
    let delivered_ms = (state == CallbackState::Delivered).then_some(a.started_ms + a.duration_ms);
    sqlx::query(
        "UPDATE callbacks SET state = ?, attempts = attempts + 1, \
         round_attempts = round_attempts + 1, last_attempt_ms = ?, last_status = ?, \
         last_error = ?, next_attempt_ms = COALESCE(?, next_attempt_ms), \
         delivered_ms = COALESCE(?, delivered_ms), next_trigger = 'Scheduled', \
         lease_owner = NULL, lease_until_ms = NULL \
         WHERE id = ? AND state = 'Sending' AND lease_owner = ?",
    )
    .bind(state.as_str())
    .bind(a.started_ms)
    .bind(a.status.map(i64::from))
    .bind(&a.error)
    .bind(next_ms)
    .bind(delivered_ms)
    .bind(&a.message_id)
    .bind(owner)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn fetch_messages(
    pool: &SqlitePool,
    query: Query<'_, Sqlite, SqliteArguments>,
) -> StoreResult<Vec<CallbackMessage>> {
    let rows = query.fetch_all(pool).await?;
    rows.iter().map(rows::message).collect()
}

const LIST_SQL: &str = "SELECT * FROM callbacks WHERE (?1 IS NULL OR bucket = ?1) \
    AND (?2 IS NULL OR workflow_id = ?2) AND (?3 IS NULL OR run_id = ?3) \
    AND (?4 IS NULL OR state = ?4) AND (?5 IS NULL OR kind = ?5) \
    AND (?6 IS NULL OR created_ms >= ?6) AND (?7 IS NULL OR created_ms < ?7) \
    AND (?8 IS NULL OR (created_ms, id) < (SELECT created_ms, id FROM callbacks WHERE id = ?8)) \
    ORDER BY created_ms DESC, id DESC LIMIT ?9";

#[async_trait]
impl CallbackStore for SqliteStore {
    async fn enqueue_callback(
        &self,
        origin: &CallbackOrigin,
        message: &NewCallback,
        now_ms: i64,
    ) -> StoreResult<bool> {
        let mut conn = self.pool.acquire().await?;
        insert_callback(&mut conn, origin, message, now_ms).await
    }

    async fn claim_callbacks(&self, claim: &ClaimRequest) -> StoreResult<Vec<CallbackMessage>> {
        let skip = serde_json::to_string(&claim.skip_endpoints).unwrap_or_else(|_| "[]".into());
        let query = sqlx::query(
            "UPDATE callbacks SET state = 'Sending', lease_owner = ?1, lease_until_ms = ?2 \
             WHERE id IN (SELECT id FROM callbacks WHERE state = 'Pending' \
             AND next_attempt_ms <= ?3 AND endpoint NOT IN (SELECT value FROM json_each(?4)) \
             ORDER BY next_attempt_ms, id LIMIT ?5) RETURNING *",
        )
        .bind(&claim.owner)
        .bind(claim.lease_until_ms)
        .bind(claim.now_ms)
        .bind(skip)
        .bind(i64::from(claim.limit));
        let mut claimed = fetch_messages(&self.pool, query).await?;
        claimed.sort_by(|a, b| (a.next_attempt_ms, &a.id).cmp(&(b.next_attempt_ms, &b.id)));
        Ok(claimed)
    }

    async fn renew_callback_leases(&self, owner: &str, lease_until_ms: i64) -> StoreResult<u64> {
        let done = sqlx::query(
            "UPDATE callbacks SET lease_until_ms = ? WHERE state = 'Sending' AND lease_owner = ?",
        )
        .bind(lease_until_ms)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn record_callback_attempts(
        &self,
        owner: &str,
        attempts: &[AttemptLog],
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        for attempt in attempts {
            record_one(&mut tx, owner, attempt).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn requeue_callbacks(&self, now_ms: i64, owner: Option<&str>) -> StoreResult<u64> {
        let done = sqlx::query(
            "UPDATE callbacks SET state = 'Pending', lease_owner = NULL, lease_until_ms = NULL \
             WHERE state = 'Sending' AND (lease_until_ms < ? OR lease_owner = ?)",
        )
        .bind(now_ms)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn next_callback_due(&self, skip_endpoints: &[String]) -> StoreResult<Option<i64>> {
        let skip = serde_json::to_string(skip_endpoints).unwrap_or_else(|_| "[]".into());
        let next: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(next_attempt_ms) FROM callbacks WHERE state = 'Pending' \
             AND endpoint NOT IN (SELECT value FROM json_each(?))",
        )
        .bind(skip)
        .fetch_one(&self.pool)
        .await?;
        Ok(next)
    }

    async fn get_callback(&self, id: &str) -> StoreResult<Option<CallbackMessage>> {
        let query = sqlx::query("SELECT * FROM callbacks WHERE id = ?").bind(id);
        let found = fetch_messages(&self.pool, query).await?;
        Ok(found.into_iter().next())
    }

    async fn list_callbacks(&self, q: &CallbackQuery) -> StoreResult<Vec<CallbackMessage>> {
        let query = sqlx::query(LIST_SQL)
            .bind(q.bucket.as_deref())
            .bind(q.workflow_id.as_deref())
            .bind(q.run_id.as_deref())
            .bind(q.state.map(CallbackState::as_str))
            .bind(q.kind.map(|k| k.as_str()))
            .bind(q.created_from_ms)
            .bind(q.created_to_ms)
            .bind(q.after_id.as_deref())
            .bind(i64::from(q.limit));
        fetch_messages(&self.pool, query).await
    }

    async fn callbacks_for_run(&self, run_id: &str) -> StoreResult<Vec<CallbackMessage>> {
        let query = sqlx::query("SELECT * FROM callbacks WHERE run_id = ? ORDER BY created_ms, id")
            .bind(run_id);
        fetch_messages(&self.pool, query).await
    }

    async fn callback_attempts(&self, id: &str) -> StoreResult<Vec<AttemptLog>> {
        let rows = sqlx::query("SELECT * FROM callback_attempts WHERE message_id = ? ORDER BY seq")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(rows::attempt).collect()
    }

    async fn redeliver_callback(
        &self,
        id: &str,
        now_ms: i64,
    ) -> StoreResult<Option<CallbackMessage>> {
        let query = sqlx::query(
            "UPDATE callbacks SET state = 'Pending', next_attempt_ms = ?2, \
             next_trigger = 'Manual', round = round + 1, round_attempts = 0 \
             WHERE id = ?1 AND state != 'Sending' RETURNING *",
        )
        .bind(id)
        .bind(now_ms);
        let restarted = fetch_messages(&self.pool, query).await?;
        match restarted.into_iter().next() {
            Some(message) => Ok(Some(message)),
            None => self.get_callback(id).await,
        }
    }

    async fn recover_callbacks(&self, f: &RecoverFilter, now_ms: i64) -> StoreResult<Vec<String>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "UPDATE callbacks SET state = 'Pending', next_attempt_ms = ?1, \
             next_trigger = 'Manual', round = round + 1, round_attempts = 0 \
             WHERE state = 'Exhausted' AND created_ms >= ?2 AND created_ms < ?3 \
             AND (?4 IS NULL OR bucket = ?4) AND (?5 IS NULL OR workflow_id = ?5) RETURNING id",
        )
        .bind(now_ms)
        .bind(f.since_ms)
        .bind(f.until_ms.unwrap_or(i64::MAX))
        .bind(f.bucket.as_deref())
        .bind(f.workflow_id.as_deref())
        .fetch_all(&self.pool)
        .await?;
        Ok(ids)
    }

    async fn callback_stats(&self) -> StoreResult<CallbackStats> {
        let counts: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, COUNT(*) FROM callbacks GROUP BY state")
                .fetch_all(&self.pool)
                .await?;
        let mut stats = CallbackStats::default();
        for (state, n) in counts {
            if let Some(i) = CallbackState::ALL.iter().position(|s| s.as_str() == state) {
                stats.by_state[i] = n.max(0) as u64;
            }
        }
        let mut oldest = None;
        for state in [CallbackState::Pending, CallbackState::Sending] {
            let min: Option<i64> =
                sqlx::query_scalar("SELECT MIN(created_ms) FROM callbacks WHERE state = ?")
                    .bind(state.as_str())
                    .fetch_one(&self.pool)
                    .await?;
            oldest = match (oldest, min) {
                (Some(a), Some(b)) => Some(std::cmp::min(a, b)),
                (a, b) => a.or(b),
            };
        }
        stats.oldest_pending_ms = oldest;
        Ok(stats)
    }

    async fn bucket_secret(&self, bucket: &str) -> StoreResult<Option<BucketSecret>> {
        secrets::get(&self.pool, bucket).await
    }

    async fn init_bucket_secret(
        &self,
        bucket: &str,
        secret: &str,
        now_ms: i64,
    ) -> StoreResult<BucketSecret> {
        secrets::init(&self.pool, bucket, secret, now_ms).await
    }

    async fn rotate_bucket_secret(
        &self,
        bucket: &str,
        secret: &str,
        previous: Option<&str>,
        previous_until_ms: i64,
        now_ms: i64,
    ) -> StoreResult<BucketSecret> {
        secrets::rotate(
            &self.pool,
            bucket,
            secret,
            previous,
            previous_until_ms,
            now_ms,
        )
        .await
    }
}

#[cfg(test)]
mod tests;
