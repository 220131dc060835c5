//! Phase 1: the claimed parent plans its segments and splits into sub-tasks.

use std::path::Path;

use reelflow_media::{
    MediaInfo, MediaTools, RunControl, SegmentParams, SegmentPlan, TranscodeSpec,
};
use reelflow_model::clock::now_unix;
use reelflow_model::execution::{SubTask, Task, TaskState};
use reelflow_model::node::{NodeRole, NodeState};
use reelflow_model::workflow::NodeType;

use super::{Part, PartSpec, supported_spec};
use crate::Engine;
use crate::execute::{Failure, Job, ScratchDir};

/// The code a parent "fails" with towards its worker after it split: the worker then leaves
/// it alone (the store parked it: no longer leased, no slot held). Never stored.
pub(crate) const SPLIT: &str = "SplitIntoSegments";

/// Segments planned per live task slot when the count is not configured.
pub(crate) const SEGMENTS_PER_SLOT: usize = 3;

impl Engine {
    /// Splits the task of `job` (its input fetched to `input`) when it qualifies: `None` to
    /// run it as usual, else what its worker reports: [`SPLIT`] when it split (the store
    /// parked it, so the worker's retry is refused and the slot is free), or why it could not.
    pub(crate) async fn try_split(
        &self,
        job: &Job,
        input: &Path,
        scratch: &ScratchDir,
        ctl: &RunControl,
    ) -> Option<Failure> {
        if job.task.node_type != NodeType::Transcode || job.task.sub.is_some() {
            return None;
        }
        let spec = supported_spec(job)?;
        let target = self.segment_target().await?;
        // On a lone node only an encoder the picture caps can gain: others skip the probe.
        if target.lone && reelflow_media::segmented::encoder_thread_limit(&spec, u32::MAX).is_none()
        {
            return None;
        }
        let (info, plan) = self.segment_plan(input, &target, &spec, ctl).await?;
        let input_blob = scratch.media_blob(&job.task.input_key);
        if let Some(blob) = &input_blob {
            self.keep_input(input, blob, &job.task.job_id, scratch)
                .await;
        }
        let parts = sub_tasks(job, &info, &plan, input_blob);
        let split = self
            .store()
            .split_task(&job.task.job_id, &self.inner.config.node_id, &parts)
            .await;
        Some(match split {
            Ok(true) => {
                tracing::info!(
                    segments = plan.segments.len(),
                    "split into segments; the task waits for them"
                );
                self.wake_workers();
                Failure {
                    transient: true,
                    ..Failure::new(SPLIT, "split into segments")
                }
            }
            Ok(false) => Failure::new("Cancelled", "cancelled by request"),
            Err(e) => e.into(),
        })
    }

    /// How many segments to plan, or `None` when segmentation does not apply now: off, or
    /// fewer than two task slots, unless forced. On a lone node the plan goes ahead only when
    /// the encoder cannot use the node's cores ([`Target::lone`]). The default count is
    /// [`SEGMENTS_PER_SLOT`] per live task slot.
    async fn segment_target(&self) -> Option<Target> {
        let config = &self.inner.config.segmented;
        if !config.enabled() {
            return None;
        }
        let (nodes, slots) = self.cluster_capacity().await;
        if !config.force && slots < 2 {
            return None;
        }
        let lone = !config.force && nodes < 2;
        // Several per slot by default: parts are claimed as slots free up, so the slot that
        // drew the slower pieces (content, a busier core) takes fewer of them and the last
        // part ends soon after the others. A part reads only its stretch of the input
        // (ranged reads), so more parts cost little (measured, README).
        let max = config.max_segments.max(2);
        Some(match config.segments {
            Some(n) => Target {
                segments: n.clamp(2, max),
                slots: None,
                lone,
            },
            None => Target {
                segments: slots.saturating_mul(SEGMENTS_PER_SLOT).clamp(2, max),
                slots: Some(slots),
                lone,
            },
        })
    }

    /// Live nodes that run tasks, and their task slots (this node's at least).
    async fn cluster_capacity(&self) -> (usize, usize) {
        let now_ms = now_unix() * 1000;
        let nodes = self.store().list_nodes().await.unwrap_or_default();
        let live: Vec<_> = nodes
            .iter()
            .filter(|n| n.info.role != NodeRole::Api)
            .filter(|n| NodeState::at(now_ms, n.heartbeat_ms, n.stopped_ms) == NodeState::Alive)
            .collect();
        let slots: u64 = live.iter().map(|n| u64::from(n.info.workers)).sum();
        let slots = (slots as usize).max(self.inner.config.workers);
        (live.len().max(1), slots)
    }

    /// Probes `input` and plans it, when it is long enough and splits in two or more.
    async fn segment_plan(
        &self,
        input: &Path,
        target: &Target,
        spec: &TranscodeSpec,
        ctl: &RunControl,
    ) -> Option<(MediaInfo, SegmentPlan)> {
        let config = &self.inner.config.segmented;
        let info = reelflow_media::probe(input, ctl).await.ok()?;
        let duration = info.duration?;
        if target.lone && !lone_node_helps(spec, &info) {
            return None;
        }
        // A playlist (HLS/DASH, whatever its key) is many objects; parts read one blob.
        let playlist = ["hls", "dash"].contains(&info.format_name.as_str());
        if playlist || !info.has_video() || duration <= config.min_input_secs {
            return None;
        }
        let params = SegmentParams {
            target_segments: target.for_duration(duration, config.min_segment_secs.max(1.0)),
            multiple_of: target.slots.unwrap_or(1),
            min_segment_secs: config.min_segment_secs.max(1.0),
        };
        let tools = MediaTools::default();
        match tools.plan_segmented(input, &info, &params, ctl).await {
            Ok(plan) if plan.segments.len() >= 2 => Some((info, plan)),
            Ok(_) => None,
            Err(error) => {
                tracing::info!(%error, "cannot plan segments; transcoding in one piece");
                None
            }
        }
    }
}

/// How many segments to plan.
#[derive(Debug, Clone, PartialEq)]
struct Target {
    segments: usize,
    /// The cluster's task slots, when the count follows from them (not configured).
    slots: Option<usize>,
    /// Only this node runs tasks (and splitting is not forced): one ffmpeg usually keeps all
    /// its cores busy, so it splits only when [`lone_node_helps`].
    lone: bool,
}

/// Whether this node has more cores than one encode of `spec` on `info` keeps busy
/// ([`reelflow_media::segmented::encoder_thread_limit`]: VP9 at 1080p uses 4 threads).
fn lone_node_helps(spec: &TranscodeSpec, info: &MediaInfo) -> bool {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let width = info.video().and_then(|v| v.width).unwrap_or(0);
    helps_with(
        reelflow_media::segmented::encoder_thread_limit(spec, width),
        cores,
    )
}

/// Splitting helps a lone node with `cores` when the encoder's thread `limit` is below them.
fn helps_with(limit: Option<usize>, cores: usize) -> bool {
    limit.is_some_and(|limit| cores > limit)
}

impl Target {
    /// The count for an input of `duration` seconds with segments of at least `min_secs`:
    /// when it follows from the slots and the length allows fewer than wanted, a multiple of
    /// the slots (5 equal segments on 2 slots leave one slot idle for the whole last one;
    /// 4 do not).
    fn for_duration(&self, duration: f64, min_secs: f64) -> usize {
        let fit = (duration / min_secs).floor().max(0.0) as usize;
        let n = self.segments.min(fit);
        match self.slots {
            Some(slots) if slots >= 2 && n > slots => n - n % slots,
            _ => n,
        }
    }
}

/// The audio pass, then one sub-task per segment, in claim order (job ids ascend): the audio
/// pass starts first so that it does not lengthen the tail.
fn sub_tasks(
    job: &Job,
    info: &MediaInfo,
    plan: &SegmentPlan,
    input_blob: Option<String>,
) -> Vec<Task> {
    let spec = |part: Part| PartSpec {
        node: job.node.name.clone(),
        part,
        info: info.clone(),
        segments: plan.segments.len(),
        video_offset: plan.video_offset,
        input_blob: input_blob.clone(),
    };
    let audio = (format!("{}#audio", job.node.name), spec(Part::Audio));
    std::iter::once(audio)
        .chain(plan.segments.iter().map(|s| {
            let name = format!("{}#seg-{:05}", job.node.name, s.index);
            (name, spec(Part::Segment(s.clone())))
        }))
        .map(|(name, spec)| sub_task(&job.task, name, &spec))
        .collect()
}

fn sub_task(parent: &Task, node_name: String, spec: &PartSpec) -> Task {
    Task {
        job_id: reelflow_model::ids::new_job_id(),
        node_name,
        node_type: NodeType::TranscodePart,
        tag: NodeType::TranscodePart.as_str().to_owned(),
        state: TaskState::Submitted,
        code: String::new(),
        message: String::new(),
        progress: 0,
        outputs: Vec::new(),
        result: String::new(),
        created: now_unix(),
        started: None,
        ended: None,
        attempts: 0,
        not_before: 0,
        sub: Some(SubTask {
            parent_job_id: parent.job_id.clone(),
            spec: serde_json::to_string(spec).unwrap_or_default(),
        }),
        ..parent.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::{Target, helps_with};

    #[test]
    fn a_count_from_the_slots_fills_every_slot_to_the_end() {
        let slots = |segments, slots| Target {
            segments,
            slots: Some(slots),
            lone: false,
        };
        assert_eq!(slots(6, 2).for_duration(600.0, 20.0), 6);
        assert_eq!(
            slots(6, 2).for_duration(59.97, 10.0),
            4,
            "5 fit: rounded down to 2 per slot"
        );
        assert_eq!(slots(9, 3).for_duration(80.0, 10.0), 6);
        assert_eq!(slots(6, 2).for_duration(25.0, 10.0), 2);
        assert_eq!(
            slots(6, 2).for_duration(15.0, 10.0),
            1,
            "too short: the plan runs unsegmented"
        );
        let fixed = Target {
            segments: 5,
            slots: None,
            lone: false,
        };
        assert_eq!(
            fixed.for_duration(59.97, 10.0),
            5,
            "a configured count is kept"
        );
    }

    #[test]
    fn a_lone_node_splits_only_past_the_encoder_thread_limit() {
        // VP9 at 1080p keeps 4 threads busy: a 16-core node gains, a 4-core one does not.
        assert!(helps_with(Some(4), 16));
        assert!(!helps_with(Some(4), 4));
        assert!(!helps_with(Some(4), 2));
        // Encoders that scale with the cores never split on their own node.
        assert!(!helps_with(None, 64));
    }
}
