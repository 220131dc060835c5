//! Transient failures are retried with backoff; failures of the media itself are not.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use reelflow_engine::RetryPolicy;
use reelflow_model::execution::{RunState, TaskState};

const MP4_SLOWER: &str = "<Request><Tag>Transcode</Tag><Name>small</Name><Container><Format>mp4</Format></Container><Video><Codec>H.264</Codec><Width>320</Width><Crf>23</Crf></Video></Request>";

fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(2),
    }
}

/// Pids of the ffmpeg processes whose command line mentions `dir` (this test's own scratch
/// space, so only processes this test's engine started).
fn ffmpeg_under(dir: &Path) -> Vec<i32> {
    let needle = dir.to_string_lossy().into_owned();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let is_ffmpeg = args
            .first()
            .is_some_and(|a| Path::new(a).file_name().is_some_and(|n| n == "ffmpeg"));
        if is_ffmpeg && args.iter().any(|a| a.contains(&needle)) {
            found.push(pid);
        }
    }
    found
}

#[tokio::test]
async fn a_task_whose_ffmpeg_is_killed_by_a_signal_is_retried_and_succeeds() {
    let h = harness_retrying(quick_retries()).await;
    let t = h.template(MP4_SLOWER).await;
    h.workflow(
        "<Start>T</Start><T>End</T>",
        &node("T", "Transcode", &t, "out/${RunId}/t.${Ext}"),
    )
    .await;
    let clip = h.clip(40);
    let runs = h.upload("in/a.mp4", &clip).await;
    let work = h.dir.path().join("work");
    let deadline = Instant::now() + Duration::from_secs(60);
    let killed = loop {
        let pids = ffmpeg_under(&work);
        if let Some(&pid) = pids.first() {
            // Only a pid this test's engine spawned.
            let status = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status()
                .unwrap();
            assert!(status.success());
            break pid;
        }
        assert!(Instant::now() < deadline, "ffmpeg never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let (instance, tasks) = h.wait_run(&runs[0]).await;
    assert_eq!(instance.state, RunState::Success, "{tasks:?}");
    let task = &tasks[0];
    assert_eq!(task.state, TaskState::Success);
    assert_eq!(
        task.attempts, 1,
        "ffmpeg {killed} was killed once: {task:?}"
    );
    assert_eq!(
        task.outputs.len(),
        1,
        "outputs replaced, not added: {task:?}"
    );
    assert!(
        h.store
            .get_object(BUCKET, &task.outputs[0].key)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn a_corrupt_input_fails_once_without_retries() {
    let h = harness_retrying(quick_retries()).await;
    let t = h.template(MP4_SLOWER).await;
    h.workflow(
        "<Start>T</Start><T>End</T>",
        &node("T", "Transcode", &t, "out/${RunId}/t.${Ext}"),
    )
    .await;
    let bad = h.dir.path().join("bad.mp4");
    std::fs::write(&bad, b"definitely not a video").unwrap();
    let runs = h.upload("in/bad.mp4", &bad).await;
    let (instance, tasks) = h.wait_run(&runs[0]).await;
    assert_eq!(instance.state, RunState::Failed);
    let task = &tasks[0];
    assert_eq!(task.state, TaskState::Failed);
    assert_eq!(task.attempts, 0, "{task:?}");
    assert_eq!(task.code, "InvalidInput", "{task:?}");
}

#[tokio::test]
async fn a_fused_group_whose_ffmpeg_is_killed_is_retried_as_one_group() {
    let h = harness_retrying(quick_retries()).await;
    let a = h.template(MP4_SLOWER).await;
    let b = h.template("<Request><Tag>Transcode</Tag><Name>b</Name><Container><Format>mp4</Format></Container><Video><Codec>H.264</Codec><Height>128</Height></Video></Request>").await;
    let c = h.template("<Request><Tag>Transcode</Tag><Name>c</Name><Container><Format>mp4</Format></Container><Video><Codec>H.264</Codec><Height>144</Height></Video></Request>").await;
    let nodes = node("A", "Transcode", &a, "o/a.${Ext}")
        + &node("B", "Transcode", &b, "o/b.${Ext}")
        + &node("C", "Transcode", &c, "o/c.${Ext}");
    h.workflow("<Start>A,B,C</Start><A>End</A><B>End</B><C>End</C>", &nodes)
        .await;
    let runs = h.upload("in/ladder.mp4", &h.clip(40)).await;
    let work = h.dir.path().join("work");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(&pid) = ffmpeg_under(&work).first() {
            let status = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status()
                .unwrap();
            assert!(status.success());
            break;
        }
        assert!(Instant::now() < deadline, "ffmpeg never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (instance, tasks) = h.wait_run(&runs[0]).await;
    assert_eq!(instance.state, RunState::Success, "{tasks:?}");
    for task in &tasks {
        assert_eq!(task.attempts, 1, "{task:?}");
        assert_eq!(task.outputs.len(), 1, "{task:?}");
    }
    assert_eq!(
        h.engine.metrics().fused_runs,
        2,
        "both attempts ran the three as one ffmpeg"
    );
}
