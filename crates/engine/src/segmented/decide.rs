//! The run rules of sub-tasks, pure: part of [`crate::dag::decide`].
//!
//! - A parked parent is resubmitted when all its parts ended, or as soon as one failed or
//!   was cancelled (it then fails, naming the part, and its other parts are cancelled).
//! - When a parent ended (finished, failed or cancelled), its parts that did not end are
//!   cancelled: one waiting for a worker never starts, a running one's worker loses its
//!   lease at its next renewal and stops its ffmpeg.
//!
//! Everything else in the run sees only the tasks users see: parts are left out.

use std::borrow::Cow;

use reelflow_model::execution::{Task, TaskState};
use reelflow_store::TaskUpdate;

/// The run's own tasks (parts left out) with the parts' rules applied, and the updates those
/// rules make (to parents and parts).
pub(crate) fn decide_parts(tasks: &[Task]) -> (Cow<'_, [Task]>, Vec<TaskUpdate>) {
    if tasks.iter().all(|t| t.sub.is_none()) {
        return (Cow::Borrowed(tasks), Vec::new());
    }
    let mut updates = Vec::new();
    let mut own: Vec<Task> = Vec::with_capacity(tasks.len());
    for task in tasks.iter().filter(|t| t.sub.is_none()) {
        let parts: Vec<&Task> = tasks
            .iter()
            .filter(|p| {
                p.sub
                    .as_ref()
                    .is_some_and(|s| s.parent_job_id == task.job_id)
            })
            .collect();
        let mut task = task.clone();
        if task.is_parked() && parts_over(&parts) {
            updates.push(update(&task, TaskState::Submitted));
            task.state = TaskState::Submitted;
        } else if task.state.is_terminal() {
            updates.extend(
                parts
                    .iter()
                    .filter(|p| !p.state.is_terminal())
                    .map(|p| update(p, TaskState::Cancel)),
            );
        }
        own.push(task);
    }
    (Cow::Owned(own), updates)
}

/// Whether a parked parent's parts are over for it: all ended, or one failed.
fn parts_over(parts: &[&Task]) -> bool {
    parts.iter().all(|p| p.state.is_terminal())
        || parts
            .iter()
            .any(|p| matches!(p.state, TaskState::Failed | TaskState::Cancel))
}

fn update(task: &Task, state: TaskState) -> TaskUpdate {
    TaskUpdate {
        job_id: task.job_id.clone(),
        state,
        created: task.created,
        input_bucket: task.input_bucket.clone(),
        input_key: task.input_key.clone(),
    }
}

#[cfg(test)]
mod tests;
