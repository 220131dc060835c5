//! Runs and tasks on PostgreSQL: creation, claims with `SKIP LOCKED`, leases, the task-finish
//! transaction.

use async_trait::async_trait;
use reelflow_model::execution::{Instance, Task, TaskState};
use sqlx::PgConnection;

use super::tx::{PgRunTx, Woken, load_run};
use super::{PgStore, RETRIES, notify, retryable};
use crate::rows::{self, outputs_to_json, pairs_to_json};
use crate::{
    CallbackBuilder, Decider, FinishResult, NewRun, RunQuery, RunStore, StoreResult, TaskOutcome,
    flow,
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
    .bind(&t.node_type)
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

/// Queues tried per claim before giving up until the next poll (each was found full).
const CLAIM_QUEUE_TRIES: usize = 8;

impl PgStore {
    /// Inserts runs in the caller's transaction and announces submitted tasks at its commit.
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

    /// One claim attempt, skipping queues already found full. `Err(queue)`: the candidate's
    /// queue turned out full once locked.
    async fn claim_once(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        full: &[String],
    ) -> StoreResult<Result<Option<Task>, String>> {
        let mut tx = self.pool.begin().await?;
        let candidate: Option<(String, Option<String>)> = sqlx::query_as(
            // The queue test here is a cheap filter on this statement's snapshot; the count
            // that decides is made below, under the queue's lock.
            "SELECT t.job_id, q.id FROM tasks t LEFT JOIN queues q ON q.id = t.queue_id \
             WHERE t.state = 'Submitted' AND t.queue_id <> ALL($1) \
             AND (q.id IS NULL OR (q.state = 'Active' AND q.max_concurrent > \
             (SELECT COUNT(*) FROM tasks r WHERE r.queue_id = t.queue_id AND r.state = 'Running'))) \
             ORDER BY t.created, t.job_id LIMIT 1 FOR UPDATE OF t SKIP LOCKED",
        )
        .bind(full)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((job_id, queue)) = candidate else {
            return Ok(Ok(None));
        };
        if let Some(queue) = queue {
            // Claims of one queue serialize on its row; the count is a new statement, so it
            // sees every claim committed before the lock was granted.
            sqlx::query("SELECT 1 FROM queues WHERE id = $1 FOR UPDATE")
                .bind(&queue)
                .execute(&mut *tx)
                .await?;
            let room: Option<bool> = sqlx::query_scalar(
                "SELECT q.state = 'Active' AND q.max_concurrent > (SELECT COUNT(*) FROM tasks r \
                 WHERE r.queue_id = q.id AND r.state = 'Running') FROM queues q WHERE q.id = $1",
            )
            .bind(&queue)
            .fetch_optional(&mut *tx)
            .await?;
            if room != Some(true) {
                return Ok(Err(queue));
            }
        }
        let row = sqlx::query(
            "UPDATE tasks SET state = 'Running', started = COALESCE(started, $1), \
             lease_owner = $2, lease_until = $3 WHERE job_id = $4 RETURNING *",
        )
        .bind(now)
        .bind(owner)
        .bind(lease_until)
        .bind(&job_id)
        .fetch_one(&mut *tx)
        .await?;
        let task = rows::task(&row)?;
        tx.commit().await?;
        Ok(Ok(Some(task)))
    }
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
             AND ($6::text IS NULL OR run_id < $6) ORDER BY run_id DESC LIMIT $7"
        } else {
            "SELECT * FROM instances WHERE workflow_id = $1 \
             AND ($2::text[] IS NULL OR state = ANY($2)) \
             AND ($3::text IS NULL OR strpos(object, $3) > 0) \
             AND ($4::bigint IS NULL OR created >= $4) AND ($5::bigint IS NULL OR created <= $5) \
             AND ($6::text IS NULL OR run_id > $6) ORDER BY run_id ASC LIMIT $7"
        };
        let rows = sqlx::query(sql)
            .bind(&q.workflow_id)
            .bind(states)
            .bind(q.name.as_deref().filter(|n| !n.is_empty()))
            .bind(q.created_from)
            .bind(q.created_to)
            .bind(q.after_run_id.as_deref())
            .bind(i64::from(q.limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(rows::instance).collect()
    }

    async fn claim_task(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
    ) -> StoreResult<Option<Task>> {
        let mut full = Vec::new();
        while full.len() < CLAIM_QUEUE_TRIES {
            match self.claim_once(owner, now, lease_until, &full).await? {
                Ok(task) => return Ok(task),
                Err(queue) => full.push(queue),
            }
        }
        Ok(None)
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

    async fn finish_task(
        &self,
        job_id: &str,
        owner: &str,
        outcome: &TaskOutcome,
        decide: &Decider,
        callbacks: &CallbackBuilder,
    ) -> StoreResult<FinishResult> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut tx = self.pool.begin().await?;
            let mut run = PgRunTx {
                conn: &mut tx,
                woken: Woken::default(),
            };
            let result = flow::finish_task(&mut run, job_id, owner, outcome, decide, callbacks)
                .await
                .map(|r| (r, run.woken));
            match result {
                Ok((FinishResult::LeaseLost, _)) => return Ok(FinishResult::LeaseLost),
                Ok((applied, woken)) => {
                    woken.announce(&mut tx, &self.channels).await?;
                    tx.commit().await?;
                    return Ok(applied);
                }
                Err(e) if retryable(&e) && attempt <= RETRIES => continue,
                Err(e) => return Err(e),
            }
        }
    }

    async fn requeue_stale(&self, now: i64, dead_owner: Option<&str>) -> StoreResult<u64> {
        let done = sqlx::query(
            "UPDATE tasks SET state = 'Submitted', lease_owner = NULL, lease_until = NULL, \
             progress = 0 WHERE state = 'Running' AND (lease_until < $1 OR lease_owner = $2)",
        )
        .bind(now)
        .bind(dead_owner)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() > 0 {
            let mut conn = self.pool.acquire().await?;
            notify(&mut conn, &self.channels.tasks).await?;
        }
        Ok(done.rows_affected())
    }
}
