//! Callback messages, built inside the transaction that ends a task (and maybe its run), so the
//! outbox holds them the moment the state change is visible.
//!
//! - WorkflowFinish: the seed's `<Response><WorkflowExecution>` document, once per workflow run,
//!   when its NotifyConfig Event includes it (or names no event).
//! - TaskFinish: `<Response><EventName>TaskFinish</EventName><JobsDetail>`, per task, when the
//!   Event includes it — always for standalone jobs that asked for a CallBack.

use reelflow_model::XmlElement;
use reelflow_model::clock::DisplayOffset;
use reelflow_model::execution::{Instance, JSON_ARRAYS, RunState, Task, workflow_finish_document};
use reelflow_model::jobs_detail::jobs_detail;
use reelflow_model::workflow::{NotifyConfig, ResultFormat, Topology};
use reelflow_store::{CallbackKind, NewCallback};

/// The messages to enqueue after task `job_id` of `instance` ended.
pub fn messages(
    instance: &Instance,
    tasks: &[Task],
    job_id: &str,
    offset: DisplayOffset,
) -> Vec<(CallbackKind, NewCallback)> {
    let Ok(topology) = Topology::parse(&instance.topology_xml) else {
        return Vec::new();
    };
    let Some(notify) = topology
        .start()
        .and_then(|s| s.notify.clone())
        .filter(|n| n.enabled && !n.url.is_empty())
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if wants(&notify, "TaskFinish", false)
        && let Some(task) = tasks
            .iter()
            .find(|t| t.job_id == job_id && t.state.is_terminal() && t.is_shown())
    {
        let detail = jobs_detail(task, instance, topology.node(&task.node_name), offset);
        let doc = XmlElement::new("Response")
            .with_leaf("EventName", "TaskFinish")
            .with(detail);
        out.push((
            CallbackKind::TaskFinish,
            message(format!("msg_{job_id}_taskfinish"), &notify, &doc),
        ));
    }
    let standalone = instance.workflow_id.is_empty();
    if !standalone && instance.state != RunState::Running && wants(&notify, "WorkflowFinish", true)
    {
        let doc = workflow_finish_document(instance, tasks, offset);
        out.push((
            CallbackKind::WorkflowFinish,
            message(
                format!("msg_{}_workflowfinish", instance.run_id),
                &notify,
                &doc,
            ),
        ));
    }
    out
}

/// Whether `notify` asks for `event`; `default` applies when it names no event at all.
fn wants(notify: &NotifyConfig, event: &str, default: bool) -> bool {
    if notify.events.is_empty() {
        return default;
    }
    notify.events.iter().any(|e| e.eq_ignore_ascii_case(event))
}

pub(crate) fn message(id: String, notify: &NotifyConfig, doc: &XmlElement) -> NewCallback {
    let (content_type, body) = match notify.format {
        ResultFormat::Xml => ("application/xml", doc.to_xml()),
        ResultFormat::Json => (
            "application/json",
            doc.json_value(JSON_ARRAYS).unwrap_or_default().to_string(),
        ),
    };
    NewCallback {
        id,
        url: notify.url.clone(),
        content_type: content_type.to_owned(),
        body,
    }
}
