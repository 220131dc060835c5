//! The primitive steps of a run transaction ([`crate::flow::RunTx`]) on PostgreSQL.

use async_trait::async_trait;
use reelflow_model::execution::{Instance, Task, TaskState};
use sqlx::PgConnection;

use super::outbox::{Lease, insert_message, next_born_seqs};
use super::{Channels, notify};
use crate::callbacks::{CallbackOrigin, NewCallback};
use crate::flow::{Birth, Held, RunTx};
use crate::rows::{self, clean_text, outputs_to_json, task_state};
use crate::{RunEnd, StoreResult, TaskEnd, TaskOutcome, TaskUpdate};

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

    async fn lock_for_finish(&mut self, job_ids: &[&str]) -> StoreResult<Vec<Held>> {
        sqlx::query(
            "SELECT 1 FROM instances WHERE run_id = ANY(ARRAY( \
             SELECT run_id FROM tasks WHERE job_id = ANY($1))) ORDER BY run_id FOR UPDATE",
        )
        .bind(job_ids)
        .execute(&mut *self.conn)
        .await?;
        // Read after the run locks (a new statement sees what committed while we waited).
        let rows: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
            "SELECT job_id, run_id, state, lease_owner FROM tasks WHERE job_id = ANY($1) \
             ORDER BY job_id FOR UPDATE",
        )
        .bind(job_ids)
        .fetch_all(&mut *self.conn)
        .await?;
        rows.into_iter()
            .map(|(job_id, run_id, state, lease_owner)| {
                Ok(Held {
                    job_id,
                    run_id,
                    state: task_state(&state)?,
                    lease_owner,
                })
            })
            .collect()
    }

    async fn load_runs(&mut self, run_ids: &[&str]) -> StoreResult<Vec<(Instance, Vec<Task>)>> {
        let instances = sqlx::query("SELECT * FROM instances WHERE run_id = ANY($1)")
            .bind(run_ids)
            .fetch_all(&mut *self.conn)
            .await?;
        let mut runs: Vec<(Instance, Vec<Task>)> = instances
            .iter()
            .map(|row| Ok((rows::instance(row)?, Vec::new())))
            .collect::<StoreResult<_>>()?;
        let tasks = sqlx::query("SELECT * FROM tasks WHERE run_id = ANY($1) ORDER BY job_id")
            .bind(run_ids)
            .fetch_all(&mut *self.conn)
            .await?;
        for row in &tasks {
            let task = rows::task(row)?;
            if let Some((_, list)) = runs.iter_mut().find(|(i, _)| i.run_id == task.run_id) {
                list.push(task);
            }
        }
        Ok(runs)
    }

    // The set-based writes below join `unnest(...)` of the batch and repeat the keys as
    // `= ANY($1)`: the rows are then found by primary key, whatever the batch size (joined alone,
    // larger batches led the planner to a hash join over a scan of the whole table).
    async fn mark_finished_many(&mut self, owner: &str, ends: &[TaskEnd<'_>]) -> StoreResult<u64> {
        let col = |f: fn(&TaskOutcome) -> String| -> Vec<String> {
            ends.iter().map(|e| f(e.outcome)).collect()
        };
        let ids: Vec<&str> = ends.iter().map(|e| e.job_id).collect();
        let ended: Vec<i64> = ends.iter().map(|e| e.outcome.ended).collect();
        let progress: Vec<i64> = ends
            .iter()
            .map(|e| {
                if e.outcome.state == TaskState::Success {
                    100
                } else {
                    0
                }
            })
            .collect();
        let done = sqlx::query(
            "UPDATE tasks t SET state = u.state, code = u.code, message = u.message, \
             outputs = u.outputs, result = u.result, ended = u.ended, \
             progress = GREATEST(t.progress, u.progress), lease_owner = NULL, lease_until = NULL \
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
             $7::bigint[], $8::bigint[]) AS u(job_id, state, code, message, outputs, result, \
             ended, progress) \
             WHERE t.job_id = u.job_id AND t.job_id = ANY($1) AND t.state = 'Running' \
             AND t.lease_owner = $9",
        )
        .bind(&ids)
        .bind(col(|o| o.state.as_str().to_owned()))
        .bind(col(|o| clean_text(&o.code).into_owned()))
        .bind(col(|o| clean_text(&o.message).into_owned()))
        .bind(col(|o| outputs_to_json(&o.outputs)))
        .bind(col(|o| clean_text(&o.result).into_owned()))
        .bind(&ended)
        .bind(&progress)
        .bind(owner)
        .execute(&mut *self.conn)
        .await?;
        Ok(done.rows_affected())
    }

    async fn update_tasks(&mut self, updates: &[TaskUpdate]) -> StoreResult<()> {
        let ids: Vec<&str> = updates.iter().map(|u| u.job_id.as_str()).collect();
        let states: Vec<&str> = updates.iter().map(|u| u.state.as_str()).collect();
        let created: Vec<i64> = updates.iter().map(|u| u.created).collect();
        let buckets: Vec<&str> = updates.iter().map(|u| u.input_bucket.as_str()).collect();
        let keys: Vec<&str> = updates.iter().map(|u| u.input_key.as_str()).collect();
        sqlx::query(
            "UPDATE tasks t SET state = u.state, created = u.created, \
             input_bucket = u.input_bucket, input_key = u.input_key \
             FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[]) \
             AS u(job_id, state, created, input_bucket, input_key) \
             WHERE t.job_id = u.job_id AND t.job_id = ANY($1)",
        )
        .bind(&ids)
        .bind(&states)
        .bind(&created)
        .bind(&buckets)
        .bind(&keys)
        .execute(&mut *self.conn)
        .await?;
        self.woken.tasks |= updates.iter().any(|u| u.state == TaskState::Submitted);
        Ok(())
    }

    async fn end_runs(&mut self, ends: &[(String, RunEnd)]) -> StoreResult<()> {
        let ids: Vec<&str> = ends.iter().map(|(r, _)| r.as_str()).collect();
        let states: Vec<&str> = ends.iter().map(|(_, e)| e.state.as_str()).collect();
        let ended: Vec<i64> = ends.iter().map(|(_, e)| e.ended).collect();
        sqlx::query(
            "UPDATE instances i SET state = u.state, ended = u.ended \
             FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(run_id, state, ended) \
             WHERE i.run_id = u.run_id AND i.run_id = ANY($1) AND i.state = 'Running'",
        )
        .bind(&ids)
        .bind(&states)
        .bind(&ended)
        .execute(&mut *self.conn)
        .await?;
        Ok(())
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
