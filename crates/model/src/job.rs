//! Standalone jobs (`POST /jobs`): parsed into one-node "runs" so the same engine, store, lease
//! and callback machinery executes them. A job's run has an empty WorkflowId and a synthetic
//! topology `Start → <Tag>` whose Start carries the job's callback; inline parameters travel
//! in the node's `InlineTemplate`, a URL input in its `InputUrl`.
//!
//! Job options the SDK demos send (api-reference-2.md §6): a MediaInfo job without Operation,
//! `Input.Url`, a Concat job with fragments and no Input, inline `Watermark`s and
//! `RemoveWatermark`, `FreeTranscode` (accepted and ignored), `JobLevel`, `UserData`, and
//! `CallBack=no`. Documented CI features reelflow does not implement are refused as
//! [`JobRequestError::NotImplemented`], everything malformed as [`JobRequestError::Invalid`].

mod input;
#[cfg(test)]
mod tests;

pub use input::{JobInput, MAX_URL_LEN, cos_object_of, display_url, key_of_url};

use crate::error::InvalidInput;
use crate::fields::Fields;
use crate::template::{TemplateSpec, TemplateTag};
use crate::workflow::NodeType;
use crate::xml::XmlElement;

/// Why a job request was refused.
#[derive(Debug, thiserror::Error)]
pub enum JobRequestError {
    /// Malformed or out-of-range content (HTTP 400 `InvalidArgument`).
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    /// A documented CI feature reelflow does not implement (HTTP 501 `NotImplemented`).
    #[error("{element}: {reason}")]
    NotImplemented { element: String, reason: String },
}

impl JobRequestError {
    /// Stable CI error code.
    pub fn code(&self) -> &'static str {
        match self {
            JobRequestError::Invalid(e) => e.code(),
            JobRequestError::NotImplemented { .. } => "NotImplemented",
        }
    }

    fn not_implemented(element: impl Into<String>, reason: impl Into<String>) -> Self {
        JobRequestError::NotImplemented {
            element: element.into(),
            reason: reason.into(),
        }
    }
}

fn rule(element: impl Into<String>, reason: impl Into<String>) -> JobRequestError {
    InvalidInput::rule(element, reason).into()
}

/// Where a job's TaskFinish callback goes.
#[derive(Debug, Clone, PartialEq)]
pub enum JobCallback {
    /// No `CallBack`: the queue's NotifyConfig, if it has one.
    Queue,
    /// `CallBack=no`: no callback, whatever the queue says.
    Off,
    /// The job's own `NotifyConfig`.
    Notify(XmlElement),
}

/// One job to create.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRequest {
    /// The job's Tag as sent (e.g. `Transcode`, `HighSpeedHd`).
    pub tag: String,
    /// Node type that runs it.
    pub node_type: NodeType,
    /// What it reads.
    pub input: JobInput,
    /// Queue, if chosen.
    pub queue_id: Option<String>,
    /// Its callback.
    pub callback: JobCallback,
    /// The synthetic node's `Operation`.
    pub operation: XmlElement,
}

const SUPPORTED_TAGS: &str =
    "Transcode, HighSpeedHd, Snapshot, Animation, SmartCover, Concat, Segment, MediaInfo";

/// Job tags Tencent CI documents that reelflow does not run.
const UNIMPLEMENTED_TAGS: &[&str] = &[
    "VoiceSeparate",
    "VideoMontage",
    "VideoProcess",
    "SDRtoHDR",
    "SuperResolution",
    "DigitalWatermark",
    "ExtractDigitalWatermark",
    "VideoTag",
    "QualityEstimate",
    "SegmentVideoBody",
    "VideoTargetRec",
    "SoundHound",
    "NoiseReduction",
    "StreamExtract",
    "Tts",
    "Translation",
    "WordsGeneralize",
    "ImageInspect",
    "PicProcess",
    "SnapshotByFrame",
    "AsrJob",
    "SpeechRecognition",
    "FillConcat",
    "VideoSynthesis",
    "AIGCMetadata",
];

/// Operation elements Tencent CI documents that reelflow does not implement.
const UNIMPLEMENTED_OPERATION: &[&str] = &["DigitalWatermark", "TranscodeTemplateId"];

/// `(container, element)` pairs of job Operations CI documents that reelflow does not implement.
const UNIMPLEMENTED_NESTED: &[(&str, &str)] = &[("Segment", "AIGCMetadata")];

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

fn node_type_of(tag: &str) -> Result<NodeType, JobRequestError> {
    if let Some(node_type) = node_type_for(tag) {
        return Ok(node_type);
    }
    if UNIMPLEMENTED_TAGS
        .iter()
        .any(|t| t.eq_ignore_ascii_case(tag))
    {
        return Err(JobRequestError::not_implemented(
            "Request.Tag",
            format!("{tag} jobs are not supported by reelflow (supported: {SUPPORTED_TAGS})"),
        ));
    }
    Err(rule(
        "Request.Tag",
        format!("job tag {tag:?} is not supported (supported: {SUPPORTED_TAGS})"),
    ))
}

const REQUEST_ELEMENTS: &[&str] = &[
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

/// Parses `POST /jobs`: one job (`Tag` at top level) or several (`Operation*` each with a Tag).
pub fn parse_jobs(request: &XmlElement) -> Result<Vec<JobRequest>, JobRequestError> {
    if request.name != "Request" {
        return Err(rule(&request.name, "root element must be Request"));
    }
    if let Some(child) = request
        .children
        .iter()
        .find(|c| !REQUEST_ELEMENTS.contains(&c.name.as_str()))
    {
        return Err(rule(
            format!("Request.{}", child.name),
            "is not a known element of a job request",
        ));
    }
    let f = Fields::new(request, "Request");
    let top_tag = f.str("Tag");
    if let Some(tag) = top_tag {
        node_type_of(tag)?;
    }
    let input = input::parse_input(request.child("Input"))?;
    let callback = callback(request)?;
    let queue_id = f.str("QueueId").map(str::to_owned);
    let empty = XmlElement::new("Operation");
    let mut operations: Vec<&XmlElement> = request.children_named("Operation").collect();
    if operations.is_empty() {
        // A MediaInfo job has nothing to configure (the PY demo sends no Operation).
        if top_tag.is_some_and(|t| node_type_for(t) == Some(NodeType::MediaInfo)) {
            operations.push(&empty);
        } else {
            return Err(rule("Request.Operation", "is required"));
        }
    }
    if top_tag.is_some() && operations.len() > 1 {
        return Err(rule(
            "Request.Operation",
            "only one Operation is allowed with a top-level Tag",
        ));
    }
    operations
        .into_iter()
        .map(|op| {
            let tag = top_tag
                .or_else(|| op.text_of("Tag"))
                .ok_or_else(|| rule("Request.Tag", "is required"))?;
            let node_type = node_type_of(tag)?;
            let operation = node_operation(op, tag, node_type, &input)?;
            Ok(JobRequest {
                tag: tag.to_owned(),
                node_type,
                input: input.clone(),
                queue_id: queue_id.clone(),
                callback: callback.clone(),
                operation,
            })
        })
        .collect()
}

fn callback(request: &XmlElement) -> Result<JobCallback, JobRequestError> {
    let f = Fields::new(request, "Request");
    let Some(url) = f.str("CallBack") else {
        return Ok(JobCallback::Queue);
    };
    if url.eq_ignore_ascii_case("no") {
        return Ok(JobCallback::Off);
    }
    if let Some(kind) = f
        .str("CallBackType")
        .filter(|t| !t.eq_ignore_ascii_case("Url"))
    {
        return Err(JobRequestError::not_implemented(
            "Request.CallBackType",
            format!("callback type {kind} is not supported (supported: Url)"),
        ));
    }
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(rule(
            "Request.CallBack",
            "must be an http:// or https:// URL, or `no` to send no callback",
        ));
    }
    let format = f
        .one_of("CallBackFormat", &["XML", "JSON"])?
        .unwrap_or("XML");
    Ok(JobCallback::Notify(
        XmlElement::new("NotifyConfig")
            .with_leaf("Url", url)
            .with_leaf("Type", "Url")
            .with_leaf("Event", "TaskFinish")
            .with_leaf("ResultFormat", format)
            .with_leaf("State", "On"),
    ))
}

/// Turns a job Operation into the synthetic node's Operation and validates it like a node's:
/// inline parameters become an `InlineTemplate` (unless a TemplateId wins), a URL input becomes
/// `InputUrl`, `FreeTranscode` is dropped, the rest passes through.
fn node_operation(
    op: &XmlElement,
    tag: &str,
    node_type: NodeType,
    input: &JobInput,
) -> Result<XmlElement, JobRequestError> {
    let inline_name = TemplateTag::parse(tag).map_or("", inline_container);
    let mut out = XmlElement::new("Operation");
    for child in &op.children {
        if let Some((parent, name)) = UNIMPLEMENTED_NESTED
            .iter()
            .find(|(p, n)| child.name == *p && child.child(n).is_some_and(|c| !c.is_empty()))
        {
            return Err(JobRequestError::not_implemented(
                format!("Request.Operation.{parent}.{name}"),
                "is not supported by reelflow",
            ));
        }
        match child.name.as_str() {
            "Tag" => {}
            "FreeTranscode" => {
                Fields::new(op, "Request.Operation").bool("FreeTranscode")?;
            }
            name if UNIMPLEMENTED_OPERATION.contains(&name) && !child.is_empty() => {
                return Err(JobRequestError::not_implemented(
                    format!("Request.Operation.{name}"),
                    "is not supported by reelflow",
                ));
            }
            name if !inline_name.is_empty() && name == inline_name => {
                if op.text_of("TemplateId").is_none() {
                    out.push(inline_template(tag, child)?);
                }
            }
            _ => out.push(child.clone()),
        }
    }
    match input {
        JobInput::Url(url) => out.push_leaf("InputUrl", url),
        JobInput::None if node_type != NodeType::Concat => {
            return Err(rule(
                "Request.Input",
                "is required (only a Concat job of ConcatFragments may leave it out)",
            ));
        }
        JobInput::None if out.text_of("TemplateId").is_none() && fragments(&out) == 0 => {
            return Err(rule(
                "Request.Operation.ConcatTemplate.ConcatFragment",
                "a Concat job without Input needs at least one fragment",
            ));
        }
        _ => {}
    }
    let node = XmlElement::new("Job").with(out.clone());
    crate::operation::parse(&node, node_type, "Request")?;
    Ok(out)
}

/// Fragments of an inline Concat template.
fn fragments(op: &XmlElement) -> usize {
    op.child("InlineTemplate")
        .and_then(|t| t.child("ConcatTemplate"))
        .map_or(0, |c| c.children_named("ConcatFragment").count())
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
    if let JobCallback::Notify(n) = &job.callback {
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
