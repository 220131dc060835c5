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

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::MediaError;
use crate::ffmpeg::{num, prelude, scale_filter};
use crate::limits::MediaTools;
use crate::paths;
use crate::probe::MediaInfo;
use crate::process::RunControl;

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
    /// `jpg` (or `jpeg`) or `png`.
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

/// The ffmpeg argument lists (without the program) of a snapshot: one per ffmpeg run.
/// Usually one; sparse captures of more than 32 frames are split into batches.
pub fn snapshot_args(
    input: &Path,
    out_dir: &Path,
    spec: &SnapshotSpec,
    info: &MediaInfo,
) -> Result<Vec<Vec<String>>, MediaError> {
    let plan = plan(input, out_dir, spec, info)?;
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
        let plan = plan(input, out_dir, spec, info)?;
        tokio::fs::create_dir_all(out_dir)
            .await
            .map_err(MediaError::io(
                "could not create snapshot directory",
                out_dir,
            ))?;
        paths::remove_matching(out_dir, |n| is_image_name(n, plan.ext)).await?;
        let steps = plan.runs.len();
        for (index, run) in plan.runs.into_iter().enumerate() {
            let cmd = self
                .ffmpeg_command(run.args, run.media_secs)
                .ffmpeg_progress(run.progress_secs)
                .progress_frames(run.frames);
            cmd.run(&ctl.step(index, steps)).await?;
        }
        let images = collect(out_dir, plan.expected, plan.ext).await;
        if images.is_empty() {
            return Err(MediaError::invalid_input(format!(
                "no frame could be captured at or after {}s",
                num(spec.start)
            )));
        }
        Ok(images)
    }
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

/// Image encoder options and extension for a CI format name.
fn image_format(format: &str) -> Result<(&'static str, &'static [&'static str]), MediaError> {
    match format.trim().to_ascii_lowercase().as_str() {
        "jpg" | "jpeg" => Ok(("jpg", &["-c:v", "mjpeg", "-q:v", "2"])),
        "png" => Ok(("png", &["-c:v", "png"])),
        other => Err(MediaError::invalid_spec(format!(
            "snapshot format {other:?} is not supported (jpg, png)"
        ))),
    }
}

fn plan(
    input: &Path,
    out_dir: &Path,
    spec: &SnapshotSpec,
    info: &MediaInfo,
) -> Result<Plan, MediaError> {
    let (ext, codec) = image_format(&spec.format)?;
    check(spec, info)?;
    let step = step(spec, info)?;
    let targets = step.map(|s| targets(spec.start, s, spec.count, info.duration));
    let ctx = Ctx {
        input: paths::arg(input)?,
        out_dir,
        spec,
        ext,
        codec,
    };
    let runs = match (&targets, step) {
        (Some(times), Some(gap)) if info.duration.is_some() && gap >= SEEK_MIN_GAP_SECS => {
            ctx.seek_runs(times)?
        }
        _ => vec![ctx.scan_run(step, targets.as_deref(), info.duration)?],
    };
    let expected = targets.map_or(spec.count, |t| t.len() as u32);
    Ok(Plan {
        runs,
        expected,
        ext,
    })
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
    ext: &'static str,
    codec: &'static [&'static str],
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
        let select = step.map(|s| format!("select='gte(t,selected_n*{})'", num(s)));
        let filters: Vec<String> = select.into_iter().chain(self.scale()).collect();
        if !filters.is_empty() {
            args.extend(["-vf".into(), filters.join(",")]);
        }
        let frames = targets.map_or(self.spec.count, |t| t.len() as u32);
        args.extend(["-frames:v".into(), frames.to_string()]);
        args.extend(self.image_args());
        args.extend(["-start_number".into(), "0".into()]);
        let pattern = format!(
            "{}{PREFIX}%05d.{}",
            paths::escape_pattern(&self.dir()?),
            self.ext
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
    fn seek_runs(&self, times: &[f64]) -> Result<Vec<Run>, MediaError> {
        let batch = SEEK_MAX_FRAMES as usize;
        let chunks = times.chunks(batch).enumerate();
        chunks
            .map(|(n, chunk)| self.seek_run(chunk, (n * batch) as u32))
            .collect()
    }

    fn seek_run(&self, times: &[f64], first_index: u32) -> Result<Run, MediaError> {
        let mut args = prelude();
        for t in times {
            args.extend(["-ss".into(), num(*t), "-i".into(), self.input.clone()]);
        }
        for k in 0..times.len() {
            args.extend([
                "-map".into(),
                format!("{k}:v:0"),
                "-frames:v".into(),
                "1".into(),
            ]);
            if let Some(scale) = self.scale() {
                args.extend(["-vf".into(), scale]);
            }
            args.extend(self.image_args());
            args.extend(["-update".into(), "1".into()]);
            let path = snapshot_path(self.out_dir, first_index + k as u32, self.ext);
            args.push(paths::arg(&path)?);
        }
        // Each input costs a seek and a short decode; allow ~10 s per frame.
        Ok(Run {
            args,
            media_secs: Some(times.len() as f64 * 0.5),
            progress_secs: None,
            frames: 0,
        })
    }

    fn scale(&self) -> Option<String> {
        scale_filter(self.spec.width, self.spec.height, -2)
    }

    /// Encoder, no audio, no frame duplication, image muxer.
    fn image_args(&self) -> Vec<String> {
        let mut args: Vec<String> = self.codec.iter().map(|s| (*s).to_owned()).collect();
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

    /// The output directory as an absolute path ending in `/`.
    fn dir(&self) -> Result<String, MediaError> {
        let mut dir = paths::arg(self.out_dir)?;
        if !dir.ends_with('/') {
            dir.push('/');
        }
        Ok(dir)
    }
}

/// `snap-00042.jpg`: an image this module writes.
fn is_image_name(name: &str, ext: &str) -> bool {
    name.strip_prefix(PREFIX)
        .and_then(|rest| rest.strip_suffix(ext)?.strip_suffix('.'))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The images written, in order, stopping at the first missing or empty one.
async fn collect(out_dir: &Path, expected: u32, ext: &str) -> Vec<PathBuf> {
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
