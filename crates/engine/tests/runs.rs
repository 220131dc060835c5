//! The engine without HTTP: real SQLite, real local blobs, real ffmpeg on generated media.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use reelflow_model::XmlElement;
use reelflow_model::clock::now_unix;
use reelflow_model::execution::{RunState, TaskState};
use reelflow_model::job::parse_jobs;
use reelflow_objects::BlobStore;
use reelflow_store::CancelOutcome;

const MP4_160: &str = "<Request><Tag>Transcode</Tag><Name>small</Name><Container><Format>mp4</Format></Container><Video><Codec>H.264</Codec><Width>160</Width><Crf>35</Crf></Video></Request>";
const SNAP_2: &str = "<Request><Tag>Snapshot</Tag><Name>snap</Name><Snapshot><Mode>Interval</Mode><Start>0</Start><TimeInterval>0.5</TimeInterval><Count>2</Count><Width>128</Width></Snapshot></Request>";

#[tokio::test]
async fn chain_consumes_the_upstream_output_and_fans_out() {
    let h = harness().await;
    let t = h.template(MP4_160).await;
    let s = h.template(SNAP_2).await;
    let nodes = node("T", "Transcode", &t, "out/${RunId}/t.${Ext}")
        + &node("S", "Snapshot", &s, "out/${RunId}/s-${Number}.${Ext}");
    h.workflow("<Start>T</Start><T>S</T><S>End</S>", &nodes)
        .await;
    let runs = h.upload("in/a.mp4", &h.clip(2)).await;
    assert_eq!(runs.len(), 1);
    let (instance, tasks) = h.wait_run(&runs[0]).await;
    assert_eq!(instance.state, RunState::Success, "{tasks:?}");
    let t_task = tasks.iter().find(|x| x.node_name == "T").unwrap();
    let s_task = tasks.iter().find(|x| x.node_name == "S").unwrap();
    assert_eq!(
        s_task.input_key, t_task.outputs[0].key,
        "Snapshot read the Transcode output"
    );
    assert_eq!(s_task.outputs.len(), 2);
    assert!(
        s_task.outputs[1].key.ends_with("s-1.jpg"),
        "{:?}",
        s_task.outputs
    );
    // Outputs never trigger workflows, even under the watched prefix's bucket.
    let listed = h
        .store
        .list_runs(&reelflow_store::RunQuery {
            workflow_id: instance.workflow_id.clone(),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
}

#[tokio::test]
async fn a_failed_node_fails_the_run_and_skips_its_descendants() {
    let h = harness().await;
    let t = h.template(MP4_160).await;
    let s = h.template(SNAP_2).await;
    let nodes =
        node("T", "Transcode", &t, "o/t.${Ext}") + &node("S", "Snapshot", &s, "o/s-${Number}.jpg");
    h.workflow("<Start>T</Start><T>S</T><S>End</S>", &nodes)
        .await;
    let bad = h.dir.path().join("bad.mp4");
    std::fs::write(&bad, b"definitely not a video").unwrap();
    let runs = h.upload("in/bad.mp4", &bad).await;
    let (instance, tasks) = h.wait_run(&runs[0]).await;
    assert_eq!(instance.state, RunState::Failed);
    let t_task = tasks.iter().find(|x| x.node_name == "T").unwrap();
    assert_eq!(t_task.state, TaskState::Failed);
    assert!(
        !t_task.message.is_empty() && t_task.code != "Success",
        "{t_task:?}"
    );
    assert_eq!(
        tasks.iter().find(|x| x.node_name == "S").unwrap().state,
        TaskState::Skipped
    );
}

#[tokio::test]
async fn jobs_run_and_a_running_job_can_be_cancelled() {
    let h = harness().await;
    h.upload("src/a.mp4", &h.clip(2)).await;
    let body = format!(
        "<Request><Tag>Transcode</Tag><Input><Object>src/a.mp4</Object></Input><Operation><Transcode><Container><Format>mp4</Format></Container><Video><Codec>H.264</Codec><Width>128</Width></Video></Transcode><Output><Bucket>{BUCKET}</Bucket><Object>job/out.mp4</Object></Output></Operation></Request>"
    );
    let jobs = parse_jobs(&XmlElement::parse(body.as_bytes()).unwrap()).unwrap();
    let created = h.engine.submit_jobs(BUCKET, jobs).await.unwrap();
    let (instance, tasks) = h.wait_run(&created[0].1.run_id).await;
    assert_eq!(instance.state, RunState::Success, "{tasks:?}");
    assert_eq!(tasks[0].outputs[0].key, "job/out.mp4");

    // A long job: 120 s of 720p with a slow preset.
    let long = h.dir.path().join("long.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=640x360:rate=25",
        "-t",
        "120",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        long.to_str().unwrap(),
    ]);
    h.upload("src/long.mp4", &long).await;
    let body = format!(
        "<Request><Tag>Transcode</Tag><Input><Object>src/long.mp4</Object></Input><Operation><Transcode><Container><Format>mp4</Format></Container><Video><Codec>H.265</Codec><Preset>slow</Preset></Video></Transcode><Output><Bucket>{BUCKET}</Bucket><Object>job/long.mp4</Object></Output></Operation></Request>"
    );
    let created = h
        .engine
        .submit_jobs(
            BUCKET,
            parse_jobs(&XmlElement::parse(body.as_bytes()).unwrap()).unwrap(),
        )
        .await
        .unwrap();
    let job_id = created[0].0.job_id.clone();
    for _ in 0..100 {
        if h.store.get_task(&job_id).await.unwrap().unwrap().0.state == TaskState::Running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        h.engine.cancel(&job_id).await.unwrap(),
        CancelOutcome::Signalled
    );
    let started = now_unix();
    let (instance, tasks) = h.wait_run(&created[0].1.run_id).await;
    assert_eq!(instance.state, RunState::Cancel);
    assert_eq!(tasks[0].state, TaskState::Cancel);
    assert!(now_unix() - started < 10, "cancel took too long");
    // No ffmpeg left writing into this test's work directory, and no scratch files.
    let work = h.dir.path().join("work");
    let leftovers: Vec<_> = std::fs::read_dir(&work)
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let procs = Command::new("pgrep")
        .args(["-f", work.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        procs.stdout.is_empty(),
        "ffmpeg still running: {}",
        String::from_utf8_lossy(&procs.stdout)
    );
}

#[tokio::test]
async fn a_paused_queue_holds_work_until_resumed() {
    let h = harness().await;
    h.upload("src/a.mp4", &h.clip(1)).await;
    let queue_id = h.engine.queue_for(BUCKET, None).await.unwrap();
    let mut queue = h.store.get_queue(&queue_id).await.unwrap().unwrap();
    queue.active = false;
    h.store.save_queue(&queue).await.unwrap();
    let body = "<Request><Tag>MediaInfo</Tag><Input><Object>src/a.mp4</Object></Input><Operation/></Request>".to_owned();
    let created = h
        .engine
        .submit_jobs(
            BUCKET,
            parse_jobs(&XmlElement::parse(body.as_bytes()).unwrap()).unwrap(),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        h.store
            .get_task(&created[0].0.job_id)
            .await
            .unwrap()
            .unwrap()
            .0
            .state,
        TaskState::Submitted
    );
    queue.active = true;
    h.store.save_queue(&queue).await.unwrap();
    h.engine.wake();
    let (instance, tasks) = h.wait_run(&created[0].1.run_id).await;
    assert_eq!(instance.state, RunState::Success);
    assert!(
        tasks[0].result.contains("<MediaInfo>") && tasks[0].result.contains("h264"),
        "{}",
        tasks[0].result
    );
}

/// The facts of an output that must not depend on fusion.
fn facts(v: &serde_json::Value) -> Vec<String> {
    let mut f: Vec<String> = v["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{} {} {}x{} frames={} rate={}",
                s["codec_type"],
                s["codec_name"],
                s["width"],
                s["height"],
                s["nb_read_frames"],
                s["r_frame_rate"]
            )
        })
        .collect();
    f.push(format!("format={}", v["format"]["format_name"]));
    f
}

async fn ladder(fuse: bool) -> (u64, Vec<Vec<String>>) {
    let h = harness_with(fuse).await;
    let a = h.template(MP4_160).await;
    let b = h.template("<Request><Tag>Transcode</Tag><Name>b</Name><Container><Format>mkv</Format></Container><Video><Codec>H.264</Codec><Height>128</Height><Fps>10</Fps></Video><Audio><Codec>mp3</Codec></Audio></Request>").await;
    let s = h.template(SNAP_2).await;
    let nodes = node("A", "Transcode", &a, "o/a.${Ext}")
        + &node("B", "Transcode", &b, "o/b.${Ext}")
        + &node("S", "Snapshot", &s, "o/s-${Number}.jpg");
    h.workflow("<Start>A,B,S</Start><A>End</A><B>End</B><S>End</S>", &nodes)
        .await;
    let runs = h.upload("in/ladder.mp4", &h.clip(2)).await;
    let (instance, tasks) = h.wait_run(&runs[0]).await;
    assert_eq!(instance.state, RunState::Success, "{tasks:?}");
    let mut all = Vec::new();
    for name in ["A", "B", "S"] {
        let task = tasks.iter().find(|t| t.node_name == name).unwrap();
        for out in &task.outputs {
            let record = h.store.get_object(BUCKET, &out.key).await.unwrap().unwrap();
            let mut f = facts(&probe(&h.blobs.local_path(&record.blob_id).unwrap()));
            f.insert(0, out.key.clone());
            all.push(f);
        }
    }
    (h.engine.metrics().fused_runs, all)
}

#[tokio::test]
async fn fused_and_separate_runs_produce_equivalent_outputs() {
    let (fused_runs, fused) = ladder(true).await;
    let (separate_runs, separate) = ladder(false).await;
    assert_eq!(fused_runs, 1, "the three siblings shared one ffmpeg run");
    assert_eq!(separate_runs, 0);
    assert_eq!(fused, separate);
    assert_eq!(fused.len(), 4, "{fused:?}");
}
