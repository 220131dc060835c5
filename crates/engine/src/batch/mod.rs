//! Batch (inventory) triggers (issue #11, api-reference-2.md §4): run a workflow, or submit a
//! job, for every object a prefix, a key or a COS inventory manifest names.
//!
//! A driver task runs beside the workers on every process that runs tasks. It claims a batch
//! with a lease (one driver per batch, whatever the number of processes), then repeats:
//!
//! 1. renew the lease; if a queue the batch submits to is Paused, show `Pause` and wait;
//! 2. **flood control**: if `max_in_flight` (default 1000, `REELFLOW_BATCH_MAX_IN_FLIGHT`) of
//!    its instances/jobs are not yet terminal, wait; MaxConcurrent itself is enforced where
//!    tasks are claimed;
//! 3. otherwise read the next page (at most `page_size` objects, 500 by default, never more
//!    than the room left under `max_in_flight`), filter it (Prefix and Manifest inputs:
//!    objects uploaded by clients, inside the TimeInterval, matching each workflow's prefix
//!    and ExtFilter), and commit its runs, items and the advanced cursor in one transaction;
//! 4. when the listing has ended and every instance is terminal, end the batch `Success` (or
//!    `Failed` if any failed) and write its callback in the same transaction.
//!
//! A SIGKILL loses nothing and repeats nothing: the cursor only moves with the page's runs.

mod detail;
mod driver;
mod manifest;
mod walk;

use reelflow_model::XmlElement;
use reelflow_model::batch::{BatchSpec, BatchState, BatchType, parse_batch};
use reelflow_model::clock::now_unix;
use reelflow_model::ids::new_batch_id;
use reelflow_model::job::{JobRequestError, parse_jobs};
use reelflow_store::{BatchCancel, BatchRecord};

pub use detail::{UnsetTime, batch_detail};
pub(crate) use driver::run_driver;
pub use manifest::ManifestError;

use crate::{Engine, EngineError, JobError};

/// How hard a batch may push (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// Most instances/jobs of one batch not yet terminal.
    pub max_in_flight: u64,
    /// Most objects per page (one transaction).
    pub page_size: u32,
}

impl Default for BatchLimits {
    fn default() -> Self {
        Self {
            max_in_flight: 1000,
            page_size: 500,
        }
    }
}

impl BatchLimits {
    /// The defaults, with `REELFLOW_BATCH_MAX_IN_FLIGHT` and `REELFLOW_BATCH_PAGE_SIZE` when set.
    pub fn from_env() -> Self {
        let read = |name: &str| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let d = Self::default();
        Self {
            max_in_flight: read("REELFLOW_BATCH_MAX_IN_FLIGHT")
                .filter(|n| *n > 0)
                .unwrap_or(d.max_in_flight),
            page_size: read("REELFLOW_BATCH_PAGE_SIZE")
                .filter(|n| (1..=10_000).contains(n))
                .map_or(d.page_size, |n| n as u32),
        }
    }
}

/// Why a batch was refused at creation.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// Invalid content.
    #[error(transparent)]
    Invalid(#[from] reelflow_model::InvalidInput),
    /// The Job batch's job is invalid or not supported.
    #[error(transparent)]
    JobRequest(#[from] JobRequestError),
    /// The Job batch's job names a missing template, queue or bucket.
    #[error(transparent)]
    Job(#[from] JobError),
    /// A workflow, manifest or bucket it names does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Engine failure.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl From<reelflow_store::StoreError> for BatchError {
    fn from(e: reelflow_store::StoreError) -> Self {
        BatchError::Engine(e.into())
    }
}

impl Engine {
    /// Validates and stores a batch (state Submitted) and wakes the drivers.
    pub async fn create_batch(
        &self,
        bucket: &str,
        request: &XmlElement,
    ) -> Result<BatchRecord, BatchError> {
        let spec = parse_batch(request, bucket)?;
        let id = new_batch_id();
        self.check_batch(bucket, &id, &spec).await?;
        let batch = BatchRecord {
            id,
            bucket: bucket.to_owned(),
            name: spec.name.clone(),
            kind: spec.kind,
            state: BatchState::Submitted,
            request: spec.to_request(),
            workflow_ids: spec.workflow_ids.clone(),
            code: String::new(),
            message: String::new(),
            cursor: String::new(),
            listing_done: false,
            total: 0,
            created: now_unix(),
            started: None,
            ended: None,
        };
        self.store().create_batch(&batch).await?;
        self.inner.batch_wake.notify_one();
        Ok(batch)
    }

    async fn check_batch(
        &self,
        bucket: &str,
        id: &str,
        spec: &BatchSpec,
    ) -> Result<(), BatchError> {
        for wf in &spec.workflow_ids {
            let found = self.store().get_workflow(wf).await?;
            if found.is_none_or(|w| w.bucket != bucket) {
                return Err(BatchError::NotFound(format!(
                    "workflow {wf} does not exist"
                )));
            }
        }
        if let reelflow_model::batch::BatchInput::Manifest { bucket: b, key } = &spec.input
            && self.store().get_object(b, key).await?.is_none()
        {
            return Err(BatchError::NotFound(format!(
                "manifest {b}/{key} does not exist"
            )));
        }
        if spec.kind == BatchType::Job {
            let probe = reelflow_model::batch::job_request_for(&spec.operation_xml, "probe", id);
            let job = parse_jobs(&probe)?.remove(0);
            self.plan_job(bucket, job).await?;
        }
        Ok(())
    }

    /// Cancels a batch: no more submissions, and its tasks that have not started are
    /// cancelled (running ones finish).
    pub async fn cancel_batch(&self, id: &str) -> Result<BatchCancel, EngineError> {
        let outcome = self.store().cancel_batch(id, now_unix()).await?;
        if let BatchCancel::Cancelled(jobs) = &outcome {
            for job in jobs {
                self.cancel(job).await?;
            }
        }
        Ok(outcome)
    }

    /// The batch's limits in this process.
    fn batch_limits(&self) -> BatchLimits {
        self.inner.batch_limits
    }
}
