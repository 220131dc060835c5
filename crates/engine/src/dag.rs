//! The scheduling rules of a run, as pure functions over the run's tasks.
//!
//! Every node gets a task row when the run starts. A Waiting task is submitted once all its
//! predecessors succeeded (Start counts as succeeded); it consumes the output of its first
//! non-Start predecessor, or the run's input object. Nodes below a failed node stay Waiting and
//! are marked Skipped when nothing else can run. The run ends when no task is Submitted or
//! Running: Failed if any task failed, Cancel if any was cancelled, Success otherwise.

use reelflow_model::execution::{Instance, RunState, Task, TaskState};
use reelflow_model::workflow::Topology;
use reelflow_store::{Decision, RunEnd, TaskUpdate};

/// Decides what happens after a task of `instance` ended (`tasks` already reflects it).
///
/// Sub-tasks (pieces of a segmented Transcode) follow their own rules
/// ([`crate::segmented::decide_parts`]); everything else sees only the run's own tasks, where a
/// parked parent (waiting for its pieces) counts as running.
pub fn decide(instance: &Instance, tasks: &[Task], now: i64) -> Decision {
    let (own, part_updates) = crate::segmented::decide_parts(tasks);
    let mut decision = decide_own(instance, &own, now);
    decision.task_updates.extend(part_updates);
    decision
}

fn decide_own(instance: &Instance, tasks: &[Task], now: i64) -> Decision {
    let Ok(topology) = Topology::parse(&instance.topology_xml) else {
        // A run's snapshot was validated when the workflow was saved; if it no longer parses
        // the run cannot progress, so end it rather than leaving it Running forever.
        return end_run(tasks, now, Vec::new());
    };
    let mut updates: Vec<TaskUpdate> = tasks
        .iter()
        .filter(|t| t.state == TaskState::Waiting && !t.is_parked())
        .filter_map(|t| submission(&topology, instance, tasks, t, now))
        .collect();
    let active = !updates.is_empty()
        || tasks
            .iter()
            .any(|t| t.is_parked() || matches!(t.state, TaskState::Submitted | TaskState::Running));
    if active {
        return Decision {
            task_updates: updates,
            run_end: None,
        };
    }
    updates.clear();
    end_run(tasks, now, updates)
}

fn submission(
    topology: &Topology,
    instance: &Instance,
    tasks: &[Task],
    task: &Task,
    now: i64,
) -> Option<TaskUpdate> {
    let predecessors = topology.predecessors(&task.node_name);
    let state_of = |node: &str| tasks.iter().find(|t| t.node_name == node).map(|t| t.state);
    let succeeded = |p: &&str| *p == "Start" || state_of(p) == Some(TaskState::Success);
    let ready = if tolerates_failed_predecessors(topology, &task.node_name) {
        // StreamPack with IgnoreFailedStream: pack what succeeded once every rendition ended.
        predecessors
            .iter()
            .all(|p| *p == "Start" || state_of(p).is_some_and(TaskState::is_terminal))
            && predecessors.iter().any(succeeded)
    } else {
        predecessors.iter().all(succeeded)
    };
    if !ready {
        return None;
    }
    let (input_bucket, input_key) = input_for(instance, tasks, &predecessors);
    Some(TaskUpdate {
        job_id: task.job_id.clone(),
        state: TaskState::Submitted,
        created: now,
        input_bucket,
        input_key,
    })
}

/// Whether `node` runs even if some predecessors failed (StreamPack with IgnoreFailedStream).
fn tolerates_failed_predecessors(topology: &Topology, node: &str) -> bool {
    use reelflow_model::workflow::NodeType;
    topology
        .node(node)
        .is_some_and(|n| n.node_type == NodeType::StreamPack)
        && topology
            .nodes
            .iter()
            .find(|n| n.node_type == NodeType::StreamPackConfig)
            .and_then(|n| n.operation.stream_pack.as_ref())
            .is_none_or(|c| c.ignore_failed_stream)
}

/// The input of a node: its first media predecessor's first output, or the run's object.
pub fn input_for(instance: &Instance, tasks: &[Task], predecessors: &[&str]) -> (String, String) {
    predecessors
        .iter()
        .filter(|p| **p != "Start")
        .filter_map(|p| tasks.iter().find(|t| t.node_name == *p))
        .find_map(|t| t.outputs.first())
        .map(|o| (o.bucket.clone(), o.key.clone()))
        .unwrap_or_else(|| (instance.bucket.clone(), instance.object.clone()))
}

fn end_run(tasks: &[Task], now: i64, mut updates: Vec<TaskUpdate>) -> Decision {
    updates.extend(
        tasks
            .iter()
            .filter(|t| t.state == TaskState::Waiting)
            .map(|t| TaskUpdate {
                job_id: t.job_id.clone(),
                state: TaskState::Skipped,
                created: t.created,
                input_bucket: t.input_bucket.clone(),
                input_key: t.input_key.clone(),
            }),
    );
    let any = |s: TaskState| tasks.iter().any(|t| t.state == s);
    let state = if any(TaskState::Failed) {
        RunState::Failed
    } else if any(TaskState::Cancel) {
        RunState::Cancel
    } else {
        RunState::Success
    };
    Decision {
        task_updates: updates,
        run_end: Some(RunEnd { state, ended: now }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reelflow_model::XmlElement;
    use reelflow_model::execution::OutputObject;
    use reelflow_model::workflow::NodeType;

    fn instance(deps: &str) -> Instance {
        let topo = format!("<Topology><Dependencies>{deps}</Dependencies><Nodes><Start><Type>Start</Type><Input><ObjectPrefix>x</ObjectPrefix></Input></Start>{}</Nodes></Topology>",
            ["A", "B", "C"].iter().map(|n| format!("<{n}><Type>Transcode</Type><Operation><TemplateId>t</TemplateId><Output><Bucket>b</Bucket><Object>{n}.mp4</Object></Output></Operation></{n}>")).collect::<String>());
        Instance {
            run_id: "i1".into(),
            workflow_id: "w".into(),
            workflow_name: "w".into(),
            bucket: "b".into(),
            object: "in.mp4".into(),
            cos_headers: vec![],
            topology_xml: XmlElement::parse(topo.as_bytes()).unwrap(),
            state: RunState::Running,
            created: 0,
            ended: None,
        }
    }

    fn task(node: &str, state: TaskState) -> Task {
        Task {
            job_id: format!("j{node}"),
            run_id: "i1".into(),
            node_name: node.into(),
            node_type: NodeType::Transcode,
            tag: "Transcode".into(),
            template_id: "t".into(),
            template_name: "t".into(),
            queue_id: String::new(),
            state,
            code: String::new(),
            message: String::new(),
            progress: 0,
            input_bucket: String::new(),
            input_key: String::new(),
            outputs: if state == TaskState::Success {
                vec![OutputObject {
                    bucket: "b".into(),
                    key: format!("{node}.mp4"),
                }]
            } else {
                vec![]
            },
            result: String::new(),
            created: 0,
            started: None,
            ended: None,
            attempts: 0,
            not_before: 0,
            sub: None,
        }
    }

    const CHAIN_AND_JOIN: &str = "<Start>A,B</Start><A>C</A><B>C</B><C>End</C>";

    #[test]
    fn join_waits_for_every_predecessor() {
        let inst = instance(CHAIN_AND_JOIN);
        let tasks = [
            task("A", TaskState::Success),
            task("B", TaskState::Running),
            task("C", TaskState::Waiting),
        ];
        let d = decide(&inst, &tasks, 5);
        assert!(d.task_updates.is_empty() && d.run_end.is_none());
        let tasks = [
            task("A", TaskState::Success),
            task("B", TaskState::Success),
            task("C", TaskState::Waiting),
        ];
        let d = decide(&inst, &tasks, 5);
        assert_eq!(d.task_updates.len(), 1);
        assert_eq!(d.task_updates[0].state, TaskState::Submitted);
        assert_eq!(
            d.task_updates[0].input_key, "A.mp4",
            "consumes the upstream output"
        );
        assert!(d.run_end.is_none());
    }

    #[test]
    fn failure_skips_descendants_and_fails_the_run_when_idle() {
        let inst = instance(CHAIN_AND_JOIN);
        let tasks = [
            task("A", TaskState::Failed),
            task("B", TaskState::Running),
            task("C", TaskState::Waiting),
        ];
        assert!(decide(&inst, &tasks, 5).run_end.is_none(), "B still runs");
        let tasks = [
            task("A", TaskState::Failed),
            task("B", TaskState::Success),
            task("C", TaskState::Waiting),
        ];
        let d = decide(&inst, &tasks, 9);
        assert_eq!(d.run_end.unwrap().state, RunState::Failed);
        assert_eq!(d.task_updates.len(), 1);
        assert_eq!(d.task_updates[0].state, TaskState::Skipped);
    }

    #[test]
    fn all_success_ends_the_run() {
        let inst = instance("<Start>A,B</Start><A>End</A><B>End</B>");
        let tasks = [task("A", TaskState::Success), task("B", TaskState::Success)];
        let d = decide(&inst, &tasks, 9);
        let end = d.run_end.unwrap();
        assert_eq!((end.state, end.ended), (RunState::Success, 9));
    }
}
