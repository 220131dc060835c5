//! Topology rules, checked before a workflow is stored. Each message names the node and the rule.

use std::collections::{HashMap, HashSet};

use crate::error::InvalidInput;
use crate::template::{SmartCoverParams, SnapshotParams, Template, TemplateTag};
use crate::workflow::{NodeType, Topology};

/// The terminal pseudo-node.
pub const END: &str = "End";

/// Which node types may follow which (reference §3.4, restricted to the types reelflow runs);
/// `None` is the End pseudo-node.
fn allowed_successors(from: NodeType) -> &'static [Option<NodeType>] {
    use NodeType::*;
    match from {
        Start => &[
            Some(Snapshot),
            Some(Animation),
            Some(SmartCover),
            Some(Transcode),
            Some(Concat),
            Some(StreamPackConfig),
            Some(Segment),
            Some(PicProcess),
            Some(MediaInfo),
        ],
        Snapshot | SmartCover => &[Some(PicProcess), None],
        Transcode => &[
            Some(Snapshot),
            Some(Animation),
            Some(SmartCover),
            Some(Concat),
            Some(Segment),
            Some(MediaInfo),
            None,
        ],
        Concat => &[
            Some(Transcode),
            Some(Snapshot),
            Some(Animation),
            Some(SmartCover),
            Some(Segment),
            Some(MediaInfo),
            None,
        ],
        StreamPackConfig => &[Some(VideoStream)],
        VideoStream => &[Some(StreamPack)],
        Animation | StreamPack | Segment | PicProcess | MediaInfo => &[None],
        TranscodePart => &[],
    }
}

/// Structural rules: one Start, declared names, allowed successor types, reachability, no cycles.
pub fn check_structure(topology: &Topology) -> Result<(), InvalidInput> {
    check_names(topology)?;
    let starts: Vec<_> = topology
        .nodes
        .iter()
        .filter(|n| n.node_type == NodeType::Start)
        .collect();
    match starts.as_slice() {
        [start] if start.name == "Start" => {}
        [other] => {
            return Err(InvalidInput::rule(
                format!("Topology.Nodes.{}", other.name),
                "the Start node must be named Start",
            ));
        }
        [] => {
            return Err(InvalidInput::rule(
                "Topology.Nodes",
                "exactly one Start node is required, found none",
            ));
        }
        _ => {
            return Err(InvalidInput::rule(
                "Topology.Nodes",
                "exactly one Start node is required, found several",
            ));
        }
    }
    check_edges(topology)?;
    check_acyclic(topology)?;
    check_reachability(topology)?;
    check_stream_pack(topology)
}

/// Adaptive streaming: at most one StreamPackConfig (right after Start) and one StreamPack,
/// whose VideoStreamConfig entries name existing VideoStream nodes.
fn check_stream_pack(topology: &Topology) -> Result<(), InvalidInput> {
    for ty in [NodeType::StreamPackConfig, NodeType::StreamPack] {
        let nodes: Vec<_> = topology
            .nodes
            .iter()
            .filter(|n| n.node_type == ty)
            .collect();
        if nodes.len() > 1 {
            return Err(InvalidInput::rule(
                format!("Topology.Nodes.{}", nodes[1].name),
                format!("only one {} node is allowed", ty.as_str()),
            ));
        }
    }
    for pack in topology
        .nodes
        .iter()
        .filter(|n| n.node_type == NodeType::StreamPack)
    {
        if pack.operation.video_streams.is_empty() {
            return Err(InvalidInput::rule(
                format!("Topology.Nodes.{}.Operation.StreamPackInfo", pack.name),
                "must list at least one VideoStreamConfig",
            ));
        }
        for config in &pack.operation.video_streams {
            let named = topology.node(&config.video_stream_name);
            if named.is_none_or(|n| n.node_type != NodeType::VideoStream) {
                return Err(InvalidInput::rule(
                    format!(
                        "Topology.Nodes.{}.Operation.StreamPackInfo.VideoStreamConfig",
                        pack.name
                    ),
                    format!(
                        "VideoStreamName {:?} is not a VideoStream node",
                        config.video_stream_name
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn check_names(topology: &Topology) -> Result<(), InvalidInput> {
    let mut seen = HashSet::new();
    for node in &topology.nodes {
        if node.name == END {
            return Err(InvalidInput::rule(
                "Topology.Nodes.End",
                "End is the terminal and must not be declared as a node",
            ));
        }
        if !seen.insert(node.name.as_str()) {
            return Err(InvalidInput::rule(
                format!("Topology.Nodes.{}", node.name),
                "node names must be unique",
            ));
        }
    }
    let mut seen = HashSet::new();
    for (name, _) in &topology.dependencies {
        if !seen.insert(name.as_str()) {
            return Err(InvalidInput::rule(
                format!("Topology.Dependencies.{name}"),
                "listed more than once",
            ));
        }
        if topology.node(name).is_none() {
            return Err(InvalidInput::rule(
                format!("Topology.Dependencies.{name}"),
                "names a node that is not declared in Nodes",
            ));
        }
    }
    Ok(())
}

fn check_edges(topology: &Topology) -> Result<(), InvalidInput> {
    for (name, successors) in &topology.dependencies {
        let Some(from) = topology.node(name).map(|n| n.node_type) else {
            continue; // check_names refused undeclared names already
        };
        if successors.is_empty() {
            return Err(InvalidInput::rule(
                format!("Topology.Dependencies.{name}"),
                "must list at least one successor (or End)",
            ));
        }
        for succ in successors {
            let to = if succ == END {
                None
            } else {
                Some(
                    topology
                        .node(succ)
                        .ok_or_else(|| {
                            InvalidInput::rule(
                                format!("Topology.Dependencies.{name}"),
                                format!("successor {succ:?} is not declared in Nodes"),
                            )
                        })?
                        .node_type,
                )
            };
            if !allowed_successors(from).contains(&to) {
                return Err(InvalidInput::rule(
                    format!("Topology.Dependencies.{name}"),
                    format!(
                        "a {} node may not be followed by {} ({succ})",
                        from.as_str(),
                        to.map_or(END, NodeType::as_str)
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn check_acyclic(topology: &Topology) -> Result<(), InvalidInput> {
    // Kahn's algorithm over the declared nodes; whatever is left has a cycle.
    let mut indegree: HashMap<&str, usize> = topology
        .nodes
        .iter()
        .map(|n| (n.name.as_str(), 0))
        .collect();
    for (_, succ) in &topology.dependencies {
        for s in succ.iter().filter(|s| *s != END) {
            *indegree.entry(s.as_str()).or_default() += 1;
        }
    }
    let mut ready: Vec<&str> = indegree
        .iter()
        .filter(|(_, d)| **d == 0)
        .map(|(n, _)| *n)
        .collect();
    let mut visited = 0;
    while let Some(node) = ready.pop() {
        visited += 1;
        for s in topology.successors(node).iter().filter(|s| *s != END) {
            let d = indegree.get_mut(s.as_str()).expect("declared");
            *d -= 1;
            if *d == 0 {
                ready.push(s.as_str());
            }
        }
    }
    if visited < topology.nodes.len() {
        let mut cyclic: Vec<&str> = indegree
            .iter()
            .filter(|(_, d)| **d > 0)
            .map(|(n, _)| *n)
            .collect();
        cyclic.sort_unstable();
        return Err(InvalidInput::rule(
            "Topology.Dependencies",
            format!("the graph has a cycle through {}", cyclic.join(", ")),
        ));
    }
    Ok(())
}

fn check_reachability(topology: &Topology) -> Result<(), InvalidInput> {
    let mut reached = HashSet::from(["Start"]);
    let mut stack = vec!["Start"];
    while let Some(node) = stack.pop() {
        for s in topology.successors(node) {
            if s != END && reached.insert(s.as_str()) {
                stack.push(s.as_str());
            }
        }
    }
    for node in &topology.nodes {
        if !reached.contains(node.name.as_str()) {
            return Err(InvalidInput::rule(
                format!("Topology.Nodes.{}", node.name),
                "is not reachable from Start",
            ));
        }
        if topology.successors(&node.name).is_empty() {
            return Err(InvalidInput::rule(
                format!("Topology.Dependencies.{}", node.name),
                "is missing: every node must lead to End",
            ));
        }
    }
    Ok(())
}

/// Rules that need stored data: templates exist with the right tag, output buckets exist, and
/// `${Number}` appears where a node writes several files.
pub fn check_references(
    topology: &Topology,
    templates: &HashMap<String, Template>,
    buckets: &HashSet<String>,
) -> Result<(), InvalidInput> {
    for node in &topology.nodes {
        let path = format!("Topology.Nodes.{}.Operation", node.name);
        let op = &node.operation;
        let template = match (&op.template_id, expected_tag(node.node_type)) {
            (Some(id), Some(expected)) => Some(check_template(
                templates,
                id,
                expected,
                node.node_type,
                &format!("{path}.TemplateId"),
            )?),
            _ => None,
        };
        for id in &op.watermark_template_ids {
            check_template(
                templates,
                id,
                TemplateTag::Watermark,
                node.node_type,
                &format!("{path}.WatermarkTemplateId"),
            )?;
        }
        if let Some(output) = &op.output {
            if !buckets.contains(&output.bucket) {
                return Err(InvalidInput::rule(
                    format!("{path}.Output.Bucket"),
                    format!("bucket {} does not exist", output.bucket),
                ));
            }
            if writes_several(node, template)
                && !output.object.to_ascii_lowercase().contains("${number}")
            {
                return Err(InvalidInput::rule(
                    format!("{path}.Output.Object"),
                    "must contain ${Number}: this node writes several files",
                ));
            }
        }
    }
    Ok(())
}

fn check_template<'a>(
    templates: &'a HashMap<String, Template>,
    id: &str,
    expected: TemplateTag,
    node_type: NodeType,
    at: &str,
) -> Result<&'a Template, InvalidInput> {
    let template = templates
        .get(id)
        .ok_or_else(|| InvalidInput::rule(at, format!("template {id} does not exist")))?;
    if !expected.accepts(template.tag) {
        return Err(InvalidInput::rule(
            at,
            format!(
                "template {id} is a {} template; a {} node needs a {} template",
                template.tag.as_str(),
                node_type.as_str(),
                expected.as_str()
            ),
        ));
    }
    Ok(template)
}

fn writes_several(node: &crate::workflow::Node, template: Option<&Template>) -> bool {
    match node.node_type {
        NodeType::Snapshot => template
            .and_then(|t| SnapshotParams::from_container(&t.params).ok())
            .is_some_and(|p| p.writes_several()),
        NodeType::SmartCover => {
            let params = template
                .and_then(|t| SmartCoverParams::from_container(&t.params).ok())
                .or_else(|| node.operation.smart_cover.clone())
                .unwrap_or_default();
            params.count > 1
        }
        NodeType::Segment => node
            .operation
            .segment
            .as_ref()
            .is_some_and(|s| s.numbered()),
        _ => false,
    }
}

/// The template tag a node type's `TemplateId` must have.
pub fn expected_tag(node_type: NodeType) -> Option<TemplateTag> {
    match node_type {
        NodeType::Transcode | NodeType::VideoStream => Some(TemplateTag::Transcode),
        NodeType::Snapshot => Some(TemplateTag::Snapshot),
        NodeType::Animation => Some(TemplateTag::Animation),
        NodeType::Concat => Some(TemplateTag::Concat),
        NodeType::SmartCover => Some(TemplateTag::SmartCover),
        NodeType::PicProcess => Some(TemplateTag::PicProcess),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
