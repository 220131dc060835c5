//! Queues and job queries: the CI `/queue` and `/jobs` views over tasks.

use async_trait::async_trait;
use reelflow_model::execution::{Instance, Task, TaskState};
use reelflow_model::queue::Queue;

use crate::{CallbackBuilder, Decider, StoreResult};

/// Filters for `GET /jobs`.
#[derive(Debug, Clone, Default)]
pub struct TaskQuery {
    /// Bucket (of the task's run).
    pub bucket: String,
    /// Node type / job tag.
    pub tag: String,
    /// Only this queue.
    pub queue_id: Option<String>,
    /// Only these states (empty = all visible).
    pub states: Vec<TaskState>,
    /// Only tasks of this workflow.
    pub workflow_id: Option<String>,
    /// Only tasks reading this input key.
    pub input_object: Option<String>,
    /// Created at or after (Unix seconds).
    pub created_from: Option<i64>,
    /// Created at or before.
    pub created_to: Option<i64>,
    /// Newest first.
    pub descending: bool,
    /// Resume after this JobId (exclusive).
    pub after_job_id: Option<String>,
    /// Only jobs started by this batch (`inventoryTriggerJobId=b…`).
    pub batch_id: Option<String>,
    /// Page size.
    pub limit: u32,
}

/// What a cancel request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    /// The task had not started: it is now Cancel (and its run may have ended).
    Cancelled {
        /// The run reached a final state.
        run_ended: bool,
    },
    /// The task is running: its worker was asked to stop it.
    Signalled,
    /// The task had already finished; nothing changed.
    AlreadyFinished,
    /// No such task.
    NotFound,
}

/// Queues.
#[async_trait]
pub trait QueueStore: Send + Sync {
    /// The bucket's default queue, created on first use with `max_concurrent`.
    async fn default_queue(
        &self,
        bucket: &str,
        max_concurrent: u32,
        now: i64,
    ) -> StoreResult<Queue>;
    /// One queue.
    async fn get_queue(&self, id: &str) -> StoreResult<Option<Queue>>;
    /// A bucket's queues.
    async fn list_queues(&self, bucket: &str) -> StoreResult<Vec<Queue>>;
    /// Saves a queue's settings.
    async fn save_queue(&self, queue: &Queue) -> StoreResult<()>;
}

/// Tasks seen as jobs.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// One task with its run.
    async fn get_task(&self, job_id: &str) -> StoreResult<Option<(Task, Instance)>>;
    /// Visible tasks matching `query`, with their runs.
    async fn list_tasks(&self, query: &TaskQuery) -> StoreResult<Vec<(Task, Instance)>>;
    /// Cancels a task: directly if it has not started (applying the engine's decision and
    /// callbacks in the same transaction), or by flagging its worker if it runs.
    async fn cancel_task(
        &self,
        job_id: &str,
        now: i64,
        decide: &Decider,
        callbacks: &CallbackBuilder,
    ) -> StoreResult<CancelOutcome>;
    /// Whether a running task was asked to stop.
    async fn cancel_requested(&self, job_id: &str) -> StoreResult<bool>;
}
