//! Concatenation (CI `Concat` template, reference section 5.5).
//!
//! The inputs are local files in playing order (the engine puts the `Start`
//! fragments, then the workflow input, then the `End` fragments), each optionally
//! trimmed to `[start, end)`. The target is a [`TranscodeSpec`] (container mp4, flv,
//! hls, ts, mp3, aac, …; codecs, size, frame rate, sample rate, channels).
//!
//! Two ways:
//! - **Stream copy** (`DirectConcat`): the concat demuxer joins the files without
//!   decoding. Only when every input carries the same streams with the same codec,
//!   size and pixel format (video) and codec, sample rate and channel count (audio),
//!   the target container accepts those codecs, and the target names no other codec.
//!   Trims then cut at key frames. Otherwise it falls back to re-encoding.
//! - **Re-encode**: the `concat` filter, after normalising every input to one frame
//!   size (scaled to fit and padded, square pixels), frame rate, pixel format, sample
//!   rate and channel layout. An input without audio gets silence of its length, an
//!   audio-only input a black picture, so sound and picture stay aligned.
//!
//! Defaults for the normalised format: the target's values, else the first video
//! input's size and frame rate (25 fps if unknown), the codec's default sample rate
//! and the largest channel count among the inputs (at most 2).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::MediaError;
use crate::ffmpeg::{num, prelude};
use crate::limits::MediaTools;
use crate::paths;
use crate::probe::{MediaInfo, StreamInfo};
use crate::process::RunControl;
use crate::transcode::{
    AudioCodec, Layout, SizeRule, TranscodeSpec, VIDEO, VideoCodec, audio_args, collect_outputs,
    container, encode_args, keeps_rotation, muxer_args, remove_stale_segments, resolve,
    video_tag_args,
};

const DEFAULT_SEGMENT_SECS: f64 = 5.0;
const DEFAULT_FPS: f64 = 25.0;

/// One input of a concatenation.
#[derive(Debug, Clone, PartialEq)]
pub struct ConcatInput {
    /// The file.
    pub path: PathBuf,
    /// Its probe.
    pub info: MediaInfo,
    /// Start of the part to use, in seconds (CI `StartTime`).
    pub start: Option<f64>,
    /// End of the part to use, in seconds (CI `EndTime`).
    pub end: Option<f64>,
}

impl ConcatInput {
    /// The whole of `path`.
    pub fn new(path: impl Into<PathBuf>, info: MediaInfo) -> Self {
        Self {
            path: path.into(),
            info,
            start: None,
            end: None,
        }
    }

    /// Seconds this input contributes, when known.
    fn secs(&self) -> Option<f64> {
        let end = self.end.or(self.info.duration)?;
        Some((end - self.start.unwrap_or(0.0)).max(0.0))
    }
}

/// A CI concat template.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConcatSpec {
    /// Container and encodes of the result.
    pub target: TranscodeSpec,
    /// `DirectConcat`: join without re-encoding when the inputs allow it.
    pub direct: bool,
}

/// How a concatenation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConcatMethod {
    /// Concat demuxer, streams copied.
    StreamCopy,
    /// Concat filter, streams re-encoded.
    Reencode,
}

/// The method [`concat()`] will use: stream copy only when asked for and possible.
pub fn concat_method(inputs: &[ConcatInput], spec: &ConcatSpec) -> ConcatMethod {
    if spec.direct && copy_compatible(inputs, &spec.target) {
        ConcatMethod::StreamCopy
    } else {
        ConcatMethod::Reencode
    }
}

fn video_codec_of(stream: &StreamInfo) -> Option<VideoCodec> {
    Some(match stream.codec_name.as_str() {
        "h264" => VideoCodec::H264,
        "hevc" => VideoCodec::H265,
        "av1" => VideoCodec::Av1,
        "vp8" => VideoCodec::Vp8,
        "vp9" => VideoCodec::Vp9,
        _ => return None,
    })
}

fn audio_codec_of(stream: &StreamInfo) -> Option<AudioCodec> {
    Some(match stream.codec_name.as_str() {
        "aac" => AudioCodec::Aac,
        "mp3" => AudioCodec::Mp3,
        "flac" => AudioCodec::Flac,
        "vorbis" => AudioCodec::Vorbis,
        "opus" => AudioCodec::Opus,
        _ => return None,
    })
}

/// Every input alike, and the target able to hold their streams as they are.
fn copy_compatible(inputs: &[ConcatInput], target: &TranscodeSpec) -> bool {
    let Ok(resolved) = resolve(target) else {
        return false;
    };
    let Some(first) = inputs.first() else {
        return false;
    };
    let same = |f: &dyn Fn(&MediaInfo) -> Option<String>| {
        inputs.iter().all(|i| f(&i.info) == f(&first.info))
    };
    let wants_video = resolved.video.is_some();
    let wants_audio = resolved.audio.is_some();
    let has_video = first.info.has_video() && wants_video;
    let has_audio = first.info.has_audio() && wants_audio;
    // Streams present in some inputs only cannot be joined by copying.
    if (wants_video && !same(&|i| Some(i.has_video().to_string())))
        || (wants_audio && !same(&|i| Some(i.has_audio().to_string())))
    {
        return false;
    }
    if has_video {
        let key = |i: &MediaInfo| {
            i.video().map(|v| {
                format!(
                    "{} {:?} {:?} {:?} {:?}",
                    v.codec_name, v.width, v.height, v.pix_fmt, v.rotation
                )
            })
        };
        let codec = first.info.video().and_then(video_codec_of);
        let allowed = codec.is_some_and(|c| resolved.container.video.contains(&c));
        let asked = target.video.as_ref().and_then(|v| v.codec.as_deref());
        let asked_ok = asked.is_none_or(|a| VideoCodec::parse(a).ok() == codec);
        // A copied display matrix survives only where the container stores one; the
        // re-encode autorotates instead.
        let rotated = first.info.video().is_some_and(StreamInfo::is_rotated);
        let rotation_ok = !rotated || keeps_rotation(resolved.container.muxer);
        if !same(&key) || !allowed || !asked_ok || !rotation_ok {
            return false;
        }
    }
    if has_audio {
        let key = |i: &MediaInfo| {
            i.audio()
                .map(|a| format!("{} {:?} {:?}", a.codec_name, a.sample_rate, a.channels))
        };
        let codec = first.info.audio().and_then(audio_codec_of);
        let allowed = codec.is_some_and(|c| resolved.container.audio.contains(&c));
        let asked = target.audio.as_ref().and_then(|a| a.codec.as_deref());
        let asked_ok = asked.is_none_or(|a| AudioCodec::parse(a).ok() == codec);
        if !same(&key) || !allowed || !asked_ok {
            return false;
        }
    }
    has_video || has_audio
}

fn check(inputs: &[ConcatInput]) -> Result<(), MediaError> {
    if inputs.is_empty() {
        return Err(MediaError::invalid_spec("concat needs at least one input"));
    }
    for input in inputs {
        let bad = |t: f64| !(t.is_finite() && t >= 0.0);
        if input.start.is_some_and(bad) || input.end.is_some_and(bad) {
            return Err(MediaError::invalid_spec(
                "concat StartTime/EndTime must be ≥ 0",
            ));
        }
        if let (Some(s), Some(e)) = (input.start, input.end)
            && e <= s
        {
            return Err(MediaError::invalid_spec(format!(
                "concat EndTime {e} must be after StartTime {s}"
            )));
        }
    }
    Ok(())
}

/// Single-quotes a path for an ffconcat script.
fn concat_quote(path: &str) -> String {
    format!("'{}'", path.replace('\'', r"'\''"))
}

/// The ffconcat script of a stream-copy concatenation.
pub fn concat_list(inputs: &[ConcatInput]) -> Result<String, MediaError> {
    let mut text = String::from("ffconcat version 1.0\n");
    for input in inputs {
        text.push_str(&format!(
            "file {}\n",
            concat_quote(&paths::arg(&input.path)?)
        ));
        if let Some(s) = input.start.filter(|s| *s > 0.0) {
            text.push_str(&format!("inpoint {}\n", num(s)));
        }
        if let Some(e) = input.end {
            text.push_str(&format!("outpoint {}\n", num(e)));
        }
    }
    Ok(text)
}

/// The ffmpeg arguments of a concatenation. `list` is where the ffconcat script
/// ([`concat_list`]) is written for stream copy.
pub fn concat_args(
    inputs: &[ConcatInput],
    output: &Path,
    spec: &ConcatSpec,
    list: &Path,
) -> Result<Vec<String>, MediaError> {
    check(inputs)?;
    match concat_method(inputs, spec) {
        ConcatMethod::StreamCopy => copy_args(inputs, output, &spec.target, list),
        ConcatMethod::Reencode => reencode_args(inputs, output, &spec.target),
    }
}

fn copy_args(
    inputs: &[ConcatInput],
    output: &Path,
    target: &TranscodeSpec,
    list: &Path,
) -> Result<Vec<String>, MediaError> {
    let resolved = resolve(target)?;
    let first = &inputs[0].info;
    let mut args = prelude();
    args.extend(["-f", "concat", "-safe", "0", "-i"].map(String::from));
    args.push(paths::arg(list)?);
    let video = first.video().filter(|_| resolved.video.is_some());
    if video.is_some() {
        args.extend(["-map".into(), VIDEO.into()]);
    } else {
        args.push("-vn".into());
    }
    if resolved.audio.is_some() && first.has_audio() {
        args.extend(["-map".into(), "0:a:0".into()]);
    } else {
        args.push("-an".into());
    }
    args.extend(["-c", "copy", "-sn", "-dn"].map(String::from));
    if let Some(v) = video {
        args.extend(video_tag_args(resolved.container.muxer, &v.codec_name));
    }
    let segment = target.segment_duration.unwrap_or(DEFAULT_SEGMENT_SECS);
    let hevc = video.is_some_and(|v| v.codec_name == "hevc");
    args.extend(muxer_args(resolved.container, output, segment, hevc)?);
    args.push(paths::arg(output)?);
    Ok(args)
}

fn reencode_args(
    inputs: &[ConcatInput],
    output: &Path,
    target: &TranscodeSpec,
) -> Result<Vec<String>, MediaError> {
    let resolved = resolve(target)?;
    let any_video = inputs.iter().any(|i| i.info.has_video());
    let any_audio = inputs.iter().any(|i| i.info.has_audio());
    let video = resolved.video.as_ref().filter(|_| any_video);
    let audio = resolved.audio.filter(|_| any_audio);
    if video.is_none() && audio.is_none() {
        return Err(MediaError::invalid_input(format!(
            "nothing to write to {}: no input has a stream the target keeps",
            resolved.container.name
        )));
    }
    let rule = video.map_or(SizeRule::ANY, |(c, v)| SizeRule::for_encode(*c, v));
    let n = norm(inputs, target, audio.map(|(c, _)| c), rule);
    let mut args = prelude();
    let mut graph = Vec::new();
    let mut pads = String::new();
    for (i, input) in inputs.iter().enumerate() {
        if let Some(s) = input.start.filter(|s| *s > 0.0) {
            args.extend(["-ss".into(), num(s)]);
        }
        if let Some(e) = input.end {
            args.extend(["-to".into(), num(e)]);
        }
        args.extend(["-i".into(), paths::arg(&input.path)?]);
        let needs_length = (video.is_some() && !input.info.has_video())
            || (audio.is_some() && !input.info.has_audio());
        let secs = match (needs_length, input.secs()) {
            (false, s) => s.unwrap_or(0.0),
            (true, Some(s)) => s,
            (true, None) => {
                return Err(MediaError::invalid_input(format!(
                    "the duration of {} is unknown, so its missing stream cannot be filled",
                    input.path.display()
                )));
            }
        };
        if video.is_some() {
            let (w, h, fps) = (n.width, n.height, num(n.fps));
            if input.info.has_video() {
                graph.push(format!(
                    "[{i}:V:0]scale={w}:{h}:force_original_aspect_ratio=decrease,\
                     pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,setsar=1,fps={fps},format=yuv420p[v{i}]"
                ));
            } else {
                graph.push(format!(
                    "color=c=black:s={w}x{h}:r={fps}:d={},format=yuv420p[v{i}]",
                    num(secs)
                ));
            }
            pads.push_str(&format!("[v{i}]"));
        }
        if audio.is_some() {
            let (rate, cl) = (n.rate, n.layout);
            if input.info.has_audio() {
                graph.push(format!(
                    "[{i}:a:0]aresample={rate},aformat=channel_layouts={cl}[a{i}]"
                ));
            } else {
                graph.push(format!(
                    "anullsrc=r={rate}:cl={cl},atrim=duration={}[a{i}]",
                    num(secs)
                ));
            }
            pads.push_str(&format!("[a{i}]"));
        }
    }
    let (nv, na) = (usize::from(video.is_some()), usize::from(audio.is_some()));
    let mut outs = String::new();
    if nv == 1 {
        outs.push_str("[cv]");
    }
    if na == 1 {
        outs.push_str("[ca]");
    }
    graph.push(format!(
        "{pads}concat=n={}:v={nv}:a={na}{outs}",
        inputs.len()
    ));
    args.extend(["-filter_complex".into(), graph.join(";")]);
    let layout_kind = resolved.container.layout;
    let segment = target.segment_duration.unwrap_or(DEFAULT_SEGMENT_SECS);
    let segmented = (layout_kind != Layout::Single).then_some(segment);
    match video {
        Some((codec, v)) => {
            // Size and rate are set by the graph; the encoder takes them as they come.
            let mut v = v.clone();
            (v.width, v.height, v.fps) = (None, None, None);
            args.extend(["-map".into(), "[cv]".into()]);
            args.extend(encode_args(*codec, &v, segmented)?);
        }
        None => args.push("-vn".into()),
    }
    match audio {
        Some((codec, a)) => {
            let mut a = a.clone();
            a.samplerate = Some(n.rate);
            a.channels = None;
            args.extend(["-map".into(), "[ca]".into()]);
            args.extend(audio_args(codec, &a));
        }
        None => args.push("-an".into()),
    }
    args.extend(["-sn".into(), "-dn".into()]);
    if target.delete_metadata {
        args.extend(["-map_metadata", "-1", "-map_chapters", "-1"].map(String::from));
    }
    let hevc = matches!(resolved.video, Some((VideoCodec::H265, _)));
    args.extend(muxer_args(resolved.container, output, segment, hevc)?);
    args.push(paths::arg(output)?);
    Ok(args)
}

/// Concatenates `inputs` into `output` with default tools and limits. Returns every
/// file written (a playlist and its segments for hls).
pub async fn concat(
    inputs: &[ConcatInput],
    output: &Path,
    spec: &ConcatSpec,
    ctl: &RunControl,
) -> Result<Vec<PathBuf>, MediaError> {
    MediaTools::default()
        .concat(inputs, output, spec, ctl)
        .await
}

impl MediaTools {
    /// [`concat()`] with these tools and limits.
    pub async fn concat(
        &self,
        inputs: &[ConcatInput],
        output: &Path,
        spec: &ConcatSpec,
        ctl: &RunControl,
    ) -> Result<Vec<PathBuf>, MediaError> {
        container(&spec.target.container)?;
        let dir = paths::parent(output)?;
        let list = dir.join(format!(".{}.ffconcat", paths::stem(output)?));
        let args = concat_args(inputs, output, spec, &list)?;
        let method = concat_method(inputs, spec);
        tracing::debug!(?method, inputs = inputs.len(), "concat");
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(MediaError::io("could not create output directory", &dir))?;
        remove_stale_segments(output, &spec.target).await?;
        if method == ConcatMethod::StreamCopy {
            tokio::fs::write(&list, concat_list(inputs)?)
                .await
                .map_err(MediaError::io("could not write the concat list", &list))?;
        }
        let total: Option<f64> = inputs.iter().map(ConcatInput::secs).sum();
        let cmd = self.ffmpeg_command(args, total).ffmpeg_progress(total);
        let outcome = cmd.run(ctl).await;
        if method == ConcatMethod::StreamCopy {
            let _ = tokio::fs::remove_file(&list).await;
        }
        outcome?;
        collect_outputs(output, &spec.target).await
    }
}

mod norm;
#[cfg(test)]
mod tests;

use norm::norm;
