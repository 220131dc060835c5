//! The callback outbox on SQLite (see [`crate::callbacks`] for the state machine).
//!
//! The delivery path holds the write lock briefly (a transaction spanning many round trips
//! would hold it across task switches, and other writers would back off for milliseconds):
//! claims lease a whole batch with one `UPDATE`, the node's heartbeat renews all its leases
//! with one statement, and a batch of finished attempts is one multi-row `INSERT` plus one
//! `UPDATE … FROM (VALUES …)` applying the verdicts ([`crate::outbox`]), in one transaction
//! (one fsync for hundreds of attempts).

mod secrets;

use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use sqlx::query::Query;
use sqlx::sqlite::SqliteArguments;
use sqlx::{AssertSqlSafe, Row, Sqlite, SqliteConnection, SqlitePool};

use super::SqliteStore;
use crate::StoreResult;
use crate::callbacks::{
    AttemptLog, BIRTH_LEASE_MS, BucketSecret, CallbackMessage, CallbackOrigin, CallbackQuery,
    CallbackState, CallbackStats, CallbackStore, ClaimRequest, NewCallback, RecoverFilter,
    endpoint_of,
};
use crate::outbox::{
    ATTEMPT_COLUMNS, apply_effects_sql, bind_attempts, bind_effects, insert_attempts_sql,
    verdict_effects,
};
use crate::rows::clean_text;
use crate::rows::outbox as rows;

/// Inserts a message, `Pending`, or `Sending` and leased to `lease` (owner, expiry in Unix ms);
/// a message whose id exists is left alone, so replays of a transaction stay idempotent. True
/// when inserted. Positions of born-leased messages are rowids: writers are serialized and
/// rowids only grow, so they follow commit order.
pub(super) async fn insert_row(
    conn: &mut SqliteConnection,
    origin: &CallbackOrigin,
    message: &NewCallback,
    created_ms: i64,
    lease: Option<(&str, i64)>,
) -> StoreResult<bool> {
    let state = if lease.is_some() {
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
    .bind(clean_text(&message.url).as_ref())
    .bind(&message.content_type)
    .bind(clean_text(&message.body).as_ref())
    .bind(state.as_str())
    .bind(created_ms)
    .bind(created_ms)
    .bind(origin.kind.as_str())
    .bind(origin.job_id.as_deref())
    .bind(&origin.workflow_id)
    .bind(endpoint_of(&message.url))
    .bind(lease.map(|(owner, _)| owner))
    .bind(lease.map(|(_, until_ms)| until_ms))
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Claims made by this process, for unique claim tokens.
static CLAIMS: AtomicU64 = AtomicU64::new(0);

/// Attempts per chunk: 14 bound values each in the `INSERT` (7 in the `UPDATE`), well under
/// SQLite's 32 766 variables per statement.
const RECORD_CHUNK: usize = 256;

fn sqlite_placeholder(n: usize) -> String {
    format!("?{n}")
}

/// Logs a chunk of attempts and applies their verdicts ([`crate::outbox`]) in one transaction.
async fn record_chunk(pool: &SqlitePool, owner: &str, chunk: &[AttemptLog]) -> StoreResult<()> {
    let effects = verdict_effects(chunk);
    let insert = insert_attempts_sql(chunk.len(), sqlite_placeholder);
    let update = apply_effects_sql(effects.len(), 1, sqlite_placeholder);
    debug_assert!(chunk.len() * ATTEMPT_COLUMNS < 32_766);
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    // Only placeholders are formatted in: no data reaches the SQL text.
    bind_attempts(sqlx::query(AssertSqlSafe(insert)), owner, chunk)
        .execute(&mut *tx)
        .await?;
    bind_effects(sqlx::query(AssertSqlSafe(update)), owner, &effects)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
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
        leased_to: Option<&str>,
    ) -> StoreResult<bool> {
        let mut conn = self.pool.acquire().await?;
        let lease = leased_to.map(|owner| (owner, now_ms + BIRTH_LEASE_MS));
        insert_row(&mut conn, origin, message, now_ms, lease).await
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
