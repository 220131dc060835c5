//! Batch (inventory) trigger jobs: the [`BatchStore`] trait and its types
//! (api-reference-2.md §4).
//!
//! A batch row is *claimed* by one driver with a lease (`lease_owner`, `lease_until`, Unix
//! seconds), like a task, so exactly one process advances it however many run. The driver
//! walks its input a page at a time; [`BatchStore::commit_batch_page`] writes the page's runs,
//! one `batch_items` row per (object, workflow) and the advanced cursor in **one
//! transaction**, and only while the caller still holds the lease and the batch is not
//! cancelled. A driver killed between pages leaves the cursor at the last committed page, so
//! its successor starts no object twice; `batch_items`' primary key
//! `(batch_id, key, workflow_id)` refuses a second run of an object even if a cursor were
//! wrong.
//!
//! Progress is read, not counted: the states of the instances the batch's items point to.

use async_trait::async_trait;
use reelflow_model::XmlElement;
use reelflow_model::batch::{BatchState, BatchType};

use crate::callbacks::{CallbackOrigin, NewCallback};
use crate::error::corrupt;
use crate::rows::Cols;
use crate::{NewRun, StoreResult};

/// A stored batch.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchRecord {
    /// `b` + 32 hex.
    pub id: String,
    /// The bucket it was created in.
    pub bucket: String,
    /// `Name`.
    pub name: String,
    /// `Type`.
    pub kind: BatchType,
    /// Current state.
    pub state: BatchState,
    /// The request as parsed (`Request{Name, Type, Input, Operation, NotifyConfig?}`).
    pub request: XmlElement,
    /// Workflows it runs (Type=Workflow), for the `workflowId` list filter.
    pub workflow_ids: Vec<String>,
    /// `Code` once ended (`Success`, or why it failed / was cancelled).
    pub code: String,
    /// `Message` once ended.
    pub message: String,
    /// Where listing resumes: opaque to the store (the driver's encoding).
    pub cursor: String,
    /// The input has been listed to its end.
    pub listing_done: bool,
    /// Matching objects found so far (final once `listing_done`).
    pub total: u64,
    /// Unix seconds.
    pub created: i64,
    /// When a driver first took it.
    pub started: Option<i64>,
    /// When it ended.
    pub ended: Option<i64>,
}

/// One object's work in a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchItem {
    /// The object's key.
    pub key: String,
    /// The workflow run on it (empty for a Job batch).
    pub workflow_id: String,
    /// The instance started (a job's run for Job batches).
    pub run_id: String,
    /// The job (Job batches; empty for workflows).
    pub job_id: String,
}

/// How far a batch's work is, read from its instances.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchProgress {
    /// Instances/jobs created.
    pub submitted: u64,
    /// Ended Success.
    pub succeeded: u64,
    /// Ended Failed (or Cancel).
    pub failed: u64,
    /// Not ended yet.
    pub running: u64,
}

/// One page of a batch's walk, committed atomically by [`BatchStore::commit_batch_page`].
#[derive(Debug, Clone, Default)]
pub struct BatchPage {
    /// Runs to create (instances or job runs).
    pub runs: Vec<NewRun>,
    /// One per run.
    pub items: Vec<BatchItem>,
    /// Matching objects on this page (added to `total`).
    pub objects: u64,
    /// The cursor after this page.
    pub cursor: String,
    /// Whether this page was the input's last.
    pub listing_done: bool,
}

/// How a driver ends a batch.
#[derive(Debug, Clone)]
pub struct BatchEnd {
    /// Success or Failed.
    pub state: BatchState,
    /// `Code`.
    pub code: String,
    /// `Message`.
    pub message: String,
    /// Unix seconds.
    pub ended: i64,
    /// The batch-end callback, written to the outbox in the same transaction.
    pub callback: Option<(CallbackOrigin, NewCallback)>,
}

/// Filters of `GET /inventorytriggerjob`.
#[derive(Debug, Clone, Default)]
pub struct BatchQuery {
    /// Bucket.
    pub bucket: String,
    /// Only this type.
    pub kind: Option<BatchType>,
    /// Only these states (empty = all).
    pub states: Vec<BatchState>,
    /// Only batches running this workflow.
    pub workflow_id: Option<String>,
    /// Only this batch id.
    pub id: Option<String>,
    /// Name contains.
    pub name: Option<String>,
    /// Created at or after (Unix seconds).
    pub created_from: Option<i64>,
    /// Created at or before.
    pub created_to: Option<i64>,
    /// Newest first.
    pub descending: bool,
    /// Resume after this id (exclusive; ids are time-ordered).
    pub after_id: Option<String>,
    /// Page size.
    pub limit: u32,
}

/// What [`BatchStore::cancel_batch`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchCancel {
    /// Now Cancel; these tasks of its runs had not started (the caller cancels them).
    Cancelled(Vec<String>),
    /// It had already ended; nothing changed.
    AlreadyEnded(BatchState),
    /// No such batch.
    NotFound,
}

/// Batches.
#[async_trait]
pub trait BatchStore: Send + Sync {
    /// Inserts a new batch (state Submitted).
    async fn create_batch(&self, batch: &BatchRecord) -> StoreResult<()>;
    /// One batch.
    async fn get_batch(&self, id: &str) -> StoreResult<Option<BatchRecord>>;
    /// Batches matching `query`, by id in the asked order.
    async fn list_batches(&self, query: &BatchQuery) -> StoreResult<Vec<BatchRecord>>;
    /// Progress of a batch's instances.
    async fn batch_progress(&self, id: &str) -> StoreResult<BatchProgress>;
    /// Items of a batch by (key, workflow), after `after` (exclusive), at most `limit`.
    async fn batch_items(
        &self,
        id: &str,
        after: Option<(&str, &str)>,
        limit: u32,
    ) -> StoreResult<Vec<BatchItem>>;
    /// Claims the oldest batch that is Submitted, Running or Pause and not leased (or whose
    /// lease expired) for `owner` until `lease_until`; a Submitted one becomes Running with
    /// `started = now`.
    async fn claim_batch(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
    ) -> StoreResult<Option<BatchRecord>>;
    /// Extends the lease and sets the state (Running or Pause); false when the batch is no
    /// longer ours or has ended.
    async fn renew_batch(
        &self,
        id: &str,
        owner: &str,
        lease_until: i64,
        state: BatchState,
    ) -> StoreResult<bool>;
    /// Drops every lease `owner` holds (start-up after a crash, shutdown).
    async fn release_batches(&self, owner: &str) -> StoreResult<u64>;
    /// Creates the page's runs and items and moves the cursor, in one transaction; false (and
    /// nothing written) when the batch is no longer leased by `owner` or has ended.
    async fn commit_batch_page(&self, id: &str, owner: &str, page: &BatchPage)
    -> StoreResult<bool>;
    /// Ends the batch (and writes its callback) if `owner` still holds it; false otherwise.
    async fn finish_batch(&self, id: &str, owner: &str, end: &BatchEnd) -> StoreResult<bool>;
    /// Cancels a batch that has not ended: state Cancel, lease dropped, and the not yet
    /// started (Submitted) tasks of its runs returned.
    async fn cancel_batch(&self, id: &str, now: i64) -> StoreResult<BatchCancel>;
}

/// Decodes a `batches` row (both backends).
pub(crate) fn batch_row(row: &impl Cols) -> StoreResult<BatchRecord> {
    let state = row.text("state")?;
    let kind = row.text("kind")?;
    let request = row.text("request")?;
    Ok(BatchRecord {
        id: row.text("id")?,
        bucket: row.text("bucket")?,
        name: row.text("name")?,
        kind: BatchType::parse(&kind).ok_or_else(|| corrupt("batches.kind", &kind))?,
        state: BatchState::parse(&state).ok_or_else(|| corrupt("batches.state", &state))?,
        request: XmlElement::parse(request.as_bytes())
            .map_err(|e| corrupt("batches.request", e))?,
        workflow_ids: row
            .text("workflow_ids")?
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        code: row.text("code")?,
        message: row.text("message")?,
        cursor: row.text("cursor")?,
        listing_done: row.int("listing_done")? != 0,
        total: u64::try_from(row.int("total")?).unwrap_or(0),
        created: row.int("created")?,
        started: row.opt_int("started")?,
        ended: row.opt_int("ended")?,
    })
}

/// Decodes a `batch_items` row.
pub(crate) fn item_row(row: &impl Cols) -> StoreResult<BatchItem> {
    Ok(BatchItem {
        key: row.text("key")?,
        workflow_id: row.text("workflow_id")?,
        run_id: row.text("run_id")?,
        job_id: row.text("job_id")?,
    })
}

/// Progress from `(instance state, count)` pairs.
pub(crate) fn progress_of(counts: &[(String, i64)]) -> BatchProgress {
    let mut p = BatchProgress::default();
    for (state, n) in counts {
        let n = u64::try_from(*n).unwrap_or(0);
        p.submitted += n;
        match state.as_str() {
            "Success" => p.succeeded += n,
            "Running" => p.running += n,
            _ => p.failed += n,
        }
    }
    p
}

/// `,a,b,` for `instr` filters, or None for "all".
pub(crate) fn state_list(states: &[BatchState]) -> Option<String> {
    (!states.is_empty()).then(|| {
        let names: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
        format!(",{},", names.join(","))
    })
}
