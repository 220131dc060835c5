use super::*;

use super::super::fixtures::task;

fn part(id: &str, state: TaskState) -> Task {
    Task {
        started: None,
        ..super::super::fixtures::part(id, &format!("Transcode_1#{id}"), "jp", state)
    }
}

fn states(updates: &[TaskUpdate]) -> Vec<(&str, TaskState)> {
    updates
        .iter()
        .map(|u| (u.job_id.as_str(), u.state))
        .collect()
}

#[test]
fn no_parts_borrows_the_run() {
    let tasks = [task("jp", TaskState::Running)];
    let (own, updates) = decide_parts(&tasks);
    assert!(matches!(own, Cow::Borrowed(_)) && updates.is_empty());
}

#[test]
fn a_parked_parent_waits_for_every_part_then_is_resubmitted() {
    let mut tasks = vec![
        task("jp", TaskState::Waiting),
        part("j1", TaskState::Success),
        part("j2", TaskState::Running),
    ];
    let (own, updates) = decide_parts(&tasks);
    assert_eq!(own.len(), 1, "parts are left out");
    assert!(updates.is_empty() && own[0].is_parked());
    tasks[2].state = TaskState::Success;
    let (own, updates) = decide_parts(&tasks);
    assert_eq!(states(&updates), [("jp", TaskState::Submitted)]);
    assert_eq!(own[0].state, TaskState::Submitted);
}

#[test]
fn a_failed_part_resubmits_the_parent_at_once() {
    let tasks = [
        task("jp", TaskState::Waiting),
        part("j1", TaskState::Failed),
        part("j2", TaskState::Running),
    ];
    let (_, updates) = decide_parts(&tasks);
    assert_eq!(states(&updates), [("jp", TaskState::Submitted)]);
}

#[test]
fn an_ended_parent_cancels_its_unfinished_parts() {
    for end in [TaskState::Cancel, TaskState::Failed, TaskState::Success] {
        let tasks = [
            task("jp", end),
            part("j1", TaskState::Success),
            part("j2", TaskState::Running),
            part("j3", TaskState::Submitted),
        ];
        let (_, updates) = decide_parts(&tasks);
        assert_eq!(
            states(&updates),
            [("j2", TaskState::Cancel), ("j3", TaskState::Cancel)]
        );
    }
}

#[test]
fn a_task_not_yet_submitted_is_not_parked() {
    let tasks = [
        Task {
            started: None,
            ..task("jp", TaskState::Waiting)
        },
        part("j1", TaskState::Success),
    ];
    let (_, updates) = decide_parts(&tasks);
    assert!(updates.is_empty());
}
