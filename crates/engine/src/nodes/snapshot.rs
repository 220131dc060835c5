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

/// The image operations of the template's `CIParam` beyond the output format (which the
/// capture itself honours), to apply to each captured image; `None` when there are none.
pub(crate) fn ci_param_ops(job: &Job) -> Result<Option<reelflow_media::PicOps>, Failure> {
    let Some(rule) = job
        .template
        .as_ref()
        .and_then(|t| SnapshotParams::from_container(&t.params).ok())
        .and_then(|p| p.ci_param)
    else {
        return Ok(None);
    };
    let ops = reelflow_media::PicOps::parse(&rule)?;
    Ok((!ops.steps.is_empty() || ops.quality.is_some()).then_some(ops))
}

/// Applies `ops` to every captured image (sprites are left as laid out).
pub(crate) async fn apply_ci_param(
    run: &mut super::NodeRun,
    ops: &reelflow_media::PicOps,
    out_dir: &Path,
    ctl: &reelflow_media::RunControl,
) -> Result<(), Failure> {
    for produced in run
        .produced
        .iter_mut()
        .filter(|p| matches!(p.slot, super::Slot::Main { .. }))
    {
        let processed = reelflow_media::apply_pic_ops(&produced.path, out_dir, ops, ctl).await?;
        if let Some(ext) = processed.extension().and_then(|e| e.to_str()) {
            produced.ext = ext.to_owned();
        }
        produced.path = processed;
    }
    Ok(())
}
