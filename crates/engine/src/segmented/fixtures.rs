//! Tasks for the unit tests of the segmented modules.

use reelflow_model::execution::{SubTask, Task, TaskState};
use reelflow_model::workflow::NodeType;

/// A started Transcode task `job_id` of run `i1`, node `Transcode_1`, in `state`.
pub(super) fn task(job_id: &str, state: TaskState) -> Task {
    Task {
        job_id: job_id.into(),
        run_id: "i1".into(),
        node_name: "Transcode_1".into(),
        node_type: NodeType::Transcode,
        tag: "Transcode".into(),
        template_id: "t".into(),
        template_name: "t".into(),
        queue_id: String::new(),
        state,
        code: String::new(),
        message: String::new(),
        progress: 0,
        input_bucket: "b".into(),
        input_key: "in.mp4".into(),
        outputs: vec![],
        result: String::new(),
        created: 1,
        started: Some(1),
        ended: None,
        attempts: 0,
        not_before: 0,
        sub: None,
    }
}

/// Sub-task `job_id` named `node_name` of parent `parent`, in `state`.
pub(super) fn part(job_id: &str, node_name: &str, parent: &str, state: TaskState) -> Task {
    Task {
        node_name: node_name.into(),
        node_type: NodeType::TranscodePart,
        tag: NodeType::TranscodePart.as_str().into(),
        sub: Some(SubTask {
            parent_job_id: parent.into(),
            spec: String::new(),
        }),
        ..task(job_id, state)
    }
}
