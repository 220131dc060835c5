//! Transcode and VideoStream nodes: one ffmpeg run by the template's parameters.

use std::path::Path;

use reelflow_media::RunControl;
use reelflow_model::template::TranscodeParams;

use super::{NodeRun, Produced, Slot};
use crate::Engine;
use crate::execute::{Failure, Job, ScratchDir};

pub(super) async fn run(
    _engine: &Engine,
    job: &Job,
    input: &Path,
    scratch: &ScratchDir,
    ctl: &RunControl,
) -> Result<NodeRun, Failure> {
    let template = job
        .template
        .as_ref()
        .ok_or_else(|| Failure::new("InvalidArgument", "a Transcode node needs a TemplateId"))?;
    let params = TranscodeParams::from_container(&template.params)
        .map_err(|e| Failure::new("InvalidArgument", e.to_string()))?;
    let info = reelflow_media::probe(input, ctl).await?;
    let spec = crate::specs::transcode_spec(&params);
    let ext = reelflow_media::output_extension(&spec);
    let main = scratch.out().join(format!("output.{ext}"));
    let files = reelflow_media::transcode(input, &main, &spec, &info, ctl).await?;
    Ok(NodeRun::files(
        files
            .into_iter()
            .map(|path| Produced {
                slot: if path == main {
                    Slot::Main { number: None }
                } else {
                    Slot::Companion
                },
                path,
                ext: ext.to_owned(),
            })
            .collect(),
    ))
}
