//! StreamPack nodes: pack the renditions produced by the VideoStream nodes into an adaptive
//! stream — an HLS master playlist listing each rendition with its bandwidth, or a DASH
//! manifest — written to the StreamPackConfig node's Output. A DASH manifest's segments are
//! named after the manifest's object (`out/a.mpd` → `out/a-init-0.m4s`, …), so packages of
//! different inputs in one folder never share a segment name.

use std::path::PathBuf;

use reelflow_media::RunControl;
use reelflow_model::execution::TaskState;
use reelflow_model::workflow::NodeType;

use super::{NodeRun, Produced, Slot};
use crate::Engine;
use crate::execute::{Failure, Job, ScratchDir, main_file, main_key, parent};

/// A rendition staged locally: its playlist path and its key in the bucket.
struct Staged {
    playlist: PathBuf,
    key: String,
    bandwidth: u64,
}

pub(super) async fn run(
    engine: &Engine,
    job: &Job,
    scratch: &ScratchDir,
    ctl: &RunControl,
) -> Result<NodeRun, Failure> {
    let config = job
        .topology
        .nodes
        .iter()
        .find(|n| n.node_type == NodeType::StreamPackConfig)
        .ok_or_else(|| {
            Failure::new(
                "InvalidArgument",
                "a StreamPack node needs a StreamPackConfig node",
            )
        })?;
    let dash = config
        .operation
        .stream_pack
        .as_ref()
        .is_some_and(|p| p.dash);
    let ext = if dash { "mpd" } else { "m3u8" };
    // Variant URIs are relative to where the master is written: the expanded key.
    let master_key = main_key(job, ext).ok_or_else(|| {
        Failure::new("InvalidArgument", "the StreamPackConfig node has no Output")
    })?;
    let staged = stage_variants(engine, job, scratch).await?;
    if staged.is_empty() {
        return Err(Failure::new(
            "NoVideoStream",
            "no VideoStream rendition succeeded",
        ));
    }
    if dash {
        let playlists: Vec<PathBuf> = staged.iter().map(|s| s.playlist.clone()).collect();
        let output = main_file(job, scratch, ext);
        let files = reelflow_media::pack_dash(&playlists, &output, None, ctl).await?;
        return Ok(NodeRun::files(
            files
                .into_iter()
                .map(|p| Produced {
                    slot: if p == output {
                        Slot::Main { number: None }
                    } else {
                        Slot::Companion
                    },
                    path: p,
                    ext: "mpd".into(),
                })
                .collect(),
        ));
    }
    let mut variants = Vec::with_capacity(staged.len());
    for s in &staged {
        let uri = reelflow_media::relative_uri(&master_key, &s.key);
        variants.push(reelflow_media::hls_variant(&s.playlist, uri, Some(s.bandwidth), ctl).await?);
    }
    let path = main_file(job, scratch, ext);
    std::fs::write(&path, reelflow_media::master_playlist(&variants)).map_err(|e| {
        Failure::new(
            "InternalError",
            format!("cannot write the master playlist: {e}"),
        )
    })?;
    Ok(NodeRun::files(vec![Produced {
        path,
        slot: Slot::Main { number: None },
        ext: "m3u8".into(),
    }]))
}

/// Downloads each listed VideoStream's outputs that succeeded (playlist first, then segments)
/// into its own directory, keeping file names so the playlist's relative URIs resolve.
async fn stage_variants(
    engine: &Engine,
    job: &Job,
    scratch: &ScratchDir,
) -> Result<Vec<Staged>, Failure> {
    let mut staged = Vec::new();
    for (i, config) in job.node.operation.video_streams.iter().enumerate() {
        let Some(task) = job
            .run_tasks
            .iter()
            .find(|t| t.node_name == config.video_stream_name && t.state == TaskState::Success)
        else {
            continue;
        };
        let Some(main) = task.outputs.first() else {
            continue;
        };
        let dir = scratch.root.join(format!("variant-{i}"));
        std::fs::create_dir_all(&dir)
            .map_err(|e| Failure::new("InternalError", format!("cannot stage a variant: {e}")))?;
        let main_dir = parent(&main.key);
        for out in &task.outputs {
            let relative = out
                .key
                .strip_prefix(&format!("{main_dir}/"))
                .unwrap_or(&out.key);
            let dest = dir.join(relative);
            if let Some(p) = dest.parent() {
                std::fs::create_dir_all(p).map_err(|e| {
                    Failure::new("InternalError", format!("cannot stage a variant: {e}"))
                })?;
            }
            let source = engine.local_object(&out.bucket, &out.key, scratch).await?;
            std::fs::copy(&source, &dest).map_err(|e| {
                Failure::new("InternalError", format!("cannot stage a variant: {e}"))
            })?;
            scratch.names.add(&dest, &out.key);
        }
        let playlist = dir.join(
            main.key
                .strip_prefix(&format!("{main_dir}/"))
                .unwrap_or(&main.key),
        );
        staged.push(Staged {
            playlist,
            key: main.key.clone(),
            bandwidth: config.bandwidth,
        });
    }
    Ok(staged)
}
