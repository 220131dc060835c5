//! The callback outbox on PostgreSQL (see [`crate::callbacks`] for the state machine).
//!
//! Claims lease a batch with one `UPDATE` over rows picked `FOR UPDATE SKIP LOCKED`; a batch of
//! attempts is one statement that logs them and applies their verdicts
//! ([`crate::outbox`]); messages born leased to a node are read in that node's commit order
//! (`born_seq`, see [`next_born_seqs`]).

use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{AssertSqlSafe, PgConnection, PgPool, Postgres, Row};

use super::PgStore;
use super::notify;
use crate::StoreResult;
use crate::callbacks::{
    AttemptLog, BIRTH_LEASE_MS, BucketSecret, CallbackMessage, CallbackOrigin, CallbackQuery,
    CallbackState, CallbackStats, CallbackStore, ClaimRequest, NewCallback, RecoverFilter,
    endpoint_of,
};
use crate::outbox::{
    ATTEMPT_COLUMNS, EFFECT_COLUMNS, apply_effects_sql, bind_attempts, bind_effects,
    insert_attempts_sql, verdict_effects,
};
use crate::rows::clean_text;
use crate::rows::outbox as rows;

/// A message's lease from birth.
#[derive(Debug, Clone, Copy)]
pub(super) struct Lease<'a> {
    pub owner: &'a str,
    pub until_ms: i64,
    pub born_seq: i64,
}

/// Inserts a message, `Pending`, or `Sending` and leased when `lease` is given; a message whose
/// id exists is left alone. True when inserted.
pub(super) async fn insert_message(
    conn: &mut PgConnection,
    origin: &CallbackOrigin,
    message: &NewCallback,
    created_ms: i64,
    lease: Option<Lease<'_>>,
) -> StoreResult<bool> {
    let state = match lease {
        Some(_) => CallbackState::Sending,
        None => CallbackState::Pending,
    };
    let done = sqlx::query(
        "INSERT INTO callbacks (id, run_id, bucket, url, content_type, body, state, attempts, \
         next_attempt_ms, created_ms, kind, job_id, workflow_id, endpoint, lease_owner, \
         lease_until_ms, born_seq) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $8, $9, $10, $11, $12, $13, $14, $15) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(&message.id)
    .bind(&origin.run_id)
    .bind(&origin.bucket)
    .bind(clean_text(&message.url).as_ref())
    .bind(&message.content_type)
    .bind(clean_text(&message.body).as_ref())
    .bind(state.as_str())
    .bind(created_ms)
    .bind(origin.kind.as_str())
    .bind(origin.job_id.as_deref())
    .bind(&origin.workflow_id)
    .bind(endpoint_of(&message.url))
    .bind(lease.map(|l| l.owner))
    .bind(lease.map(|l| l.until_ms))
    .bind(lease.map(|l| l.born_seq))
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Reserves `n` consecutive positions for messages born leased to `owner` and returns the first.
/// The owner's counter row stays locked until the transaction ends, so another transaction's
/// positions for the same owner are all higher *and* become visible later: a reader that has seen
/// position p has seen every committed message below p (positions left unused leave gaps).
pub(super) async fn next_born_seqs(
    conn: &mut PgConnection,
    owner: &str,
    n: usize,
) -> StoreResult<i64> {
    let n = i64::try_from(n).unwrap_or(i64::MAX);
    let last: i64 = sqlx::query_scalar(
        "INSERT INTO callback_births (owner, last_seq) VALUES ($1, $2) ON CONFLICT (owner) \
         DO UPDATE SET last_seq = callback_births.last_seq + EXCLUDED.last_seq RETURNING last_seq",
    )
    .bind(owner)
    .bind(n)
    .fetch_one(&mut *conn)
    .await?;
    Ok(last - n + 1)
}

/// Claims made by this process, for unique claim tokens.
static CLAIMS: AtomicU64 = AtomicU64::new(0);

/// Attempts per statement: 14 + 7 bound values each, well under PostgreSQL's 65 535.
const RECORD_CHUNK: usize = 256;

fn pg_placeholder(n: usize) -> String {
    format!("${n}")
}

async fn fetch_messages(
    pool: &PgPool,
    query: Query<'_, Postgres, PgArguments>,
) -> StoreResult<Vec<CallbackMessage>> {
    let rows = query.fetch_all(pool).await?;
    rows.iter().map(rows::message).collect()
}

fn secret_of(row: &PgRow) -> StoreResult<BucketSecret> {
    rows::secret(row)
}

const LIST_SQL: &str = "SELECT * FROM callbacks WHERE ($1::text IS NULL OR bucket = $1) \
    AND ($2::text IS NULL OR workflow_id = $2) AND ($3::text IS NULL OR run_id = $3) \
    AND ($4::text IS NULL OR state = $4) AND ($5::text IS NULL OR kind = $5) \
    AND ($6::bigint IS NULL OR created_ms >= $6) AND ($7::bigint IS NULL OR created_ms < $7) \
    AND ($8::text IS NULL OR (created_ms, id) < (SELECT created_ms, id FROM callbacks WHERE id = $8)) \
    ORDER BY created_ms DESC, id DESC LIMIT $9";

impl PgStore {
    async fn announce_callbacks(&self) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await?;
        notify(&mut conn, &self.channels.callbacks).await
    }
}

#[async_trait]
impl CallbackStore for PgStore {
    async fn enqueue_callback(
        &self,
        origin: &CallbackOrigin,
        message: &NewCallback,
        now_ms: i64,
        leased_to: Option<&str>,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let lease = match leased_to {
            Some(owner) => Some(Lease {
                owner,
                until_ms: now_ms + BIRTH_LEASE_MS,
                born_seq: next_born_seqs(&mut tx, owner, 1).await?,
            }),
            None => None,
        };
        let inserted = insert_message(&mut tx, origin, message, now_ms, lease).await?;
        if inserted && lease.is_none() {
            notify(&mut tx, &self.channels.callbacks).await?;
        }
        tx.commit().await?;
        Ok(inserted)
    }

    async fn read_leased_callbacks(
        &self,
        owner: &str,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<(i64, CallbackMessage)>> {
        let rows = sqlx::query(
            "SELECT born_seq AS seq, * FROM callbacks WHERE lease_owner = $1 AND born_seq > $2 \
             AND state = 'Sending' AND claim_token IS NULL ORDER BY born_seq LIMIT $3",
        )
        .bind(owner)
        .bind(after_seq)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("seq")?, rows::message(row)?)))
            .collect()
    }

    async fn claim_callbacks(&self, claim: &ClaimRequest) -> StoreResult<Vec<CallbackMessage>> {
        let token = format!("{}:{}", claim.owner, CLAIMS.fetch_add(1, Ordering::Relaxed));
        let query = sqlx::query(
            "WITH picked AS (SELECT id FROM callbacks WHERE state = 'Pending' \
             AND next_attempt_ms <= $4 AND endpoint <> ALL($5) \
             ORDER BY next_attempt_ms, id LIMIT $6 FOR UPDATE SKIP LOCKED) \
             UPDATE callbacks c SET state = 'Sending', lease_owner = $1, lease_until_ms = $2, \
             claim_token = $3 FROM picked WHERE c.id = picked.id RETURNING c.*",
        )
        .bind(&claim.owner)
        .bind(claim.lease_until_ms)
        .bind(&token)
        .bind(claim.now_ms)
        .bind(&claim.skip_endpoints)
        .bind(i64::from(claim.limit));
        let mut claimed = fetch_messages(&self.pool, query).await?;
        claimed.sort_by(|a, b| (a.next_attempt_ms, &a.id).cmp(&(b.next_attempt_ms, &b.id)));
        Ok(claimed)
    }

    async fn renew_callback_leases(&self, owner: &str, lease_until_ms: i64) -> StoreResult<u64> {
        let done = sqlx::query(
            "UPDATE callbacks SET lease_until_ms = $1 WHERE state = 'Sending' AND lease_owner = $2",
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
        for chunk in attempts.chunks(RECORD_CHUNK) {
            let effects = verdict_effects(chunk);
            let insert = insert_attempts_sql(chunk.len(), pg_placeholder);
            let update = apply_effects_sql(
                effects.len(),
                chunk.len() * ATTEMPT_COLUMNS + 1,
                pg_placeholder,
            );
            debug_assert!(chunk.len() * (ATTEMPT_COLUMNS + EFFECT_COLUMNS) < 65_535);
            // One statement: the log and the messages change together.
            let sql = format!("WITH logged AS ({insert}) {update}");
            let query = sqlx::query(AssertSqlSafe(sql));
            let query = bind_effects(bind_attempts(query, owner, chunk), owner, &effects);
            query.execute(&self.pool).await?;
        }
        Ok(())
    }

    async fn requeue_callbacks(&self, now_ms: i64, owner: Option<&str>) -> StoreResult<u64> {
        let done = sqlx::query(
            "UPDATE callbacks SET state = 'Pending', lease_owner = NULL, lease_until_ms = NULL \
             WHERE state = 'Sending' AND (lease_until_ms < $1 OR lease_owner = $2)",
        )
        .bind(now_ms)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() > 0 {
            self.announce_callbacks().await?;
        }
        Ok(done.rows_affected())
    }

    async fn next_callback_due(&self, skip_endpoints: &[String]) -> StoreResult<Option<i64>> {
        let next: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(next_attempt_ms) FROM callbacks WHERE state = 'Pending' \
             AND endpoint <> ALL($1)",
        )
        .bind(skip_endpoints)
        .fetch_one(&self.pool)
        .await?;
        Ok(next)
    }

    async fn get_callback(&self, id: &str) -> StoreResult<Option<CallbackMessage>> {
        let query = sqlx::query("SELECT * FROM callbacks WHERE id = $1").bind(id);
        Ok(fetch_messages(&self.pool, query).await?.into_iter().next())
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
        let query =
            sqlx::query("SELECT * FROM callbacks WHERE run_id = $1 ORDER BY created_ms, id")
                .bind(run_id);
        fetch_messages(&self.pool, query).await
    }

    async fn callback_attempts(&self, id: &str) -> StoreResult<Vec<AttemptLog>> {
        let rows =
            sqlx::query("SELECT * FROM callback_attempts WHERE message_id = $1 ORDER BY seq")
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
            "UPDATE callbacks SET state = 'Pending', next_attempt_ms = $2, \
             next_trigger = 'Manual', round = round + 1, round_attempts = 0 \
             WHERE id = $1 AND state <> 'Sending' RETURNING *",
        )
        .bind(id)
        .bind(now_ms);
        match fetch_messages(&self.pool, query).await?.into_iter().next() {
            Some(message) => {
                self.announce_callbacks().await?;
                Ok(Some(message))
            }
            None => self.get_callback(id).await,
        }
    }

    async fn recover_callbacks(&self, f: &RecoverFilter, now_ms: i64) -> StoreResult<Vec<String>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "UPDATE callbacks SET state = 'Pending', next_attempt_ms = $1, \
             next_trigger = 'Manual', round = round + 1, round_attempts = 0 \
             WHERE state = 'Exhausted' AND created_ms >= $2 AND created_ms < $3 \
             AND ($4::text IS NULL OR bucket = $4) AND ($5::text IS NULL OR workflow_id = $5) \
             RETURNING id",
        )
        .bind(now_ms)
        .bind(f.since_ms)
        .bind(f.until_ms.unwrap_or(i64::MAX))
        .bind(f.bucket.as_deref())
        .bind(f.workflow_id.as_deref())
        .fetch_all(&self.pool)
        .await?;
        if !ids.is_empty() {
            self.announce_callbacks().await?;
        }
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
        stats.oldest_pending_ms = sqlx::query_scalar(
            "SELECT MIN(created_ms) FROM callbacks WHERE state IN ('Pending', 'Sending')",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(stats)
    }

    async fn bucket_secret(&self, bucket: &str) -> StoreResult<Option<BucketSecret>> {
        sqlx::query("SELECT * FROM callback_secrets WHERE bucket = $1")
            .bind(bucket)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(secret_of)
            .transpose()
    }

    async fn init_bucket_secret(
        &self,
        bucket: &str,
        secret: &str,
        now_ms: i64,
    ) -> StoreResult<BucketSecret> {
        sqlx::query(
            "INSERT INTO callback_secrets (bucket, secret, updated_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (bucket) DO NOTHING",
        )
        .bind(bucket)
        .bind(secret)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        let row = sqlx::query("SELECT * FROM callback_secrets WHERE bucket = $1")
            .bind(bucket)
            .fetch_one(&self.pool)
            .await?;
        secret_of(&row)
    }

    async fn rotate_bucket_secret(
        &self,
        bucket: &str,
        secret: &str,
        previous: Option<&str>,
        previous_until_ms: i64,
        now_ms: i64,
    ) -> StoreResult<BucketSecret> {
        let row = sqlx::query(
            "INSERT INTO callback_secrets (bucket, secret, previous, previous_until_ms, \
             updated_ms) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (bucket) DO UPDATE SET \
             secret = $2, previous = $3, previous_until_ms = $4, updated_ms = $5 RETURNING *",
        )
        .bind(bucket)
        .bind(secret)
        .bind(previous)
        .bind(previous.map(|_| previous_until_ms))
        .bind(now_ms)
        .fetch_one(&self.pool)
        .await?;
        secret_of(&row)
    }
}
