//! Player compatibility of what we write: the one place that decides container and
//! codec flags, for encoded and copied streams alike.
//!
//! - **mp4 family** (`mp4`, `mov`, `ipod` for m4a): `-movflags +faststart`, so the
//!   `moov` index comes before `mdat` and playback starts before the download ends.
//! - **HEVC in the mp4 family**: `hvc1` sample entries (`-tag:v hvc1`). ffmpeg writes
//!   `hev1` by default, which Apple players refuse; `hvc1` plays everywhere.
//! - **mp3**: ID3v2.3 tags, which every player reads (ffmpeg's default 2.4 is not).
//! - **Rotation**: only the mp4 family stores a display matrix. A copied rotated
//!   stream going anywhere else would lose it and play sideways, so the copy paths
//!   re-encode its video instead ([`copied_video_args`]); decoding autorotates, so the
//!   result is upright with no matrix left to apply twice. Re-encoding paths get the
//!   same from ffmpeg's autorotation.
//! - **Cover art** (attached pictures): kept where the container stores one (mp3
//!   `APIC`, mp4/m4a `covr`, FLAC `PICTURE`), copied as it is ([`kept_cover`],
//!   [`cover_args`]).
//!
//! Pixel formats and profiles are the encoders' business (`encoders.rs`: 8-bit 4:2:0,
//! H.264 High unless the template asks otherwise); containers only admit codecs
//! browsers play in them (`codec.rs`: AAC-LC or MP3 in mp4, Opus/Vorbis in WebM).

use super::VideoSpec;
use super::codec::VideoCodec;
use super::encoders::encode_args;
use super::size::SizeRule;
use crate::error::MediaError;
use crate::probe::{MediaInfo, StreamInfo};

/// Muxers of the mp4 family (ISO BMFF/QuickTime).
const MP4_FAMILY: &[&str] = &["mp4", "mov", "ipod"];
/// Muxers that store an attached picture as cover art.
const COVER_MUXERS: &[&str] = &["mp3", "mp4", "ipod", "flac"];
/// Cover codecs every one of them accepts.
const COVER_CODECS: &[&str] = &["mjpeg", "png"];
/// Quality of the re-encode that fixes the rotation of a copied stream: close to the
/// source, since the user asked for no re-encode at all.
const ROTATION_FIX_CRF: f64 = 18.0;

/// Options of the muxer itself (`-f` is the caller's).
pub(crate) fn muxer_flags(muxer: &str) -> Vec<String> {
    match muxer {
        m if MP4_FAMILY.contains(&m) => vec!["-movflags".into(), "+faststart".into()],
        "mp3" => vec!["-id3v2_version".into(), "3".into()],
        _ => Vec::new(),
    }
}

/// HLS with fragmented-MP4 segments, for H.265 (Apple players refuse HEVC in MPEG-TS; the
/// sample entry must be `hvc1`): the init segment is `<stem>-init.mp4` beside the segments.
pub(crate) fn hls_fmp4_args(stem: &str) -> Vec<String> {
    vec![
        "-tag:v".into(),
        "hvc1".into(),
        "-hls_segment_type".into(),
        "fmp4".into(),
        "-hls_fmp4_init_filename".into(),
        format!("{stem}-init.mp4"),
    ]
}

/// `true` when the muxer stores a display matrix (rotation survives a stream copy).
pub(crate) fn keeps_rotation(muxer: &str) -> bool {
    MP4_FAMILY.contains(&muxer)
}

/// The sample-entry tag of a video stream of `codec_name` (ffprobe's name) in
/// `muxer`, as `-tag:v` arguments; empty when ffmpeg's default is right.
pub(crate) fn video_tag_args(muxer: &str, codec_name: &str) -> Vec<String> {
    if codec_name == "hevc" && MP4_FAMILY.contains(&muxer) {
        vec!["-tag:v".into(), "hvc1".into()]
    } else {
        Vec::new()
    }
}

/// [`video_tag_args`] for an encode.
pub(crate) fn encoded_tag_args(muxer: &str, codec: VideoCodec) -> Vec<String> {
    let name = match codec {
        VideoCodec::H265 => "hevc",
        _ => "",
    };
    video_tag_args(muxer, name)
}

/// Video options for a stream-copy path (remux, split) writing `muxer`, appended after
/// its `-c copy`: the sample-entry tag, or, when the input is rotated and `muxer` cannot
/// say so, an upright H.264 re-encode (key frames every `segment` seconds when the
/// output is cut).
pub(crate) fn copied_video_args(
    info: &MediaInfo,
    muxer: &str,
    segment: Option<f64>,
) -> Result<Vec<String>, MediaError> {
    let Some(video) = info.video() else {
        return Ok(Vec::new());
    };
    if !video.is_rotated() || keeps_rotation(muxer) {
        return Ok(video_tag_args(muxer, &video.codec_name));
    }
    let spec = VideoSpec {
        crf: Some(ROTATION_FIX_CRF),
        ..Default::default()
    };
    let rule = SizeRule::for_encode(VideoCodec::H264, &spec);
    let mut args = Vec::new();
    if !video.display_size().is_some_and(|s| rule.fits(s)) {
        args.extend(["-filter:v".into(), rule.guard().join(",")]);
    }
    args.extend(encode_args(VideoCodec::H264, &spec, segment)?);
    Ok(args)
}

/// The input's cover art, when an output writing `muxer` keeps it: the container stores
/// one, the picture is a format it takes, and metadata is not being deleted.
pub(crate) fn kept_cover<'i>(
    info: &'i MediaInfo,
    muxer: &str,
    delete_metadata: bool,
) -> Option<&'i StreamInfo> {
    let cover = info.cover()?;
    let kept = !delete_metadata
        && COVER_MUXERS.contains(&muxer)
        && COVER_CODECS.contains(&cover.codec_name.as_str());
    kept.then_some(cover)
}

/// Maps `cover` (read from ffmpeg input `input`) into an output that already has
/// `videos` video streams: copied, marked as an attached picture.
pub(crate) fn cover_args(cover: &StreamInfo, input: usize, videos: usize) -> Vec<String> {
    vec![
        "-map".into(),
        format!("{input}:{}", cover.index),
        format!("-c:v:{videos}"),
        "copy".into(),
        format!("-disposition:v:{videos}"),
        "attached_pic".into(),
    ]
}

/// Video options (`flag value` pairs) narrowed to the first video stream of the output,
/// so a cover-art stream next to it is left alone (an encoder option such as
/// `-profile:v` would otherwise fail on the copied picture, and a filter cannot apply
/// to a copy at all): `-c:v` → `-c:v:0`, `-preset` → `-preset:v:0`, `-vf` →
/// `-filter:v:0`.
pub(crate) fn first_video_only(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    for pair in args.chunks(2) {
        let flag = pair[0].as_str();
        out.push(match flag {
            "-vf" | "-filter:v" => "-filter:v:0".to_owned(),
            f if f.ends_with(":v") => format!("{f}:0"),
            f if !f.contains(':') => format!("{f}:v:0"),
            f => f.to_owned(),
        });
        out.extend(pair.get(1).cloned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::StreamInfo;

    fn info(codec: &str, rotation: Option<u32>, cover: Option<&str>) -> MediaInfo {
        let mut streams = vec![StreamInfo {
            codec_type: "video".into(),
            codec_name: codec.into(),
            width: Some(640),
            height: Some(360),
            rotation,
            ..Default::default()
        }];
        if let Some(codec) = cover {
            streams.push(StreamInfo {
                index: 1,
                codec_type: "video".into(),
                codec_name: codec.into(),
                attached_pic: true,
                ..Default::default()
            });
        }
        MediaInfo {
            streams,
            ..Default::default()
        }
    }

    #[test]
    fn mp4_family_flags() {
        for muxer in ["mp4", "mov", "ipod"] {
            assert_eq!(muxer_flags(muxer), ["-movflags", "+faststart"]);
            assert_eq!(video_tag_args(muxer, "hevc"), ["-tag:v", "hvc1"]);
            assert!(keeps_rotation(muxer));
        }
        assert_eq!(muxer_flags("mp3"), ["-id3v2_version", "3"]);
        assert!(muxer_flags("matroska").is_empty());
        assert!(video_tag_args("mp4", "h264").is_empty());
        assert!(video_tag_args("mpegts", "hevc").is_empty());
        assert_eq!(
            encoded_tag_args("mp4", VideoCodec::H265),
            ["-tag:v", "hvc1"]
        );
        assert!(encoded_tag_args("mp4", VideoCodec::Av1).is_empty());
    }

    #[test]
    fn rotated_copies_reencode_where_the_matrix_would_be_lost() {
        let rotated = info("h264", Some(90), None);
        assert!(copied_video_args(&rotated, "mp4", None).unwrap().is_empty());
        let args = copied_video_args(&rotated, "hls", Some(10.0)).unwrap();
        assert_eq!(args[..2], ["-c:v", "libx264"]);
        assert!(args.windows(2).any(|w| w[0] == "-crf" && w[1] == "18"));
        assert!(args.iter().any(|a| a == "expr:gte(t,n_forced*10)"));
        assert!(!args.iter().any(|a| a == "-filter:v"), "360x640 fits");
        let hevc = info("hevc", None, None);
        assert_eq!(
            copied_video_args(&hevc, "mp4", None).unwrap(),
            ["-tag:v", "hvc1"]
        );
        assert!(copied_video_args(&hevc, "mpegts", None).unwrap().is_empty());
        let mut odd = info("h264", Some(270), None);
        odd.streams[0].height = Some(361);
        let args = copied_video_args(&odd, "matroska", None).unwrap();
        assert_eq!(
            args[..2],
            ["-filter:v", "scale=trunc(iw/2)*2:trunc(ih/2)*2"]
        );
    }

    #[test]
    fn covers_go_where_they_can_be_stored() {
        let with = info("h264", None, Some("mjpeg"));
        let cover = kept_cover(&with, "mp3", false).unwrap();
        assert_eq!(
            cover_args(cover, 0, 0),
            [
                "-map",
                "0:1",
                "-c:v:0",
                "copy",
                "-disposition:v:0",
                "attached_pic"
            ]
        );
        assert_eq!(cover_args(cover, 2, 1)[1..3], ["2:1", "-c:v:1"]);
        for muxer in ["mp4", "ipod", "flac"] {
            assert!(kept_cover(&with, muxer, false).is_some(), "{muxer}");
        }
        for muxer in ["matroska", "webm", "mov", "adts", "wav", "mpegts", "hls"] {
            assert!(kept_cover(&with, muxer, false).is_none(), "{muxer}");
        }
        assert!(kept_cover(&with, "mp3", true).is_none());
        let bmp = info("h264", None, Some("bmp"));
        assert!(kept_cover(&bmp, "mp3", false).is_none());
        assert!(kept_cover(&info("h264", None, None), "mp3", false).is_none());
    }

    #[test]
    fn options_narrow_to_the_first_video_stream() {
        let args: Vec<String> = [
            "-vf",
            "scale=320:-2",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-profile:v",
            "high",
            "-b:v",
            "800k",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            first_video_only(&args),
            [
                "-filter:v:0",
                "scale=320:-2",
                "-c:v:0",
                "libx264",
                "-preset:v:0",
                "veryfast",
                "-profile:v:0",
                "high",
                "-b:v:0",
                "800k"
            ]
        );
    }
}
