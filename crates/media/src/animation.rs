//! Animated images (CI `Animation` template, reference section 5.4): GIF, a
//! higher-quality GIF (`hgif`) and animated WebP.
//!
//! **Which frames** (CI precedence `AnimateFramesPerSecond` >
//! `AnimateOnlyKeepKeyFrame` > `AnimateTimeIntervalOfFrame`):
//! - `frames_per_second`: `fps=F`, F frames per second of source;
//! - `only_keep_key_frame`: the decoder only decodes key frames (`-skip_frame nokey`);
//! - `time_interval_of_frame`: one source frame every I seconds
//!   (`select` on the time since the last kept frame);
//! - none: every frame.
//!
//! **How fast it plays**: with `fps` and a sampling rule the kept frames are played at
//! `fps` (a time-lapse, `setpts=N/(fps·TB)`); with `fps` alone the video is resampled
//! to `fps` at normal speed; without `fps` the frames keep their source times.
//!
//! **Formats**: `gif` uses a 128-colour palette generated from the clip with ordered
//! (Bayer) dithering: small files. `hgif` uses a full 256-colour palette weighted
//! towards moving areas (`stats_mode=diff`), error-diffusion dithering that only
//! updates changed rectangles, and Lanczos scaling: better pictures, bigger files.
//! `webp` uses `libwebp_anim` at `Quality` (default 75). All loop forever.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::MediaError;
use crate::ffmpeg::{num, prelude};
use crate::limits::MediaTools;
use crate::paths;
use crate::probe::MediaInfo;
use crate::process::RunControl;

/// A CI animation template.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AnimationSpec {
    /// `Container.Format`: `gif`, `hgif` or `webp`.
    pub format: String,
    /// Width; alone, the height follows the aspect ratio.
    pub width: Option<u32>,
    /// Height; alone, the width follows the aspect ratio.
    pub height: Option<u32>,
    /// `Fps`: playback frame rate, (0, 60].
    pub fps: Option<f64>,
    /// `AnimateOnlyKeepKeyFrame`.
    pub only_keep_key_frame: bool,
    /// `AnimateTimeIntervalOfFrame`: seconds between kept frames.
    pub time_interval_of_frame: Option<f64>,
    /// `AnimateFramesPerSecond`: frames kept per second of source.
    pub frames_per_second: Option<f64>,
    /// `Quality` (webp only), 1–100.
    pub quality: Option<u8>,
    /// `TimeInterval.Start` in seconds.
    pub start: Option<f64>,
    /// `TimeInterval.Duration` in seconds.
    pub duration: Option<f64>,
}

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Gif,
    HighGif,
    Webp,
}

impl Kind {
    fn parse(format: &str) -> Result<Self, MediaError> {
        match format.trim().to_ascii_lowercase().as_str() {
            "gif" => Ok(Self::Gif),
            "hgif" => Ok(Self::HighGif),
            "webp" => Ok(Self::Webp),
            other => Err(MediaError::invalid_spec(format!(
                "animation format {other:?} is not supported (gif, hgif, webp)"
            ))),
        }
    }
}

/// The frame-sampling rule that applies (after CI's precedence).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Sampling {
    PerSecond(f64),
    KeyFrames,
    Every(f64),
    All,
}

fn sampling(spec: &AnimationSpec) -> Sampling {
    if let Some(f) = spec.frames_per_second {
        Sampling::PerSecond(f)
    } else if spec.only_keep_key_frame {
        Sampling::KeyFrames
    } else if let Some(i) = spec.time_interval_of_frame {
        Sampling::Every(i)
    } else {
        Sampling::All
    }
}

/// The extension of an animation's file: `gif` (also for hgif) or `webp`.
pub fn animation_extension(spec: &AnimationSpec) -> &'static str {
    match Kind::parse(&spec.format) {
        Ok(Kind::Webp) => "webp",
        _ => "gif",
    }
}

fn check(spec: &AnimationSpec, info: &MediaInfo) -> Result<Kind, MediaError> {
    let kind = Kind::parse(&spec.format)?;
    let positive = |v: Option<f64>, what: &str| match v {
        Some(v) if !(v.is_finite() && v > 0.0) => Err(MediaError::invalid_spec(format!(
            "animation {what} must be positive, got {v}"
        ))),
        _ => Ok(()),
    };
    positive(spec.fps, "Fps")?;
    positive(spec.frames_per_second, "AnimateFramesPerSecond")?;
    positive(spec.time_interval_of_frame, "AnimateTimeIntervalOfFrame")?;
    positive(spec.duration, "duration")?;
    if spec.fps.is_some_and(|f| f > 60.0) {
        return Err(MediaError::invalid_spec("animation Fps must be at most 60"));
    }
    if spec.width == Some(0) || spec.height == Some(0) {
        return Err(MediaError::invalid_spec(
            "animation width and height must be positive",
        ));
    }
    if spec.quality.is_some_and(|q| !(1..=100).contains(&q)) {
        return Err(MediaError::invalid_spec(
            "animation Quality must be in [1, 100]",
        ));
    }
    if let Some(s) = spec.start.filter(|s| !(s.is_finite() && *s >= 0.0)) {
        return Err(MediaError::invalid_spec(format!(
            "animation start must be ≥ 0, got {s}"
        )));
    }
    if !info.has_video() {
        return Err(MediaError::invalid_input("input has no video stream"));
    }
    if let (Some(start), Some(total)) = (spec.start, info.duration)
        && start >= total
        && start > 0.0
    {
        return Err(MediaError::invalid_input(format!(
            "animation start {}s is at or past the end of the input ({}s)",
            num(start),
            num(total)
        )));
    }
    Ok(kind)
}

/// The video filters, in order.
fn filters(spec: &AnimationSpec, kind: Kind) -> Vec<String> {
    let mut chain = Vec::new();
    let rule = sampling(spec);
    match rule {
        Sampling::PerSecond(f) => chain.push(format!("fps={}", num(f))),
        Sampling::Every(i) => chain.push(format!(
            "select='isnan(prev_selected_t)+gte(t-prev_selected_t,{})'",
            num(i)
        )),
        Sampling::KeyFrames | Sampling::All => {}
    }
    match (spec.fps, rule) {
        (Some(fps), Sampling::All) => chain.push(format!("fps={}", num(fps))),
        (Some(fps), _) => chain.push(format!("setpts=N/({}*TB)", num(fps))),
        (None, _) => {}
    }
    let flags = if kind == Kind::HighGif {
        "lanczos"
    } else {
        "bicubic"
    };
    match (spec.width, spec.height) {
        (None, None) => {}
        (Some(w), None) => chain.push(format!("scale={w}:-2:flags={flags}")),
        (None, Some(h)) => chain.push(format!("scale=-2:{h}:flags={flags}")),
        (Some(w), Some(h)) => chain.push(format!("scale={w}:{h}:flags={flags}")),
    }
    let palette = match kind {
        Kind::Gif => Some((
            "palettegen=max_colors=128:stats_mode=full",
            "paletteuse=dither=bayer:bayer_scale=3",
        )),
        Kind::HighGif => Some((
            "palettegen=max_colors=256:stats_mode=diff",
            "paletteuse=dither=sierra2_4a:diff_mode=rectangle",
        )),
        Kind::Webp => None,
    };
    if let Some((generate, apply)) = palette {
        chain.push(format!("split[a][b];[a]{generate}[p];[b][p]{apply}"));
    }
    chain
}

/// The ffmpeg arguments writing the animation of `spec` to `output`.
pub fn animation_args(
    input: &Path,
    output: &Path,
    spec: &AnimationSpec,
    info: &MediaInfo,
) -> Result<Vec<String>, MediaError> {
    let kind = check(spec, info)?;
    let mut args = prelude();
    if sampling(spec) == Sampling::KeyFrames {
        args.extend(["-skip_frame".into(), "nokey".into()]);
    }
    if let Some(start) = spec.start.filter(|s| *s > 0.0) {
        args.extend(["-ss".into(), num(start)]);
    }
    args.extend([
        "-i".into(),
        paths::arg(input)?,
        "-map".into(),
        crate::transcode::VIDEO.into(),
    ]);
    if let Some(duration) = spec.duration {
        args.extend(["-t".into(), num(duration)]);
    }
    let chain = filters(spec, kind);
    if !chain.is_empty() {
        args.extend(["-vf".into(), chain.join(",")]);
    }
    // Frames keep their (possibly sparse) times: no duplication to a constant rate.
    args.extend(["-fps_mode".into(), "vfr".into()]);
    match kind {
        Kind::Gif | Kind::HighGif => {
            args.extend(["-c:v", "gif", "-loop", "0", "-f", "gif"].map(String::from));
        }
        Kind::Webp => {
            let quality = spec.quality.unwrap_or(75).to_string();
            args.extend(["-c:v", "libwebp_anim", "-lossless", "0", "-quality"].map(String::from));
            args.extend([
                quality,
                "-loop".into(),
                "0".into(),
                "-f".into(),
                "webp".into(),
            ]);
        }
    }
    args.extend(["-an".into(), "-sn".into(), "-dn".into()]);
    args.push(paths::arg(output)?);
    Ok(args)
}

/// Writes the animation of `input` to `output` with default tools and limits.
pub async fn animation(
    input: &Path,
    output: &Path,
    spec: &AnimationSpec,
    info: &MediaInfo,
    ctl: &RunControl,
) -> Result<PathBuf, MediaError> {
    MediaTools::default()
        .animation(input, output, spec, info, ctl)
        .await
}

impl MediaTools {
    /// [`animation`] with these tools and limits.
    pub async fn animation(
        &self,
        input: &Path,
        output: &Path,
        spec: &AnimationSpec,
        info: &MediaInfo,
        ctl: &RunControl,
    ) -> Result<PathBuf, MediaError> {
        let args = animation_args(input, output, spec, info)?;
        let dir = paths::parent(output)?;
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(MediaError::io("could not create output directory", &dir))?;
        let rest = info.duration.map(|d| d - spec.start.unwrap_or(0.0));
        let secs = match (rest, spec.duration) {
            (Some(r), Some(d)) => Some(r.min(d)),
            (r, d) => r.or(d),
        };
        // Progress follows output time, which a time-lapse compresses: none then.
        let progress = secs.filter(|_| spec.fps.is_none());
        let cmd = self.ffmpeg_command(args, secs).ffmpeg_progress(progress);
        cmd.run(ctl).await?;
        let output = paths::absolute(output)?;
        if !tokio::fs::metadata(&output)
            .await
            .is_ok_and(|m| m.len() > 0)
        {
            return Err(MediaError::NoOutput { path: output });
        }
        Ok(output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::StreamInfo;

    fn info() -> MediaInfo {
        MediaInfo {
            duration: Some(10.0),
            streams: vec![StreamInfo {
                codec_type: "video".into(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn args(spec: &AnimationSpec) -> Vec<String> {
        animation_args(Path::new("/in.mp4"), Path::new("/out/a.gif"), spec, &info()).unwrap()
    }

    fn value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
        let pos = args.iter().position(|a| a == flag)?;
        args.get(pos + 1).map(String::as_str)
    }

    #[test]
    fn gif_and_hgif_palettes() {
        let gif = AnimationSpec {
            format: "gif".into(),
            width: Some(160),
            fps: Some(10.0),
            ..Default::default()
        };
        assert_eq!(
            value(&args(&gif), "-vf"),
            Some(
                "fps=10,scale=160:-2:flags=bicubic,split[a][b];\
                 [a]palettegen=max_colors=128:stats_mode=full[p];\
                 [b][p]paletteuse=dither=bayer:bayer_scale=3"
            )
        );
        let hgif = AnimationSpec {
            format: "HGIF".into(),
            ..gif
        };
        let a = args(&hgif);
        let vf = value(&a, "-vf").unwrap();
        assert!(vf.contains("flags=lanczos"), "{vf}");
        assert!(vf.contains("max_colors=256:stats_mode=diff"), "{vf}");
        assert!(vf.contains("dither=sierra2_4a"), "{vf}");
        assert_eq!(value(&a, "-c:v"), Some("gif"));
        assert_eq!(animation_extension(&hgif), "gif");
    }

    #[test]
    fn sampling_precedence() {
        let all = AnimationSpec {
            format: "webp".into(),
            frames_per_second: Some(2.0),
            only_keep_key_frame: true,
            time_interval_of_frame: Some(3.0),
            ..Default::default()
        };
        let a = args(&all);
        assert_eq!(value(&a, "-vf"), Some("fps=2"));
        assert!(!a.iter().any(|x| x == "-skip_frame"));
        let keys = AnimationSpec {
            frames_per_second: None,
            ..all.clone()
        };
        let a = args(&keys);
        assert_eq!(value(&a, "-skip_frame"), Some("nokey"));
        assert_eq!(value(&a, "-vf"), None);
        let every = AnimationSpec {
            frames_per_second: None,
            only_keep_key_frame: false,
            fps: Some(5.0),
            ..all
        };
        assert_eq!(
            value(&args(&every), "-vf"),
            Some("select='isnan(prev_selected_t)+gte(t-prev_selected_t,3)',setpts=N/(5*TB)")
        );
    }

    #[test]
    fn webp_quality_and_time_interval() {
        let spec = AnimationSpec {
            format: "webp".into(),
            quality: Some(60),
            start: Some(1.5),
            duration: Some(2.0),
            ..Default::default()
        };
        let a = args(&spec);
        assert_eq!(value(&a, "-c:v"), Some("libwebp_anim"));
        assert_eq!(value(&a, "-quality"), Some("60"));
        assert_eq!(value(&a, "-ss"), Some("1.5"));
        assert_eq!(value(&a, "-t"), Some("2"));
        assert_eq!(animation_extension(&spec), "webp");
    }

    #[test]
    fn invalid_specs() {
        let bad = |spec: AnimationSpec| {
            animation_args(Path::new("/i"), Path::new("/o"), &spec, &info())
                .unwrap_err()
                .code()
        };
        assert_eq!(
            bad(AnimationSpec {
                format: "apng".into(),
                ..Default::default()
            }),
            "InvalidSpec"
        );
        assert_eq!(
            bad(AnimationSpec {
                format: "gif".into(),
                fps: Some(90.0),
                ..Default::default()
            }),
            "InvalidSpec"
        );
        assert_eq!(
            bad(AnimationSpec {
                format: "gif".into(),
                start: Some(12.0),
                ..Default::default()
            }),
            "InvalidInput"
        );
    }
}
