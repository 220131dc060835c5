//! One module per node type: each turns a resolved [`Job`] into files (and, for MediaInfo, a
//! result document). Inputs are local paths; outputs are files in the task's scratch directory,
//! named into the bucket by [`crate::execute`].

mod mediainfo;
mod snapshot;
mod transcode;

use std::path::PathBuf;

use reelflow_media::RunControl;
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

/// Runs the job's node.
pub(crate) async fn run(
    engine: &Engine,
    job: &Job,
    scratch: &ScratchDir,
    ctl: &RunControl,
) -> Result<NodeRun, Failure> {
    let input = engine
        .local_object(&job.task.input_bucket, &job.task.input_key, &scratch.0)
        .await?;
    match job.node.node_type {
        NodeType::Transcode | NodeType::VideoStream => {
            transcode::run(engine, job, &input, scratch, ctl).await
        }
        NodeType::Snapshot => snapshot::run(job, &input, scratch, ctl).await,
        NodeType::MediaInfo => mediainfo::run(&input, ctl).await,
        NodeType::StreamPackConfig => Ok(NodeRun::default()),
        other => Err(Failure::new(
            "NotImplemented",
            format!("{} nodes are not implemented yet", other.as_str()),
        )),
    }
}
