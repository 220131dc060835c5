//! One module per node type: each turns a resolved [`Job`] into files (and, for MediaInfo, a
//! result document). Inputs are local paths; outputs are files in the task's scratch directory,
//! named into the bucket by [`crate::execute`].
//!
//! Transcode, VideoStream and Snapshot nodes are *sections*: each becomes one output section
//! of an ffmpeg run, so siblings reading the same input can share one decode
//! ([`run_sections`], used alone or fused).

mod media_ops;
pub(crate) mod mediainfo;
mod smartcover;
mod snapshot;
mod streampack;
mod transcode;

use std::path::{Path, PathBuf};

use reelflow_media::{JobFiles, OutputJob, RunControl};
use reelflow_model::workflow::NodeType;

use crate::Engine;
use crate::execute::{Failure, Job, ScratchDir};

/// Where a produced file goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    /// Named by `Output.Object` (`number` fills `${Number}` for nodes writing several).
    Main { number: Option<usize> },
    /// Named by `Output.SpriteObject`.
    Sprite { number: usize },
    /// Stored beside the main output under its own file name (HLS segments, DASH chunks).
    Companion,
}

/// A file a node produced.
#[derive(Debug, Clone)]
pub(crate) struct Produced {
    pub path: PathBuf,
    pub slot: Slot,
    /// Extension for `${Ext}`.
    pub ext: String,
}

/// What a node run returns.
#[derive(Debug, Default)]
pub(crate) struct NodeRun {
    pub produced: Vec<Produced>,
    pub result: String,
}

impl NodeRun {
    fn files(produced: Vec<Produced>) -> Self {
        Self {
            produced,
            result: String::new(),
        }
    }
}

/// Runs the job's node on its `input` as [`crate::Engine::job_input`] gave it.
pub(crate) async fn run_on(
    engine: &Engine,
    job: &Job,
    input: Option<PathBuf>,
    scratch: &ScratchDir,
    ctl: &RunControl,
) -> Result<NodeRun, Failure> {
    let Some(input) = input else {
        // Only a Concat job has no input of its own: its fragments are all it joins.
        return media_ops::concat(engine, job, None, scratch, ctl).await;
    };
    match job.node.node_type {
        NodeType::Transcode | NodeType::VideoStream | NodeType::Snapshot => {
            let mut runs = run_sections(engine, &[(job, scratch)], &input, ctl).await?;
            Ok(runs.remove(0))
        }
        NodeType::SmartCover => smartcover::run(job, &input, scratch, ctl).await,
        NodeType::MediaInfo => mediainfo::run(&input, ctl).await,
        NodeType::Animation => media_ops::animation(job, &input, scratch, ctl).await,
        NodeType::Concat => media_ops::concat(engine, job, Some(&input), scratch, ctl).await,
        NodeType::Segment => media_ops::segment(job, &input, scratch, ctl).await,
        NodeType::PicProcess => media_ops::pic_process(job, &input, scratch, ctl).await,
        NodeType::StreamPack => streampack::run(engine, job, scratch, ctl).await,
        NodeType::StreamPackConfig | NodeType::Start => Ok(NodeRun::default()),
        // Run by `crate::segmented` before any node is resolved.
        NodeType::TranscodePart => Err(Failure::new(
            "InternalError",
            "a segment sub-task reached the node runner",
        )),
    }
}

/// Runs section jobs over one decode of `input`; one [`NodeRun`] per job, in order.
pub(crate) async fn run_sections(
    engine: &Engine,
    jobs: &[(&Job, &ScratchDir)],
    input: &Path,
    ctl: &RunControl,
) -> Result<Vec<NodeRun>, Failure> {
    let info = reelflow_media::probe(input, ctl).await?;
    let mut sections = Vec::with_capacity(jobs.len());
    let mut exts = Vec::with_capacity(jobs.len());
    for (job, scratch) in jobs {
        let (section, ext) = match job.node.node_type {
            NodeType::Snapshot => snapshot::output_job(job, &scratch.out())?,
            _ => {
                let section = transcode::output_job(engine, job, scratch).await?;
                let ext = match &section {
                    OutputJob::Transcode { spec, .. } => {
                        reelflow_media::output_extension(spec).to_owned()
                    }
                    OutputJob::Snapshot { .. } => String::new(),
                };
                (section, ext)
            }
        };
        sections.push(section);
        exts.push(ext);
    }
    let files = reelflow_media::run_fused(input, &sections, &info, ctl).await?;
    let mut runs: Vec<NodeRun> = files
        .into_iter()
        .zip(sections.iter().zip(exts))
        .map(|(files, (section, ext))| node_run(files, section, &ext))
        .collect();
    for ((job, scratch), run) in jobs.iter().zip(runs.iter_mut()) {
        if job.node.node_type == NodeType::Snapshot
            && let Some(ops) = snapshot::ci_param_ops(job)?
        {
            snapshot::apply_ci_param(run, &ops, &scratch.out(), ctl).await?;
        }
    }
    Ok(runs)
}

fn node_run(files: JobFiles, section: &OutputJob, ext: &str) -> NodeRun {
    let produced = match section {
        OutputJob::Transcode { path, .. } => files
            .files
            .into_iter()
            .map(|p| Produced {
                slot: if &p == path {
                    Slot::Main { number: None }
                } else {
                    Slot::Companion
                },
                path: p,
                ext: ext.to_owned(),
            })
            .collect(),
        OutputJob::Snapshot { .. } => {
            let images = files
                .files
                .into_iter()
                .enumerate()
                .map(|(i, path)| Produced {
                    path,
                    slot: Slot::Main { number: Some(i) },
                    ext: ext.to_owned(),
                });
            let sprites = files
                .sprites
                .into_iter()
                .enumerate()
                .map(|(i, path)| Produced {
                    path,
                    slot: Slot::Sprite { number: i },
                    ext: ext.to_owned(),
                });
            images.chain(sprites).collect()
        }
    };
    NodeRun::files(produced)
}
