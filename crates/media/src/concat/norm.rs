//! The normalised format of a re-encoding concatenation: one frame size (as the inputs
//! are displayed, in sizes the encoder takes), frame rate, sample rate and channel
//! layout for every input.

use super::{ConcatInput, DEFAULT_FPS};
use crate::probe::StreamInfo;
use crate::transcode::{AudioCodec, SizeRule, TranscodeSpec};

/// The normalised picture and sound every input is brought to.
pub(super) struct Norm {
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub rate: u32,
    pub layout: &'static str,
}

fn rounded(v: f64) -> u32 {
    v.round().max(1.0) as u32
}

fn layout(channels: u32) -> &'static str {
    match channels {
        1 => "mono",
        2 => "stereo",
        3 => "2.1",
        4 => "quad",
        5 => "5.0",
        6 => "5.1",
        7 => "6.1",
        _ => "7.1",
    }
}

/// The common frame size: the target's, else derived from the first video input as it
/// is displayed (autorotated), made acceptable to the encoder by `rule`.
pub(super) fn norm(
    inputs: &[ConcatInput],
    target: &TranscodeSpec,
    audio: Option<AudioCodec>,
    rule: SizeRule,
) -> Norm {
    let first_video = inputs.iter().find_map(|i| i.info.video());
    let source = first_video.and_then(StreamInfo::display_size);
    let v = target.video.as_ref();
    let (tw, th) = (v.and_then(|v| v.width), v.and_then(|v| v.height));
    let (width, height) = match (tw, th, source) {
        (Some(w), Some(h), _) => (w, h),
        (Some(w), None, Some((sw, sh))) => {
            (w, rounded(f64::from(w) * f64::from(sh) / f64::from(sw)))
        }
        (None, Some(h), Some((sw, sh))) => {
            (rounded(f64::from(h) * f64::from(sw) / f64::from(sh)), h)
        }
        (None, None, Some((sw, sh))) => (sw, sh),
        (w, h, None) => (w.unwrap_or(1280), h.unwrap_or(720)),
    };
    let (width, height) = (rule.width(width), rule.height(height));
    let fps = v
        .and_then(|v| v.fps)
        .or_else(|| first_video.and_then(|v| v.fps))
        .map(|f| (f * 1000.0).round() / 1000.0)
        .unwrap_or(DEFAULT_FPS);
    let a = target.audio.as_ref();
    let rate = a
        .and_then(|a| a.samplerate)
        .unwrap_or_else(|| audio.map_or(44_100, AudioCodec::default_sample_rate));
    let channels = a.and_then(|a| a.channels).unwrap_or_else(|| {
        inputs
            .iter()
            .filter_map(|i| i.info.audio()?.channels)
            .max()
            .unwrap_or(2)
            .min(2)
    });
    Norm {
        width,
        height,
        fps,
        rate,
        layout: layout(channels),
    }
}
