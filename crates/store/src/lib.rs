//! The durable store behind reelflow: buckets and object records, multipart uploads, templates,
//! workflows, runs, tasks and the callback outbox.
//!
//! Everything a second node would need to see lives here, never in process memory: the engine
//! claims tasks with leases, and every state transition that must be atomic (an upload and the
//! runs it starts; a task's end, its successors' submission, the run's end and its callback) is
//! a single store call executed in one transaction. Domain decisions stay in the engine: the
//! store calls a [`Decider`] inside the transaction rather than knowing DAG rules itself.
//!
//! [`Store`] has two implementations: [`sqlite::SqliteStore`] (one process, the default) and
//! [`postgres::PgStore`] (many processes on one database), chosen by [`Backend`]. The rules that
//! must not differ between them are written once, in backend-neutral code: the steps of the
//! task-finish and cancel transactions (`flow`), what an attempt's verdict does to its callback
//! message (`outbox`), the part checks of a multipart completion and the row decoders (`rows`).
//! One conformance suite (`tests/conformance`) runs against both.

pub mod batch;
pub mod callbacks;
mod error;
mod flow;
mod jobs;
mod multipart;
mod nodes;
mod open;
mod outbox;
pub mod postgres;
mod rows;
pub mod sqlite;
mod stats;
mod subtasks;
mod wake;

use async_trait::async_trait;
use reelflow_model::execution::{Instance, OutputObject, RunState, Task, TaskState};
use reelflow_model::object::ObjectRecord;
use reelflow_model::template::{Template, TemplateTag};
use reelflow_model::workflow::Workflow;

pub use batch::{
    BatchCancel, BatchEnd, BatchItem, BatchPage, BatchProgress, BatchQuery, BatchRecord, BatchStore,
};
pub use callbacks::{
    AttemptLog, AttemptTrigger, AttemptVerdict, BIRTH_LEASE_MS, BucketSecret, CallbackKind,
    CallbackMessage, CallbackOrigin, CallbackQuery, CallbackState, CallbackStats, CallbackStore,
    ClaimRequest, NewCallback, RecoverFilter, endpoint_of,
};
pub use error::StoreError;
pub use jobs::{CancelOutcome, JobStore, QueueStore, TaskQuery};
pub use multipart::{CompletedUpload, MultipartStore, MultipartUpload, UploadPart};
pub use nodes::{NodeInfo, NodeRecord, NodeStore};
pub use open::Backend;
pub use stats::{QueueLoad, SchemaStatus, Stats, StatsStore};
pub use subtasks::{StoredPiece, SubTaskStore};
pub use wake::{WakeSignals, WakeStore};

/// The code a task keeps after its worker was lost while running it.
pub const WORKER_LOST: &str = "WorkerLost";

/// The `UPDATE` of [`RunStore::requeue_stale`], one text for both backends: `$1` = now, `$2` =
/// lost (0/1), `$3` = dead owner (or NULL), first used in that order, which SQLite numbers the
/// same way.
pub(crate) const REQUEUE_STALE: &str = "UPDATE tasks SET state = 'Submitted', lease_owner = NULL, \
     lease_until = NULL, progress = 0, \
     attempts = attempts + CASE WHEN lease_until < $1 OR $2 = 1 THEN 1 ELSE 0 END, \
     code = CASE WHEN lease_until < $1 OR $2 = 1 THEN 'WorkerLost' ELSE code END, \
     message = CASE WHEN lease_until < $1 OR $2 = 1 \
     THEN 'the process running this task stopped before it finished' ELSE message END \
     WHERE state = 'Running' AND (lease_until < $1 OR lease_owner = $3)";

/// Result alias for store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// A run to create: the instance and one task row per media node (Waiting or Submitted).
#[derive(Debug, Clone)]
pub struct NewRun {
    /// The instance.
    pub instance: Instance,
    /// Every node's task.
    pub tasks: Vec<Task>,
}

/// How a task ended, reported by the worker that ran it.
#[derive(Debug, Clone)]
pub struct TaskOutcome {
    /// Success, Failed or Cancel.
    pub state: TaskState,
    /// `Success` or an error code.
    pub code: String,
    /// Human-readable reason.
    pub message: String,
    /// Objects written.
    pub outputs: Vec<OutputObject>,
    /// Extra result document (XML), empty when none.
    pub result: String,
    /// Unix seconds.
    pub ended: i64,
}

/// A change the engine decided for another task of the same run.
#[derive(Debug, Clone)]
pub struct TaskUpdate {
    /// Task to change.
    pub job_id: String,
    /// New state (Submitted or Skipped).
    pub state: TaskState,
    /// New creation time (when the task becomes visible).
    pub created: i64,
    /// Input bucket for a submitted task.
    pub input_bucket: String,
    /// Input key for a submitted task.
    pub input_key: String,
}

/// The run's end, decided by the engine.
#[derive(Debug, Clone)]
pub struct RunEnd {
    /// Final state.
    pub state: RunState,
    /// Unix seconds.
    pub ended: i64,
}

/// What the engine decided after a task ended, applied in the same transaction.
#[derive(Debug, Clone, Default)]
pub struct Decision {
    /// Other tasks to submit or skip.
    pub task_updates: Vec<TaskUpdate>,
    /// Set when the run is over.
    pub run_end: Option<RunEnd>,
}

/// Engine logic run inside the task-finish transaction: given the run and all its tasks (with the
/// finished task already updated), decide what happens next.
pub type Decider = dyn Fn(&Instance, &[Task]) -> Decision + Send + Sync;

/// A [`Decider`] for [`RunStore::finish_tasks`], also given the end time (Unix seconds) of the
/// task that just ended ([`TaskOutcome::ended`]), since one batch holds ends from many moments.
pub type TimedDecider<'a> = dyn Fn(&Instance, &[Task], i64) -> Decision + Send + Sync + 'a;

/// Where a batch of claims ended in its queue's claim order (`created`, then `job_id`): the
/// next batch can start there ([`RunStore::claim_groups`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimPosition {
    /// The queue (`""`: tasks of no queue).
    pub queue_id: String,
    /// `created` of the last task claimed.
    pub created: i64,
    /// Its job id.
    pub job_id: String,
}

impl ClaimPosition {
    /// The position after a batch, when all its tasks are single (not fused) and of one queue.
    pub fn after(groups: &[Vec<Task>]) -> Option<Self> {
        let first = groups.first()?.first()?;
        if groups
            .iter()
            .any(|g| g.len() != 1 || g[0].queue_id != first.queue_id)
        {
            return None;
        }
        let last = groups
            .iter()
            .map(|g| &g[0])
            .max_by(|a, b| (a.created, &a.job_id).cmp(&(b.created, &b.job_id)))?;
        Some(Self {
            queue_id: last.queue_id.clone(),
            created: last.created,
            job_id: last.job_id.clone(),
        })
    }
}

/// One task end of a [`RunStore::finish_tasks`] batch.
#[derive(Debug, Clone, Copy)]
pub struct TaskEnd<'a> {
    /// The task.
    pub job_id: &'a str,
    /// How it ended.
    pub outcome: &'a TaskOutcome,
}

/// Builds the callbacks for a finished run from its final instance and tasks.
/// Called after every task end with the run, all its tasks and the ended task's JobId; returns
/// the messages to enqueue (TaskFinish for that task, WorkflowFinish once the run is over).
pub type CallbackBuilder =
    dyn Fn(&Instance, &[Task], &str) -> Vec<(CallbackKind, NewCallback)> + Send + Sync;

/// Result of [`RunStore::finish_task`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinishResult {
    /// Applied; `run_ended` tells whether the run is now over.
    Applied {
        /// The run reached a final state.
        run_ended: bool,
        /// Some tasks were submitted.
        submitted: bool,
    },
    /// The task was no longer leased by this worker (it was reclaimed); nothing changed.
    LeaseLost,
}

/// Filters for listing runs.
#[derive(Debug, Clone, Default)]
pub struct RunQuery {
    /// Workflow.
    pub workflow_id: String,
    /// Only these states (empty = all).
    pub states: Vec<RunState>,
    /// Object name contains.
    pub name: Option<String>,
    /// Created at or after (Unix seconds).
    pub created_from: Option<i64>,
    /// Created at or before (Unix seconds).
    pub created_to: Option<i64>,
    /// Newest first.
    pub descending: bool,
    /// Resume after this RunId (exclusive).
    pub after_run_id: Option<String>,
    /// Only instances started by this batch (inventory trigger job `b…`).
    pub batch_id: Option<String>,
    /// Page size.
    pub limit: u32,
}

/// Catalog of buckets and objects.
#[async_trait]
pub trait CatalogStore: Send + Sync {
    /// Creates a bucket; false when it already exists.
    async fn create_bucket(&self, name: &str, now: i64) -> StoreResult<bool>;
    /// Whether a bucket exists.
    async fn bucket_exists(&self, name: &str) -> StoreResult<bool>;
    /// All buckets: name and creation time (Unix seconds), by name.
    async fn list_buckets(&self) -> StoreResult<Vec<(String, i64)>>;
    /// Deletes an empty bucket.
    async fn delete_bucket(&self, name: &str) -> StoreResult<()>;
    /// One object.
    async fn get_object(&self, bucket: &str, key: &str) -> StoreResult<Option<ObjectRecord>>;
    /// Objects with `prefix` and key > `after`, in byte order.
    async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        after: &str,
        limit: u32,
    ) -> StoreResult<Vec<ObjectRecord>>;
    /// Writes an object record and creates the runs it starts, atomically. Returns the blob id
    /// of a replaced object, which the caller deletes.
    async fn put_object(
        &self,
        record: &ObjectRecord,
        runs: &[NewRun],
    ) -> StoreResult<Option<String>>;
    /// Removes an object record, returning it.
    async fn delete_object(&self, bucket: &str, key: &str) -> StoreResult<Option<ObjectRecord>>;
}

/// Templates and workflows.
#[async_trait]
pub trait DefinitionStore: Send + Sync {
    /// Inserts or replaces a template.
    async fn save_template(&self, template: &Template) -> StoreResult<()>;
    /// One template.
    async fn get_template(&self, id: &str) -> StoreResult<Option<Template>>;
    /// A bucket's templates, oldest first, optionally of one tag.
    async fn list_templates(
        &self,
        bucket: &str,
        tag: Option<TemplateTag>,
    ) -> StoreResult<Vec<Template>>;
    /// Deletes a template; false when missing.
    async fn delete_template(&self, id: &str) -> StoreResult<bool>;
    /// Inserts or replaces a workflow.
    async fn save_workflow(&self, workflow: &Workflow) -> StoreResult<()>;
    /// One workflow.
    async fn get_workflow(&self, id: &str) -> StoreResult<Option<Workflow>>;
    /// A bucket's workflows, oldest first.
    async fn list_workflows(&self, bucket: &str) -> StoreResult<Vec<Workflow>>;
    /// Deletes a workflow; false when missing.
    async fn delete_workflow(&self, id: &str) -> StoreResult<bool>;
}

/// Runs, tasks and the callback outbox.
#[async_trait]
pub trait RunStore: Send + Sync {
    /// Creates a run with its tasks.
    async fn create_run(&self, run: &NewRun) -> StoreResult<()>;
    /// A run and its tasks (creation order).
    async fn get_run(&self, run_id: &str) -> StoreResult<Option<(Instance, Vec<Task>)>>;
    /// Runs of a workflow.
    async fn list_runs(&self, query: &RunQuery) -> StoreResult<Vec<Instance>>;
    /// Claims the oldest claimable Submitted task for `owner` until `lease_until` (its queue
    /// Active and below MaxConcurrent, its `not_before` reached) and, when it is a section
    /// ([`NodeType::is_section`](reelflow_model::workflow::NodeType::is_section)) and
    /// `siblings > 0`, up to `siblings` other Submitted section tasks of its run that read
    /// the same input and sit in the same queue (fused execution: they share one ffmpeg
    /// process, so only the first counts against MaxConcurrent, as one process). All in one
    /// transaction: concurrent claimers never split such a group. The first task comes
    /// first, then its siblings by job id; empty when nothing is claimable.
    async fn claim_group(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        siblings: u32,
    ) -> StoreResult<Vec<Task>>;
    /// Up to `limit` claims of [`RunStore::claim_group`] in one operation, oldest first, each
    /// group its own entry; a fused group (a section task claimed with `siblings > 0`) ends
    /// the batch. Empty when nothing is claimable. With `after` (a hint from the caller's
    /// previous batch), only that queue's tasks after that position are looked at, which may
    /// leave out claimable tasks behind it: callers claim without it regularly. The default
    /// makes one claim and ignores `after`; PostgreSQL makes them all in one statement.
    async fn claim_groups(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        siblings: u32,
        limit: u32,
        after: Option<&ClaimPosition>,
    ) -> StoreResult<Vec<Vec<Task>>> {
        let _ = (limit, after);
        let group = self.claim_group(owner, now, lease_until, siblings).await?;
        Ok(if group.is_empty() {
            Vec::new()
        } else {
            vec![group]
        })
    }
    /// Claims the oldest claimable Submitted task alone ([`RunStore::claim_group`] without
    /// siblings).
    async fn claim_task(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
    ) -> StoreResult<Option<Task>> {
        Ok(self
            .claim_group(owner, now, lease_until, 0)
            .await?
            .into_iter()
            .next())
    }
    /// Puts a task `owner` runs back to Submitted after a transient failure: one more
    /// attempt counted, not claimable before `not_before`, lease and progress cleared, its
    /// outputs list emptied (the next attempt writes them again), `code`/`message` keeping
    /// the failure. False when the task is no longer ours.
    async fn retry_task(
        &self,
        job_id: &str,
        owner: &str,
        not_before: i64,
        code: &str,
        message: &str,
    ) -> StoreResult<bool>;
    /// Extends a lease; false when the task is no longer ours.
    async fn renew_lease(&self, job_id: &str, owner: &str, lease_until: i64) -> StoreResult<bool>;
    /// Records progress (0–100) of a running task.
    async fn set_progress(&self, job_id: &str, progress: u8) -> StoreResult<()>;
    /// Ends a task and applies the engine's decision (and, if the run ends, its callbacks) in
    /// one transaction: [`RunStore::finish_tasks`] with one end.
    async fn finish_task(
        &self,
        job_id: &str,
        owner: &str,
        outcome: &TaskOutcome,
        decide: &Decider,
        callbacks: &CallbackBuilder,
    ) -> StoreResult<FinishResult> {
        let timed = |i: &Instance, t: &[Task], _ended: i64| decide(i, t);
        let end = TaskEnd { job_id, outcome };
        let mut results = self.finish_tasks(owner, &[end], &timed, callbacks).await?;
        Ok(results.pop().unwrap_or(FinishResult::LeaseLost))
    }
    /// Ends many tasks `owner` runs in one transaction, with the same result as ending them one
    /// after another in the given order (each decision sees the ends before it); one result per
    /// end, `LeaseLost` for a task no longer ours (or repeated in the batch). PostgreSQL does
    /// it with a fixed number of set-based statements, whatever the batch size.
    async fn finish_tasks(
        &self,
        owner: &str,
        ends: &[TaskEnd<'_>],
        decide: &TimedDecider<'_>,
        callbacks: &CallbackBuilder,
    ) -> StoreResult<Vec<FinishResult>>;
    /// Puts running tasks whose lease expired, or that `dead_owner` held, back to Submitted.
    /// An expired lease, or `dead_owner`'s tasks when `lost` (it crashed, as opposed to handing
    /// them back at a graceful stop), counts as a failed attempt: `attempts` + 1, code
    /// [`WORKER_LOST`], so a task that keeps killing its workers stops being retried.
    async fn requeue_stale(
        &self,
        now: i64,
        dead_owner: Option<&str>,
        lost: bool,
    ) -> StoreResult<u64>;
}

/// Everything the service needs from its database.
pub trait Store:
    CatalogStore
    + MultipartStore
    + DefinitionStore
    + RunStore
    + CallbackStore
    + QueueStore
    + JobStore
    + NodeStore
    + WakeStore
    + BatchStore
    + StatsStore
    + SubTaskStore
    + std::fmt::Debug
{
}

impl<T> Store for T where
    T: CatalogStore
        + MultipartStore
        + DefinitionStore
        + RunStore
        + CallbackStore
        + QueueStore
        + JobStore
        + NodeStore
        + WakeStore
        + BatchStore
        + StatsStore
        + SubTaskStore
        + std::fmt::Debug
{
}
