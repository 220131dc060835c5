//! Encoder options: one function per stream kind, one arm per encoder.
//!
//! Kept apart from the output layout (`args.rs`) because this is where codec
//! knowledge lives: preset vocabularies, which pixel formats an encoder takes, how CRF
//! and bitrate map onto each rate-control model, and CI's defaults for all of them.

use super::codec::{AudioCodec, VideoCodec};
use super::{AudioSpec, VideoSpec};
use crate::error::MediaError;
use crate::ffmpeg::num;

const X26X_PRESETS: &[&str] = &[
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
];
const DEFAULT_X26X_PRESET: &str = "veryfast";
const DEFAULT_CRF: f64 = 25.0;
const DEFAULT_GIF_FPS: f64 = 10.0;

/// The frame rate GIF output is sampled to (`fps` filter), `None` for other codecs.
pub(crate) fn gif_fps(codec: VideoCodec, spec: &VideoSpec) -> Option<f64> {
    (codec == VideoCodec::Gif).then(|| spec.fps.unwrap_or(DEFAULT_GIF_FPS))
}

/// `-c:v …` and everything the encoder needs, except filters (the caller builds the
/// video chain: see `extras::video_chain`).
pub(crate) fn encode_args(
    codec: VideoCodec,
    spec: &VideoSpec,
    segment: Option<f64>,
) -> Result<Vec<String>, MediaError> {
    let mut args = vec!["-c:v".to_owned(), codec.encoder().to_owned()];
    if let Some(fps) = spec.fps.filter(|_| codec != VideoCodec::Gif) {
        args.extend(["-r".into(), num(fps)]);
    }
    args.extend(encoder_args(codec, spec)?);
    if let Some(gop) = spec.gop {
        args.extend(["-g".into(), gop.to_string()]);
    }
    if let Some(secs) = segment {
        // Segments can only start on key frames: put one on every boundary.
        args.extend([
            "-force_key_frames".into(),
            format!("expr:gte(t,n_forced*{})", num(secs)),
        ]);
    }
    Ok(args)
}

/// Preset, profile, pixel format and rate control for one encoder.
fn encoder_args(codec: VideoCodec, spec: &VideoSpec) -> Result<Vec<String>, MediaError> {
    let pixfmt = pixel_format(codec, spec.pixfmt.as_deref())?;
    let mut args = Vec::new();
    match codec {
        VideoCodec::H264 | VideoCodec::H265 => {
            args.extend(["-preset".into(), x26x_preset(spec.preset.as_deref())?]);
            if codec == VideoCodec::H264 {
                if let Some(profile) = h264_profile(spec.profile.as_deref(), pixfmt)? {
                    args.extend(["-profile:v".into(), profile.into()]);
                }
            } else {
                args.extend(["-x265-params".into(), "log-level=error".into()]);
            }
        }
        VideoCodec::Vp8 | VideoCodec::Vp9 => {
            let deadline = match spec
                .preset
                .as_deref()
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                None | Some("realtime") => "realtime",
                Some("good") => "good",
                Some(other) => {
                    return Err(MediaError::invalid_spec(format!(
                        "VP8/VP9 preset {other:?} is not supported (good, realtime)"
                    )));
                }
            };
            let cpu_used = if deadline == "realtime" { "8" } else { "4" };
            args.extend([
                "-deadline".into(),
                deadline.into(),
                "-cpu-used".into(),
                cpu_used.into(),
            ]);
        }
        VideoCodec::Av1 => {
            let preset = spec
                .preset
                .as_deref()
                .and_then(|p| p.trim().parse::<u8>().ok())
                .filter(|p| *p <= 13);
            args.extend(["-preset".into(), preset.unwrap_or(8).to_string()]);
        }
        VideoCodec::Gif => return Ok(args),
    }
    if let Some(pixfmt) = pixfmt {
        args.extend(["-pix_fmt".into(), pixfmt.into()]);
    }
    args.extend(rate_args(codec, spec));
    Ok(args)
}

fn x26x_preset(preset: Option<&str>) -> Result<String, MediaError> {
    let Some(preset) = preset.map(|p| p.trim().to_ascii_lowercase()) else {
        return Ok(DEFAULT_X26X_PRESET.into());
    };
    if X26X_PRESETS.contains(&preset.as_str()) {
        Ok(preset)
    } else {
        Err(MediaError::invalid_spec(format!(
            "video preset {preset:?} is not supported"
        )))
    }
}

/// The `-pix_fmt` of an encode; `None` means "let the encoder choose" (`auto`).
pub(crate) fn pixel_format(
    codec: VideoCodec,
    requested: Option<&str>,
) -> Result<Option<&'static str>, MediaError> {
    const H264: &[&str] = &[
        "yuv420p", "yuv422p", "yuv444p", "yuvj420p", "yuvj422p", "yuvj444p",
    ];
    const TEN_BIT: &[&str] = &["yuv420p", "yuv420p10le"];
    let allowed: &[&'static str] = match codec {
        VideoCodec::H264 => H264,
        VideoCodec::H265 | VideoCodec::Av1 => TEN_BIT,
        VideoCodec::Vp8 | VideoCodec::Vp9 => &["yuv420p"],
        VideoCodec::Gif => return Ok(None),
    };
    match requested.map(|p| p.trim().to_ascii_lowercase()) {
        None => Ok(Some("yuv420p")),
        Some(p) if p == "auto" => Ok(None),
        Some(p) => allowed
            .iter()
            .find(|a| **a == p)
            .map(|a| Some(*a))
            .ok_or_else(|| {
                MediaError::invalid_spec(format!(
                    "pixel format {p:?} is not allowed for {}",
                    codec.ci_name()
                ))
            }),
    }
}

/// CI's default is `high`; 4:2:2 and 4:4:4 need x264's `high422`/`high444` variant.
fn h264_profile(
    requested: Option<&str>,
    pixfmt: Option<&str>,
) -> Result<Option<&'static str>, MediaError> {
    let chroma = pixfmt.map(|p| p.trim_start_matches("yuvj").trim_start_matches("yuv"));
    let high = match chroma {
        Some(c) if c.starts_with("422") => "high422",
        Some(c) if c.starts_with("444") => "high444",
        _ => "high",
    };
    let requested = requested.map(|p| p.trim().to_ascii_lowercase());
    match requested.as_deref() {
        None | Some("high") => Ok(Some(high)),
        Some("auto") => Ok(None),
        Some(p @ ("baseline" | "main")) if high == "high" => {
            Ok(Some(if p == "main" { "main" } else { "baseline" }))
        }
        Some(p) => Err(MediaError::invalid_spec(format!(
            "H.264 profile {p:?} is not supported with pixel format {}",
            pixfmt.unwrap_or("auto")
        ))),
    }
}

/// CRF wins over bitrate (CI); neither means CRF 25.
fn rate_args(codec: VideoCodec, spec: &VideoSpec) -> Vec<String> {
    let crf = spec
        .crf
        .or(spec.bitrate_kbps.is_none().then_some(DEFAULT_CRF));
    let kbps = |k: u32| format!("{k}k");
    let mut args = Vec::new();
    match (codec, crf) {
        (VideoCodec::H264 | VideoCodec::H265, Some(crf)) => args.extend(["-crf".into(), num(crf)]),
        (VideoCodec::Vp9, Some(crf)) => {
            args.extend(["-crf".into(), int_crf(crf), "-b:v".into(), "0".into()])
        }
        (VideoCodec::Vp8, Some(crf)) => {
            // libvpx VP8 needs a bitrate ceiling for constrained quality.
            let cap = spec.bitrate_kbps.or(spec.maxrate_kbps).unwrap_or(2000);
            args.extend([
                "-crf".into(),
                int_crf(crf.max(4.0)),
                "-b:v".into(),
                kbps(cap),
            ]);
        }
        (VideoCodec::Av1, Some(crf)) => args.extend(["-crf".into(), int_crf(crf)]),
        (VideoCodec::Gif, _) => {}
        (_, None) => args.extend(
            spec.bitrate_kbps
                .map(|b| ["-b:v".into(), kbps(b)])
                .into_iter()
                .flatten(),
        ),
    }
    if matches!(codec, VideoCodec::H264 | VideoCodec::H265)
        && let Some(max) = spec.maxrate_kbps
    {
        let buf = spec.bufsize_kb.unwrap_or(max.saturating_mul(2));
        args.extend(["-maxrate".into(), kbps(max), "-bufsize".into(), kbps(buf)]);
    }
    args
}

fn int_crf(crf: f64) -> String {
    (crf.round().clamp(0.0, 63.0) as u32).to_string()
}

/// `-c:a …`, sample rate, bitrate and channels.
pub(crate) fn audio_args(codec: AudioCodec, spec: &AudioSpec) -> Vec<String> {
    let rate = spec.samplerate.unwrap_or(codec.default_sample_rate());
    let mut args = vec![
        "-c:a".to_owned(),
        codec.encoder().to_owned(),
        "-ar".to_owned(),
        rate.to_string(),
    ];
    if let Some(kbps) = spec.bitrate_kbps.filter(|_| codec.takes_bitrate()) {
        args.extend(["-b:a".into(), format!("{kbps}k")]);
    }
    if let Some(channels) = spec.channels {
        args.extend(["-ac".into(), channels.to_string()]);
    }
    args
}
