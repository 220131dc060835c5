//! Tasks seen as jobs on PostgreSQL: lookups, listing, cancellation and sibling claims.

use async_trait::async_trait;
use reelflow_model::execution::{Instance, Task};
use sqlx::AssertSqlSafe;
use sqlx::postgres::PgRow;

use super::tx::{PgRunTx, Woken};
use super::{PgStore, RETRIES, retryable};
use crate::rows;
use crate::{CallbackBuilder, CancelOutcome, Decider, JobStore, StoreResult, TaskQuery, flow};

/// Columns of a task joined with its run; instance columns are prefixed `i_`.
const JOINED: &str = "SELECT t.*, i.run_id AS i_run_id, i.workflow_id AS i_workflow_id, \
    i.workflow_name AS i_workflow_name, i.bucket AS i_bucket, i.object AS i_object, \
    i.cos_headers AS i_cos_headers, i.topology AS i_topology, i.state AS i_state, \
    i.created AS i_created, i.ended AS i_ended FROM tasks t JOIN instances i ON i.run_id = t.run_id";

/// The states `GET /jobs` shows when none is asked for.
const VISIBLE: [&str; 5] = ["Submitted", "Running", "Success", "Failed", "Cancel"];

fn joined(row: &PgRow) -> StoreResult<(Task, Instance)> {
    Ok((rows::task(row)?, rows::instance_prefixed(row, "i_")?))
}

#[async_trait]
impl JobStore for PgStore {
    async fn get_task(&self, job_id: &str) -> StoreResult<Option<(Task, Instance)>> {
        let sql = format!("{JOINED} WHERE t.job_id = $1");
        sqlx::query(AssertSqlSafe(sql))
            .bind(job_id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(joined)
            .transpose()
    }

    async fn list_tasks(&self, q: &TaskQuery) -> StoreResult<Vec<(Task, Instance)>> {
        let states: Vec<&str> = if q.states.is_empty() {
            VISIBLE.to_vec()
        } else {
            q.states.iter().map(|s| s.as_str()).collect()
        };
        let (cmp, order) = if q.descending {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        // Only the comparison and the direction are formatted in; values are bound.
        let sql = format!(
            "{JOINED} WHERE i.bucket = $1 AND t.node_type = $2 AND (t.state = ANY($3) OR (t.state = 'Waiting' \
             AND t.started IS NOT NULL AND 'Running' = ANY($3))) \
             AND ($4::text IS NULL OR t.queue_id = $4) \
             AND ($5::text IS NULL OR i.workflow_id = $5) \
             AND ($6::text IS NULL OR t.input_key = $6) \
             AND ($7::bigint IS NULL OR t.created >= $7) \
             AND ($8::bigint IS NULL OR t.created <= $8) \
             AND ($9::text IS NULL OR t.job_id {cmp} $9) \
             AND ($11::text IS NULL OR t.run_id IN \
             (SELECT run_id FROM batch_items WHERE batch_id = $11)) \
             ORDER BY t.job_id {order} LIMIT $10"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(&q.bucket)
            .bind(&q.tag)
            .bind(states)
            .bind(q.queue_id.as_deref())
            .bind(q.workflow_id.as_deref())
            .bind(q.input_object.as_deref())
            .bind(q.created_from)
            .bind(q.created_to)
            .bind(q.after_job_id.as_deref())
            .bind(i64::from(q.limit))
            .bind(q.batch_id.as_deref())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(joined).collect()
    }

    async fn cancel_task(
        &self,
        job_id: &str,
        now: i64,
        decide: &Decider,
        callbacks: &CallbackBuilder,
    ) -> StoreResult<CancelOutcome> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut tx = self.pool.begin().await?;
            let mut run = PgRunTx {
                conn: &mut tx,
                woken: Woken::default(),
            };
            let result = flow::cancel_task(&mut run, job_id, now, decide, callbacks)
                .await
                .map(|r| (r, run.woken));
            match result {
                Ok((outcome, woken)) => {
                    woken.announce(&mut tx, &self.channels).await?;
                    tx.commit().await?;
                    return Ok(outcome);
                }
                Err(e) if retryable(&e) && attempt <= RETRIES => continue,
                Err(e) => return Err(e),
            }
        }
    }

    async fn cancel_requested(&self, job_id: &str) -> StoreResult<bool> {
        let flag: Option<bool> =
            sqlx::query_scalar("SELECT cancel_requested FROM tasks WHERE job_id = $1")
                .bind(job_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(flag == Some(true))
    }
}
