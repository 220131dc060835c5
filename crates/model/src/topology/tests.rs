use super::*;
use crate::workflow::WorkflowSpec;
use crate::xml::XmlElement;

fn node(name: &str, ty: &str) -> String {
    if ty == "Start" {
        return format!(
            "<{name}><Type>Start</Type><Input><ObjectPrefix>in/</ObjectPrefix></Input></{name}>"
        );
    }
    let op = match ty {
        "StreamPackConfig" => "<Output><Bucket>b</Bucket><Object>master.m3u8</Object></Output>".to_owned(),
        "StreamPack" => "<StreamPackInfo><VideoStreamConfig><VideoStreamName>V1</VideoStreamName><BandWidth>1000</BandWidth></VideoStreamConfig></StreamPackInfo>".to_owned(),
        "MediaInfo" => String::new(),
        _ => "<TemplateId>t1x</TemplateId><Output><Bucket>b</Bucket><Object>o</Object></Output>".to_owned(),
    };
    format!("<{name}><Type>{ty}</Type><Operation>{op}</Operation></{name}>")
}

#[test]
fn adaptive_streaming_rules() {
    let nodes = [
        ("Start", "Start"),
        ("P", "StreamPackConfig"),
        ("V1", "VideoStream"),
        ("V2", "VideoStream"),
        ("K", "StreamPack"),
    ];
    spec(
        "<Start>P</Start><P>V1,V2</P><V1>K</V1><V2>K</V2><K>End</K>",
        &nodes,
    )
    .unwrap();
    let msg = err(
        "<Start>P</Start><P>V2</P><V2>K</V2><K>End</K>",
        &[
            ("Start", "Start"),
            ("P", "StreamPackConfig"),
            ("V2", "VideoStream"),
            ("K", "StreamPack"),
        ],
    );
    assert!(msg.contains("\"V1\" is not a VideoStream node"), "{msg}");
    let msg = err(
        "<Start>T</Start><T>P</T><P>End</P>",
        &[
            ("Start", "Start"),
            ("T", "Transcode"),
            ("P", "StreamPackConfig"),
        ],
    );
    assert!(
        msg.contains("may not be followed by StreamPackConfig"),
        "{msg}"
    );
}

#[test]
fn references_are_checked() {
    use crate::template::{Template, TemplateCategory, TemplateSpec};
    let s = spec(
        "<Start>T1,S1</Start><T1>End</T1><S1>End</S1>",
        &[("Start", "Start"), ("T1", "Transcode"), ("S1", "Snapshot")],
    )
    .unwrap();
    let template = |body: &str| {
        let spec =
            TemplateSpec::from_request(&XmlElement::parse(body.as_bytes()).unwrap()).unwrap();
        Template {
            id: "t1x".into(),
            bucket: "b".into(),
            name: spec.name,
            tag: spec.tag,
            category: TemplateCategory::Custom,
            params: spec.params,
            created: 0,
            updated: 0,
        }
    };
    let transcode = template(
        "<Request><Tag>Transcode</Tag><Name>t</Name><Container><Format>mp4</Format></Container></Request>",
    );
    let buckets = HashSet::from(["b".to_owned()]);
    let mut templates = HashMap::from([("t1x".to_owned(), transcode)]);
    let msg = check_references(&s.topology, &templates, &buckets)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("S1") && msg.contains("a Snapshot node needs a Snapshot template"),
        "{msg}"
    );
    let msg = check_references(&s.topology, &HashMap::new(), &buckets)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("does not exist"), "{msg}");
    let msg = check_references(&s.topology, &templates, &HashSet::new())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("Output.Bucket") && msg.contains("does not exist"),
        "{msg}"
    );
    let snapshot = template(
        "<Request><Tag>Snapshot</Tag><Name>s</Name><Snapshot><Count>3</Count></Snapshot></Request>",
    );
    let only_snapshot = spec(
        "<Start>S1</Start><S1>End</S1>",
        &[("Start", "Start"), ("S1", "Snapshot")],
    )
    .unwrap();
    templates.insert("t1x".into(), snapshot);
    let msg = check_references(&only_snapshot.topology, &templates, &buckets)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("${Number}"), "{msg}");
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
        "<Start>T1</Start><T1>C1</T1><C1>T1</C1>",
        &[("Start", "Start"), ("T1", "Transcode"), ("C1", "Concat")],
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
        "<Start>P</Start><P>V1</P><V1>K</V1><K>End</K>",
        &[
            ("Start", "Start"),
            ("P", "StreamPackConfig"),
            ("V1", "VideoStream"),
            ("K", "Transcode"),
        ],
    );
    assert!(
        msg.contains("a VideoStream node may not be followed by Transcode"),
        "{msg}"
    );
    let msg = err(
        "<Start>X</Start><X>End</X>",
        &[("Start", "Start"), ("X", "VoiceSeparate")],
    );
    assert!(
        msg.contains("VoiceSeparate") && msg.contains("not supported"),
        "{msg}"
    );
}
