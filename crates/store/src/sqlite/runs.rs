//! Runs and tasks: creation, leasing, and the task-finish transaction.

use async_trait::async_trait;
use reelflow_model::execution::{Instance, RunState, Task, TaskState};
use sqlx::SqliteConnection;

use super::SqliteStore;
use super::outbox::insert_callback;
use super::rows::{self, outputs_to_json, pairs_to_json};
use crate::{
    CallbackBuilder, CallbackKind, CallbackOrigin, Decider, FinishResult, NewRun, RunQuery,
    RunStore, StoreResult, TaskOutcome,
};

pub(crate) async fn insert_run(conn: &mut SqliteConnection, run: &NewRun) -> StoreResult<()> {
    let i = &run.instance;
    sqlx::query(
        "INSERT INTO instances (run_id, workflow_id, workflow_name, bucket, object, cos_headers, \
         topology, state, created, ended) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
    Ok(())
}

async fn insert_task(conn: &mut SqliteConnection, t: &Task) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO tasks (job_id, run_id, node_name, node_type, template_id, template_name, \
         state, code, message, progress, input_bucket, input_key, outputs, created, started, ended, \
         queue_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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

async fn load_run(
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

async fn mark_finished(
    conn: &mut SqliteConnection,
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
        "UPDATE tasks SET state = ?, code = ?, message = ?, outputs = ?, result = ?, ended = ?, \
         progress = MAX(progress, ?), lease_owner = NULL, lease_until = NULL \
         WHERE job_id = ? AND state = 'Running' AND lease_owner = ?",
    )
    .bind(outcome.state.as_str())
    .bind(&outcome.code)
    .bind(&outcome.message)
    .bind(outputs_to_json(&outcome.outputs))
    .bind(&outcome.result)
    .bind(outcome.ended)
    .bind(progress)
    .bind(job_id)
    .bind(owner)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// After `job_id` reached a final state inside `tx`: lets the engine decide what happens next,
/// applies that, ends the run when decided, and enqueues the callbacks the builder asks for.
pub(crate) async fn apply_after_end(
    tx: &mut SqliteConnection,
    job_id: &str,
    decide: &Decider,
    callbacks: &CallbackBuilder,
) -> StoreResult<FinishResult> {
    let run_id: String = sqlx::query_scalar("SELECT run_id FROM tasks WHERE job_id = ?")
        .bind(job_id)
        .fetch_one(&mut *tx)
        .await?;
    let Some((mut instance, mut tasks)) = load_run(tx, &run_id).await? else {
        return Ok(FinishResult::LeaseLost);
    };
    let decision = decide(&instance, &tasks);
    for update in &decision.task_updates {
        sqlx::query(
            "UPDATE tasks SET state = ?, created = ?, input_bucket = ?, input_key = ? \
             WHERE job_id = ?",
        )
        .bind(update.state.as_str())
        .bind(update.created)
        .bind(&update.input_bucket)
        .bind(&update.input_key)
        .bind(&update.job_id)
        .execute(&mut *tx)
        .await?;
        if let Some(t) = tasks.iter_mut().find(|t| t.job_id == update.job_id) {
            t.state = update.state;
            t.created = update.created;
        }
    }
    let submitted = decision
        .task_updates
        .iter()
        .any(|u| u.state == TaskState::Submitted);
    let ended_at = decision.run_end.as_ref().map(|e| e.ended);
    if let Some(end) = &decision.run_end {
        sqlx::query("UPDATE instances SET state = ?, ended = ? WHERE run_id = ? AND state = ?")
            .bind(end.state.as_str())
            .bind(end.ended)
            .bind(&run_id)
            .bind(RunState::Running.as_str())
            .execute(&mut *tx)
            .await?;
        instance.state = end.state;
        instance.ended = Some(end.ended);
    }
    let created_ms = ended_at
        .or_else(|| {
            tasks
                .iter()
                .find(|t| t.job_id == job_id)
                .and_then(|t| t.ended)
        })
        .unwrap_or_default()
        * 1000;
    for (kind, message) in callbacks(&instance, &tasks, job_id) {
        let origin = CallbackOrigin {
            kind,
            run_id: run_id.clone(),
            job_id: (kind == CallbackKind::TaskFinish).then(|| job_id.to_owned()),
            bucket: instance.bucket.clone(),
            workflow_id: instance.workflow_id.clone(),
        };
        insert_callback(&mut *tx, &origin, &message, created_ms).await?;
    }
    Ok(FinishResult::Applied {
        run_ended: decision.run_end.is_some(),
        submitted,
    })
}

#[async_trait]
impl RunStore for SqliteStore {
    async fn create_run(&self, run: &NewRun) -> StoreResult<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        insert_run(&mut tx, run).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_run(&self, run_id: &str) -> StoreResult<Option<(Instance, Vec<Task>)>> {
        let mut conn = self.pool.acquire().await?;
        load_run(&mut conn, run_id).await
    }

    async fn list_runs(&self, q: &RunQuery) -> StoreResult<Vec<Instance>> {
        let states: Option<String> = (!q.states.is_empty()).then(|| {
            let names: Vec<&str> = q.states.iter().map(|s| s.as_str()).collect();
            format!(",{},", names.join(","))
        });
        let sql = if q.descending {
            "SELECT * FROM instances WHERE workflow_id = ? \
             AND (?2 IS NULL OR instr(?2, ',' || state || ',') > 0) \
             AND (?3 IS NULL OR instr(object, ?3) > 0) \
             AND (?4 IS NULL OR created >= ?4) AND (?5 IS NULL OR created <= ?5) \
             AND (?6 IS NULL OR run_id < ?6) ORDER BY run_id DESC LIMIT ?7"
        } else {
            "SELECT * FROM instances WHERE workflow_id = ? \
             AND (?2 IS NULL OR instr(?2, ',' || state || ',') > 0) \
             AND (?3 IS NULL OR instr(object, ?3) > 0) \
             AND (?4 IS NULL OR created >= ?4) AND (?5 IS NULL OR created <= ?5) \
             AND (?6 IS NULL OR run_id > ?6) ORDER BY run_id ASC LIMIT ?7"
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
        let row = sqlx::query(
            // A task is claimable when its queue is Active and below MaxConcurrent (tasks
            // without a queue are always claimable).
            "UPDATE tasks SET state = 'Running', started = COALESCE(started, ?), lease_owner = ?, \
             lease_until = ? WHERE job_id = (SELECT t.job_id FROM tasks t \
             LEFT JOIN queues q ON q.id = t.queue_id WHERE t.state = 'Submitted' \
             AND (q.id IS NULL OR (q.state = 'Active' AND q.max_concurrent > \
             (SELECT COUNT(*) FROM tasks r WHERE r.queue_id = t.queue_id AND r.state = 'Running'))) \
             ORDER BY t.created, t.job_id LIMIT 1) RETURNING *",
        )
        .bind(now)
        .bind(owner)
        .bind(lease_until)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(rows::task).transpose()
    }

    async fn renew_lease(&self, job_id: &str, owner: &str, lease_until: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE tasks SET lease_until = ? WHERE job_id = ? AND lease_owner = ? \
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
        sqlx::query("UPDATE tasks SET progress = ? WHERE job_id = ? AND state = 'Running'")
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
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if !mark_finished(&mut tx, job_id, owner, outcome).await? {
            return Ok(FinishResult::LeaseLost);
        }
        let mark = super::outbox::birth_mark(&mut tx).await?;
        let result = apply_after_end(&mut tx, job_id, decide, callbacks).await?;
        let now_ms = outcome.ended.saturating_mul(1000);
        super::outbox::lease_born_after(&mut tx, mark, owner, now_ms).await?;
        tx.commit().await?;
        Ok(result)
    }

    async fn requeue_stale(&self, now: i64, dead_owner: Option<&str>) -> StoreResult<u64> {
        let done = sqlx::query(
            "UPDATE tasks SET state = 'Submitted', lease_owner = NULL, lease_until = NULL, \
             progress = 0 WHERE state = 'Running' AND (lease_until < ? OR lease_owner = ?)",
        )
        .bind(now)
        .bind(dead_owner)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}
