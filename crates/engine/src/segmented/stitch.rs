//! Phase 3: the resubmitted parent checks its parts, fetches the pieces from the blob store
//! and stitches them into its output. The pieces stay until the parent's end is recorded
//! (a parent run again after a lost lease needs them): the collector then removes them.

use reelflow_media::segmented::{audio_path, segment_path};
use reelflow_media::{MediaTools, RunControl, StitchPiece, StitchTask, TranscodeSpec};
use reelflow_model::execution::{Task, TaskState};

use super::{Part, PartOutput, PartSpec, spec_of};
use crate::Engine;
use crate::execute::{Failure, Job, ScratchDir, TaskResult, main_file};
use crate::nodes::{Produced, Slot};

/// A finished part: its spec and the piece it stored.
struct Piece {
    spec: PartSpec,
    blob_id: Option<String>,
}

impl Engine {
    /// Finishes parent `task` from its `parts`.
    pub(super) async fn stitch_parts(
        &self,
        task: &Task,
        parts: &[Task],
        ctl: &RunControl,
    ) -> Result<TaskResult, Failure> {
        let pieces = finished_pieces(task, parts)?;
        if let Some(progress) = &ctl.progress {
            progress(95);
        }
        let scratch = ScratchDir::create(self.inner.config.work_dir.join(&task.job_id))?;
        let result = self.stitch_pieces(task, &pieces, &scratch, ctl).await;
        result.map_err(|f| scratch.redact(&task.input_key, f))
    }

    async fn stitch_pieces(
        &self,
        task: &Task,
        pieces: &[Piece],
        scratch: &ScratchDir,
        ctl: &RunControl,
    ) -> Result<TaskResult, Failure> {
        let job = self.resolve(task).await?;
        let spec = spec_of(&job)?;
        let stitch = self.fetch_pieces(&job, &spec, pieces, scratch).await?;
        let files = MediaTools::default().stitch(&stitch, ctl).await?;
        let ext = reelflow_media::output_extension(&spec).to_owned();
        let produced = files
            .into_iter()
            .map(|path| Produced {
                slot: if path == stitch.output {
                    Slot::Main { number: None }
                } else {
                    Slot::Companion
                },
                path,
                ext: ext.clone(),
            })
            .collect();
        let outputs = self.store_outputs(&job, produced).await?;
        Ok(TaskResult {
            outputs,
            result: String::new(),
        })
    }

    /// Downloads every piece into `scratch` and builds the stitch of them.
    async fn fetch_pieces(
        &self,
        job: &Job,
        spec: &TranscodeSpec,
        pieces: &[Piece],
        scratch: &ScratchDir,
    ) -> Result<StitchTask, Failure> {
        let work = scratch.root.join("pieces");
        let mut stitch = StitchTask {
            pieces: Vec::new(),
            audio: None,
            spec: spec.clone(),
            video_offset: pieces.first().map_or(0.0, |p| p.spec.video_offset),
            list: work.join("segments.ffconcat"),
            output: main_file(job, scratch, reelflow_media::output_extension(spec)),
        };
        std::fs::create_dir_all(&work).map_err(|e| {
            Failure::new(
                "InternalError",
                format!("cannot create a work directory: {e}"),
            )
        })?;
        for piece in pieces {
            let Some(blob_id) = &piece.blob_id else {
                continue;
            };
            match &piece.spec.part {
                Part::Segment(segment) => {
                    let path = segment_path(&work, segment.index, spec)?;
                    self.blobs().download_to(blob_id, &path).await?;
                    stitch.pieces.push(StitchPiece {
                        path,
                        duration: segment.duration,
                    });
                }
                Part::Audio => {
                    let path = audio_path(&work, spec)?;
                    self.blobs().download_to(blob_id, &path).await?;
                    stitch.audio = Some(path);
                }
            }
        }
        Ok(stitch)
    }
}

/// The parts' pieces in plan order (segments by index, the audio pass last), or why not,
/// naming the node and the piece: a failed part first (a failure resubmits the parent while
/// other parts still run), else a cancelled one, else one that has not finished.
fn finished_pieces(task: &Task, parts: &[Task]) -> Result<Vec<Piece>, Failure> {
    let rank = |state: TaskState| match state {
        TaskState::Failed => 0,
        TaskState::Cancel => 1,
        _ => 2,
    };
    let failed = parts
        .iter()
        .filter(|p| p.state != TaskState::Success)
        .min_by_key(|p| rank(p.state));
    if let Some(part) = failed {
        return Err(part_failure(task, part, &PartSpec::parse(part)?));
    }
    let mut pieces = Vec::with_capacity(parts.len());
    for part in parts {
        let spec = PartSpec::parse(part)?;
        let out: PartOutput = serde_json::from_str(&part.result).unwrap_or_default();
        pieces.push(Piece {
            spec,
            blob_id: out.blob_id,
        });
    }
    pieces.sort_by_key(|p| match &p.spec.part {
        Part::Segment(s) => s.index,
        Part::Audio => usize::MAX,
    });
    Ok(pieces)
}

fn part_failure(task: &Task, part: &Task, spec: &PartSpec) -> Failure {
    let what = format!("{} of node {}", spec.label(), task.node_name);
    match part.state {
        TaskState::Failed => Failure::new(
            &part.code,
            format!("segmented transcode failed: {what}: {}", part.message),
        ),
        TaskState::Cancel => Failure::new("Cancelled", format!("{what} was cancelled")),
        _ => Failure::new(
            "InternalError",
            format!("{what} has not finished ({})", part.state.as_str()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use reelflow_model::execution::SubTask;

    use super::*;

    fn task(state: TaskState, sub: Option<SubTask>) -> Task {
        Task {
            sub,
            ..super::super::fixtures::task("j1", state)
        }
    }

    fn part(index: usize, state: TaskState) -> Task {
        let segment = reelflow_media::PlannedSegment {
            index,
            first_frame: index * 100,
            frames: 100,
            offset: index as f64 * 4.0,
            duration: 4.0,
            seek: None,
        };
        let spec = PartSpec {
            node: "Transcode_1".into(),
            part: Part::Segment(segment),
            info: reelflow_media::MediaInfo::default(),
            segments: 4,
            video_offset: 0.0,
            input_blob: None,
        };
        let mut t = task(
            state,
            Some(SubTask {
                parent_job_id: "j1".into(),
                spec: serde_json::to_string(&spec).unwrap(),
            }),
        );
        t.result = format!("{{\"blob_id\":\"b{index}\"}}");
        t
    }

    #[test]
    fn pieces_come_in_plan_order() {
        let parent = task(TaskState::Running, None);
        let parts = [part(2, TaskState::Success), part(0, TaskState::Success)];
        let pieces = finished_pieces(&parent, &parts).unwrap();
        let ids: Vec<_> = pieces.iter().map(|p| p.blob_id.clone().unwrap()).collect();
        assert_eq!(ids, ["b0", "b2"]);
    }

    #[test]
    fn a_failed_part_fails_the_parent_naming_node_and_piece() {
        let parent = task(TaskState::Running, None);
        let mut failed = part(1, TaskState::Failed);
        failed.code = "InvalidInput".into();
        failed.message = "input object in.mp4: ffmpeg could not decode".into();
        // Named even when parts before it are still running or were cancelled.
        let parts = [
            part(0, TaskState::Running),
            part(2, TaskState::Cancel),
            failed,
            part(3, TaskState::Success),
        ];
        let err = finished_pieces(&parent, &parts).err();
        let err = err.expect("a failed part fails the parent");
        assert_eq!(err.code, "InvalidInput");
        assert_eq!(
            err.message,
            "segmented transcode failed: segment 2 of 4 of node Transcode_1: \
             input object in.mp4: ffmpeg could not decode"
        );
        assert!(!err.transient);
    }
}
