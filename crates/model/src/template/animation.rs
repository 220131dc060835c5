//! Typed view of Animation templates.

use crate::error::InvalidInput;
use crate::fields::Fields;
use crate::xml::XmlElement;

/// Typed view of an Animation template.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AnimationParams {
    /// `gif`, `hgif` or `webp`.
    pub format: String,
    /// Pixels.
    pub width: Option<u32>,
    /// Pixels.
    pub height: Option<u32>,
    /// Output frame rate.
    pub fps: Option<f64>,
    /// Keep only key frames.
    pub only_keyframes: bool,
    /// One frame every this many seconds.
    pub interval_of_frame: Option<f64>,
    /// Frames sampled per second (wins over the two above).
    pub frames_per_second: Option<f64>,
    /// webp quality.
    pub quality: Option<f64>,
    /// Seconds.
    pub start: Option<f64>,
    /// Seconds.
    pub duration: Option<f64>,
}

impl AnimationParams {
    /// Reads a validated Animation `TransTpl`.
    pub fn from_container(tpl: &XmlElement) -> Result<Self, InvalidInput> {
        let container = tpl
            .child("Container")
            .ok_or_else(|| InvalidInput::rule("Request.Container", "is required"))?;
        let format = Fields::new(container, "Request.Container")
            .required("Format")?
            .to_ascii_lowercase();
        let video = tpl
            .child("Video")
            .ok_or_else(|| InvalidInput::rule("Request.Video", "is required"))?;
        let v = Fields::new(video, "Request.Video");
        let codec = v.required("Codec")?.to_ascii_lowercase();
        let expected = if format == "webp" { "webp" } else { "gif" };
        if codec != expected {
            return Err(InvalidInput::rule(
                "Request.Video.Codec",
                format!("a {format} animation needs Codec {expected}"),
            ));
        }
        let (start, duration) = super::transcode::time_interval(tpl)?;
        Ok(AnimationParams {
            format,
            width: v.u32_in("Width", 128, 4096)?,
            height: v.u32_in("Height", 128, 4096)?,
            fps: v.f64_in("Fps", 0.001, 60.0)?,
            only_keyframes: v.bool("AnimateOnlyKeepKeyFrame")?.unwrap_or(false),
            interval_of_frame: v.f64_in("AnimateTimeIntervalOfFrame", 0.001, 86_400.0)?,
            frames_per_second: v.f64_in("AnimateFramesPerSecond", 0.001, 60.0)?,
            quality: v.f64_in("Quality", 1.0, 99.999)?,
            start,
            duration,
        })
    }

    /// Extension of the produced file.
    pub fn extension(&self) -> &'static str {
        if self.format == "webp" { "webp" } else { "gif" }
    }
}
