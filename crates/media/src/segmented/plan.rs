//! Planning a segmented encode: where to cut, and how many frames each piece holds.
//!
//! The input is the video stream's packet list as ffprobe prints it
//! (`-show_entries packet=pts_time,dts_time,flags:format=start_time -of compact`), parsed
//! into a [`FrameIndex`]: every frame's presentation time, sorted, and which frames are
//! key frames. Cuts go on key frames only, so each segment decodes on its own.
//!
//! The rule ([`choose_cuts`], pure): with `n = min(target, ⌊span / min⌋)` segments
//! (at least one), cut `k` goes on the key frame nearest to the point that splits what
//! is left after cut `k − 1` into `n − k + 1` equal parts, among the key frames that
//! leave at least `min` seconds on both sides. When a cut finds no such key frame (a long
//! or irregular GOP), the largest smaller count whose every cut does is planned instead
//! (with `multiple_of`, preferring multiples of it), so segments stay near-equal: a lost
//! cut never leaves its remainder to one long last segment. [`plan_segments`] turns the cuts into frame ranges:
//! segment `i` holds frames `[first_i, first_{i+1})` in presentation order, which is
//! what makes the seams exact (each segment encode stops after exactly that many
//! frames).

use serde::{Deserialize, Serialize};

use crate::error::MediaError;

/// Why a plan could not be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// ffprobe listed no video packet with a time.
    #[error("the input has no video frames to segment")]
    NoFrames,
    /// A packet line had a time ffprobe should not print.
    #[error("unreadable ffprobe packet line {line}: {text:?}")]
    BadLine {
        /// 1-based line number.
        line: usize,
        /// The offending line.
        text: String,
    },
    /// The parameters cannot produce a plan.
    #[error("invalid segment parameters: {0}")]
    BadParams(&'static str),
}

impl From<PlanError> for MediaError {
    fn from(err: PlanError) -> Self {
        match err {
            PlanError::BadParams(_) => MediaError::invalid_spec(err.to_string()),
            _ => MediaError::invalid_input(err.to_string()),
        }
    }
}

/// How to split: how many segments are wanted and how short one may be.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SegmentParams {
    /// Segments wanted (typically the worker slots available). At least 1.
    pub target_segments: usize,
    /// No segment shorter than this many seconds (start-up cost of an encoder, rate
    /// control settling). Must be positive.
    pub min_segment_secs: f64,
    /// When fewer segments than wanted fit, prefer a count that is a multiple of this (the
    /// encoders running at once: five equal segments on two encoders leave one idle for the
    /// whole last one) or smaller than it. 1: any count.
    #[serde(default = "one")]
    pub multiple_of: usize,
}

fn one() -> usize {
    1
}

impl Default for SegmentParams {
    fn default() -> Self {
        Self {
            target_segments: 4,
            min_segment_secs: 10.0,
            multiple_of: 1,
        }
    }
}

/// The video frames of an input, in presentation order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FrameIndex {
    /// The container's start time in seconds: what ffmpeg's `-ss` counts from.
    pub start_time: f64,
    /// Presentation time of every frame in seconds, ascending.
    pub times: Vec<f64>,
    /// Indexes into `times` of the key frames, ascending.
    pub keyframes: Vec<usize>,
}

/// One piece of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedSegment {
    /// Position in the plan, from 0.
    pub index: usize,
    /// Index of its first frame in the input (presentation order).
    pub first_frame: usize,
    /// Number of frames it holds.
    pub frames: usize,
    /// Where it starts on the output timeline: seconds after the input's first frame.
    pub offset: f64,
    /// Its length in seconds (up to the next segment's first frame, or the video's end).
    pub duration: f64,
    /// The input seek (`-ss`, relative to the container start) that reaches its first
    /// frame: half a frame early so rounding can never skip the key frame; `None` for
    /// the first segment, which reads from the start.
    pub seek: Option<f64>,
}

/// The segments of one input, and what the stitch needs to rebuild its timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentPlan {
    /// The segments, in order, covering every frame once.
    pub segments: Vec<PlannedSegment>,
    /// Frames in the whole input.
    pub total_frames: usize,
    /// Typical frame duration in seconds (median step between frames).
    pub frame_duration: f64,
    /// Time from the container start to the first video frame (kept at the stitch so
    /// the video stays where it was against the audio).
    pub video_offset: f64,
}

impl FrameIndex {
    /// Parses ffprobe's compact packet listing (see the module docs). Packets come in
    /// decode order; they are sorted here. Lines other than `packet|…` and `format|…`
    /// (side data) are skipped; a packet without a time is skipped too.
    pub fn parse(text: &str) -> Result<Self, PlanError> {
        let mut frames: Vec<(f64, bool)> = Vec::new();
        let mut start_time = None;
        for (n, line) in text.lines().enumerate() {
            let bad = || PlanError::BadLine {
                line: n + 1,
                text: line.to_owned(),
            };
            if let Some(rest) = line.strip_prefix("packet|") {
                let fields = fields(rest);
                if let Some(t) = packet_time(&fields).map_err(|()| bad())? {
                    frames.push((t, fields.get("flags").is_some_and(|f| f.contains('K'))));
                }
            } else if let Some(rest) = line.strip_prefix("format|") {
                let value = fields(rest).get("start_time").copied();
                start_time = value
                    .map(parse_time)
                    .transpose()
                    .map_err(|()| bad())?
                    .flatten();
            }
        }
        frames.sort_by(|a, b| a.0.total_cmp(&b.0));
        let keyframes = frames
            .iter()
            .enumerate()
            .filter(|(_, f)| f.1)
            .map(|(i, _)| i)
            .collect();
        let times: Vec<f64> = frames.into_iter().map(|f| f.0).collect();
        let start_time = start_time.or(times.first().copied()).unwrap_or(0.0);
        Ok(Self {
            start_time,
            times,
            keyframes,
        })
    }

    /// Median step between consecutive frames (0.04 s at 25 fps); `None` with fewer
    /// than two frames.
    pub fn frame_duration(&self) -> Option<f64> {
        let mut steps: Vec<f64> = self
            .times
            .windows(2)
            .map(|w| w[1] - w[0])
            .filter(|d| *d > 0.0)
            .collect();
        steps.sort_by(f64::total_cmp);
        steps.get(steps.len() / 2).copied()
    }
}

/// `key=value` fields of one compact line.
fn fields(rest: &str) -> std::collections::HashMap<&str, &str> {
    rest.split('|').filter_map(|f| f.split_once('=')).collect()
}

/// A packet's presentation time, else its decode time; `Ok(None)` when it has neither.
fn packet_time(fields: &std::collections::HashMap<&str, &str>) -> Result<Option<f64>, ()> {
    for key in ["pts_time", "dts_time"] {
        if let Some(time) = fields
            .get(key)
            .copied()
            .map(parse_time)
            .transpose()?
            .flatten()
        {
            return Ok(Some(time));
        }
    }
    Ok(None)
}

/// A time field: `Ok(None)` for ffprobe's `N/A`.
fn parse_time(text: &str) -> Result<Option<f64>, ()> {
    match text {
        "N/A" => Ok(None),
        t => t
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .map(Some)
            .ok_or(()),
    }
}

/// Chooses cut times among `keyframes` (seconds, ascending) for a video running from
/// `start` to `end`: near-equal segments, none shorter than `params.min_segment_secs`
/// (see the module docs). Returns the cuts strictly between `start` and `end`.
pub fn choose_cuts(
    keyframes: &[f64],
    start: f64,
    end: f64,
    params: &SegmentParams,
) -> Result<Vec<f64>, PlanError> {
    check_params(params)?;
    let span = end - start;
    let fit = (span / params.min_segment_secs).floor().max(1.0) as usize;
    let multiple = params.multiple_of.max(1);
    // The largest count whose every cut finds a key frame: a count that loses a cut would
    // leave its remainder in one long last segment.
    let counts = (1..=params.target_segments.min(fit)).rev();
    let mut counts = counts.filter(|&n| n % multiple == 0 || n < multiple);
    Ok(counts
        .find_map(|n| {
            let cuts = greedy_cuts(keyframes, start, end, n, params.min_segment_secs);
            (cuts.len() + 1 == n).then_some(cuts)
        })
        .unwrap_or_default())
}

/// Cut `k` of `n` on the key frame nearest to the point that splits what is left after cut
/// `k − 1` into `n − k + 1` equal parts, among those leaving `min` seconds on both sides;
/// a cut that finds no such key frame is skipped.
fn greedy_cuts(keyframes: &[f64], start: f64, end: f64, n: usize, min: f64) -> Vec<f64> {
    let mut cuts = Vec::with_capacity(n.saturating_sub(1));
    let mut prev = start;
    for k in 1..n {
        let ideal = prev + (end - prev) / (n - k + 1) as f64;
        let allowed = keyframes
            .iter()
            .copied()
            .filter(|t| t - prev >= min && end - t >= min);
        let best = allowed.min_by(|a, b| (a - ideal).abs().total_cmp(&(b - ideal).abs()));
        if let Some(cut) = best {
            cuts.push(cut);
            prev = cut;
        }
    }
    cuts
}

fn check_params(params: &SegmentParams) -> Result<(), PlanError> {
    if params.target_segments == 0 {
        return Err(PlanError::BadParams("target_segments must be at least 1"));
    }
    if !(params.min_segment_secs.is_finite() && params.min_segment_secs > 0.0) {
        return Err(PlanError::BadParams("min_segment_secs must be positive"));
    }
    Ok(())
}

/// The plan of an input from its frames (see the module docs).
pub fn plan_segments(index: &FrameIndex, params: &SegmentParams) -> Result<SegmentPlan, PlanError> {
    let (Some(&first), Some(&last)) = (index.times.first(), index.times.last()) else {
        return Err(PlanError::NoFrames);
    };
    let frame = index.frame_duration().unwrap_or(0.04);
    let end = last + frame;
    let keys: Vec<f64> = index.keyframes.iter().map(|&i| index.times[i]).collect();
    let cuts = choose_cuts(&keys, first, end, params)?;
    // Each cut is a key frame's time, so it is found exactly among the frame times.
    let mut starts = vec![0];
    starts.extend(
        cuts.iter()
            .filter_map(|c| index.times.iter().position(|t| t == c)),
    );
    let segments = starts
        .iter()
        .enumerate()
        .map(|(i, &first_frame)| {
            let next = starts.get(i + 1).copied();
            let begin = index.times[first_frame];
            let stop = next.map_or(end, |n| index.times[n]);
            PlannedSegment {
                index: i,
                first_frame,
                frames: next.unwrap_or(index.times.len()) - first_frame,
                offset: begin - first,
                duration: stop - begin,
                seek: (i > 0).then(|| (begin - index.start_time - frame / 2.0).max(0.0)),
            }
        })
        .collect();
    Ok(SegmentPlan {
        segments,
        total_frames: index.times.len(),
        frame_duration: frame,
        video_offset: (first - index.start_time).max(0.0),
    })
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
