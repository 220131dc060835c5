//! The steps called one by one, as sub-tasks on other workers would (segments in any
//! order, each from its serialized task), and cancellation of a local run.

use std::time::Duration;

use reelflow_media::segmented::audio_path;
use reelflow_media::{MediaTools, RunControl, SegmentTask, SegmentedJob, StitchTask, probe};

use crate::support::{Clip, frame_hashes, make_clip, video_span};
use crate::{MACHINE, check_timeline_25, lossless, mp4, opts};

#[tokio::test]
async fn steps_run_separately_from_serialized_tasks() {
    let _turn = MACHINE.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let clip = Clip {
        secs: 24,
        ..Default::default()
    };
    let input = make_clip(dir.path(), "in.mp4", &clip);
    let (output, work) = (dir.path().join("out.mp4"), dir.path().join("work"));
    let ctl = RunControl::new();
    let info = probe(&input, &ctl).await.unwrap();
    let spec = mp4(lossless());
    let tools = MediaTools::default();
    let params = opts(3, 6.0).params;
    let plan = tools
        .plan_segmented(&input, &info, &params, &ctl)
        .await
        .unwrap();
    assert_eq!(plan.segments.len(), 3);
    let job = SegmentedJob {
        input: &input,
        info: &info,
        spec: &spec,
        output: &output,
        work: &work,
    };
    // Last segment first, each task through JSON, as a queue would carry it.
    for segment in plan.segments.iter().rev() {
        let task = job.segment_task(segment, Some(2)).unwrap();
        let json = serde_json::to_string(&task).unwrap();
        let task: SegmentTask = serde_json::from_str(&json).unwrap();
        tools.encode_segment(&task, &ctl).await.unwrap();
        let (frames, _) = video_span(&task.output);
        assert_eq!(frames, segment.frames, "segment {}", segment.index);
    }
    let audio = audio_path(&work, &spec).unwrap();
    assert!(
        tools
            .encode_audio(&input, &audio, &spec, &info, &ctl)
            .await
            .unwrap()
    );
    let stitch = job.stitch_task(&plan, true).unwrap();
    let stitch: StitchTask =
        serde_json::from_str(&serde_json::to_string(&stitch).unwrap()).unwrap();
    let files = tools.stitch(&stitch, &ctl).await.unwrap();
    assert_eq!(files.len(), 1);
    let same = frame_hashes(&output)
        .iter()
        .zip(frame_hashes(&input))
        .all(|(a, b)| a.1 == b.1);
    assert!(same, "frames differ from the source");
    check_timeline_25(&input, &output).await;
}

#[tokio::test]
async fn cancel_stops_every_encode() {
    let _turn = MACHINE.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let input = make_clip(dir.path(), "in.mp4", &Clip::default());
    let (output, work) = (dir.path().join("out.mp4"), dir.path().join("work"));
    let ctl = RunControl::new();
    let info = probe(&input, &ctl).await.unwrap();
    let mut spec = mp4(lossless());
    spec.video.as_mut().unwrap().preset = Some("veryslow".into());
    let job = SegmentedJob {
        input: &input,
        info: &info,
        spec: &spec,
        output: &output,
        work: &work,
    };
    let cancel = ctl.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        cancel.cancel();
    });
    let started = std::time::Instant::now();
    let err = MediaTools::default()
        .transcode_segmented(&job, &opts(4, 10.0), &ctl)
        .await
        .unwrap_err();
    assert!(err.is_cancelled(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(!output.exists());
}
