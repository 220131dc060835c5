//! Transcode and VideoStream nodes: the template's parameters plus up to three watermark
//! templates, as one output section of an ffmpeg run (alone, or fused with siblings).

use std::path::PathBuf;

use reelflow_media::{
    ImageWatermark, ImageWatermarkMode, LocMode, OutputJob, TextWatermark, Watermark,
    WatermarkKind, WatermarkPos,
};
use reelflow_model::template::{TranscodeParams, WatermarkKind as TplKind, WatermarkParams};

use crate::Engine;
use crate::execute::{Failure, Job, ScratchDir};

/// The output section of a Transcode/VideoStream job, writing into the scratch `out`
/// directory under the name of its main object ([`crate::execute::main_file`]): HLS and DASH
/// segments are named after it.
pub(crate) async fn output_job(
    engine: &Engine,
    job: &Job,
    scratch: &ScratchDir,
) -> Result<OutputJob, Failure> {
    let out_dir = &scratch.out();
    let template = job
        .template
        .as_ref()
        .ok_or_else(|| Failure::new("InvalidArgument", "a Transcode node needs a TemplateId"))?;
    let params = TranscodeParams::from_container(&template.params).map_err(invalid)?;
    let spec = crate::specs::transcode_spec(&params);
    let mut extras = crate::specs::transcode_extras(&params);
    extras.delogo = job
        .node
        .operation
        .remove_watermark
        .map(|r| reelflow_media::Delogo {
            x: r.dx,
            y: r.dy,
            w: r.width,
            h: r.height,
        });
    for (i, wm) in job.watermarks.iter().enumerate() {
        let params = WatermarkParams::from_container(&wm.params).map_err(invalid)?;
        extras
            .watermarks
            .push(watermark(engine, job, &params, scratch, i).await?);
    }
    let ext = reelflow_media::output_extension(&spec);
    std::fs::create_dir_all(out_dir).map_err(|e| {
        Failure::new(
            "InternalError",
            format!("cannot create a work directory: {e}"),
        )
    })?;
    Ok(OutputJob::Transcode {
        path: crate::execute::main_file(job, scratch, ext),
        spec,
        extras,
    })
}

fn invalid(e: reelflow_model::InvalidInput) -> Failure {
    Failure::new("InvalidArgument", e.to_string())
}

async fn watermark(
    engine: &Engine,
    job: &Job,
    p: &WatermarkParams,
    scratch: &ScratchDir,
    index: usize,
) -> Result<Watermark, Failure> {
    let kind = match &p.kind {
        TplKind::Text {
            text,
            font_size,
            font_type,
            font_color,
            transparency,
        } => WatermarkKind::Text(TextWatermark {
            text: text.clone(),
            font_size: *font_size,
            font_color: font_color.clone(),
            transparency: (*transparency).min(100) as u8,
            font_file: None,
            font_type: font_type.clone(),
        }),
        TplKind::Image {
            url,
            mode,
            width,
            height,
            transparency,
        } => {
            let key = reelflow_model::template::ConcatFragment {
                url: url.clone(),
                at_start: true,
                start_time: None,
                end_time: None,
            }
            .object_key();
            let source = engine
                .local_object(&job.instance.bucket, &key, scratch)
                .await
                .map_err(|f| {
                    Failure::new(
                        "WatermarkNotFound",
                        format!("watermark image {url}: {}", f.message),
                    )
                })?;
            let name = key.rsplit('/').next().unwrap_or(&key);
            let ext = name
                .rsplit_once('.')
                .map_or("png", |(_, e)| e)
                .trim_matches(|c: char| !c.is_ascii_alphanumeric());
            let ext = if ext.is_empty() { "png" } else { ext };
            let path: PathBuf = scratch.root.join(format!("watermark-{index}.{ext}"));
            scratch.names.add(&path, &key);
            std::fs::copy(&source, &path).map_err(|e| {
                Failure::new(
                    "InternalError",
                    format!("cannot stage the watermark image: {e}"),
                )
            })?;
            WatermarkKind::Image(ImageWatermark {
                path,
                mode: match mode.as_str() {
                    "Proportion" => ImageWatermarkMode::Proportion,
                    "Fixed" => ImageWatermarkMode::Fixed,
                    _ => ImageWatermarkMode::Original,
                },
                width: *width,
                height: *height,
                transparency: (*transparency).min(100) as u8,
            })
        }
    };
    Ok(Watermark {
        kind,
        pos: WatermarkPos::parse(&p.pos).unwrap_or_default(),
        loc_mode: if p.relative {
            LocMode::Relativity
        } else {
            LocMode::Absolute
        },
        dx: p.dx,
        dy: p.dy,
        start_time: p.start,
        end_time: p.end,
    })
}
