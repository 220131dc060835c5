//! Topology rules, checked before a workflow is stored. Each message names the node and the rule.

use std::collections::{HashMap, HashSet};

use crate::error::InvalidInput;
use crate::template::{SnapshotParams, Template, TemplateTag};
use crate::workflow::{NodeKind, Topology};

/// The terminal pseudo-node.
pub const END: &str = "End";

/// Which node types may follow which (reference §3.4, restricted to the types reelflow runs).
fn allowed_successors(type_name: &str) -> &'static [&'static str] {
    match type_name {
        "Start" => &["Transcode", "Snapshot"],
        "Transcode" => &["Snapshot", "Transcode", END],
        "Snapshot" => &[END],
        _ => &[],
    }
}

/// Structural rules: one Start, declared names, allowed successor types, reachability, no cycles.
pub fn check_structure(topology: &Topology) -> Result<(), InvalidInput> {
    check_names(topology)?;
    let starts: Vec<_> = topology
        .nodes
        .iter()
        .filter(|n| matches!(n.kind, NodeKind::Start(_)))
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
    check_reachability(topology)
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
        let from = topology.node(name).map_or("", |n| n.kind.type_name());
        if successors.is_empty() {
            return Err(InvalidInput::rule(
                format!("Topology.Dependencies.{name}"),
                "must list at least one successor (or End)",
            ));
        }
        for succ in successors {
            let to = if succ == END {
                END
            } else {
                topology
                    .node(succ)
                    .ok_or_else(|| {
                        InvalidInput::rule(
                            format!("Topology.Dependencies.{name}"),
                            format!("successor {succ:?} is not declared in Nodes"),
                        )
                    })?
                    .kind
                    .type_name()
            };
            if !allowed_successors(from).contains(&to) {
                return Err(InvalidInput::rule(
                    format!("Topology.Dependencies.{name}"),
                    format!("a {from} node may not be followed by {to} ({succ})"),
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
        let (Some(op), expected) = (node.kind.operation(), expected_tag(&node.kind)) else {
            continue;
        };
        let path = format!("Topology.Nodes.{}.Operation", node.name);
        let template = templates.get(&op.template_id).ok_or_else(|| {
            InvalidInput::rule(
                format!("{path}.TemplateId"),
                format!("template {} does not exist", op.template_id),
            )
        })?;
        if Some(template.tag) != expected {
            return Err(InvalidInput::rule(
                format!("{path}.TemplateId"),
                format!(
                    "template {} is a {} template; a {} node needs a {} template",
                    op.template_id,
                    template.tag.as_str(),
                    node.kind.type_name(),
                    node.kind.type_name()
                ),
            ));
        }
        if !buckets.contains(&op.output.bucket) {
            return Err(InvalidInput::rule(
                format!("{path}.Output.Bucket"),
                format!("bucket {} does not exist", op.output.bucket),
            ));
        }
        let many = template.tag == TemplateTag::Snapshot
            && SnapshotParams::from_container(&template.params).is_ok_and(|p| p.count > 1);
        if many && !op.output.object.to_ascii_lowercase().contains("${number}") {
            return Err(InvalidInput::rule(
                format!("{path}.Output.Object"),
                "must contain ${Number}: this node writes several files",
            ));
        }
    }
    Ok(())
}

fn expected_tag(kind: &NodeKind) -> Option<TemplateTag> {
    match kind {
        NodeKind::Start(_) => None,
        NodeKind::Transcode(_) => Some(TemplateTag::Transcode),
        NodeKind::Snapshot(_) => Some(TemplateTag::Snapshot),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::WorkflowSpec;
    use crate::xml::XmlElement;

    fn node(name: &str, ty: &str) -> String {
        if ty == "Start" {
            return format!(
                "<{name}><Type>Start</Type><Input><ObjectPrefix>in/</ObjectPrefix></Input></{name}>"
            );
        }
        format!(
            "<{name}><Type>{ty}</Type><Operation><TemplateId>t1x</TemplateId><Output><Bucket>b</Bucket><Object>o</Object></Output></Operation></{name}>"
        )
    }

    fn spec(deps: &str, nodes: &[(&str, &str)]) -> Result<WorkflowSpec, InvalidInput> {
        let nodes: String = nodes.iter().map(|(n, t)| node(n, t)).collect();
        let body = format!(
            "<Request><MediaWorkflow><Name>w</Name><Topology><Dependencies>{deps}</Dependencies><Nodes>{nodes}</Nodes></Topology></MediaWorkflow></Request>"
        );
        WorkflowSpec::from_request(&XmlElement::parse(body.as_bytes()).unwrap())
    }

    fn err(deps: &str, nodes: &[(&str, &str)]) -> String {
        spec(deps, nodes).unwrap_err().to_string()
    }

    #[test]
    fn seed_shape_is_valid() {
        let s = spec(
            "<Start>T1,T2</Start><T1>End</T1><T2>End</T2>",
            &[("Start", "Start"), ("T1", "Transcode"), ("T2", "Transcode")],
        )
        .unwrap();
        assert_eq!(s.topology.predecessors("T1"), vec!["Start"]);
    }

    #[test]
    fn each_rule_is_named() {
        let msg = err("<T1>End</T1>", &[("T1", "Transcode")]);
        assert!(msg.contains("exactly one Start"), "{msg}");
        let msg = err(
            "<Start>T1</Start><T1>T2</T1><T2>T1</T2>",
            &[("Start", "Start"), ("T1", "Transcode"), ("T2", "Transcode")],
        );
        assert!(msg.contains("cycle"), "{msg}");
        let msg = err(
            "<Start>S1</Start><S1>T1</S1><T1>End</T1>",
            &[("Start", "Start"), ("S1", "Snapshot"), ("T1", "Transcode")],
        );
        assert!(
            msg.contains("Snapshot node may not be followed by Transcode"),
            "{msg}"
        );
        let msg = err(
            "<Start>T1</Start><T1>End</T1>",
            &[("Start", "Start"), ("T1", "Transcode"), ("T9", "Transcode")],
        );
        assert!(msg.contains("T9") && msg.contains("not reachable"), "{msg}");
        let msg = err(
            "<Start>T1</Start><T1>Nope</T1>",
            &[("Start", "Start"), ("T1", "Transcode")],
        );
        assert!(msg.contains("\"Nope\" is not declared"), "{msg}");
        let msg = err(
            "<Start>T1</Start>",
            &[("Start", "Start"), ("T1", "Transcode")],
        );
        assert!(
            msg.contains("Dependencies.T1") && msg.contains("End"),
            "{msg}"
        );
        let msg = err(
            "<Start>T1</Start><T1>End</T1>",
            &[("Start", "Start"), ("T1", "Transcode"), ("T1", "Transcode")],
        );
        assert!(msg.contains("unique"), "{msg}");
        let msg = err(
            "<Start>X</Start><X>End</X>",
            &[("Start", "Start"), ("X", "VoiceSeparate")],
        );
        assert!(
            msg.contains("VoiceSeparate") && msg.contains("not supported"),
            "{msg}"
        );
    }
}
