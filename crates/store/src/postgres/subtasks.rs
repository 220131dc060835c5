//! [`SubTaskStore`] on PostgreSQL.

use async_trait::async_trait;
use reelflow_model::execution::Task;
use sqlx::{AssertSqlSafe, PgConnection};

use super::{PgStore, notify};
use crate::rows::{self, outputs_to_json};
use crate::subtasks::{MARK_PIECE_COLLECTED, PIECES_TO_COLLECT, REFRESH_PROGRESS, SUB_COLUMNS};
use crate::{StoreResult, StoredPiece, SubTaskStore};

#[async_trait]
impl SubTaskStore for PgStore {
    async fn split_task(
        &self,
        parent_job_id: &str,
        owner: &str,
        subs: &[Task],
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        // The run's lock first, as a task end or a cancel takes it: a cancel either sees the
        // parent parked (and cancels its sub-tasks) or has flagged it before we look.
        sqlx::query(
            "SELECT 1 FROM instances WHERE run_id = \
             (SELECT run_id FROM tasks WHERE job_id = $1) FOR UPDATE",
        )
        .bind(parent_job_id)
        .execute(&mut *tx)
        .await?;
        let parked = sqlx::query(
            "UPDATE tasks SET state = 'Waiting', lease_owner = NULL, lease_until = NULL, \
             progress = 0 WHERE job_id = $1 AND state = 'Running' AND lease_owner = $2 \
             AND NOT cancel_requested",
        )
        .bind(parent_job_id)
        .bind(owner)
        .execute(&mut *tx)
        .await?;
        if parked.rows_affected() != 1 {
            return Ok(false);
        }
        for sub in subs {
            insert_sub(&mut tx, parent_job_id, sub).await?;
        }
        notify(&mut tx, &self.channels.tasks).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn sub_tasks(&self, parent_job_id: &str) -> StoreResult<Vec<Task>> {
        let rows = sqlx::query("SELECT * FROM tasks WHERE parent_job_id = $1 ORDER BY job_id")
            .bind(parent_job_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(rows::task).collect()
    }

    async fn refresh_parent_progress(&self, parent_job_id: &str) -> StoreResult<()> {
        sqlx::query(REFRESH_PROGRESS)
            .bind(parent_job_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn pieces_to_collect(&self, limit: u32) -> StoreResult<Vec<StoredPiece>> {
        let rows: Vec<(String, String)> = sqlx::query_as(PIECES_TO_COLLECT)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(job_id, result)| StoredPiece { job_id, result })
            .collect())
    }

    async fn mark_piece_collected(&self, job_id: &str, result: &str) -> StoreResult<bool> {
        let cleared = sqlx::query(MARK_PIECE_COLLECTED)
            .bind(job_id)
            .bind(result)
            .execute(&self.pool)
            .await?;
        Ok(cleared.rows_affected() == 1)
    }
}

async fn insert_sub(conn: &mut PgConnection, parent: &str, t: &Task) -> StoreResult<()> {
    let sql = format!(
        "INSERT INTO tasks ({SUB_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, 'Submitted', $7, \
         $8, 0, $9, $10, $11, $12, $13, $14, $15)"
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(&t.job_id)
        .bind(&t.run_id)
        .bind(&t.node_name)
        .bind(t.node_type.as_str())
        .bind(&t.template_id)
        .bind(&t.template_name)
        .bind(&t.code)
        .bind(&t.message)
        .bind(&t.input_bucket)
        .bind(&t.input_key)
        .bind(outputs_to_json(&t.outputs))
        .bind(t.created)
        .bind(&t.queue_id)
        .bind(parent)
        .bind(t.sub.as_ref().map_or("", |s| s.spec.as_str()))
        .execute(&mut *conn)
        .await?;
    Ok(())
}
