//! The multi-step transactions whose rules must not differ between backends, written once.
//!
//! Ending a task (by its worker, or by a cancel before it started) is: lock the run, change the
//! task, let the engine's [`Decider`] see the whole run, apply its decision, end the run when
//! decided, and enqueue the callbacks the [`CallbackBuilder`] asks for; all in one transaction.
//! Each backend supplies the primitive reads and writes of that transaction ([`RunTx`]); the
//! order of the steps and every rule between them live here.

use async_trait::async_trait;
use reelflow_model::execution::{Instance, Task, TaskState};

use crate::callbacks::{BIRTH_LEASE_MS, CallbackKind, CallbackOrigin, NewCallback};
use crate::{
    CallbackBuilder, CancelOutcome, Decider, FinishResult, RunEnd, StoreResult, TaskOutcome,
    TaskUpdate,
};

/// A message written by a task-finish transaction is born leased to the node that finished the
/// task, so that node's notifier sends it without a claiming write (see
/// [`crate::CallbackStore::read_leased_callbacks`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Birth<'a> {
    /// The node (lease owner).
    pub owner: &'a str,
    /// Lease expiry (Unix ms).
    pub lease_until_ms: i64,
}

/// The primitive steps of a run transaction, on one backend's open transaction.
#[async_trait]
pub(crate) trait RunTx: Send {
    /// Locks the run of task `job_id` against concurrent ends of its other tasks (until the
    /// transaction ends) and returns the run id and the task's current state; `None` when there
    /// is no such task.
    async fn lock_task_run(&mut self, job_id: &str) -> StoreResult<Option<(String, TaskState)>>;
    /// Ends a task that is `Running` and leased to `owner`; false (nothing changed) otherwise.
    async fn mark_finished(
        &mut self,
        job_id: &str,
        owner: &str,
        outcome: &TaskOutcome,
    ) -> StoreResult<bool>;
    /// Cancels a task that has not started.
    async fn mark_cancelled(&mut self, job_id: &str, now: i64) -> StoreResult<()>;
    /// Asks the worker of a running task to stop it.
    async fn request_cancel(&mut self, job_id: &str) -> StoreResult<()>;
    /// The run and its tasks, in job-id order.
    async fn load_run(&mut self, run_id: &str) -> StoreResult<Option<(Instance, Vec<Task>)>>;
    /// Applies the engine's change to another task of the run.
    async fn update_task(&mut self, update: &TaskUpdate) -> StoreResult<()>;
    /// Ends the run, if it is still `Running`.
    async fn end_run(&mut self, run_id: &str, end: &RunEnd) -> StoreResult<()>;
    /// Inserts messages, leaving alone any whose id exists (so a replayed transaction stays
    /// idempotent); with `birth`, the inserted ones are born `Sending` and leased to that node.
    async fn insert_callbacks(
        &mut self,
        messages: &[(CallbackOrigin, NewCallback)],
        created_ms: i64,
        birth: Option<Birth<'_>>,
    ) -> StoreResult<()>;
}

/// [`crate::RunStore::finish_task`] inside `tx`; the caller commits on `Applied` (and may roll
/// back on `LeaseLost`, which changed nothing).
pub(crate) async fn finish_task(
    tx: &mut impl RunTx,
    job_id: &str,
    owner: &str,
    outcome: &TaskOutcome,
    decide: &Decider,
    callbacks: &CallbackBuilder,
) -> StoreResult<FinishResult> {
    let Some((run_id, _)) = tx.lock_task_run(job_id).await? else {
        return Ok(FinishResult::LeaseLost);
    };
    if !tx.mark_finished(job_id, owner, outcome).await? {
        return Ok(FinishResult::LeaseLost);
    }
    let birth = Birth {
        owner,
        lease_until_ms: outcome.ended.saturating_mul(1000) + BIRTH_LEASE_MS,
    };
    after_end(tx, &run_id, job_id, decide, callbacks, Some(birth)).await
}

/// [`crate::JobStore::cancel_task`] inside `tx`; the caller commits.
pub(crate) async fn cancel_task(
    tx: &mut impl RunTx,
    job_id: &str,
    now: i64,
    decide: &Decider,
    callbacks: &CallbackBuilder,
) -> StoreResult<CancelOutcome> {
    let Some((run_id, state)) = tx.lock_task_run(job_id).await? else {
        return Ok(CancelOutcome::NotFound);
    };
    match state {
        TaskState::Running => {
            tx.request_cancel(job_id).await?;
            Ok(CancelOutcome::Signalled)
        }
        TaskState::Submitted | TaskState::Waiting => {
            tx.mark_cancelled(job_id, now).await?;
            // Nobody's notifier is waiting for these callbacks: they are claimed from Pending.
            match after_end(tx, &run_id, job_id, decide, callbacks, None).await? {
                FinishResult::Applied { run_ended, .. } => {
                    Ok(CancelOutcome::Cancelled { run_ended })
                }
                FinishResult::LeaseLost => Ok(CancelOutcome::NotFound),
            }
        }
        _ => Ok(CancelOutcome::AlreadyFinished),
    }
}

/// After `job_id` reached a final state inside `tx`: lets the engine decide what happens next,
/// applies that, ends the run when decided, and enqueues the callbacks the builder asks for.
async fn after_end(
    tx: &mut impl RunTx,
    run_id: &str,
    job_id: &str,
    decide: &Decider,
    callbacks: &CallbackBuilder,
    birth: Option<Birth<'_>>,
) -> StoreResult<FinishResult> {
    let Some((mut instance, mut tasks)) = tx.load_run(run_id).await? else {
        return Ok(FinishResult::LeaseLost);
    };
    let decision = decide(&instance, &tasks);
    for update in &decision.task_updates {
        tx.update_task(update).await?;
        if let Some(t) = tasks.iter_mut().find(|t| t.job_id == update.job_id) {
            t.state = update.state;
            t.created = update.created;
        }
    }
    let submitted = decision
        .task_updates
        .iter()
        .any(|u| u.state == TaskState::Submitted);
    if let Some(end) = &decision.run_end {
        tx.end_run(run_id, end).await?;
        instance.state = end.state;
        instance.ended = Some(end.ended);
    }
    let created_ms = decision
        .run_end
        .as_ref()
        .map(|e| e.ended)
        .or_else(|| {
            tasks
                .iter()
                .find(|t| t.job_id == job_id)
                .and_then(|t| t.ended)
        })
        .unwrap_or_default()
        * 1000;
    let messages: Vec<(CallbackOrigin, NewCallback)> = callbacks(&instance, &tasks, job_id)
        .into_iter()
        .map(|(kind, message)| {
            let origin = CallbackOrigin {
                kind,
                run_id: run_id.to_owned(),
                job_id: (kind == CallbackKind::TaskFinish).then(|| job_id.to_owned()),
                bucket: instance.bucket.clone(),
                workflow_id: instance.workflow_id.clone(),
            };
            (origin, message)
        })
        .collect();
    if !messages.is_empty() {
        tx.insert_callbacks(&messages, created_ms, birth).await?;
    }
    Ok(FinishResult::Applied {
        run_ended: decision.run_end.is_some(),
        submitted,
    })
}
