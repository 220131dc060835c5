//! The primitive steps of a run transaction ([`crate::flow::RunTx`]) on PostgreSQL.

use async_trait::async_trait;
use reelflow_model::execution::{Instance, Task, TaskState};
use sqlx::PgConnection;

use super::outbox::{Lease, insert_message, next_born_seqs};
use super::{Channels, notify};
use crate::callbacks::{CallbackOrigin, NewCallback};
use crate::flow::{Birth, RunTx};
use crate::rows::{self, clean_text, outputs_to_json, task_state};
use crate::{RunEnd, StoreResult, TaskOutcome, TaskUpdate};

/// What a transaction made ready, announced just before it commits.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Woken {
    /// Tasks were submitted.
    pub tasks: bool,
    /// Pending callback messages were written.
    pub callbacks: bool,
}

impl Woken {
    /// `NOTIFY`s the channels of what was made ready; call inside the transaction.
    pub(super) async fn announce(
        self,
        conn: &mut PgConnection,
        channels: &Channels,
    ) -> StoreResult<()> {
        if self.tasks {
            notify(conn, &channels.tasks).await?;
        }
        if self.callbacks {
            notify(conn, &channels.callbacks).await?;
        }
        Ok(())
    }
}

/// An open transaction seen as a [`RunTx`].
pub(super) struct PgRunTx<'c> {
    pub conn: &'c mut PgConnection,
    pub woken: Woken,
}

/// Loads a run and its tasks in job-id order.
pub(super) async fn load_run(
    conn: &mut PgConnection,
    run_id: &str,
) -> StoreResult<Option<(Instance, Vec<Task>)>> {
    let Some(row) = sqlx::query("SELECT * FROM instances WHERE run_id = $1")
        .bind(run_id)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let instance = rows::instance(&row)?;
    let tasks = sqlx::query("SELECT * FROM tasks WHERE run_id = $1 ORDER BY job_id")
        .bind(run_id)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(rows::task)
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Some((instance, tasks)))
}

#[async_trait]
impl RunTx for PgRunTx<'_> {
    async fn lock_task_run(&mut self, job_id: &str) -> StoreResult<Option<(String, TaskState)>> {
        let run_id: Option<String> =
            sqlx::query_scalar("SELECT run_id FROM tasks WHERE job_id = $1")
                .bind(job_id)
                .fetch_optional(&mut *self.conn)
                .await?;
        let Some(run_id) = run_id else {
            return Ok(None);
        };
        sqlx::query("SELECT 1 FROM instances WHERE run_id = $1 FOR UPDATE")
            .bind(&run_id)
            .execute(&mut *self.conn)
            .await?;
        // Read after the run lock (a new statement sees what committed while we waited), and
        // lock the task so a claim skips it while a cancel decides.
        let state: String =
            sqlx::query_scalar("SELECT state FROM tasks WHERE job_id = $1 FOR UPDATE")
                .bind(job_id)
                .fetch_one(&mut *self.conn)
                .await?;
        Ok(Some((run_id, task_state(&state)?)))
    }

    async fn mark_finished(
        &mut self,
        job_id: &str,
        owner: &str,
        outcome: &TaskOutcome,
    ) -> StoreResult<bool> {
        let progress: i64 = if outcome.state == TaskState::Success {
            100
        } else {
            0
        };
        let done = sqlx::query(
            "UPDATE tasks SET state = $1, code = $2, message = $3, outputs = $4, result = $5, \
             ended = $6, progress = GREATEST(progress, $7), lease_owner = NULL, \
             lease_until = NULL WHERE job_id = $8 AND state = 'Running' AND lease_owner = $9",
        )
        .bind(outcome.state.as_str())
        .bind(clean_text(&outcome.code).as_ref())
        .bind(clean_text(&outcome.message).as_ref())
        .bind(outputs_to_json(&outcome.outputs))
        .bind(clean_text(&outcome.result).as_ref())
        .bind(outcome.ended)
        .bind(progress)
        .bind(job_id)
        .bind(owner)
        .execute(&mut *self.conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn mark_cancelled(&mut self, job_id: &str, now: i64) -> StoreResult<()> {
        sqlx::query(
            "UPDATE tasks SET state = 'Cancel', code = 'Cancelled', \
             message = 'cancelled by request', ended = $1, started = COALESCE(started, $1) \
             WHERE job_id = $2",
        )
        .bind(now)
        .bind(job_id)
        .execute(&mut *self.conn)
        .await?;
        Ok(())
    }

    async fn request_cancel(&mut self, job_id: &str) -> StoreResult<()> {
        sqlx::query("UPDATE tasks SET cancel_requested = TRUE WHERE job_id = $1")
            .bind(job_id)
            .execute(&mut *self.conn)
            .await?;
        Ok(())
    }

    async fn load_run(&mut self, run_id: &str) -> StoreResult<Option<(Instance, Vec<Task>)>> {
        load_run(self.conn, run_id).await
    }

    async fn update_task(&mut self, update: &TaskUpdate) -> StoreResult<()> {
        sqlx::query(
            "UPDATE tasks SET state = $1, created = $2, input_bucket = $3, input_key = $4 \
             WHERE job_id = $5",
        )
        .bind(update.state.as_str())
        .bind(update.created)
        .bind(&update.input_bucket)
        .bind(&update.input_key)
        .bind(&update.job_id)
        .execute(&mut *self.conn)
        .await?;
        self.woken.tasks |= update.state == TaskState::Submitted;
        Ok(())
    }

    async fn end_run(&mut self, run_id: &str, end: &RunEnd) -> StoreResult<()> {
        sqlx::query(
            "UPDATE instances SET state = $1, ended = $2 WHERE run_id = $3 AND state = 'Running'",
        )
        .bind(end.state.as_str())
        .bind(end.ended)
        .bind(run_id)
        .execute(&mut *self.conn)
        .await?;
        Ok(())
    }

    async fn insert_callbacks(
        &mut self,
        messages: &[(CallbackOrigin, NewCallback)],
        created_ms: i64,
        birth: Option<Birth<'_>>,
    ) -> StoreResult<()> {
        let first_seq = match birth {
            Some(b) => Some(next_born_seqs(self.conn, b.owner, messages.len()).await?),
            None => None,
        };
        for (i, (origin, message)) in messages.iter().enumerate() {
            let lease = birth.zip(first_seq).map(|(b, first)| Lease {
                owner: b.owner,
                until_ms: b.lease_until_ms,
                born_seq: first + i as i64,
            });
            let inserted = insert_message(self.conn, origin, message, created_ms, lease).await?;
            self.woken.callbacks |= inserted && lease.is_none();
        }
        Ok(())
    }
}
