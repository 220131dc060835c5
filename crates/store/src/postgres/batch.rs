//! Batches on PostgreSQL. Claims pick the row `FOR UPDATE SKIP LOCKED`; every driver write
//! updates the batch row under the lease test first, so it holds the row lock until commit and
//! a concurrent cancel either comes before (the write finds the batch ended and writes nothing)
//! or after (and sees the page's runs).

use async_trait::async_trait;
use reelflow_model::batch::BatchState;
use reelflow_model::execution::{Instance, Task, TaskState};
use sqlx::{AssertSqlSafe, PgConnection};

use super::outbox::insert_message;
use super::tx::Woken;
use super::{PgStore, notify};
use crate::batch::{
    BatchCancel, BatchEnd, BatchItem, BatchPage, BatchProgress, BatchQuery, BatchRecord,
    BatchStore, batch_row, item_row, progress_of,
};
use crate::rows::{outputs_to_json, pairs_to_json};
use crate::{NewRun, StoreResult};

async fn insert_items(conn: &mut PgConnection, id: &str, items: &[BatchItem]) -> StoreResult<()> {
    if items.is_empty() {
        return Ok(());
    }
    // One statement per page: unnest the columns.
    let column = |f: fn(&BatchItem) -> &str| items.iter().map(f).collect::<Vec<&str>>();
    sqlx::query(
        "INSERT INTO batch_items (batch_id, key, workflow_id, run_id, job_id) \
         SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[])",
    )
    .bind(id)
    .bind(column(|i| &i.key))
    .bind(column(|i| &i.workflow_id))
    .bind(column(|i| &i.run_id))
    .bind(column(|i| &i.job_id))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Inserts a page's runs with two statements (instances, then tasks) instead of two per run:
/// the same rows `insert_run` writes, as column arrays. True when a task is Submitted.
async fn insert_runs_bulk(conn: &mut PgConnection, runs: &[NewRun]) -> StoreResult<bool> {
    if runs.is_empty() {
        return Ok(false);
    }
    let inst: Vec<&Instance> = runs.iter().map(|r| &r.instance).collect();
    let text = |f: fn(&Instance) -> String| inst.iter().map(|i| f(i)).collect::<Vec<String>>();
    sqlx::query(
        "INSERT INTO instances (run_id, workflow_id, workflow_name, bucket, object, cos_headers, \
         topology, state, created, ended) SELECT * FROM unnest($1::text[], $2::text[], \
         $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[], \
         $10::bigint[])",
    )
    .bind(text(|i| i.run_id.clone()))
    .bind(text(|i| i.workflow_id.clone()))
    .bind(text(|i| i.workflow_name.clone()))
    .bind(text(|i| i.bucket.clone()))
    .bind(text(|i| i.object.clone()))
    .bind(text(|i| pairs_to_json(&i.cos_headers)))
    .bind(text(|i| i.topology_xml.to_xml()))
    .bind(text(|i| i.state.as_str().to_owned()))
    .bind(inst.iter().map(|i| i.created).collect::<Vec<i64>>())
    .bind(inst.iter().map(|i| i.ended).collect::<Vec<Option<i64>>>())
    .execute(&mut *conn)
    .await?;
    let tasks: Vec<&Task> = runs.iter().flat_map(|r| &r.tasks).collect();
    let text = |f: fn(&Task) -> String| tasks.iter().map(|t| f(t)).collect::<Vec<String>>();
    let int = |f: fn(&Task) -> Option<i64>| tasks.iter().map(|t| f(t)).collect::<Vec<_>>();
    sqlx::query(
        "INSERT INTO tasks (job_id, run_id, node_name, node_type, template_id, template_name, \
         state, code, message, progress, input_bucket, input_key, outputs, created, started, \
         ended, queue_id) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], \
         $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[], $11::text[], \
         $12::text[], $13::text[], $14::bigint[], $15::bigint[], $16::bigint[], $17::text[])",
    )
    .bind(text(|t| t.job_id.clone()))
    .bind(text(|t| t.run_id.clone()))
    .bind(text(|t| t.node_name.clone()))
    .bind(text(|t| t.tag.clone()))
    .bind(text(|t| t.template_id.clone()))
    .bind(text(|t| t.template_name.clone()))
    .bind(text(|t| t.state.as_str().to_owned()))
    .bind(text(|t| t.code.clone()))
    .bind(text(|t| t.message.clone()))
    .bind(int(|t| Some(i64::from(t.progress))))
    .bind(text(|t| t.input_bucket.clone()))
    .bind(text(|t| t.input_key.clone()))
    .bind(text(|t| outputs_to_json(&t.outputs)))
    .bind(int(|t| Some(t.created)))
    .bind(int(|t| t.started))
    .bind(int(|t| t.ended))
    .bind(text(|t| t.queue_id.clone()))
    .execute(&mut *conn)
    .await?;
    Ok(tasks.iter().any(|t| t.state == TaskState::Submitted))
}

#[async_trait]
impl BatchStore for PgStore {
    async fn create_batch(&self, b: &BatchRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO batches (id, bucket, name, kind, state, request, workflow_ids, created) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
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
        // Drivers wait on the tasks channel: wake them on every node.
        let mut conn = self.pool.acquire().await?;
        notify(&mut conn, &self.channels.tasks).await?;
        Ok(())
    }

    async fn get_batch(&self, id: &str) -> StoreResult<Option<BatchRecord>> {
        sqlx::query("SELECT * FROM batches WHERE id = $1")
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
        let states: Option<Vec<&str>> =
            (!q.states.is_empty()).then(|| q.states.iter().map(|s| s.as_str()).collect());
        let sql = format!(
            "SELECT * FROM batches WHERE bucket = $1 AND ($2::text IS NULL OR kind = $2) \
             AND ($3::text[] IS NULL OR state = ANY($3)) \
             AND ($4::text IS NULL OR strpos(',' || workflow_ids || ',', ',' || $4 || ',') > 0) \
             AND ($5::text IS NULL OR id = $5) AND ($6::text IS NULL OR strpos(name, $6) > 0) \
             AND ($7::bigint IS NULL OR created >= $7) AND ($8::bigint IS NULL OR created <= $8) \
             AND ($9::text IS NULL OR id {cmp} $9) ORDER BY id {order} LIMIT $10"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(&q.bucket)
            .bind(q.kind.map(|k| k.as_str()))
            .bind(states)
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
             WHERE b.batch_id = $1 GROUP BY i.state",
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
            "SELECT * FROM batch_items WHERE batch_id = $1 AND (NOT $2 OR (key, workflow_id) > \
             ($3, $4)) ORDER BY key, workflow_id LIMIT $5",
        )
        .bind(id)
        .bind(after.is_some())
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
        let row = sqlx::query(
            "UPDATE batches SET lease_owner = $1, lease_until = $2, \
             state = CASE state WHEN 'Submitted' THEN 'Running' ELSE state END, \
             started = COALESCE(started, $3) WHERE id = (SELECT id FROM batches \
             WHERE state IN ('Submitted', 'Running', 'Pause') \
             AND (lease_owner IS NULL OR lease_until < $3) ORDER BY id LIMIT 1 \
             FOR UPDATE SKIP LOCKED) RETURNING *",
        )
        .bind(owner)
        .bind(lease_until)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(batch_row).transpose()
    }

    async fn renew_batch(
        &self,
        id: &str,
        owner: &str,
        lease_until: i64,
        state: BatchState,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE batches SET lease_until = $1, state = $2 WHERE id = $3 \
             AND lease_owner = $4 AND state IN ('Running', 'Pause')",
        )
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
            "UPDATE batches SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1",
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
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE batches SET cursor = $1, listing_done = $2, total = total + $3 \
             WHERE id = $4 AND lease_owner = $5 AND state IN ('Running', 'Pause')",
        )
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
        if insert_runs_bulk(&mut tx, &page.runs).await? {
            notify(&mut tx, &self.channels.tasks).await?;
        }
        insert_items(&mut tx, id, &page.items).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn finish_batch(&self, id: &str, owner: &str, end: &BatchEnd) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE batches SET state = $1, code = $2, message = $3, ended = $4, \
             lease_owner = NULL, lease_until = NULL WHERE id = $5 AND lease_owner = $6 \
             AND state IN ('Running', 'Pause')",
        )
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
            insert_message(&mut tx, origin, message, end.ended * 1000, None).await?;
            let woken = Woken {
                tasks: false,
                callbacks: true,
            };
            woken.announce(&mut tx, &self.channels).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn cancel_batch(&self, id: &str, now: i64) -> StoreResult<BatchCancel> {
        let mut tx = self.pool.begin().await?;
        let state: Option<String> =
            sqlx::query_scalar("SELECT state FROM batches WHERE id = $1 FOR UPDATE")
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
             message = 'cancelled by request', ended = $1, lease_owner = NULL, \
             lease_until = NULL WHERE id = $2",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let pending: Vec<String> = sqlx::query_scalar(
            "SELECT t.job_id FROM batch_items b JOIN tasks t ON t.run_id = b.run_id \
             WHERE b.batch_id = $1 AND t.state = 'Submitted' ORDER BY t.job_id",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(BatchCancel::Cancelled(pending))
    }
}
