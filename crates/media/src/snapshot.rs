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

/// All ffmpeg runs of a snapshot and what they should leave behind.
#[derive(Debug)]
struct Plan {
    runs: Vec<Run>,
    /// Upper bound of images written.
    expected: u32,
    ext: &'static str,
}

/// One ffmpeg run.
#[derive(Debug)]
struct Run {
    args: Vec<String>,
    /// Media seconds the run works through (its timeout scales with this).
    media_secs: Option<f64>,
    /// Expected output duration, for percentages (`None` when meaningless).
    progress_secs: Option<f64>,
    /// Frames the run writes, for percentages.
    frames: u64,
}

/// `IsCheckCount`: Interval captures that would stop short of `count` become Average.
fn effective<'a>(
    spec: &'a SnapshotSpec,
    extras: &SnapshotExtras,
    info: &MediaInfo,
) -> Cow<'a, SnapshotSpec> {
    let short = match (spec.mode, spec.interval, info.duration) {
        (SnapshotMode::Interval, Some(i), Some(d)) if extras.check_count && i > 0.0 => {
            targets(spec.start, i, spec.count, Some(d)).len() < spec.count as usize
        }
        _ => false,
    };
    if short {
        Cow::Owned(SnapshotSpec {
            mode: SnapshotMode::Average,
            interval: None,
            ..spec.clone()
        })
    } else {
        Cow::Borrowed(spec)
    }
}

fn plan(
    input: &Path,
    out_dir: &Path,
    spec: &SnapshotSpec,
    extras: &SnapshotExtras,
    info: &MediaInfo,
) -> Result<Plan, MediaError> {
    extras.validate()?;
    let spec = effective(spec, extras, info);
    let spec = spec.as_ref();
    let format = ImageFormat::parse(&spec.format)?;
    check(spec, info)?;
    let step = step(spec, info)?;
    let targets = step.map(|s| targets(spec.start, s, spec.count, info.duration));
    let ctx = Ctx {
        input: paths::arg(input)?,
        out_dir,
        spec,
        format,
        black: extras.black,
    };
    let runs = match (&targets, step) {
        (Some(times), Some(gap)) if info.duration.is_some() && gap >= SEEK_MIN_GAP_SECS => {
            ctx.seek_runs(times, gap)?
        }
        _ => vec![ctx.scan_run(step, targets.as_deref(), info.duration)?],
    };
    let expected = targets.map_or(spec.count, |t| t.len() as u32);
    Ok(Plan {
        runs,
        expected,
        ext: format.ext(),
    })
}

/// The `select` expression taking one frame per `step`-second slot from `offset`:
/// the first frame at or after each target, or — with black frames filtered out
/// before it — the first remaining frame of each slot.
fn select_expr(offset: f64, step: f64, black: bool) -> String {
    let (o, s) = (num(offset), num(step));
    if black {
        let slot = |t: &str| {
            if offset > 0.0 {
                format!("floor(({t}-{o})/{s})")
            } else {
                format!("floor({t}/{s})")
            }
        };
        let fresh = format!(
            "isnan(prev_selected_t)+gt({},{})",
            slot("t"),
            slot("prev_selected_t")
        );
        if offset > 0.0 {
            format!("select='gte(t,{o})*({fresh})'")
        } else {
            format!("select='{fresh}'")
        }
    } else if offset > 0.0 {
        format!("select='gte(t,{o}+selected_n*{s})'")
    } else {
        format!("select='gte(t,selected_n*{s})'")
    }
}

/// One output of a fused run capturing this snapshot from the shared decode:
/// every mode becomes a `select` on frames timed from `shared_start` (the input seek
/// of the run, if all outputs share it) or from 0.
pub(crate) fn fused_section(
    out_dir: &Path,
    spec: &SnapshotSpec,
    extras: &SnapshotExtras,
    info: &MediaInfo,
    shared_start: Option<f64>,
) -> Result<Invocation, MediaError> {
    extras.validate()?;
    let spec = effective(spec, extras, info);
    let spec = spec.as_ref();
    let format = ImageFormat::parse(&spec.format)?;
    check(spec, info)?;
    let offset = (spec.start - shared_start.unwrap_or(0.0)).max(0.0);
    let step = step(spec, info)?;
    let targets = step.map(|s| targets(spec.start, s, spec.count, info.duration));
    let mut filters = extras.black.map(|b| b.filters()).unwrap_or_default();
    let select = match (spec.mode, step) {
        (SnapshotMode::KeyFrame, _) if offset > 0.0 => {
            Some(format!("select='key*gte(t,{})'", num(offset)))
        }
        (SnapshotMode::KeyFrame, _) => Some("select='key'".into()),
        (_, Some(step)) => Some(select_expr(offset, step, extras.black.is_some())),
        (_, None) if offset > 0.0 => Some(format!("select='gte(t,{})'", num(offset))),
        (_, None) => None,
    };
    filters.extend(select);
    filters.extend(scale_filter(spec.width, spec.height, -2));
    let frames = targets.as_ref().map_or(spec.count, |t| t.len() as u32);
    let mut args = vec!["-map".to_owned(), "0:v:0".to_owned()];
    if !filters.is_empty() {
        args.extend(["-vf".into(), filters.join(",")]);
    }
    args.extend(["-frames:v".into(), frames.to_string()]);
    args.extend(image_args(format));
    args.extend(["-start_number".into(), "0".into()]);
    args.push(format!(
        "{}{PREFIX}%05d.{}",
        paths::escape_pattern(&dir_arg(out_dir)?),
        format.ext()
    ));
    let span = targets.and_then(|t| t.last().map(|last| last - spec.start));
    Ok(Invocation {
        args,
        expected_secs: span.filter(|s| *s > 0.0),
    })
}

/// The number of images a fused snapshot section may write (for collecting them).
pub(crate) fn fused_expected(
    spec: &SnapshotSpec,
    extras: &SnapshotExtras,
    info: &MediaInfo,
) -> Result<u32, MediaError> {
    let spec = effective(spec, extras, info);
    let step = step(&spec, info)?;
    Ok(step.map_or(spec.count, |s| {
        targets(spec.start, s, spec.count, info.duration).len() as u32
    }))
}

/// Seconds between timed captures; `None` for consecutive frames and key frames.
fn step(spec: &SnapshotSpec, info: &MediaInfo) -> Result<Option<f64>, MediaError> {
    Ok(match spec.mode {
        SnapshotMode::Interval => spec.interval,
        SnapshotMode::KeyFrame => None,
        SnapshotMode::Average => {
            let total = info.duration.ok_or_else(|| {
                MediaError::invalid_input(
                    "Average snapshots need the media duration, which is unknown",
                )
            })?;
            Some((total - spec.start) / f64::from(spec.count))
        }
    })
}

/// Rejects specs and inputs that cannot produce an image.
fn check(spec: &SnapshotSpec, info: &MediaInfo) -> Result<(), MediaError> {
    if !info.has_video() {
        return Err(MediaError::invalid_input("input has no video stream"));
    }
    if spec.count == 0 {
        return Err(MediaError::invalid_spec(
            "snapshot count must be at least 1",
        ));
    }
    if !(spec.start.is_finite() && spec.start >= 0.0) {
        return Err(MediaError::invalid_spec(format!(
            "snapshot start must be ≥ 0, got {}",
            spec.start
        )));
    }
    if let Some(i) = spec.interval.filter(|i| !(i.is_finite() && *i > 0.0)) {
        return Err(MediaError::invalid_spec(format!(
            "snapshot interval must be positive, got {i}"
        )));
    }
    if spec.width == Some(0) || spec.height == Some(0) {
        return Err(MediaError::invalid_spec(
            "snapshot width and height must be positive",
        ));
    }
    match info.duration {
        Some(d) if spec.start >= d && spec.start > 0.0 => Err(MediaError::invalid_input(format!(
            "snapshot start {}s is at or past the end of the input ({}s)",
            num(spec.start),
            num(d)
        ))),
        _ => Ok(()),
    }
}

/// Capture times: `start + k·step` for `k < count`, before the end when it is known.
fn targets(start: f64, step: f64, count: u32, duration: Option<f64>) -> Vec<f64> {
    (0..count)
        .map(|k| start + f64::from(k) * step)
        .take_while(|t| duration.is_none_or(|d| *t < d))
        .collect()
}

/// Shared pieces of the two argument layouts.
struct Ctx<'a> {
    input: String,
    out_dir: &'a Path,
    spec: &'a SnapshotSpec,
    format: ImageFormat,
    black: Option<BlackCheck>,
}

impl Ctx<'_> {
    /// One input, decoded forward from `start`; `step` selects timed frames.
    fn scan_run(
        &self,
        step: Option<f64>,
        targets: Option<&[f64]>,
        duration: Option<f64>,
    ) -> Result<Run, MediaError> {
        let mut args = prelude();
        if self.spec.mode == SnapshotMode::KeyFrame {
            args.extend(["-skip_frame".into(), "nokey".into()]);
        }
        if self.spec.start > 0.0 {
            args.extend(["-ss".into(), num(self.spec.start)]);
        }
        args.extend([
            "-i".into(),
            self.input.clone(),
            "-map".into(),
            "0:v:0".into(),
        ]);
        let select = step.map(|s| select_expr(0.0, s, self.black.is_some()));
        let black = self.black.map(|b| b.filters()).unwrap_or_default();
        let filters: Vec<String> = black
            .into_iter()
            .chain(select)
            .chain(self.scale())
            .collect();
        if !filters.is_empty() {
            args.extend(["-vf".into(), filters.join(",")]);
        }
        let frames = targets.map_or(self.spec.count, |t| t.len() as u32);
        args.extend(["-frames:v".into(), frames.to_string()]);
        args.extend(image_args(self.format));
        args.extend(["-start_number".into(), "0".into()]);
        let pattern = format!(
            "{}{PREFIX}%05d.{}",
            paths::escape_pattern(&dir_arg(self.out_dir)?),
            self.format.ext()
        );
        args.push(pattern);
        // Timed captures end at the last target; key frames may need the whole rest.
        // Media decoded: up to the last target, or the whole rest for key frames
        // (unknown duration: the long default timeout); consecutive frames are quick.
        let span = match (targets, self.spec.mode) {
            (Some(times), _) => Some(times.last().map_or(0.0, |t| t - self.spec.start)),
            (None, SnapshotMode::KeyFrame) => duration.map(|d| d - self.spec.start),
            (None, _) => Some(0.0),
        };
        Ok(Run {
            args,
            media_secs: span,
            progress_secs: span.filter(|s| *s > 0.0),
            frames: u64::from(frames),
        })
    }

    /// One input per capture time, one frame from each, in batches of
    /// [`SEEK_MAX_FRAMES`] inputs per ffmpeg run.
    /// With a black check each input reads at most one `gap` (its slot), so a black
    /// slot costs one interval of decoding and yields no image.
    fn seek_runs(&self, times: &[f64], gap: f64) -> Result<Vec<Run>, MediaError> {
        let batch = SEEK_MAX_FRAMES as usize;
        let chunks = times.chunks(batch).enumerate();
        chunks
            .map(|(n, chunk)| self.seek_run(chunk, (n * batch) as u32, gap))
            .collect()
    }

    fn seek_run(&self, times: &[f64], first_index: u32, gap: f64) -> Result<Run, MediaError> {
        let mut args = prelude();
        for t in times {
            args.extend(["-ss".into(), num(*t)]);
            if self.black.is_some() {
                args.extend(["-t".into(), num(gap)]);
            }
            args.extend(["-i".into(), self.input.clone()]);
        }
        let mut filters = self.black.map(|b| b.filters()).unwrap_or_default();
        filters.extend(self.scale());
        for k in 0..times.len() {
            args.extend([
                "-map".into(),
                format!("{k}:v:0"),
                "-frames:v".into(),
                "1".into(),
            ]);
            if !filters.is_empty() {
                args.extend(["-vf".into(), filters.join(",")]);
            }
            args.extend(image_args(self.format));
            args.extend(["-update".into(), "1".into()]);
            let path = snapshot_path(self.out_dir, first_index + k as u32, self.format.ext());
            args.push(paths::arg(&path)?);
        }
        // Each input costs a seek and a short decode (a whole slot with a black check).
        let per_input = if self.black.is_some() { gap } else { 0.5 };
        Ok(Run {
            args,
            media_secs: Some(times.len() as f64 * per_input),
            progress_secs: None,
            frames: 0,
        })
    }

    fn scale(&self) -> Option<String> {
        scale_filter(self.spec.width, self.spec.height, -2)
    }
}

/// Encoder, no audio, no frame duplication, image muxer.
fn image_args(format: ImageFormat) -> Vec<String> {
    let mut args = format.encoder_args(None);
    args.extend(
        [
            "-an",
            "-sn",
            "-dn",
            "-fps_mode",
            "passthrough",
            "-f",
            "image2",
        ]
        .map(String::from),
    );
    args
}

/// A directory as an absolute path ending in `/`.
pub(crate) fn dir_arg(dir: &Path) -> Result<String, MediaError> {
    let mut dir = paths::arg(dir)?;
    if !dir.ends_with('/') {
        dir.push('/');
    }
    Ok(dir)
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
