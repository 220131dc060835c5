//! Small offline tools of the binary.

use std::path::Path;

use anyhow::{Context, Result};
use reelflow_model::template::{TemplateSpec, TranscodeParams};

/// Prints, as a JSON array, the exact ffmpeg arguments the engine would run for a Transcode
/// template on `input` — for debugging templates, and so benchmarks can time the very same
/// command run bare.
pub async fn ffmpeg_args(template: &Path, input: &Path, output: &Path) -> Result<()> {
    let body =
        std::fs::read(template).with_context(|| format!("reading {}", template.display()))?;
    let request = reelflow_model::XmlElement::parse(&body)?;
    let spec = TemplateSpec::from_request(&request)?;
    let params = TranscodeParams::from_container(&spec.params)?;
    let media_spec = reelflow_engine::specs::transcode_spec(&params);
    let extras = reelflow_engine::specs::transcode_extras(&params);
    let info = reelflow_media::probe(input, &reelflow_media::RunControl::default()).await?;
    let args = reelflow_media::transcode_with_args(input, output, &media_spec, &extras, &info)?;
    println!("{}", serde_json::to_string(&args)?);
    Ok(())
}
