//! Segmented transcoding (issue 13): one long video encoded as independent pieces
//! that any worker can take, then stitched losslessly.
//!
//! The steps, each callable on its own with file paths (the engine's sub-tasks):
//! 1. [`MediaTools::probe_frames`] lists the video's frames (ffprobe packet flags) into a
//!    [`FrameIndex`]; [`plan_segments`] (pure) cuts it on key frames into near-equal
//!    pieces no shorter than [`SegmentParams::min_segment_secs`] ([`SegmentPlan`], which
//!    is `serde` so a parent task can store it).
//! 2. [`MediaTools::encode_segment`] encodes one [`SegmentTask`] (video only) with
//!    the template's video settings: exactly its frames, closed GOPs, a key frame first
//!    ([`segment_args`]).
//! 3. [`MediaTools::encode_audio`] encodes the whole input's audio once
//!    ([`audio_pass_args`]), so there are no clicks or gaps at the seams.
//! 4. [`MediaTools::stitch`] ([`StitchTask`]) joins the segments with the concat
//!    demuxer (stream copy) and muxes the audio into the output container
//!    ([`stitch_args`]).
//!
//! The task structs are `serde`, so a parent task can store them and hand them to
//! sub-tasks on other workers as they are (paths local to whoever runs them).
//! [`MediaTools::transcode_segmented`] runs all of it locally, segment encodes in
//! parallel up to [`SegmentedOptions::parallel`].
//!
//! Not supported here (the engine should transcode such templates unsegmented):
//! `TimeInterval`, watermarks and the other [`TranscodeExtras`](crate::TranscodeExtras)
//! (per-segment time windows would need offsets), gif output. A template `Fps` is
//! honoured but frame-exact seams are only guaranteed when the source rate is kept.

mod encode;
mod plan;
mod run;
mod stitch;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use self::encode::{
    VBV_BUFSIZE_FACTOR, VBV_MAXRATE_FACTOR, audio_format, audio_pass_args, encoder_thread_limit,
    segment_args, segment_format,
};
pub use self::plan::{
    FrameIndex, PlanError, PlannedSegment, SegmentParams, SegmentPlan, choose_cuts, plan_segments,
};
pub use self::run::{SegmentedJob, SegmentedOptions, SegmentedRun};
pub use self::stitch::{StitchPiece, concat_script, stitch_args};
use crate::error::MediaError;
use crate::limits::MediaTools;
use crate::paths;
use crate::probe::MediaInfo;
use crate::process::{ProcessError, RunControl};
use crate::transcode::{TranscodeSpec, collect_outputs, remove_stale_segments};

/// One segment encode: everything a worker needs, given local paths.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentTask {
    /// The whole input.
    pub input: PathBuf,
    /// Its probe.
    pub info: MediaInfo,
    /// The template.
    pub spec: TranscodeSpec,
    /// Which piece.
    pub segment: PlannedSegment,
    /// The segment file to write ([`segment_path`]).
    pub output: PathBuf,
    /// Encoder threads (`-threads`); `None` lets ffmpeg choose.
    pub threads: Option<u32>,
}

/// The stitch: segment files in order, the audio pass, the output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StitchTask {
    /// Every segment, in plan order, with its planned duration.
    pub pieces: Vec<StitchPiece>,
    /// The audio pass file, when the output has audio.
    pub audio: Option<PathBuf>,
    /// The template.
    pub spec: TranscodeSpec,
    /// [`SegmentPlan::video_offset`].
    pub video_offset: f64,
    /// Where the ffconcat script is written.
    pub list: PathBuf,
    /// The output (main file; HLS/DASH pieces go beside it).
    pub output: PathBuf,
}

/// The path of segment `index` in `work`: `seg-00003.mp4`.
pub fn segment_path(
    work: &Path,
    index: usize,
    spec: &TranscodeSpec,
) -> Result<PathBuf, MediaError> {
    let (_, ext) = segment_format(spec)?;
    Ok(work.join(format!("seg-{index:05}.{ext}")))
}

/// The path of the audio pass in `work`: `audio.m4a`, `audio.webm`, `audio.mka`.
pub fn audio_path(work: &Path, spec: &TranscodeSpec) -> Result<PathBuf, MediaError> {
    let (_, ext) = audio_format(spec)?;
    Ok(work.join(format!("audio.{ext}")))
}

impl MediaTools {
    /// Lists the frames of `input`'s first video stream (one ffprobe demux pass, no
    /// decoding). `duration` (seconds, when known) scales the timeout.
    pub async fn probe_frames(
        &self,
        input: &Path,
        duration: Option<f64>,
        ctl: &RunControl,
    ) -> Result<FrameIndex, MediaError> {
        let args = [
            "-v",
            "error",
            "-select_streams",
            "V:0",
            "-show_entries",
            "packet=pts_time,dts_time,flags:format=start_time",
            "-of",
            "compact",
        ];
        let timeout = self.limits.probe_timeout + self.limits.ffmpeg_timeout(duration) / 10;
        let cmd = self
            .ffprobe_command(args)
            .arg(paths::arg(input)?)
            .timeout(timeout);
        let output = cmd.run(ctl).await.map_err(|err| match err {
            ProcessError::Failed { stderr_tail, .. } => MediaError::invalid_input(format!(
                "ffprobe could not list the frames: {stderr_tail}"
            )),
            other => other.into(),
        })?;
        Ok(FrameIndex::parse(&String::from_utf8_lossy(&output.stdout))?)
    }

    /// [`MediaTools::probe_frames`] then [`plan_segments`].
    pub async fn plan_segmented(
        &self,
        input: &Path,
        info: &MediaInfo,
        params: &SegmentParams,
        ctl: &RunControl,
    ) -> Result<SegmentPlan, MediaError> {
        let index = self.probe_frames(input, info.duration, ctl).await?;
        Ok(plan_segments(&index, params)?)
    }

    /// Encodes one segment (see [`segment_args`]).
    pub async fn encode_segment(
        &self,
        task: &SegmentTask,
        ctl: &RunControl,
    ) -> Result<(), MediaError> {
        let args = segment_args(
            &task.input,
            &task.output,
            &task.spec,
            &task.info,
            &task.segment,
            task.threads,
        )?;
        create_parent(&task.output).await?;
        let cmd = self.ffmpeg_command(args, Some(task.segment.duration));
        cmd.run(ctl).await?;
        non_empty(&task.output).await
    }

    /// Encodes the audio of the whole `input` into `output` (see [`audio_pass_args`]).
    /// Returns `false` (and writes nothing) when the output carries no audio.
    pub async fn encode_audio(
        &self,
        input: &Path,
        output: &Path,
        spec: &TranscodeSpec,
        info: &MediaInfo,
        ctl: &RunControl,
    ) -> Result<bool, MediaError> {
        let Some(args) = audio_pass_args(input, output, spec, info)? else {
            return Ok(false);
        };
        create_parent(output).await?;
        self.ffmpeg_command(args, info.duration).run(ctl).await?;
        non_empty(output).await?;
        Ok(true)
    }

    /// Stitches the segments and the audio into the output. Returns every file of the
    /// output (the main file, then HLS/DASH pieces).
    pub async fn stitch(
        &self,
        task: &StitchTask,
        ctl: &RunControl,
    ) -> Result<Vec<PathBuf>, MediaError> {
        let audio = task.audio.as_deref();
        let args = stitch_args(
            &task.list,
            audio,
            &task.output,
            &task.spec,
            task.video_offset,
        )?;
        let script = concat_script(&task.pieces)?;
        create_parent(&task.list).await?;
        tokio::fs::write(&task.list, script)
            .await
            .map_err(MediaError::io(
                "could not write the concat list",
                &task.list,
            ))?;
        create_parent(&task.output).await?;
        remove_stale_segments(&task.output, &task.spec).await?;
        let total: f64 = task.pieces.iter().map(|s| s.duration).sum();
        self.ffmpeg_command(args, Some(total)).run(ctl).await?;
        collect_outputs(&task.output, &task.spec).await
    }
}

async fn create_parent(path: &Path) -> Result<(), MediaError> {
    let dir = paths::parent(path)?;
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(MediaError::io("could not create output directory", &dir))
}

async fn non_empty(path: &Path) -> Result<(), MediaError> {
    match tokio::fs::metadata(path).await {
        Ok(meta) if meta.len() > 0 => Ok(()),
        _ => Err(MediaError::NoOutput {
            path: path.to_path_buf(),
        }),
    }
}
