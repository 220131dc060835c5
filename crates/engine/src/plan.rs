//! Turning "this workflow runs on that object" into a new run: the instance plus one task per
//! media node, with Start's successors submitted and the rest waiting.

use std::collections::HashMap;

use reelflow_model::execution::{Instance, RunState, Task, TaskState};
use reelflow_model::ids;
use reelflow_model::object::ObjectRecord;
use reelflow_model::template::Template;
use reelflow_model::workflow::{NodeType, Topology, Workflow};
use reelflow_store::NewRun;

/// Builds the run of `workflow` on `object`. `templates` maps template ids to templates; a
/// missing template keeps an empty name (the task then fails with a clear message when it runs).
pub fn new_run(
    workflow: &Workflow,
    topology: &Topology,
    object: &ObjectRecord,
    templates: &HashMap<String, Template>,
    queue_id: &str,
    now: i64,
) -> NewRun {
    let run_id = ids::new_run_id();
    let start_successors = topology.successors("Start");
    let tasks = topology
        .nodes
        .iter()
        .filter(|node| node.node_type != NodeType::Start)
        .map(|node| {
            let template_id = node.operation.template_id.clone().unwrap_or_default();
            let submitted = start_successors.contains(&node.name);
            Task {
                job_id: ids::new_job_id(),
                run_id: run_id.clone(),
                node_name: node.name.clone(),
                node_type: node.node_type,
                tag: node.node_type.as_str().to_owned(),
                template_name: templates
                    .get(&template_id)
                    .map(|t| t.name.clone())
                    .unwrap_or_default(),
                template_id,
                queue_id: queue_id.to_owned(),
                state: if submitted {
                    TaskState::Submitted
                } else {
                    TaskState::Waiting
                },
                code: String::new(),
                message: String::new(),
                progress: 0,
                input_bucket: if submitted {
                    object.bucket.clone()
                } else {
                    String::new()
                },
                input_key: if submitted {
                    object.key.clone()
                } else {
                    String::new()
                },
                outputs: Vec::new(),
                result: String::new(),
                created: now,
                started: None,
                ended: None,
                attempts: 0,
                not_before: 0,
                sub: None,
            }
        })
        .collect();
    NewRun {
        instance: Instance {
            run_id,
            workflow_id: workflow.id.clone(),
            workflow_name: workflow.name.clone(),
            bucket: object.bucket.clone(),
            object: object.key.clone(),
            cos_headers: object.user_meta.clone(),
            topology_xml: workflow.topology_xml.clone(),
            state: RunState::Running,
            created: now,
            ended: None,
        },
        tasks,
    }
}
