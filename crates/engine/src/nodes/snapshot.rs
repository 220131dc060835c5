//! Snapshot nodes: frames captured by the template's mode, numbered by `${Number}`.

use std::path::Path;

use reelflow_media::RunControl;
use reelflow_model::template::SnapshotParams;

use super::{NodeRun, Produced, Slot};
use crate::execute::{Failure, Job, ScratchDir};

pub(super) async fn run(
    job: &Job,
    input: &Path,
    scratch: &ScratchDir,
    ctl: &RunControl,
) -> Result<NodeRun, Failure> {
    let template = job
        .template
        .as_ref()
        .ok_or_else(|| Failure::new("InvalidArgument", "a Snapshot node needs a TemplateId"))?;
    let params = SnapshotParams::from_container(&template.params)
        .map_err(|e| Failure::new("InvalidArgument", e.to_string()))?;
    let info = reelflow_media::probe(input, ctl).await?;
    let spec = crate::specs::snapshot_spec(&params);
    let files = reelflow_media::snapshot(input, &scratch.out(), &spec, &info, ctl).await?;
    if files.is_empty() {
        return Err(Failure::new("SnapshotFailed", "no frame could be captured"));
    }
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
