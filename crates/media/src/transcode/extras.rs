//! Transcode settings beyond [`TranscodeSpec`]: CI `Video.Rotate`, `Video.Crop`,
//! `TransConfig` (`AdjDarMethod`, the `IsCheck*` source checks) and watermarks.
//!
//! They live in their own struct, [`TranscodeExtras`], so `TranscodeSpec` stays
//! source-compatible; [`transcode_with`](super::transcode_with) and
//! [`run_fused`](super::run_fused) take both.
//!
//! The video filter chain of an output is, in order:
//! `fps` (GIF only) → `crop` → rotation → size (`AdjDarMethod`) → watermarks in the order
//! given → GIF palette. Text watermarks are plain `drawtext` filters; image watermarks
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

/// The source frame size after crop and rotation (what scaling starts from).
fn effective_source(extras: &TranscodeExtras, info: &MediaInfo) -> Option<(u32, u32)> {
    let video = info.video()?;
    let (mut w, mut h) = (video.width?, video.height?);
    if let Some(crop) = extras.crop.as_deref().and_then(|c| Crop::parse(c).ok()) {
        (w, h) = (crop.width, crop.height);
    }
    match rotation(extras.rotate) {
        Rotation::None | Rotation::Half => {}
        Rotation::Quarter | Rotation::ThreeQuarters => (w, h) = (h, w),
        Rotation::Any(deg) => {
            let (sin, cos) = deg.to_radians().sin_cos();
            let (fw, fh) = (f64::from(w), f64::from(h));
            w = (fw * cos.abs() + fh * sin.abs()).round() as u32;
            h = (fw * sin.abs() + fh * cos.abs()).round() as u32;
        }
    }
    Some((w, h))
}

/// Applies the source checks (and crop bounds) to a spec, returning the spec to
/// encode: unchanged, or with source values substituted under `UseSource`.
pub(crate) fn apply_checks<'a>(
    spec: &'a TranscodeSpec,
    extras: &TranscodeExtras,
    info: &MediaInfo,
) -> Result<Cow<'a, TranscodeSpec>, MediaError> {
    validate_extras(extras)?;
    check_crop_bounds(extras, info)?;
    let mut spec = Cow::Borrowed(spec);
    let checks = extras.checks;
    if let Some(method) = checks.resolution {
        check_resolution(&mut spec, method, effective_source(extras, info))?;
    }
    if let Some(method) = checks.video_bitrate {
        let source = source_video_bitrate(info);
        let target = spec
            .video
            .as_ref()
            .filter(|v| v.crf.is_none())
            .and_then(|v| v.bitrate_kbps);
        if let Some(kbps) = exceeded("video bitrate", target, source, method, "kbps")?
            && let Some(v) = spec.to_mut().video.as_mut()
        {
            v.bitrate_kbps = Some(kbps);
        }
    }
    if let Some(method) = checks.audio_bitrate {
        let source = info.audio().and_then(|a| a.bit_rate).map(kbps_of);
        let target = spec.audio.as_ref().and_then(|a| a.bitrate_kbps);
        if let Some(kbps) = exceeded("audio bitrate", target, source, method, "kbps")?
            && let Some(a) = spec.to_mut().audio.as_mut()
        {
            a.bitrate_kbps = Some(kbps);
        }
    }
    if let Some(method) = checks.video_fps {
        let source = info.video().and_then(|v| v.fps);
        let target = spec.video.as_ref().and_then(|v| v.fps);
        if let (Some(t), Some(s)) = (target, source)
            && t > s + 0.01
        {
            match method {
                AdjMethod::Fail => {
                    return Err(check_failed("frame rate", &num(t), &num(s), "fps"));
                }
                AdjMethod::UseSource => {
                    if let Some(v) = spec.to_mut().video.as_mut() {
                        v.fps = None;
                    }
                }
            }
        }
    }
    Ok(spec)
}

fn kbps_of(bits: u64) -> u32 {
    u32::try_from(bits / 1000).unwrap_or(u32::MAX).max(1)
}

/// The source video bitrate in kbit/s: the stream's, else the container's minus audio.
fn source_video_bitrate(info: &MediaInfo) -> Option<u32> {
    let video = info.video()?;
    if let Some(bits) = video.bit_rate {
        return Some(kbps_of(bits));
    }
    let total = info.bit_rate?;
    let audio = info.audio().and_then(|a| a.bit_rate).unwrap_or(0);
    Some(kbps_of(total.saturating_sub(audio)))
}

/// `Some(source)` when `target` exceeds `source` and the method says use the source.
fn exceeded(
    what: &str,
    target: Option<u32>,
    source: Option<u32>,
    method: AdjMethod,
    unit: &str,
) -> Result<Option<u32>, MediaError> {
    match (target, source) {
        (Some(t), Some(s)) if t > s => match method {
            AdjMethod::UseSource => Ok(Some(s)),
            AdjMethod::Fail => Err(check_failed(what, &t.to_string(), &s.to_string(), unit)),
        },
        _ => Ok(None),
    }
}

fn check_failed(what: &str, target: &str, source: &str, unit: &str) -> MediaError {
    MediaError::invalid_input(format!(
        "the target {what} {target} {unit} exceeds the source's {source} {unit} \
         and the template's TransConfig says to fail (AdjMethod 1)"
    ))
}

fn check_resolution(
    spec: &mut Cow<'_, TranscodeSpec>,
    method: AdjMethod,
    source: Option<(u32, u32)>,
) -> Result<(), MediaError> {
    let Some((sw, sh)) = source.filter(|(w, h)| *w > 0 && *h > 0) else {
        return Ok(());
    };
    let Some(v) = spec.video.as_ref() else {
        return Ok(());
    };
    let (tw, th) = match (v.width, v.height) {
        (None, None) => return Ok(()),
        (Some(w), Some(h)) => (w, h),
        (Some(w), None) => (w, scaled(sh, w, sw)),
        (None, Some(h)) => (scaled(sw, h, sh), h),
    };
    if tw <= sw && th <= sh {
        return Ok(());
    }
    match method {
        AdjMethod::Fail => Err(check_failed(
            "resolution",
            &format!("{tw}x{th}"),
            &format!("{sw}x{sh}"),
            "px",
        )),
        AdjMethod::UseSource => {
            if let Some(v) = spec.to_mut().video.as_mut() {
                v.width = None;
                v.height = None;
            }
            Ok(())
        }
    }
}

/// `side × num / den`, rounded.
fn scaled(side: u32, num: u32, den: u32) -> u32 {
    (f64::from(side) * f64::from(num) / f64::from(den)).round() as u32
}

fn check_crop_bounds(extras: &TranscodeExtras, info: &MediaInfo) -> Result<(), MediaError> {
    let Some(crop) = extras.crop.as_deref() else {
        return Ok(());
    };
    let crop = Crop::parse(crop)?;
    let Some((w, h)) = info.video().and_then(|v| Some((v.width?, v.height?))) else {
        return Ok(());
    };
    let right = u64::from(crop.left) + u64::from(crop.width);
    let bottom = u64::from(crop.top) + u64::from(crop.height);
    if right > u64::from(w) || bottom > u64::from(h) {
        return Err(MediaError::invalid_input(format!(
            "crop {}:{}:{}:{} reaches outside the {w}x{h} source",
            crop.width, crop.height, crop.left, crop.top
        )));
    }
    Ok(())
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

/// The size filters for `Width`/`Height` under `AdjDarMethod`.
fn size_filters(width: Option<u32>, height: Option<u32>, adj: AdjDarMethod) -> Vec<String> {
    match (width, height) {
        (None, None) => vec![],
        (Some(w), None) => vec![format!("scale={w}:-2")],
        (None, Some(h)) => vec![format!("scale=-2:{h}")],
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
/// `gif_fps` is the frame rate GIF output is sampled to.
pub(crate) fn video_chain(
    codec: VideoCodec,
    spec: &VideoSpec,
    extras: &TranscodeExtras,
    gif_fps: Option<f64>,
) -> Result<VideoChain, MediaError> {
    let mut chain = VideoChain::default();
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
    let rotate = rotate_filters(extras.rotate);
    let any_angle = matches!(rotation(extras.rotate), Rotation::Any(_));
    rotate.into_iter().for_each(|f| chain.push(f));
    let size = size_filters(spec.width, spec.height, extras.adj_dar);
    // Encoders of 4:2:0 video want even sizes; a crop or a free rotation may break that.
    if size.is_empty() && (crop.is_some() || any_angle) && codec != VideoCodec::Gif {
        chain.push("scale=trunc(iw/2)*2:trunc(ih/2)*2");
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

#[cfg(test)]
mod tests;
