//! Adaptive streaming packages (CI `StreamPackConfig` → `VideoStream`* →
//! `StreamPack`): several renditions of one input, already transcoded to HLS by the
//! `VideoStream` nodes, tied together.
//!
//! - **HLS**: a master playlist ([`master_playlist`]) with one
//!   `#EXT-X-STREAM-INF` per variant: `BANDWIDTH` (the template's `BandWidth` when
//!   set, else the measured peak segment bitrate), `AVERAGE-BANDWIDTH`, `RESOLUTION`,
//!   `FRAME-RATE` and `CODECS` (RFC 6381 strings derived from ffprobe's profile and
//!   level), each pointing at its variant playlist by a URI relative to the master
//!   ([`relative_uri`]). [`hls_variant`] measures and probes one variant.
//! - **DASH**: [`pack_dash`] runs ffmpeg's `dash` muxer over the variant playlists
//!   with stream copy: one video `AdaptationSet` holding every variant's video as a
//!   `Representation`, one audio set holding the first variant's audio (renditions
//!   normally share their sound). The result is an `.mpd` plus fMP4 init and media
//!   segments named after it (`stem-init-<rep>.m4s`, `stem-chunk-<rep>-<n>.m4s`).
//!   Segments follow the variants' key frames, which the transcodes place on every
//!   segment boundary.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::MediaError;
use crate::ffmpeg::prelude;
use crate::limits::MediaTools;
use crate::paths;
use crate::probe::MediaInfo;
use crate::process::RunControl;
use crate::transcode::{
    TranscodeSpec, collect_outputs, container, muxer_args, remove_stale_segments,
};

/// DASH segment length when none is given.
const DEFAULT_DASH_SECS: f64 = 5.0;

/// One rendition in a master playlist.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Variant {
    /// The variant playlist's URI, relative to the master playlist.
    pub uri: String,
    /// `BANDWIDTH`: peak bits per second.
    pub bandwidth: u64,
    /// `AVERAGE-BANDWIDTH`: average bits per second.
    pub average_bandwidth: Option<u64>,
    /// `RESOLUTION` as (width, height).
    pub resolution: Option<(u32, u32)>,
    /// `CODECS`, e.g. `avc1.64001f,mp4a.40.2`.
    pub codecs: Option<String>,
    /// `FRAME-RATE`.
    pub frame_rate: Option<f64>,
}

/// The master playlist of `variants`, in the order given (players start with the
/// first one they can play).
pub fn master_playlist(variants: &[Variant]) -> String {
    let mut text = String::from("#EXTM3U\n#EXT-X-VERSION:3\n");
    for v in variants {
        let mut attrs = vec![format!("BANDWIDTH={}", v.bandwidth.max(1))];
        if let Some(avg) = v.average_bandwidth {
            attrs.push(format!("AVERAGE-BANDWIDTH={avg}"));
        }
        if let Some((w, h)) = v.resolution {
            attrs.push(format!("RESOLUTION={w}x{h}"));
        }
        if let Some(fps) = v.frame_rate {
            attrs.push(format!("FRAME-RATE={fps:.3}"));
        }
        if let Some(codecs) = &v.codecs {
            attrs.push(format!("CODECS=\"{codecs}\""));
        }
        text.push_str(&format!("#EXT-X-STREAM-INF:{}\n", attrs.join(",")));
        // A URI is one line; anything else would corrupt the playlist.
        text.push_str(&v.uri.replace(['\n', '\r'], ""));
        text.push('\n');
    }
    text
}

/// The URI of `target` relative to the document at `from` (both `/`-separated: object
/// keys or paths), percent-encoding what a URI cannot hold.
/// `relative_uri("out/master.m3u8", "out/v1/video.m3u8") == "v1/video.m3u8"`.
pub fn relative_uri(from: &str, target: &str) -> String {
    let from_dir: Vec<&str> = from.rsplit_once('/').map_or(Vec::new(), |(dir, _)| {
        dir.split('/').filter(|s| !s.is_empty()).collect()
    });
    let to: Vec<&str> = target.split('/').filter(|s| !s.is_empty()).collect();
    let (to_dir, name) = to.split_at(to.len().saturating_sub(1));
    let common = from_dir
        .iter()
        .zip(to_dir)
        .take_while(|(a, b)| a == b)
        .count();
    let mut parts: Vec<String> = vec!["..".into(); from_dir.len() - common];
    parts.extend(to_dir[common..].iter().chain(name).map(|s| encode(s)));
    parts.join("/")
}

fn encode(segment: &str) -> String {
    let mut out = String::new();
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$&()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// RFC 6381 `CODECS` for the first video and audio streams, `None` when one of them is
/// a codec this function cannot describe (better no attribute than a wrong one).
pub fn codecs_string(info: &MediaInfo) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(v) = info.video() {
        parts.push(match v.codec_name.as_str() {
            "h264" => {
                let (idc, constraints) = match v.profile.as_deref()? {
                    "Baseline" | "Constrained Baseline" => (0x42, 0xE0),
                    "Main" => (0x4D, 0x40),
                    "Extended" => (0x58, 0x00),
                    "High" => (0x64, 0x00),
                    "High 10" => (0x6E, 0x00),
                    "High 4:2:2" => (0x7A, 0x00),
                    "High 4:4:4 Predictive" => (0xF4, 0x00),
                    _ => return None,
                };
                format!("avc1.{idc:02x}{constraints:02x}{:02x}", v.level?)
            }
            "hevc" => {
                let (profile, compat) = match v.profile.as_deref()? {
                    "Main" => (1, 6),
                    "Main 10" => (2, 4),
                    _ => return None,
                };
                format!("hvc1.{profile}.{compat}.L{}.B0", v.level?)
            }
            _ => return None,
        });
    }
    if let Some(a) = info.audio() {
        parts.push(match a.codec_name.as_str() {
            "aac" => match a.profile.as_deref() {
                Some("HE-AAC") => "mp4a.40.5",
                Some("HE-AACv2") => "mp4a.40.29",
                _ => "mp4a.40.2",
            }
            .to_owned(),
            "mp3" => "mp4a.40.34".into(),
            "ac3" => "ac-3".into(),
            "eac3" => "ec-3".into(),
            _ => return None,
        });
    }
    (!parts.is_empty()).then(|| parts.join(","))
}

/// Segment durations and files of a media playlist.
fn playlist_segments(playlist: &Path, text: &str) -> Vec<(f64, PathBuf)> {
    let dir = playlist.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    let mut pending: Option<f64> = None;
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("#EXTINF:") {
            pending = rest.split(',').next().and_then(|d| d.trim().parse().ok());
        } else if !line.is_empty()
            && !line.starts_with('#')
            && let Some(d) = pending.take()
        {
            out.push((d, dir.join(line)));
        }
    }
    out
}

/// Measures and probes the HLS variant playlist at `playlist`: peak and average
/// bitrate over its segments, resolution, frame rate and codecs of its first segment.
/// `bandwidth` (CI `BandWidth`, b/s; `None` or 0 = measure) overrides the peak.
pub async fn hls_variant(
    playlist: &Path,
    uri: impl Into<String>,
    bandwidth: Option<u64>,
    ctl: &RunControl,
) -> Result<Variant, MediaError> {
    let text = tokio::fs::read_to_string(playlist)
        .await
        .map_err(MediaError::io(
            "could not read the variant playlist",
            playlist,
        ))?;
    let segments = playlist_segments(playlist, &text);
    let Some((_, first)) = segments.first() else {
        return Err(MediaError::invalid_input(format!(
            "{} lists no segments",
            playlist.display()
        )));
    };
    let (mut peak, mut bits, mut secs) = (0.0f64, 0.0f64, 0.0f64);
    for (d, path) in &segments {
        let size = tokio::fs::metadata(path)
            .await
            .map_err(MediaError::io("could not read a variant segment", path))?
            .len() as f64
            * 8.0;
        bits += size;
        secs += d;
        if *d > 0.0 {
            peak = peak.max(size / d);
        }
    }
    let info = MediaTools::default().probe(first, ctl).await?;
    let video = info.video();
    Ok(Variant {
        uri: uri.into(),
        bandwidth: bandwidth.filter(|b| *b > 0).unwrap_or(peak.ceil() as u64),
        average_bandwidth: (secs > 0.0).then(|| (bits / secs).ceil() as u64),
        resolution: video.and_then(|v| Some((v.width?, v.height?))),
        codecs: codecs_string(&info),
        frame_rate: video.and_then(|v| v.fps),
    })
}

/// The ffmpeg arguments packing `variants` (media playlists or files, with their
/// probes) into the DASH manifest `output`.
pub fn pack_dash_args(
    variants: &[(PathBuf, MediaInfo)],
    output: &Path,
    segment: Option<f64>,
) -> Result<Vec<String>, MediaError> {
    if variants.is_empty() {
        return Err(MediaError::invalid_spec(
            "a DASH package needs at least one variant",
        ));
    }
    let mut args = prelude();
    for (path, _) in variants {
        args.extend(["-i".into(), paths::arg(path)?]);
    }
    let mut tags = Vec::new();
    let mut video_count = 0;
    for (i, (_, info)) in variants.iter().enumerate() {
        let Some(v) = info.video() else { continue };
        let tag = match v.codec_name.as_str() {
            "h264" => "avc1",
            "hevc" => "hvc1",
            "av1" => "av01",
            other => {
                return Err(MediaError::invalid_input(format!(
                    "video codec {other} cannot go into DASH by stream copy"
                )));
            }
        };
        args.extend(["-map".into(), format!("{i}:v:0")]);
        tags.extend([format!("-tag:v:{video_count}"), tag.to_owned()]);
        video_count += 1;
    }
    let audio = variants.iter().position(|(_, info)| info.has_audio());
    if let Some(i) = audio {
        args.extend(["-map".into(), format!("{i}:a:0")]);
        tags.extend(["-tag:a".into(), "mp4a".into()]);
    }
    if video_count == 0 && audio.is_none() {
        return Err(MediaError::invalid_input(
            "the variants hold no audio or video",
        ));
    }
    args.extend(["-c".into(), "copy".into()]);
    args.extend(tags);
    let dash = container("dash")?;
    args.extend(muxer_args(
        dash,
        output,
        segment.unwrap_or(DEFAULT_DASH_SECS),
        false,
    )?);
    let mut sets = Vec::new();
    if video_count > 0 {
        sets.push("id=0,streams=v".to_owned());
    }
    if audio.is_some() {
        sets.push(format!("id={},streams=a", sets.len()));
    }
    args.extend(["-adaptation_sets".into(), sets.join(" ")]);
    args.push(paths::arg(output)?);
    Ok(args)
}

/// Packs the variant playlists into a multi-representation DASH manifest at `output`
/// with default tools and limits. Returns the manifest, then its segments.
pub async fn pack_dash(
    variants: &[PathBuf],
    output: &Path,
    segment: Option<f64>,
    ctl: &RunControl,
) -> Result<Vec<PathBuf>, MediaError> {
    MediaTools::default()
        .pack_dash(variants, output, segment, ctl)
        .await
}

impl MediaTools {
    /// [`pack_dash`] with these tools and limits.
    pub async fn pack_dash(
        &self,
        variants: &[PathBuf],
        output: &Path,
        segment: Option<f64>,
        ctl: &RunControl,
    ) -> Result<Vec<PathBuf>, MediaError> {
        let mut probed = Vec::with_capacity(variants.len());
        for path in variants {
            probed.push((path.clone(), self.probe(path, ctl).await?));
        }
        let args = pack_dash_args(&probed, output, segment)?;
        let dash = TranscodeSpec {
            container: "dash".into(),
            ..Default::default()
        };
        let dir = paths::parent(output)?;
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(MediaError::io("could not create output directory", &dir))?;
        remove_stale_segments(output, &dash).await?;
        let secs = probed
            .iter()
            .filter_map(|(_, i)| i.duration)
            .reduce(f64::max);
        self.ffmpeg_command(args, secs)
            .ffmpeg_progress(secs)
            .run(ctl)
            .await?;
        collect_outputs(output, &dash).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::StreamInfo;

    fn info(vcodec: &str, profile: &str, level: i64, acodec: &str) -> MediaInfo {
        MediaInfo {
            streams: vec![
                StreamInfo {
                    codec_type: "video".into(),
                    codec_name: vcodec.into(),
                    profile: Some(profile.into()),
                    level: Some(level),
                    ..Default::default()
                },
                StreamInfo {
                    index: 1,
                    codec_type: "audio".into(),
                    codec_name: acodec.into(),
                    profile: Some("LC".into()),
                    ..Default::default()
                },
            ],
            ..Default::default()
        }
    }

    #[test]
    fn master_playlist_lists_every_variant() {
        let variants = [
            Variant {
                uri: "v720/video.m3u8".into(),
                bandwidth: 2_500_000,
                average_bandwidth: Some(2_000_000),
                resolution: Some((1280, 720)),
                codecs: Some("avc1.64001f,mp4a.40.2".into()),
                frame_rate: Some(25.0),
            },
            Variant {
                uri: "v360/video.m3u8".into(),
                bandwidth: 800_000,
                ..Default::default()
            },
        ];
        assert_eq!(
            master_playlist(&variants),
            "#EXTM3U\n#EXT-X-VERSION:3\n\
             #EXT-X-STREAM-INF:BANDWIDTH=2500000,AVERAGE-BANDWIDTH=2000000,RESOLUTION=1280x720,\
             FRAME-RATE=25.000,CODECS=\"avc1.64001f,mp4a.40.2\"\nv720/video.m3u8\n\
             #EXT-X-STREAM-INF:BANDWIDTH=800000\nv360/video.m3u8\n"
        );
    }

    #[test]
    fn relative_uris() {
        assert_eq!(
            relative_uri("out/master.m3u8", "out/v1/video.m3u8"),
            "v1/video.m3u8"
        );
        assert_eq!(
            relative_uri("out/run/master.m3u8", "out/run_Substream_1/video.m3u8"),
            "../run_Substream_1/video.m3u8"
        );
        assert_eq!(
            relative_uri("master.m3u8", "a b/v#1.m3u8"),
            "a%20b/v%231.m3u8"
        );
        assert_eq!(relative_uri("/x/y/m.m3u8", "/x/v.m3u8"), "../v.m3u8");
    }

    #[test]
    fn codecs_strings() {
        assert_eq!(
            codecs_string(&info("h264", "High", 31, "aac")).as_deref(),
            Some("avc1.64001f,mp4a.40.2")
        );
        assert_eq!(
            codecs_string(&info("h264", "Constrained Baseline", 13, "mp3")).as_deref(),
            Some("avc1.42e00d,mp4a.40.34")
        );
        assert_eq!(
            codecs_string(&info("hevc", "Main", 93, "aac")).as_deref(),
            Some("hvc1.1.6.L93.B0,mp4a.40.2")
        );
        assert_eq!(codecs_string(&info("vp9", "0", 0, "aac")), None);
    }

    #[test]
    fn playlist_parsing() {
        let text = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.000000,\nv-00000.ts\n\
                    #EXTINF:1.5,\nv-00001.ts\n#EXT-X-ENDLIST\n";
        let segs = playlist_segments(Path::new("/o/v.m3u8"), text);
        assert_eq!(
            segs,
            [
                (2.0, PathBuf::from("/o/v-00000.ts")),
                (1.5, PathBuf::from("/o/v-00001.ts"))
            ]
        );
    }

    #[test]
    fn dash_maps_every_video_and_one_audio() {
        let variants = [
            (PathBuf::from("/v/a.m3u8"), info("h264", "High", 30, "aac")),
            (PathBuf::from("/v/b.m3u8"), info("hevc", "Main", 93, "aac")),
        ];
        let args = pack_dash_args(&variants, Path::new("/o/stream.mpd"), Some(2.0)).unwrap();
        let maps: Vec<_> = args
            .iter()
            .enumerate()
            .filter(|(_, a)| *a == "-map")
            .map(|(i, _)| args[i + 1].as_str())
            .collect();
        assert_eq!(maps, ["0:v:0", "1:v:0", "0:a:0"]);
        assert!(
            args.windows(2)
                .any(|w| w[0] == "-tag:v:1" && w[1] == "hvc1")
        );
        assert!(
            args.windows(2)
                .any(|w| w[0] == "-adaptation_sets" && w[1] == "id=0,streams=v id=1,streams=a")
        );
        assert!(
            args.windows(2)
                .any(|w| w[0] == "-seg_duration" && w[1] == "2")
        );
        assert_eq!(args.last().map(String::as_str), Some("/o/stream.mpd"));
    }
}
