//! Runs and tasks: creation, leasing, and the task-finish transaction (its steps in
//! [`crate::flow`]).

use async_trait::async_trait;
use reelflow_model::execution::{Instance, Task};
use reelflow_model::workflow::NodeType;
use sqlx::SqliteConnection;

use super::SqliteStore;
use super::tx::{SqliteRunTx, load_run};
use crate::rows::{self, outputs_to_json, pairs_to_json};
use crate::{
    CallbackBuilder, FinishResult, NewRun, RunQuery, RunStore, StoreResult, TaskEnd, TimedDecider,
    flow,
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

#[async_trait]
impl RunStore for SqliteStore {
    async fn create_run(&self, run: &NewRun) -> StoreResult<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        insert_run(&mut tx, run).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_run(&self, run_id: &str) -> StoreResult<Option<(Instance, Vec<Task>)>> {
        // One read transaction: the instance and its tasks from one snapshot.
        let mut tx = self.pool.begin().await?;
        let run = load_run(&mut tx, run_id).await?;
        tx.commit().await?;
        Ok(run)
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
             AND (?6 IS NULL OR run_id < ?6) AND (?8 IS NULL OR run_id IN \
             (SELECT run_id FROM batch_items WHERE batch_id = ?8)) \
             ORDER BY run_id DESC LIMIT ?7"
        } else {
            "SELECT * FROM instances WHERE workflow_id = ? \
             AND (?2 IS NULL OR instr(?2, ',' || state || ',') > 0) \
             AND (?3 IS NULL OR instr(object, ?3) > 0) \
             AND (?4 IS NULL OR created >= ?4) AND (?5 IS NULL OR created <= ?5) \
             AND (?6 IS NULL OR run_id > ?6) AND (?8 IS NULL OR run_id IN \
             (SELECT run_id FROM batch_items WHERE batch_id = ?8)) \
             ORDER BY run_id ASC LIMIT ?7"
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

    async fn claim_group(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        siblings: u32,
    ) -> StoreResult<Vec<Task>> {
        // One writer at a time: the first task and its siblings are taken in one transaction.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let row = sqlx::query(
            // A task is claimable when its queue is Active and below MaxConcurrent (tasks
            // without a queue are always claimable) and its retry delay is over.
            "UPDATE tasks SET state = 'Running', started = COALESCE(started, ?1), lease_owner = ?2, \
             lease_until = ?3 WHERE job_id = (SELECT t.job_id FROM tasks t \
             LEFT JOIN queues q ON q.id = t.queue_id WHERE t.state = 'Submitted' \
             AND t.not_before <= ?1 \
             AND (q.id IS NULL OR (q.state = 'Active' AND q.max_concurrent > \
             (SELECT COUNT(*) FROM tasks r WHERE r.queue_id = t.queue_id AND r.state = 'Running'))) \
             ORDER BY t.created, t.job_id LIMIT 1) RETURNING *",
        )
        .bind(now)
        .bind(owner)
        .bind(lease_until)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(Vec::new());
        };
        let head = rows::task(&row)?;
        let mut group = Vec::new();
        if siblings > 0 && head.node_type.is_section() {
            let types = format!(
                ",{},",
                NodeType::sections()
                    .map(NodeType::as_str)
                    .collect::<Vec<_>>()
                    .join(",")
            );
            let rows = sqlx::query(
                "UPDATE tasks SET state = 'Running', started = COALESCE(started, ?1), \
                 lease_owner = ?2, lease_until = ?3 WHERE job_id IN (SELECT job_id FROM tasks \
                 WHERE run_id = ?4 AND state = 'Submitted' AND not_before <= ?1 \
                 AND input_bucket = ?5 AND input_key = ?6 AND queue_id = ?7 \
                 AND instr(?8, ',' || node_type || ',') > 0 AND job_id != ?9 \
                 ORDER BY job_id LIMIT ?10) RETURNING *",
            )
            .bind(now)
            .bind(owner)
            .bind(lease_until)
            .bind(&head.run_id)
            .bind(&head.input_bucket)
            .bind(&head.input_key)
            .bind(&head.queue_id)
            .bind(types)
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
        Ok(group)
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
             progress = 0, outputs = '[]', result = '', attempts = attempts + 1, not_before = ?, \
             code = ?, message = ? WHERE job_id = ? AND lease_owner = ? AND state = 'Running'",
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

    async fn finish_tasks(
        &self,
        owner: &str,
        ends: &[TaskEnd<'_>],
        decide: &TimedDecider<'_>,
        callbacks: &CallbackBuilder,
    ) -> StoreResult<Vec<FinishResult>> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut run = SqliteRunTx { conn: &mut tx };
        let results = flow::finish_tasks(&mut run, owner, ends, decide, callbacks).await?;
        if results.iter().any(|r| *r != FinishResult::LeaseLost) {
            tx.commit().await?;
        }
        Ok(results)
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
        Ok(done.rows_affected())
    }
}
