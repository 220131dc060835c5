//! Snapshot nodes: frames (and sprite sheets) by the template's mode, as one output section of
//! an ffmpeg run (alone, or fused with sibling transcodes).

use std::path::Path;

use reelflow_media::OutputJob;
use reelflow_model::template::SnapshotParams;

use crate::execute::{Failure, Job};

/// The output section of a Snapshot job, writing into `out_dir`.
pub(crate) fn output_job(job: &Job, out_dir: &Path) -> Result<(OutputJob, String), Failure> {
    let template = job
        .template
        .as_ref()
        .ok_or_else(|| Failure::new("InvalidArgument", "a Snapshot node needs a TemplateId"))?;
    let params = SnapshotParams::from_container(&template.params)
        .map_err(|e| Failure::new("InvalidArgument", e.to_string()))?;
    let job = OutputJob::Snapshot {
        dir: out_dir.to_path_buf(),
        spec: crate::specs::snapshot_spec(&params),
        extras: crate::specs::snapshot_extras(&params),
    };
    Ok((job, params.format))
}
