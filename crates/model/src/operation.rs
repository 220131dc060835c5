//! Parsing the `Operation` of each node type, with an element schema per type so unknown or
//! unsupported elements (e.g. `DigitalWatermark`) are refused by name rather than silently
//! ignored. Transcode operations may carry inline `Watermark`s (a `WatermarkTemplateId` wins
//! over them) and a `RemoveWatermark` region.

use crate::error::InvalidInput;
use crate::fields::Fields;
use crate::schema::Kind::{Bool, Group, Int, List, OneOf, Text};
use crate::schema::{self, Field, opt, req};
use crate::template::schemas::{SMART_COVER, WATERMARK};
use crate::template::{SmartCoverParams, TemplateSpec, WatermarkParams};
use crate::workflow::{
    NodeType, Operation, Output, SegmentConfig, StreamPackConfig, VideoStreamConfig,
};
use crate::xml::XmlElement;

const OUTPUT: &[Field] = &[
    opt("Region", Text(64)),
    req("Bucket", Text(64)),
    req("Object", Text(1024)),
    opt("SpriteObject", Text(1024)),
];
const SEGMENT: &[Field] = &[
    req(
        "Format",
        OneOf(&[
            "aac", "mp3", "flac", "mp4", "ts", "mkv", "avi", "hls", "m3u8",
        ]),
    ),
    opt("Duration", Int(5, 86_400)),
];
const STREAM_PACK_CONFIG: &[Field] = &[
    opt("PackType", OneOf(&["HLS", "DASH"])),
    opt("IgnoreFailedStream", Bool),
];
const VIDEO_STREAM_CONFIG: &[Field] = &[
    req("VideoStreamName", Text(128)),
    opt("BandWidth", Int(0, 2_000_000_000)),
];
const STREAM_PACK_INFO: &[Field] = &[opt("VideoStreamConfig", List(VIDEO_STREAM_CONFIG, 10))];
const REMOVE_WATERMARK: &[Field] = &[
    req("Dx", Int(1, 4096)),
    req("Dy", Int(1, 4096)),
    req("Width", Int(1, 4096)),
    req("Height", Int(1, 4096)),
];
/// Most inline `Watermark`s (or `WatermarkTemplateId`s) one operation takes.
const MAX_WATERMARKS: usize = 3;

/// `RemoveWatermark`: a rectangle in source pixels, top-left origin, blurred away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoveWatermark {
    /// Left edge.
    pub dx: u32,
    /// Top edge.
    pub dy: u32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

fn schema_for(node_type: NodeType) -> Vec<Field> {
    // Required unless an InlineTemplate (standalone jobs) stands in: checked in `parse`.
    let template = opt("TemplateId", Text(64));
    let output = req("Output", Group(OUTPUT));
    let watermarks = opt("WatermarkTemplateId", List(&[], MAX_WATERMARKS));
    match node_type {
        NodeType::Start => vec![],
        NodeType::Transcode | NodeType::VideoStream => vec![
            template,
            watermarks,
            opt("Watermark", List(WATERMARK, MAX_WATERMARKS)),
            opt("RemoveWatermark", Group(REMOVE_WATERMARK)),
            output,
        ],
        NodeType::Snapshot | NodeType::Animation | NodeType::Concat | NodeType::PicProcess => {
            vec![template, output]
        }
        NodeType::SmartCover => vec![
            opt("TemplateId", Text(64)),
            opt("SmartCover", Group(SMART_COVER)),
            output,
        ],
        NodeType::Segment => vec![req("Segment", Group(SEGMENT)), output],
        NodeType::StreamPackConfig => {
            vec![opt("StreamPackConfig", Group(STREAM_PACK_CONFIG)), output]
        }
        NodeType::StreamPack => vec![req("StreamPackInfo", Group(STREAM_PACK_INFO))],
        NodeType::MediaInfo | NodeType::TranscodePart => vec![],
    }
}

/// Parses and checks a node's `Operation` for its type.
pub fn parse(
    node: &XmlElement,
    node_type: NodeType,
    path: &str,
) -> Result<Operation, InvalidInput> {
    let op_path = format!("{path}.Operation");
    let empty = XmlElement::new("Operation");
    let op = match node.child("Operation") {
        Some(op) => op,
        None if node_type == NodeType::MediaInfo => &empty,
        None => return Err(InvalidInput::rule(&op_path, "is required")),
    };
    for child in &node.children {
        if !matches!(child.name.as_str(), "Type" | "Operation") {
            return Err(InvalidInput::rule(
                format!("{path}.{}", child.name),
                "is not a known element of a node",
            ));
        }
    }
    check_operation(op, node_type, &op_path)?;
    let f = Fields::new(op, &op_path);
    let inline_template = op
        .child("InlineTemplate")
        .map(|t| {
            let mut request = t.clone();
            request.name = "Request".to_owned();
            TemplateSpec::from_request(&request)
        })
        .transpose()?;
    let needs_template = matches!(
        node_type,
        NodeType::Transcode
            | NodeType::VideoStream
            | NodeType::Snapshot
            | NodeType::Animation
            | NodeType::Concat
            | NodeType::PicProcess
    );
    if needs_template && f.str("TemplateId").is_none() && inline_template.is_none() {
        return Err(InvalidInput::rule(
            format!("{op_path}.TemplateId"),
            "is required",
        ));
    }
    let watermark_template_ids: Vec<String> = op
        .children_named("WatermarkTemplateId")
        .filter(|w| !w.text.is_empty())
        .map(|w| w.text.clone())
        .collect();
    let mut watermarks = Vec::new();
    for w in op.children_named("Watermark").filter(|w| !w.is_empty()) {
        WatermarkParams::from_container(w)?;
        watermarks.push(w.clone());
    }
    if !watermark_template_ids.is_empty() {
        watermarks.clear(); // WatermarkTemplateId wins over inline watermarks
    }
    if let Some(user_data) = f.str("UserData")
        && !user_data.bytes().all(|b| (0x20..0x7f).contains(&b))
    {
        return Err(InvalidInput::rule(
            format!("{op_path}.UserData"),
            "must be printable ASCII (at most 1024 characters)",
        ));
    }
    Ok(Operation {
        template_id: f.str("TemplateId").map(str::to_owned),
        watermark_template_ids,
        output: op
            .child("Output")
            .filter(|o| !o.is_empty())
            .map(parse_output),
        smart_cover: op
            .child("SmartCover")
            .filter(|s| !s.is_empty())
            .map(SmartCoverParams::from_container)
            .transpose()?,
        segment: op
            .child("Segment")
            .map(|s| parse_segment(s, &op_path))
            .transpose()?,
        stream_pack: op
            .child("StreamPackConfig")
            .map(|s| parse_stream_pack(s, &op_path))
            .transpose()?,
        video_streams: parse_video_streams(op, &op_path)?,
        user_data: f.str("UserData").map(str::to_owned),
        job_level: f.str("JobLevel").map(str::to_owned),
        inline_template,
        watermarks,
        remove_watermark: op
            .child("RemoveWatermark")
            .filter(|r| !r.is_empty())
            .map(|r| parse_remove_watermark(r, &op_path))
            .transpose()?,
        input_url: f.str("InputUrl").map(str::to_owned),
    })
}

fn check_operation(
    op: &XmlElement,
    node_type: NodeType,
    op_path: &str,
) -> Result<(), InvalidInput> {
    let mut fields = schema_for(node_type);
    fields.extend([
        opt("UserData", Text(1024)),
        opt("JobLevel", OneOf(&["0", "1", "2"])),
        opt("InlineTemplate", Text(0)),
        opt("InputUrl", Text(crate::job::MAX_URL_LEN)),
    ]);
    for child in &op.children {
        if !fields.iter().any(|f| f.name == child.name) {
            return Err(InvalidInput::rule(
                format!("{op_path}.{}", child.name),
                format!("is not supported in a {} node", node_type.as_str()),
            ));
        }
    }
    // WatermarkTemplateId repeats as plain text elements and InlineTemplate is validated as a
    // template; check both separately.
    schema::check_count(op, op_path, "WatermarkTemplateId", MAX_WATERMARKS)?;
    schema::check_count(op, op_path, "Watermark", MAX_WATERMARKS)?;
    let skip = ["WatermarkTemplateId", "InlineTemplate"];
    let structured: Vec<Field> = fields
        .into_iter()
        .filter(|f| !skip.contains(&f.name))
        .collect();
    let mut without_watermarks = op.clone();
    without_watermarks
        .children
        .retain(|c| !skip.contains(&c.name.as_str()));
    schema::check(&without_watermarks, op_path, &structured)
}

fn parse_output(o: &XmlElement) -> Output {
    let f = Fields::new(o, "Output");
    Output {
        region: f.str("Region").unwrap_or_default().to_owned(),
        bucket: f.str("Bucket").unwrap_or_default().to_owned(),
        object: f.str("Object").unwrap_or_default().to_owned(),
        sprite_object: f.str("SpriteObject").map(str::to_owned),
    }
}

fn parse_remove_watermark(r: &XmlElement, op_path: &str) -> Result<RemoveWatermark, InvalidInput> {
    let path = format!("{op_path}.RemoveWatermark");
    let f = Fields::new(r, &path);
    let get = |name: &str| {
        f.u32_in(name, 1, 4096)?
            .ok_or_else(|| InvalidInput::rule(format!("{path}.{name}"), "is required"))
    };
    Ok(RemoveWatermark {
        dx: get("Dx")?,
        dy: get("Dy")?,
        width: get("Width")?,
        height: get("Height")?,
    })
}

fn parse_segment(s: &XmlElement, op_path: &str) -> Result<SegmentConfig, InvalidInput> {
    let f = Fields::new(s, op_path);
    Ok(SegmentConfig {
        format: f.required("Format")?.to_ascii_lowercase(),
        duration: f.u32_in("Duration", 5, 86_400)?,
    })
}

fn parse_stream_pack(s: &XmlElement, op_path: &str) -> Result<StreamPackConfig, InvalidInput> {
    let f = Fields::new(s, op_path);
    Ok(StreamPackConfig {
        dash: f
            .str("PackType")
            .is_some_and(|p| p.eq_ignore_ascii_case("DASH")),
        ignore_failed_stream: f.bool("IgnoreFailedStream")?.unwrap_or(true),
    })
}

fn parse_video_streams(
    op: &XmlElement,
    op_path: &str,
) -> Result<Vec<VideoStreamConfig>, InvalidInput> {
    let Some(info) = op.child("StreamPackInfo") else {
        return Ok(Vec::new());
    };
    info.children_named("VideoStreamConfig")
        .map(|c| {
            let f = Fields::new(c, op_path);
            Ok(VideoStreamConfig {
                video_stream_name: f.required("VideoStreamName")?.to_owned(),
                bandwidth: f.str("BandWidth").and_then(|b| b.parse().ok()).unwrap_or(0),
            })
        })
        .collect()
}
