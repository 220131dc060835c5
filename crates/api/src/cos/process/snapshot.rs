//! `GET /<key>?ci-process=snapshot&time=<s>[&width&height&format&rotate&mode]`: one image.
//!
//! Parameters (DOC-CI 1045/43731): `time` seconds (required, ≥ 0, at most the duration);
//! `width`/`height` pixels, 0 or absent for the source size, one of them 0 to keep the aspect
//! ratio; `format` `jpg` (default) or `png`; `rotate` `auto` (default: honour the display
//! matrix) or `off`; `mode` `exactframe` (default) or `keyframe` (the key frame at or
//! before `time`).
//!
//! Latency is one ffmpeg run ([`reelflow_media::still`]: input seek, one decoded frame), and
//! in the common case nothing else:
//! - `exactframe`: ffmpeg writes the first frame at or after `time`, so an image proves that
//!   `time` lies within the media; ffprobe runs only when no image came out, to tell why
//!   (not media, no video, past the duration, or between the last frame and the end, where
//!   the last frame is shown and is extracted by a retry just before the video's end);
//! - `keyframe`: the key frame at or before `time` exists even past the end, so ffprobe runs
//!   *alongside* ffmpeg to check `time` against the duration, adding no latency to speak of.

use axum::response::Response;
use reelflow_media::{
    ImageFormat, MediaError, MediaReport, MediaTools, RunControl, StillMode, StillSpec,
};

use super::input::{MediaInput, Scratch};
use super::{body_response, invalid, media_error, object};
use crate::context::query_value;
use crate::state::AppState;
use crate::{ApiError, Ctx};

/// Largest width or height accepted.
const MAX_SIDE: u32 = 8192;

/// Serves the snapshot call.
pub(super) async fn snapshot(state: &AppState, ctx: &Ctx, key: &str) -> Result<Response, ApiError> {
    let spec = parse(&ctx.query)?;
    let record = object(state, ctx, key).await?;
    let input = MediaInput::open(state, &record).await?;
    let scratch = Scratch::create(state.engine.work_dir()).await?;
    let out = scratch.file(&format!("still.{}", spec.format.ext()));
    let tools = MediaTools::default();
    let ctl = RunControl::new();
    let source = input.source();
    let still = tools.still(source, &spec, &out, &ctl);
    let (written, report) = match spec.mode {
        StillMode::ExactFrame => (still.await, None),
        StillMode::KeyFrame => {
            let (written, report) = tokio::join!(still, tools.probe_report(source, &ctl));
            (written, Some(report))
        }
    };
    let written = match (written, report) {
        (Ok(true), None) => true,
        (written, report) => {
            let report = match report {
                Some(report) => report,
                None => tools.probe_report(source, &ctl).await,
            };
            let report = report.map_err(|e| media_error(key, e))?;
            check_against(&report, &spec, key)?;
            let written = written.map_err(|e| still_error(key, e))?;
            if written || spec.mode == StillMode::KeyFrame {
                written
            } else {
                last_frame(&tools, source, &spec, &out, &report, key).await?
            }
        }
    };
    if !written {
        return Err(invalid(format!(
            "time {} is beyond the last frame of {key:?}",
            spec.time
        )));
    }
    let image = tokio::fs::read(&out)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let content_type = match spec.format {
        ImageFormat::Png => "image/png",
        _ => "image/jpeg",
    };
    Ok(body_response(content_type, image))
}

/// The snapshot parameters, or 400 `InvalidArgument` naming the bad one.
fn parse(query: &[(String, String)]) -> Result<StillSpec, ApiError> {
    let value = |name: &str| query_value(query, name).map(str::trim);
    let time = match value("time") {
        None | Some("") => return Err(invalid("the time parameter is required (seconds)")),
        Some(text) => text
            .parse::<f64>()
            .ok()
            .filter(|t| t.is_finite() && *t >= 0.0)
            .ok_or_else(|| {
                invalid(format!(
                    "time {text:?} is not a non-negative number of seconds"
                ))
            })?,
    };
    let format = match value("format").map(str::to_ascii_lowercase).as_deref() {
        None | Some("") | Some("jpg") | Some("jpeg") => ImageFormat::Jpg,
        Some("png") => ImageFormat::Png,
        Some(other) => return Err(invalid(format!("format {other:?} is not jpg or png"))),
    };
    let autorotate = match value("rotate").map(str::to_ascii_lowercase).as_deref() {
        None | Some("") | Some("auto") => true,
        Some("off") => false,
        Some(other) => return Err(invalid(format!("rotate {other:?} is not auto or off"))),
    };
    let mode = match value("mode").map(str::to_ascii_lowercase).as_deref() {
        None | Some("") | Some("exactframe") => StillMode::ExactFrame,
        Some("keyframe") => StillMode::KeyFrame,
        Some(other) => {
            return Err(invalid(format!(
                "mode {other:?} is not exactframe or keyframe"
            )));
        }
    };
    Ok(StillSpec {
        time,
        width: side(value("width"), "width")?,
        height: side(value("height"), "height")?,
        format,
        autorotate,
        mode,
    })
}

/// `width`/`height`: absent, empty or 0 is `None` (the source's), else 1..=[`MAX_SIDE`].
fn side(text: Option<&str>, name: &str) -> Result<Option<u32>, ApiError> {
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    match text.parse::<u32>() {
        Ok(0) => Ok(None),
        Ok(n) if n <= MAX_SIDE => Ok(Some(n)),
        _ => Err(invalid(format!(
            "{name} {text:?} is not a number of pixels from 0 to {MAX_SIDE}"
        ))),
    }
}

/// What the probe says about the call: 400 without a video stream or past the duration.
fn check_against(report: &MediaReport, spec: &StillSpec, key: &str) -> Result<(), ApiError> {
    if !report.info.has_video() {
        return Err(invalid(format!("object {key:?} has no video stream")));
    }
    if let Some(duration) = report.info.duration
        && spec.time > duration
    {
        return Err(invalid(format!(
            "time {} is beyond the duration of {key:?} ({duration} s)",
            spec.time
        )));
    }
    Ok(())
}

/// Between the last frame and the end of the media the last frame is on screen: extracts it by
/// seeking just before the video's end. `Ok(false)` when that fails too.
async fn last_frame(
    tools: &MediaTools,
    source: &reelflow_media::MediaSource,
    spec: &StillSpec,
    out: &std::path::Path,
    report: &MediaReport,
    key: &str,
) -> Result<bool, ApiError> {
    let ctl = RunControl::new();
    for time in last_frame_times(report) {
        let retry = StillSpec {
            time,
            ..spec.clone()
        };
        let written = tools
            .still(source, &retry, out, &ctl)
            .await
            .map_err(|e| still_error(key, e))?;
        if written {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Times that land on the last frame: just before the video's end (half a frame before the
/// last frame starts), then a second before it.
fn last_frame_times(report: &MediaReport) -> Vec<f64> {
    let Some(video) = report.info.video() else {
        return Vec::new();
    };
    let Some(end) = video.duration.or(report.info.duration) else {
        return Vec::new();
    };
    let frame = 1.0 / video.fps.unwrap_or(25.0);
    [end - 1.5 * frame, end - 1.0]
        .into_iter()
        .map(|t| t.max(0.0))
        .collect()
}

/// A failed extraction: 400 when ffmpeg could not decode the input, else 500.
fn still_error(key: &str, error: MediaError) -> ApiError {
    match error {
        MediaError::InvalidInput { message } => {
            tracing::debug!(key, %message, "ci-process snapshot could not decode a frame");
            invalid(format!(
                "no frame could be decoded from {key:?} at that time"
            ))
        }
        other => ApiError::internal(&other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn error(pairs: &[(&str, &str)]) -> String {
        let err = parse(&query(pairs)).unwrap_err();
        assert_eq!(err.code, "InvalidArgument");
        err.message
    }

    #[test]
    fn defaults_and_sdk_parameters() {
        let spec = parse(&query(&[
            ("time", "1.5"),
            ("format", "jpg"),
            ("rotate", "auto"),
            ("mode", "exactframe"),
        ]))
        .unwrap();
        assert_eq!(spec.time, 1.5);
        assert_eq!((spec.width, spec.height), (None, None));
        assert_eq!(spec.format, ImageFormat::Jpg);
        assert!(spec.autorotate);
        assert_eq!(spec.mode, StillMode::ExactFrame);
        let spec = parse(&query(&[
            ("time", "0"),
            ("width", "320"),
            ("height", "0"),
            ("format", "PNG"),
            ("rotate", "off"),
            ("mode", "keyframe"),
        ]))
        .unwrap();
        assert_eq!((spec.width, spec.height), (Some(320), None));
        assert_eq!(spec.format, ImageFormat::Png);
        assert!(!spec.autorotate);
        assert_eq!(spec.mode, StillMode::KeyFrame);
    }

    #[test]
    fn bad_parameters_are_named() {
        assert!(error(&[]).contains("time"));
        assert!(error(&[("time", "abc")]).contains("time"));
        assert!(error(&[("time", "-1")]).contains("time"));
        assert!(error(&[("time", "inf")]).contains("time"));
        assert!(error(&[("time", "1"), ("width", "-5")]).contains("width"));
        assert!(error(&[("time", "1"), ("height", "9999")]).contains("height"));
        assert!(error(&[("time", "1"), ("format", "gif")]).contains("format"));
        assert!(error(&[("time", "1"), ("rotate", "90")]).contains("rotate"));
        assert!(error(&[("time", "1"), ("mode", "fast")]).contains("mode"));
    }
}
