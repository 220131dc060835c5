//! Workflows: a named DAG of media nodes started by uploads under a prefix, or by API.
//!
//! The request's `Topology` is kept verbatim (as an [`XmlElement`]) for echoing and for the
//! per-run snapshot, and parsed into a [`Topology`] whose rules are checked by
//! [`crate::topology`].

use crate::error::InvalidInput;
use crate::fields::Fields;
use crate::xml::XmlElement;

mod start;

use start::parse_start;
pub use start::{ExtFilter, NotifyConfig, ResultFormat, StartInput, parse_notify_config};

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
        for child in &wf.children {
            if !matches!(
                child.name.as_str(),
                "Name"
                    | "State"
                    | "Topology"
                    | "WorkflowId"
                    | "BucketId"
                    | "CreateTime"
                    | "UpdateTime"
            ) {
                return Err(InvalidInput::rule(
                    format!("Request.MediaWorkflow.{}", child.name),
                    "is not a known element",
                ));
            }
        }
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
        if let Some(node) = topology
            .nodes
            .iter()
            .find(|n| n.operation.inline_template.is_some())
        {
            return Err(InvalidInput::rule(
                format!("Topology.Nodes.{}.Operation.InlineTemplate", node.name),
                "is not supported in a workflow node: use a TemplateId",
            ));
        }
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
    /// The node's type.
    pub node_type: NodeType,
    /// `Input` of the Start node.
    pub input: Option<StartInput>,
    /// `Operation` of the other nodes.
    pub operation: Operation,
}

/// Node types reelflow runs. Others are refused by name when a workflow is saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeType {
    /// The entry node.
    Start,
    /// Transcode by template (+ watermarks).
    Transcode,
    /// Frame capture.
    Snapshot,
    /// Animated gif/webp.
    Animation,
    /// Best-frame covers.
    SmartCover,
    /// Join fragments around the input.
    Concat,
    /// Remux/segment.
    Segment,
    /// Adaptive-streaming entry (HLS/DASH master).
    StreamPackConfig,
    /// One rendition of an adaptive stream.
    VideoStream,
    /// Packs the renditions into the master playlist.
    StreamPack,
    /// ffprobe results stored on the task.
    MediaInfo,
    /// Image processing of an image input.
    PicProcess,
    /// Internal, never in a topology: one piece of a segmented Transcode (a segment encode or
    /// the audio pass), a sub-task of the Transcode task that split it off. Stored as
    /// `TranscodePart`, not a section (never fused), never shown through the API.
    TranscodePart,
}

const NODE_TYPES: [NodeType; 12] = [
    NodeType::Start,
    NodeType::Transcode,
    NodeType::Snapshot,
    NodeType::Animation,
    NodeType::SmartCover,
    NodeType::Concat,
    NodeType::Segment,
    NodeType::StreamPackConfig,
    NodeType::VideoStream,
    NodeType::StreamPack,
    NodeType::MediaInfo,
    NodeType::PicProcess,
];

impl NodeType {
    /// The CI type name.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeType::Start => "Start",
            NodeType::Transcode => "Transcode",
            NodeType::Snapshot => "Snapshot",
            NodeType::Animation => "Animation",
            NodeType::SmartCover => "SmartCover",
            NodeType::Concat => "Concat",
            NodeType::Segment => "Segment",
            NodeType::StreamPackConfig => "StreamPackConfig",
            NodeType::VideoStream => "VideoStream",
            NodeType::StreamPack => "StreamPack",
            NodeType::MediaInfo => "MediaInfo",
            NodeType::PicProcess => "PicProcess",
            NodeType::TranscodePart => "TranscodePart",
        }
    }

    /// Whether nodes of this type run as output sections of an ffmpeg run, so that siblings
    /// reading one input can share its decode (fused execution).
    pub fn is_section(self) -> bool {
        matches!(
            self,
            NodeType::Transcode | NodeType::VideoStream | NodeType::Snapshot
        )
    }

    /// Every section type (see [`NodeType::is_section`]).
    pub fn sections() -> impl Iterator<Item = NodeType> {
        NODE_TYPES.into_iter().filter(|t| t.is_section())
    }

    /// The node type a task's stored type name runs as: a CI node type name, or a job Tag
    /// (`HighSpeedHd` jobs run as Transcode).
    pub fn of_task_type(text: &str) -> Option<Self> {
        match text {
            "HighSpeedHd" => Some(NodeType::Transcode),
            "TranscodePart" => Some(NodeType::TranscodePart),
            other => Self::parse(other),
        }
    }

    /// Parses a CI type name.
    pub fn parse(text: &str) -> Option<Self> {
        NODE_TYPES.into_iter().find(|t| t.as_str() == text)
    }

    /// Every supported type name, for error messages.
    pub fn supported() -> String {
        NODE_TYPES
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The `Operation` of a node; which parts are set depends on the type.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Operation {
    /// Template to apply.
    pub template_id: Option<String>,
    /// Watermark templates (Transcode, VideoStream; at most 3).
    pub watermark_template_ids: Vec<String>,
    /// Where outputs go.
    pub output: Option<Output>,
    /// Inline SmartCover parameters.
    pub smart_cover: Option<crate::template::SmartCoverParams>,
    /// Segment parameters.
    pub segment: Option<SegmentConfig>,
    /// StreamPackConfig parameters.
    pub stream_pack: Option<StreamPackConfig>,
    /// StreamPack: the renditions to list, with their bandwidths.
    pub video_streams: Vec<VideoStreamConfig>,
    /// Opaque user data echoed in job details.
    pub user_data: Option<String>,
    /// Job priority (0–2), echoed.
    pub job_level: Option<String>,
    /// Standalone jobs only: parameters given inline instead of a TemplateId.
    pub inline_template: Option<crate::template::TemplateSpec>,
    /// Inline `Watermark` containers in effect (validated; empty when a WatermarkTemplateId is
    /// given, which wins).
    pub watermarks: Vec<XmlElement>,
    /// `RemoveWatermark`: a region blurred away (ffmpeg `delogo`).
    pub remove_watermark: Option<crate::operation::RemoveWatermark>,
    /// Standalone jobs only: the `Input.Url` the job reads.
    pub input_url: Option<String>,
}

/// `Segment` of a Segment node.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentConfig {
    /// `aac`, `mp3`, `flac`, `mp4`, `ts`, `mkv`, `avi`, `hls`, `m3u8`.
    pub format: String,
    /// Piece length in seconds (≥ 5), if splitting.
    pub duration: Option<u32>,
}

impl SegmentConfig {
    /// Whether the node writes several files named by `${Number}`.
    pub fn numbered(&self) -> bool {
        self.duration.is_some() && !matches!(self.format.as_str(), "hls" | "m3u8")
    }
}

/// `StreamPackConfig` of a StreamPackConfig node.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamPackConfig {
    /// `HLS` (default) or `DASH`.
    pub dash: bool,
    /// Pack the renditions that succeeded even if some failed (default true).
    pub ignore_failed_stream: bool,
}

/// `StreamPackInfo > VideoStreamConfig`.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoStreamConfig {
    /// A VideoStream node's name.
    pub video_stream_name: String,
    /// Bits per second, 0 = measured.
    pub bandwidth: u64,
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
    /// Sprite sheet key template (Snapshot with sprites).
    pub sprite_object: Option<String>,
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
        self.nodes.iter().find_map(|n| n.input.as_ref())
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
    let type_name = Fields::new(node, &path).required("Type")?;
    let node_type = NodeType::parse(type_name).ok_or_else(|| {
        InvalidInput::rule(
            format!("{path}.Type"),
            format!(
                "node type {type_name:?} is not supported (supported: {})",
                NodeType::supported()
            ),
        )
    })?;
    let (input, operation) = if node_type == NodeType::Start {
        (Some(parse_start(node, &path)?), Operation::default())
    } else {
        (None, crate::operation::parse(node, node_type, &path)?)
    };
    Ok(Node {
        name: node.name.clone(),
        node_type,
        input,
        operation,
    })
}

#[cfg(test)]
mod node_type_tests {
    use super::NodeType;

    #[test]
    fn sections_are_the_types_that_share_a_decode() {
        let sections: Vec<_> = NodeType::sections().collect();
        assert_eq!(
            sections,
            [
                NodeType::Transcode,
                NodeType::Snapshot,
                NodeType::VideoStream
            ]
        );
        assert!(!NodeType::Animation.is_section());
        assert!(!NodeType::MediaInfo.is_section());
    }

    #[test]
    fn stored_task_types_include_job_tags() {
        assert_eq!(
            NodeType::of_task_type("HighSpeedHd"),
            Some(NodeType::Transcode)
        );
        assert_eq!(
            NodeType::of_task_type("VideoStream"),
            Some(NodeType::VideoStream)
        );
        assert_eq!(NodeType::of_task_type("Tts"), None);
    }
}
