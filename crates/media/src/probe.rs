//! ffprobe: what is in a media file.
//!
//! `ffprobe -v error -print_format json -show_format -show_streams` is cheap (≈0.1 s)
//! and runs before every operation: it rejects unreadable inputs early with a clear
//! [`MediaError::InvalidInput`], and the duration it reports drives timeouts and
//! progress percentages.
//!
//! ffprobe prints most numbers as JSON strings (`"duration": "2.000000"`), rates as
//! fractions (`"25/1"`, `"0/0"` when unknown) and omits fields freely, so the raw serde
//! structs below accept strings and options, and a conversion step produces the typed
//! [`MediaInfo`]. The parser is tested against captured ffprobe 5.1 output.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::MediaError;
use crate::limits::MediaTools;
use crate::paths;
use crate::process::{ProcessError, RunControl};

/// Container-level facts and the streams of a media file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MediaInfo {
    /// ffprobe's format name, e.g. `mov,mp4,m4a,3gp,3g2,mj2` or `matroska,webm`.
    pub format_name: String,
    /// Duration in seconds (format duration, else the longest stream).
    pub duration: Option<f64>,
    /// File size in bytes.
    pub size: Option<u64>,
    /// Overall bit rate in bit/s.
    pub bit_rate: Option<u64>,
    /// Every stream, in file order.
    pub streams: Vec<StreamInfo>,
}

/// One stream of a media file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamInfo {
    /// Stream index in the file (what `-map 0:N` means).
    pub index: u32,
    /// `video`, `audio`, `subtitle`, `data`, `attachment`.
    pub codec_type: String,
    /// Codec short name (`h264`, `aac`), empty when ffprobe does not know it.
    pub codec_name: String,
    /// Frame width in pixels (video).
    pub width: Option<u32>,
    /// Frame height in pixels (video).
    pub height: Option<u32>,
    /// Frames per second (average rate, else the base rate).
    pub fps: Option<f64>,
    /// Sample rate in Hz (audio).
    pub sample_rate: Option<u32>,
    /// Channel count (audio).
    pub channels: Option<u32>,
    /// Stream duration in seconds.
    pub duration: Option<f64>,
    /// Stream bit rate in bit/s.
    pub bit_rate: Option<u64>,
    /// Frame count, when the container records it.
    pub nb_frames: Option<u64>,
    /// Pixel format (`yuv420p`), video only.
    #[serde(default)]
    pub pix_fmt: Option<String>,
    /// Codec profile as ffprobe names it (`High`, `Main`, `LC`).
    #[serde(default)]
    pub profile: Option<String>,
    /// Codec level as ffprobe reports it (`31` for H.264 level 3.1), video only.
    #[serde(default)]
    pub level: Option<i64>,
    /// Display rotation in degrees, `[0, 360)`, counter-clockwise as ffprobe reports the
    /// display matrix; `None` when the picture is shown as coded. Players turn the picture; so does ffmpeg when it
    /// decodes (autorotate).
    #[serde(default)]
    pub rotation: Option<u32>,
    /// The stream is a still picture attached to the file (cover art: an ID3 `APIC`,
    /// an mp4 `covr`, a FLAC picture), not a video track.
    #[serde(default)]
    pub attached_pic: bool,
}

impl MediaInfo {
    /// `true` when there is at least one video stream.
    pub fn has_video(&self) -> bool {
        self.video().is_some()
    }

    /// `true` when there is at least one audio stream.
    pub fn has_audio(&self) -> bool {
        self.audio().is_some()
    }

    /// The first video stream (the one operations use). Cover art is not video: an
    /// mp3 with a cover is audio-only (ffmpeg's `V` stream specifier agrees).
    pub fn video(&self) -> Option<&StreamInfo> {
        self.streams
            .iter()
            .find(|s| s.codec_type == "video" && !s.attached_pic)
    }

    /// The first attached picture (cover art), if any.
    pub fn cover(&self) -> Option<&StreamInfo> {
        self.streams
            .iter()
            .find(|s| s.codec_type == "video" && s.attached_pic)
    }

    /// The first audio stream (the one operations use).
    pub fn audio(&self) -> Option<&StreamInfo> {
        self.streams.iter().find(|s| s.codec_type == "audio")
    }
}

impl StreamInfo {
    /// `true` when the display matrix turns the picture (by any angle).
    pub fn is_rotated(&self) -> bool {
        self.rotation.is_some_and(|r| r != 0)
    }

    /// The size a player shows (and ffmpeg's decoder delivers, autorotated): width and
    /// height swapped for a quarter turn.
    pub fn display_size(&self) -> Option<(u32, u32)> {
        let (w, h) = (self.width?, self.height?);
        Some(match self.rotation {
            Some(90 | 270) => (h, w),
            _ => (w, h),
        })
    }
}

/// Probes `path` with ffprobe using default tools and limits.
pub async fn probe(path: &Path, ctl: &RunControl) -> Result<MediaInfo, MediaError> {
    MediaTools::default().probe(path, ctl).await
}

impl MediaTools {
    /// Probes `path`. Unreadable, empty or stream-less files are
    /// [`MediaError::InvalidInput`] carrying ffprobe's stderr tail.
    pub async fn probe(&self, path: &Path, ctl: &RunControl) -> Result<MediaInfo, MediaError> {
        let input = paths::arg(path)?;
        let args = [
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
        ];
        let cmd = self.ffprobe_command(args).arg(input);
        let output = match cmd.run(ctl).await {
            Ok(output) => output,
            Err(ProcessError::Failed { stderr_tail, .. }) => {
                return Err(unreadable(path, &stderr_tail));
            }
            Err(other) => return Err(other.into()),
        };
        let info = parse_ffprobe_json(&output.stdout)?;
        if !info.has_video() && !info.has_audio() {
            return Err(MediaError::invalid_input(format!(
                "{} has no audio or video stream (format {})",
                file_name(path),
                info.format_name
            )));
        }
        Ok(info)
    }
}

fn unreadable(path: &Path, stderr_tail: &str) -> MediaError {
    // ffprobe prefixes its message with the full path; keep just the file name.
    let full = path.to_string_lossy();
    let tail = stderr_tail.replace(full.as_ref(), &file_name(path));
    MediaError::invalid_input(format!("ffprobe could not read the input: {tail}"))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Parses `ffprobe -print_format json -show_format -show_streams` output.
///
/// Output without a `format` section (what ffprobe prints for non-media) is
/// [`MediaError::InvalidInput`]; malformed JSON is [`MediaError::ProbeOutput`].
pub fn parse_ffprobe_json(json: &[u8]) -> Result<MediaInfo, MediaError> {
    let raw: RawProbe = serde_json::from_slice(json).map_err(MediaError::ProbeOutput)?;
    let format = raw
        .format
        .ok_or_else(|| MediaError::invalid_input("ffprobe found no media format"))?;
    let streams: Vec<StreamInfo> = raw.streams.into_iter().map(RawStream::into_info).collect();
    let longest_stream = streams
        .iter()
        .filter_map(|s| s.duration)
        .fold(None, |acc: Option<f64>, d| {
            Some(acc.map_or(d, |a| a.max(d)))
        });
    Ok(MediaInfo {
        format_name: format.format_name.unwrap_or_default(),
        duration: parse_f64(format.duration.as_deref()).or(longest_stream),
        size: parse_u64(format.size.as_deref()),
        bit_rate: parse_u64(format.bit_rate.as_deref()),
        streams,
    })
}

#[derive(Debug, Deserialize)]
struct RawProbe {
    #[serde(default)]
    streams: Vec<RawStream>,
    format: Option<RawFormat>,
}

#[derive(Debug, Deserialize)]
struct RawFormat {
    format_name: Option<String>,
    duration: Option<String>,
    size: Option<String>,
    bit_rate: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawStream {
    index: u32,
    codec_type: Option<String>,
    codec_name: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    avg_frame_rate: Option<String>,
    r_frame_rate: Option<String>,
    sample_rate: Option<String>,
    channels: Option<u32>,
    duration: Option<String>,
    bit_rate: Option<String>,
    nb_frames: Option<String>,
    pix_fmt: Option<String>,
    profile: Option<String>,
    level: Option<i64>,
    #[serde(default)]
    tags: HashMap<String, String>,
    #[serde(default)]
    disposition: HashMap<String, i64>,
    #[serde(default)]
    side_data_list: Vec<RawSideData>,
}

#[derive(Debug, Deserialize)]
struct RawSideData {
    #[serde(default)]
    side_data_type: String,
    rotation: Option<f64>,
}

impl RawStream {
    fn into_info(self) -> StreamInfo {
        // Matroska keeps per-stream durations only in a `DURATION` tag (HH:MM:SS.fff).
        let tag_duration = self
            .tags
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("duration"))
            .and_then(|(_, v)| parse_clock(v));
        let rotation = self.rotation();
        let attached_pic = self
            .disposition
            .get("attached_pic")
            .is_some_and(|v| *v != 0);
        StreamInfo {
            index: self.index,
            codec_type: self.codec_type.unwrap_or_default(),
            codec_name: self.codec_name.unwrap_or_default(),
            width: self.width.filter(|w| *w > 0),
            height: self.height.filter(|h| *h > 0),
            fps: parse_rate(self.avg_frame_rate.as_deref())
                .or_else(|| parse_rate(self.r_frame_rate.as_deref())),
            sample_rate: self.sample_rate.as_deref().and_then(|s| s.parse().ok()),
            channels: self.channels.filter(|c| *c > 0),
            duration: parse_f64(self.duration.as_deref()).or(tag_duration),
            bit_rate: parse_u64(self.bit_rate.as_deref()),
            nb_frames: parse_u64(self.nb_frames.as_deref()),
            pix_fmt: self.pix_fmt.filter(|p| !p.is_empty() && p != "unknown"),
            profile: self.profile.filter(|p| !p.is_empty() && p != "unknown"),
            // ffprobe prints -99 when the level is unknown.
            level: self.level.filter(|l| *l > 0),
            rotation,
            attached_pic,
        }
    }

    /// The display matrix's rotation (ffprobe turns legacy `rotate` tags into one).
    fn rotation(&self) -> Option<u32> {
        let degrees = self
            .side_data_list
            .iter()
            .find(|d| d.side_data_type == "Display Matrix")
            .and_then(|d| d.rotation)?;
        if !degrees.is_finite() {
            return None;
        }
        let normalised = degrees.round().rem_euclid(360.0) as u32;
        (normalised != 0).then_some(normalised)
    }
}

fn parse_f64(text: Option<&str>) -> Option<f64> {
    text?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
}

fn parse_u64(text: Option<&str>) -> Option<u64> {
    text?.trim().parse().ok()
}

/// `"30000/1001"` → 29.97; `"0/0"` and junk → `None`.
fn parse_rate(text: Option<&str>) -> Option<f64> {
    let (num, den) = text?.split_once('/')?;
    let (num, den): (f64, f64) = (num.parse().ok()?, den.parse().ok()?);
    let rate = num / den;
    (rate.is_finite() && rate > 0.0).then_some(rate)
}

/// `"00:01:02.500000000"` → 62.5.
fn parse_clock(text: &str) -> Option<f64> {
    let mut parts = text.trim().split(':');
    let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
    let secs =
        h.parse::<f64>().ok()? * 3600.0 + m.parse::<f64>().ok()? * 60.0 + s.parse::<f64>().ok()?;
    (parts.next().is_none() && secs.is_finite()).then_some(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MP4: &str = include_str!("../tests/fixtures/ffprobe_5_1_mp4_h264_aac.json");
    const MP3: &str = include_str!("../tests/fixtures/ffprobe_5_1_mp3.json");
    const WEBM: &str = include_str!("../tests/fixtures/ffprobe_5_1_webm_vp8.json");
    const ROTATED: &str = include_str!("../tests/fixtures/ffprobe_5_1_mp4_rotated.json");
    const MP3_COVER: &str = include_str!("../tests/fixtures/ffprobe_5_1_mp3_cover.json");

    #[test]
    fn parses_mp4_with_h264_and_aac() {
        let info = parse_ffprobe_json(MP4.as_bytes()).unwrap();
        assert_eq!(info.format_name, "mov,mp4,m4a,3gp,3g2,mj2");
        assert_eq!(info.duration, Some(2.0));
        assert!(info.size.is_some() && info.bit_rate.is_some());
        let video = info.video().unwrap();
        assert_eq!((video.index, video.codec_name.as_str()), (0, "h264"));
        assert_eq!((video.width, video.height), (Some(320), Some(240)));
        assert_eq!(video.fps, Some(25.0));
        assert_eq!(video.nb_frames, Some(50));
        assert_eq!(video.pix_fmt.as_deref(), Some("yuv420p"));
        assert_eq!(video.profile.as_deref(), Some("Constrained Baseline"));
        assert_eq!(video.level, Some(13));
        let audio = info.audio().unwrap();
        assert_eq!(audio.codec_name, "aac");
        assert_eq!((audio.sample_rate, audio.channels), (Some(44100), Some(1)));
        assert_eq!(audio.fps, None, "0/0 is no rate");
    }

    #[test]
    fn parses_audio_only_mp3() {
        let info = parse_ffprobe_json(MP3.as_bytes()).unwrap();
        assert_eq!(info.format_name, "mp3");
        assert!(!info.has_video());
        assert_eq!(info.audio().unwrap().bit_rate, Some(64000));
        assert_eq!(info.duration, Some(2.037551));
    }

    #[test]
    fn webm_stream_duration_comes_from_tag() {
        let info = parse_ffprobe_json(WEBM.as_bytes()).unwrap();
        assert_eq!(info.format_name, "matroska,webm");
        let video = info.video().unwrap();
        assert_eq!(video.codec_name, "vp8");
        assert_eq!(video.duration, Some(1.0));
        assert_eq!(video.fps, Some(10.0));
        assert!(!info.has_audio());
    }

    #[test]
    fn display_matrix_rotation_swaps_the_display_size() {
        let info = parse_ffprobe_json(ROTATED.as_bytes()).unwrap();
        let video = info.video().unwrap();
        assert_eq!((video.width, video.height), (Some(64), Some(36)));
        assert_eq!(video.rotation, Some(90));
        assert!(video.is_rotated());
        assert_eq!(video.display_size(), Some((36, 64)));
        let plain = parse_ffprobe_json(MP4.as_bytes()).unwrap();
        let video = plain.video().unwrap();
        assert_eq!(video.rotation, None);
        assert_eq!(video.display_size(), Some((320, 240)));
    }

    #[test]
    fn cover_art_is_not_video() {
        let info = parse_ffprobe_json(MP3_COVER.as_bytes()).unwrap();
        assert!(!info.has_video(), "an mp3 with a cover is audio-only");
        let cover = info.cover().unwrap();
        assert_eq!((cover.index, cover.codec_name.as_str()), (1, "mjpeg"));
        assert!(cover.attached_pic);
        assert!(
            parse_ffprobe_json(MP4.as_bytes())
                .unwrap()
                .cover()
                .is_none()
        );
    }

    #[test]
    fn non_media_output_is_invalid_input() {
        // What ffprobe 5.1 prints on stdout for random bytes or an empty file.
        let err = parse_ffprobe_json(b"{\n\n}\n").unwrap_err();
        assert_eq!(err.code(), "InvalidInput");
    }

    #[test]
    fn malformed_json_is_a_probe_output_error() {
        let err = parse_ffprobe_json(b"{\"format\":").unwrap_err();
        assert_eq!(err.code(), "ProbeFailed");
    }

    #[test]
    fn rates_and_clocks() {
        assert_eq!(
            parse_rate(Some("30000/1001")).map(|r| (r * 100.0).round()),
            Some(2997.0)
        );
        assert_eq!(parse_rate(Some("0/0")), None);
        assert_eq!(parse_clock("00:01:02.500000000"), Some(62.5));
        assert_eq!(parse_clock("junk"), None);
    }
}
