//! Snapshot planning: which frames to take (times, select expressions, batches of direct
//! seeks) and the ffmpeg argument lists that take them.

#![allow(clippy::wildcard_imports)]
use super::*;

/// All ffmpeg runs of a snapshot and what they should leave behind.
#[derive(Debug)]
pub(super) struct Plan {
    pub(super) runs: Vec<Run>,
    /// Upper bound of images written.
    pub(super) expected: u32,
    pub(super) ext: &'static str,
}

/// One ffmpeg run.
#[derive(Debug)]
pub(super) struct Run {
    pub(super) args: Vec<String>,
    /// Media seconds the run works through (its timeout scales with this).
    pub(super) media_secs: Option<f64>,
    /// Expected output duration, for percentages (`None` when meaningless).
    pub(super) progress_secs: Option<f64>,
    /// Frames the run writes, for percentages.
    pub(super) frames: u64,
}

/// `IsCheckCount`: Interval captures that would stop short of `count` become Average.
pub(super) fn effective<'a>(
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

pub(super) fn plan(
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
pub(super) fn select_expr(offset: f64, step: f64, black: bool) -> String {
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
pub(super) fn step(spec: &SnapshotSpec, info: &MediaInfo) -> Result<Option<f64>, MediaError> {
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
pub(super) fn check(spec: &SnapshotSpec, info: &MediaInfo) -> Result<(), MediaError> {
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
pub(super) fn targets(start: f64, step: f64, count: u32, duration: Option<f64>) -> Vec<f64> {
    (0..count)
        .map(|k| start + f64::from(k) * step)
        .take_while(|t| duration.is_none_or(|d| *t < d))
        .collect()
}

/// Shared pieces of the two argument layouts.
pub(super) struct Ctx<'a> {
    pub(super) input: String,
    pub(super) out_dir: &'a Path,
    pub(super) spec: &'a SnapshotSpec,
    pub(super) format: ImageFormat,
    pub(super) black: Option<BlackCheck>,
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
pub(super) fn image_args(format: ImageFormat) -> Vec<String> {
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
