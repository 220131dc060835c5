//! The `JobsDetail` document: how a task (a workflow node's job or a standalone job) is shown by
//! `GET /jobs` and sent in TaskFinish callbacks.

use crate::clock::DisplayOffset;
use crate::execution::{Instance, Task};
use crate::workflow::Node;
use crate::xml::XmlElement;

/// Builds `JobsDetail` for `task` of `instance`; `node` is the task's node in the run's topology.
pub fn jobs_detail(
    task: &Task,
    instance: &Instance,
    node: Option<&Node>,
    offset: DisplayOffset,
) -> XmlElement {
    let time = |t: Option<i64>| t.map(|s| offset.api_time(s)).unwrap_or_default();
    let op = node.map(|n| &n.operation);
    let region = op
        .and_then(|o| o.output.as_ref())
        .map(|o| o.region.clone())
        .unwrap_or_default();
    let mut input = XmlElement::new("Input").with_leaf("BucketId", &task.input_bucket);
    match op.and_then(|o| o.input_url.as_deref()) {
        Some(url) => input.push_leaf("Url", url),
        None => input.push_leaf("Object", &task.input_key),
    }
    input.push_leaf("Region", &region);
    if !instance.workflow_id.is_empty() {
        for (k, v) in &instance.cos_headers {
            input.push(
                XmlElement::new("CosHeaders")
                    .with_leaf("Key", k)
                    .with_leaf("Value", v),
            );
        }
    }
    let mut detail = XmlElement::new("JobsDetail")
        .with_leaf(
            "Code",
            if task.code.is_empty() {
                "Success"
            } else {
                &task.code
            },
        )
        .with_leaf("Message", &task.message)
        .with_leaf("JobId", &task.job_id)
        .with_leaf("Tag", &task.tag)
        .with_leaf("State", task.shown_state().as_str())
        .with_leaf("Progress", task.progress.to_string())
        .with_leaf("CreationTime", offset.api_time(task.created))
        .with_leaf("StartTime", time(task.started))
        .with_leaf("EndTime", time(task.ended))
        .with_leaf("QueueId", &task.queue_id)
        .with(input)
        .with(operation(task, op, &region));
    if !instance.workflow_id.is_empty() {
        detail.push(
            XmlElement::new("Workflow")
                .with_leaf("Name", &task.node_name)
                .with_leaf("RunId", &instance.run_id)
                .with_leaf("WorkflowId", &instance.workflow_id)
                .with_leaf("WorkflowName", &instance.workflow_name),
        );
    }
    detail
}

fn operation(task: &Task, op: Option<&crate::workflow::Operation>, region: &str) -> XmlElement {
    let mut el = XmlElement::new("Operation")
        .with_leaf("TemplateId", &task.template_id)
        .with_leaf("TemplateName", &task.template_name);
    if let Some(inline) = op.and_then(|o| o.inline_template.as_ref()) {
        el.push(inline_echo(inline));
    }
    if let Some(op) = op {
        for id in &op.watermark_template_ids {
            el.push_leaf("WatermarkTemplateId", id);
        }
        el.children.extend(op.watermarks.iter().cloned());
        if let Some(r) = &op.remove_watermark {
            el.push(
                XmlElement::new("RemoveWatermark")
                    .with_leaf("Dx", r.dx.to_string())
                    .with_leaf("Dy", r.dy.to_string())
                    .with_leaf("Width", r.width.to_string())
                    .with_leaf("Height", r.height.to_string()),
            );
        }
        if let Some(out) = &op.output {
            el.push(
                XmlElement::new("Output")
                    .with_leaf("Region", &out.region)
                    .with_leaf("Bucket", &out.bucket)
                    .with_leaf("Object", &out.object),
            );
        }
    }
    if !task.result.is_empty()
        && let Ok(result) = XmlElement::parse(task.result.as_bytes())
    {
        el.push(result);
    }
    if !task.outputs.is_empty() {
        let mut file = XmlElement::new("OutputFile")
            .with_leaf("Bucket", &task.outputs[0].bucket)
            .with_leaf("Region", region);
        for o in &task.outputs {
            file.push_leaf("ObjectName", &o.key);
        }
        el.push(XmlElement::new("MediaResult").with(file));
    }
    if let Some(op) = op {
        if let Some(u) = &op.user_data {
            el.push_leaf("UserData", u);
        }
        if let Some(l) = &op.job_level {
            el.push_leaf("JobLevel", l);
        }
    }
    el
}

/// Inline job parameters echoed under the element the request used (`Transcode`, `Snapshot`,
/// `Animation`, `SmartCover`, `ConcatTemplate`).
fn inline_echo(spec: &crate::template::TemplateSpec) -> XmlElement {
    use crate::template::TemplateTag;
    let mut el = spec.params.clone();
    el.name = match spec.tag {
        TemplateTag::Transcode | TemplateTag::HighSpeedHd => "Transcode",
        TemplateTag::Animation => "Animation",
        other => other.container(),
    }
    .to_owned();
    el
}
