//! Tasks seen as jobs: lookups, listing with filters and seek paging, and cancellation.

use async_trait::async_trait;
use reelflow_model::execution::{Instance, Task};
use sqlx::sqlite::SqliteRow;

use super::SqliteStore;
use super::tx::SqliteRunTx;
use crate::rows;
use crate::{CallbackBuilder, CancelOutcome, Decider, JobStore, StoreResult, TaskQuery, flow};

/// Columns of a task joined with its run; instance columns are prefixed `i_`.
const JOINED: &str = "SELECT t.*, i.run_id AS i_run_id, i.workflow_id AS i_workflow_id, \
    i.workflow_name AS i_workflow_name, i.bucket AS i_bucket, i.object AS i_object, \
    i.cos_headers AS i_cos_headers, i.topology AS i_topology, i.state AS i_state, \
    i.created AS i_created, i.ended AS i_ended FROM tasks t JOIN instances i ON i.run_id = t.run_id";

fn joined(row: &SqliteRow) -> StoreResult<(Task, Instance)> {
    Ok((rows::task(row)?, rows::instance_prefixed(row, "i_")?))
}

#[async_trait]
impl JobStore for SqliteStore {
    async fn get_task(&self, job_id: &str) -> StoreResult<Option<(Task, Instance)>> {
        let sql = format!("{JOINED} WHERE t.job_id = ?");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(job_id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(joined)
            .transpose()
    }

    async fn list_tasks(&self, q: &TaskQuery) -> StoreResult<Vec<(Task, Instance)>> {
        let states: String = if q.states.is_empty() {
            ",Submitted,Running,Success,Failed,Cancel,".to_owned()
        } else {
            format!(
                ",{},",
                q.states
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            )
        };
        let (cmp, order) = if q.descending {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        let sql = format!(
            "{JOINED} WHERE i.bucket = ?1 AND t.node_type = ?2 \
             AND instr(?3, ',' || (CASE WHEN t.state = 'Waiting' AND t.started IS NOT NULL \
             THEN 'Running' ELSE t.state END) || ',') > 0 \
             AND (?4 IS NULL OR t.queue_id = ?4) AND (?5 IS NULL OR i.workflow_id = ?5) \
             AND (?6 IS NULL OR t.input_key = ?6) AND (?7 IS NULL OR t.created >= ?7) \
             AND (?8 IS NULL OR t.created <= ?8) AND (?9 IS NULL OR t.job_id {cmp} ?9) \
             AND (?11 IS NULL OR t.run_id IN (SELECT run_id FROM batch_items WHERE batch_id = ?11)) \
             ORDER BY t.job_id {order} LIMIT ?10"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
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
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut run = SqliteRunTx { conn: &mut tx };
        let outcome = flow::cancel_task(&mut run, job_id, now, decide, callbacks).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn cancel_requested(&self, job_id: &str) -> StoreResult<bool> {
        let flag: Option<i64> =
            sqlx::query_scalar("SELECT cancel_requested FROM tasks WHERE job_id = ?")
                .bind(job_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(flag == Some(1))
    }
}
