//! Templates: named, reusable media parameters referenced by workflow nodes and jobs.
//!
//! A template is stored as its validated parameter container (`TransTpl` for Transcode,
//! HighSpeedHd and Animation; `Snapshot`, `ConcatTemplate`, `SmartCover`, `Watermark`,
//! `PicProcess` for the others), checked against the schemas in [`schemas`], so responses echo
//! exactly what was accepted. Typed views ([`TranscodeParams`], [`SnapshotParams`], …) are read
//! from that container when a task runs.

mod animation;
mod concat;
mod official;
mod picprocess;
pub mod schemas;
mod smartcover;
mod snapshot;
mod transcode;
mod watermark;

pub use animation::AnimationParams;
pub use concat::{ConcatFragment, ConcatParams};
pub use official::official_templates;
pub use picprocess::PicProcessParams;
pub use smartcover::SmartCoverParams;
pub use snapshot::{SnapshotMode, SnapshotOutMode, SnapshotParams, SpriteParams};
pub use transcode::{AudioParams, TransConfigParams, TranscodeParams, VideoParams};
pub use watermark::{WatermarkKind, WatermarkParams};

use crate::error::InvalidInput;
use crate::fields::Fields;
use crate::schema::{self, Field};
use crate::xml::XmlElement;

/// The kind of a template (`Tag`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TemplateTag {
    /// Audio/video transcoding.
    Transcode,
    /// Fast HD transcoding (same parameters as Transcode).
    HighSpeedHd,
    /// Frame capture.
    Snapshot,
    /// Animated images (gif, webp).
    Animation,
    /// Joining fragments around the input.
    Concat,
    /// Best-frame covers.
    SmartCover,
    /// Text or image watermarks, applied by Transcode nodes.
    Watermark,
    /// Image processing rules (`imageMogr2/…`).
    PicProcess,
}

const ALL_TAGS: [TemplateTag; 8] = [
    TemplateTag::Transcode,
    TemplateTag::HighSpeedHd,
    TemplateTag::Snapshot,
    TemplateTag::Animation,
    TemplateTag::Concat,
    TemplateTag::SmartCover,
    TemplateTag::Watermark,
    TemplateTag::PicProcess,
];

impl TemplateTag {
    /// The CI spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TemplateTag::Transcode => "Transcode",
            TemplateTag::HighSpeedHd => "HighSpeedHd",
            TemplateTag::Snapshot => "Snapshot",
            TemplateTag::Animation => "Animation",
            TemplateTag::Concat => "Concat",
            TemplateTag::SmartCover => "SmartCover",
            TemplateTag::Watermark => "Watermark",
            TemplateTag::PicProcess => "PicProcess",
        }
    }

    /// Parses the CI spelling (case-insensitive).
    pub fn parse(text: &str) -> Option<Self> {
        ALL_TAGS
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(text))
    }

    /// The element that holds this tag's parameters in requests and responses.
    pub fn container(self) -> &'static str {
        match self {
            TemplateTag::Transcode | TemplateTag::HighSpeedHd | TemplateTag::Animation => {
                "TransTpl"
            }
            TemplateTag::Snapshot => "Snapshot",
            TemplateTag::Concat => "ConcatTemplate",
            TemplateTag::SmartCover => "SmartCover",
            TemplateTag::Watermark => "Watermark",
            TemplateTag::PicProcess => "PicProcess",
        }
    }

    fn schema(self) -> &'static [Field] {
        match self {
            TemplateTag::Transcode | TemplateTag::HighSpeedHd => schemas::TRANS_TPL,
            TemplateTag::Animation => schemas::ANIMATION_TPL,
            TemplateTag::Snapshot => schemas::SNAPSHOT,
            TemplateTag::Concat => schemas::CONCAT,
            TemplateTag::SmartCover => schemas::SMART_COVER,
            TemplateTag::Watermark => schemas::WATERMARK,
            TemplateTag::PicProcess => schemas::PIC_PROCESS,
        }
    }

    /// Whether a workflow node or job of this tag can use templates of `tag`
    /// (HighSpeedHd templates drive Transcode nodes too).
    pub fn accepts(self, tag: TemplateTag) -> bool {
        self == tag || (self == TemplateTag::Transcode && tag == TemplateTag::HighSpeedHd)
    }
}

/// Who owns a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateCategory {
    /// Created by a user.
    Custom,
    /// Built in; read-only.
    Official,
}

impl TemplateCategory {
    /// The CI spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TemplateCategory::Custom => "Custom",
            TemplateCategory::Official => "Official",
        }
    }
}

/// A stored template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// `t1…` for custom templates, `t0…` for official ones.
    pub id: String,
    /// Bucket the template belongs to (empty for official templates, which every bucket sees).
    pub bucket: String,
    /// User-chosen name.
    pub name: String,
    /// Kind.
    pub tag: TemplateTag,
    /// Owner category.
    pub category: TemplateCategory,
    /// The validated parameter container.
    pub params: XmlElement,
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds.
    pub updated: i64,
}

/// A parsed, validated template create/update request.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateSpec {
    /// Kind.
    pub tag: TemplateTag,
    /// Name.
    pub name: String,
    /// Validated parameter container.
    pub params: XmlElement,
}

/// Top-level elements that make up a `TransTpl` when sent unwrapped (as the SDKs do).
const TRANS_TPL_PARTS: &[&str] = &[
    "Container",
    "Video",
    "Audio",
    "TimeInterval",
    "TransConfig",
    "AudioMix",
    "AudioMixArray",
];

impl TemplateSpec {
    /// Parses and validates `Request{Tag, Name, …}`.
    pub fn from_request(request: &XmlElement) -> Result<Self, InvalidInput> {
        if request.name != "Request" {
            return Err(InvalidInput::rule(
                &request.name,
                "root element must be Request",
            ));
        }
        let fields = Fields::new(request, "Request");
        let tag_text = fields.required("Tag")?;
        let tag = TemplateTag::parse(tag_text).ok_or_else(|| {
            let names: Vec<&str> = ALL_TAGS.iter().map(|t| t.as_str()).collect();
            InvalidInput::rule(
                "Request.Tag",
                format!(
                    "template tag {tag_text:?} is not supported (supported: {})",
                    names.join(", ")
                ),
            )
        })?;
        let name = validate_name(fields.required("Name")?)?;
        let params = gather_container(request, tag)?;
        // Errors name the element as the client wrote it: Transcode parts sit directly under
        // Request, other tags' fields under their container (Request.Snapshot.Width).
        let at = match tag.container() {
            "TransTpl" => "Request".to_owned(),
            container => format!("Request.{container}"),
        };
        schema::check(&params, &at, tag.schema())?;
        for list in ["AudioMixArray", "ConcatFragment"] {
            let max = if list == "AudioMixArray" { 2 } else { 20 };
            schema::check_count(&params, &at, list, max)?;
        }
        validate_typed(tag, &params)?;
        Ok(TemplateSpec { tag, name, params })
    }
}

/// Builds the tag's container from the request: either the container element itself, or (for
/// `TransTpl` tags) its parts sent at top level. Anything else at top level is refused.
fn gather_container(request: &XmlElement, tag: TemplateTag) -> Result<XmlElement, InvalidInput> {
    let container = tag.container();
    let mut params = request
        .child(container)
        .cloned()
        .unwrap_or_else(|| XmlElement::new(container));
    for child in &request.children {
        let part = container == "TransTpl" && TRANS_TPL_PARTS.contains(&child.name.as_str());
        match child.name.as_str() {
            "Tag" | "Name" => {}
            name if name == container => {}
            _ if part => params.push(child.clone()),
            other => {
                return Err(InvalidInput::rule(
                    format!("Request.{other}"),
                    format!("is not a known element of a {} template", tag.as_str()),
                ));
            }
        }
    }
    Ok(params)
}

fn validate_typed(tag: TemplateTag, params: &XmlElement) -> Result<(), InvalidInput> {
    match tag {
        TemplateTag::Transcode | TemplateTag::HighSpeedHd => {
            TranscodeParams::from_container(params).map(drop)
        }
        TemplateTag::Snapshot => SnapshotParams::from_container(params).map(drop),
        TemplateTag::Animation => AnimationParams::from_container(params).map(drop),
        TemplateTag::Concat => ConcatParams::from_container(params).map(drop),
        TemplateTag::SmartCover => SmartCoverParams::from_container(params).map(drop),
        TemplateTag::Watermark => WatermarkParams::from_container(params).map(drop),
        TemplateTag::PicProcess => PicProcessParams::from_container(params).map(drop),
    }
}

fn validate_name(name: &str) -> Result<String, InvalidInput> {
    let ok_char = |c: char| c.is_alphanumeric() || matches!(c, '-' | '_' | '*' | '.');
    if name.chars().count() > 64 || !name.chars().all(ok_char) {
        return Err(InvalidInput::rule(
            "Request.Name",
            "must be at most 64 characters of letters, digits, '-', '_', '*' or '.'",
        ));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests;
