//! Segmented transcoding through the engine on SQLite, one process with two task slots,
//! segmentation forced: the parent splits, its parts run through the ordinary claim path,
//! the parent stitches; cancel of the parked parent cancels its parts. However the parent
//! ends, its pieces leave the blob store.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

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
    h.clip_sized(&format!("gop{seconds}.mp4"), "320x240", seconds)
}

fn parts(tasks: &[Task]) -> Vec<&Task> {
    tasks.iter().filter(|t| t.sub.is_some()).collect()
}

/// Every blob in the harness's blob store (`LocalBlobStore`'s layout: `<root>/ab/cd/<id>`).
fn stored_blobs(h: &Harness) -> BTreeSet<String> {
    let names = |dir: &std::path::Path| -> Vec<(String, std::path::PathBuf)> {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut blobs = BTreeSet::new();
    for (shard, path) in names(h.blobs.root()) {
        if shard == "tmp" {
            continue;
        }
        for (_, sub) in names(&path) {
            blobs.extend(names(&sub).into_iter().map(|(id, _)| id));
        }
    }
    blobs
}

/// The blob of object `key`.
async fn blob_of(h: &Harness, key: &str) -> String {
    let record = h.store.get_object(BUCKET, key).await.unwrap().unwrap();
    record.blob_id
}

/// Waits, at most 40 s (the collector runs every 15 s, and at once after a parent ends),
/// until the blob store holds only the blobs of `objects` and `parent`'s parts name no piece.
async fn await_pieces_collected(h: &Harness, parent: &str, objects: &[&str]) {
    let mut want = BTreeSet::new();
    for key in objects {
        want.insert(blob_of(h, key).await);
    }
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let blobs = stored_blobs(h);
        let parts = h.store.sub_tasks(parent).await.unwrap();
        let named: Vec<&str> = parts.iter().map(|p| p.result.as_str()).collect();
        if blobs == want && named.iter().all(|r| r.is_empty()) {
            return;
        }
        let left: Vec<_> = blobs.difference(&want).collect();
        assert!(
            Instant::now() < deadline,
            "pieces left behind: {left:?}, results {named:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls run `run` until `done` holds of its tasks (at most 60 s); returns them.
async fn await_tasks(h: &Harness, run: &str, done: impl Fn(&[Task]) -> bool) -> Vec<Task> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, tasks) = h.store.get_run(run).await.unwrap().unwrap();
        if done(&tasks) {
            return tasks;
        }
        let parent = tasks.iter().find(|t| t.node_name == "T").unwrap();
        assert!(!parent.state.is_terminal(), "{tasks:#?}");
        assert!(Instant::now() < deadline, "{tasks:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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
    }
    let key = &parent.outputs[0].key;
    // The pieces are removed once the parent ended: the input and the output stay.
    await_pieces_collected(&h, &parent.job_id, &["in/a.mp4", key.as_str()]).await;
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
    // A part that ended anyway deletes its piece (its end is refused).
    await_pieces_collected(&h, &parent.job_id, &["in/c.mp4"]).await;
}

#[tokio::test]
async fn cancelling_a_parent_removes_the_pieces_of_its_finished_parts() {
    let h = segmenting(6).await;
    let t = h.template(H264).await;
    h.workflow(
        "<Start>T</Start><T>End</T>",
        &node("T", "Transcode", &t, "out/f.${Ext}"),
    )
    .await;
    let runs = h.upload("in/f.mp4", &clip(&h, 60)).await;
    // The first part that stored its piece (the audio pass is claimed first).
    let tasks = await_tasks(&h, &runs[0], |tasks| {
        parts(tasks)
            .iter()
            .any(|p| p.state == TaskState::Success && !p.result.is_empty())
    })
    .await;
    let parent = tasks.iter().find(|t| t.node_name == "T").unwrap();
    assert!(parent.is_parked(), "{tasks:#?}");
    let finished: Vec<String> = parts(&tasks)
        .iter()
        .filter(|p| p.state == TaskState::Success)
        .filter_map(|p| serde_json::from_str::<serde_json::Value>(&p.result).ok())
        .filter_map(|out| out["blob_id"].as_str().map(str::to_owned))
        .collect();
    assert!(!finished.is_empty(), "{tasks:#?}");
    let stored = stored_blobs(&h);
    assert!(finished.iter().all(|b| stored.contains(b)), "{stored:?}");

    h.engine.cancel(&parent.job_id).await.unwrap();
    let (instance, tasks) = h.wait_run(&runs[0]).await;
    assert_eq!(instance.state, RunState::Cancel, "{tasks:#?}");
    await_pieces_collected(&h, &parent.job_id, &["in/f.mp4"]).await;
    let stored = stored_blobs(&h);
    assert!(finished.iter().all(|b| !stored.contains(b)), "{stored:?}");
}

/// A part reads the blob its parent planned from: when the input object names another blob
/// by then (overwritten mid-run), the parts still to start fail naming the key, and the
/// parent fails with them instead of stitching pieces of two different files.
#[tokio::test]
async fn parts_of_an_input_replaced_mid_run_fail_naming_it() {
    let h = segmenting(4).await;
    let t = h.template(H264).await;
    h.workflow(
        "<Start>T</Start><T>End</T>",
        &node("T", "Transcode", &t, "out/r.${Ext}"),
    )
    .await;
    let runs = h.upload("in/r.mp4", &clip(&h, 40)).await;
    // Once the parent split, the object is overwritten (without starting a run).
    await_tasks(&h, &runs[0], |tasks| !parts(tasks).is_empty()).await;
    let mut record = h
        .store
        .get_object(BUCKET, "in/r.mp4")
        .await
        .unwrap()
        .unwrap();
    let other = h.blobs.put_file(&clip(&h, 16)).await.unwrap();
    let old = std::mem::replace(&mut record.blob_id, other.id);
    (record.size, record.etag) = (other.size, other.md5_hex);
    h.store.put_object(&record, &[]).await.unwrap();
    // As an overwrite through the API does: the old body goes at once, under running parts.
    h.blobs.delete(&old).await.unwrap();
    let (instance, tasks) = h.wait_run(&runs[0]).await;
    assert_eq!(instance.state, RunState::Failed, "{tasks:#?}");
    let parent = tasks.iter().find(|t| t.node_name == "T").unwrap();
    assert_eq!(parent.code, "InvalidInput", "{}", parent.message);
    assert!(
        parent.message.contains("in/r.mp4 was replaced"),
        "{}",
        parent.message
    );
}

/// On a lone node (splitting not forced) a Transcode splits only when its encoder cannot
/// spread over the node's cores: VP9 narrower than 512 px encodes one tile column (one
/// thread), H.264 uses every core.
#[tokio::test]
async fn a_lone_node_splits_only_what_its_encoder_cannot_spread() {
    if std::thread::available_parallelism().map_or(1, usize::from) < 2 {
        eprintln!("skipped: one core, where nothing gains from splitting");
        return;
    }
    let h = harness_setup(Setup {
        segmented: SegmentedConfig {
            min_input_secs: 5.0,
            force: false,
            segments: Some(2),
            max_segments: 16,
            min_segment_secs: 4.0,
        },
        // Sibling Transcodes would be fused into one ffmpeg, which is never split.
        no_fuse: true,
        ..Setup::default()
    })
    .await;
    let vp9 = h
        .template(
            "<Request><Tag>Transcode</Tag><Name>vp9</Name><Container><Format>webm</Format>\
             </Container><Video><Codec>VP9</Codec><Preset>realtime</Preset></Video>\
             <Audio><Codec>Vorbis</Codec></Audio></Request>",
        )
        .await;
    let h264 = h.template(H264).await;
    let nodes = format!(
        "{}{}",
        node("V", "Transcode", &vp9, "out/v.${Ext}"),
        node("H", "Transcode", &h264, "out/h.${Ext}")
    );
    h.workflow("<Start>V,H</Start><V>End</V><H>End</H>", &nodes)
        .await;
    let runs = h.upload("in/l.mp4", &clip(&h, 12)).await;
    let (instance, tasks) = h.wait_run(&runs[0]).await;
    assert_eq!(instance.state, RunState::Success, "{tasks:#?}");
    let parts_of = |name: &str| {
        let parent = tasks.iter().find(|t| t.node_name == name).unwrap();
        let prefix = format!("{name}#");
        assert_eq!(parent.state, TaskState::Success);
        tasks
            .iter()
            .filter(|t| t.node_name.starts_with(&prefix))
            .count()
    };
    assert_eq!(
        parts_of("V"),
        3,
        "VP9 at 320 px: two segments and the audio pass"
    );
    assert_eq!(parts_of("H"), 0, "H.264 is not split on a lone node");
}
