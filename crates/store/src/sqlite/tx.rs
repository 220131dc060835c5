//! The primitive steps of a run transaction ([`crate::flow::RunTx`]) on SQLite. The caller's
//! `BEGIN IMMEDIATE` holds the database's write lock, which is all the locking they need.

use async_trait::async_trait;
use reelflow_model::execution::{Instance, Task, TaskState};
use sqlx::SqliteConnection;

use super::outbox::insert_row;
use crate::callbacks::{CallbackOrigin, NewCallback};
use crate::flow::{Birth, Held, RunTx};
use crate::rows::{self, clean_text, outputs_to_json, task_state};
use crate::{RunEnd, StoreResult, TaskEnd, TaskUpdate};

/// An open `BEGIN IMMEDIATE` transaction seen as a [`RunTx`].
pub(super) struct SqliteRunTx<'c> {
    pub conn: &'c mut SqliteConnection,
}

/// Loads a run and its tasks in job-id order.
pub(super) async fn load_run(
    conn: &mut SqliteConnection,
    run_id: &str,
) -> StoreResult<Option<(Instance, Vec<Task>)>> {
    let Some(row) = sqlx::query("SELECT * FROM instances WHERE run_id = ?")
        .bind(run_id)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let instance = rows::instance(&row)?;
    let tasks = sqlx::query("SELECT * FROM tasks WHERE run_id = ? ORDER BY job_id")
        .bind(run_id)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(rows::task)
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Some((instance, tasks)))
}

#[async_trait]
impl RunTx for SqliteRunTx<'_> {
    async fn lock_task_run(&mut self, job_id: &str) -> StoreResult<Option<(String, TaskState)>> {
        let found: Option<(String, String)> =
            sqlx::query_as("SELECT run_id, state FROM tasks WHERE job_id = ?")
                .bind(job_id)
                .fetch_optional(&mut *self.conn)
                .await?;
        found
            .map(|(run_id, state)| Ok((run_id, task_state(&state)?)))
            .transpose()
    }

    async fn lock_for_finish(&mut self, job_ids: &[&str]) -> StoreResult<Vec<Held>> {
        let mut held = Vec::with_capacity(job_ids.len());
        for job_id in job_ids {
            let found: Option<(String, String, Option<String>)> =
                sqlx::query_as("SELECT run_id, state, lease_owner FROM tasks WHERE job_id = ?")
                    .bind(job_id)
                    .fetch_optional(&mut *self.conn)
                    .await?;
            if let Some((run_id, state, lease_owner)) = found {
                held.push(Held {
                    job_id: (*job_id).to_owned(),
                    run_id,
                    state: task_state(&state)?,
                    lease_owner,
                });
            }
        }
        Ok(held)
    }

    async fn mark_finished_many(&mut self, owner: &str, ends: &[TaskEnd<'_>]) -> StoreResult<u64> {
        let mut marked = 0;
        for end in ends {
            let outcome = end.outcome;
            let progress: i64 = if outcome.state == TaskState::Success {
                100
            } else {
                0
            };
            let done = sqlx::query(
                "UPDATE tasks SET state = ?, code = ?, message = ?, outputs = ?, result = ?, \
                 ended = ?, progress = MAX(progress, ?), lease_owner = NULL, lease_until = NULL \
                 WHERE job_id = ? AND state = 'Running' AND lease_owner = ?",
            )
            .bind(outcome.state.as_str())
            .bind(clean_text(&outcome.code).as_ref())
            .bind(clean_text(&outcome.message).as_ref())
            .bind(outputs_to_json(&outcome.outputs))
            .bind(clean_text(&outcome.result).as_ref())
            .bind(outcome.ended)
            .bind(progress)
            .bind(end.job_id)
            .bind(owner)
            .execute(&mut *self.conn)
            .await?;
            marked += done.rows_affected();
        }
        Ok(marked)
    }

    async fn mark_cancelled(&mut self, job_id: &str, now: i64) -> StoreResult<()> {
        sqlx::query(
            "UPDATE tasks SET state = 'Cancel', code = 'Cancelled', \
             message = 'cancelled by request', ended = ?1, started = COALESCE(started, ?1) \
             WHERE job_id = ?2",
        )
        .bind(now)
        .bind(job_id)
        .execute(&mut *self.conn)
        .await?;
        Ok(())
    }

    async fn request_cancel(&mut self, job_id: &str) -> StoreResult<()> {
        sqlx::query("UPDATE tasks SET cancel_requested = 1 WHERE job_id = ?")
            .bind(job_id)
            .execute(&mut *self.conn)
            .await?;
        Ok(())
    }

    async fn load_run(&mut self, run_id: &str) -> StoreResult<Option<(Instance, Vec<Task>)>> {
        load_run(self.conn, run_id).await
    }

    async fn update_tasks(&mut self, updates: &[TaskUpdate]) -> StoreResult<()> {
        for update in updates {
            sqlx::query(
                "UPDATE tasks SET state = ?, created = ?, input_bucket = ?, input_key = ? \
                 WHERE job_id = ?",
            )
            .bind(update.state.as_str())
            .bind(update.created)
            .bind(&update.input_bucket)
            .bind(&update.input_key)
            .bind(&update.job_id)
            .execute(&mut *self.conn)
            .await?;
        }
        Ok(())
    }

    async fn end_runs(&mut self, ends: &[(String, RunEnd)]) -> StoreResult<()> {
        for (run_id, end) in ends {
            sqlx::query(
                "UPDATE instances SET state = ?, ended = ? WHERE run_id = ? AND state = 'Running'",
            )
            .bind(end.state.as_str())
            .bind(end.ended)
            .bind(run_id)
            .execute(&mut *self.conn)
            .await?;
        }
        Ok(())
    }

    async fn insert_callbacks(
        &mut self,
        messages: &[(CallbackOrigin, NewCallback)],
        created_ms: i64,
        birth: Option<Birth<'_>>,
    ) -> StoreResult<()> {
        let lease = birth.map(|b| (b.owner, b.lease_until_ms));
        for (origin, message) in messages {
            insert_row(self.conn, origin, message, created_ms, lease).await?;
        }
        Ok(())
    }
}
