//! The process wrapper: cancellation, timeouts, stalls, drop, spawn and exit failures.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reelflow_media::{ProcessError, RunControl, ToolCommand};

use crate::common::{assert_gone, marker, pids_with};

/// An endless real-time lavfi encode carrying `marker` in its arguments.
fn endless_ffmpeg(marker: &str) -> ToolCommand {
    ToolCommand::new("ffmpeg")
        .args([
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-progress",
            "pipe:1",
        ])
        .args(["-nostats", "-stats_period", "0.2", "-re", "-f", "lavfi"])
        .args(["-i", "testsrc2=size=64x48:rate=25", "-metadata"])
        .arg(format!("comment={marker}"))
        .args(["-f", "null", "-"])
        .ffmpeg_progress(Some(10.0))
        .timeout(Duration::from_secs(30))
}

#[tokio::test]
async fn cancel_stops_ffmpeg_and_leaves_no_child() {
    let marker = marker("cancel");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let ctl = RunControl::new().on_progress(move |p| sink.lock().unwrap().push(p));
    let cancel = ctl.cancel.clone();
    let cmd = endless_ffmpeg(&marker);
    let run = tokio::spawn(async move { cmd.run(&ctl).await });

    // Wait until ffmpeg is really encoding (progress seen), however loaded the machine.
    let deadline = Instant::now() + Duration::from_secs(15);
    while seen.lock().unwrap().len() < 2 {
        assert!(Instant::now() < deadline, "no progress from ffmpeg");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!pids_with(&marker).is_empty(), "ffmpeg should be running");
    let stopped_at = Instant::now();
    cancel.cancel();
    let err = run.await.unwrap().unwrap_err();

    assert!(matches!(err, ProcessError::Cancelled { .. }), "{err:?}");
    assert_eq!(err.code(), "Cancelled");
    assert!(
        stopped_at.elapsed() < Duration::from_secs(3),
        "SIGTERM should stop it in the grace"
    );
    assert!(
        pids_with(&marker).is_empty(),
        "no ffmpeg may survive cancellation"
    );
    let seen = seen.lock().unwrap();
    assert!(!seen.is_empty(), "progress was reported while running");
    assert!(seen.windows(2).all(|w| w[0] < w[1]) && seen.iter().all(|p| *p < 100));
}

#[tokio::test]
async fn timeout_stops_ffmpeg() {
    let marker = marker("timeout");
    let cmd = endless_ffmpeg(&marker).timeout(Duration::from_millis(700));
    let err = cmd.run(&RunControl::new()).await.unwrap_err();
    assert!(matches!(err, ProcessError::Timeout { .. }), "{err:?}");
    assert_eq!(err.code(), "Timeout");
    assert!(pids_with(&marker).is_empty());
}

#[tokio::test]
async fn stall_stops_a_silent_process_group_grandchildren_included() {
    // sh forks sleep (not exec: a command follows), so the group has two members.
    let secs = format!("30.{}", std::process::id());
    let script = format!("sleep {secs}; echo done");
    let cmd = ToolCommand::new("sh")
        .args(["-c", &script])
        .ffmpeg_progress(None)
        .stall_timeout(Duration::from_millis(400))
        .kill_grace(Duration::from_millis(300));
    let started = Instant::now();
    let err = cmd.run(&RunControl::new()).await.unwrap_err();
    assert!(matches!(err, ProcessError::Stalled { .. }), "{err:?}");
    assert_eq!(err.code(), "Stalled");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_gone(&secs, Duration::from_secs(2)).await;
}

#[tokio::test]
async fn dropping_the_future_kills_the_group() {
    let marker = marker("drop");
    let cmd = endless_ffmpeg(&marker);
    let ctl = RunControl::new();
    let outcome = tokio::time::timeout(Duration::from_millis(800), cmd.run(&ctl)).await;
    assert!(outcome.is_err(), "the run must still be going when dropped");
    assert_gone(&marker, Duration::from_secs(2)).await;
}

#[tokio::test]
async fn missing_tool_is_tool_missing() {
    let err = ToolCommand::new("/nonexistent/ffmpeg")
        .run(&RunControl::new())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "ToolMissing");
    assert!(err.to_string().contains("not found"), "{err}");
}

#[tokio::test]
async fn failure_carries_the_stderr_tail() {
    let cmd =
        ToolCommand::new("ffmpeg").args(["-hide_banner", "-nostdin", "-i", "/nonexistent/in.mp4"]);
    let err = cmd.run(&RunControl::new()).await.unwrap_err();
    assert_eq!(err.code(), "ToolFailed");
    let tail = err.stderr_tail().unwrap();
    assert!(tail.contains("No such file or directory"), "{tail}");
    assert!(
        err.to_string().contains("No such file or directory"),
        "{err}"
    );
}

#[tokio::test]
async fn already_cancelled_token_never_spawns() {
    let ctl = RunControl::new();
    ctl.cancel.cancel();
    let err = ToolCommand::new("/nonexistent/tool")
        .run(&ctl)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "Cancelled");
}

#[tokio::test]
async fn plain_mode_collects_stdout() {
    let out = ToolCommand::new("sh")
        .args(["-c", "echo hello; echo oops >&2"])
        .run(&RunControl::new())
        .await
        .unwrap();
    assert_eq!(out.stdout, b"hello\n");
    assert_eq!(out.stderr_tail, "oops");
}
