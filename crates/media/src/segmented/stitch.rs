//! Stitching encoded segments back into one output (pure argument builders).
//!
//! The segments are joined by ffmpeg's concat demuxer with stream copy: nothing is
//! re-encoded, so the stitch costs a read and a write of the output. The ffconcat
//! script gives every segment its planned `duration`, which places segment `i + 1`
//! exactly where segment `i`'s frames end on the timeline (no drift from container
//! rounding). The audio, encoded once over the whole input, is muxed in the same run;
//! the video keeps its original distance from the container start (`-itsoffset`), so
//! A/V sync is the source's.
//!
//! Outputs: every single-file container the transcoder writes with video (mp4 and mov
//! with `+faststart`, mkv, flv, ts, avi, webm), and HLS/DASH: the stitched stream is
//! copied into the hls/dash muxer, which cuts at the key frames the segment encodes
//! forced on the global `ClipConfig` grid (see `encode.rs`), so the playlist's pieces
//! are the ones an unsegmented transcode would write.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::encode::segment_video;
use crate::error::MediaError;
use crate::ffmpeg::{num, prelude};
use crate::paths;
use crate::transcode::{TranscodeSpec, VideoCodec, container, encoded_tag_args, muxer_args};

/// Default HLS/DASH segment length (the transcoder's).
const DEFAULT_CLIP_SECS: f64 = 5.0;

/// One encoded segment as the stitch sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StitchPiece {
    /// The segment file.
    pub path: PathBuf,
    /// Its planned duration in seconds ([`PlannedSegment::duration`](super::PlannedSegment)).
    pub duration: f64,
}

/// The ffconcat script listing `pieces` in order, each with its duration.
pub fn concat_script(pieces: &[StitchPiece]) -> Result<String, MediaError> {
    if pieces.is_empty() {
        return Err(MediaError::invalid_spec("nothing to stitch: no segments"));
    }
    let mut text = String::from("ffconcat version 1.0\n");
    for piece in pieces {
        let path = paths::arg(&piece.path)?;
        text.push_str(&format!("file '{}'\n", path.replace('\'', r"'\''")));
        text.push_str(&format!("duration {}\n", num(piece.duration)));
    }
    Ok(text)
}

/// The argument list of the stitch: the ffconcat script `list` (see [`concat_script`])
/// plus the audio pass file, stream-copied into `output` as `spec`'s container.
/// `video_offset` is [`SegmentPlan::video_offset`](super::SegmentPlan).
pub fn stitch_args(
    list: &Path,
    audio: Option<&Path>,
    output: &Path,
    spec: &TranscodeSpec,
    video_offset: f64,
) -> Result<Vec<String>, MediaError> {
    let (codec, _) = segment_video(spec)?;
    let target = container(&spec.container)?;
    let mut args = prelude();
    if video_offset > 0.0 {
        args.extend(["-itsoffset".into(), num(video_offset)]);
    }
    args.extend(["-f", "concat", "-safe", "0", "-i"].map(String::from));
    args.push(paths::arg(list)?);
    if let Some(audio) = audio {
        args.extend(["-i".into(), paths::arg(audio)?]);
    }
    args.extend(["-map".into(), "0:v:0".into()]);
    if audio.is_some() {
        args.extend(["-map".into(), "1:a:0".into()]);
    }
    args.extend(["-c", "copy", "-sn", "-dn"].map(String::from));
    args.extend(encoded_tag_args(target.muxer, codec));
    let clip = spec.segment_duration.unwrap_or(DEFAULT_CLIP_SECS);
    let hevc = codec == VideoCodec::H265;
    args.extend(muxer_args(target, output, clip, hevc)?);
    args.push(paths::arg(output)?);
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcode::VideoSpec;

    fn spec(container: &str) -> TranscodeSpec {
        TranscodeSpec {
            container: container.into(),
            video: Some(VideoSpec::default()),
            ..Default::default()
        }
    }

    #[test]
    fn script_lists_segments_with_their_durations() {
        let pieces = [
            StitchPiece {
                path: "/w/seg-0.mp4".into(),
                duration: 14.0,
            },
            StitchPiece {
                path: "/w/it's-1.mp4".into(),
                duration: 16.016,
            },
        ];
        assert_eq!(
            concat_script(&pieces).unwrap(),
            "ffconcat version 1.0\nfile '/w/seg-0.mp4'\nduration 14\n\
             file '/w/it'\\''s-1.mp4'\nduration 16.016\n"
        );
        assert!(concat_script(&[]).is_err());
    }

    #[test]
    fn mp4_stitch_copies_with_faststart_and_audio() {
        let args = stitch_args(
            Path::new("/w/list.txt"),
            Some(Path::new("/w/audio.m4a")),
            Path::new("/out/a.mp4"),
            &spec("mp4"),
            0.0,
        )
        .unwrap();
        let text = args.join(" ");
        assert!(
            text.contains("-f concat -safe 0 -i /w/list.txt -i /w/audio.m4a"),
            "{text}"
        );
        assert!(text.contains("-map 0:v:0 -map 1:a:0 -c copy"), "{text}");
        assert!(text.contains("-movflags +faststart"), "{text}");
        assert!(!text.contains("-itsoffset"));
        assert_eq!(args.last().map(String::as_str), Some("/out/a.mp4"));
    }

    #[test]
    fn silent_stitch_keeps_the_video_offset() {
        let args = stitch_args(
            Path::new("/w/list.txt"),
            None,
            Path::new("/out/a.mkv"),
            &spec("mkv"),
            0.1,
        )
        .unwrap();
        let text = args.join(" ");
        assert!(text.contains("-itsoffset 0.1 -f concat"), "{text}");
        assert!(!text.contains("1:a:0"));
        assert!(text.contains("-f matroska"));
    }

    #[test]
    fn hls_stitch_uses_the_hls_muxer() {
        let args = stitch_args(
            Path::new("/w/list.txt"),
            None,
            Path::new("/out/a.m3u8"),
            &spec("hls"),
            0.0,
        )
        .unwrap();
        let text = args.join(" ");
        assert!(text.contains("-f hls"), "{text}");
        assert!(text.contains("-hls_time 5"), "{text}");
    }
}
