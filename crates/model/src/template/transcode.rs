//! Typed view of Transcode (and HighSpeedHd) templates.

use crate::error::InvalidInput;
use crate::fields::Fields;
use crate::xml::XmlElement;

use super::schemas::SAMPLE_RATES;

/// Container → extension of the produced file (`${Ext}`).
const EXTENSIONS: &[(&str, &str)] = &[("hls", "m3u8"), ("dash", "mpd"), ("adts", "aac")];

/// Typed view of a Transcode template.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TranscodeParams {
    /// Canonical container name (lowercase), e.g. `mp4`.
    pub container: String,
    /// `Container.ClipConfig.Duration` (hls/dash segment length, seconds).
    pub segment_duration: Option<f64>,
    /// Video settings; `None` means defaults.
    pub video: Option<VideoParams>,
    /// Audio settings; `None` means defaults.
    pub audio: Option<AudioParams>,
    /// `TimeInterval.Start` in seconds.
    pub start: Option<f64>,
    /// `TimeInterval.Duration` in seconds.
    pub duration: Option<f64>,
    /// `TransConfig`.
    pub trans_config: TransConfigParams,
    /// `TransConfig.DeleteMetadata`.
    pub delete_metadata: bool,
}

/// Video part of a Transcode template.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VideoParams {
    /// `H.264`, `H.265`, `VP8`, `VP9`, `AV1`.
    pub codec: Option<String>,
    /// Pixels, even, 128–4096.
    pub width: Option<u32>,
    /// Pixels, even, 128–4096.
    pub height: Option<u32>,
    /// Frames per second.
    pub fps: Option<f64>,
    /// kbps.
    pub bitrate: Option<u32>,
    /// Constant rate factor.
    pub crf: Option<f64>,
    /// Keyframe interval in frames.
    pub gop: Option<u32>,
    /// Encoder preset.
    pub preset: Option<String>,
    /// H.264 profile.
    pub profile: Option<String>,
    /// Pixel format.
    pub pixfmt: Option<String>,
    /// kbps.
    pub maxrate: Option<u32>,
    /// KB.
    pub bufsize: Option<u32>,
    /// Degrees clockwise.
    pub rotate: Option<f64>,
    /// `w:h:left:top`.
    pub crop: Option<(u32, u32, u32, u32)>,
    /// Drop the video stream.
    pub remove: bool,
}

/// Audio part of a Transcode template.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AudioParams {
    /// `aac`, `mp3`, `flac`, `Vorbis`, `opus`, `pcm_s16le`.
    pub codec: Option<String>,
    /// Hz.
    pub samplerate: Option<u32>,
    /// kbps.
    pub bitrate: Option<u32>,
    /// Channel count.
    pub channels: Option<u32>,
    /// Drop the audio stream.
    pub remove: bool,
}

/// `TransConfig`: checks against the source and output adjustments.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TransConfigParams {
    /// `scale`, `crop`, `pad` or `none`.
    pub adj_dar_method: Option<String>,
    /// Compare the target resolution with the source's.
    pub is_check_reso: bool,
    /// `true` = fail when the source is smaller; `false` = keep the source's.
    pub reso_fail: bool,
    /// Compare video bitrates.
    pub is_check_video_bitrate: bool,
    /// Fail instead of keeping the source bitrate.
    pub video_bitrate_fail: bool,
    /// Compare audio bitrates.
    pub is_check_audio_bitrate: bool,
    /// Fail instead of keeping the source bitrate.
    pub audio_bitrate_fail: bool,
    /// Compare frame rates.
    pub is_check_video_fps: bool,
    /// Fail instead of keeping the source frame rate.
    pub video_fps_fail: bool,
}

impl TranscodeParams {
    /// Reads a validated `TransTpl` container.
    pub fn from_container(tpl: &XmlElement) -> Result<Self, InvalidInput> {
        let container = tpl
            .child("Container")
            .ok_or_else(|| InvalidInput::rule("Request.Container", "is required"))?;
        let format = Fields::new(container, "Request.Container")
            .required("Format")?
            .to_ascii_lowercase();
        let segment_duration = match container.child("ClipConfig") {
            Some(clip) => {
                Fields::new(clip, "Request.Container.ClipConfig").f64_in("Duration", 1.0, 3600.0)?
            }
            None => None,
        };
        let (start, duration) = time_interval(tpl)?;
        let trans_config = match tpl.child("TransConfig") {
            Some(tc) => parse_trans_config(tc)?,
            None => TransConfigParams::default(),
        };
        let delete_metadata = match tpl.child("TransConfig") {
            Some(tc) => Fields::new(tc, "Request.TransConfig")
                .bool("DeleteMetadata")?
                .unwrap_or(false),
            None => false,
        };
        let params = TranscodeParams {
            container: format,
            segment_duration,
            video: tpl
                .child("Video")
                .map(|v| parse_video(v, "Request.Video"))
                .transpose()?,
            audio: tpl
                .child("Audio")
                .map(|a| parse_audio(a, "Request.Audio"))
                .transpose()?,
            start,
            duration,
            trans_config,
            delete_metadata,
        };
        params.check_compatibility()?;
        Ok(params)
    }

    /// The extension of the produced file (`${Ext}`).
    pub fn extension(&self) -> &str {
        EXTENSIONS
            .iter()
            .find(|(c, _)| *c == self.container)
            .map_or(self.container.as_str(), |(_, e)| e)
    }

    /// Whether the container carries audio only.
    pub fn audio_only(&self) -> bool {
        matches!(
            self.container.as_str(),
            "mp3" | "aac" | "adts" | "m4a" | "flac" | "wav"
        )
    }

    /// Container/codec compatibility (reference §5.2 table).
    fn check_compatibility(&self) -> Result<(), InvalidInput> {
        let video_codec = self.video.as_ref().and_then(|v| v.codec.as_deref());
        let audio_codec = self.audio.as_ref().and_then(|a| a.codec.as_deref());
        let allowed_video: &[&str] = match self.container.as_str() {
            "mp4" | "hls" | "mkv" => &["H.264", "H.265", "AV1"],
            "ts" | "flv" | "avi" | "mov" | "dash" => &["H.264"],
            "webm" => &["VP8", "VP9", "AV1"],
            _ => &[],
        };
        let allowed_audio: &[&str] = match self.container.as_str() {
            "mp4" | "hls" | "mkv" | "ts" | "flv" | "avi" | "mov" => &["aac", "mp3"],
            "dash" | "aac" | "adts" | "m4a" => &["aac"],
            "webm" => &["Vorbis", "opus"],
            "mp3" => &["mp3"],
            "flac" => &["flac"],
            "wav" => &["pcm_s16le"],
            _ => &[],
        };
        if let Some(codec) =
            video_codec.filter(|c| !allowed_video.iter().any(|a| a.eq_ignore_ascii_case(c)))
        {
            let video_removed = self.video.as_ref().is_some_and(|v| v.remove);
            if !video_removed {
                return Err(InvalidInput::rule(
                    "Request.Video.Codec",
                    format!("{codec} cannot be stored in a {} container", self.container),
                ));
            }
        }
        if let Some(codec) =
            audio_codec.filter(|c| !allowed_audio.iter().any(|a| a.eq_ignore_ascii_case(c)))
        {
            return Err(InvalidInput::rule(
                "Request.Audio.Codec",
                format!("{codec} cannot be stored in a {} container", self.container),
            ));
        }
        Ok(())
    }
}

/// `TimeInterval{Start, Duration}` of a template container, in seconds.
pub(super) fn time_interval(tpl: &XmlElement) -> Result<(Option<f64>, Option<f64>), InvalidInput> {
    match tpl.child("TimeInterval") {
        Some(ti) => {
            let f = Fields::new(ti, "Request.TimeInterval");
            Ok((
                f.f64_in("Start", 0.0, 86_400.0)?,
                f.f64_in("Duration", 0.0, 86_400.0)?,
            ))
        }
        None => Ok((None, None)),
    }
}

/// Reads a validated `Video` container found at `path` (e.g. `Request.Video`).
pub(super) fn parse_video(video: &XmlElement, path: &str) -> Result<VideoParams, InvalidInput> {
    let f = Fields::new(video, path);
    let bitrate = match f.str("Bitrate") {
        Some(b) if b.eq_ignore_ascii_case("auto") => None,
        _ => f.u32_in("Bitrate", 10, 50_000)?,
    };
    let crop = f.str("Crop").map(|c| parse_crop(c, path)).transpose()?;
    Ok(VideoParams {
        codec: f
            .one_of("Codec", super::schemas::VIDEO_CODECS)?
            .map(str::to_owned),
        width: f.u32_in("Width", 128, 4096)?,
        height: f.u32_in("Height", 128, 4096)?,
        fps: f.f64_in("Fps", 0.001, 60.0)?,
        bitrate,
        crf: f.f64_in("Crf", 0.0, 51.0)?,
        gop: f.u32_in("Gop", 1, 100_000)?,
        preset: f.str("Preset").map(str::to_owned),
        profile: f
            .str("Profile")
            .map(str::to_ascii_lowercase)
            .filter(|p| p != "auto"),
        pixfmt: f.str("Pixfmt").map(str::to_owned).filter(|p| p != "auto"),
        maxrate: f.u32_in("Maxrate", 10, 50_000)?,
        bufsize: f.u32_in("Bufsize", 1000, 128_000)?,
        rotate: f.f64_in("Rotate", 0.0, 359.999)?,
        crop,
        remove: f.bool("Remove")?.unwrap_or(false),
    })
}

fn parse_crop(text: &str, path: &str) -> Result<(u32, u32, u32, u32), InvalidInput> {
    let parts: Vec<u32> = text
        .split(':')
        .filter_map(|p| p.trim().parse().ok())
        .collect();
    match parts.as_slice() {
        [w, h, x, y] if *w > 0 && *h > 0 => Ok((*w, *h, *x, *y)),
        _ => Err(InvalidInput::rule(
            format!("{path}.Crop"),
            format!("must be width:height:left:top, got {text:?}"),
        )),
    }
}

/// Reads a validated `Audio` container found at `path` (e.g. `Request.Audio`).
pub(super) fn parse_audio(audio: &XmlElement, path: &str) -> Result<AudioParams, InvalidInput> {
    let f = Fields::new(audio, path);
    let samplerate = f.u32_in("Samplerate", 8000, 96_000)?;
    if let Some(rate) = samplerate.filter(|r| !SAMPLE_RATES.contains(r)) {
        return Err(InvalidInput::rule(
            format!("{path}.Samplerate"),
            format!("{rate} Hz is not a supported sample rate"),
        ));
    }
    let codec = f
        .one_of("Codec", super::schemas::AUDIO_CODECS)?
        .map(str::to_owned);
    let channels = f.u32_in("Channels", 1, 8)?;
    if let (Some(c), Some(n)) = (codec.as_deref(), channels) {
        let allowed: &[u32] = match c.to_ascii_lowercase().as_str() {
            "aac" | "flac" => &[1, 2, 4, 5, 6, 8],
            "mp3" | "opus" | "pcm_s16le" => &[1, 2],
            "vorbis" => &[2],
            "amr" => &[1],
            _ => &[],
        };
        if !allowed.contains(&n) {
            return Err(InvalidInput::rule(
                format!("{path}.Channels"),
                format!("{c} does not support {n} channels"),
            ));
        }
    }
    Ok(AudioParams {
        codec,
        samplerate,
        bitrate: f.u32_in("Bitrate", 8, 1000)?,
        channels,
        remove: f.bool("Remove")?.unwrap_or(false),
    })
}

fn parse_trans_config(tc: &XmlElement) -> Result<TransConfigParams, InvalidInput> {
    let f = Fields::new(tc, "Request.TransConfig");
    let fail = |name: &str| f.str(name) == Some("1");
    Ok(TransConfigParams {
        adj_dar_method: f
            .str("AdjDarMethod")
            .map(str::to_ascii_lowercase)
            .filter(|m| m != "none"),
        is_check_reso: f.bool("IsCheckReso")?.unwrap_or(false),
        reso_fail: fail("ResoAdjMethod"),
        is_check_video_bitrate: f.bool("IsCheckVideoBitrate")?.unwrap_or(false),
        video_bitrate_fail: fail("VideoBitrateAdjMethod"),
        is_check_audio_bitrate: f.bool("IsCheckAudioBitrate")?.unwrap_or(false),
        audio_bitrate_fail: fail("AudioBitrateAdjMethod"),
        is_check_video_fps: f.bool("IsCheckVideoFps")?.unwrap_or(false),
        video_fps_fail: fail("VideoFpsAdjMethod"),
    })
}
