//! Task slots: a dispatcher claims work for the free slots in one store operation, each claimed
//! task (or fused group) runs in its own task while heartbeating its lease, and its end is
//! recorded through the batching [`crate::finisher`]. An idle dispatcher waits for an
//! in-process wake-up or the poll interval.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::{Duration, Instant};

use reelflow_media::RunControl;
use reelflow_model::clock::now_unix;
use reelflow_model::execution::{Task, TaskState};
use reelflow_store::{ClaimPosition, FinishResult, TaskOutcome};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::Engine;
use crate::counters::Counters;

/// Most sibling tasks claimed with a section task to share its ffmpeg process.
const MAX_FUSED_SIBLINGS: u32 = 7;

/// The dispatcher of this process's task slots (`workers` of them): whenever slots are free it
/// claims work for all of them in one store operation and runs each claimed group in its own
/// task; when nothing is claimable it waits for a wake-up, the poll interval or `shutdown`.
/// Returns after `shutdown` once the running tasks have stopped.
pub(crate) async fn dispatch(engine: Engine, shutdown: CancellationToken) {
    let slots = Arc::new(Semaphore::new(engine.inner.config.workers.max(1)));
    let mut running = JoinSet::new();
    let mut claimer = Claimer::default();
    tracing::debug!(slots = slots.available_permits(), "dispatcher started");
    while !shutdown.is_cancelled() {
        while running.try_join_next().is_some() {}
        let first = tokio::select! {
            permit = slots.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            () = shutdown.cancelled() => break,
        };
        let mut permits = vec![first];
        while let Ok(permit) = slots.clone().try_acquire_owned() {
            permits.push(permit);
        }
        let Some(groups) = claimer
            .claim_or_wait(&engine, &shutdown, permits.len())
            .await
        else {
            continue;
        };
        for group in groups {
            let Some(permit) = permits.pop() else { break };
            let engine = engine.clone();
            let shutdown = shutdown.clone();
            running.spawn(async move {
                engine.run_claimed(group, &shutdown).await;
                drop(permit);
            });
        }
    }
    while running.join_next().await.is_some() {}
    tracing::debug!("dispatcher stopped");
}

/// How often, at least, a claim looks at every queue from its oldest task (see [`Claimer`]).
const FULL_CLAIM_EVERY: Duration = Duration::from_millis(200);

/// The dispatcher's claims. While a queue has a backlog, each batch starts where the previous
/// one ended in that queue ([`ClaimPosition`]), so a claim does not step again over what was
/// claimed before (on PostgreSQL, the index entries of every task claimed since the last
/// vacuum). A claim without a position, which sees every queue and whatever became claimable
/// behind the position (retries, requeued tasks), is made when a positioned batch comes back
/// short and at least every [`FULL_CLAIM_EVERY`].
#[derive(Debug)]
struct Claimer {
    position: Option<ClaimPosition>,
    last_full: Instant,
}

impl Default for Claimer {
    fn default() -> Self {
        Self {
            position: None,
            last_full: Instant::now(),
        }
    }
}

impl Claimer {
    /// Claims work for `slots` slots, or waits for a wake-up, the poll interval or shutdown
    /// and returns `None`.
    async fn claim_or_wait(
        &mut self,
        engine: &Engine,
        shutdown: &CancellationToken,
        slots: usize,
    ) -> Option<Vec<Vec<Task>>> {
        // Register for wake-ups before looking, so a submission between the look and the wait
        // is not missed.
        let notified = engine.inner.task_wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        match self.claim(engine, slots).await {
            Ok(groups) if !groups.is_empty() => return Some(groups),
            Ok(_) => {
                tokio::select! {
                    () = &mut notified => {}
                    () = tokio::time::sleep(engine.inner.config.poll_interval) => {}
                    () = shutdown.cancelled() => {}
                }
            }
            Err(error) => {
                self.position = None;
                tracing::error!(?error, "could not claim a task");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        None
    }

    async fn claim(
        &mut self,
        engine: &Engine,
        slots: usize,
    ) -> Result<Vec<Vec<Task>>, reelflow_store::StoreError> {
        if let Some(position) = self.position.take()
            && self.last_full.elapsed() < FULL_CLAIM_EVERY
        {
            let groups = engine.claim(slots, Some(&position)).await?;
            if groups.len() == slots {
                self.position = ClaimPosition::after(&groups);
                return Ok(groups);
            }
            if !groups.is_empty() {
                // Short: the next claim looks behind the position too.
                return Ok(groups);
            }
        }
        let groups = engine.claim(slots, None).await?;
        self.last_full = Instant::now();
        self.position = ClaimPosition::after(&groups);
        Ok(groups)
    }
}

/// Periodically returns tasks whose lease expired (their node died) to the queue.
pub(crate) async fn sweep_stale(engine: Engine, shutdown: CancellationToken) {
    let every = engine.inner.config.lease / 2;
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = shutdown.cancelled() => return,
        }
        match engine.store().requeue_stale(now_unix(), None, false).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::warn!(tasks = n, "requeued tasks whose lease expired");
                engine.wake_workers();
            }
            Err(error) => tracing::error!(?error, "could not requeue stale tasks"),
        }
    }
}

impl Engine {
    /// Claims up to `slots` tasks, oldest first, in one store operation; when fusion is on, a
    /// section task comes with its fusable siblings as one group (so no other worker takes
    /// part of the group).
    async fn claim(
        &self,
        slots: usize,
        after: Option<&ClaimPosition>,
    ) -> Result<Vec<Vec<Task>>, reelflow_store::StoreError> {
        let now = now_unix();
        let lease = self.inner.config.lease.as_secs() as i64;
        let siblings = if self.inner.config.fuse_siblings {
            MAX_FUSED_SIBLINGS
        } else {
            0
        };
        self.store()
            .claim_groups(
                &self.inner.config.node_id,
                now,
                now + lease,
                siblings,
                u32::try_from(slots).unwrap_or(u32::MAX),
                after,
            )
            .await
    }

    async fn run_claimed(&self, group: Vec<Task>, shutdown: &CancellationToken) {
        let span =
            tracing::info_span!("task", job_id = %group[0].job_id, node = %group[0].node_name);
        async {
            tracing::info!(tasks = group.len(), "claimed");
            Counters::add(&self.inner.counters.claimed, group.len() as u64);
            let mut group = self.drop_exhausted(group).await;
            if group.is_empty() {
                return;
            }
            if group.len() == 1 {
                let task = group.remove(0);
                self.run_single(task, shutdown).await;
            } else {
                self.run_group(group, shutdown).await;
            }
        }
        .instrument(span)
        .await;
    }

    async fn run_single(&self, task: Task, shutdown: &CancellationToken) {
        let (ctl, watch) = Control::start(shutdown);
        let heartbeat = self.heartbeat(std::slice::from_ref(&task.job_id), &watch);
        let result = tokio::select! {
            result = self.execute(&task, &ctl) => result,
            () = heartbeat => return, // lease lost: another node owns the task now
        };
        if shutdown.is_cancelled() {
            // Interrupted by shutdown: leave it Running; the next start requeues it.
            return;
        }
        if let Err(failure) = &result
            && failure.code == crate::segmented::SPLIT
        {
            // Split into segments and parked by the store: its parts run as tasks of their
            // own, and the task is resubmitted to stitch them when they have ended.
            return;
        }
        let cancelled = watch.user_cancel.load(Ordering::Relaxed);
        if let Err(failure) = &result
            && failure.transient
            && !cancelled
            && self.retry_later(&task, failure).await
        {
            return;
        }
        let outcome = outcome_of(result, cancelled);
        self.finish(&task, outcome).await;
    }

    /// Fails, without running them, the tasks of `group` that used up their attempts while
    /// not running here (their workers were lost: requeued with a count, see
    /// [`reelflow_store::RunStore::requeue_stale`]); returns the others.
    async fn drop_exhausted(&self, group: Vec<Task>) -> Vec<Task> {
        let max = self.inner.retry.max_attempts;
        let (exhausted, runnable): (Vec<Task>, Vec<Task>) =
            group.into_iter().partition(|t| t.attempts >= max);
        for task in exhausted {
            tracing::warn!(job_id = %task.job_id, attempts = task.attempts, code = %task.code, "giving up");
            let outcome = TaskOutcome {
                state: TaskState::Failed,
                code: task.code.clone(),
                message: format!("gave up after {} attempts: {}", task.attempts, task.message),
                outputs: Vec::new(),
                result: String::new(),
                ended: now_unix(),
            };
            self.finish(&task, outcome).await;
        }
        runnable
    }

    /// Puts `task` back for a later attempt after a transient `failure`, unless it used its
    /// last attempt; true when it was put back (or is no longer ours), false when the caller
    /// should fail it with `failure`.
    async fn retry_later(&self, task: &Task, failure: &crate::execute::Failure) -> bool {
        let policy = &self.inner.retry;
        let attempt = task.attempts + 1; // the one that just failed
        if attempt >= policy.max_attempts {
            tracing::info!(attempt, code = %failure.code, "transient failure on the last attempt");
            return false;
        }
        let delay = policy.delay_after(attempt);
        let secs = (delay.as_secs_f64().ceil() as i64).max(1);
        let not_before = now_unix() + secs;
        tracing::warn!(
            attempt,
            code = %failure.code,
            message = %failure.message,
            retry_in = ?delay,
            "transient failure; the task will be retried"
        );
        match self
            .store()
            .retry_task(
                &task.job_id,
                &self.inner.config.node_id,
                not_before,
                &failure.code,
                &failure.message,
            )
            .await
        {
            Ok(true) => {
                Counters::add(&self.inner.counters.retried, 1);
                self.schedule_wake(Duration::from_secs(secs as u64));
                true
            }
            Ok(false) => {
                tracing::warn!("task was reclaimed before it could be retried");
                true
            }
            Err(error) => {
                // The lease runs out and the sweeper requeues it: still another attempt.
                tracing::error!(?error, "could not put a task back for a retry");
                true
            }
        }
    }

    /// Wakes idle workers when a retried task becomes claimable.
    fn schedule_wake(&self, after: Duration) {
        let engine = self.clone();
        tokio::spawn(async move {
            // `not_before` is in whole seconds: wake just after it has passed.
            tokio::time::sleep(after + Duration::from_millis(1100)).await;
            engine.wake_workers();
        });
    }

    /// Runs a fused group; if the shared ffmpeg run fails, each task runs again on its own.
    async fn run_group(&self, group: Vec<Task>, shutdown: &CancellationToken) {
        tracing::info!(
            tasks = group.len(),
            "running sibling tasks as one ffmpeg process"
        );
        let ids: Vec<String> = group.iter().map(|t| t.job_id.clone()).collect();
        let (ctl, watch) = Control::start(shutdown);
        let heartbeat = self.heartbeat(&ids, &watch);
        let result = tokio::select! {
            result = self.execute_group(&group, &ctl) => result,
            () = heartbeat => return,
        };
        if shutdown.is_cancelled() {
            return;
        }
        match result {
            Ok(results) => {
                for (task, done) in group.iter().zip(results) {
                    self.finish(task, outcome_of(Ok(done), false)).await;
                }
            }
            Err(failure)
                if failure.transient
                    && group
                        .iter()
                        .all(|t| t.attempts + 1 < self.inner.retry.max_attempts) =>
            {
                // Put the whole group back: it is claimed again as one group later.
                tracing::info!(code = %failure.code, "fused run failed transiently; retrying the group");
                for task in &group {
                    if matches!(self.store().cancel_requested(&task.job_id).await, Ok(true)) {
                        self.finish(task, outcome_of(Err(failure.clone()), true))
                            .await;
                    } else {
                        self.retry_later(task, &failure).await;
                    }
                }
            }
            Err(failure) => {
                tracing::info!(code = %failure.code, "fused run failed; running each task alone");
                for task in group {
                    if matches!(self.store().cancel_requested(&task.job_id).await, Ok(true)) {
                        self.finish(&task, outcome_of(Err(failure.clone()), true))
                            .await;
                    } else {
                        Box::pin(self.run_single(task, shutdown)).await;
                    }
                }
            }
        }
    }

    /// Renews the leases, publishes progress and watches for cancel requests until the
    /// tasks end; returns only if a lease was lost (the caller then abandons the tasks).
    async fn heartbeat(&self, job_ids: &[String], watch: &Watch) {
        let tick = Duration::from_millis(500);
        let renew_every = (self.inner.config.lease / 3).max(tick);
        let mut since_renewal = Duration::ZERO;
        let mut last = 0;
        loop {
            tokio::time::sleep(tick).await;
            since_renewal += tick;
            for id in job_ids {
                if !watch.user_cancel.load(Ordering::Relaxed)
                    && matches!(self.store().cancel_requested(id).await, Ok(true))
                {
                    tracing::info!(job_id = %id, "cancel requested; stopping the task");
                    watch.user_cancel.store(true, Ordering::Relaxed);
                    watch.cancel.cancel();
                }
            }
            let p = watch.progress.load(Ordering::Relaxed);
            if p != last {
                last = p;
                for id in job_ids {
                    if let Err(error) = self.store().set_progress(id, p).await {
                        tracing::warn!(?error, "could not record progress");
                    }
                }
            }
            if since_renewal < renew_every {
                continue;
            }
            since_renewal = Duration::ZERO;
            let until = now_unix() + self.inner.config.lease.as_secs() as i64;
            for id in job_ids {
                match self
                    .store()
                    .renew_lease(id, &self.inner.config.node_id, until)
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(job_id = %id, "lease lost; abandoning the task");
                        Counters::add(&self.inner.counters.leases_lost, 1);
                        watch.cancel.cancel();
                        return;
                    }
                    Err(error) => tracing::warn!(?error, "could not renew a lease"),
                }
            }
        }
    }

    /// Records a task's end (batched with other slots' ends, see [`crate::finisher`]).
    async fn finish(&self, task: &Task, outcome: TaskOutcome) {
        let state = outcome.state;
        let piece = crate::segmented::piece_of(task, &outcome);
        match self.finisher().finish(task, outcome).await {
            Some(FinishResult::Applied { submitted, .. }) => {
                // One line per task end the store accepted (tests count them).
                // In its own span: a fused group runs under the first task's span, and each
                // task's end line must carry that task's job_id and node. That span is a root
                // (`parent: None`), not a child of the `task` span this runs in: as a child,
                // a single task's line would list the same span twice in `spans`, and a fused
                // sibling's would list the first task's span before its own.
                tracing::info_span!(parent: None, "task", job_id = %task.job_id, node = %task.node_name)
                    .in_scope(|| {
                        tracing::info!(
                            job_id = %task.job_id,
                            state = ?state,
                            node = %task.node_name,
                            "task finished"
                        );
                    });
                let counters = &self.inner.counters;
                match state {
                    TaskState::Success => Counters::add(&counters.succeeded, 1),
                    TaskState::Failed => Counters::add(&counters.failed, 1),
                    _ => {}
                }
                if submitted {
                    self.wake_workers();
                }
                self.parent_may_have_ended(task, state);
                self.inner.callback_wake.notify_one();
            }
            Some(FinishResult::LeaseLost) => {
                tracing::warn!("task was reclaimed before it finished; result dropped");
                Counters::add(&self.inner.counters.leases_lost, 1);
                if let Some(blob) = piece {
                    self.drop_refused_piece(task, &blob).await;
                }
            }
            // Logged by the finisher; the lease runs out and the task runs again.
            None => {}
        }
    }
}

/// What the heartbeat shares with a running task.
struct Watch {
    cancel: CancellationToken,
    progress: Arc<AtomicU8>,
    /// Set when a user asked to cancel (as opposed to shutdown or a lost lease).
    user_cancel: Arc<AtomicBool>,
}

/// Builds the media control of a task run and the heartbeat's view of it.
struct Control;

impl Control {
    fn start(shutdown: &CancellationToken) -> (RunControl, Watch) {
        let cancel = shutdown.child_token();
        let progress = Arc::new(AtomicU8::new(0));
        let reported = progress.clone();
        let ctl = RunControl {
            cancel: cancel.clone(),
            progress: Some(Arc::new(move |p: u8| reported.store(p, Ordering::Relaxed))),
        };
        (
            ctl,
            Watch {
                cancel,
                progress,
                user_cancel: Arc::new(AtomicBool::new(false)),
            },
        )
    }
}

/// The task's final state from its run's result; a run stopped by a user's cancel is Cancel.
fn outcome_of(
    result: Result<crate::execute::TaskResult, crate::execute::Failure>,
    cancelled: bool,
) -> TaskOutcome {
    let ended = now_unix();
    match result {
        Ok(done) => TaskOutcome {
            state: TaskState::Success,
            code: "Success".to_owned(),
            message: "Success".to_owned(),
            outputs: done.outputs,
            result: done.result,
            ended,
        },
        Err(_) if cancelled => TaskOutcome {
            state: TaskState::Cancel,
            code: "Cancelled".to_owned(),
            message: "cancelled by request".to_owned(),
            outputs: Vec::new(),
            result: String::new(),
            ended,
        },
        Err(failure) => {
            tracing::info!(code = %failure.code, message = %failure.message, "task failed");
            TaskOutcome {
                state: TaskState::Failed,
                code: failure.code,
                message: failure.message,
                outputs: Vec::new(),
                result: String::new(),
                ended,
            }
        }
    }
}
