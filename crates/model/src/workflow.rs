//! Workflows: a named DAG of media nodes started by uploads under a prefix, or by API.
//!
//! The request's `Topology` is kept verbatim (as an [`XmlElement`]) for echoing and for the
//! per-run snapshot, and parsed into a [`Topology`] whose rules are checked by
//! [`crate::topology`].

use crate::error::InvalidInput;
use crate::fields::Fields;
use crate::xml::XmlElement;

/// Whether uploads start the workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkflowState {
    /// Uploads matching the filter start an instance.
    Active,
    /// Only explicit triggers start an instance.
    Paused,
}

impl WorkflowState {
    /// The CI spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkflowState::Active => "Active",
            WorkflowState::Paused => "Paused",
        }
    }

    /// Parses the CI spelling, case-insensitively.
    pub fn parse(text: &str) -> Option<Self> {
        if text.eq_ignore_ascii_case("active") {
            Some(WorkflowState::Active)
        } else if text.eq_ignore_ascii_case("paused") {
            Some(WorkflowState::Paused)
        } else {
            None
        }
    }
}

/// A stored workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct Workflow {
    /// `w` + 32 hex.
    pub id: String,
    /// Owning bucket.
    pub bucket: String,
    /// Name.
    pub name: String,
    /// Active or Paused.
    pub state: WorkflowState,
    /// The `Topology` element as accepted.
    pub topology_xml: XmlElement,
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds.
    pub updated: i64,
}

impl Workflow {
    /// The parsed topology. Stored workflows were validated on the way in, so this only fails
    /// if the database was edited by hand.
    pub fn topology(&self) -> Result<Topology, InvalidInput> {
        Topology::parse(&self.topology_xml)
    }
}

/// A parsed `Request > MediaWorkflow`.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowSpec {
    /// Name.
    pub name: String,
    /// Requested state (default Paused).
    pub state: WorkflowState,
    /// The `Topology` element.
    pub topology_xml: XmlElement,
    /// Parsed topology.
    pub topology: Topology,
}

impl WorkflowSpec {
    /// Parses a create/update body. Structural rules are checked here; rules that need the
    /// store (templates, buckets) are checked by the caller via [`crate::topology::References`].
    pub fn from_request(request: &XmlElement) -> Result<Self, InvalidInput> {
        if request.name != "Request" {
            return Err(InvalidInput::rule(
                &request.name,
                "root element must be Request",
            ));
        }
        let wf = request
            .child("MediaWorkflow")
            .ok_or_else(|| InvalidInput::rule("Request.MediaWorkflow", "is required"))?;
        let fields = Fields::new(wf, "Request.MediaWorkflow");
        let name = fields.required("Name")?;
        if name.chars().count() > 128
            || !name
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_'))
        {
            return Err(InvalidInput::rule(
                "Request.MediaWorkflow.Name",
                "must be at most 128 characters of letters, digits, '-' or '_'",
            ));
        }
        let state = match fields.str("State") {
            None => WorkflowState::Paused,
            Some(s) => WorkflowState::parse(s).ok_or_else(|| {
                InvalidInput::rule(
                    "Request.MediaWorkflow.State",
                    format!("must be Active or Paused, got {s:?}"),
                )
            })?,
        };
        let topology_xml = wf
            .child("Topology")
            .ok_or_else(|| InvalidInput::rule("Request.MediaWorkflow.Topology", "is required"))?
            .clone();
        let topology = Topology::parse(&topology_xml)?;
        crate::topology::check_structure(&topology)?;
        Ok(WorkflowSpec {
            name: name.to_owned(),
            state,
            topology_xml,
            topology,
        })
    }
}

/// The DAG: edges and node definitions.
#[derive(Debug, Clone, PartialEq)]
pub struct Topology {
    /// Node name → successor names (`End` is the terminal), in document order.
    pub dependencies: Vec<(String, Vec<String>)>,
    /// Node definitions in document order (Start included).
    pub nodes: Vec<Node>,
}

/// One node.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Element name in `Nodes`.
    pub name: String,
    /// Type and operation.
    pub kind: NodeKind,
}

/// Node types reelflow runs.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// The entry node.
    Start(StartInput),
    /// Transcode by template.
    Transcode(MediaOperation),
    /// Snapshot by template.
    Snapshot(MediaOperation),
}

impl NodeKind {
    /// The CI type name.
    pub fn type_name(&self) -> &'static str {
        match self {
            NodeKind::Start(_) => "Start",
            NodeKind::Transcode(_) => "Transcode",
            NodeKind::Snapshot(_) => "Snapshot",
        }
    }

    /// The operation of a media node.
    pub fn operation(&self) -> Option<&MediaOperation> {
        match self {
            NodeKind::Start(_) => None,
            NodeKind::Transcode(op) | NodeKind::Snapshot(op) => Some(op),
        }
    }
}

/// `Nodes > Start > Input`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StartInput {
    /// Keys must start with this (a lone `/` means the bucket root).
    pub object_prefix: String,
    /// Media queue id, if given.
    pub queue_id: Option<String>,
    /// Where results are posted.
    pub notify: Option<NotifyConfig>,
    /// Extension filter.
    pub ext_filter: Option<ExtFilter>,
}

/// `NotifyConfig`.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifyConfig {
    /// Callback URL.
    pub url: String,
    /// `Event`: which messages to send; empty means WorkflowFinish.
    pub events: Vec<String>,
    /// Body format.
    pub format: ResultFormat,
    /// `State` On/Off (Off disables the callback).
    pub enabled: bool,
}

impl NotifyConfig {
    /// Whether a WorkflowFinish message should be sent.
    pub fn wants_workflow_finish(&self) -> bool {
        self.enabled
            && !self.url.is_empty()
            && (self.events.is_empty()
                || self
                    .events
                    .iter()
                    .any(|e| e.eq_ignore_ascii_case("WorkflowFinish")))
    }
}

/// Callback body format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResultFormat {
    /// `application/xml` (default).
    #[default]
    Xml,
    /// `application/json`.
    Json,
}

/// `ExtFilter`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExtFilter {
    /// `State=On`; when off every object passes.
    pub enabled: bool,
    /// Common video extensions pass.
    pub video: bool,
    /// Common audio extensions pass.
    pub audio: bool,
    /// Common image extensions pass.
    pub image: bool,
    /// Also match on the Content-Type major type.
    pub content_type: bool,
    /// Extensions from `CustomExts` pass.
    pub custom_exts: Vec<String>,
    /// Every file passes.
    pub all_file: bool,
}

/// Operation of Transcode/Snapshot nodes.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaOperation {
    /// Template to apply.
    pub template_id: String,
    /// Where outputs go.
    pub output: Output,
}

/// `Output`.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// Region (informational).
    pub region: String,
    /// Destination bucket.
    pub bucket: String,
    /// Key template with `${…}` variables.
    pub object: String,
}

impl Topology {
    /// Parses `Topology{Dependencies, Nodes}`; unknown node types are refused by name.
    pub fn parse(topology: &XmlElement) -> Result<Self, InvalidInput> {
        let deps = topology
            .child("Dependencies")
            .ok_or_else(|| InvalidInput::rule("Topology.Dependencies", "is required"))?;
        let nodes_el = topology
            .child("Nodes")
            .ok_or_else(|| InvalidInput::rule("Topology.Nodes", "is required"))?;
        let dependencies = deps
            .children
            .iter()
            .map(|d| {
                let successors = d
                    .text
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                (d.name.clone(), successors)
            })
            .collect();
        let nodes = nodes_el
            .children
            .iter()
            .map(parse_node)
            .collect::<Result<_, _>>()?;
        Ok(Topology {
            dependencies,
            nodes,
        })
    }

    /// The node called `name`.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// The Start node's input.
    pub fn start(&self) -> Option<&StartInput> {
        self.nodes.iter().find_map(|n| match &n.kind {
            NodeKind::Start(input) => Some(input),
            _ => None,
        })
    }

    /// Successors of `name` (may include `End`).
    pub fn successors(&self, name: &str) -> &[String] {
        self.dependencies
            .iter()
            .find(|(n, _)| n == name)
            .map_or(&[], |(_, s)| s.as_slice())
    }

    /// Predecessors of `name`, in dependency order.
    pub fn predecessors(&self, name: &str) -> Vec<&str> {
        self.dependencies
            .iter()
            .filter(|(_, succ)| succ.iter().any(|s| s == name))
            .map(|(n, _)| n.as_str())
            .collect()
    }
}

fn parse_node(node: &XmlElement) -> Result<Node, InvalidInput> {
    let path = format!("Topology.Nodes.{}", node.name);
    let fields = Fields::new(node, &path);
    let type_name = fields.required("Type")?;
    let kind = match type_name {
        "Start" => NodeKind::Start(parse_start(node, &path)?),
        "Transcode" => NodeKind::Transcode(parse_operation(node, &path)?),
        "Snapshot" => NodeKind::Snapshot(parse_operation(node, &path)?),
        other => {
            return Err(InvalidInput::rule(
                format!("{path}.Type"),
                format!(
                    "node type {other:?} is not supported (supported: Start, Transcode, Snapshot)"
                ),
            ));
        }
    };
    Ok(Node {
        name: node.name.clone(),
        kind,
    })
}

fn parse_start(node: &XmlElement, path: &str) -> Result<StartInput, InvalidInput> {
    let input_path = format!("{path}.Input");
    let input = node
        .child("Input")
        .ok_or_else(|| InvalidInput::rule(&input_path, "is required"))?;
    let fields = Fields::new(input, &input_path);
    let prefix = fields.required("ObjectPrefix")?;
    let object_prefix = prefix.trim_start_matches('/').to_owned();
    let notify = input
        .child("NotifyConfig")
        .filter(|n| !n.is_empty())
        .map(|n| parse_notify(n, &format!("{input_path}.NotifyConfig")))
        .transpose()?;
    let ext_filter = input
        .child("ExtFilter")
        .filter(|n| !n.is_empty())
        .map(|n| parse_ext_filter(n, &format!("{input_path}.ExtFilter")))
        .transpose()?;
    Ok(StartInput {
        object_prefix,
        queue_id: fields.str("QueueId").map(str::to_owned),
        notify,
        ext_filter,
    })
}

fn on_off(fields: &Fields<'_>, name: &str, default: bool) -> Result<bool, InvalidInput> {
    Ok(fields
        .one_of(name, &["On", "Off"])?
        .map_or(default, |v| v == "On"))
}

fn parse_notify(notify: &XmlElement, path: &str) -> Result<NotifyConfig, InvalidInput> {
    let f = Fields::new(notify, path);
    let url = f.str("Url").unwrap_or_default().to_owned();
    if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
        return Err(InvalidInput::rule(
            format!("{path}.Url"),
            "must be an http:// or https:// URL",
        ));
    }
    let events = f
        .str("Event")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_owned)
        .collect();
    let format = match f.one_of("ResultFormat", &["XML", "JSON"])? {
        Some("JSON") => ResultFormat::Json,
        _ => ResultFormat::Xml,
    };
    f.one_of("Type", &["Url", "TDMQ", "Kafka"])?
        .filter(|t| *t != "Url")
        .map_or(Ok(()), |t| {
            Err(InvalidInput::rule(
                format!("{path}.Type"),
                format!("callback type {t} is not supported (supported: Url)"),
            ))
        })?;
    Ok(NotifyConfig {
        url,
        events,
        format,
        enabled: on_off(&f, "State", true)?,
    })
}

fn parse_ext_filter(filter: &XmlElement, path: &str) -> Result<ExtFilter, InvalidInput> {
    let f = Fields::new(filter, path);
    let custom = f.bool("Custom")?.unwrap_or(false);
    let custom_exts: Vec<String> = if custom {
        f.required("CustomExts")?
            .split('/')
            .map(|e| e.trim().trim_start_matches('.').to_ascii_lowercase())
            .filter(|e| !e.is_empty())
            .collect()
    } else {
        Vec::new()
    };
    if custom_exts.len() > 10 {
        return Err(InvalidInput::rule(
            format!("{path}.CustomExts"),
            "at most 10 extensions",
        ));
    }
    Ok(ExtFilter {
        enabled: on_off(&f, "State", false)?,
        video: f.bool("Video")?.unwrap_or(false),
        audio: f.bool("Audio")?.unwrap_or(false),
        image: f.bool("Image")?.unwrap_or(false),
        content_type: f.bool("ContentType")?.unwrap_or(false),
        custom_exts,
        all_file: f.bool("AllFile")?.unwrap_or(false),
    })
}

fn parse_operation(node: &XmlElement, path: &str) -> Result<MediaOperation, InvalidInput> {
    let op_path = format!("{path}.Operation");
    let op = node
        .child("Operation")
        .ok_or_else(|| InvalidInput::rule(&op_path, "is required"))?;
    let template_id = Fields::new(op, &op_path).required("TemplateId")?.to_owned();
    let out_path = format!("{op_path}.Output");
    let output = op
        .child("Output")
        .ok_or_else(|| InvalidInput::rule(&out_path, "is required"))?;
    let f = Fields::new(output, &out_path);
    Ok(MediaOperation {
        template_id,
        output: Output {
            region: f.str("Region").unwrap_or_default().to_owned(),
            bucket: f.required("Bucket")?.to_owned(),
            object: f.required("Object")?.to_owned(),
        },
    })
}
