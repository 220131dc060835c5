//! Templates: named, reusable media parameters referenced by workflow nodes and jobs.
//!
//! A template is stored as its validated parameter container (`TransTpl` for Transcode,
//! `Snapshot` for Snapshot) so responses echo exactly what was accepted; typed views
//! ([`TranscodeParams`], [`SnapshotParams`]) are parsed from that container when a task runs.

use crate::error::InvalidInput;
use crate::fields::Fields;
use crate::xml::XmlElement;

/// The kind of a template (`Tag`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateTag {
    /// Audio/video transcoding.
    Transcode,
    /// Frame capture.
    Snapshot,
}

impl TemplateTag {
    /// The CI spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TemplateTag::Transcode => "Transcode",
            TemplateTag::Snapshot => "Snapshot",
        }
    }

    /// Parses the CI spelling (case-insensitive).
    pub fn parse(text: &str) -> Option<Self> {
        [TemplateTag::Transcode, TemplateTag::Snapshot]
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(text))
    }

    /// The element that holds this tag's parameters in responses.
    pub fn container(self) -> &'static str {
        match self {
            TemplateTag::Transcode => "TransTpl",
            TemplateTag::Snapshot => "Snapshot",
        }
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
    /// `t1…` for custom templates.
    pub id: String,
    /// Bucket the template belongs to.
    pub bucket: String,
    /// User-chosen name.
    pub name: String,
    /// Kind.
    pub tag: TemplateTag,
    /// Owner category.
    pub category: TemplateCategory,
    /// The validated parameter container (`TransTpl` or `Snapshot`).
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
            InvalidInput::rule(
                "Request.Tag",
                format!(
                    "template tag {tag_text:?} is not supported (supported: Transcode, Snapshot)"
                ),
            )
        })?;
        let name = validate_name(fields.required("Name")?)?;
        let params = match tag {
            TemplateTag::Transcode => {
                let mut tpl = XmlElement::new("TransTpl");
                let source = request.child("TransTpl").unwrap_or(request);
                for part in ["Container", "Video", "Audio", "TimeInterval", "TransConfig"] {
                    if let Some(child) = source.child(part) {
                        tpl.push(child.clone());
                    }
                }
                TranscodeParams::from_container(&tpl)?;
                tpl
            }
            TemplateTag::Snapshot => {
                let snapshot = request
                    .child("Snapshot")
                    .ok_or_else(|| InvalidInput::rule("Request.Snapshot", "is required"))?
                    .clone();
                SnapshotParams::from_container(&snapshot)?;
                snapshot
            }
        };
        Ok(TemplateSpec { tag, name, params })
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

/// Containers a Transcode template may name, and the file extension each produces.
pub const TRANSCODE_CONTAINERS: &[(&str, &str)] = &[
    ("mp4", "mp4"),
    ("mov", "mov"),
    ("mkv", "mkv"),
    ("flv", "flv"),
    ("ts", "ts"),
    ("hls", "m3u8"),
    ("dash", "mpd"),
    ("webm", "webm"),
    ("mp3", "mp3"),
    ("aac", "aac"),
    ("adts", "aac"),
    ("m4a", "m4a"),
    ("flac", "flac"),
    ("wav", "wav"),
];

/// Typed view of a Transcode template.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TranscodeParams {
    /// Canonical container name (lowercase), e.g. `mp4`.
    pub container: String,
    /// `Container.ClipConfig.Duration` (hls/dash segment length, seconds).
    pub segment_duration: Option<f64>,
    /// Video settings; `None` means defaults.
    pub video: Option<VideoParams>,
    /// Audio settings; `None` means defaults.
    pub audio: Option<AudioParams>,
    /// `TimeInterval.Start` in seconds.
    pub start: Option<f64>,
    /// `TimeInterval.Duration` in seconds.
    pub duration: Option<f64>,
    /// `TransConfig.DeleteMetadata`.
    pub delete_metadata: bool,
}

/// Video part of a Transcode template.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VideoParams {
    /// `H.264`, `H.265`, `VP8`, `VP9`, `AV1`.
    pub codec: Option<String>,
    /// Pixels, even, 128–4096.
    pub width: Option<u32>,
    /// Pixels, even, 128–4096.
    pub height: Option<u32>,
    /// Frames per second.
    pub fps: Option<f64>,
    /// kbps.
    pub bitrate: Option<u32>,
    /// Constant rate factor.
    pub crf: Option<f64>,
    /// Keyframe interval in frames.
    pub gop: Option<u32>,
    /// Encoder preset.
    pub preset: Option<String>,
    /// H.264 profile.
    pub profile: Option<String>,
    /// Pixel format.
    pub pixfmt: Option<String>,
    /// kbps.
    pub maxrate: Option<u32>,
    /// KB.
    pub bufsize: Option<u32>,
    /// Drop the video stream.
    pub remove: bool,
}

/// Audio part of a Transcode template.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AudioParams {
    /// `aac`, `mp3`, `flac`, `Vorbis`, `opus`, `pcm_s16le`.
    pub codec: Option<String>,
    /// Hz.
    pub samplerate: Option<u32>,
    /// kbps.
    pub bitrate: Option<u32>,
    /// Channel count.
    pub channels: Option<u32>,
    /// Drop the audio stream.
    pub remove: bool,
}

const SAMPLE_RATES: &[u32] = &[
    8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000,
];

impl TranscodeParams {
    /// Parses and validates a `TransTpl` container.
    pub fn from_container(tpl: &XmlElement) -> Result<Self, InvalidInput> {
        let container = tpl
            .child("Container")
            .ok_or_else(|| InvalidInput::rule("Request.Container", "is required"))?;
        let format = Fields::new(container, "Request.Container").required("Format")?;
        let canonical = TRANSCODE_CONTAINERS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(format))
            .map(|(name, _)| (*name).to_owned())
            .ok_or_else(|| {
                InvalidInput::rule(
                    "Request.Container.Format",
                    format!("container {format:?} is not supported"),
                )
            })?;
        let segment_duration = match container.child("ClipConfig") {
            Some(clip) => {
                Fields::new(clip, "Request.Container.ClipConfig").f64_in("Duration", 1.0, 3600.0)?
            }
            None => None,
        };
        let (start, duration) = match tpl.child("TimeInterval") {
            Some(ti) => {
                let f = Fields::new(ti, "Request.TimeInterval");
                (
                    f.f64_in("Start", 0.0, 86_400.0)?,
                    f.f64_in("Duration", 0.0, 86_400.0)?,
                )
            }
            None => (None, None),
        };
        let delete_metadata = match tpl.child("TransConfig") {
            Some(tc) => Fields::new(tc, "Request.TransConfig")
                .bool("DeleteMetadata")?
                .unwrap_or(false),
            None => false,
        };
        Ok(TranscodeParams {
            container: canonical,
            segment_duration,
            video: tpl.child("Video").map(parse_video).transpose()?,
            audio: tpl.child("Audio").map(parse_audio).transpose()?,
            start,
            duration,
            delete_metadata,
        })
    }

    /// The extension of the produced file (`${Ext}`).
    pub fn extension(&self) -> &'static str {
        TRANSCODE_CONTAINERS
            .iter()
            .find(|(name, _)| *name == self.container)
            .map_or("mp4", |(_, ext)| ext)
    }
}

fn even_dimension(f: &Fields<'_>, name: &str) -> Result<Option<u32>, InvalidInput> {
    let value = f.u32_in(name, 128, 4096)?;
    if value.is_some_and(|v| v % 2 != 0) {
        return Err(InvalidInput::rule(
            format!("Request.Video.{name}"),
            "must be an even number",
        ));
    }
    Ok(value)
}

fn parse_video(video: &XmlElement) -> Result<VideoParams, InvalidInput> {
    let f = Fields::new(video, "Request.Video");
    let bitrate = match f.str("Bitrate") {
        Some(b) if b.eq_ignore_ascii_case("auto") => None,
        _ => f.u32_in("Bitrate", 10, 50_000)?,
    };
    Ok(VideoParams {
        codec: f
            .one_of("Codec", &["H.264", "H.265", "VP8", "VP9", "AV1"])?
            .map(str::to_owned),
        width: even_dimension(&f, "Width")?,
        height: even_dimension(&f, "Height")?,
        fps: f.f64_in("Fps", 0.001, 60.0)?,
        bitrate,
        crf: f.f64_in("Crf", 0.0, 51.0)?,
        gop: f.u32_in("Gop", 1, 100_000)?,
        preset: f.str("Preset").map(str::to_owned),
        profile: f
            .one_of("Profile", &["baseline", "main", "high", "auto"])?
            .map(str::to_owned),
        pixfmt: f.str("Pixfmt").map(str::to_owned),
        maxrate: f.u32_in("Maxrate", 10, 50_000)?,
        bufsize: f.u32_in("Bufsize", 1000, 128_000)?,
        remove: f.bool("Remove")?.unwrap_or(false),
    })
}

fn parse_audio(audio: &XmlElement) -> Result<AudioParams, InvalidInput> {
    let f = Fields::new(audio, "Request.Audio");
    let samplerate = f.u32_in("Samplerate", 8000, 96_000)?;
    if let Some(rate) = samplerate.filter(|r| !SAMPLE_RATES.contains(r)) {
        return Err(InvalidInput::rule(
            "Request.Audio.Samplerate",
            format!("{rate} Hz is not a supported sample rate"),
        ));
    }
    Ok(AudioParams {
        codec: f
            .one_of(
                "Codec",
                &["aac", "mp3", "flac", "Vorbis", "opus", "pcm_s16le"],
            )?
            .map(str::to_owned),
        samplerate,
        bitrate: f.u32_in("Bitrate", 8, 1000)?,
        channels: f.u32_in("Channels", 1, 8)?,
        remove: f.bool("Remove")?.unwrap_or(false),
    })
}

/// How snapshot frames are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SnapshotMode {
    /// From Start every TimeInterval seconds.
    #[default]
    Interval,
    /// Count frames evenly spread from Start to the end.
    Average,
    /// Key frames.
    KeyFrame,
}

/// Typed view of a Snapshot template.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SnapshotParams {
    /// Frame choice.
    pub mode: SnapshotMode,
    /// Seconds.
    pub start: f64,
    /// Seconds between frames (Interval mode).
    pub interval: Option<f64>,
    /// Number of images.
    pub count: u32,
    /// Pixels.
    pub width: Option<u32>,
    /// Pixels.
    pub height: Option<u32>,
    /// `jpg` or `png`, from `CIParam` `imageMogr2/format/…` (default jpg).
    pub format: String,
}

impl SnapshotParams {
    /// Parses and validates a `Snapshot` container.
    pub fn from_container(snapshot: &XmlElement) -> Result<Self, InvalidInput> {
        let f = Fields::new(snapshot, "Request.Snapshot");
        let mode = match f.one_of("Mode", &["Interval", "Average", "KeyFrame"])? {
            Some("Average") => SnapshotMode::Average,
            Some("KeyFrame") => SnapshotMode::KeyFrame,
            _ => SnapshotMode::Interval,
        };
        let format = f
            .str("CIParam")
            .and_then(|p| p.split("format/").nth(1))
            .map(|rest| rest.split('/').next().unwrap_or("jpg").to_ascii_lowercase())
            .unwrap_or_else(|| "jpg".to_owned());
        if !matches!(format.as_str(), "jpg" | "jpeg" | "png") {
            return Err(InvalidInput::rule(
                "Request.Snapshot.CIParam",
                format!("image format {format:?} is not supported (jpg, png)"),
            ));
        }
        Ok(SnapshotParams {
            mode,
            start: f.f64_in("Start", 0.0, 86_400.0)?.unwrap_or(0.0),
            interval: f.f64_in("TimeInterval", 0.001, 3600.0)?,
            count: f.u32_in("Count", 1, 10_000)?.unwrap_or(1),
            width: f.u32_in("Width", 128, 4096)?,
            height: f.u32_in("Height", 128, 4096)?,
            format: if format == "jpeg" {
                "jpg".to_owned()
            } else {
                format
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: &str) -> XmlElement {
        XmlElement::parse(body.as_bytes()).unwrap()
    }

    #[test]
    fn transcode_template_parses_and_keeps_containers() {
        let spec = TemplateSpec::from_request(&request(
            "<Request><Tag>Transcode</Tag><Name>t-1</Name><Container><Format>MP4</Format></Container>\
             <Video><Codec>H.264</Codec><Width>1280</Width><Crf>23</Crf></Video>\
             <Audio><Codec>aac</Codec><Samplerate>44100</Samplerate></Audio></Request>",
        ))
        .unwrap();
        assert_eq!(spec.tag, TemplateTag::Transcode);
        assert_eq!(spec.params.name, "TransTpl");
        let params = TranscodeParams::from_container(&spec.params).unwrap();
        assert_eq!(params.container, "mp4");
        assert_eq!(params.video.unwrap().width, Some(1280));
        assert_eq!(params.audio.unwrap().samplerate, Some(44100));
    }

    #[test]
    fn transcode_ranges_name_the_element() {
        let err = TemplateSpec::from_request(&request(
            "<Request><Tag>Transcode</Tag><Name>x</Name><Container><Format>mp4</Format></Container>\
             <Video><Width>127</Width></Video></Request>",
        ))
        .unwrap_err();
        assert!(err.to_string().contains("Request.Video.Width"), "{err}");
        let err = TemplateSpec::from_request(&request(
            "<Request><Tag>Transcode</Tag><Name>x</Name><Container><Format>mp4</Format></Container>\
             <Video><Width>641</Width></Video></Request>",
        ))
        .unwrap_err();
        assert!(err.to_string().contains("even"), "{err}");
        let err = TemplateSpec::from_request(&request(
            "<Request><Tag>Transcode</Tag><Name>x</Name><Container><Format>avi2</Format></Container></Request>",
        ))
        .unwrap_err();
        assert!(
            err.to_string().contains("Request.Container.Format"),
            "{err}"
        );
    }

    #[test]
    fn snapshot_template_parses() {
        let spec = TemplateSpec::from_request(&request(
            "<Request><Tag>Snapshot</Tag><Name>s</Name><Snapshot><Mode>Average</Mode><Count>4</Count>\
             <Width>320</Width><CIParam>imageMogr2/format/png</CIParam></Snapshot></Request>",
        ))
        .unwrap();
        let params = SnapshotParams::from_container(&spec.params).unwrap();
        assert_eq!(params.mode, SnapshotMode::Average);
        assert_eq!(params.count, 4);
        assert_eq!(params.format, "png");
    }

    #[test]
    fn unknown_tag_is_refused_by_name() {
        let err = TemplateSpec::from_request(&request(
            "<Request><Tag>Teleport</Tag><Name>x</Name></Request>",
        ))
        .unwrap_err();
        assert!(err.to_string().contains("Teleport"));
    }
}
