//! Callback messages for a finished run, built inside the run-ending transaction so the outbox
//! always holds them once the run is terminal.

use reelflow_model::clock::DisplayOffset;
use reelflow_model::execution::{Instance, JSON_ARRAYS, Task, workflow_finish_document};
use reelflow_model::workflow::{ResultFormat, Topology};
use reelflow_store::NewCallback;

/// The WorkflowFinish message for a finished run, if its NotifyConfig asks for one.
pub fn workflow_finish(
    instance: &Instance,
    tasks: &[Task],
    offset: DisplayOffset,
) -> Vec<NewCallback> {
    let Some(notify) = Topology::parse(&instance.topology_xml)
        .ok()
        .and_then(|t| t.start().and_then(|s| s.notify.clone()))
        .filter(|n| n.wants_workflow_finish())
    else {
        return Vec::new();
    };
    let document = workflow_finish_document(instance, tasks, offset);
    let (content_type, body) = match notify.format {
        ResultFormat::Xml => ("application/xml", document.to_xml()),
        ResultFormat::Json => (
            "application/json",
            document
                .json_value(JSON_ARRAYS)
                .unwrap_or_default()
                .to_string(),
        ),
    };
    vec![NewCallback {
        // Deterministic per run and event: the stable webhook-id across every retry.
        id: format!("msg_{}_workflowfinish", instance.run_id),
        url: notify.url,
        content_type: content_type.to_owned(),
        body,
    }]
}
