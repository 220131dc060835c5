//! Containers and codecs as CI spells them, mapped to ffmpeg muxers and encoders.
//!
//! The compatibility table follows the CI transcode-template documentation (section
//! 5.2 of the reference): a codec outside its container's list is an
//! [`MediaError::InvalidSpec`] up front instead of an obscure muxer error later.
//! Encoders are the ones Debian's ffmpeg 5.1 ships: libx264, libx265, libvpx(-vp9),
//! libsvtav1 (faster than libaom on small machines), aac, libmp3lame, flac, libvorbis,
//! libopus, pcm_s16le, gif. AMR has no encoder there and is rejected.

use crate::error::MediaError;

/// Video codecs CI templates can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VideoCodec {
    H264,
    H265,
    Vp8,
    Vp9,
    Av1,
    Gif,
}

/// Audio codecs CI templates can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AudioCodec {
    Aac,
    Mp3,
    Flac,
    Vorbis,
    Opus,
    PcmS16le,
}

/// How a container writes its files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// One file.
    Single,
    /// HLS playlist plus `.ts` segments.
    Hls,
    /// DASH manifest plus `.m4s` init and media segments.
    Dash,
}

/// Everything the argument builder needs to know about a container.
#[derive(Debug)]
pub(crate) struct Container {
    /// CI name (lower case).
    pub name: &'static str,
    /// ffmpeg muxer (`-f`).
    pub muxer: &'static str,
    /// File extension of the main output.
    pub ext: &'static str,
    pub layout: Layout,
    /// Allowed video codecs, the first being the default; empty for audio-only.
    pub video: &'static [VideoCodec],
    /// Allowed audio codecs, the first being the default; empty for silent formats.
    pub audio: &'static [AudioCodec],
}

use AudioCodec as A;
use VideoCodec as V;

const AV_MP4: &[VideoCodec] = &[V::H264, V::H265, V::Av1];
const AAC_MP3: &[AudioCodec] = &[A::Aac, A::Mp3];

const fn single(
    name: &'static str,
    muxer: &'static str,
    ext: &'static str,
    video: &'static [VideoCodec],
    audio: &'static [AudioCodec],
) -> Container {
    Container {
        name,
        muxer,
        ext,
        layout: Layout::Single,
        video,
        audio,
    }
}

static CONTAINERS: &[Container] = &[
    single("mp4", "mp4", "mp4", AV_MP4, AAC_MP3),
    single("mov", "mov", "mov", &[V::H264], AAC_MP3),
    single("mkv", "matroska", "mkv", AV_MP4, AAC_MP3),
    single("flv", "flv", "flv", &[V::H264], AAC_MP3),
    single("ts", "mpegts", "ts", &[V::H264], AAC_MP3),
    single("avi", "avi", "avi", &[V::H264], AAC_MP3),
    Container {
        layout: Layout::Hls,
        ..single("hls", "hls", "m3u8", &[V::H264, V::H265], AAC_MP3)
    },
    Container {
        layout: Layout::Dash,
        ..single("dash", "dash", "mpd", &[V::H264], &[A::Aac])
    },
    single(
        "webm",
        "webm",
        "webm",
        &[V::Vp8, V::Vp9, V::Av1],
        &[A::Vorbis, A::Opus],
    ),
    single("aac", "adts", "aac", &[], &[A::Aac]),
    single("adts", "adts", "aac", &[], &[A::Aac]),
    single("m4a", "ipod", "m4a", &[], &[A::Aac]),
    single("mp3", "mp3", "mp3", &[], &[A::Mp3]),
    single("flac", "flac", "flac", &[], &[A::Flac]),
    single("wav", "wav", "wav", &[], &[A::PcmS16le]),
    single("gif", "gif", "gif", &[V::Gif], &[]),
];

/// Looks up a CI container name (case-insensitive; `m3u8` and `mpd` are accepted too).
pub(crate) fn container(name: &str) -> Result<&'static Container, MediaError> {
    let name = name.trim().to_ascii_lowercase();
    let name = match name.as_str() {
        "m3u8" => "hls",
        "mpd" => "dash",
        "matroska" => "mkv",
        other => other,
    };
    CONTAINERS
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| MediaError::invalid_spec(format!("container {name:?} is not supported")))
}

impl VideoCodec {
    /// Parses a CI codec name (`H.264`, `H.265`, `VP8`, `VP9`, `AV1`; loose spellings ok).
    pub(crate) fn parse(name: &str) -> Result<Self, MediaError> {
        let key: String = name.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        Ok(match key.to_ascii_lowercase().as_str() {
            "h264" | "avc" | "libx264" => Self::H264,
            "h265" | "hevc" | "libx265" => Self::H265,
            "vp8" | "libvpx" => Self::Vp8,
            "vp9" | "libvpxvp9" => Self::Vp9,
            "av1" | "libsvtav1" => Self::Av1,
            "gif" => Self::Gif,
            _ => {
                return Err(MediaError::invalid_spec(format!(
                    "video codec {name:?} is not supported"
                )));
            }
        })
    }

    /// The ffmpeg encoder.
    pub(crate) fn encoder(self) -> &'static str {
        match self {
            Self::H264 => "libx264",
            Self::H265 => "libx265",
            Self::Vp8 => "libvpx",
            Self::Vp9 => "libvpx-vp9",
            Self::Av1 => "libsvtav1",
            Self::Gif => "gif",
        }
    }

    /// The most threads one encode `width` pixels wide keeps busy, when the encoder's
    /// threading model caps it below a large machine's cores; `None` when it scales with
    /// them. libvpx-vp9 without row-based multithreading (ffmpeg's default) works in
    /// parallel only across tile columns, each at least 256 px wide and a power of two in
    /// number (libvpx `vp9_get_tile_n_bits`, `--tile-columns`): 4 at 720p and 1080p, 8 at
    /// 2160p. x264, x265 and SVT-AV1 thread by frames and rows; measured on 2 cores, every
    /// encoder here keeps 1.67 (VP9) to 1.93 (SVT-AV1) of them busy (README).
    pub(crate) fn thread_limit(self, width: u32) -> Option<usize> {
        match self {
            Self::Vp9 => {
                let columns = (width / 256).max(1);
                Some(1 << columns.ilog2().min(6))
            }
            _ => None,
        }
    }

    /// CI spelling, for messages.
    pub(crate) fn ci_name(self) -> &'static str {
        match self {
            Self::H264 => "H.264",
            Self::H265 => "H.265",
            Self::Vp8 => "VP8",
            Self::Vp9 => "VP9",
            Self::Av1 => "AV1",
            Self::Gif => "gif",
        }
    }
}

impl AudioCodec {
    /// Parses a CI codec name (`aac`, `mp3`, `flac`, `Vorbis`, `opus`, `pcm_s16le`).
    pub(crate) fn parse(name: &str) -> Result<Self, MediaError> {
        Ok(match name.trim().to_ascii_lowercase().as_str() {
            "aac" => Self::Aac,
            "mp3" | "libmp3lame" => Self::Mp3,
            "flac" => Self::Flac,
            "vorbis" | "libvorbis" => Self::Vorbis,
            "opus" | "libopus" => Self::Opus,
            "pcm_s16le" | "pcm" => Self::PcmS16le,
            _ => {
                return Err(MediaError::invalid_spec(format!(
                    "audio codec {name:?} is not supported"
                )));
            }
        })
    }

    /// The ffmpeg encoder.
    pub(crate) fn encoder(self) -> &'static str {
        match self {
            Self::Aac => "aac",
            Self::Mp3 => "libmp3lame",
            Self::Flac => "flac",
            Self::Vorbis => "libvorbis",
            Self::Opus => "libopus",
            Self::PcmS16le => "pcm_s16le",
        }
    }

    /// Default sample rate: CI's 44100 Hz, 48000 Hz for opus (its native rate).
    pub(crate) fn default_sample_rate(self) -> u32 {
        match self {
            Self::Opus => 48_000,
            _ => 44_100,
        }
    }

    /// Lossless/PCM codecs ignore a bitrate.
    pub(crate) fn takes_bitrate(self) -> bool {
        !matches!(self, Self::Flac | Self::PcmS16le)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_lookup_is_case_insensitive() {
        assert_eq!(container("MP4").unwrap().muxer, "mp4");
        assert_eq!(container("m3u8").unwrap().layout, Layout::Hls);
        assert_eq!(container("WebM").unwrap().video[0], VideoCodec::Vp8);
        assert_eq!(container("amr").unwrap_err().code(), "InvalidSpec");
    }

    #[test]
    fn ci_codec_spellings() {
        assert_eq!(VideoCodec::parse("H.264").unwrap(), VideoCodec::H264);
        assert_eq!(VideoCodec::parse("h265").unwrap(), VideoCodec::H265);
        assert_eq!(VideoCodec::parse("AV1").unwrap().encoder(), "libsvtav1");
        let vp9 = VideoCodec::Vp9;
        let limits = [200, 1280, 1920, 3840, 7680].map(|w| vp9.thread_limit(w));
        assert_eq!(limits, [Some(1), Some(4), Some(4), Some(8), Some(16)]);
        assert_eq!(VideoCodec::H265.thread_limit(3840), None);
        assert_eq!(AudioCodec::parse("Vorbis").unwrap(), AudioCodec::Vorbis);
        assert!(AudioCodec::parse("amr").is_err());
    }
}
