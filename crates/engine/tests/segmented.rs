//! Segmented transcoding through the engine on SQLite, one process with two task slots,
//! segmentation forced: the parent splits, its parts run through the ordinary claim path,
//! the parent stitches; cancel of the parked parent cancels its parts.

mod common;

use std::time::Duration;

use common::*;
use reelflow_engine::SegmentedConfig;
use reelflow_model::execution::{RunState, Task, TaskState};
use reelflow_model::workflow::NodeType;
use reelflow_objects::BlobStore;

const H264: &str = "<Request><Tag>Transcode</Tag><Name>seg</Name><Container><Format>mp4</Format></Container><Video><Codec>H.264</Codec><Crf>30</Crf><Preset>veryfast</Preset></Video><Audio><Codec>aac</Codec></Audio></Request>";

async fn segmenting(segments: usize) -> Harness {
    harness_setup(Setup {
        segmented: SegmentedConfig {
            min_input_secs: 5.0,
            force: true,
            segments: Some(segments),
            max_segments: 16,
            min_segment_secs: 4.0,
        },
        ..Setup::default()
    })
    .await
}

/// A `seconds` long 320x240 25 fps clip with a key frame every second, and a tone.
fn clip(h: &Harness, seconds: u32) -> std::path::PathBuf {
    let path = h.dir.path().join(format!("gop{seconds}.mp4"));
    let d = seconds.to_string();
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=25",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=1000",
        "-t",
        &d,
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-g",
        "25",
        "-c:a",
        "aac",
        path.to_str().unwrap(),
    ]);
    path
}

fn parts(tasks: &[Task]) -> Vec<&Task> {
    tasks.iter().filter(|t| t.sub.is_some()).collect()
}

#[tokio::test]
async fn a_long_transcode_is_split_encoded_by_parts_and_stitched() {
    let h = segmenting(3).await;
    let t = h.template(H264).await;
    h.workflow(
        "<Start>T</Start><T>End</T>",
        &node("T", "Transcode", &t, "out/t.${Ext}"),
    )
    .await;
    let runs = h.upload("in/a.mp4", &clip(&h, 16)).await;
    let (instance, tasks) = h.wait_run(&runs[0]).await;
    assert_eq!(instance.state, RunState::Success, "{tasks:#?}");
    let parent = tasks.iter().find(|t| t.node_name == "T").unwrap();
    assert_eq!((parent.state, parent.progress), (TaskState::Success, 100));
    let parts = parts(&tasks);
    assert_eq!(parts.len(), 4, "three segments and the audio pass");
    for part in &parts {
        assert_eq!(part.node_type, NodeType::TranscodePart);
        assert_eq!(part.state, TaskState::Success, "{part:?}");
        assert_eq!(part.attempts, 0, "each part ran once");
        // The pieces were removed from the blob store after the stitch.
        let out: serde_json::Value = serde_json::from_str(&part.result).unwrap();
        if let Some(id) = out["blob_id"].as_str() {
            assert!(h.blobs.size(id).await.is_err(), "piece {id} left behind");
        }
    }
    let key = &parent.outputs[0].key;
    let record = h.store.get_object(BUCKET, key).await.unwrap().unwrap();
    let path = h.blobs.local_path(&record.blob_id).unwrap();
    let report = probe(&path);
    let video = &report["streams"][0];
    assert_eq!(video["codec_type"], "video");
    assert_eq!(
        video["nb_read_frames"], "400",
        "16 s at 25 fps, no frame lost or doubled"
    );
    let duration: f64 = report["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((duration - 16.0).abs() < 0.1, "duration {duration}");
    assert_eq!(report["streams"][1]["codec_type"], "audio");
}

#[tokio::test]
async fn cancelling_a_parked_parent_cancels_its_parts() {
    let h = segmenting(4).await;
    let t = h.template(H264).await;
    h.workflow(
        "<Start>T</Start><T>End</T>",
        &node("T", "Transcode", &t, "out/c.${Ext}"),
    )
    .await;
    let runs = h.upload("in/c.mp4", &clip(&h, 40)).await;
    let parent = loop {
        let (_, tasks) = h.store.get_run(&runs[0]).await.unwrap().unwrap();
        let parent = tasks.iter().find(|t| t.node_name == "T").unwrap().clone();
        if parent.is_parked() {
            break parent;
        }
        assert!(!parent.state.is_terminal(), "{tasks:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    h.engine.cancel(&parent.job_id).await.unwrap();
    let (instance, tasks) = h.wait_run(&runs[0]).await;
    assert_eq!(instance.state, RunState::Cancel);
    let parts = parts(&tasks);
    assert_eq!(parts.len(), 5);
    assert!(
        parts
            .iter()
            .all(|p| p.state.is_terminal() && p.state != TaskState::Failed),
        "{parts:#?}"
    );
    assert!(parts.iter().any(|p| p.state == TaskState::Cancel));
}
