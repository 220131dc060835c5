//! SmartCover nodes: the Count best frames (sharp, well exposed, varied), by template or inline
//! parameters (three jpg covers at source size with neither).

use std::path::Path;

use reelflow_media::{RunControl, SmartCoverSpec};
use reelflow_model::template::SmartCoverParams;

use super::{NodeRun, Produced, Slot};
use crate::execute::{Failure, Job, ScratchDir};

pub(super) async fn run(
    job: &Job,
    input: &Path,
    scratch: &ScratchDir,
    ctl: &RunControl,
) -> Result<NodeRun, Failure> {
    let params = match (&job.template, &job.node.operation.smart_cover) {
        (Some(t), _) => SmartCoverParams::from_container(&t.params)
            .map_err(|e| Failure::new("InvalidArgument", e.to_string()))?,
        (None, Some(inline)) => inline.clone(),
        (None, None) => SmartCoverParams::default(),
    };
    let spec = SmartCoverSpec {
        count: params.count,
        width: params.width,
        height: params.height,
        format: params.format.clone(),
        delete_duplicates: params.delete_duplicates,
    };
    let info = reelflow_media::probe(input, ctl).await?;
    let files = reelflow_media::smart_cover(input, &scratch.out(), &spec, &info, ctl).await?;
    Ok(NodeRun::files(
        files
            .into_iter()
            .enumerate()
            .map(|(i, path)| Produced {
                path,
                slot: Slot::Main { number: Some(i) },
                ext: params.format.clone(),
            })
            .collect(),
    ))
}
