//! Pure construction of ffmpeg argument lists for transcodes.
//!
//! Nothing here runs a process, so every mapping from [`TranscodeSpec`] to flags is
//! unit-tested directly. One ffmpeg invocation decodes the input once and can hold
//! several output sections (`[-map … codec options … path]…`): that is how
//! [`transcode_many`](super::transcode_many) fuses outputs. A single transcode is the
//! same thing with one section.
//!
//! Defaults (documented because CI leaves some to the service):
//! - video H.264 (VP8 for WebM), profile `high`, `yuv420p`, CRF 25 when no bitrate;
//!   x264/x265 preset `veryfast` (about 2× faster than `medium` at a small bitrate
//!   cost, see delivery-anchors D.3); VP8/VP9 `-deadline realtime -cpu-used 8`;
//!   SVT-AV1 preset 8;
//! - audio AAC (Vorbis for WebM, PCM for WAV) at 44100 Hz (48000 Hz for Opus);
//! - HLS/DASH segments of 5 s with key frames forced on segment boundaries;
//! - GIF at 10 fps with a generated palette;
//! - frame sizes the encoder takes (`size.rs`), container and codec flags players need
//!   and cover art (`compat.rs`).

use std::path::Path;

use super::codec::{AudioCodec, Container, Layout, VideoCodec, container};
use super::compat;
use super::encoders::{audio_args, encode_args, gif_fps};
use super::extras::{TranscodeExtras, apply_checks, video_chain};
use super::{AudioSpec, TranscodeSpec, VideoSpec};
use crate::error::MediaError;
use crate::ffmpeg::{num, prelude};
use crate::paths;
use crate::probe::{MediaInfo, StreamInfo};
use crate::snapshot::{SnapshotExtras, SnapshotSpec};

const DEFAULT_SEGMENT_SECS: f64 = 5.0;
/// The input's first video stream that is not cover art.
pub(crate) const VIDEO: &str = "0:V:0";

/// The codec choices of a spec, before looking at the input.
#[derive(Debug)]
pub(crate) struct Resolved<'a> {
    pub container: &'static Container,
    /// `None` when the container is audio-only or video is removed.
    pub video: Option<(VideoCodec, VideoSpec)>,
    /// `None` when the container is silent or audio is removed.
    pub audio: Option<(AudioCodec, &'a AudioSpec)>,
}

static DEFAULT_AUDIO: AudioSpec = AudioSpec {
    codec: None,
    samplerate: None,
    bitrate_kbps: None,
    channels: None,
    remove: false,
};

/// Checks a spec on its own (no input needed) and picks its codecs.
pub(crate) fn resolve(spec: &TranscodeSpec) -> Result<Resolved<'_>, MediaError> {
    let container = container(&spec.container)?;
    check_times(spec)?;
    let video = match &spec.video {
        _ if container.video.is_empty() => None,
        Some(v) if v.remove => None,
        v => Some(resolve_video(container, v.clone().unwrap_or_default())?),
    };
    let audio = match &spec.audio {
        _ if container.audio.is_empty() => None,
        Some(a) if a.remove => None,
        a => Some(resolve_audio(
            container,
            a.as_ref().unwrap_or(&DEFAULT_AUDIO),
        )?),
    };
    Ok(Resolved {
        container,
        video,
        audio,
    })
}

fn check_times(spec: &TranscodeSpec) -> Result<(), MediaError> {
    let bad =
        |what: &str, v: f64| MediaError::invalid_spec(format!("{what} must be positive, got {v}"));
    match (spec.start, spec.duration, spec.segment_duration) {
        (Some(s), _, _) if !(s.is_finite() && s >= 0.0) => Err(bad("start", s)),
        (_, Some(d), _) if !(d.is_finite() && d > 0.0) => Err(bad("duration", d)),
        (_, _, Some(d)) if !(d.is_finite() && d > 0.0) => Err(bad("segment duration", d)),
        _ => Ok(()),
    }
}

fn resolve_video(c: &Container, spec: VideoSpec) -> Result<(VideoCodec, VideoSpec), MediaError> {
    let codec = match spec.codec.as_deref() {
        Some(name) => VideoCodec::parse(name)?,
        None => c.video[0],
    };
    if !c.video.contains(&codec) {
        let allowed: Vec<_> = c.video.iter().map(|v| v.ci_name()).collect();
        return Err(MediaError::invalid_spec(format!(
            "video codec {} is not allowed in {} (allowed: {})",
            codec.ci_name(),
            c.name,
            allowed.join(", ")
        )));
    }
    let positive = |v: Option<u32>, what: &str| match v {
        Some(0) => Err(MediaError::invalid_spec(format!(
            "video {what} must be positive"
        ))),
        _ => Ok(()),
    };
    positive(spec.width, "width")?;
    positive(spec.height, "height")?;
    if let Some(fps) = spec.fps.filter(|f| !(f.is_finite() && *f > 0.0)) {
        return Err(MediaError::invalid_spec(format!(
            "video fps must be positive, got {fps}"
        )));
    }
    if let Some(crf) = spec
        .crf
        .filter(|c| !(c.is_finite() && (0.0..=63.0).contains(c)))
    {
        return Err(MediaError::invalid_spec(format!(
            "video crf must be in [0, 63], got {crf}"
        )));
    }
    Ok((codec, spec))
}

fn resolve_audio<'a>(
    c: &Container,
    spec: &'a AudioSpec,
) -> Result<(AudioCodec, &'a AudioSpec), MediaError> {
    let codec = match spec.codec.as_deref() {
        Some(name) => AudioCodec::parse(name)?,
        None => c.audio[0],
    };
    if !c.audio.contains(&codec) {
        return Err(MediaError::invalid_spec(format!(
            "audio codec {} is not allowed in {}",
            codec.encoder(),
            c.name
        )));
    }
    if spec.samplerate == Some(0) || spec.channels == Some(0) {
        return Err(MediaError::invalid_spec(
            "audio sample rate and channels must be positive",
        ));
    }
    Ok((codec, spec))
}

/// A fully built invocation: its arguments and the expected output duration.
#[derive(Debug)]
pub(crate) struct Invocation {
    pub args: Vec<String>,
    /// Longest expected output, in seconds (for timeouts and percentages).
    pub expected_secs: Option<f64>,
}

/// One output of a (possibly fused) ffmpeg run.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Section<'a> {
    /// A transcode writing `path`.
    Transcode {
        path: &'a Path,
        spec: &'a TranscodeSpec,
        extras: &'a TranscodeExtras,
    },
    /// Snapshot images written into `dir`.
    Snapshot {
        dir: &'a Path,
        spec: &'a SnapshotSpec,
        extras: &'a SnapshotExtras,
    },
}

impl Section<'_> {
    fn start(&self) -> f64 {
        match self {
            Self::Transcode { spec, .. } => spec.start.unwrap_or(0.0),
            Self::Snapshot { spec, .. } => spec.start,
        }
    }
}

/// Extra inputs (watermark images, an output's own seek) and complex filtergraphs of a
/// run, collected while output sections are built and placed before them.
#[derive(Debug, Default)]
pub(crate) struct Graphs {
    /// Each input's arguments, ending in `-i path`.
    inputs: Vec<Vec<String>>,
    complex: Vec<String>,
}

impl Graphs {
    /// Adds image inputs; returns their ffmpeg input indexes (the main input is 0).
    fn add_images(&mut self, images: &[&Path]) -> Result<Vec<usize>, MediaError> {
        images
            .iter()
            .map(|image| Ok(self.add_input(vec!["-i".into(), paths::arg(image)?])))
            .collect()
    }

    /// Adds an input given by its arguments; returns its index.
    fn add_input(&mut self, args: Vec<String>) -> usize {
        self.inputs.push(args);
        self.inputs.len()
    }
}

/// Builds one ffmpeg invocation writing every transcode `(output, spec)`.
pub(crate) fn build(
    input: &Path,
    outputs: &[(&Path, &TranscodeSpec)],
    info: &MediaInfo,
) -> Result<Invocation, MediaError> {
    static NO_EXTRAS: TranscodeExtras = TranscodeExtras {
        rotate: None,
        crop: None,
        adj_dar: super::extras::AdjDarMethod::None,
        checks: super::extras::TransChecks {
            resolution: None,
            video_bitrate: None,
            audio_bitrate: None,
            video_fps: None,
        },
        watermarks: Vec::new(),
        delogo: None,
    };
    let sections: Vec<Section<'_>> = outputs
        .iter()
        .map(|(path, spec)| Section::Transcode {
            path,
            spec,
            extras: &NO_EXTRAS,
        })
        .collect();
    build_sections(input, &sections, info)
}

/// Builds one ffmpeg invocation writing every section: one input, decoded once.
pub(crate) fn build_sections(
    input: &Path,
    sections: &[Section<'_>],
    info: &MediaInfo,
) -> Result<Invocation, MediaError> {
    if sections.is_empty() {
        return Err(MediaError::invalid_spec("no outputs given"));
    }
    let starts: Vec<f64> = sections.iter().map(Section::start).collect();
    // One input seek serves every output when they start together (the common case);
    // otherwise each output seeks on its own (accurate, but decodes from the start).
    let shared_start = starts.iter().all(|s| *s == starts[0]).then_some(starts[0]);
    let mut args = prelude();
    if let Some(start) = shared_start.filter(|s| *s > 0.0) {
        args.extend(["-ss".into(), num(start)]);
    }
    args.extend(["-i".into(), paths::arg(input)?]);
    let mut graphs = Graphs::default();
    let mut outputs = Vec::new();
    let mut expected_secs: Option<f64> = Some(0.0);
    for (index, section) in sections.iter().enumerate() {
        let section = match *section {
            Section::Transcode { path, spec, extras } => {
                let ctx = OutputCtx {
                    index,
                    seek_here: shared_start.is_none(),
                    input,
                };
                output_section(path, spec, extras, info, ctx, &mut graphs)?
            }
            Section::Snapshot { dir, spec, extras } => {
                crate::snapshot::fused_section(dir, spec, extras, info, shared_start)?
            }
        };
        outputs.extend(section.args);
        expected_secs = match (expected_secs, section.expected_secs) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
    }
    for extra in graphs.inputs {
        args.extend(extra);
    }
    for graph in graphs.complex {
        args.extend(["-filter_complex".into(), graph]);
    }
    args.extend(outputs);
    Ok(Invocation {
        args,
        expected_secs,
    })
}

/// Where an output sits in its run.
#[derive(Debug, Clone, Copy)]
struct OutputCtx<'a> {
    /// Position among the run's outputs (names its filtergraph labels).
    index: usize,
    /// The output seeks on its own (`-ss` after `-i`): starts differ.
    seek_here: bool,
    /// The run's input.
    input: &'a Path,
}

/// The arguments of one output, from `-map` to the path.
fn output_section(
    path: &Path,
    spec: &TranscodeSpec,
    extras: &TranscodeExtras,
    info: &MediaInfo,
    ctx: OutputCtx<'_>,
    graphs: &mut Graphs,
) -> Result<Invocation, MediaError> {
    let spec = apply_checks(spec, extras, info)?;
    let spec = spec.as_ref();
    let resolved = resolve(spec)?;
    let expected_secs = expected_duration(spec, info)?;
    let segment = spec.segment_duration.unwrap_or(DEFAULT_SEGMENT_SECS);
    let segmented = (resolved.container.layout != Layout::Single).then_some(segment);
    let mut args = Vec::new();
    let video = select_video(&resolved, spec, info)?;
    let audio = resolved.audio.filter(|_| info.has_audio());
    if video.is_none() && audio.is_none() {
        return Err(MediaError::invalid_input(format!(
            "nothing to write to {}: the input has no stream the spec keeps",
            resolved.container.name
        )));
    }
    let muxer = resolved.container.muxer;
    let keeps = compat::kept_cover(info, muxer, spec.delete_metadata);
    let mut start = spec.start.filter(|s| ctx.seek_here && *s > 0.0);
    // An output seek would drop the cover (its one packet comes before the start): such
    // an output reads its own input, seeking there, instead of sharing the decode.
    let from = match start.take_if(|_| keeps.is_some()) {
        Some(s) => graphs.add_input(vec![
            "-ss".into(),
            num(s),
            "-i".into(),
            paths::arg(ctx.input)?,
        ]),
        None => 0,
    };
    let source_video = format!("{from}:V:0");
    let videos = usize::from(video.is_some());
    let cover = keeps.map_or_else(Vec::new, |c| compat::cover_args(c, from, videos));
    match video {
        Some((codec, v)) => {
            let source = info.video().and_then(StreamInfo::display_size);
            let chain = video_chain(codec, v, extras, gif_fps(codec, v), source)?;
            let images = chain.images();
            let mut encode = Vec::new();
            if images.is_empty() {
                args.extend(["-map".into(), source_video]);
                if let Some(vf) = chain.simple() {
                    encode.extend(["-vf".into(), vf]);
                }
            } else {
                let inputs = graphs.add_images(&images)?;
                let label = format!("out{}v", ctx.index);
                let prefix = format!("o{}", ctx.index);
                graphs
                    .complex
                    .push(chain.complex(&source_video, &inputs, &prefix, &label));
                args.extend(["-map".into(), format!("[{label}]")]);
            }
            encode.extend(encode_args(codec, v, segmented)?);
            encode.extend(compat::encoded_tag_args(muxer, codec));
            if cover.is_empty() {
                args.extend(encode);
            } else {
                args.extend(compat::first_video_only(&encode));
            }
        }
        // `-vn` would drop the cover's explicit map too.
        None if cover.is_empty() => args.push("-vn".into()),
        None => {}
    }
    match audio {
        Some((codec, a)) => {
            args.extend(["-map".into(), format!("{from}:a:0")]);
            args.extend(audio_args(codec, a));
        }
        None => args.push("-an".into()),
    }
    args.extend(cover);
    args.extend(["-sn".into(), "-dn".into()]);
    if let Some(start) = start {
        args.extend(["-ss".into(), num(start)]);
    }
    if let Some(duration) = spec.duration {
        args.extend(["-t".into(), num(duration)]);
    }
    if spec.delete_metadata {
        args.extend(["-map_metadata", "-1", "-map_chapters", "-1"].map(String::from));
    }
    let hevc = matches!(resolved.video, Some((VideoCodec::H265, _)));
    args.extend(muxer_args(resolved.container, path, segment, hevc)?);
    args.push(paths::arg(path)?);
    Ok(Invocation {
        args,
        expected_secs,
    })
}

/// The video encode of an output, or `None` when it writes no video.
fn select_video<'r>(
    resolved: &'r Resolved<'_>,
    spec: &TranscodeSpec,
    info: &MediaInfo,
) -> Result<Option<(VideoCodec, &'r VideoSpec)>, MediaError> {
    let Some((codec, v)) = &resolved.video else {
        return Ok(None);
    };
    if info.has_video() {
        return Ok(Some((*codec, v)));
    }
    // Asking for video (a video spec, or a video-only format) from audio is an error;
    // a default spec on an audio input just writes audio.
    if spec.video.is_some() || resolved.container.audio.is_empty() {
        return Err(MediaError::invalid_input("input has no video stream"));
    }
    Ok(None)
}

/// How long the output will be, rejecting a start past the end of the input.
fn expected_duration(spec: &TranscodeSpec, info: &MediaInfo) -> Result<Option<f64>, MediaError> {
    let start = spec.start.unwrap_or(0.0);
    let available = match info.duration {
        Some(total) if start >= total && start > 0.0 => {
            return Err(MediaError::invalid_input(format!(
                "start {}s is at or past the end of the input ({}s)",
                num(start),
                num(total)
            )));
        }
        Some(total) => Some(total - start),
        None => None,
    };
    Ok(match (available, spec.duration) {
        (Some(a), Some(d)) => Some(a.min(d)),
        (a, d) => a.or(d),
    })
}

/// `-f muxer` and its options; segment names are derived from the output's name. `hevc`: the
/// video is H.265, which HLS carries in fragmented-MP4 segments (`<name>-init.mp4` +
/// `<name>-NNNNN.m4s`, tagged `hvc1`; Apple's HLS authoring spec) instead of MPEG-TS.
pub(crate) fn muxer_args(
    c: &Container,
    output: &Path,
    segment: f64,
    hevc: bool,
) -> Result<Vec<String>, MediaError> {
    let mut args = vec!["-f".to_owned(), c.muxer.to_owned()];
    args.extend(compat::muxer_flags(c.muxer));
    match c.layout {
        Layout::Single => {}
        Layout::Hls => {
            let dir = paths::parent(output)?;
            let stem = paths::escape_pattern(&paths::stem(output)?);
            if hevc {
                args.extend(compat::hls_fmp4_args(&paths::stem(output)?));
            }
            let ext = if hevc { "m4s" } else { "ts" };
            let pattern = dir.join(format!("{stem}-%05d.{ext}"));
            let pattern = paths::arg(&pattern)?;
            args.extend([
                "-hls_time".into(),
                num(segment),
                "-hls_playlist_type".into(),
                "vod".into(),
            ]);
            args.extend([
                "-hls_list_size".into(),
                "0".into(),
                "-hls_segment_filename".into(),
                pattern,
            ]);
        }
        Layout::Dash => {
            let stem = paths::stem(output)?;
            if stem.contains(['$', '%', '/']) {
                return Err(MediaError::invalid_spec(format!(
                    "DASH output name {stem:?} may not contain $ or %"
                )));
            }
            args.extend([
                "-seg_duration".into(),
                num(segment),
                "-use_template".into(),
                "1".into(),
            ]);
            args.extend(["-use_timeline".into(), "1".into()]);
            args.extend([
                "-init_seg_name".into(),
                format!("{stem}-init-$RepresentationID$.m4s"),
            ]);
            args.extend([
                "-media_seg_name".into(),
                format!("{stem}-chunk-$RepresentationID$-$Number%05d$.m4s"),
            ]);
        }
    }
    Ok(args)
}
