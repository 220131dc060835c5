//! Phase 2: a worker runs one sub-task (a segment encode or the audio pass) and stores the
//! piece in the shared blob store for its parent.

use std::time::Duration;

use reelflow_media::segmented::{SegmentTask, audio_path, segment_path};
use reelflow_media::{MediaTools, RunControl};
use reelflow_model::execution::{Task, TaskState};
use reelflow_model::workflow::NodeType;
use tokio_util::sync::CancellationToken;

use super::{Part, PartOutput, PartSpec, spec_of};
use crate::Engine;
use crate::execute::{Failure, ScratchDir, TaskResult};

/// How often a running part refreshes its parent's aggregated progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);

impl Engine {
    /// Runs sub-task `task`; its result names the stored piece ([`PartOutput`]).
    pub(super) async fn run_part(
        &self,
        task: &Task,
        ctl: &RunControl,
    ) -> Result<TaskResult, Failure> {
        let spec = PartSpec::parse(task)?;
        let parent_id = task.sub.as_ref().map(|s| s.parent_job_id.clone());
        let scratch = ScratchDir::create(self.inner.config.work_dir.join(&task.job_id))?;
        // The part stops at once when it is cancelled with its parent (the store changed its
        // state; its worker would only notice at the next lease renewal).
        let own = RunControl {
            cancel: ctl.cancel.child_token(),
            progress: ctl.progress.clone(),
        };
        let watch = self.spawn_part_watch(task.job_id.clone(), parent_id, own.cancel.clone());
        let result = match self.encode_part(task, &spec, &scratch, &own).await {
            Err(failure) => Err(self.input_changed(task, &spec, failure).await),
            done => done,
        };
        watch.abort();
        let blob_id = result.map_err(|f| scratch.redact(&task.input_key, f))?;
        Ok(TaskResult {
            outputs: Vec::new(),
            result: serde_json::to_string(&PartOutput { blob_id }).unwrap_or_default(),
        })
    }

    async fn encode_part(
        &self,
        task: &Task,
        spec: &PartSpec,
        scratch: &ScratchDir,
        ctl: &RunControl,
    ) -> Result<Option<String>, Failure> {
        // The parent's node gives the template and the input, as for the parent itself.
        let parent_view = Task {
            node_name: spec.node.clone(),
            node_type: NodeType::Transcode,
            ..task.clone()
        };
        let job = self.resolve(&parent_view).await?;
        let transcode = spec_of(&job)?;
        // A segment reads only its stretch of the input (and the container's index): from
        // S3 through ranged reads, never a download of the whole object per part.
        let (input, _share) = if job.node.operation.input_url.is_some() {
            let input = self.job_input(&job, scratch, ctl).await?;
            (
                input.ok_or_else(|| Failure::new("InvalidInput", "the task has no input"))?,
                None,
            )
        } else {
            let (bucket, key) = (&job.task.input_bucket, &job.task.input_key);
            self.ranged_object(bucket, key, spec.input_blob.as_deref(), scratch)
                .await?
        };
        let tools = MediaTools::default();
        let work = scratch.root.join("part");
        let file = match &spec.part {
            Part::Segment(segment) => {
                let output = segment_path(&work, segment.index, &transcode)?;
                let encode = SegmentTask {
                    input,
                    info: spec.info.clone(),
                    spec: transcode,
                    segment: segment.clone(),
                    output: output.clone(),
                    threads: None,
                };
                tools.encode_segment(&encode, ctl).await?;
                Some(output)
            }
            Part::Audio => {
                let output = audio_path(&work, &transcode)?;
                let wrote = tools
                    .encode_audio(&input, &output, &transcode, &spec.info, ctl)
                    .await?;
                wrote.then_some(output)
            }
        };
        let Some(file) = file else {
            return Ok(None);
        };
        let written = self.blobs().put_file(&file).await?;
        Ok(Some(written.id))
    }

    /// `failure` of part `task`, or, when its input object no longer names the blob the
    /// parent planned from (overwritten or deleted while the part ran: the reader then sees
    /// a missing blob, a 5XX from the loopback server or a missing file), that instead.
    async fn input_changed(&self, task: &Task, spec: &PartSpec, failure: Failure) -> Failure {
        let Some(planned) = spec.input_blob.as_deref() else {
            return failure;
        };
        if failure.code == "Cancelled" {
            return failure;
        }
        let key = &task.input_key;
        match self.store().get_object(&task.input_bucket, key).await {
            Ok(Some(object)) if object.blob_id != planned => input_replaced(key, "replaced"),
            Ok(None) => input_replaced(key, "deleted"),
            _ => failure,
        }
    }

    /// Every few seconds until aborted: refreshes the parent's progress from its parts',
    /// and cancels `cancel` once the part is no longer running (cancelled with its parent).
    fn spawn_part_watch(
        &self,
        part: String,
        parent: Option<String>,
        cancel: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(PROGRESS_EVERY).await;
                if let Some(parent) = &parent
                    && let Err(error) = engine.store().refresh_parent_progress(parent).await
                {
                    tracing::debug!(?error, "could not refresh the parent's progress");
                }
                let state = engine.store().get_task(&part).await.ok().flatten();
                if state.is_some_and(|(t, _)| t.state != TaskState::Running) {
                    tracing::info!("segment cancelled with its task; stopping it");
                    cancel.cancel();
                    return;
                }
            }
        })
    }
}

/// Why a part of input object `key` cannot run: the object was `how` (replaced, deleted)
/// after its parent planned the segments from it.
pub(crate) fn input_replaced(key: &str, how: &str) -> Failure {
    Failure::new(
        "InvalidInput",
        format!("input object {key} was {how} while its segments were encoded"),
    )
}
