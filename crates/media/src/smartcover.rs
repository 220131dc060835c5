//! Smart covers (CI `SmartCover`, reference section 5.6): the `Count` best frames of a
//! video, not the first ones.
//!
//! 1. **Sample** about 60 frames spread over the duration, avoiding the first and last
//!    2 % (intros, credits, fades). Each sample is one input seek and one key-frame
//!    decode into a small `rgb24` frame through a pipe (see the `frames` module), so
//!    the cost follows the number of samples, not the duration: a 20-minute video
//!    costs about what a 5-minute one does.
//! 2. **Score** each sample in Rust (see `score`): reject black, washed-out, flat and
//!    blurred frames; rank the rest by sharpness, contrast, exposure and
//!    colourfulness.
//! 3. **Check for transitions** only where it matters: the frontrunners are decoded
//!    again with a partner frame 0.2 s later; a large difference (cut, fade,
//!    dissolve in progress) rejects the frame and the pick is redone, at most a few
//!    rounds. Decoding partners for every sample would double the sampling cost.
//! 4. **Pick** greedily by score, keeping picks apart in time (a minimum gap of a
//!    third of the duration per cover) and in perceptual hash; `DeleteDuplicates`
//!    makes the hash distance a hard limit (fewer covers rather than near twins).
//! 5. **Extract** the picks at full quality with the same seeks (so the frame written
//!    is the frame scored), scaled to `Width`/`Height` (one alone keeps the aspect
//!    ratio), as jpg, png or webp: `cover-00000.jpg` is the best, then the others in
//!    rank order.
//!
//! Covers are key frames by construction: the encoder's choice of a scene's first
//! frame, and its best-quality pictures. A short clip (≤ 2 min) whose key frames are
//! too sparse to give twice `Count` distinct samples is instead scanned once, keeping
//! evenly spaced frames (`select`), and its covers are extracted with accurate seeks;
//! transitions are then not checked.

mod score;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use self::score::{Stats, is_good, judge, motion, pick, stats};
use crate::error::MediaError;
use crate::ffmpeg::{num, prelude, scale_filter};
use crate::frames::{FastDecode, SamplePlan};
use crate::image::ImageFormat;
use crate::limits::MediaTools;
use crate::paths;
use crate::probe::MediaInfo;
use crate::process::RunControl;

/// File-name prefix of covers.
const PREFIX: &str = "cover-";
/// Samples taken from a long video.
const MAX_SAMPLES: usize = 60;
/// Densest sampling of a short video (seconds between samples).
const MIN_SAMPLE_GAP: f64 = 0.2;
/// Share of the duration skipped at each end.
const EDGE: f64 = 0.02;
/// Width of analysed frames.
const SAMPLE_WIDTH: u32 = 160;
/// Seconds between a sample and its partner frame.
const PARTNER_SECS: f64 = 0.2;
/// Rounds of transition checks before the pick is taken as it is.
const CHECK_ROUNDS: usize = 3;
/// Longest clip that is scanned whole when its key frames are too sparse to sample.
const DENSE_MAX_SECS: f64 = 120.0;

/// A CI smart-cover template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmartCoverSpec {
    /// Covers wanted, 1–10 (CI default 3).
    pub count: u32,
    /// Cover width; alone, the height follows the aspect ratio.
    pub width: Option<u32>,
    /// Cover height; alone, the width follows the aspect ratio.
    pub height: Option<u32>,
    /// `jpg` (default), `png` or `webp`.
    pub format: String,
    /// Never return two covers that look alike (perceptual hash), even if fewer than
    /// `count` come out.
    pub delete_duplicates: bool,
}

impl Default for SmartCoverSpec {
    fn default() -> Self {
        Self {
            count: 3,
            width: None,
            height: None,
            format: "jpg".into(),
            delete_duplicates: false,
        }
    }
}

/// One cover with why it was chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct Cover {
    /// The image written.
    pub path: PathBuf,
    /// The sample time; the frame is the key frame at or before it.
    pub time: f64,
    /// Quality score in about `[0, 1]`.
    pub score: f64,
}

/// Writes the `count` best frames of `input` into `out_dir` with default tools and
/// limits. Returns the images, best first.
pub async fn smart_cover(
    input: &Path,
    out_dir: &Path,
    spec: &SmartCoverSpec,
    info: &MediaInfo,
    ctl: &RunControl,
) -> Result<Vec<PathBuf>, MediaError> {
    let covers = MediaTools::default()
        .smart_cover(input, out_dir, spec, info, ctl)
        .await?;
    Ok(covers.into_iter().map(|c| c.path).collect())
}

/// The sample times for a video of `duration` seconds and `count` covers: evenly
/// spread over the middle 96 %, one per 0.2 s at most, between `4 × count` and 60.
pub fn smart_cover_samples(duration: f64, count: u32) -> Vec<f64> {
    if !(duration.is_finite() && duration > 0.0) {
        return vec![0.0];
    }
    let span = duration * (1.0 - 2.0 * EDGE);
    let dense = (span / MIN_SAMPLE_GAP).floor() as usize;
    let n = dense
        .clamp((count as usize * 4).min(MAX_SAMPLES), MAX_SAMPLES)
        .max(1);
    (0..n)
        .map(|i| duration * EDGE + (i as f64 + 0.5) * span / n as f64)
        .collect()
}

fn check(spec: &SmartCoverSpec, info: &MediaInfo) -> Result<(ImageFormat, f64), MediaError> {
    let format = ImageFormat::parse(&spec.format)?;
    if !(1..=10).contains(&spec.count) {
        return Err(MediaError::invalid_spec(format!(
            "smart cover count must be in [1, 10], got {}",
            spec.count
        )));
    }
    if spec.width == Some(0) || spec.height == Some(0) {
        return Err(MediaError::invalid_spec(
            "smart cover width and height must be positive",
        ));
    }
    if !info.has_video() {
        return Err(MediaError::invalid_input("input has no video stream"));
    }
    let duration = info.duration.filter(|d| *d > 0.0).ok_or_else(|| {
        MediaError::invalid_input("smart covers need the media duration, which is unknown")
    })?;
    Ok((format, duration))
}

/// How samples are decoded for a video described by `info`: key frames alone, or
/// with their partner frame (`with_partner`).
fn sample_plan(info: &MediaInfo, times: Vec<f64>, with_partner: bool) -> SamplePlan {
    let video = info.video();
    // Decoding autorotates: sample frames have the displayed shape.
    let (w, h) = video
        .and_then(crate::probe::StreamInfo::display_size)
        .unwrap_or((16, 9));
    let height =
        (f64::from(SAMPLE_WIDTH) * f64::from(h) / f64::from(w.max(1)) / 2.0).round() as u32 * 2;
    let fps = video
        .and_then(|v| v.fps)
        .filter(|f| *f > 0.0)
        .unwrap_or(25.0);
    let partner = (PARTNER_SECS * fps).round().clamp(2.0, 12.0) as u32;
    // Reading a frame and a half covers the key frame alone.
    let (partner, read) = if with_partner {
        (partner, f64::from(partner) + 2.0)
    } else {
        (0, 1.5)
    };
    SamplePlan {
        times,
        width: SAMPLE_WIDTH,
        height: height.clamp(16, 4 * SAMPLE_WIDTH),
        partner,
        read_secs: read / fps,
        fast: Some(FastDecode::for_format(&info.format_name)),
    }
}

/// The run extracting the chosen frames at full quality: one input seek per cover,
/// the same fast seek the sample used, so the frame written is the key frame scored.
pub fn smart_cover_extract_args(
    input: &Path,
    out_dir: &Path,
    times: &[f64],
    spec: &SmartCoverSpec,
    info: &MediaInfo,
) -> Result<Vec<String>, MediaError> {
    extract_args(input, out_dir, times, spec, info, Seek::KeyFrame)
}

/// How a cover's frame is found again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seek {
    /// The key frame at or before the time (sampling by seeks).
    KeyFrame,
    /// The first frame at or after the time (a scan's `select`).
    Accurate,
}

fn extract_args(
    input: &Path,
    out_dir: &Path,
    times: &[f64],
    spec: &SmartCoverSpec,
    info: &MediaInfo,
    seek: Seek,
) -> Result<Vec<String>, MediaError> {
    let format = ImageFormat::parse(&spec.format)?;
    let input = paths::arg(input)?;
    // Read no further than the key frame: without a bound every input would be
    // demuxed and decoded on until all outputs are done.
    let read = sample_plan(info, Vec::new(), false).read_secs;
    let mut args = prelude();
    for t in times {
        if seek == Seek::KeyFrame {
            args.extend(["-threads", "1", "-noaccurate_seek"].map(String::from));
        }
        args.extend(["-ss".into(), num(*t)]);
        if seek == Seek::KeyFrame {
            args.extend(["-t".into(), num(read)]);
        }
        args.extend(["-i".into(), input.clone()]);
    }
    for k in 0..times.len() {
        args.extend([
            "-map".into(),
            format!("{k}:v:0"),
            "-frames:v".into(),
            "1".into(),
        ]);
        if let Some(scale) = scale_filter(spec.width, spec.height, -2) {
            args.extend(["-vf".into(), scale]);
        }
        args.extend(format.encoder_args(None));
        // Passthrough keeps the key frame, whose time is before the seek target.
        let tail = [
            "-an",
            "-sn",
            "-dn",
            "-fps_mode",
            "passthrough",
            "-update",
            "1",
            "-f",
            "image2",
        ];
        args.extend(tail.map(String::from));
        args.push(paths::arg(&cover_path(out_dir, k, format))?);
    }
    Ok(args)
}

fn cover_path(out_dir: &Path, index: usize, format: ImageFormat) -> PathBuf {
    out_dir.join(format!("{PREFIX}{index:05}.{}", format.ext()))
}

impl MediaTools {
    /// Smart covers with these tools and limits, with their times and scores.
    pub async fn smart_cover(
        &self,
        input: &Path,
        out_dir: &Path,
        spec: &SmartCoverSpec,
        info: &MediaInfo,
        ctl: &RunControl,
    ) -> Result<Vec<Cover>, MediaError> {
        let (format, duration) = check(spec, info)?;
        let times = smart_cover_samples(duration, spec.count);
        let plan = sample_plan(info, times, false);
        let samples = self.sample_frames(input, &plan, &ctl.step(0, 2)).await?;
        let count = spec.count as usize;
        let distinct: HashSet<&[u8]> = samples.iter().map(|s| s.frame.data.as_slice()).collect();
        let (candidates, seek) =
            if distinct.len() < (2 * count).min(samples.len()) && duration <= DENSE_MAX_SECS {
                // Few key frames in a short clip: seeks keep landing on the same ones.
                let samples = self.scan_frames(input, &plan, duration, ctl).await?;
                let measured = samples.iter().map(|s| (s.time, stats(&s.frame, None)));
                (judge(measured.collect()), Seek::Accurate)
            } else {
                let measured = samples.iter().map(|s| (s.time, stats(&s.frame, None)));
                let measured = self
                    .check_transitions(input, info, measured.collect(), spec, duration, ctl)
                    .await?;
                (judge(measured), Seek::KeyFrame)
            };
        let min_gap = duration / (3.0 * f64::from(spec.count));
        let chosen = pick(&candidates, count, min_gap, spec.delete_duplicates);
        if chosen.is_empty() {
            return Err(MediaError::invalid_input(
                "no frame could be decoded for a cover",
            ));
        }
        tracing::debug!(
            samples = candidates.len(),
            rejected = candidates.iter().filter(|c| c.reject.is_some()).count(),
            chosen = ?chosen.iter().map(|i| candidates[*i].time).collect::<Vec<_>>(),
            "smart cover"
        );
        tokio::fs::create_dir_all(out_dir)
            .await
            .map_err(MediaError::io("could not create cover directory", out_dir))?;
        let ext = format.ext();
        paths::remove_matching(out_dir, |n| {
            n.strip_prefix(PREFIX)
                .and_then(|r| r.strip_suffix(ext)?.strip_suffix('.'))
                .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        })
        .await?;
        let times: Vec<f64> = chosen.iter().map(|i| candidates[*i].time).collect();
        let args = extract_args(input, out_dir, &times, spec, info, seek)?;
        let cmd = self
            .ffmpeg_command(args, Some(times.len() as f64))
            .progress_frames(times.len() as u64);
        cmd.run(&ctl.step(1, 2)).await?;
        let mut covers = Vec::with_capacity(chosen.len());
        for (k, i) in chosen.iter().enumerate() {
            let path = cover_path(out_dir, k, format);
            if !tokio::fs::metadata(&path).await.is_ok_and(|m| m.len() > 0) {
                return Err(MediaError::NoOutput { path });
            }
            covers.push(Cover {
                path,
                time: candidates[*i].time,
                score: candidates[*i].score,
            });
        }
        Ok(covers)
    }

    /// Decodes the frontrunners again with their partner frames and records the
    /// motion between the two; repeats while the pick contains unchecked frames.
    async fn check_transitions(
        &self,
        input: &Path,
        info: &MediaInfo,
        mut measured: Vec<(f64, Stats)>,
        spec: &SmartCoverSpec,
        duration: f64,
        ctl: &RunControl,
    ) -> Result<Vec<(f64, Stats)>, MediaError> {
        let count = spec.count as usize;
        let min_gap = duration / (3.0 * f64::from(spec.count));
        let mut checked = vec![false; measured.len()];
        for _ in 0..CHECK_ROUNDS {
            let candidates = judge(measured.clone());
            let chosen = pick(&candidates, count, min_gap, spec.delete_duplicates);
            // Check the picks not yet checked, plus runners-up, so a rejected pick
            // rarely costs another round.
            let mut todo: Vec<usize> = chosen.iter().copied().filter(|i| !checked[*i]).collect();
            if todo.is_empty() {
                break;
            }
            let mut ranked: Vec<usize> = (0..candidates.len())
                .filter(|i| is_good(&candidates[*i]) && !checked[*i] && !todo.contains(i))
                .collect();
            ranked.sort_by(|a, b| candidates[*b].score.total_cmp(&candidates[*a].score));
            todo.extend(ranked.into_iter().take(count));
            let times = todo.iter().map(|i| measured[*i].0).collect();
            let plan = sample_plan(info, times, true);
            let quiet = RunControl::with_cancel(ctl.cancel.clone());
            let pairs = self.sample_frames(input, &plan, &quiet).await?;
            for (i, pair) in todo.iter().zip(&pairs) {
                checked[*i] = true;
                measured[*i].1.motion = pair.partner.as_ref().and_then(|p| motion(&pair.frame, p));
            }
        }
        Ok(measured)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::StreamInfo;

    fn info(duration: f64) -> MediaInfo {
        MediaInfo {
            duration: Some(duration),
            streams: vec![StreamInfo {
                codec_type: "video".into(),
                width: Some(1280),
                height: Some(720),
                fps: Some(30.0),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn samples_spread_over_the_middle() {
        let long = smart_cover_samples(300.0, 3);
        assert_eq!(long.len(), 60);
        assert!(long[0] > 6.0 && long[0] < 9.0, "{}", long[0]);
        assert!(*long.last().unwrap() < 294.0);
        assert!(long.windows(2).all(|w| (w[1] - w[0] - 4.8).abs() < 1e-9));
        // Sample count does not grow with the duration.
        assert_eq!(smart_cover_samples(1200.0, 3).len(), 60);
        // Short clips: one sample per 0.2 s, but at least 4 per cover.
        assert_eq!(smart_cover_samples(4.0, 3).len(), 19);
        assert_eq!(smart_cover_samples(1.0, 3).len(), 12);
    }

    #[test]
    fn sample_plan_keeps_aspect_and_reads_a_partner() {
        let plan = sample_plan(&info(60.0), vec![1.0], true);
        assert_eq!((plan.width, plan.height), (160, 90));
        assert_eq!(plan.partner, 6);
        assert!((plan.read_secs - 8.0 / 30.0).abs() < 1e-9);
        let plan = sample_plan(&info(60.0), vec![1.0], false);
        assert_eq!(plan.partner, 0);
        assert!((plan.read_secs - 1.5 / 30.0).abs() < 1e-9);
    }

    #[test]
    fn extraction_repeats_the_sample_seeks() {
        let spec = SmartCoverSpec {
            width: Some(640),
            format: "webp".into(),
            ..Default::default()
        };
        let args = smart_cover_extract_args(
            Path::new("/in.mp4"),
            Path::new("/out"),
            &[12.5, 80.0],
            &spec,
            &info(60.0),
        )
        .unwrap();
        let seeks: Vec<_> = args
            .iter()
            .enumerate()
            .filter(|(_, a)| *a == "-ss")
            .map(|(i, _)| args[i + 1].as_str())
            .collect();
        assert_eq!(seeks, ["12.5", "80"]);
        assert_eq!(args.iter().filter(|a| *a == "-noaccurate_seek").count(), 2);
        assert!(args.iter().any(|a| a == "/out/cover-00001.webp"));
        assert_eq!(
            args.iter().filter(|a| *a == "-t").count(),
            2,
            "reads stop early"
        );
        assert!(args.iter().any(|a| a == "scale=640:-2"));
        assert!(args.iter().any(|a| a == "libwebp"));
    }

    #[test]
    fn invalid_specs() {
        let bad = SmartCoverSpec {
            count: 11,
            ..Default::default()
        };
        assert_eq!(check(&bad, &info(10.0)).unwrap_err().code(), "InvalidSpec");
        let gif = SmartCoverSpec {
            format: "gif".into(),
            ..Default::default()
        };
        assert_eq!(check(&gif, &info(10.0)).unwrap_err().code(), "InvalidSpec");
        assert_eq!(
            check(&SmartCoverSpec::default(), &MediaInfo::default())
                .unwrap_err()
                .code(),
            "InvalidInput"
        );
    }
}
