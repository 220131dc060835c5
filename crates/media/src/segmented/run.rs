//! The whole segmented transcode on one machine: plan, segment encodes and the audio
//! pass in parallel, stitch. The engine will run the same steps as sub-tasks.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{
    PlannedSegment, SegmentParams, SegmentPlan, SegmentTask, StitchPiece, StitchTask, audio_path,
    encode::segment_video, segment_path,
};
use crate::error::MediaError;
use crate::limits::MediaTools;
use crate::probe::MediaInfo;
use crate::process::RunControl;
use crate::transcode::TranscodeSpec;

/// How [`MediaTools::transcode_segmented`] splits and runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SegmentedOptions {
    /// Where to cut.
    pub params: SegmentParams,
    /// Encodes (segments and the audio pass) running at once; at least 1.
    pub parallel: usize,
    /// Encoder threads per process (`-threads`); `None` lets ffmpeg choose.
    pub threads: Option<u32>,
}

impl Default for SegmentedOptions {
    fn default() -> Self {
        Self {
            params: SegmentParams::default(),
            parallel: 2,
            threads: None,
        }
    }
}

/// What a local segmented transcode reads and writes.
#[derive(Debug, Clone, Copy)]
pub struct SegmentedJob<'a> {
    /// The input file.
    pub input: &'a Path,
    /// Its probe.
    pub info: &'a MediaInfo,
    /// The template.
    pub spec: &'a TranscodeSpec,
    /// The output (main file).
    pub output: &'a Path,
    /// Scratch directory for segments, the audio pass and the concat list (left for
    /// the caller to remove).
    pub work: &'a Path,
}

/// What a local segmented run did.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentedRun {
    /// The plan it followed.
    pub plan: SegmentPlan,
    /// Every file of the output (the main file, then HLS/DASH pieces).
    pub files: Vec<PathBuf>,
}

/// What one parallel job produced: a segment, or the audio pass (audio written?).
enum Done {
    Segment,
    Audio(bool),
}

impl SegmentedJob<'_> {
    /// The encode task of `segment`.
    pub fn segment_task(
        &self,
        segment: &PlannedSegment,
        threads: Option<u32>,
    ) -> Result<SegmentTask, MediaError> {
        Ok(SegmentTask {
            input: self.input.to_path_buf(),
            info: self.info.clone(),
            spec: self.spec.clone(),
            segment: segment.clone(),
            output: segment_path(self.work, segment.index, self.spec)?,
            threads,
        })
    }

    /// The stitch task of `plan`, with or without the audio pass.
    pub fn stitch_task(&self, plan: &SegmentPlan, audio: bool) -> Result<StitchTask, MediaError> {
        let pieces = plan
            .segments
            .iter()
            .map(|s| {
                Ok(StitchPiece {
                    path: segment_path(self.work, s.index, self.spec)?,
                    duration: s.duration,
                })
            })
            .collect::<Result<_, MediaError>>()?;
        Ok(StitchTask {
            pieces,
            audio: audio
                .then(|| audio_path(self.work, self.spec))
                .transpose()?,
            spec: self.spec.clone(),
            video_offset: plan.video_offset,
            list: self.work.join("segments.ffconcat"),
            output: self.output.to_path_buf(),
        })
    }
}

impl MediaTools {
    /// The whole segmented transcode here: plan, segment encodes and the audio pass (up
    /// to `opts.parallel` at once; the first failure cancels the rest), then the stitch.
    pub async fn transcode_segmented(
        &self,
        job: &SegmentedJob<'_>,
        opts: &SegmentedOptions,
        ctl: &RunControl,
    ) -> Result<SegmentedRun, MediaError> {
        segment_video(job.spec)?;
        let plan = self
            .plan_segmented(job.input, job.info, &opts.params, ctl)
            .await?;
        let audio = self.run_encodes(job, &plan, opts, ctl).await?;
        let files = self.stitch(&job.stitch_task(&plan, audio)?, ctl).await?;
        Ok(SegmentedRun { plan, files })
    }

    /// Runs every segment encode and the audio pass; returns whether audio was written.
    async fn run_encodes(
        &self,
        job: &SegmentedJob<'_>,
        plan: &SegmentPlan,
        opts: &SegmentedOptions,
        ctl: &RunControl,
    ) -> Result<bool, MediaError> {
        let slots = Arc::new(Semaphore::new(opts.parallel.max(1)));
        let cancel = ctl.cancel.child_token();
        let child = RunControl::with_cancel(cancel.clone());
        let mut jobs: JoinSet<Result<Done, MediaError>> = JoinSet::new();
        let audio = audio_path(job.work, job.spec)?;
        let (input, spec, info) = (job.input.to_path_buf(), job.spec.clone(), job.info.clone());
        let (tools, permits, ctl_a) = (self.clone(), slots.clone(), child.clone());
        jobs.spawn(async move {
            let _slot = permits.acquire_owned().await;
            let wrote = tools.encode_audio(&input, &audio, &spec, &info, &ctl_a);
            wrote.await.map(Done::Audio)
        });
        for segment in &plan.segments {
            let task = job.segment_task(segment, opts.threads)?;
            let (tools, permits, ctl_s) = (self.clone(), slots.clone(), child.clone());
            jobs.spawn(async move {
                let _slot = permits.acquire_owned().await;
                tools
                    .encode_segment(&task, &ctl_s)
                    .await
                    .map(|()| Done::Segment)
            });
        }
        collect(jobs, &cancel, ctl, job.work).await
    }
}

/// Waits for every job; the first error cancels the others and is returned (the
/// cancellations it causes are not). Reports finished jobs as progress (up to 95 %;
/// the stitch is the rest).
async fn collect(
    mut jobs: JoinSet<Result<Done, MediaError>>,
    cancel: &CancellationToken,
    ctl: &RunControl,
    work: &Path,
) -> Result<bool, MediaError> {
    let total = jobs.len().max(1);
    let (mut first_error, mut audio, mut done) = (None, false, 0);
    while let Some(joined) = jobs.join_next().await {
        let result = joined.unwrap_or_else(|e| {
            Err(MediaError::io("a segment job failed", work)(
                std::io::Error::other(e),
            ))
        });
        match result {
            Ok(finished) => {
                audio |= matches!(finished, Done::Audio(true));
                done += 1;
                if let Some(progress) = &ctl.progress {
                    progress((done * 95 / total) as u8);
                }
            }
            Err(err) if first_error.is_none() => {
                cancel.cancel();
                first_error = Some(err);
            }
            Err(_) => {}
        }
    }
    first_error.map_or(Ok(audio), Err)
}
