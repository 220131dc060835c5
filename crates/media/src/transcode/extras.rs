//! Transcode settings beyond [`TranscodeSpec`]: CI `Video.Rotate`, `Video.Crop`,
//! `TransConfig` (`AdjDarMethod`, the `IsCheck*` source checks) and watermarks.
//!
//! They live in their own struct, [`TranscodeExtras`], so `TranscodeSpec` stays
//! source-compatible; [`transcode_with`](super::transcode_with) and
//! [`run_fused`](super::run_fused) take both.
//!
//! The video filter chain of an output is, in order:
//! `delogo` (`RemoveWatermark`) → `fps` (GIF only) → `crop` → rotation → size (`AdjDarMethod`) → watermarks in the order
//! given → GIF palette. Sizes are ones the encoder takes (`size.rs`): explicit ones are
//! rounded, and a frame keeping a size it refuses (odd source, crop or free rotation)
//! gets the size guard in place of the size step. The input is decoded upright
//! (autorotated), so crop, rotation and size apply to the picture as displayed.
//! Text watermarks are plain `drawtext` filters; image watermarks
//! need their image as an extra ffmpeg input, so an output with one gets a
//! `-filter_complex` graph instead of `-vf` (see [`VideoChain`]).
//!
//! **Source checks** (`IsCheckReso`, `IsCheckVideoBitrate`, `IsCheckAudioBitrate`,
//! `IsCheckVideoFps`) compare the target with the probed source. When the target is
//! larger, [`AdjMethod::UseSource`] (CI `0`) keeps the source value (no upscaling, no
//! bitrate or frame-rate inflation) and [`AdjMethod::Fail`] (CI `1`) fails with
//! [`MediaError::InvalidInput`] naming both values. A source value ffprobe does not
//! know skips its check.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::codec::VideoCodec;
use super::size::SizeRule;
use super::watermark::{self, Watermark, WatermarkKind};
use super::{TranscodeSpec, VideoSpec};
use crate::error::MediaError;
use crate::ffmpeg::{filter, num};
use crate::probe::MediaInfo;

/// Most watermarks one output takes (CI: up to 3 `WatermarkTemplateId`).
pub const MAX_WATERMARKS: usize = 3;

/// Settings of a CI transcode that [`TranscodeSpec`] does not carry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TranscodeExtras {
    /// `Video.Rotate`: clockwise degrees in `[0, 360)`. 90/180/270 are exact
    /// (`transpose`); other angles enlarge the frame and fill the corners with black.
    pub rotate: Option<f64>,
    /// `Video.Crop`: `"width:height:left:top"` in source pixels, applied first.
    pub crop: Option<String>,
    /// `TransConfig.AdjDarMethod`: how a `Width`+`Height` of another aspect ratio is met.
    pub adj_dar: AdjDarMethod,
    /// `TransConfig.IsCheck*`: comparisons with the source.
    pub checks: TransChecks,
    /// Watermarks (at most [`MAX_WATERMARKS`]), drawn in this order.
    pub watermarks: Vec<Watermark>,
    /// CI `RemoveWatermark`: a source rectangle blurred away (`delogo`), before anything else.
    #[serde(default)]
    pub delogo: Option<Delogo>,
}

/// CI `AdjDarMethod`: what to do when both `Width` and `Height` are set and their
/// aspect ratio differs from the source's. Ignored when only one side is set (the
/// other then follows the source aspect ratio).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdjDarMethod {
    /// `none` (default): frames become `Width`×`Height` but the sample aspect ratio
    /// compensates, so players still show the source's display shape.
    #[default]
    None,
    /// `scale`: stretch to exactly `Width`×`Height` with square pixels.
    Scale,
    /// `crop`: scale to cover `Width`×`Height`, then cut the overflow (centred).
    Crop,
    /// `pad`: scale to fit inside `Width`×`Height`, then add centred black bars.
    Pad,
}

impl AdjDarMethod {
    /// Parses CI's `scale`, `crop`, `pad` or `none` (case-insensitive; empty is none).
    pub fn parse(text: &str) -> Result<Self, MediaError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "" | "none" => Ok(Self::None),
            "scale" => Ok(Self::Scale),
            "crop" => Ok(Self::Crop),
            "pad" => Ok(Self::Pad),
            other => Err(MediaError::invalid_spec(format!(
                "AdjDarMethod {other:?} is not supported (scale, crop, pad, none)"
            ))),
        }
    }
}

/// CI `*AdjMethod` of a source check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdjMethod {
    /// `0`: never exceed the source, use its value instead.
    UseSource,
    /// `1`: fail the task.
    Fail,
}

impl AdjMethod {
    /// Maps CI's `0` / `1`.
    pub fn from_ci(code: u8) -> Result<Self, MediaError> {
        match code {
            0 => Ok(Self::UseSource),
            1 => Ok(Self::Fail),
            other => Err(MediaError::invalid_spec(format!(
                "AdjMethod must be 0 (use the source value) or 1 (fail), got {other}"
            ))),
        }
    }
}

/// CI `TransConfig` checks; `None` means the check is off (`IsCheck… = false`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransChecks {
    /// `IsCheckReso` + `ResoAdjMethod`: target resolution above the source's.
    pub resolution: Option<AdjMethod>,
    /// `IsCheckVideoBitrate` + `VideoBitrateAdjMethod`: target video bitrate above the
    /// source's (only checked when the target uses a bitrate, not CRF).
    pub video_bitrate: Option<AdjMethod>,
    /// `IsCheckAudioBitrate` + `AudioBitrateAdjMethod`.
    pub audio_bitrate: Option<AdjMethod>,
    /// `IsCheckVideoFps` + `VideoFpsAdjMethod`.
    pub video_fps: Option<AdjMethod>,
}

/// A parsed `Video.Crop`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Crop {
    pub width: u32,
    pub height: u32,
    pub left: u32,
    pub top: u32,
}

impl Crop {
    /// Parses `"width:height:left:top"` (non-negative integers, positive size).
    pub(crate) fn parse(text: &str) -> Result<Self, MediaError> {
        let bad = || {
            MediaError::invalid_spec(format!(
                "crop {text:?} must be \"width:height:left:top\" in pixels"
            ))
        };
        let parts: Vec<u32> = text
            .split(':')
            .map(|p| p.trim().parse::<u32>().map_err(|_| bad()))
            .collect::<Result<_, _>>()?;
        let [width, height, left, top] = parts[..] else {
            return Err(bad());
        };
        if width == 0 || height == 0 {
            return Err(bad());
        }
        Ok(Self {
            width,
            height,
            left,
            top,
        })
    }
}

/// Checks extras without an input: rotation range, crop syntax, watermark count and
/// fields.
pub fn validate_extras(extras: &TranscodeExtras) -> Result<(), MediaError> {
    if let Some(r) = extras.rotate
        && !(r.is_finite() && (0.0..360.0).contains(&r))
    {
        return Err(MediaError::invalid_spec(format!(
            "rotate must be in [0, 360), got {r}"
        )));
    }
    if let Some(crop) = &extras.crop {
        Crop::parse(crop)?;
    }
    if extras.watermarks.len() > MAX_WATERMARKS {
        return Err(MediaError::invalid_spec(format!(
            "at most {MAX_WATERMARKS} watermarks per output, got {}",
            extras.watermarks.len()
        )));
    }
    extras.watermarks.iter().try_for_each(Watermark::validate)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Rotation {
    None,
    Quarter,
    Half,
    ThreeQuarters,
    Any(f64),
}

fn rotation(degrees: Option<f64>) -> Rotation {
    match degrees {
        None | Some(0.0) => Rotation::None,
        Some(90.0) => Rotation::Quarter,
        Some(180.0) => Rotation::Half,
        Some(270.0) => Rotation::ThreeQuarters,
        Some(d) => Rotation::Any(d),
    }
}

/// Filters turning the frame clockwise by `degrees`.
fn rotate_filters(degrees: Option<f64>) -> Vec<String> {
    match rotation(degrees) {
        Rotation::None => vec![],
        Rotation::Quarter => vec!["transpose=clock".into()],
        Rotation::Half => vec!["hflip".into(), "vflip".into()],
        Rotation::ThreeQuarters => vec!["transpose=cclock".into()],
        Rotation::Any(d) => {
            let angle = format!("{}*PI/180", num(d));
            vec![filter(
                "rotate",
                &[
                    ("a", angle.clone()),
                    ("ow", format!("trunc(rotw({angle})/2)*2")),
                    ("oh", format!("trunc(roth({angle})/2)*2")),
                    ("c", "black".into()),
                ],
            )]
        }
    }
}

/// The size filters for `Width`/`Height` under `AdjDarMethod`, with sizes the encoder
/// accepts (`rule`): explicit sides rounded down to its step, derived sides made
/// multiples of it.
fn size_filters(
    width: Option<u32>,
    height: Option<u32>,
    adj: AdjDarMethod,
    rule: SizeRule,
) -> Vec<String> {
    let (width, height) = (width.map(|w| rule.width(w)), height.map(|h| rule.height(h)));
    match (width, height) {
        (None, None) => vec![],
        (Some(w), None) => vec![format!("scale={w}:{}", rule.derived_height())],
        (None, Some(h)) => vec![format!("scale={}:{h}", rule.derived_width())],
        (Some(w), Some(h)) => match adj {
            AdjDarMethod::None => vec![format!("scale={w}:{h}")],
            AdjDarMethod::Scale => vec![format!("scale={w}:{h}"), "setsar=1".into()],
            AdjDarMethod::Crop => vec![
                format!("scale={w}:{h}:force_original_aspect_ratio=increase"),
                format!("crop={w}:{h}"),
                "setsar=1".into(),
            ],
            AdjDarMethod::Pad => vec![
                format!("scale={w}:{h}:force_original_aspect_ratio=decrease:force_divisible_by=2"),
                format!("pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:black"),
                "setsar=1".into(),
            ],
        },
    }
}

/// One step of an output's video processing.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Step {
    /// A filter on the main chain.
    Filter(String),
    /// An image drawn over the frame; the image is an extra ffmpeg input.
    Overlay(Overlay),
}

/// An image watermark as filters.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Overlay {
    /// The image file (becomes an `-i` input).
    pub image: std::path::PathBuf,
    /// Filters on the image before it is drawn (`format`, opacity, fixed size).
    pub prepare: Vec<String>,
    /// `scale2ref` options sizing the image relative to the frame (Proportion mode).
    pub scale_ref: Option<String>,
    /// The `overlay=…` filter.
    pub overlay: String,
}

/// The GIF palette stage: `palettegen` and `paletteuse` options.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Palette {
    pub generate: String,
    pub apply: String,
}

impl Palette {
    /// The plain palette used by transcodes to GIF.
    pub(crate) fn basic() -> Self {
        Self {
            generate: "palettegen".into(),
            apply: "paletteuse".into(),
        }
    }

    /// `split[a][b];[a]palettegen[p];[b][p]paletteuse`, labels prefixed by `prefix`.
    fn render(&self, prefix: &str) -> String {
        format!(
            "split[{prefix}a][{prefix}b];[{prefix}a]{}[{prefix}p];[{prefix}b][{prefix}p]{}",
            self.generate, self.apply
        )
    }
}

/// The video processing of one output.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct VideoChain {
    pub steps: Vec<Step>,
    pub palette: Option<Palette>,
}

impl VideoChain {
    /// Adds a filter to the main chain.
    pub(crate) fn push(&mut self, filter: impl Into<String>) {
        self.steps.push(Step::Filter(filter.into()));
    }

    /// The image files the chain needs as extra inputs, in order.
    pub(crate) fn images(&self) -> Vec<&std::path::Path> {
        self.steps
            .iter()
            .filter_map(|s| match s {
                Step::Overlay(o) => Some(o.image.as_path()),
                Step::Filter(_) => None,
            })
            .collect()
    }

    /// The chain as a `-vf` value, when it needs no extra input; `None` when there is
    /// nothing to do.
    pub(crate) fn simple(&self) -> Option<String> {
        let mut parts = Vec::new();
        for step in &self.steps {
            match step {
                Step::Filter(f) => parts.push(f.clone()),
                Step::Overlay(_) => return None,
            }
        }
        if let Some(palette) = &self.palette {
            parts.push(palette.render(""));
        }
        (!parts.is_empty()).then(|| parts.join(","))
    }

    /// The chain as a `-filter_complex` graph reading `[source]`, taking overlay images
    /// from ffmpeg inputs `inputs` (one per overlay, in order) and ending in `[out]`.
    /// Every internal label starts with `prefix`, so several graphs can coexist.
    pub(crate) fn complex(
        &self,
        source: &str,
        inputs: &[usize],
        prefix: &str,
        out: &str,
    ) -> String {
        let mut statements = Vec::new();
        let mut current = format!("[{source}]");
        let mut pending: Vec<String> = Vec::new();
        let mut images = inputs.iter();
        for (i, step) in self.steps.iter().enumerate() {
            match step {
                Step::Filter(f) => pending.push(f.clone()),
                Step::Overlay(o) => {
                    let base = format!("[{prefix}base{i}]");
                    statements.push(format!("{current}{}{base}", chain_or_null(&pending)));
                    pending.clear();
                    let input = images.next().copied().unwrap_or_default();
                    let mark = format!("[{prefix}mark{i}]");
                    statements.push(format!("[{input}:v]{}{mark}", chain_or_null(&o.prepare)));
                    let (mark, base) = match &o.scale_ref {
                        Some(opts) => {
                            let (m2, b2) =
                                (format!("[{prefix}mark{i}s]"), format!("[{prefix}base{i}s]"));
                            statements.push(format!("{mark}{base}scale2ref={opts}{m2}{b2}"));
                            (m2, b2)
                        }
                        None => (mark, base),
                    };
                    let next = format!("[{prefix}over{i}]");
                    statements.push(format!("{base}{mark}{}{next}", o.overlay));
                    current = next;
                }
            }
        }
        if let Some(palette) = &self.palette {
            pending.push(palette.render(prefix));
        }
        statements.push(format!("{current}{}[{out}]", chain_or_null(&pending)));
        statements.join(";")
    }
}

fn chain_or_null(filters: &[String]) -> String {
    if filters.is_empty() {
        "null".into()
    } else {
        filters.join(",")
    }
}

/// Builds the video chain of an output encoding `codec` with `spec` and `extras`.
/// `gif_fps` is the frame rate GIF output is sampled to; `source` is the decoded
/// (autorotated) frame size, when known.
pub(crate) fn video_chain(
    codec: VideoCodec,
    spec: &VideoSpec,
    extras: &TranscodeExtras,
    gif_fps: Option<f64>,
    source: Option<(u32, u32)>,
) -> Result<VideoChain, MediaError> {
    let mut chain = VideoChain::default();
    if let Some(filter) = extras.delogo.and_then(|d| d.filter(source)) {
        chain.push(filter);
    }
    if let Some(fps) = gif_fps {
        chain.push(format!("fps={}", num(fps)));
    }
    let crop = extras.crop.as_deref().map(Crop::parse).transpose()?;
    if let Some(c) = crop {
        chain.push(format!(
            "crop={}:{}:{}:{}",
            c.width, c.height, c.left, c.top
        ));
    }
    rotate_filters(extras.rotate)
        .into_iter()
        .for_each(|f| chain.push(f));
    let rule = SizeRule::for_encode(codec, spec);
    let size = size_filters(spec.width, spec.height, extras.adj_dar, rule);
    if size.is_empty() {
        // The frame keeps the size of the source (or crop, or rotation): make sure the
        // encoder takes it.
        let before = crop.map(|c| (c.width, c.height)).or(source);
        let known = match rotation(extras.rotate) {
            Rotation::None | Rotation::Half => before,
            Rotation::Quarter | Rotation::ThreeQuarters => before.map(|(w, h)| (h, w)),
            Rotation::Any(_) => None,
        };
        if !known.is_some_and(|s| rule.fits(s)) {
            rule.guard().into_iter().for_each(|f| chain.push(f));
        }
    }
    size.into_iter().for_each(|f| chain.push(f));
    for mark in &extras.watermarks {
        match &mark.kind {
            WatermarkKind::Text(_) => chain.push(watermark::text_filter(mark)?),
            WatermarkKind::Image(_) => chain.steps.push(Step::Overlay(watermark::overlay(mark)?)),
        }
    }
    if codec == VideoCodec::Gif {
        chain.palette = Some(Palette::basic());
    }
    Ok(chain)
}

mod checks;
mod delogo;

pub use delogo::Delogo;

pub(crate) use checks::apply_checks;

#[cfg(test)]
mod tests;
