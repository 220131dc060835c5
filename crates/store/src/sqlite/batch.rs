//! Batches on SQLite. `BEGIN IMMEDIATE` serializes the lease checks with the writes they guard.

use async_trait::async_trait;
use reelflow_model::batch::BatchState;
use sqlx::SqliteConnection;

use super::SqliteStore;
use super::outbox::insert_row;
use super::runs::insert_run;
use crate::StoreResult;
use crate::batch::{
    BatchCancel, BatchEnd, BatchItem, BatchPage, BatchProgress, BatchQuery, BatchRecord,
    BatchStore, batch_row, item_row, progress_of, state_list,
};

/// The lease test every driver write starts with: ours, and not ended.
const HELD: &str = "lease_owner = ? AND state IN ('Running', 'Pause')";

async fn insert_items(
    conn: &mut SqliteConnection,
    id: &str,
    items: &[BatchItem],
) -> StoreResult<()> {
    for item in items {
        sqlx::query(
            "INSERT INTO batch_items (batch_id, key, workflow_id, run_id, job_id) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(&item.key)
        .bind(&item.workflow_id)
        .bind(&item.run_id)
        .bind(&item.job_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

#[async_trait]
impl BatchStore for SqliteStore {
    async fn create_batch(&self, b: &BatchRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO batches (id, bucket, name, kind, state, request, workflow_ids, created) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&b.id)
        .bind(&b.bucket)
        .bind(&b.name)
        .bind(b.kind.as_str())
        .bind(b.state.as_str())
        .bind(b.request.to_xml())
        .bind(b.workflow_ids.join(","))
        .bind(b.created)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get_batch(&self, id: &str) -> StoreResult<Option<BatchRecord>> {
        sqlx::query("SELECT * FROM batches WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(batch_row)
            .transpose()
    }

    async fn list_batches(&self, q: &BatchQuery) -> StoreResult<Vec<BatchRecord>> {
        let (cmp, order) = if q.descending {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        let sql = format!(
            "SELECT * FROM batches WHERE bucket = ?1 AND (?2 IS NULL OR kind = ?2) \
             AND (?3 IS NULL OR instr(?3, ',' || state || ',') > 0) \
             AND (?4 IS NULL OR instr(',' || workflow_ids || ',', ',' || ?4 || ',') > 0) \
             AND (?5 IS NULL OR id = ?5) AND (?6 IS NULL OR instr(name, ?6) > 0) \
             AND (?7 IS NULL OR created >= ?7) AND (?8 IS NULL OR created <= ?8) \
             AND (?9 IS NULL OR id {cmp} ?9) ORDER BY id {order} LIMIT ?10"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&q.bucket)
            .bind(q.kind.map(|k| k.as_str()))
            .bind(state_list(&q.states))
            .bind(q.workflow_id.as_deref())
            .bind(q.id.as_deref())
            .bind(q.name.as_deref())
            .bind(q.created_from)
            .bind(q.created_to)
            .bind(q.after_id.as_deref())
            .bind(i64::from(q.limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(batch_row).collect()
    }

    async fn batch_progress(&self, id: &str) -> StoreResult<BatchProgress> {
        let counts: Vec<(String, i64)> = sqlx::query_as(
            "SELECT i.state, count(*) FROM batch_items b JOIN instances i ON i.run_id = b.run_id \
             WHERE b.batch_id = ? GROUP BY i.state",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(progress_of(&counts))
    }

    async fn batch_items(
        &self,
        id: &str,
        after: Option<(&str, &str)>,
        limit: u32,
    ) -> StoreResult<Vec<BatchItem>> {
        let (key, wf) = after.unwrap_or(("", ""));
        let rows = sqlx::query(
            "SELECT * FROM batch_items WHERE batch_id = ?1 AND (?2 = 0 OR key > ?3 \
             OR (key = ?3 AND workflow_id > ?4)) ORDER BY key, workflow_id LIMIT ?5",
        )
        .bind(id)
        .bind(i64::from(after.is_some()))
        .bind(key)
        .bind(wf)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(item_row).collect()
    }

    async fn claim_batch(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
    ) -> StoreResult<Option<BatchRecord>> {
        const CLAIMABLE: &str = "SELECT id FROM batches WHERE state IN ('Submitted', 'Running', \
             'Pause') AND (lease_owner IS NULL OR lease_until < ?) ORDER BY id LIMIT 1";
        // A read probe first: idle drivers, woken by every upload, stay off the write lock.
        let probe: Option<String> = sqlx::query_scalar(CLAIMABLE)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        if probe.is_none() {
            return Ok(None);
        }
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let id: Option<String> = sqlx::query_scalar(CLAIMABLE)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(id) = id else {
            return Ok(None);
        };
        let row = sqlx::query(
            "UPDATE batches SET lease_owner = ?1, lease_until = ?2, \
             state = CASE state WHEN 'Submitted' THEN 'Running' ELSE state END, \
             started = COALESCE(started, ?3) WHERE id = ?4 RETURNING *",
        )
        .bind(owner)
        .bind(lease_until)
        .bind(now)
        .bind(&id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        batch_row(&row).map(Some)
    }

    async fn renew_batch(
        &self,
        id: &str,
        owner: &str,
        lease_until: i64,
        state: BatchState,
    ) -> StoreResult<bool> {
        let sql = format!("UPDATE batches SET lease_until = ?, state = ? WHERE id = ? AND {HELD}");
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(lease_until)
            .bind(state.as_str())
            .bind(id)
            .bind(owner)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn release_batches(&self, owner: &str) -> StoreResult<u64> {
        let done = sqlx::query(
            "UPDATE batches SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?",
        )
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn commit_batch_page(
        &self,
        id: &str,
        owner: &str,
        page: &BatchPage,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let sql = format!(
            "UPDATE batches SET cursor = ?, listing_done = ?, total = total + ? \
             WHERE id = ? AND {HELD}"
        );
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&page.cursor)
            .bind(i64::from(page.listing_done))
            .bind(i64::try_from(page.objects).unwrap_or(i64::MAX))
            .bind(id)
            .bind(owner)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        for run in &page.runs {
            insert_run(&mut tx, run).await?;
        }
        insert_items(&mut tx, id, &page.items).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn finish_batch(&self, id: &str, owner: &str, end: &BatchEnd) -> StoreResult<bool> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let sql = format!(
            "UPDATE batches SET state = ?, code = ?, message = ?, ended = ?, \
             lease_owner = NULL, lease_until = NULL WHERE id = ? AND {HELD}"
        );
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(end.state.as_str())
            .bind(&end.code)
            .bind(&end.message)
            .bind(end.ended)
            .bind(id)
            .bind(owner)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        if let Some((origin, message)) = &end.callback {
            insert_row(&mut tx, origin, message, end.ended * 1000, None).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn cancel_batch(&self, id: &str, now: i64) -> StoreResult<BatchCancel> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let state: Option<String> = sqlx::query_scalar("SELECT state FROM batches WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(state) = state.and_then(|s| BatchState::parse(&s)) else {
            return Ok(BatchCancel::NotFound);
        };
        if state.is_terminal() {
            return Ok(BatchCancel::AlreadyEnded(state));
        }
        sqlx::query(
            "UPDATE batches SET state = 'Cancel', code = 'Cancelled', \
             message = 'cancelled by request', ended = ?, lease_owner = NULL, \
             lease_until = NULL WHERE id = ?",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let pending: Vec<String> = sqlx::query_scalar(
            "SELECT t.job_id FROM batch_items b JOIN tasks t ON t.run_id = b.run_id \
             WHERE b.batch_id = ? AND t.state = 'Submitted' ORDER BY t.job_id",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(BatchCancel::Cancelled(pending))
    }
}
