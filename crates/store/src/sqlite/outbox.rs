//! The callback outbox on SQLite (see [`crate::callbacks`] for the state machine).
//!
//! Every step of the delivery path is one statement, so the write lock is held only while
//! SQLite executes it (a transaction spanning several round trips would hold it across task
//! switches, and other writers would back off for milliseconds): claims lease a whole batch
//! with one `UPDATE … RETURNING`, the node's heartbeat renews all its leases with one
//! statement, and a batch of finished attempts is one multi-row `INSERT` whose trigger applies
//! each verdict to its message (one fsync for hundreds of attempts).

mod rows;
mod secrets;

use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use sqlx::query::Query;
use sqlx::sqlite::SqliteArguments;
use sqlx::{AssertSqlSafe, Row, Sqlite, SqliteConnection, SqlitePool};

use super::SqliteStore;
use crate::StoreResult;
use crate::callbacks::{
    AttemptLog, AttemptVerdict, BIRTH_LEASE_MS, BucketSecret, CallbackMessage, CallbackOrigin,
    CallbackQuery, CallbackState, CallbackStats, CallbackStore, ClaimRequest, NewCallback,
    RecoverFilter, endpoint_of,
};

/// Inserts a message inside the caller's transaction (the one that ends its subject); a
/// message whose id exists is left alone, so replays of that transaction stay idempotent.
pub(crate) async fn insert_callback(
    conn: &mut SqliteConnection,
    origin: &CallbackOrigin,
    message: &NewCallback,
    created_ms: i64,
) -> StoreResult<bool> {
    insert_row(conn, origin, message, created_ms, None).await
}

/// Inserts a message, `Pending`, or `Sending` and leased to `leased_to`.
async fn insert_row(
    conn: &mut SqliteConnection,
    origin: &CallbackOrigin,
    message: &NewCallback,
    created_ms: i64,
    leased_to: Option<&str>,
) -> StoreResult<bool> {
    let state = if leased_to.is_some() {
        CallbackState::Sending
    } else {
        CallbackState::Pending
    };
    let done = sqlx::query(
        "INSERT OR IGNORE INTO callbacks (id, run_id, bucket, url, content_type, body, state, \
         attempts, next_attempt_ms, created_ms, kind, job_id, workflow_id, endpoint, \
         lease_owner, lease_until_ms) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&message.id)
    .bind(&origin.run_id)
    .bind(&origin.bucket)
    .bind(&message.url)
    .bind(&message.content_type)
    .bind(&message.body)
    .bind(state.as_str())
    .bind(created_ms)
    .bind(created_ms)
    .bind(origin.kind.as_str())
    .bind(origin.job_id.as_deref())
    .bind(&origin.workflow_id)
    .bind(endpoint_of(&message.url))
    .bind(leased_to)
    .bind(leased_to.map(|_| created_ms + BIRTH_LEASE_MS))
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The outbox's high-water mark, read at the start of a task-finish transaction: the messages
/// that transaction writes come after it (writers are serialized, and rowids only grow).
pub(crate) async fn birth_mark(conn: &mut SqliteConnection) -> StoreResult<i64> {
    let mark: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(rowid), 0) FROM callbacks")
        .fetch_one(&mut *conn)
        .await?;
    Ok(mark)
}

/// Leases the messages a task-finish transaction wrote (after `mark`) to the node that finished
/// the task (`owner`, also its notifier's id), so that notifier sends them without a claiming
/// write. Only this transaction's messages: an older message leased now would sit behind the
/// notifier's read position.
pub(crate) async fn lease_born_after(
    conn: &mut SqliteConnection,
    mark: i64,
    owner: &str,
    now_ms: i64,
) -> StoreResult<u64> {
    let done = sqlx::query(
        "UPDATE callbacks SET state = 'Sending', lease_owner = ?1, lease_until_ms = ?2 \
         WHERE rowid > ?3 AND state = 'Pending' AND attempts = 0 AND claim_token IS NULL",
    )
    .bind(owner)
    .bind(now_ms + BIRTH_LEASE_MS)
    .bind(mark)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// Claims made by this process, for unique claim tokens.
static CLAIMS: AtomicU64 = AtomicU64::new(0);

/// Attempts per statement: 14 bound values each, well under SQLite's 32 766 variables.
const RECORD_CHUNK: usize = 256;

/// Logs a chunk of attempts with one multi-row `INSERT`; the `callback_attempt_verdict` trigger
/// (migration 0002) applies each verdict to its message within the same statement.
async fn record_chunk(pool: &SqlitePool, owner: &str, chunk: &[AttemptLog]) -> StoreResult<()> {
    let rows = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
    let sql = format!(
        "INSERT INTO callback_attempts (message_id, number, round, triggered_by, started_ms, \
         duration_ms, url, status, error_kind, error, response_body, verdict, next_attempt_ms, \
         node) VALUES {rows}"
    );
    // Only placeholders are formatted in: no data reaches the SQL text.
    let mut insert = sqlx::query(AssertSqlSafe(sql));
    for a in chunk {
        let (verdict, next_ms) = verdict_columns(a.verdict);
        insert = insert
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
            .bind(owner);
    }
    insert.execute(pool).await?;
    Ok(())
}

fn verdict_columns(verdict: AttemptVerdict) -> (&'static str, Option<i64>) {
    match verdict {
        AttemptVerdict::Delivered => ("Delivered", None),
        AttemptVerdict::Retry { at_ms } => ("Retry", Some(at_ms)),
        AttemptVerdict::Exhausted => ("Exhausted", None),
    }
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
        leased_to: Option<&str>,
    ) -> StoreResult<bool> {
        let mut conn = self.pool.acquire().await?;
        insert_row(&mut conn, origin, message, now_ms, leased_to).await
    }

    async fn read_leased_callbacks(
        &self,
        owner: &str,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<(i64, CallbackMessage)>> {
        let rows = sqlx::query(
            "SELECT rowid AS seq, * FROM callbacks WHERE rowid > ? AND state = 'Sending' \
             AND lease_owner = ? AND claim_token IS NULL ORDER BY rowid LIMIT ?",
        )
        .bind(after_seq)
        .bind(owner)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("seq")?, rows::message(row)?)))
            .collect()
    }

    async fn claim_callbacks(&self, claim: &ClaimRequest) -> StoreResult<Vec<CallbackMessage>> {
        // Claim with a plain UPDATE, then read the batch back: an `UPDATE … RETURNING` keeps
        // its write transaction open until the caller has consumed every row.
        let skip = serde_json::to_string(&claim.skip_endpoints).unwrap_or_else(|_| "[]".into());
        let token = format!("{}:{}", claim.owner, CLAIMS.fetch_add(1, Ordering::Relaxed));
        let done = sqlx::query(
            "UPDATE callbacks SET state = 'Sending', lease_owner = ?1, lease_until_ms = ?2, \
             claim_token = ?3 WHERE id IN (SELECT id FROM callbacks WHERE state = 'Pending' \
             AND next_attempt_ms <= ?4 AND endpoint NOT IN (SELECT value FROM json_each(?5)) \
             ORDER BY next_attempt_ms, id LIMIT ?6)",
        )
        .bind(&claim.owner)
        .bind(claim.lease_until_ms)
        .bind(&token)
        .bind(claim.now_ms)
        .bind(skip)
        .bind(i64::from(claim.limit))
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(Vec::new());
        }
        let query = sqlx::query(
            "SELECT * FROM callbacks WHERE claim_token = ? AND state = 'Sending' \
             ORDER BY next_attempt_ms, id",
        )
        .bind(&token);
        fetch_messages(&self.pool, query).await
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
        // Each chunk is atomic on its own; attempts of different messages need no common
        // transaction.
        for chunk in attempts.chunks(RECORD_CHUNK) {
            record_chunk(&self.pool, owner, chunk).await?;
        }
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
