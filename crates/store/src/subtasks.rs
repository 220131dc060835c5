//! Sub-tasks: a task that splits its work into pieces any worker can claim (segmented
//! transcoding, issue 13), and waits for them without holding a worker slot.
//!
//! The parent splits itself while it runs ([`SubTaskStore::split_task`]): its sub-tasks are
//! inserted `Submitted` and the parent is *parked* (`Waiting` with its start time kept, no
//! lease; [`Task::is_parked`](reelflow_model::execution::Task::is_parked)) in one
//! transaction. Sub-tasks are claimed, heartbeated, retried and finished like any task; the
//! engine's decider resubmits the parent when they are over (see `reelflow_engine::dag`).
//!
//! A finished sub-task's result names the piece it stored for its parent (a blob). Once the
//! parent has ended nothing reads the piece any more: [`SubTaskStore::pieces_to_collect`]
//! lists such pieces and [`SubTaskStore::mark_piece_collected`] clears the result after the
//! engine deleted the blob, so each is listed until it was collected, and then never again.

use async_trait::async_trait;
use reelflow_model::execution::Task;

use crate::StoreResult;

/// The columns a sub-task row is inserted with, in bind order (both backends).
pub(crate) const SUB_COLUMNS: &str = "job_id, run_id, node_name, node_type, template_id, \
    template_name, state, code, message, progress, input_bucket, input_key, outputs, created, \
    queue_id, parent_job_id, sub_spec";

/// Sets a parked parent's progress from its sub-tasks (`$1` = parent): a finished one counts
/// 100, a running one its own progress; scaled to 0–95, the stitch is the rest.
pub(crate) const REFRESH_PROGRESS: &str = "UPDATE tasks SET progress = COALESCE((SELECT \
    CAST(SUM(CASE WHEN s.state = 'Success' THEN 100 ELSE s.progress END) AS BIGINT) * 95 \
    / (COUNT(*) * 100) \
    FROM tasks s WHERE s.parent_job_id = $1), progress) \
    WHERE job_id = $1 AND state = 'Waiting'";

/// Up to `$1` pieces to collect: sub-tasks with a result whose parent ended (the conditions
/// on `s` are those of the partial index `tasks_pieces`). Same text on both backends.
pub(crate) const PIECES_TO_COLLECT: &str = "SELECT s.job_id, s.result FROM tasks s \
     JOIN tasks p ON p.job_id = s.parent_job_id \
     WHERE s.parent_job_id IS NOT NULL AND s.result <> '' \
     AND p.state IN ('Success', 'Failed', 'Cancel') LIMIT $1";

/// Clears sub-task `$1`'s result if it still is `$2` and its parent ended.
pub(crate) const MARK_PIECE_COLLECTED: &str = "UPDATE tasks SET result = '' \
     WHERE job_id = $1 AND result = $2 AND result <> '' AND parent_job_id IS NOT NULL \
     AND EXISTS (SELECT 1 FROM tasks p WHERE p.job_id = tasks.parent_job_id \
     AND p.state IN ('Success', 'Failed', 'Cancel'))";

/// A piece a finished sub-task stored for its parent: the sub-task and its result (the
/// engine's JSON naming the blob).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPiece {
    /// The sub-task.
    pub job_id: String,
    /// Its result.
    pub result: String,
}

/// Splitting tasks into sub-tasks.
#[async_trait]
pub trait SubTaskStore: Send + Sync {
    /// In one transaction (under the run's lock, like a task end): if `parent_job_id` is
    /// `Running`, leased to `owner` and no cancel of it was requested, inserts `subs`
    /// (`Submitted`, each with [`Task::sub`] naming the parent) and parks the parent
    /// (`Waiting`, lease cleared, start time kept), so it holds no worker slot while they
    /// run. False, and nothing changed, otherwise.
    async fn split_task(
        &self,
        parent_job_id: &str,
        owner: &str,
        subs: &[Task],
    ) -> StoreResult<bool>;
    /// The sub-tasks of `parent_job_id`, in job-id order.
    async fn sub_tasks(&self, parent_job_id: &str) -> StoreResult<Vec<Task>>;
    /// Sets a parked parent's progress from its sub-tasks' ([`REFRESH_PROGRESS`]); does
    /// nothing when the parent is not parked.
    async fn refresh_parent_progress(&self, parent_job_id: &str) -> StoreResult<()>;
    /// Up to `limit` pieces nothing reads any more: sub-tasks with a non-empty result whose
    /// parent ended (`Success`, `Failed` or `Cancel`), in no particular order.
    async fn pieces_to_collect(&self, limit: u32) -> StoreResult<Vec<StoredPiece>>;
    /// Clears the result of sub-task `job_id` (its piece was deleted) if it still is `result`
    /// and its parent ended; true when it was cleared, false when there was nothing to clear
    /// (collected already, another result, or a parent that has not ended).
    async fn mark_piece_collected(&self, job_id: &str, result: &str) -> StoreResult<bool>;
}
