//! The ffmpeg arguments of one segment encode and of the audio pass (pure).
//!
//! A segment encode reads the input from its cut (`-ss` half a frame before the cut's
//! key frame; ffmpeg decodes from that key frame and drops nothing it needs), restarts
//! the timeline at 0 (`setpts=PTS-STARTPTS`), encodes with the template's video
//! settings exactly as [`transcode`](crate::transcode) builds them, and stops after the
//! segment's frame count (`-frames:v`, with `-fps_mode passthrough` so no frame is
//! duplicated or dropped on the way). Added for segments:
//! - closed GOPs (x265 `open-gop=0`; x264 and libvpx close them by default, SVT-AV1
//!   key frames are IDR), a key frame on the first frame and, for HLS/DASH outputs, on
//!   every global `ClipConfig` boundary inside the segment;
//! - for bitrate-targeted H.264/H.265 templates without their own VBV: `-maxrate`
//!   1.5 × and `-bufsize` 2 × the bitrate, so a segment's rate control (which starts
//!   from nothing at each cut) cannot overshoot for long. CRF encodes are untouched.
//!
//! Templates with their own `Fps` get `-r` and a `-t` bound instead of the frame
//! count (the rate conversion decides the frames).

use std::path::Path;

use super::plan::PlannedSegment;
use crate::error::MediaError;
use crate::ffmpeg::{num, prelude};
use crate::paths;
use crate::probe::{MediaInfo, StreamInfo};
use crate::transcode::{
    Layout, TranscodeExtras, TranscodeSpec, VIDEO, VideoCodec, VideoSpec, audio_args, encode_args,
    encoded_tag_args, resolve, video_chain,
};

/// VBV ceiling of a bitrate-targeted segment, as a multiple of the target bitrate.
pub const VBV_MAXRATE_FACTOR: f64 = 1.5;
/// VBV buffer of a bitrate-targeted segment, as a multiple of the target bitrate.
pub const VBV_BUFSIZE_FACTOR: f64 = 2.0;
/// Default HLS/DASH segment length (the transcoder's).
const DEFAULT_CLIP_SECS: f64 = 5.0;

/// The video settings of a segmented spec, or why it cannot be segmented.
pub(crate) fn segment_video(spec: &TranscodeSpec) -> Result<(VideoCodec, VideoSpec), MediaError> {
    if spec.start.is_some() || spec.duration.is_some() {
        return Err(MediaError::invalid_spec(
            "segmented transcoding does not take a TimeInterval",
        ));
    }
    let resolved = resolve(spec)?;
    match resolved.video {
        Some((VideoCodec::Gif, _)) => Err(MediaError::invalid_spec(
            "segmented transcoding does not write gif",
        )),
        Some(video) => Ok(video),
        None => Err(MediaError::invalid_spec(
            "segmented transcoding needs a video output",
        )),
    }
}

/// The most threads one encode of `spec` keeps busy on an input `input_width` pixels wide
/// (the output's width when the template sets one), when its encoder caps it below a large
/// machine's cores ([`VideoCodec::thread_limit`]); `None` when it scales with them or the spec
/// cannot be segmented. On a lone node segmenting helps only above that limit.
pub fn encoder_thread_limit(spec: &TranscodeSpec, input_width: u32) -> Option<usize> {
    let (codec, video) = segment_video(spec).ok()?;
    codec.thread_limit(video.width.unwrap_or(input_width))
}

/// `(muxer, extension)` of the segment files: Matroska for VP8/VP9 (mp4 cannot carry
/// VP8), mp4 otherwise.
pub fn segment_format(spec: &TranscodeSpec) -> Result<(&'static str, &'static str), MediaError> {
    Ok(match segment_video(spec)?.0 {
        VideoCodec::Vp8 | VideoCodec::Vp9 => ("matroska", "mkv"),
        _ => ("mp4", "mp4"),
    })
}

/// The complete argument list (without the program) encoding `segment` of `input`
/// into `output`. `threads` caps the encoder's threads.
pub fn segment_args(
    input: &Path,
    output: &Path,
    spec: &TranscodeSpec,
    info: &MediaInfo,
    segment: &PlannedSegment,
    threads: Option<u32>,
) -> Result<Vec<String>, MediaError> {
    let (codec, video) = segment_video(spec)?;
    if !info.has_video() {
        return Err(MediaError::invalid_input("input has no video stream"));
    }
    let mut args = prelude();
    if let Some(seek) = segment.seek {
        args.extend(["-ss".into(), num(seek)]);
    }
    args.extend([
        "-i".into(),
        paths::input_arg(input)?,
        "-map".into(),
        VIDEO.into(),
    ]);
    args.extend(["-vf".into(), filters(codec, &video, info)?]);
    args.extend(closed_gop(encode_args(codec, &video, None)?));
    args.extend(vbv_args(codec, &video));
    args.extend(["-force_key_frames".into(), key_times(spec, segment)]);
    if let Some(threads) = threads {
        args.extend(["-threads".into(), threads.to_string()]);
    }
    match video.fps {
        Some(_) => args.extend(["-t".into(), num(segment.duration)]),
        None => args.extend([
            "-fps_mode".into(),
            "passthrough".into(),
            "-frames:v".into(),
            segment.frames.to_string(),
        ]),
    }
    args.extend(["-an", "-sn", "-dn", "-map_metadata", "-1"].map(String::from));
    let (muxer, _) = segment_format(spec)?;
    args.extend(encoded_tag_args(muxer, codec));
    args.extend(["-f".into(), muxer.into(), paths::arg(output)?]);
    Ok(args)
}

/// `setpts=PTS-STARTPTS` then the transcoder's video chain (size rules, scaling).
fn filters(codec: VideoCodec, video: &VideoSpec, info: &MediaInfo) -> Result<String, MediaError> {
    let source = info.video().and_then(StreamInfo::display_size);
    let chain = video_chain(codec, video, &TranscodeExtras::default(), None, source)?;
    let mut vf = String::from("setpts=PTS-STARTPTS");
    if let Some(rest) = chain.simple() {
        vf.push(',');
        vf.push_str(&rest);
    }
    Ok(vf)
}

/// Encoder arguments with closed GOPs: x265 gets `open-gop=0` in its parameters.
fn closed_gop(mut args: Vec<String>) -> Vec<String> {
    if let Some(i) = args.iter().position(|a| a == "-x265-params")
        && let Some(value) = args.get_mut(i + 1)
    {
        value.push_str(":open-gop=0");
    }
    args
}

/// Per-segment VBV for a bitrate-targeted H.264/H.265 template without its own.
pub(crate) fn vbv_args(codec: VideoCodec, video: &VideoSpec) -> Vec<String> {
    let x26x = matches!(codec, VideoCodec::H264 | VideoCodec::H265);
    match video.bitrate_kbps {
        Some(kbps) if x26x && video.crf.is_none() && video.maxrate_kbps.is_none() => {
            let scaled = |f: f64| format!("{}k", (f64::from(kbps) * f).round() as u64);
            vec![
                "-maxrate".into(),
                scaled(VBV_MAXRATE_FACTOR),
                "-bufsize".into(),
                scaled(VBV_BUFSIZE_FACTOR),
            ]
        }
        _ => Vec::new(),
    }
}

/// `-force_key_frames` times (segment-local): 0, and for HLS/DASH outputs every
/// multiple of the clip length on the output timeline that falls inside the segment.
fn key_times(spec: &TranscodeSpec, segment: &PlannedSegment) -> String {
    let mut times = vec!["0".to_owned()];
    let layout = crate::transcode::container(&spec.container).map(|c| c.layout);
    if !matches!(layout, Ok(Layout::Hls | Layout::Dash)) {
        return times.join(",");
    }
    let clip = spec.segment_duration.unwrap_or(DEFAULT_CLIP_SECS);
    let mut k = (segment.offset / clip).ceil().max(0.0);
    loop {
        let local = k * clip - segment.offset;
        if local >= segment.duration - 1e-6 {
            break;
        }
        if local > 1e-6 {
            times.push(num(local));
        }
        k += 1.0;
    }
    times.join(",")
}

/// `(muxer, extension)` of the audio pass: the output's own container, mp4 (`m4a`)
/// for HLS/DASH and formats whose muxer is not a plain file of that codec.
pub fn audio_format(spec: &TranscodeSpec) -> Result<(&'static str, &'static str), MediaError> {
    let container = crate::transcode::container(&spec.container)?;
    Ok(match container.muxer {
        "webm" => ("webm", "webm"),
        "matroska" => ("matroska", "mka"),
        _ => ("mp4", "m4a"),
    })
}

/// The argument list of the audio pass: the whole input's first audio stream encoded
/// once with the template's audio settings; `None` when the output has no audio
/// (the input has none, or the template removes it).
pub fn audio_pass_args(
    input: &Path,
    output: &Path,
    spec: &TranscodeSpec,
    info: &MediaInfo,
) -> Result<Option<Vec<String>>, MediaError> {
    let Some((codec, audio)) = resolve(spec)?.audio.filter(|_| info.has_audio()) else {
        return Ok(None);
    };
    let mut args = prelude();
    args.extend([
        "-i".into(),
        paths::input_arg(input)?,
        "-map".into(),
        "0:a:0".into(),
    ]);
    args.extend(["-vn", "-sn", "-dn", "-map_metadata", "-1"].map(String::from));
    args.extend(audio_args(codec, audio));
    let (muxer, _) = audio_format(spec)?;
    args.extend(["-f".into(), muxer.into(), paths::arg(output)?]);
    Ok(Some(args))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> MediaInfo {
        crate::probe::parse_ffprobe_json(include_bytes!(
            "../../tests/fixtures/ffprobe_5_1_mp4_h264_aac.json"
        ))
        .unwrap()
    }

    fn segment(seek: Option<f64>, offset: f64) -> PlannedSegment {
        PlannedSegment {
            index: 1,
            first_frame: 400,
            frames: 350,
            offset,
            duration: 14.0,
            seek,
        }
    }

    fn spec(container: &str, video: VideoSpec) -> TranscodeSpec {
        TranscodeSpec {
            container: container.into(),
            video: Some(video),
            ..Default::default()
        }
    }

    fn value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
        let i = args.iter().position(|a| a == flag)?;
        args.get(i + 1).map(String::as_str)
    }

    #[test]
    fn crf_segment_seeks_counts_frames_and_keeps_rate_control() {
        let s = spec(
            "mp4",
            VideoSpec {
                crf: Some(23.0),
                ..Default::default()
            },
        );
        let args = segment_args(
            Path::new("/in.mp4"),
            Path::new("/w/seg-1.mp4"),
            &s,
            &info(),
            &segment(Some(15.98), 16.0),
            Some(2),
        )
        .unwrap();
        assert_eq!(value(&args, "-ss"), Some("15.98"));
        assert_eq!(value(&args, "-frames:v"), Some("350"));
        assert_eq!(value(&args, "-fps_mode"), Some("passthrough"));
        assert_eq!(value(&args, "-crf"), Some("23"));
        assert_eq!(value(&args, "-maxrate"), None);
        assert_eq!(value(&args, "-force_key_frames"), Some("0"));
        assert_eq!(value(&args, "-threads"), Some("2"));
        assert!(
            value(&args, "-vf")
                .unwrap()
                .starts_with("setpts=PTS-STARTPTS")
        );
        assert!(args.contains(&"-an".to_owned()));
        assert_eq!(args.last().map(String::as_str), Some("/w/seg-1.mp4"));
    }

    #[test]
    fn bitrate_segment_gets_vbv_and_x265_closed_gops() {
        let video = VideoSpec {
            codec: Some("H.265".into()),
            bitrate_kbps: Some(400),
            ..Default::default()
        };
        let args = segment_args(
            Path::new("/in.mp4"),
            Path::new("/w/s.mp4"),
            &spec("mp4", video),
            &info(),
            &segment(None, 0.0),
            None,
        )
        .unwrap();
        assert_eq!(value(&args, "-b:v"), Some("400k"));
        assert_eq!(value(&args, "-maxrate"), Some("600k"));
        assert_eq!(value(&args, "-bufsize"), Some("800k"));
        assert_eq!(
            value(&args, "-x265-params"),
            Some("log-level=error:open-gop=0")
        );
        assert_eq!(value(&args, "-tag:v"), Some("hvc1"));
        assert_eq!(value(&args, "-ss"), None);
    }

    #[test]
    fn template_vbv_is_kept() {
        let video = VideoSpec {
            bitrate_kbps: Some(400),
            maxrate_kbps: Some(500),
            ..Default::default()
        };
        let args = vbv_args(VideoCodec::H264, &video);
        assert!(args.is_empty());
    }

    #[test]
    fn hls_key_frames_follow_the_global_clip_grid() {
        let mut s = spec("hls", VideoSpec::default());
        s.segment_duration = Some(4.0);
        // Segment at 14 s for 14 s: global boundaries 16, 20, 24 → local 2, 6, 10.
        assert_eq!(key_times(&s, &segment(Some(13.98), 14.0)), "0,2,6,10");
        assert_eq!(key_times(&s, &segment(None, 0.0)), "0,4,8,12");
    }

    #[test]
    fn fps_template_is_bounded_by_time() {
        let video = VideoSpec {
            fps: Some(15.0),
            ..Default::default()
        };
        let args = segment_args(
            Path::new("/in.mp4"),
            Path::new("/w/s.mp4"),
            &spec("mp4", video),
            &info(),
            &segment(Some(13.98), 14.0),
            None,
        )
        .unwrap();
        assert_eq!(value(&args, "-t"), Some("14"));
        assert_eq!(value(&args, "-frames:v"), None);
    }

    #[test]
    fn unsupported_specs_are_refused() {
        let mut s = spec("mp4", VideoSpec::default());
        s.start = Some(1.0);
        assert!(segment_video(&s).is_err());
        assert!(segment_video(&spec("gif", VideoSpec::default())).is_err());
        assert!(segment_video(&spec("mp3", VideoSpec::default())).is_err());
        let vp9 = spec(
            "webm",
            VideoSpec {
                codec: Some("VP9".into()),
                ..Default::default()
            },
        );
        assert_eq!(segment_format(&vp9).unwrap(), ("matroska", "mkv"));
        assert_eq!(audio_format(&vp9).unwrap(), ("webm", "webm"));
    }

    #[test]
    fn audio_pass_encodes_the_whole_input_once() {
        let s = spec("mp4", VideoSpec::default());
        let args = audio_pass_args(Path::new("/in.mp4"), Path::new("/w/a.m4a"), &s, &info())
            .unwrap()
            .unwrap();
        assert_eq!(value(&args, "-c:a"), Some("aac"));
        assert_eq!(value(&args, "-map"), Some("0:a:0"));
        assert_eq!(value(&args, "-ss"), None);
        assert_eq!(value(&args, "-f"), Some("mp4"));
        let mut silent = info();
        silent.streams.retain(|s| s.codec_type != "audio");
        assert_eq!(
            audio_pass_args(Path::new("/in.mp4"), Path::new("/w/a.m4a"), &s, &silent).unwrap(),
            None
        );
    }
}
