//! Snapshots: still images captured from a video, per the CI `Snapshot` template.
//!
//! Modes (reference section 5.3):
//! - **Interval**: frames at `start`, `start + interval`, … until `count` images or the
//!   end of the media. With no interval, `count` consecutive frames from `start`.
//! - **Average**: `count` frames evenly spaced from `start` to the end
//!   (`start + k·(duration − start)/count`).
//! - **KeyFrame**: the first `count` key frames from `start` (`-skip_frame nokey`
//!   makes the decoder skip everything else, so this is cheap).
//!
//! Two strategies produce timed frames:
//! - *scan*: seek once to `start`, decode forward and keep the first frame at or after
//!   each target time (`select='gte(t,selected_n*I)'`), one ffmpeg run; best for
//!   dense samples;
//! - *seek*: one input per target time, each opened with an input seek, one frame
//!   each (up to 32 inputs per ffmpeg run); used when targets are ≥ 10 s apart, where
//!   decoding every frame in between would cost far more than a seek.
//!
//! Images are named `snap-00000.jpg`, `snap-00001.jpg`, … in capture order.
//!
//! [`SnapshotExtras`] adds CI's `IsCheckCount`, `IsCheckBlack` and sprite sheets
//! ([`snapshot_with`]); see the `extras` module. A snapshot can also be one output of a
//! fused transcode run ([`run_fused`](crate::run_fused)): it then selects its frames
//! from the shared decode with `select` instead of seeking.

mod extras;
mod planning;

use planning::*;
pub(crate) use planning::{dir_arg, fused_expected, fused_section};

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use self::extras::SPRITE_PREFIX;
pub use self::extras::{
    BlackCheck, SnapshotExtras, SnapshotOutMode, SpriteScaleMethod, SpriteSpec, sprite_args,
};
use crate::error::MediaError;
use crate::ffmpeg::{num, prelude, scale_filter};
use crate::image::ImageFormat;
use crate::limits::MediaTools;
use crate::paths;
use crate::probe::MediaInfo;
use crate::process::RunControl;
use crate::transcode::Invocation;

/// Targets at least this far apart are captured with one input seek each.
const SEEK_MIN_GAP_SECS: f64 = 10.0;
/// Most inputs opened by one seek-mode ffmpeg run (more are split into batches).
const SEEK_MAX_FRAMES: u32 = 32;
/// File-name prefix of every image.
const PREFIX: &str = "snap-";

/// How frames are chosen (CI `Mode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SnapshotMode {
    /// Fixed interval from the start (CI default).
    #[default]
    Interval,
    /// Evenly spaced over the rest of the media.
    Average,
    /// Key frames only.
    KeyFrame,
}

/// A CI snapshot template, resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotSpec {
    /// Frame selection.
    pub mode: SnapshotMode,
    /// First capture time in seconds.
    pub start: f64,
    /// Seconds between captures (Interval mode); `None` means consecutive frames.
    pub interval: Option<f64>,
    /// Maximum number of images.
    pub count: u32,
    /// Image width; alone, the height follows the aspect ratio.
    pub width: Option<u32>,
    /// Image height; alone, the width follows the aspect ratio.
    pub height: Option<u32>,
    /// `jpg` (or `jpeg`), `png` or `webp`.
    pub format: String,
}

impl Default for SnapshotSpec {
    fn default() -> Self {
        Self {
            mode: SnapshotMode::Interval,
            start: 0.0,
            interval: None,
            count: 1,
            width: None,
            height: None,
            format: "jpg".into(),
        }
    }
}

/// The image file of capture `index` in `out_dir`.
pub fn snapshot_path(out_dir: &Path, index: u32, format_ext: &str) -> PathBuf {
    out_dir.join(format!("{PREFIX}{index:05}.{format_ext}"))
}

/// What a snapshot wrote: images and sprite sheets, each in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotOutput {
    /// `snap-NNNNN.<ext>` (empty in `OnlySprite` mode).
    pub images: Vec<PathBuf>,
    /// `sprite-NNNNN.<ext>` (empty in `OnlySnapshot` mode).
    pub sprites: Vec<PathBuf>,
}

/// Captures images from `input` into `out_dir` with default tools and limits.
/// Returns the images in capture order.
pub async fn snapshot(
    input: &Path,
    out_dir: &Path,
    spec: &SnapshotSpec,
    info: &MediaInfo,
    ctl: &RunControl,
) -> Result<Vec<PathBuf>, MediaError> {
    MediaTools::default()
        .snapshot(input, out_dir, spec, info, ctl)
        .await
}

/// [`snapshot`] with CI's extra settings (black-frame skipping, `IsCheckCount`,
/// sprite sheets), default tools and limits.
pub async fn snapshot_with(
    input: &Path,
    out_dir: &Path,
    spec: &SnapshotSpec,
    extras: &SnapshotExtras,
    info: &MediaInfo,
    ctl: &RunControl,
) -> Result<SnapshotOutput, MediaError> {
    MediaTools::default()
        .snapshot_with(input, out_dir, spec, extras, info, ctl)
        .await
}

/// The ffmpeg argument lists (without the program) of a snapshot: one per ffmpeg run.
/// Usually one; sparse captures of more than 32 frames are split into batches.
pub fn snapshot_args(
    input: &Path,
    out_dir: &Path,
    spec: &SnapshotSpec,
    info: &MediaInfo,
) -> Result<Vec<Vec<String>>, MediaError> {
    snapshot_with_args(input, out_dir, spec, &SnapshotExtras::default(), info)
}

/// The capture runs of [`snapshot_with`] (the sprite run is [`sprite_args`]).
pub fn snapshot_with_args(
    input: &Path,
    out_dir: &Path,
    spec: &SnapshotSpec,
    extras: &SnapshotExtras,
    info: &MediaInfo,
) -> Result<Vec<Vec<String>>, MediaError> {
    let plan = plan(input, out_dir, spec, extras, info)?;
    Ok(plan.runs.into_iter().map(|r| r.args).collect())
}

impl MediaTools {
    /// [`snapshot`] with these tools and limits.
    pub async fn snapshot(
        &self,
        input: &Path,
        out_dir: &Path,
        spec: &SnapshotSpec,
        info: &MediaInfo,
        ctl: &RunControl,
    ) -> Result<Vec<PathBuf>, MediaError> {
        let extras = SnapshotExtras::default();
        let out = self
            .snapshot_with(input, out_dir, spec, &extras, info, ctl)
            .await?;
        Ok(out.images)
    }

    /// [`snapshot_with`] with these tools and limits.
    pub async fn snapshot_with(
        &self,
        input: &Path,
        out_dir: &Path,
        spec: &SnapshotSpec,
        extras: &SnapshotExtras,
        info: &MediaInfo,
        ctl: &RunControl,
    ) -> Result<SnapshotOutput, MediaError> {
        let plan = plan(input, out_dir, spec, extras, info)?;
        prepare_dir(out_dir, plan.ext).await?;
        let steps = plan.runs.len() + usize::from(extras.out_mode.sprites());
        for (index, run) in plan.runs.into_iter().enumerate() {
            let cmd = self
                .ffmpeg_command(run.args, run.media_secs)
                .ffmpeg_progress(run.progress_secs)
                .progress_frames(run.frames);
            cmd.run(&ctl.step(index, steps)).await?;
        }
        self.finish_snapshot(
            out_dir,
            spec,
            extras,
            info,
            plan.expected,
            ctl.step(steps - 1, steps),
        )
        .await
    }

    /// After the capture: collect the images (closing gaps left by black slots), make
    /// the sprite sheets and drop the images in `OnlySprite` mode.
    pub(crate) async fn finish_snapshot(
        &self,
        out_dir: &Path,
        spec: &SnapshotSpec,
        extras: &SnapshotExtras,
        info: &MediaInfo,
        expected: u32,
        sprite_ctl: RunControl,
    ) -> Result<SnapshotOutput, MediaError> {
        let ext = ImageFormat::parse(&spec.format)?.ext();
        let images = if extras.black.is_some() {
            compact(out_dir, expected, ext).await?
        } else {
            collect(out_dir, expected, ext).await
        };
        if images.is_empty() {
            let what = if extras.black.is_some() {
                "non-black "
            } else {
                ""
            };
            return Err(MediaError::invalid_input(format!(
                "no {what}frame could be captured at or after {}s",
                num(spec.start)
            )));
        }
        let mut out = SnapshotOutput {
            images,
            sprites: Vec::new(),
        };
        if let (Some(sprite), true) = (&extras.sprite, extras.out_mode.sprites()) {
            let args = sprite_args(out_dir, spec, sprite, info)?;
            let frames = out.images.len() as u64;
            let cmd = self
                .ffmpeg_command(args, Some(frames as f64 * 0.1))
                .progress_frames(frames.div_ceil(u64::from(sprite.per_sheet())));
            cmd.run(&sprite_ctl).await?;
            out.sprites =
                paths::list_matching(out_dir, |n| is_named(n, SPRITE_PREFIX, ext)).await?;
            if out.sprites.is_empty() {
                return Err(MediaError::NoOutput {
                    path: out_dir.join(format!("{SPRITE_PREFIX}00000.{ext}")),
                });
            }
            if extras.out_mode == SnapshotOutMode::OnlySprite {
                for image in std::mem::take(&mut out.images) {
                    tokio::fs::remove_file(&image)
                        .await
                        .map_err(MediaError::io("could not remove snapshot image", &image))?;
                }
            }
        }
        Ok(out)
    }
}

/// Creates `out_dir` and removes images and sprites of an earlier attempt.
pub(crate) async fn prepare_dir(out_dir: &Path, ext: &str) -> Result<(), MediaError> {
    tokio::fs::create_dir_all(out_dir)
        .await
        .map_err(MediaError::io(
            "could not create snapshot directory",
            out_dir,
        ))?;
    paths::remove_matching(out_dir, |n| {
        is_named(n, PREFIX, ext) || is_named(n, SPRITE_PREFIX, ext)
    })
    .await
}

/// `snap-00042.jpg`: an image this module writes.
#[cfg(test)]
fn is_image_name(name: &str, ext: &str) -> bool {
    is_named(name, PREFIX, ext)
}

/// `<prefix><digits>.<ext>`.
fn is_named(name: &str, prefix: &str, ext: &str) -> bool {
    name.strip_prefix(prefix)
        .and_then(|rest| rest.strip_suffix(ext)?.strip_suffix('.'))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The images written, renamed to close gaps (slots that were black throughout), in
/// capture order.
async fn compact(out_dir: &Path, expected: u32, ext: &str) -> Result<Vec<PathBuf>, MediaError> {
    let mut images = Vec::new();
    for k in 0..expected {
        let path = snapshot_path(out_dir, k, ext);
        match tokio::fs::metadata(&path).await {
            Ok(meta) if meta.len() > 0 => {
                let target = snapshot_path(out_dir, images.len() as u32, ext);
                if target != path {
                    tokio::fs::rename(&path, &target)
                        .await
                        .map_err(MediaError::io("could not rename snapshot image", &path))?;
                }
                images.push(target);
            }
            _ => {}
        }
    }
    Ok(images)
}

/// The images written, in order, stopping at the first missing or empty one.
pub(crate) async fn collect(out_dir: &Path, expected: u32, ext: &str) -> Vec<PathBuf> {
    let mut images = Vec::new();
    for k in 0..expected {
        let path = snapshot_path(out_dir, k, ext);
        match tokio::fs::metadata(&path).await {
            Ok(meta) if meta.len() > 0 => images.push(path),
            _ => break,
        }
    }
    images
}

#[cfg(test)]
mod tests;
