//! The batch driver: claims batches and advances each a page at a time (see the module docs of
//! [`crate::batch`] for the rules).

use std::time::Duration;

use reelflow_model::XmlElement;
use reelflow_model::batch::{BatchSpec, BatchState, parse_batch};
use reelflow_model::clock::now_unix;
use reelflow_store::{BatchEnd, BatchProgress, BatchRecord, CallbackKind, CallbackOrigin};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::detail::{UnsetTime, batch_detail};
use super::walk::{BatchFail, ManifestState, Plan};
use crate::{Engine, EngineError};

/// How long to wait before looking again while the batch cannot submit.
const WAIT: Duration = Duration::from_millis(100);

/// Objects on a driver's first page; each later page doubles, up to the page size, so the
/// first instances start after a small transaction instead of a full page.
const FIRST_PAGE: u32 = 16;

/// What a driver keeps between steps of one claim.
#[derive(Debug, Default)]
struct DriveState {
    /// The manifest being walked.
    manifest: ManifestState,
    /// Pages committed in this claim (slow start).
    pages: u32,
    /// When the lease was last renewed.
    renewed: Option<std::time::Instant>,
}

/// Batches one process drives at the same time (each in its own task).
const DRIVEN_AT_ONCE: usize = 4;

/// The driver loop: claims batches (up to [`DRIVEN_AT_ONCE`]) and drives each in its own task
/// until `shutdown`; then releases this node's leases so another node takes over at once.
pub(crate) async fn run_driver(engine: Engine, shutdown: CancellationToken) {
    let mut driven = tokio::task::JoinSet::new();
    while !shutdown.is_cancelled() {
        while driven.try_join_next().is_some() {}
        let notified = engine.inner.batch_wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if driven.len() < DRIVEN_AT_ONCE {
            let now = now_unix();
            let owner = engine.inner.config.node_id.clone();
            let claimed = engine
                .store()
                .claim_batch(&owner, now, now + engine.lease_secs())
                .await;
            match claimed {
                Ok(Some(batch)) => {
                    let (engine, shutdown) = (engine.clone(), shutdown.clone());
                    driven.spawn(async move { engine.drive(batch, &shutdown).await });
                    continue;
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::error!(?error, "could not claim a batch");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            }
        }
        tokio::select! {
            () = &mut notified => {}
            () = tokio::time::sleep(engine.inner.config.poll_interval) => {}
            () = shutdown.cancelled() => {}
            Some(_) = driven.join_next(), if !driven.is_empty() => {}
        }
    }
    while driven.join_next().await.is_some() {}
    if let Err(error) = engine
        .store()
        .release_batches(&engine.inner.config.node_id)
        .await
    {
        tracing::warn!(?error, "could not release this node's batches");
    }
}

/// What one step of a driven batch decided.
enum Step {
    /// Go on at once.
    Next,
    /// Wait a little, then go on.
    Wait,
    /// Stop driving (ended, cancelled, lease lost or shutdown).
    Stop,
}

impl Engine {
    fn lease_secs(&self) -> i64 {
        self.inner.config.lease.as_secs() as i64
    }

    async fn drive(&self, batch: BatchRecord, shutdown: &CancellationToken) {
        let span = tracing::info_span!("batch", id = %batch.id);
        self.drive_claimed(batch, shutdown).instrument(span).await;
    }

    async fn drive_claimed(&self, mut batch: BatchRecord, shutdown: &CancellationToken) {
        tracing::info!(cursor = %batch.cursor, "batch claimed");
        let spec = match parse_batch(&batch.request, &batch.bucket) {
            Ok(spec) => spec,
            Err(e) => {
                return self
                    .end_failed(&batch, None, "InvalidArgument", &e.to_string())
                    .await;
            }
        };
        let plan = match self.batch_plan(&batch, &spec).await {
            Ok(plan) => plan,
            Err(BatchFail::Engine(error)) => {
                tracing::error!(?error, "could not prepare the batch");
                return;
            }
            Err(fail) => {
                return self
                    .end_failed(&batch, Some(&spec), fail.code(), &fail.to_string())
                    .await;
            }
        };
        let mut walk = DriveState::default();
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            match self.step(&mut batch, &spec, &plan, &mut walk).await {
                Ok(Step::Next) => {}
                Ok(Step::Wait) => {
                    tokio::select! {
                        () = tokio::time::sleep(WAIT) => {}
                        () = shutdown.cancelled() => return,
                    }
                }
                Ok(Step::Stop) => return,
                Err(BatchFail::Engine(error)) => {
                    tracing::error!(?error, "batch step failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(fail) => {
                    return self
                        .end_failed(&batch, Some(&spec), fail.code(), &fail.to_string())
                        .await;
                }
            }
        }
    }

    async fn step(
        &self,
        batch: &mut BatchRecord,
        spec: &BatchSpec,
        plan: &Plan,
        walk: &mut DriveState,
    ) -> Result<Step, BatchFail> {
        let owner = self.inner.config.node_id.clone();
        let paused = self.any_queue_paused(plan).await?;
        let state = if paused {
            BatchState::Pause
        } else {
            BatchState::Running
        };
        if !self.keep_lease(batch, state, walk).await? {
            tracing::info!("batch cancelled or taken over; driver stops");
            return Ok(Step::Stop);
        }
        if paused {
            return Ok(Step::Wait);
        }
        let progress = self
            .store()
            .batch_progress(&batch.id)
            .await
            .map_err(EngineError::from)?;
        if !batch.listing_done {
            let limits = self.batch_limits();
            let room = limits.max_in_flight.saturating_sub(progress.running);
            if room == 0 {
                return Ok(Step::Wait);
            }
            let ramp = FIRST_PAGE.saturating_mul(1 << walk.pages.min(16));
            let limit = u32::try_from(room)
                .unwrap_or(u32::MAX)
                .min(limits.page_size)
                .min(ramp);
            let page = self
                .batch_page(batch, spec, plan, &mut walk.manifest, limit)
                .await?;
            walk.pages += 1;
            if !self
                .store()
                .commit_batch_page(&batch.id, &owner, &page)
                .await
                .map_err(EngineError::from)?
            {
                return Ok(Step::Stop);
            }
            batch.cursor = page.cursor;
            batch.listing_done = page.listing_done;
            batch.total += page.objects;
            if !page.runs.is_empty() {
                self.wake_workers();
            }
            return Ok(Step::Next);
        }
        if progress.running > 0 {
            return Ok(Step::Wait);
        }
        self.end_batch(batch, spec, &progress).await?;
        Ok(Step::Stop)
    }

    /// Renews the lease when a third of it has passed or the state changes (a write); otherwise
    /// only reads whether the batch was cancelled. False: stop driving. Page commits and the end
    /// check the lease themselves, so a lease lost in between writes nothing.
    async fn keep_lease(
        &self,
        batch: &mut BatchRecord,
        state: BatchState,
        walk: &mut DriveState,
    ) -> Result<bool, BatchFail> {
        let every = self.inner.config.lease / 3;
        let due = walk.renewed.is_none_or(|t| t.elapsed() >= every) || batch.state != state;
        if !due {
            let current = self
                .store()
                .get_batch(&batch.id)
                .await
                .map_err(EngineError::from)?;
            return Ok(current.is_some_and(|b| !b.state.is_terminal()));
        }
        let until = now_unix() + self.lease_secs();
        let owner = &self.inner.config.node_id;
        let kept = self
            .store()
            .renew_batch(&batch.id, owner, until, state)
            .await
            .map_err(EngineError::from)?;
        walk.renewed = Some(std::time::Instant::now());
        batch.state = state;
        Ok(kept)
    }

    async fn any_queue_paused(&self, plan: &Plan) -> Result<bool, BatchFail> {
        for id in plan.queues() {
            let queue = self
                .store()
                .get_queue(id)
                .await
                .map_err(EngineError::from)?;
            if queue.is_some_and(|q| !q.active) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn end_batch(
        &self,
        batch: &BatchRecord,
        spec: &BatchSpec,
        p: &BatchProgress,
    ) -> Result<(), BatchFail> {
        let (state, code, message) = if p.failed == 0 {
            (BatchState::Success, "Success".to_owned(), String::new())
        } else {
            (
                BatchState::Failed,
                "PartialFailure".to_owned(),
                format!(
                    "{} of {} instances or jobs did not succeed",
                    p.failed, p.submitted
                ),
            )
        };
        self.finish_batch_with(batch, Some(spec), state, &code, &message, p)
            .await
    }

    async fn end_failed(
        &self,
        batch: &BatchRecord,
        spec: Option<&BatchSpec>,
        code: &str,
        message: &str,
    ) {
        tracing::warn!(code, message, "batch failed");
        let progress = self
            .store()
            .batch_progress(&batch.id)
            .await
            .unwrap_or_default();
        if let Err(error) = self
            .finish_batch_with(batch, spec, BatchState::Failed, code, message, &progress)
            .await
        {
            tracing::error!(?error, "could not end a failed batch");
        }
    }

    async fn finish_batch_with(
        &self,
        batch: &BatchRecord,
        spec: Option<&BatchSpec>,
        state: BatchState,
        code: &str,
        message: &str,
        progress: &BatchProgress,
    ) -> Result<(), BatchFail> {
        let ended = now_unix();
        let mut last = batch.clone();
        last.state = state;
        last.code = code.to_owned();
        last.message = message.to_owned();
        last.ended = Some(ended);
        let callback = spec.and_then(|s| s.notify.as_ref()).map(|notify| {
            let detail = batch_detail(&last, progress, &[], self.offset(), UnsetTime::Dash);
            let doc = XmlElement::new("Response")
                .with_leaf("EventName", "InventoryTriggerJobFinish")
                .with(detail);
            let origin = CallbackOrigin {
                kind: CallbackKind::BatchFinish,
                run_id: batch.id.clone(),
                job_id: None,
                bucket: batch.bucket.clone(),
                workflow_id: batch.workflow_ids.first().cloned().unwrap_or_default(),
            };
            let id = format!("msg_{}_batchfinish", batch.id);
            (origin, crate::callbacks::message(id, notify, &doc))
        });
        let has_callback = callback.is_some();
        let end = BatchEnd {
            state,
            code: code.to_owned(),
            message: message.to_owned(),
            ended,
            callback,
        };
        let owner = &self.inner.config.node_id;
        if self
            .store()
            .finish_batch(&batch.id, owner, &end)
            .await
            .map_err(EngineError::from)?
        {
            tracing::info!(state = state.as_str(), "batch ended");
            if has_callback {
                self.inner.callback_wake.notify_one();
            }
        }
        Ok(())
    }
}
