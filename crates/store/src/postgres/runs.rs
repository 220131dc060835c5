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

/// Queues tried per claim before giving up until the next poll (each was found full).
/// How many full queues or busy runs one claim steps over before it reports nothing.
const CLAIM_SKIP_TRIES: usize = 8;

/// Why one claim attempt took nothing although a task was found.
enum Skip {
    /// Its queue is at MaxConcurrent (or paused) under the queue's lock.
    Queue(String),
    /// Another claimer holds its run: it is claiming that run's section group.
    Run(String),
}

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

    /// One claim attempt, skipping queues already found full. `Err(queue)`: the candidate's
    /// queue turned out full once locked.
    /// One claim attempt in one transaction, stepping over `full` queues and `busy` runs.
    ///
    /// Section groups: every claimer that takes a section task with its siblings holds the
    /// run's row (`FOR UPDATE SKIP LOCKED`, so a second claimer of the same run steps over it
    /// instead of taking one of the group); the siblings are then locked without SKIP LOCKED,
    /// waiting only for transactions that hold one of them briefly (a claimer about to step
    /// over the run, a cancel), so none is left out.
    async fn claim_once(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        siblings: u32,
        full: &[String],
        busy: &[String],
    ) -> StoreResult<Result<Vec<Task>, Skip>> {
        let mut tx = self.pool.begin().await?;
        let candidate: Option<(String, Option<String>, String, String)> = sqlx::query_as(
            // The queue test here is a cheap filter on this statement's snapshot; the count
            // that decides is made below, under the queue's lock.
            "SELECT t.job_id, q.id, t.run_id, t.node_type FROM tasks t \
             LEFT JOIN queues q ON q.id = t.queue_id \
             WHERE t.state = 'Submitted' AND t.not_before <= $3 AND t.queue_id <> ALL($1) \
             AND t.run_id <> ALL($2) \
             AND (q.id IS NULL OR (q.state = 'Active' AND q.max_concurrent > \
             (SELECT COUNT(*) FROM tasks r WHERE r.queue_id = t.queue_id AND r.state = 'Running'))) \
             ORDER BY t.created, t.job_id LIMIT 1 FOR UPDATE OF t SKIP LOCKED",
        )
        .bind(full)
        .bind(busy)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((job_id, queue, run_id, node_type)) = candidate else {
            return Ok(Ok(Vec::new()));
        };
        let fuse =
            siblings > 0 && NodeType::of_task_type(&node_type).is_some_and(NodeType::is_section);
        if fuse {
            let held: Option<i32> = sqlx::query_scalar(
                "SELECT 1 FROM instances WHERE run_id = $1 FOR UPDATE SKIP LOCKED",
            )
            .bind(&run_id)
            .fetch_optional(&mut *tx)
            .await?;
            if held.is_none() {
                // Release the task at once: the run's holder may be waiting for it.
                tx.rollback().await?;
                return Ok(Err(Skip::Run(run_id)));
            }
        }
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
                tx.rollback().await?;
                return Ok(Err(Skip::Queue(queue)));
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
        let head = rows::task(&row)?;
        let mut group = Vec::new();
        if fuse {
            let types: Vec<&str> = NodeType::sections().map(NodeType::as_str).collect();
            let rows = sqlx::query(
                "WITH picked AS (SELECT job_id FROM tasks WHERE run_id = $4 \
                 AND state = 'Submitted' AND not_before <= $1 AND input_bucket = $5 \
                 AND input_key = $6 AND queue_id = $7 AND node_type = ANY($8) AND job_id <> $9 \
                 ORDER BY job_id LIMIT $10 FOR UPDATE) \
                 UPDATE tasks t SET state = 'Running', started = COALESCE(started, $1), \
                 lease_owner = $2, lease_until = $3 FROM picked WHERE t.job_id = picked.job_id \
                 RETURNING t.*",
            )
            .bind(now)
            .bind(owner)
            .bind(lease_until)
            .bind(&head.run_id)
            .bind(&head.input_bucket)
            .bind(&head.input_key)
            .bind(&head.queue_id)
            .bind(&types)
            .bind(&head.job_id)
            .bind(i64::from(siblings))
            .fetch_all(&mut *tx)
            .await?;
            group = rows
                .iter()
                .map(rows::task)
                .collect::<StoreResult<Vec<_>>>()?;
            group.sort_by(|a, b| a.job_id.cmp(&b.job_id));
        }
        tx.commit().await?;
        group.insert(0, head);
        Ok(Ok(group))
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

    async fn claim_group(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        siblings: u32,
    ) -> StoreResult<Vec<Task>> {
        let (mut full, mut busy) = (Vec::new(), Vec::new());
        let mut failed = 0;
        while full.len() + busy.len() < CLAIM_SKIP_TRIES {
            match self
                .claim_once(owner, now, lease_until, siblings, &full, &busy)
                .await
            {
                Ok(Ok(group)) => return Ok(group),
                Ok(Err(Skip::Queue(queue))) => full.push(queue),
                Ok(Err(Skip::Run(run))) => busy.push(run),
                // A group claim waits for its siblings' row locks; a deadlock with a cancel
                // of one of them aborts one side, which simply tries again.
                Err(e) if retryable(&e) && failed < RETRIES => failed += 1,
                Err(e) => return Err(e),
            }
        }
        Ok(Vec::new())
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
