//! Single-output media nodes: Animation, Concat, Segment and PicProcess.

use std::path::Path;

use reelflow_media::{AnimationSpec, ConcatInput, ConcatSpec, PicOps, RunControl, SegmentSpec};
use reelflow_model::template::{AnimationParams, ConcatParams, PicProcessParams, TranscodeParams};

use super::{NodeRun, Produced, Slot};
use crate::Engine;
use crate::execute::{Failure, Job, ScratchDir, main_file};

fn template<'a>(
    job: &'a Job,
    kind: &str,
) -> Result<&'a reelflow_model::template::Template, Failure> {
    job.template.as_ref().ok_or_else(|| {
        Failure::new(
            "InvalidArgument",
            format!("a {kind} node needs a TemplateId"),
        )
    })
}

fn invalid(e: reelflow_model::InvalidInput) -> Failure {
    Failure::new("InvalidArgument", e.to_string())
}

/// One main file, or a main file and companions (playlists and their segments, named after
/// the playlist's object by [`main_file`]).
fn main_and_companions(files: Vec<std::path::PathBuf>, main: &Path, ext: &str) -> NodeRun {
    NodeRun::files(
        files
            .into_iter()
            .map(|p| Produced {
                slot: if p == main {
                    Slot::Main { number: None }
                } else {
                    Slot::Companion
                },
                path: p,
                ext: ext.to_owned(),
            })
            .collect(),
    )
}

pub(super) async fn animation(
    job: &Job,
    input: &Path,
    scratch: &ScratchDir,
    ctl: &RunControl,
) -> Result<NodeRun, Failure> {
    let p =
        AnimationParams::from_container(&template(job, "Animation")?.params).map_err(invalid)?;
    let spec = AnimationSpec {
        format: p.format.clone(),
        width: p.width,
        height: p.height,
        fps: p.fps,
        only_keep_key_frame: p.only_keyframes,
        time_interval_of_frame: p.interval_of_frame,
        frames_per_second: p.frames_per_second,
        quality: p.quality.map(|q| q.round().clamp(1.0, 100.0) as u8),
        start: p.start,
        duration: p.duration,
    };
    let ext = reelflow_media::animation_extension(&spec);
    let info = reelflow_media::probe(input, ctl).await?;
    let output = main_file(job, scratch, ext);
    let path = reelflow_media::animation(input, &output, &spec, &info, ctl).await?;
    Ok(NodeRun::files(vec![Produced {
        path,
        slot: Slot::Main { number: None },
        ext: ext.to_owned(),
    }]))
}

pub(super) async fn concat(
    engine: &Engine,
    job: &Job,
    input: Option<&Path>,
    scratch: &ScratchDir,
    ctl: &RunControl,
) -> Result<NodeRun, Failure> {
    let p = ConcatParams::from_container(&template(job, "Concat")?.params).map_err(invalid)?;
    let target = TranscodeParams {
        container: p.container.clone(),
        video: p.video.clone(),
        audio: p.audio.clone(),
        ..TranscodeParams::default()
    };
    let spec = ConcatSpec {
        target: crate::specs::transcode_spec(&target),
        direct: p.direct,
    };
    let mut before = Vec::new();
    let mut after = Vec::new();
    for (i, fragment) in p.fragments.iter().enumerate() {
        let key = fragment.object_key();
        let path = engine
            .local_object(&job.instance.bucket, &key, scratch)
            .await
            .map_err(|f| {
                Failure::new(
                    "FragmentNotFound",
                    format!("concat fragment {i} ({}): {}", fragment.url, f.message),
                )
            })?;
        let info = reelflow_media::probe(&path, ctl).await?;
        let part = ConcatInput {
            path,
            info,
            start: fragment.start_time,
            end: fragment.end_time,
        };
        if fragment.at_start {
            before.push(part)
        } else {
            after.push(part)
        }
    }
    let main = match input {
        Some(input) => Some(ConcatInput::new(
            input,
            reelflow_media::probe(input, ctl).await?,
        )),
        None => None,
    };
    let inputs: Vec<ConcatInput> = before.into_iter().chain(main).chain(after).collect();
    if inputs.is_empty() {
        return Err(Failure::new(
            "InvalidArgument",
            "a Concat job without Input needs at least one ConcatFragment",
        ));
    }
    let ext = reelflow_media::output_extension(&spec.target);
    let output = main_file(job, scratch, ext);
    let files = reelflow_media::concat(&inputs, &output, &spec, ctl).await?;
    Ok(main_and_companions(files, &output, ext))
}

pub(super) async fn segment(
    job: &Job,
    input: &Path,
    scratch: &ScratchDir,
    ctl: &RunControl,
) -> Result<NodeRun, Failure> {
    let config = job.node.operation.segment.as_ref().ok_or_else(|| {
        Failure::new("InvalidArgument", "a Segment node needs Segment parameters")
    })?;
    let spec = SegmentSpec {
        format: config.format.clone(),
        duration: config.duration.map(f64::from),
    };
    let ext = reelflow_media::segment_extension(&spec);
    let info = reelflow_media::probe(input, ctl).await?;
    // HLS segments are named after the playlist's object; pieces are named by the Output.
    let output = main_file(job, scratch, ext);
    let files = reelflow_media::segment(input, &output, &spec, &info, ctl).await?;
    if reelflow_media::segment_writes_pieces(&spec) {
        return Ok(NodeRun::files(
            files
                .into_iter()
                .enumerate()
                .map(|(i, path)| Produced {
                    path,
                    slot: Slot::Main { number: Some(i) },
                    ext: ext.to_owned(),
                })
                .collect(),
        ));
    }
    Ok(main_and_companions(files, &output, ext))
}

pub(super) async fn pic_process(
    job: &Job,
    input: &Path,
    scratch: &ScratchDir,
    ctl: &RunControl,
) -> Result<NodeRun, Failure> {
    let p =
        PicProcessParams::from_container(&template(job, "PicProcess")?.params).map_err(invalid)?;
    let ops = PicOps::parse(&p.rule)?;
    let path = reelflow_media::apply_pic_ops(input, &scratch.out(), &ops, ctl).await?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("jpg")
        .to_owned();
    Ok(NodeRun::files(vec![Produced {
        path,
        slot: Slot::Main { number: None },
        ext,
    }]))
}
