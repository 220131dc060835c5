//! Segmented transcoding in the engine (issue 13): one long Transcode task encoded by many
//! workers at once, on the media core of [`reelflow_media::segmented`].
//!
//! A Transcode task that qualifies ([`SegmentedConfig`], [`Engine::segment_plan`]) runs in
//! three phases, all through the ordinary claim path:
//! 1. **Split** ([`split`]): the claimed parent probes its input, plans key-frame-aligned
//!    segments and, in one store transaction, inserts one sub-task per segment plus one for
//!    the audio pass (node type `TranscodePart`, never shown) and parks itself: it gives its
//!    worker slot back, so waiting parents can never hold every slot.
//! 2. **Parts** ([`part`]): any worker claims a sub-task, encodes its piece and stores the
//!    file in the shared blob store; its blob id is the sub-task's result. A lost worker
//!    costs only its piece (its lease expires and another worker takes it).
//! 3. **Stitch** ([`stitch`]): when the last part ends, the task-finish transaction
//!    resubmits the parent ([`decide`], called by [`crate::dag::decide`]); the parent fetches
//!    the pieces, stitches them by stream copy and finishes as the Transcode's output, or fails
//!    naming the piece that failed. Cancelling the parent cancels its parts.
//!
//! Once the parent ended, however it ended, its pieces are removed by the collector
//! ([`collect`]).

mod collect;
mod decide;
#[cfg(test)]
mod fixtures;
mod kept;
mod part;
mod split;
mod stitch;

use reelflow_media::{MediaInfo, PlannedSegment, TranscodeSpec};
use reelflow_model::execution::Task;
use reelflow_model::template::TranscodeParams;
use serde::{Deserialize, Serialize};

pub(crate) use collect::{collect_loop, piece_of};
pub(crate) use decide::decide_parts;
pub(crate) use part::input_replaced;
pub(crate) use split::SPLIT;

use crate::Engine;
use crate::execute::{Failure, Job, TaskResult};

/// When a Transcode task is split into segments.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentedConfig {
    /// Inputs longer than this many seconds are split; 0 turns segmentation off.
    pub min_input_secs: f64,
    /// Split even when the cluster has a single task slot (tests, benchmarks).
    pub force: bool,
    /// Segments wanted; `None`: three per task slot of the live nodes, at most
    /// [`SegmentedConfig::max_segments`].
    pub segments: Option<usize>,
    /// Most segments per task.
    pub max_segments: usize,
    /// No segment shorter than this many seconds.
    pub min_segment_secs: f64,
}

impl Default for SegmentedConfig {
    fn default() -> Self {
        Self {
            min_input_secs: 300.0,
            force: false,
            segments: None,
            max_segments: 16,
            min_segment_secs: 20.0,
        }
    }
}

impl SegmentedConfig {
    /// Whether segmentation can happen at all.
    pub fn enabled(&self) -> bool {
        self.min_input_secs > 0.0
    }
}

/// What a sub-task does, stored in its row (`sub_spec`, JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PartSpec {
    /// The parent's node (its template and output).
    pub node: String,
    /// Which piece.
    pub part: Part,
    /// The parent's probe of the input.
    pub info: MediaInfo,
    /// Pieces in the plan (for messages).
    pub segments: usize,
    /// [`reelflow_media::SegmentPlan::video_offset`].
    pub video_offset: f64,
    /// The input object's blob the parent planned from (its content checked as media);
    /// a part whose input object now names another blob fails instead of encoding a
    /// different file with this plan. `None` for inputs fetched by URL.
    #[serde(default)]
    pub input_blob: Option<String>,
}

/// One piece of a segmented transcode.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Part {
    /// A video segment.
    Segment(PlannedSegment),
    /// The audio of the whole input.
    Audio,
}

/// What a finished sub-task left for its parent (its `result`, JSON).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct PartOutput {
    /// The encoded piece in the blob store; `None` when the audio pass wrote nothing.
    pub blob_id: Option<String>,
}

impl PartSpec {
    pub(crate) fn parse(task: &Task) -> Result<Self, Failure> {
        let text = task.sub.as_ref().map_or("", |s| s.spec.as_str());
        serde_json::from_str(text)
            .map_err(|e| Failure::new("InternalError", format!("bad sub-task spec: {e}")))
    }

    /// "segment 3 of 5" / "the audio pass", as messages name the piece.
    pub(crate) fn label(&self) -> String {
        match &self.part {
            Part::Segment(s) => format!("segment {} of {}", s.index + 1, self.segments),
            Part::Audio => "the audio pass".to_owned(),
        }
    }
}

/// The encode settings of a Transcode job, when segmented transcoding supports them: no
/// watermarks, no delogo, none of the extras, a video output the media core can split.
pub(crate) fn supported_spec(job: &Job) -> Option<TranscodeSpec> {
    if !job.watermarks.is_empty() || job.node.operation.remove_watermark.is_some() {
        return None;
    }
    // An HLS/DASH input is many objects; parts read one blob by ranged requests.
    if crate::execute::Package::of(&job.task.input_key).is_some() {
        return None;
    }
    let params = TranscodeParams::from_container(&job.template.as_ref()?.params).ok()?;
    let extras = crate::specs::transcode_extras(&params);
    if extras != reelflow_media::TranscodeExtras::default() {
        return None;
    }
    let spec = crate::specs::transcode_spec(&params);
    reelflow_media::segmented::segment_format(&spec).ok()?;
    Some(spec)
}

/// The spec of `job` for a task that was split: it qualified then, so it must now.
pub(crate) fn spec_of(job: &Job) -> Result<TranscodeSpec, Failure> {
    supported_spec(job).ok_or_else(|| {
        Failure::new(
            "InvalidArgument",
            "the template no longer suits segmented transcoding",
        )
    })
}

impl Engine {
    /// Runs `task` the segmented way when it is a part, a parent with parts, or a Transcode
    /// that qualifies; `None` when it should run as usual.
    pub(crate) async fn execute_segmented(
        &self,
        task: &Task,
        ctl: &reelflow_media::RunControl,
    ) -> Option<Result<TaskResult, Failure>> {
        use reelflow_model::workflow::NodeType;
        match task.node_type {
            NodeType::TranscodePart => Some(self.run_part(task, ctl).await),
            NodeType::Transcode if self.inner.config.segmented.enabled() => {
                let parts = match self.store().sub_tasks(&task.job_id).await {
                    Ok(parts) => parts,
                    Err(e) => return Some(Err(e.into())),
                };
                if parts.is_empty() {
                    None
                } else {
                    Some(self.stitch_parts(task, &parts, ctl).await)
                }
            }
            _ => None,
        }
    }

    /// Refuses to fuse a group holding a parent that was split (its stitch runs alone):
    /// the worker then runs each task of the group on its own.
    pub(crate) async fn refuse_split_parents(&self, tasks: &[Task]) -> Result<(), Failure> {
        if !self.inner.config.segmented.enabled() {
            return Ok(());
        }
        for task in tasks {
            if !self.store().sub_tasks(&task.job_id).await?.is_empty() {
                return Err(Failure::new(
                    "SegmentedTask",
                    "a segmented task is stitched on its own",
                ));
            }
        }
        Ok(())
    }
}
