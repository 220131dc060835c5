//! Remuxing and splitting (CI `Segment` node, reference section 3.3): change the
//! container without re-encoding, optionally cutting the media into pieces.
//!
//! - Formats: `hls`/`m3u8` (a VOD playlist plus `.ts` segments), `ts`, `mp4`, `mkv`,
//!   `avi`, `aac` (ADTS), `mp3`, `flac`.
//! - Video containers copy the first video and first audio stream (`-c copy`).
//!   Audio-only formats copy the first audio stream when its codec already fits
//!   (AAC into `aac`, MP3 into `mp3`, FLAC into `flac`) and encode it otherwise, since
//!   no muxer can take a foreign codec.
//! - Without `duration`: one file at the output path (HLS always segments, 10 s by
//!   default). With `duration`: the segment muxer cuts pieces of about that length
//!   (`-reset_timestamps 1`, so each piece starts at 0) named after the output:
//!   `out.mp4` → `out-00000.mp4`, `out-00001.mp4`, … Copied video can only be cut on
//!   key frames, so pieces end at the first key frame after each boundary.
//!
//! Files come back in order; for HLS the playlist comes first.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::MediaError;
use crate::ffmpeg::{num, prelude};
use crate::limits::MediaTools;
use crate::paths;
use crate::probe::MediaInfo;
use crate::process::RunControl;
use crate::transcode::{copied_video_args, hls_fmp4_args};

/// HLS segment length when the spec gives none.
const DEFAULT_HLS_SECS: f64 = 10.0;

/// A CI `Segment` node.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SegmentSpec {
    /// `Format`: hls, m3u8, ts, mp4, mkv, avi, aac, mp3, flac (case-insensitive).
    pub format: String,
    /// `Duration`: piece (or HLS segment) length in seconds.
    pub duration: Option<f64>,
}

/// What a format needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Format {
    muxer: &'static str,
    ext: &'static str,
    hls: bool,
    faststart: bool,
    /// Audio-only: the codec name that can be copied and the encoder otherwise.
    audio_only: Option<(&'static str, &'static str)>,
}

const fn video(muxer: &'static str, ext: &'static str) -> Format {
    Format {
        muxer,
        ext,
        hls: false,
        faststart: false,
        audio_only: None,
    }
}

const fn audio(
    muxer: &'static str,
    ext: &'static str,
    codec: &'static str,
    enc: &'static str,
) -> Format {
    Format {
        audio_only: Some((codec, enc)),
        ..video(muxer, ext)
    }
}

fn format(name: &str) -> Result<Format, MediaError> {
    Ok(match name.trim().to_ascii_lowercase().as_str() {
        "hls" | "m3u8" => Format {
            hls: true,
            ..video("hls", "m3u8")
        },
        "ts" => video("mpegts", "ts"),
        "mp4" => Format {
            faststart: true,
            ..video("mp4", "mp4")
        },
        "mkv" => video("matroska", "mkv"),
        "avi" => video("avi", "avi"),
        "aac" => audio("adts", "aac", "aac", "aac"),
        "mp3" => audio("mp3", "mp3", "mp3", "libmp3lame"),
        "flac" => audio("flac", "flac", "flac", "flac"),
        other => {
            return Err(MediaError::invalid_spec(format!(
                "segment format {other:?} is not supported \
                 (hls, m3u8, ts, mp4, mkv, avi, aac, mp3, flac)"
            )));
        }
    })
}

/// The extension of the files a segment spec writes (`m3u8` for HLS).
pub fn segment_extension(spec: &SegmentSpec) -> &'static str {
    format(&spec.format).map_or("bin", |f| f.ext)
}

/// `true` when the spec writes numbered pieces (`stem-NNNNN.ext`) rather than the
/// output path itself; HLS writes the playlist at the output path plus segments.
pub fn segment_writes_pieces(spec: &SegmentSpec) -> bool {
    format(&spec.format).is_ok_and(|f| !f.hls) && spec.duration.is_some()
}

fn check(spec: &SegmentSpec, info: &MediaInfo) -> Result<Format, MediaError> {
    let f = format(&spec.format)?;
    if let Some(d) = spec.duration.filter(|d| !(d.is_finite() && *d > 0.0)) {
        return Err(MediaError::invalid_spec(format!(
            "segment duration must be positive, got {d}"
        )));
    }
    if f.audio_only.is_some() && !info.has_audio() {
        return Err(MediaError::invalid_input(format!(
            "{} needs an audio stream and the input has none",
            f.ext
        )));
    }
    Ok(f)
}

/// Where the output is cut (HLS segments, pieces): a rotated input whose video must be
/// re-encoded to stay upright (see `transcode::compat`) gets key frames there.
fn cut_secs(spec: &SegmentSpec, f: Format) -> Option<f64> {
    match (f.hls, spec.duration) {
        (true, d) => Some(d.unwrap_or(DEFAULT_HLS_SECS)),
        (false, d) => d,
    }
}

/// The ffmpeg arguments of a segment run writing `output` (or its pieces).
pub fn segment_args(
    input: &Path,
    output: &Path,
    spec: &SegmentSpec,
    info: &MediaInfo,
) -> Result<Vec<String>, MediaError> {
    let f = check(spec, info)?;
    let mut args = prelude();
    args.extend(["-i".into(), paths::arg(input)?]);
    match f.audio_only {
        Some((codec, encoder)) => {
            let fits = info.audio().is_some_and(|a| a.codec_name == codec);
            args.extend(["-map".into(), "0:a:0".into(), "-vn".into(), "-c:a".into()]);
            args.push(if fits { "copy" } else { encoder }.into());
        }
        None => {
            args.extend(["-map", "0:v:0?", "-map", "0:a:0?", "-c", "copy"].map(String::from));
            args.extend(copied_video_args(info, f.muxer, cut_secs(spec, f))?);
        }
    }
    args.extend(["-sn".into(), "-dn".into()]);
    let dir = paths::parent(output)?;
    let stem = paths::escape_pattern(&paths::stem(output)?);
    if f.hls {
        let copied_hevc = hls_fmp4(info, f);
        let ext = hls_piece_ext(info, f);
        let pattern = paths::arg(&dir.join(format!("{stem}-%05d.{ext}")))?;
        let secs = spec.duration.unwrap_or(DEFAULT_HLS_SECS);
        if copied_hevc {
            args.extend(hls_fmp4_args(&paths::stem(output)?));
        }
        args.extend(["-f".into(), "hls".into(), "-hls_time".into(), num(secs)]);
        args.extend(["-hls_playlist_type", "vod", "-hls_list_size", "0"].map(String::from));
        args.extend(["-hls_segment_filename".into(), pattern, paths::arg(output)?]);
    } else if let Some(secs) = spec.duration {
        let pattern = paths::arg(&dir.join(format!("{stem}-%05d.{}", f.ext)))?;
        args.extend([
            "-f".into(),
            "segment".into(),
            "-segment_time".into(),
            num(secs),
        ]);
        args.extend(["-reset_timestamps".into(), "1".into()]);
        args.extend(["-segment_format".into(), f.muxer.into()]);
        if f.faststart {
            args.extend([
                "-segment_format_options".into(),
                "movflags=+faststart".into(),
            ]);
        }
        args.push(pattern);
    } else {
        args.extend(["-f".into(), f.muxer.into()]);
        if f.faststart {
            args.extend(["-movflags".into(), "+faststart".into()]);
        }
        args.push(paths::arg(output)?);
    }
    Ok(args)
}

/// Remuxes (and optionally splits) `input` with default tools and limits. Returns
/// the files written, in order (the playlist first for HLS).
pub async fn segment(
    input: &Path,
    output: &Path,
    spec: &SegmentSpec,
    info: &MediaInfo,
    ctl: &RunControl,
) -> Result<Vec<PathBuf>, MediaError> {
    MediaTools::default()
        .segment(input, output, spec, info, ctl)
        .await
}

/// Copied H.265 (not re-encoded upright) goes into fragmented-MP4 HLS segments, as in a
/// Transcode to HLS (`transcode::compat::hls_fmp4_args`).
fn hls_fmp4(info: &MediaInfo, f: Format) -> bool {
    f.hls
        && f.audio_only.is_none()
        && info
            .video()
            .is_some_and(|v| v.codec_name == "hevc" && !v.is_rotated())
}

/// The extension of HLS segments: `m4s` (fragmented MP4) or `ts`.
fn hls_piece_ext(info: &MediaInfo, f: Format) -> &'static str {
    if hls_fmp4(info, f) { "m4s" } else { "ts" }
}

/// `stem-00042.ext`.
fn is_piece(name: &str, stem: &str, ext: &str) -> bool {
    name.strip_prefix(stem)
        .and_then(|r| r.strip_prefix('-'))
        .and_then(|r| r.strip_suffix(ext)?.strip_suffix('.'))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

impl MediaTools {
    /// [`segment`] with these tools and limits.
    pub async fn segment(
        &self,
        input: &Path,
        output: &Path,
        spec: &SegmentSpec,
        info: &MediaInfo,
        ctl: &RunControl,
    ) -> Result<Vec<PathBuf>, MediaError> {
        let args = segment_args(input, output, spec, info)?;
        let f = format(&spec.format)?;
        let dir = paths::parent(output)?;
        let stem = paths::stem(output)?;
        let piece_ext = if f.hls { hls_piece_ext(info, f) } else { f.ext };
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(MediaError::io("could not create output directory", &dir))?;
        paths::remove_matching(&dir, |n| is_piece(n, &stem, piece_ext)).await?;
        let cmd = self
            .ffmpeg_command(args, info.duration)
            .ffmpeg_progress(info.duration);
        cmd.run(ctl).await?;
        let mut files = Vec::new();
        if f.hls || spec.duration.is_none() {
            let main = paths::absolute(output)?;
            if !tokio::fs::metadata(&main).await.is_ok_and(|m| m.len() > 0) {
                return Err(MediaError::NoOutput { path: main });
            }
            files.push(main);
        }
        if f.hls || spec.duration.is_some() {
            let pieces = paths::list_matching(&dir, |n| is_piece(n, &stem, piece_ext)).await?;
            if pieces.is_empty() {
                return Err(MediaError::NoOutput {
                    path: dir.join(format!("{stem}-00000.{piece_ext}")),
                });
            }
            files.extend(pieces);
        }
        if hls_fmp4(info, f) {
            let init = dir.join(format!("{stem}-init.mp4"));
            if !tokio::fs::try_exists(&init).await.unwrap_or(false) {
                return Err(MediaError::NoOutput { path: init });
            }
            files.push(init);
        }
        Ok(files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::StreamInfo;

    fn info(audio_codec: &str) -> MediaInfo {
        MediaInfo {
            duration: Some(10.0),
            streams: vec![
                StreamInfo {
                    codec_type: "video".into(),
                    codec_name: "h264".into(),
                    ..Default::default()
                },
                StreamInfo {
                    index: 1,
                    codec_type: "audio".into(),
                    codec_name: audio_codec.into(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        }
    }

    fn args(format: &str, duration: Option<f64>, output: &str, audio: &str) -> Vec<String> {
        let spec = SegmentSpec {
            format: format.into(),
            duration,
        };
        segment_args(Path::new("/in.mp4"), Path::new(output), &spec, &info(audio)).unwrap()
    }

    fn value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
        let pos = args.iter().position(|a| a == flag)?;
        args.get(pos + 1).map(String::as_str)
    }

    #[test]
    fn hls_is_a_copied_playlist_with_segments() {
        let a = args("m3u8", Some(6.0), "/o/play.m3u8", "aac");
        assert_eq!(value(&a, "-c"), Some("copy"));
        assert_eq!(value(&a, "-f"), Some("hls"));
        assert_eq!(value(&a, "-hls_time"), Some("6"));
        assert_eq!(value(&a, "-hls_segment_filename"), Some("/o/play-%05d.ts"));
        assert_eq!(a.last().map(String::as_str), Some("/o/play.m3u8"));
        let a = args("hls", None, "/o/play.m3u8", "aac");
        assert_eq!(value(&a, "-hls_time"), Some("10"));
    }

    #[test]
    fn duration_splits_with_the_segment_muxer() {
        let a = args("mp4", Some(5.0), "/o/part.mp4", "aac");
        assert_eq!(value(&a, "-f"), Some("segment"));
        assert_eq!(value(&a, "-segment_time"), Some("5"));
        assert_eq!(value(&a, "-reset_timestamps"), Some("1"));
        assert_eq!(value(&a, "-segment_format"), Some("mp4"));
        assert_eq!(
            value(&a, "-segment_format_options"),
            Some("movflags=+faststart")
        );
        assert_eq!(a.last().map(String::as_str), Some("/o/part-%05d.mp4"));
        assert!(segment_writes_pieces(&SegmentSpec {
            format: "mp4".into(),
            duration: Some(5.0)
        }));
    }

    #[test]
    fn single_remux() {
        let a = args("mkv", None, "/o/x.mkv", "aac");
        assert_eq!(value(&a, "-f"), Some("matroska"));
        assert_eq!(a.last().map(String::as_str), Some("/o/x.mkv"));
        assert_eq!(
            segment_extension(&SegmentSpec {
                format: "M3U8".into(),
                duration: None
            }),
            "m3u8"
        );
    }

    #[test]
    fn audio_formats_copy_or_encode() {
        let a = args("aac", None, "/o/a.aac", "aac");
        assert_eq!(value(&a, "-c:a"), Some("copy"));
        assert_eq!(value(&a, "-f"), Some("adts"));
        let a = args("mp3", None, "/o/a.mp3", "aac");
        assert_eq!(value(&a, "-c:a"), Some("libmp3lame"));
        let a = args("flac", Some(10.0), "/o/a.flac", "flac");
        assert_eq!(value(&a, "-c:a"), Some("copy"));
        assert_eq!(value(&a, "-segment_format"), Some("flac"));
    }

    #[test]
    fn errors() {
        let spec = SegmentSpec {
            format: "wmv".into(),
            duration: None,
        };
        let err =
            segment_args(Path::new("/i"), Path::new("/o.wmv"), &spec, &info("aac")).unwrap_err();
        assert_eq!(err.code(), "InvalidSpec");
        let mut silent = info("aac");
        silent.streams.pop();
        let spec = SegmentSpec {
            format: "mp3".into(),
            duration: None,
        };
        let err = segment_args(Path::new("/i"), Path::new("/o.mp3"), &spec, &silent).unwrap_err();
        assert_eq!(err.code(), "InvalidInput");
        assert!(is_piece("out-00003.ts", "out", "ts"));
        assert!(!is_piece("out.ts", "out", "ts"));
    }
}
