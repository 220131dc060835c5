//! Batch ("inventory", 存量触发) trigger jobs: one request that runs a workflow, or submits one
//! job, for every object an input names (api-reference-2.md §4).
//!
//! ```text
//! Request{ Name, Type Workflow|Job,
//!          Input{ Prefix | Object | Manifest | UrlFile (refused) },
//!          Operation{ TimeInterval{Start, End}?, WorkflowIds (Workflow),
//!                     Tag, JobParam, Output, QueueId, UserData, JobLevel, CallBack… (Job) },
//!          NotifyConfig? (reelflow: the batch-end callback) }
//! ```
//!
//! Parsing keeps the request's `Input` and `Operation` elements as sent, so responses echo
//! them; the typed [`BatchSpec`] is what the engine acts on.

use crate::clock::parse_api_time;
use crate::error::InvalidInput;
use crate::fields::Fields;
use crate::ids::is_workflow_id;
use crate::job::cos_object_of;
use crate::workflow::{NotifyConfig, parse_notify_config};
use crate::xml::XmlElement;

/// A batch's life (`JobsDetail.State`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BatchState {
    /// Accepted; no driver has taken it yet.
    Submitted,
    /// A driver is listing objects and submitting work, or waiting for it to end.
    Running,
    /// Every object was submitted and every instance/job it started ended, none failed.
    Success,
    /// Every object was submitted and every instance/job ended, at least one failed (or the
    /// input could not be read: `Code`/`Message` say why).
    Failed,
    /// Waiting: a queue the batch submits to is Paused.
    Pause,
    /// Cancelled by request.
    Cancel,
}

impl BatchState {
    /// Every state, in the reference's order.
    pub const ALL: [BatchState; 6] = [
        BatchState::Submitted,
        BatchState::Running,
        BatchState::Success,
        BatchState::Failed,
        BatchState::Pause,
        BatchState::Cancel,
    ];

    /// The CI name.
    pub fn as_str(self) -> &'static str {
        match self {
            BatchState::Submitted => "Submitted",
            BatchState::Running => "Running",
            BatchState::Success => "Success",
            BatchState::Failed => "Failed",
            BatchState::Pause => "Pause",
            BatchState::Cancel => "Cancel",
        }
    }

    /// Parses a CI name (case-insensitive).
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text))
    }

    /// Success, Failed or Cancel: nothing will change any more.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            BatchState::Success | BatchState::Failed | BatchState::Cancel
        )
    }
}

/// What a batch starts per object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BatchType {
    /// One instance of each workflow in `Operation.WorkflowIds`.
    Workflow,
    /// One job of `Operation.Tag` with `Operation.JobParam`.
    Job,
}

impl BatchType {
    /// The CI name.
    pub fn as_str(self) -> &'static str {
        match self {
            BatchType::Workflow => "Workflow",
            BatchType::Job => "Job",
        }
    }

    /// Parses a CI name (case-insensitive).
    pub fn parse(text: &str) -> Option<Self> {
        [BatchType::Workflow, BatchType::Job]
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(text))
    }
}

/// Which objects a batch covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchInput {
    /// Every object whose key starts with this prefix (`/` or empty: the whole bucket).
    Prefix(String),
    /// One key.
    Object(String),
    /// A COS inventory `manifest.json` stored in a bucket of this deployment.
    Manifest {
        /// Bucket holding the manifest.
        bucket: String,
        /// Its key.
        key: String,
    },
}

/// The LastModified window of a Prefix batch, Unix seconds, both ends inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeWindow {
    /// Objects modified at or after (`Operation.TimeInterval.Start`).
    pub start: Option<i64>,
    /// Objects modified at or before (`Operation.TimeInterval.End`).
    pub end: Option<i64>,
}

impl TimeWindow {
    /// Whether an object last modified at `modified_ms` (Unix milliseconds) is inside.
    pub fn contains(&self, modified_ms: i64) -> bool {
        let secs = modified_ms.div_euclid(1000);
        self.start.is_none_or(|s| secs >= s) && self.end.is_none_or(|e| secs <= e)
    }
}

/// A parsed batch request.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchSpec {
    /// `Name`.
    pub name: String,
    /// `Type`.
    pub kind: BatchType,
    /// Which objects.
    pub input: BatchInput,
    /// LastModified window.
    pub window: TimeWindow,
    /// Workflows to run (Type=Workflow), in request order.
    pub workflow_ids: Vec<String>,
    /// The batch-end callback.
    pub notify: Option<NotifyConfig>,
    /// `Input` as sent (echoed).
    pub input_xml: XmlElement,
    /// `Operation` as sent (echoed; Type=Job builds each job from it).
    pub operation_xml: XmlElement,
    /// `NotifyConfig` as sent, if any.
    pub notify_xml: Option<XmlElement>,
}

impl BatchSpec {
    /// The request document again (what the store keeps).
    pub fn to_request(&self) -> XmlElement {
        let mut r = XmlElement::new("Request")
            .with_leaf("Name", &self.name)
            .with_leaf("Type", self.kind.as_str())
            .with(self.input_xml.clone())
            .with(self.operation_xml.clone());
        if let Some(n) = &self.notify_xml {
            r.push(n.clone());
        }
        r
    }
}

const REQUEST_ELEMENTS: &[&str] = &["Name", "Type", "Input", "Operation", "NotifyConfig"];

fn rule(element: impl Into<String>, reason: impl Into<String>) -> InvalidInput {
    InvalidInput::rule(element, reason)
}

/// Parses `POST /inventorytriggerjob`. `bucket` is the request's bucket (a Manifest given as a
/// bare key is read from it).
pub fn parse_batch(request: &XmlElement, bucket: &str) -> Result<BatchSpec, InvalidInput> {
    if request.name != "Request" {
        return Err(rule(&request.name, "root element must be Request"));
    }
    if let Some(c) = request
        .children
        .iter()
        .find(|c| !REQUEST_ELEMENTS.contains(&c.name.as_str()))
    {
        return Err(rule(
            format!("Request.{}", c.name),
            "is not a known element of a batch trigger request",
        ));
    }
    let f = Fields::new(request, "Request");
    let name = parse_name(f.required("Name")?)?;
    let kind = match f.one_of("Type", &["Workflow", "Job"])? {
        Some("Job") => BatchType::Job,
        _ => BatchType::Workflow,
    };
    let input_xml = request
        .child("Input")
        .ok_or_else(|| rule("Request.Input", "is required"))?
        .clone();
    let input = parse_input(&input_xml, bucket)?;
    let operation_xml = request
        .child("Operation")
        .ok_or_else(|| rule("Request.Operation", "is required"))?
        .clone();
    let window = parse_window(&operation_xml)?;
    let workflow_ids = match kind {
        BatchType::Workflow => parse_workflow_ids(&operation_xml)?,
        BatchType::Job => check_job_operation(&operation_xml).map(|()| Vec::new())?,
    };
    let notify_xml = request.child("NotifyConfig").cloned();
    let notify = notify_xml
        .as_ref()
        .map(|n| parse_notify_config(n, "Request.NotifyConfig"))
        .transpose()?
        .filter(|n| n.enabled && !n.url.is_empty());
    Ok(BatchSpec {
        name,
        kind,
        input,
        window,
        workflow_ids,
        notify,
        input_xml,
        operation_xml,
        notify_xml,
    })
}

/// `Name`: 1–128 characters of letters (any script), digits, `-` and `_`.
fn parse_name(name: &str) -> Result<String, InvalidInput> {
    let ok = name.chars().count() <= 128
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(name.to_owned())
    } else {
        Err(rule(
            "Request.Name",
            "must be at most 128 characters: letters, digits, - and _",
        ))
    }
}

fn parse_input(input: &XmlElement, bucket: &str) -> Result<BatchInput, InvalidInput> {
    let f = Fields::new(input, "Request.Input");
    let given: Vec<&str> = ["Prefix", "Object", "Manifest", "UrlFile"]
        .into_iter()
        .filter(|n| input.child(n).is_some())
        .collect();
    if given.len() != 1 {
        return Err(rule(
            "Request.Input",
            "give exactly one of Prefix, Object, Manifest or UrlFile",
        ));
    }
    match given[0] {
        "Prefix" => {
            let prefix = f.str("Prefix").unwrap_or("");
            Ok(BatchInput::Prefix(
                prefix.trim_start_matches('/').to_owned(),
            ))
        }
        "Object" => {
            let key = f.required("Object")?.trim_start_matches('/');
            if key.is_empty() {
                return Err(rule("Request.Input.Object", "must name an object key"));
            }
            Ok(BatchInput::Object(key.to_owned()))
        }
        "Manifest" => parse_manifest_ref(f.required("Manifest")?, bucket),
        _ => Err(rule(
            "Request.Input.UrlFile",
            "URL-list inputs are not supported by reelflow (it fetches no arbitrary URLs \
             for batches): use Prefix, Object or a Manifest stored in a bucket of this server",
        )),
    }
}

/// A Manifest given as a COS object URL (`https://<bucket>.cos.<region>.myqcloud.com/<key>`),
/// or as a key in the request's bucket.
fn parse_manifest_ref(value: &str, bucket: &str) -> Result<BatchInput, InvalidInput> {
    if value.starts_with("http://") || value.starts_with("https://") {
        let (bucket, key) = cos_object_of(value).ok_or_else(|| {
            rule(
                "Request.Input.Manifest",
                "must be the COS URL of a manifest.json in a bucket of this server \
                 (https://<bucket>.cos.<region>.myqcloud.com/<key>) or its key",
            )
        })?;
        return Ok(BatchInput::Manifest { bucket, key });
    }
    let key = value.trim_start_matches('/');
    if key.is_empty() {
        return Err(rule("Request.Input.Manifest", "must name a manifest.json"));
    }
    Ok(BatchInput::Manifest {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
    })
}

fn parse_window(operation: &XmlElement) -> Result<TimeWindow, InvalidInput> {
    let Some(interval) = operation.child("TimeInterval") else {
        return Ok(TimeWindow::default());
    };
    let f = Fields::new(interval, "Request.Operation.TimeInterval");
    let time = |name: &str| {
        f.str(name)
            .map(|v| {
                parse_api_time(v).ok_or_else(|| {
                    rule(
                        format!("Request.Operation.TimeInterval.{name}"),
                        format!("must look like 2022-02-01T12:00:00+0800, got {v:?}"),
                    )
                })
            })
            .transpose()
    };
    let window = TimeWindow {
        start: time("Start")?,
        end: time("End")?,
    };
    if let (Some(s), Some(e)) = (window.start, window.end)
        && s > e
    {
        return Err(rule(
            "Request.Operation.TimeInterval",
            "Start must not be after End",
        ));
    }
    Ok(window)
}

fn parse_workflow_ids(operation: &XmlElement) -> Result<Vec<String>, InvalidInput> {
    let mut ids: Vec<String> = Vec::new();
    for el in operation.children_named("WorkflowIds") {
        for id in el.text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if !ids.iter().any(|i| i == id) {
                ids.push(id.to_owned());
            }
        }
    }
    if ids.is_empty() {
        return Err(rule(
            "Request.Operation.WorkflowIds",
            "is required for a Workflow batch",
        ));
    }
    if let Some(bad) = ids.iter().find(|i| !is_workflow_id(i)) {
        return Err(rule(
            "Request.Operation.WorkflowIds",
            format!("{bad:?} is not a workflow id (w + 32 hex)"),
        ));
    }
    Ok(ids)
}

fn check_job_operation(operation: &XmlElement) -> Result<(), InvalidInput> {
    if operation.text_of("Tag").is_none() {
        return Err(rule("Request.Operation.Tag", "is required for a Job batch"));
    }
    Ok(())
}

/// `${InventoryTriggerJobId}` in a Job batch's `Output.Object`, replaced by the batch id.
pub const BATCH_ID_VARIABLE: &str = "${InventoryTriggerJobId}";

/// The `POST /jobs`-shaped request of a Job batch's job on `key`: the batch Operation's `Tag`,
/// `QueueId`, `CallBack*` at the top, `JobParam`'s children plus `Output`, `UserData`,
/// `JobLevel`, `FreeTranscode` as its `Operation`, with `${InventoryTriggerJobId}` expanded.
pub fn job_request_for(operation: &XmlElement, key: &str, batch_id: &str) -> XmlElement {
    const TOP: &[&str] = &[
        "Tag",
        "QueueId",
        "CallBack",
        "CallBackFormat",
        "CallBackType",
        "CallBackMqConfig",
    ];
    const INTO_OPERATION: &[&str] = &["Output", "UserData", "JobLevel", "FreeTranscode"];
    let mut request = XmlElement::new("Request");
    let mut op = XmlElement::new("Operation");
    for child in &operation.children {
        let name = child.name.as_str();
        if TOP.contains(&name) {
            request.push(child.clone());
        } else if INTO_OPERATION.contains(&name) {
            op.push(expand(child, batch_id));
        } else if name == "JobParam" {
            op.children
                .extend(child.children.iter().map(|c| expand(c, batch_id)));
        }
    }
    request.push(XmlElement::new("Input").with_leaf("Object", key));
    request.push(op);
    request
}

fn expand(element: &XmlElement, batch_id: &str) -> XmlElement {
    let mut out = element.clone();
    out.text = out.text.replace(BATCH_ID_VARIABLE, batch_id);
    out.children = out.children.iter().map(|c| expand(c, batch_id)).collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(xml: &str) -> Result<BatchSpec, InvalidInput> {
        parse_batch(&XmlElement::parse(xml.as_bytes()).unwrap(), "bkt-1")
    }

    const WF: &str = "w0123456789abcdef0123456789abcdef";

    #[test]
    fn workflow_prefix_batch() {
        let spec = parse(&format!(
            "<Request><Name>b_1</Name><Type>Workflow</Type><Input><Prefix>/in/</Prefix></Input>\
             <Operation><TimeInterval><Start>2022-02-01T12:00:00+0800</Start></TimeInterval>\
             <WorkflowIds>{WF}</WorkflowIds></Operation></Request>"
        ))
        .unwrap();
        assert_eq!(spec.input, BatchInput::Prefix("in/".into()));
        assert_eq!(spec.workflow_ids, vec![WF.to_owned()]);
        assert_eq!(spec.window.start, Some(1_643_688_000));
        assert!(spec.window.contains(1_643_688_000_000));
        assert!(!spec.window.contains(1_643_687_999_000));
    }

    #[test]
    fn url_files_and_bad_inputs_are_refused_by_name() {
        let e = parse(&format!(
            "<Request><Name>x</Name><Input><UrlFile>http://a/b.txt</UrlFile></Input>\
             <Operation><WorkflowIds>{WF}</WorkflowIds></Operation></Request>"
        ))
        .unwrap_err();
        assert!(e.to_string().contains("Request.Input.UrlFile"), "{e}");
        let e =
            parse("<Request><Name>x</Name><Input><Prefix>a</Prefix></Input><Operation/></Request>")
                .unwrap_err();
        assert!(e.to_string().contains("WorkflowIds"), "{e}");
        let e = parse(&format!(
            "<Request><Name>x y</Name><Input><Prefix>a</Prefix></Input>\
             <Operation><WorkflowIds>{WF}</WorkflowIds></Operation></Request>"
        ))
        .unwrap_err();
        assert!(e.to_string().contains("Request.Name"), "{e}");
    }

    #[test]
    fn manifests_are_urls_or_keys() {
        let spec = parse(&format!(
            "<Request><Name>m</Name><Input><Manifest>https://inv-1.cos.ap-guangzhou.myqcloud.com/\
             cos_bucket_inventory/1/b/i/d/manifest.json</Manifest></Input>\
             <Operation><WorkflowIds>{WF}</WorkflowIds></Operation></Request>"
        ))
        .unwrap();
        assert_eq!(
            spec.input,
            BatchInput::Manifest {
                bucket: "inv-1".into(),
                key: "cos_bucket_inventory/1/b/i/d/manifest.json".into()
            }
        );
    }

    #[test]
    fn job_batches_become_job_requests() {
        let spec = parse(
            "<Request><Name>j</Name><Type>Job</Type><Input><Object>a.mp4</Object></Input>\
             <Operation><Tag>Transcode</Tag><JobParam><TemplateId>t1</TemplateId></JobParam>\
             <Output><Bucket>bkt-1</Bucket><Object>o/${InputName}_${InventoryTriggerJobId}.mp4\
             </Object></Output><QueueId>p1</QueueId></Operation></Request>",
        )
        .unwrap();
        assert_eq!(spec.kind, BatchType::Job);
        let req = job_request_for(&spec.operation_xml, "a.mp4", "b42");
        assert_eq!(req.text_of("Tag"), Some("Transcode"));
        assert_eq!(req.text_of("QueueId"), Some("p1"));
        let op = req.child("Operation").unwrap();
        assert_eq!(op.text_of("TemplateId"), Some("t1"));
        assert_eq!(
            op.child("Output").unwrap().text_of("Object"),
            Some("o/${InputName}_b42.mp4")
        );
    }
}
