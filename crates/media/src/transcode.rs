//! Transcoding: CI transcode templates as typed specs, run by ffmpeg.
//!
//! The engine converts a CI `Transcode` template (reference section 5.2) into a
//! [`TranscodeSpec`]; this module checks it ([`validate_spec`]), builds the ffmpeg
//! arguments ([`transcode_args`], pure and unit-tested) and runs them
//! ([`transcode`]). HLS and DASH write a playlist/manifest plus segments next to the
//! output path; every file written is returned so the caller can upload them all.
//!
//! **Fused execution.** [`transcode_many`] writes several outputs from one ffmpeg
//! process: the input is read and decoded once and each output gets its own encoder
//! section. A workflow with several transcode nodes on the same input saves a decode
//! per extra output (and a download, if the caller shares the input file).
//! [`run_fused`] generalises it: each output may carry its own [`TranscodeExtras`]
//! (crop, rotation, `AdjDarMethod`, source checks, watermarks) and snapshot outputs can
//! share the decode too ([`OutputJob`]).

mod args;
mod codec;
mod compat;
mod encoders;
mod extras;
mod fused;
mod size;
#[cfg(test)]
mod tests;
mod watermark;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub(crate) use self::args::{Invocation, VIDEO, muxer_args, resolve};
use self::args::{Section, build, build_sections};
pub(crate) use self::codec::{AudioCodec, Layout, VideoCodec, container};
pub(crate) use self::compat::{
    copied_video_args, encoded_tag_args, hls_fmp4_args, keeps_rotation, video_tag_args,
};
pub(crate) use self::encoders::{audio_args, encode_args};
pub(crate) use self::extras::video_chain;
pub use self::extras::{
    AdjDarMethod, AdjMethod, Delogo, MAX_WATERMARKS, TransChecks, TranscodeExtras, validate_extras,
};
pub use self::fused::{JobFiles, OutputJob, fused_args, run_fused};
pub(crate) use self::size::SizeRule;
pub use self::watermark::{
    ImageWatermark, ImageWatermarkMode, LocMode, TextWatermark, Watermark, WatermarkKind,
    WatermarkPos, find_font,
};
use crate::error::MediaError;
use crate::limits::MediaTools;
use crate::paths;
use crate::probe::MediaInfo;
use crate::process::RunControl;

/// What to produce from an input: container, encodes and time range.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TranscodeSpec {
    /// CI `Container/Format`: mp4, mov, mkv, flv, ts, avi, hls, dash, webm, mp3, aac
    /// (adts), m4a, flac, wav, gif. Case-insensitive.
    pub container: String,
    /// Video settings; `None` means CI defaults (H.264, or VP8 for WebM) when the input
    /// has video. Ignored by audio-only containers (mp3, aac, m4a, flac, wav).
    pub video: Option<VideoSpec>,
    /// Audio settings; `None` means CI defaults when the input has audio. Skipped when
    /// the input has none; ignored by gif.
    pub audio: Option<AudioSpec>,
    /// `TimeInterval.Start` in seconds.
    pub start: Option<f64>,
    /// `TimeInterval.Duration` in seconds.
    pub duration: Option<f64>,
    /// `ClipConfig.Duration`: segment length for hls/dash (default 5 s).
    pub segment_duration: Option<f64>,
    /// `TransConfig.DeleteMetadata`: drop global metadata and chapters.
    pub delete_metadata: bool,
}

/// CI `Video` settings. Unset fields take CI defaults (see the `args` module docs).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VideoSpec {
    /// `H.264`, `H.265`, `VP8`, `VP9`, `AV1` as CI spells them.
    pub codec: Option<String>,
    /// Output width; alone, the height follows the aspect ratio.
    pub width: Option<u32>,
    /// Output height; alone, the width follows the aspect ratio.
    pub height: Option<u32>,
    /// Output frame rate.
    pub fps: Option<f64>,
    /// Target bitrate in kbit/s (ignored when `crf` is set).
    pub bitrate_kbps: Option<u32>,
    /// Constant rate factor; wins over bitrate; defaults to 25 without a bitrate.
    pub crf: Option<f64>,
    /// Key-frame interval in frames.
    pub gop: Option<u32>,
    /// Encoder preset: x264/x265 names, `good`/`realtime` for VP8/VP9, 0–13 for AV1.
    pub preset: Option<String>,
    /// H.264 profile: baseline, main, high (default), auto.
    pub profile: Option<String>,
    /// Pixel format (`yuv420p` default, `auto` keeps the encoder's choice).
    pub pixfmt: Option<String>,
    /// VBV max rate in kbit/s (H.264/H.265).
    pub maxrate_kbps: Option<u32>,
    /// VBV buffer in kbit (H.264/H.265; default twice the max rate).
    pub bufsize_kb: Option<u32>,
    /// Drop the video stream.
    pub remove: bool,
}

/// CI `Audio` settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AudioSpec {
    /// `aac`, `mp3`, `flac`, `Vorbis`, `opus`, `pcm_s16le`.
    pub codec: Option<String>,
    /// Sample rate in Hz (default 44100, opus 48000).
    pub samplerate: Option<u32>,
    /// Bitrate in kbit/s (ignored for flac and pcm).
    pub bitrate_kbps: Option<u32>,
    /// Channel count.
    pub channels: Option<u32>,
    /// Drop the audio stream.
    pub remove: bool,
}

/// The extension of the main output file: `mp4`, `m3u8` for hls, `mpd` for dash, …
/// Unknown containers give `bin` ([`validate_spec`] rejects them).
pub fn output_extension(spec: &TranscodeSpec) -> &'static str {
    container(&spec.container).map_or("bin", |c| c.ext)
}

/// Checks a spec without an input: known container and codecs, codecs allowed in the
/// container, presets, pixel formats and numeric ranges. Lets the API reject a
/// template when it is created rather than when a workflow runs.
pub fn validate_spec(spec: &TranscodeSpec) -> Result<(), MediaError> {
    let resolved = resolve(spec)?;
    if let Some((codec, video)) = &resolved.video {
        encoders::encode_args(*codec, video, None)?;
    }
    Ok(())
}

/// The complete ffmpeg argument list of one transcode with [`TranscodeExtras`]. Text
/// watermarks must carry their font file (see [`find_font`]); [`transcode_with`] fills
/// it in.
pub fn transcode_with_args(
    input: &Path,
    output: &Path,
    spec: &TranscodeSpec,
    extras: &TranscodeExtras,
    info: &MediaInfo,
) -> Result<Vec<String>, MediaError> {
    let section = Section::Transcode {
        path: output,
        spec,
        extras,
    };
    Ok(build_sections(input, &[section], info)?.args)
}

/// [`transcode`] with CI's extra settings (crop, rotation, `AdjDarMethod`, source
/// checks, watermarks), default tools and limits. Returns every file written.
pub async fn transcode_with(
    input: &Path,
    output: &Path,
    spec: &TranscodeSpec,
    extras: &TranscodeExtras,
    info: &MediaInfo,
    ctl: &RunControl,
) -> Result<Vec<PathBuf>, MediaError> {
    let job = OutputJob::Transcode {
        path: output.to_path_buf(),
        spec: spec.clone(),
        extras: extras.clone(),
    };
    let mut files = MediaTools::default()
        .run_fused(input, std::slice::from_ref(&job), info, ctl)
        .await?;
    Ok(files.pop().map(|f| f.files).unwrap_or_default())
}

/// The complete ffmpeg argument list (without the program) for one transcode.
pub fn transcode_args(
    input: &Path,
    output: &Path,
    spec: &TranscodeSpec,
    info: &MediaInfo,
) -> Result<Vec<String>, MediaError> {
    Ok(build(input, &[(output, spec)], info)?.args)
}

/// The argument list of one fused ffmpeg run writing every `(output, spec)`.
pub fn transcode_many_args(
    input: &Path,
    outputs: &[(PathBuf, TranscodeSpec)],
    info: &MediaInfo,
) -> Result<Vec<String>, MediaError> {
    let pairs: Vec<_> = outputs.iter().map(|(p, s)| (p.as_path(), s)).collect();
    Ok(build(input, &pairs, info)?.args)
}

/// Transcodes `input` into `output` with default tools and limits. Returns every file
/// written: the output itself, or a playlist/manifest followed by its segments.
pub async fn transcode(
    input: &Path,
    output: &Path,
    spec: &TranscodeSpec,
    info: &MediaInfo,
    ctl: &RunControl,
) -> Result<Vec<PathBuf>, MediaError> {
    MediaTools::default()
        .transcode(input, output, spec, info, ctl)
        .await
}

/// Writes several outputs with one ffmpeg process (one decode). Returns the files of
/// each output, in the order given.
pub async fn transcode_many(
    input: &Path,
    outputs: &[(PathBuf, TranscodeSpec)],
    info: &MediaInfo,
    ctl: &RunControl,
) -> Result<Vec<Vec<PathBuf>>, MediaError> {
    MediaTools::default()
        .transcode_many(input, outputs, info, ctl)
        .await
}

impl MediaTools {
    /// [`transcode`] with these tools and limits.
    pub async fn transcode(
        &self,
        input: &Path,
        output: &Path,
        spec: &TranscodeSpec,
        info: &MediaInfo,
        ctl: &RunControl,
    ) -> Result<Vec<PathBuf>, MediaError> {
        let outputs = [(output.to_path_buf(), spec.clone())];
        let mut files = self.transcode_many(input, &outputs, info, ctl).await?;
        Ok(files.pop().unwrap_or_default())
    }

    /// [`transcode_many`] with these tools and limits.
    pub async fn transcode_many(
        &self,
        input: &Path,
        outputs: &[(PathBuf, TranscodeSpec)],
        info: &MediaInfo,
        ctl: &RunControl,
    ) -> Result<Vec<Vec<PathBuf>>, MediaError> {
        check_distinct(outputs)?;
        let pairs: Vec<_> = outputs.iter().map(|(p, s)| (p.as_path(), s)).collect();
        let invocation = build(input, &pairs, info)?;
        for (path, spec) in outputs {
            let dir = paths::parent(path)?;
            tokio::fs::create_dir_all(&dir)
                .await
                .map_err(MediaError::io("could not create output directory", &dir))?;
            remove_stale_segments(path, spec).await?;
        }
        // Encoding cost grows with the number of outputs; so does the time allowed.
        let budget = invocation.expected_secs.map(|s| s * outputs.len() as f64);
        let cmd = self
            .ffmpeg_command(invocation.args, budget)
            .ffmpeg_progress(invocation.expected_secs);
        cmd.run(ctl).await?;
        let mut written = Vec::with_capacity(outputs.len());
        for (path, spec) in outputs {
            written.push(collect_outputs(path, spec).await?);
        }
        Ok(written)
    }
}

/// Two sections writing the same file, or two segmented outputs sharing a stem (and so
/// segment names) in one directory, would clobber each other.
fn check_distinct(outputs: &[(PathBuf, TranscodeSpec)]) -> Result<(), MediaError> {
    let jobs: Vec<(&Path, &TranscodeSpec)> =
        outputs.iter().map(|(p, s)| (p.as_path(), s)).collect();
    check_distinct_paths(&jobs)
}

/// [`check_distinct`] over borrowed pairs.
pub(crate) fn check_distinct_paths(outputs: &[(&Path, &TranscodeSpec)]) -> Result<(), MediaError> {
    let mut files = std::collections::HashSet::new();
    let mut stems = std::collections::HashSet::new();
    for (path, spec) in outputs {
        let abs = paths::absolute(path)?;
        let segmented = container(&spec.container)?.layout != Layout::Single;
        if !files.insert(abs.clone()) || (segmented && !stems.insert(abs.with_extension(""))) {
            return Err(MediaError::invalid_spec(format!(
                "two outputs would write {}",
                abs.display()
            )));
        }
    }
    Ok(())
}

/// The files an output produced: the main file, plus segments for hls/dash.
pub(crate) async fn collect_outputs(
    path: &Path,
    spec: &TranscodeSpec,
) -> Result<Vec<PathBuf>, MediaError> {
    let main = paths::absolute(path)?;
    let non_empty = tokio::fs::metadata(&main).await.is_ok_and(|m| m.len() > 0);
    if !non_empty {
        return Err(MediaError::NoOutput { path: main });
    }
    let layout = container(&spec.container)?.layout;
    let mut files = vec![main.clone()];
    if layout != Layout::Single {
        files.extend(segments(&main, layout).await?);
    }
    Ok(files)
}

/// Segment files named after `main`'s stem, sorted by name (numbers are zero-padded).
pub(crate) async fn segments(main: &Path, layout: Layout) -> Result<Vec<PathBuf>, MediaError> {
    let stem = paths::stem(main)?;
    paths::list_matching(&paths::parent(main)?, |n| is_segment_of(n, &stem, layout)).await
}

/// Removes segments an earlier attempt left next to a segmented output.
pub(crate) async fn remove_stale_segments(
    main: &Path,
    spec: &TranscodeSpec,
) -> Result<(), MediaError> {
    let layout = container(&spec.container)?.layout;
    if layout == Layout::Single {
        return Ok(());
    }
    let stem = paths::stem(main)?;
    paths::remove_matching(&paths::parent(main)?, |n| is_segment_of(n, &stem, layout)).await
}

/// `stem-00001.ts` for HLS (`stem-init.mp4` and `stem-00001.m4s` for H.265 in fragmented
/// MP4); `stem-init-0.m4s` and `stem-chunk-0-00001.m4s` for DASH.
fn is_segment_of(name: &str, stem: &str, layout: Layout) -> bool {
    let Some(rest) = name.strip_prefix(stem).and_then(|r| r.strip_prefix('-')) else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match layout {
        Layout::Single => false,
        Layout::Hls => {
            rest == "init.mp4"
                || rest.strip_suffix(".ts").is_some_and(digits)
                || rest.strip_suffix(".m4s").is_some_and(digits)
        }
        Layout::Dash => {
            let Some(body) = rest.strip_suffix(".m4s") else {
                return false;
            };
            if let Some(rep) = body.strip_prefix("init-") {
                return digits(rep);
            }
            body.strip_prefix("chunk-")
                .and_then(|r| r.split_once('-'))
                .is_some_and(|(rep, n)| digits(rep) && digits(n))
        }
    }
}
