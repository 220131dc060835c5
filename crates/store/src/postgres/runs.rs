//! Runs and tasks on PostgreSQL: creation, claims with `SKIP LOCKED`, leases, the task-finish
//! transaction.

use async_trait::async_trait;
use reelflow_model::execution::{Instance, Task, TaskState};
use reelflow_model::workflow::NodeType;
use sqlx::PgConnection;

use super::tx::{PgRunTx, Woken, load_run};
use super::{PgStore, RETRIES, notify, retryable};
use crate::rows::{self, outputs_to_json, pairs_to_json};
use crate::{
    CallbackBuilder, ClaimPosition, FinishResult, NewRun, RunQuery, RunStore, StoreResult, TaskEnd,
    TimedDecider, flow,
};

/// Inserts a run and its tasks; true when some task is submitted (claimable now).
pub(super) async fn insert_run(conn: &mut PgConnection, run: &NewRun) -> StoreResult<bool> {
    let i = &run.instance;
    sqlx::query(
        "INSERT INTO instances (run_id, workflow_id, workflow_name, bucket, object, cos_headers, \
         topology, state, created, ended) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&i.run_id)
    .bind(&i.workflow_id)
    .bind(&i.workflow_name)
    .bind(&i.bucket)
    .bind(&i.object)
    .bind(pairs_to_json(&i.cos_headers))
    .bind(i.topology_xml.to_xml())
    .bind(i.state.as_str())
    .bind(i.created)
    .bind(i.ended)
    .execute(&mut *conn)
    .await?;
    for t in &run.tasks {
        insert_task(conn, t).await?;
    }
    Ok(run.tasks.iter().any(|t| t.state == TaskState::Submitted))
}

async fn insert_task(conn: &mut PgConnection, t: &Task) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO tasks (job_id, run_id, node_name, node_type, template_id, template_name, \
         state, code, message, progress, input_bucket, input_key, outputs, created, started, \
         ended, queue_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
    )
    .bind(&t.job_id)
    .bind(&t.run_id)
    .bind(&t.node_name)
    .bind(&t.tag)
    .bind(&t.template_id)
    .bind(&t.template_name)
    .bind(t.state.as_str())
    .bind(&t.code)
    .bind(&t.message)
    .bind(i64::from(t.progress))
    .bind(&t.input_bucket)
    .bind(&t.input_key)
    .bind(outputs_to_json(&t.outputs))
    .bind(t.created)
    .bind(t.started)
    .bind(t.ended)
    .bind(&t.queue_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// How many full queues or busy runs one claim steps over before it reports nothing.
const CLAIM_SKIP_TRIES: i32 = 8;

impl PgStore {
    pub(super) async fn insert_runs(
        &self,
        conn: &mut PgConnection,
        runs: &[NewRun],
    ) -> StoreResult<()> {
        let mut submitted = false;
        for run in runs {
            submitted |= insert_run(conn, run).await?;
        }
        if submitted {
            notify(conn, &self.channels.tasks).await?;
        }
        Ok(())
    }
}

/// Splits [`PgStore::claim_groups`]' rows: single tasks, then possibly one fused group (a
/// section task with its siblings, by job id) which the claim function puts last.
fn split_groups(tasks: Vec<Task>, fusing: bool) -> Vec<Vec<Task>> {
    let mut groups = Vec::new();
    let mut rest = tasks.into_iter();
    while let Some(task) = rest.next() {
        if fusing && task.node_type.is_section() {
            let mut group = vec![task];
            group.extend(rest.by_ref());
            group[1..].sort_by(|a, b| a.job_id.cmp(&b.job_id));
            groups.push(group);
        } else {
            groups.push(vec![task]);
        }
    }
    groups
}

#[async_trait]
impl RunStore for PgStore {
    async fn create_run(&self, run: &NewRun) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        self.insert_runs(&mut tx, std::slice::from_ref(run)).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_run(&self, run_id: &str) -> StoreResult<Option<(Instance, Vec<Task>)>> {
        // One snapshot for the instance and its tasks.
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await?;
        let run = load_run(&mut tx, run_id).await?;
        tx.commit().await?;
        Ok(run)
    }

    async fn list_runs(&self, q: &RunQuery) -> StoreResult<Vec<Instance>> {
        let states: Option<Vec<&str>> =
            (!q.states.is_empty()).then(|| q.states.iter().map(|s| s.as_str()).collect());
        let sql = if q.descending {
            "SELECT * FROM instances WHERE workflow_id = $1 \
             AND ($2::text[] IS NULL OR state = ANY($2)) \
             AND ($3::text IS NULL OR strpos(object, $3) > 0) \
             AND ($4::bigint IS NULL OR created >= $4) AND ($5::bigint IS NULL OR created <= $5) \
             AND ($6::text IS NULL OR run_id < $6) AND ($8::text IS NULL OR run_id IN \
             (SELECT run_id FROM batch_items WHERE batch_id = $8)) \
             ORDER BY run_id DESC LIMIT $7"
        } else {
            "SELECT * FROM instances WHERE workflow_id = $1 \
             AND ($2::text[] IS NULL OR state = ANY($2)) \
             AND ($3::text IS NULL OR strpos(object, $3) > 0) \
             AND ($4::bigint IS NULL OR created >= $4) AND ($5::bigint IS NULL OR created <= $5) \
             AND ($6::text IS NULL OR run_id > $6) AND ($8::text IS NULL OR run_id IN \
             (SELECT run_id FROM batch_items WHERE batch_id = $8)) \
             ORDER BY run_id ASC LIMIT $7"
        };
        let rows = sqlx::query(sql)
            .bind(&q.workflow_id)
            .bind(states)
            .bind(q.name.as_deref().filter(|n| !n.is_empty()))
            .bind(q.created_from)
            .bind(q.created_to)
            .bind(q.after_run_id.as_deref())
            .bind(i64::from(q.limit))
            .bind(q.batch_id.as_deref())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(rows::instance).collect()
    }

    /// One claim of [`RunStore::claim_groups`].
    async fn claim_group(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        siblings: u32,
    ) -> StoreResult<Vec<Task>> {
        let groups = self
            .claim_groups(owner, now, lease_until, siblings, 1, None)
            .await?;
        Ok(groups.into_iter().next().unwrap_or_default())
    }

    /// One statement, `reelflow_claim_many` (migration 0006), in its own transaction.
    ///
    /// Section groups: every claimer that takes a section task with its siblings holds the
    /// run's row (`FOR UPDATE SKIP LOCKED`, so a second claimer of the same run steps over it
    /// instead of taking one of the group); the siblings are then locked without SKIP LOCKED,
    /// waiting only for transactions that hold one of them briefly (a claimer about to step
    /// over the run, which releases it at once, or a cancel), so none is left out. A deadlock
    /// with a cancel of one of them aborts one side, which simply tries again.
    async fn claim_groups(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        siblings: u32,
        limit: u32,
        after: Option<&ClaimPosition>,
    ) -> StoreResult<Vec<Vec<Task>>> {
        let sections: Vec<&str> = NodeType::sections().map(NodeType::as_str).collect();
        let mut failed = 0;
        let rows = loop {
            let claimed = sqlx::query(
                "SELECT * FROM reelflow_claim_many($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(owner)
            .bind(now)
            .bind(lease_until)
            .bind(i32::try_from(siblings).unwrap_or(i32::MAX))
            .bind(&sections)
            .bind(CLAIM_SKIP_TRIES)
            .bind(i32::try_from(limit.max(1)).unwrap_or(i32::MAX))
            .bind(after.map(|a| a.queue_id.as_str()))
            .bind(after.map(|a| a.created))
            .bind(after.map(|a| a.job_id.as_str()))
            .fetch_all(&self.pool)
            .await
            .map_err(crate::StoreError::from);
            match claimed {
                Err(e) if retryable(&e) && failed < RETRIES => failed += 1,
                result => break result?,
            }
        };
        let tasks = rows
            .iter()
            .map(rows::task)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(split_groups(tasks, siblings > 0))
    }

    async fn retry_task(
        &self,
        job_id: &str,
        owner: &str,
        not_before: i64,
        code: &str,
        message: &str,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE tasks SET state = 'Submitted', lease_owner = NULL, lease_until = NULL, \
             progress = 0, outputs = '[]', result = '', attempts = attempts + 1, not_before = $1, \
             code = $2, message = $3 WHERE job_id = $4 AND lease_owner = $5 AND state = 'Running'",
        )
        .bind(not_before)
        .bind(code)
        .bind(message)
        .bind(job_id)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn renew_lease(&self, job_id: &str, owner: &str, lease_until: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE tasks SET lease_until = $1 WHERE job_id = $2 AND lease_owner = $3 \
             AND state = 'Running'",
        )
        .bind(lease_until)
        .bind(job_id)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_progress(&self, job_id: &str, progress: u8) -> StoreResult<()> {
        sqlx::query("UPDATE tasks SET progress = $1 WHERE job_id = $2 AND state = 'Running'")
            .bind(i64::from(progress))
            .bind(job_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn finish_tasks(
        &self,
        owner: &str,
        ends: &[TaskEnd<'_>],
        decide: &TimedDecider<'_>,
        callbacks: &CallbackBuilder,
    ) -> StoreResult<Vec<FinishResult>> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut tx = self.pool.begin().await?;
            let mut run = PgRunTx {
                conn: &mut tx,
                woken: Woken::default(),
            };
            let result = flow::finish_tasks(&mut run, owner, ends, decide, callbacks)
                .await
                .map(|r| (r, run.woken));
            match result {
                Ok((results, _)) if results.iter().all(|r| *r == FinishResult::LeaseLost) => {
                    return Ok(results);
                }
                Ok((results, woken)) => {
                    woken.announce(&mut tx, &self.channels).await?;
                    tx.commit().await?;
                    return Ok(results);
                }
                Err(e) if retryable(&e) && attempt <= RETRIES => continue,
                Err(e) => return Err(e),
            }
        }
    }

    async fn requeue_stale(
        &self,
        now: i64,
        dead_owner: Option<&str>,
        lost: bool,
    ) -> StoreResult<u64> {
        let done = sqlx::query(crate::REQUEUE_STALE)
            .bind(now)
            .bind(i64::from(lost))
            .bind(dead_owner)
            .execute(&self.pool)
            .await?;
        // The Running counts of nodes that hold nothing any more (migration 0006), so the rows
        // of stopped or dead nodes do not pile up.
        sqlx::query("DELETE FROM queue_running WHERE running = 0")
            .execute(&self.pool)
            .await?;
        if done.rows_affected() > 0 {
            let mut conn = self.pool.acquire().await?;
            notify(&mut conn, &self.channels.tasks).await?;
        }
        Ok(done.rows_affected())
    }
}
