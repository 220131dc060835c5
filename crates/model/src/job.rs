//! Standalone jobs (`POST /jobs`): parsed into one-node "runs" so the same engine, store, lease
//! and callback machinery executes them. A job's run has an empty WorkflowId and a synthetic
//! topology `Start → <Tag>` whose Start carries the job's callback; inline parameters travel
//! in the node's `InlineTemplate`.

use crate::error::InvalidInput;
use crate::fields::Fields;
use crate::template::{TemplateSpec, TemplateTag};
use crate::workflow::NodeType;
use crate::xml::XmlElement;

/// One job to create.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRequest {
    /// The job's Tag as sent (e.g. `Transcode`, `HighSpeedHd`).
    pub tag: String,
    /// Node type that runs it.
    pub node_type: NodeType,
    /// Input key.
    pub object: String,
    /// Queue, if chosen.
    pub queue_id: Option<String>,
    /// `NotifyConfig` built from CallBack/CallBackFormat (None: fall back to the queue's).
    pub notify: Option<XmlElement>,
    /// The synthetic node's `Operation`.
    pub operation: XmlElement,
}

/// Operation elements of jobs that are inline parameter containers, by job tag.
fn inline_container(tag: TemplateTag) -> &'static str {
    match tag {
        TemplateTag::Transcode | TemplateTag::HighSpeedHd => "Transcode",
        TemplateTag::Snapshot => "Snapshot",
        TemplateTag::Animation => "Animation",
        TemplateTag::SmartCover => "SmartCover",
        TemplateTag::Concat => "ConcatTemplate",
        TemplateTag::Watermark | TemplateTag::PicProcess => "",
    }
}

/// The node type a job Tag runs as.
fn node_type_for(tag: &str) -> Option<NodeType> {
    match tag {
        "Transcode" | "HighSpeedHd" => Some(NodeType::Transcode),
        "Snapshot" => Some(NodeType::Snapshot),
        "Animation" => Some(NodeType::Animation),
        "SmartCover" => Some(NodeType::SmartCover),
        "Concat" => Some(NodeType::Concat),
        "Segment" => Some(NodeType::Segment),
        "MediaInfo" => Some(NodeType::MediaInfo),
        _ => None,
    }
}

/// Parses `POST /jobs`: one job (`Tag` at top level) or several (`Operation*` each with a Tag).
pub fn parse_jobs(request: &XmlElement) -> Result<Vec<JobRequest>, InvalidInput> {
    if request.name != "Request" {
        return Err(InvalidInput::rule(
            &request.name,
            "root element must be Request",
        ));
    }
    for child in &request.children {
        let known = [
            "Tag",
            "Input",
            "Operation",
            "QueueId",
            "QueueType",
            "CallBack",
            "CallBackFormat",
            "CallBackType",
            "CallBackMqConfig",
            "CallBackKafkaConfig",
        ];
        if !known.contains(&child.name.as_str()) {
            return Err(InvalidInput::rule(
                format!("Request.{}", child.name),
                "is not a known element of a job request",
            ));
        }
    }
    let f = Fields::new(request, "Request");
    let input = request
        .child("Input")
        .ok_or_else(|| InvalidInput::rule("Request.Input", "is required"))?;
    let input_fields = Fields::new(input, "Request.Input");
    let object = input_fields
        .str("Object")
        .ok_or_else(|| {
            InvalidInput::rule(
                "Request.Input.Object",
                "is required (Url inputs are not supported)",
            )
        })?
        .trim_start_matches('/')
        .to_owned();
    let notify = callback(request)?;
    let queue_id = f.str("QueueId").map(str::to_owned);
    let operations: Vec<&XmlElement> = request.children_named("Operation").collect();
    if operations.is_empty() {
        return Err(InvalidInput::rule("Request.Operation", "is required"));
    }
    let top_tag = f.str("Tag");
    if top_tag.is_some() && operations.len() > 1 {
        return Err(InvalidInput::rule(
            "Request.Operation",
            "only one Operation is allowed with a top-level Tag",
        ));
    }
    operations
        .into_iter()
        .map(|op| {
            let tag = top_tag
                .or_else(|| op.text_of("Tag"))
                .ok_or_else(|| InvalidInput::rule("Request.Tag", "is required"))?;
            let node_type = node_type_for(tag).ok_or_else(|| {
                InvalidInput::rule("Request.Tag", format!("job tag {tag:?} is not supported (supported: Transcode, HighSpeedHd, Snapshot, Animation, SmartCover, Concat, Segment, MediaInfo)"))
            })?;
            Ok(JobRequest {
                tag: tag.to_owned(),
                node_type,
                object: object.clone(),
                queue_id: queue_id.clone(),
                notify: notify.clone(),
                operation: node_operation(op, tag)?,
            })
        })
        .collect()
}

fn callback(request: &XmlElement) -> Result<Option<XmlElement>, InvalidInput> {
    let f = Fields::new(request, "Request");
    let Some(url) = f.str("CallBack") else {
        return Ok(None);
    };
    if let Some(kind) = f
        .str("CallBackType")
        .filter(|t| !t.eq_ignore_ascii_case("Url"))
    {
        return Err(InvalidInput::rule(
            "Request.CallBackType",
            format!("callback type {kind} is not supported (supported: Url)"),
        ));
    }
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(InvalidInput::rule(
            "Request.CallBack",
            "must be an http:// or https:// URL",
        ));
    }
    let format = f
        .one_of("CallBackFormat", &["XML", "JSON"])?
        .unwrap_or("XML");
    Ok(Some(
        XmlElement::new("NotifyConfig")
            .with_leaf("Url", url)
            .with_leaf("Type", "Url")
            .with_leaf("Event", "TaskFinish")
            .with_leaf("ResultFormat", format)
            .with_leaf("State", "On"),
    ))
}

/// Turns a job Operation into the synthetic node's Operation: inline parameters become an
/// `InlineTemplate` (validated like a template), the rest passes through.
fn node_operation(op: &XmlElement, tag: &str) -> Result<XmlElement, InvalidInput> {
    let template_tag = TemplateTag::parse(tag);
    let inline_name = template_tag.map_or("", inline_container);
    let mut out = XmlElement::new("Operation");
    for child in &op.children {
        match child.name.as_str() {
            "Tag" => {}
            name if !inline_name.is_empty() && name == inline_name => {
                if op.text_of("TemplateId").is_none() {
                    out.push(inline_template(tag, child)?);
                }
            }
            _ => out.push(child.clone()),
        }
    }
    Ok(out)
}

fn inline_template(tag: &str, container: &XmlElement) -> Result<XmlElement, InvalidInput> {
    let mut request = XmlElement::new("Request")
        .with_leaf("Tag", tag)
        .with_leaf("Name", "inline");
    let wrapped = matches!(
        container.name.as_str(),
        "Snapshot" | "SmartCover" | "ConcatTemplate"
    );
    if wrapped {
        request.push(container.clone());
    } else {
        request.children.extend(container.children.iter().cloned());
    }
    let spec = TemplateSpec::from_request(&request)?;
    Ok(XmlElement::new("InlineTemplate")
        .with_leaf("Tag", spec.tag.as_str())
        .with_leaf("Name", "inline")
        .with(spec.params))
}

/// The synthetic topology of a job: `Start → <Tag>`, with the job's queue and callback on Start.
pub fn job_topology(job: &JobRequest) -> XmlElement {
    let node = job.node_type.as_str();
    let mut input = XmlElement::new("Input").with_leaf("ObjectPrefix", "/");
    if let Some(q) = &job.queue_id {
        input.push_leaf("QueueId", q);
    }
    if let Some(n) = &job.notify {
        input.push(n.clone());
    }
    XmlElement::new("Topology")
        .with(
            XmlElement::new("Dependencies")
                .with_leaf("Start", node)
                .with_leaf(node, "End"),
        )
        .with(
            XmlElement::new("Nodes")
                .with(
                    XmlElement::new("Start")
                        .with_leaf("Type", "Start")
                        .with(input),
                )
                .with(
                    XmlElement::new(node)
                        .with_leaf("Type", node)
                        .with(job.operation.clone()),
                ),
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::Topology;

    fn parse(xml: &str) -> Result<Vec<JobRequest>, InvalidInput> {
        parse_jobs(&XmlElement::parse(xml.as_bytes()).unwrap())
    }

    #[test]
    fn single_job_with_inline_parameters_becomes_a_valid_topology() {
        let jobs = parse("<Request><Tag>Transcode</Tag><Input><Object>in/a.mp4</Object></Input><Operation><Transcode><Container><Format>mp4</Format></Container><Video><Codec>H.264</Codec><Width>320</Width></Video></Transcode><Output><Region>r</Region><Bucket>b</Bucket><Object>o.mp4</Object></Output><UserData>u</UserData></Operation><CallBack>http://127.0.0.1/cb</CallBack><CallBackFormat>JSON</CallBackFormat></Request>").unwrap();
        assert_eq!(jobs.len(), 1);
        let topology = Topology::parse(&job_topology(&jobs[0])).unwrap();
        crate::topology::check_structure(&topology).unwrap();
        let node = topology.node("Transcode").unwrap();
        assert!(node.operation.inline_template.is_some());
        assert_eq!(node.operation.user_data.as_deref(), Some("u"));
        let notify = topology.start().unwrap().notify.clone().unwrap();
        assert_eq!(notify.url, "http://127.0.0.1/cb");
        assert_eq!(notify.format, crate::workflow::ResultFormat::Json);
    }

    #[test]
    fn several_operations_and_errors() {
        let jobs = parse("<Request><Input><Object>a.mp4</Object></Input><Operation><Tag>Snapshot</Tag><TemplateId>t1</TemplateId><Output><Bucket>b</Bucket><Object>s-${Number}.jpg</Object></Output></Operation><Operation><Tag>MediaInfo</Tag></Operation></Request>").unwrap();
        assert_eq!(
            jobs.iter().map(|j| j.tag.as_str()).collect::<Vec<_>>(),
            ["Snapshot", "MediaInfo"]
        );
        let msg = |x: &str| parse(x).unwrap_err().to_string();
        assert!(msg("<Request><Tag>VoiceSeparate</Tag><Input><Object>a</Object></Input><Operation/></Request>").contains("VoiceSeparate"));
        assert!(
            msg("<Request><Tag>Transcode</Tag><Operation/></Request>").contains("Request.Input")
        );
        assert!(msg("<Request><Tag>Transcode</Tag><Input><Object>a</Object></Input><Operation><Transcode><Container><Format>nope</Format></Container></Transcode></Operation></Request>").contains("Request.Container.Format"));
        assert!(msg("<Request><Tag>Transcode</Tag><Input><Object>a</Object></Input><Operation/><CallBack>ftp://x</CallBack></Request>").contains("CallBack"));
        assert!(msg("<Request><Tag>Transcode</Tag><Input><Object>a</Object></Input><Operation/><Bogus/></Request>").contains("Request.Bogus"));
    }
}
