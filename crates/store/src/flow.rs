//! The multi-step transactions whose rules must not differ between backends, written once.
//!
//! Ending a task (by its worker, or by a cancel before it started) is: lock the run, change the
//! task, let the engine's [`Decider`] see the whole run, apply its decision, end the run when
//! decided, and enqueue the callbacks the [`CallbackBuilder`] asks for; all in one transaction.
//! Each backend supplies the primitive reads and writes of that transaction ([`RunTx`]); the
//! order of the steps and every rule between them live here.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use reelflow_model::execution::{Instance, Task, TaskState};

use crate::callbacks::{BIRTH_LEASE_MS, CallbackKind, CallbackOrigin, NewCallback};
use crate::rows::clean_text;
use crate::{
    CallbackBuilder, CancelOutcome, Decider, Decision, FinishResult, RunEnd, StoreResult, TaskEnd,
    TaskUpdate, TimedDecider,
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

/// A task as [`RunTx::lock_for_finish`] found it.
#[derive(Debug, Clone)]
pub(crate) struct Held {
    pub job_id: String,
    pub run_id: String,
    pub state: TaskState,
    pub lease_owner: Option<String>,
}

/// The primitive steps of a run transaction, on one backend's open transaction.
#[async_trait]
pub(crate) trait RunTx: Send {
    /// Locks the run of task `job_id` against concurrent ends of its other tasks (until the
    /// transaction ends) and returns the run id and the task's current state; `None` when there
    /// is no such task.
    async fn lock_task_run(&mut self, job_id: &str) -> StoreResult<Option<(String, TaskState)>>;
    /// Cancels a task that has not started.
    async fn mark_cancelled(&mut self, job_id: &str, now: i64) -> StoreResult<()>;
    /// Asks the worker of a running task to stop it.
    async fn request_cancel(&mut self, job_id: &str) -> StoreResult<()>;
    /// The run and its tasks, in job-id order.
    async fn load_run(&mut self, run_id: &str) -> StoreResult<Option<(Instance, Vec<Task>)>>;
    /// Locks, for ending `job_ids`, their runs (in run-id order, against concurrent ends of
    /// their other tasks) and then the tasks themselves; returns what it found of each task.
    async fn lock_for_finish(&mut self, job_ids: &[&str]) -> StoreResult<Vec<Held>>;
    /// The runs and their tasks (in job-id order); missing runs are left out.
    async fn load_runs(&mut self, run_ids: &[&str]) -> StoreResult<Vec<(Instance, Vec<Task>)>> {
        let mut runs = Vec::with_capacity(run_ids.len());
        for run_id in run_ids {
            runs.extend(self.load_run(run_id).await?);
        }
        Ok(runs)
    }
    /// Ends each task that is `Running` and leased to `owner` (the others are left as they
    /// are); returns how many were ended.
    async fn mark_finished_many(&mut self, owner: &str, ends: &[TaskEnd<'_>]) -> StoreResult<u64>;
    /// Applies the engine's changes to other tasks of the runs.
    async fn update_tasks(&mut self, updates: &[TaskUpdate]) -> StoreResult<()>;
    /// Ends each run that is still `Running`.
    async fn end_runs(&mut self, ends: &[(String, RunEnd)]) -> StoreResult<()>;
    /// Inserts messages, leaving alone any whose id exists (so a replayed transaction stays
    /// idempotent); with `birth`, the inserted ones are born `Sending` and leased to that node.
    async fn insert_callbacks(
        &mut self,
        messages: &[(CallbackOrigin, NewCallback)],
        created_ms: i64,
        birth: Option<Birth<'_>>,
    ) -> StoreResult<()>;
}

/// [`crate::RunStore::finish_tasks`] inside `tx`; the caller commits. Locks the runs and the
/// tasks, loads the runs as they were, marks the ends that are still ours, then replays each end
/// in the given order in memory (apply the outcome, let the engine decide, build callbacks), and
/// writes what the decisions changed with set-based steps.
pub(crate) async fn finish_tasks(
    tx: &mut impl RunTx,
    owner: &str,
    ends: &[TaskEnd<'_>],
    decide: &TimedDecider<'_>,
    callbacks: &CallbackBuilder,
) -> StoreResult<Vec<FinishResult>> {
    let ids: Vec<&str> = ends.iter().map(|e| e.job_id).collect();
    let held: HashMap<String, Held> = tx
        .lock_for_finish(&ids)
        .await?
        .into_iter()
        .map(|h| (h.job_id.clone(), h))
        .collect();
    let mut seen = HashSet::new();
    let ours: Vec<(usize, &str)> = ends
        .iter()
        .enumerate()
        .filter_map(|(i, e)| {
            let h = held.get(e.job_id)?;
            let mine = h.state == TaskState::Running && h.lease_owner.as_deref() == Some(owner);
            (mine && seen.insert(e.job_id)).then_some((i, h.run_id.as_str()))
        })
        .collect();
    let mut results = vec![FinishResult::LeaseLost; ends.len()];
    if ours.is_empty() {
        return Ok(results);
    }
    let mut run_ids: Vec<&str> = ours.iter().map(|(_, r)| *r).collect();
    run_ids.sort_unstable();
    run_ids.dedup();
    let mut runs: HashMap<String, (Instance, Vec<Task>)> = tx
        .load_runs(&run_ids)
        .await?
        .into_iter()
        .map(|(i, t)| (i.run_id.clone(), (i, t)))
        .collect();
    let marked: Vec<TaskEnd<'_>> = ours.iter().map(|(i, _)| ends[*i]).collect();
    tx.mark_finished_many(owner, &marked).await?;
    let mut writes = Writes::default();
    for (i, run_id) in ours {
        let end = ends[i];
        let Some((instance, tasks)) = runs.get_mut(run_id) else {
            continue;
        };
        apply_outcome(tasks, end);
        let now = end.outcome.ended;
        let step = step(
            instance,
            tasks,
            end.job_id,
            &|i, t| decide(i, t, now),
            callbacks,
        );
        let birth = Birth {
            owner,
            lease_until_ms: now.saturating_mul(1000) + BIRTH_LEASE_MS,
        };
        results[i] = writes.add(run_id, step, Some(birth));
    }
    writes.apply(tx).await?;
    Ok(results)
}

/// The task as [`RunTx::mark_finished_many`] leaves it, in memory.
fn apply_outcome(tasks: &mut [Task], end: TaskEnd<'_>) {
    let Some(t) = tasks.iter_mut().find(|t| t.job_id == end.job_id) else {
        return;
    };
    let o = end.outcome;
    t.state = o.state;
    t.code = clean_text(&o.code).into_owned();
    t.message = clean_text(&o.message).into_owned();
    t.outputs.clone_from(&o.outputs);
    t.result = clean_text(&o.result).into_owned();
    t.ended = Some(o.ended);
    if o.state == TaskState::Success {
        t.progress = 100;
    }
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

/// After `job_id` reached a final state inside `tx` (a cancel): loads the run, decides and
/// writes what the decision changed.
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
    let step = step(&mut instance, &mut tasks, job_id, decide, callbacks);
    let mut writes = Writes::default();
    let result = writes.add(run_id, step, birth);
    writes.apply(tx).await?;
    Ok(result)
}

/// What one task end decided, already applied to the run in memory.
struct Step {
    updates: Vec<TaskUpdate>,
    run_end: Option<RunEnd>,
    messages: Vec<(CallbackOrigin, NewCallback)>,
    created_ms: i64,
}

/// Lets the engine decide after `job_id` ended (the run and its tasks show that end), applies
/// the decision to `instance` and `tasks`, and builds the callbacks it asks for.
fn step(
    instance: &mut Instance,
    tasks: &mut [Task],
    job_id: &str,
    decide: &(dyn Fn(&Instance, &[Task]) -> Decision + '_),
    callbacks: &CallbackBuilder,
) -> Step {
    let decision = decide(instance, tasks);
    for update in &decision.task_updates {
        if let Some(t) = tasks.iter_mut().find(|t| t.job_id == update.job_id) {
            t.state = update.state;
            t.created = update.created;
            t.input_bucket.clone_from(&update.input_bucket);
            t.input_key.clone_from(&update.input_key);
        }
    }
    if let Some(end) = &decision.run_end {
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
    let messages = callbacks(instance, tasks, job_id)
        .into_iter()
        .map(|(kind, message)| {
            let origin = CallbackOrigin {
                kind,
                run_id: instance.run_id.clone(),
                job_id: (kind == CallbackKind::TaskFinish).then(|| job_id.to_owned()),
                bucket: instance.bucket.clone(),
                workflow_id: instance.workflow_id.clone(),
            };
            (origin, message)
        })
        .collect();
    Step {
        updates: decision.task_updates,
        run_end: decision.run_end,
        messages,
        created_ms,
    }
}

/// The writes of the steps of one transaction, gathered to be made with set-based statements.
#[derive(Default)]
struct Writes<'a> {
    /// The latest change per task (a later step may change a task again).
    updates: Vec<TaskUpdate>,
    run_ends: Vec<(String, RunEnd)>,
    messages: Vec<Messages<'a>>,
}

/// The callbacks one step asks for, with their creation time and birth lease.
struct Messages<'a> {
    messages: Vec<(CallbackOrigin, NewCallback)>,
    created_ms: i64,
    birth: Option<Birth<'a>>,
}

impl<'a> Writes<'a> {
    fn add(&mut self, run_id: &str, step: Step, birth: Option<Birth<'a>>) -> FinishResult {
        let submitted = step.updates.iter().any(|u| u.state == TaskState::Submitted);
        for update in step.updates {
            match self.updates.iter_mut().find(|u| u.job_id == update.job_id) {
                Some(old) => *old = update,
                None => self.updates.push(update),
            }
        }
        let run_ended = step.run_end.is_some();
        if let Some(end) = step.run_end {
            self.run_ends.push((run_id.to_owned(), end));
        }
        if !step.messages.is_empty() {
            self.messages.push(Messages {
                messages: step.messages,
                created_ms: step.created_ms,
                birth,
            });
        }
        FinishResult::Applied {
            run_ended,
            submitted,
        }
    }

    async fn apply(self, tx: &mut impl RunTx) -> StoreResult<()> {
        if !self.updates.is_empty() {
            tx.update_tasks(&self.updates).await?;
        }
        if !self.run_ends.is_empty() {
            tx.end_runs(&self.run_ends).await?;
        }
        for m in &self.messages {
            tx.insert_callbacks(&m.messages, m.created_ms, m.birth)
                .await?;
        }
        Ok(())
    }
}
