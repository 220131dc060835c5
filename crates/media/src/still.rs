//! Single-frame extraction: one image of the video at a given time, as fast as ffmpeg can
//! make it (CI's synchronous `GET /<key>?ci-process=snapshot`).
//!
//! One ffmpeg run, shaped like the bare `ffmpeg -ss T -i IN -frames:v 1 OUT` it must keep up
//! with:
//! - the seek is an *input* seek (`-ss` before `-i`): the demuxer jumps to the key frame at or
//!   before `T` instead of decoding from the start;
//! - [`StillMode::ExactFrame`] then decodes forward to the first frame at or after `T`
//!   (ffmpeg's accurate seek); [`StillMode::KeyFrame`] takes that key frame itself
//!   (`-noaccurate_seek`, `-skip_frame nokey` so nothing else is decoded, and
//!   `-fps_mode passthrough` so the frame, timed before `T`, is not dropped);
//! - `-map 0:V:0` takes the first real video stream (not cover art), `-frames:v 1` stops
//!   after one image;
//! - ffmpeg rotates by the display matrix unless [`StillSpec::autorotate`] is off
//!   (`-noautorotate`), and scaling happens after rotation, so width and height are those of
//!   the picture as displayed.
//!
//! A time past the last frame yields no image: [`MediaTools::still`] answers `Ok(false)` and
//! the caller decides (check the duration, retry slightly earlier).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::MediaError;
use crate::ffmpeg::{num, quiet_prelude, scale_filter};
use crate::image::ImageFormat;
use crate::limits::MediaTools;
use crate::paths;
use crate::process::{ProcessError, RunControl};
use crate::source::MediaSource;

/// Which frame a still shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum StillMode {
    /// The frame shown at the requested time (CI `exactframe`, the default).
    #[default]
    ExactFrame,
    /// The nearest key frame at or before the requested time (CI `keyframe`): cheaper, as
    /// only that frame is decoded.
    KeyFrame,
}

/// One still image to extract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StillSpec {
    /// Seconds from the start of the media (≥ 0).
    pub time: f64,
    /// Output width in pixels; `None` keeps the source's (or follows `height`'s aspect).
    pub width: Option<u32>,
    /// Output height in pixels; `None` keeps the source's (or follows `width`'s aspect).
    pub height: Option<u32>,
    /// `jpg` or `png` (any [`ImageFormat`] works).
    pub format: ImageFormat,
    /// Honour the display matrix (rotation metadata), as players do.
    pub autorotate: bool,
    /// Exact frame or previous key frame.
    pub mode: StillMode,
}

impl Default for StillSpec {
    fn default() -> Self {
        Self {
            time: 0.0,
            width: None,
            height: None,
            format: ImageFormat::Jpg,
            autorotate: true,
            mode: StillMode::ExactFrame,
        }
    }
}

/// The ffmpeg arguments extracting `spec` from `source` into `out`.
pub fn still_args(
    source: &MediaSource,
    spec: &StillSpec,
    out: &Path,
) -> Result<Vec<String>, MediaError> {
    check(spec)?;
    let mut args = quiet_prelude();
    if !spec.autorotate {
        args.push("-noautorotate".into());
    }
    if spec.mode == StillMode::KeyFrame {
        args.extend(["-noaccurate_seek", "-skip_frame", "nokey"].map(String::from));
    }
    args.extend(["-ss".into(), num(spec.time)]);
    args.extend(source.input_args()?);
    args.extend(["-map", "0:V:0", "-an", "-sn", "-dn", "-frames:v", "1"].map(String::from));
    args.extend(["-fps_mode".into(), "passthrough".into()]);
    let width = spec.width.filter(|w| *w > 0);
    let height = spec.height.filter(|h| *h > 0);
    if let Some(scale) = scale_filter(width, height, -1) {
        args.extend(["-vf".into(), scale]);
    }
    args.extend(spec.format.encoder_args(None));
    args.extend(["-f", "image2", "-update", "1"].map(String::from));
    args.push(paths::arg(out)?);
    Ok(args)
}

fn check(spec: &StillSpec) -> Result<(), MediaError> {
    if !spec.time.is_finite() || spec.time < 0.0 {
        return Err(MediaError::invalid_spec(format!(
            "still time {} is not a non-negative number of seconds",
            spec.time
        )));
    }
    Ok(())
}

/// Extracts `spec` from `source` with default tools and limits.
pub async fn still(
    source: &MediaSource,
    spec: &StillSpec,
    out: &Path,
    ctl: &RunControl,
) -> Result<bool, MediaError> {
    MediaTools::default().still(source, spec, out, ctl).await
}

impl MediaTools {
    /// Writes the still `spec` of `source` to `out`. `Ok(true)` when an image was written,
    /// `Ok(false)` when there is no frame at that time (past the end). An input ffmpeg
    /// cannot read or decode is [`MediaError::InvalidInput`] (the message names neither the
    /// input nor `out`). Runs under the base timeout.
    pub async fn still(
        &self,
        source: &MediaSource,
        spec: &StillSpec,
        out: &Path,
        ctl: &RunControl,
    ) -> Result<bool, MediaError> {
        let args = still_args(source, spec, out)?;
        // A previous image at `out` must not pass for this run's.
        remove_stale(out).await?;
        let cmd = self.ffmpeg_data_command(args, self.limits.base_timeout);
        match cmd.run(ctl).await {
            Ok(_) => {}
            Err(ProcessError::Failed { stderr_tail, .. }) => {
                let out_arg = paths::arg(out).unwrap_or_default();
                let tail = source.scrub(&stderr_tail).replace(&out_arg, "output");
                return Err(MediaError::invalid_input(format!(
                    "ffmpeg could not extract a frame: {tail}"
                )));
            }
            Err(other) => return Err(other.into()),
        }
        Ok(tokio::fs::metadata(out).await.is_ok_and(|m| m.len() > 0))
    }
}

async fn remove_stale(out: &Path) -> Result<(), MediaError> {
    match tokio::fs::remove_file(out).await {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(MediaError::Io {
            context: "could not remove a previous output",
            path: out.to_path_buf(),
            source: e,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(spec: &StillSpec) -> String {
        let source = MediaSource::File("/in/a.mp4".into());
        still_args(&source, spec, Path::new("/out/s.jpg"))
            .unwrap()
            .join(" ")
    }

    #[test]
    fn exact_frame_seeks_before_the_input_and_stops_after_one_frame() {
        let a = args(&StillSpec {
            time: 300.0,
            ..StillSpec::default()
        });
        assert!(
            a.contains("-ss 300 -protocol_whitelist file -i /in/a.mp4 -map 0:V:0"),
            "{a}"
        );
        assert!(a.contains("-frames:v 1"), "{a}");
        assert!(a.contains("-c:v mjpeg -q:v 2"), "{a}");
        assert!(a.ends_with("-f image2 -update 1 /out/s.jpg"), "{a}");
        assert!(
            !a.contains("-noautorotate") && !a.contains("skip_frame"),
            "{a}"
        );
        assert!(!a.contains("-vf"), "{a}");
    }

    #[test]
    fn key_frame_mode_decodes_only_the_key_frame() {
        let a = args(&StillSpec {
            time: 1.5,
            mode: StillMode::KeyFrame,
            ..StillSpec::default()
        });
        assert!(
            a.contains("-noaccurate_seek -skip_frame nokey -ss 1.5 -protocol_whitelist"),
            "{a}"
        );
        assert!(a.contains("-fps_mode passthrough"), "{a}");
    }

    #[test]
    fn size_rotation_and_format() {
        let a = args(&StillSpec {
            width: Some(320),
            height: Some(0),
            format: ImageFormat::Png,
            autorotate: false,
            ..StillSpec::default()
        });
        assert!(a.contains("-noautorotate -ss 0"), "{a}");
        assert!(a.contains("-vf scale=320:-1"), "{a}");
        assert!(a.contains("-c:v png"), "{a}");
        let both = args(&StillSpec {
            width: Some(64),
            height: Some(48),
            ..StillSpec::default()
        });
        assert!(both.contains("-vf scale=64:48"), "{both}");
        let source_size = args(&StillSpec {
            width: Some(0),
            height: None,
            ..StillSpec::default()
        });
        assert!(!source_size.contains("-vf"), "{source_size}");
    }

    #[test]
    fn bad_times_are_refused() {
        let source = MediaSource::File("/in/a.mp4".into());
        for time in [-1.0, f64::NAN, f64::INFINITY] {
            let spec = StillSpec {
                time,
                ..StillSpec::default()
            };
            let err = still_args(&source, &spec, Path::new("/o.jpg")).unwrap_err();
            assert_eq!(err.code(), "InvalidSpec");
        }
    }
}
