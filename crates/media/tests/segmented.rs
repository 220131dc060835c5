//! Segmented transcoding (issue 13) end to end with the real ffmpeg: plan → segment
//! encodes in parallel → audio once → stitch, measured against the source and an
//! unsegmented encode.
//!
//! Run with `cargo test -p reelflow-media --test segmented -- --nocapture` to see the
//! measured numbers. The tests take turns (one lock) so they share the machine's two
//! cores politely: two encodes at a time, one encoder thread each.

#[path = "segmented/inputs.rs"]
mod inputs;
#[path = "segmented/steps.rs"]
mod steps;
#[path = "segmented/support.rs"]
mod support;

use std::path::Path;

use reelflow_media::segmented::VBV_MAXRATE_FACTOR;
use reelflow_media::{
    MediaInfo, MediaTools, RunControl, SegmentParams, SegmentedJob, SegmentedOptions, SegmentedRun,
    TranscodeSpec, VideoSpec, probe, transcode,
};
use support::{Clip, av_offsets, frame_hashes, make_clip, moov_first, shift_audio, video_span};
use tokio::sync::Mutex;

/// One test at a time: each already runs two ffmpeg processes.
static MACHINE: Mutex<()> = Mutex::const_new(());
/// One frame at 25 fps.
const FRAME: f64 = 0.04;
/// Largest A/V offset allowed at a mark.
const SYNC: f64 = 0.020;
/// Bitrate tolerance of a bitrate-targeted segmented encode (README).
const BITRATE_TOLERANCE: f64 = 0.10;

fn opts(target: usize, min: f64) -> SegmentedOptions {
    SegmentedOptions {
        params: SegmentParams {
            target_segments: target,
            min_segment_secs: min,
            multiple_of: 1,
        },
        parallel: 2,
        threads: Some(1),
    }
}

fn mp4(video: VideoSpec) -> TranscodeSpec {
    TranscodeSpec {
        container: "mp4".into(),
        video: Some(video),
        ..Default::default()
    }
}

/// H.264 lossless (x264 CRF 0 at 8-bit 4:2:0 is QP 0): decoded frames equal the source's.
fn lossless() -> VideoSpec {
    VideoSpec {
        crf: Some(0.0),
        profile: Some("auto".into()),
        preset: Some("ultrafast".into()),
        ..Default::default()
    }
}

async fn segmented(
    input: &Path,
    output: &Path,
    spec: &TranscodeSpec,
    opts: &SegmentedOptions,
) -> (SegmentedRun, MediaInfo) {
    let ctl = RunControl::new();
    let info = probe(input, &ctl).await.unwrap();
    let work = output.with_extension("work");
    let job = SegmentedJob {
        input,
        info: &info,
        spec,
        output,
        work: &work,
    };
    let run = MediaTools::default()
        .transcode_segmented(&job, opts, &ctl)
        .await
        .unwrap();
    (run, info)
}

async fn info_of(path: &Path) -> MediaInfo {
    probe(path, &RunControl::new()).await.unwrap()
}

/// Frame count, video duration within one frame, and A/V sync at start, middle, end
/// (beep onset − flash frame time, the same marks in the source) kept within 20 ms of
/// the source's. Returns the output's offsets.
async fn check_timeline(input: &Path, output: &Path) -> Vec<f64> {
    let (in_frames, in_secs) = video_span(input);
    let (out_frames, out_secs) = video_span(output);
    let frame = in_secs / in_frames as f64;
    println!(
        "frames {out_frames} (source {in_frames}); video {out_secs:.4} s (source {in_secs:.4} s)"
    );
    assert_eq!(out_frames, in_frames);
    assert!(
        (out_secs - in_secs).abs() <= frame + 1e-6,
        "{out_secs} vs {in_secs}"
    );
    if !probe(input, &RunControl::new()).await.unwrap().has_audio() {
        return Vec::new();
    }
    let marks = [1.0, (in_secs / 2.0 + 1.0).round(), in_secs.round() - 4.0];
    let offsets = av_offsets(output, &marks);
    let source = av_offsets(input, &marks);
    let ms = |v: &[f64]| {
        v.iter()
            .map(|o| format!("{:+.2}", o * 1000.0))
            .collect::<Vec<_>>()
    };
    println!(
        "A/V offsets near {marks:?} s: {:?} ms (source {:?} ms)",
        ms(&offsets),
        ms(&source)
    );
    let drift = offsets
        .iter()
        .zip(&source)
        .all(|(o, s)| (o - s).abs() <= SYNC);
    assert!(drift, "{offsets:?} vs source {source:?}");
    offsets
}

/// [`check_timeline`] for 25 fps clips, whose flashes fall exactly on the beeps: the
/// offsets themselves are within 20 ms.
async fn check_timeline_25(input: &Path, output: &Path) {
    let offsets = check_timeline(input, output).await;
    assert!(offsets.iter().all(|o| o.abs() <= SYNC), "{offsets:?}");
}

#[tokio::test]
async fn lossless_seams_match_an_unsegmented_encode_frame_for_frame() {
    let _turn = MACHINE.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let input = make_clip(dir.path(), "in.mp4", &Clip::default());
    let output = dir.path().join("out.mp4");
    let spec = mp4(lossless());
    let (run, info) = segmented(&input, &output, &spec, &opts(4, 10.0)).await;
    assert_eq!(run.plan.segments.len(), 4, "{:?}", run.plan);
    assert_eq!(run.files.len(), 1);
    assert_eq!(run.files[0], output);
    let reference = dir.path().join("ref.mp4");
    transcode(&input, &reference, &spec, &info, &RunControl::new())
        .await
        .unwrap();
    let got = frame_hashes(&output);
    let unsegmented = frame_hashes(&reference);
    let source = frame_hashes(&input);
    let same = |a: &[(i64, String)], b: &[(i64, String)]| {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.1 == y.1)
    };
    let seams: Vec<usize> = run.plan.segments.iter().map(|s| s.first_frame).collect();
    println!(
        "seams at frames {seams:?}; hashes: {} segmented, {} unsegmented, {} source",
        got.len(),
        unsegmented.len(),
        source.len()
    );
    assert!(
        same(&got, &unsegmented),
        "segmented frames differ from the unsegmented encode"
    );
    assert!(
        same(&got, &source),
        "segmented frames differ from the source"
    );
    let steps: Vec<i64> = got.windows(2).map(|w| w[1].0 - w[0].0).collect();
    assert!(
        steps.windows(2).all(|w| w[0] == w[1]),
        "uneven timestamps at a seam"
    );
    check_timeline_25(&input, &output).await;
}

#[tokio::test]
async fn crf_template_keeps_frames_duration_and_sync() {
    let _turn = MACHINE.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let input = make_clip(dir.path(), "in.mp4", &Clip::default());
    let output = dir.path().join("crf.mp4");
    let spec = mp4(VideoSpec {
        crf: Some(28.0),
        ..Default::default()
    });
    let (run, _) = segmented(&input, &output, &spec, &opts(5, 10.0)).await;
    assert_eq!(run.plan.segments.len(), 5);
    assert!(moov_first(&output), "mp4 output must be +faststart");
    check_timeline_25(&input, &output).await;
}

#[tokio::test]
async fn bitrate_template_stays_within_tolerance() {
    let _turn = MACHINE.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let input = make_clip(dir.path(), "in.mp4", &Clip::default());
    let output = dir.path().join("abr.mp4");
    let target = 300;
    let spec = mp4(VideoSpec {
        bitrate_kbps: Some(target),
        ..Default::default()
    });
    let (run, info) = segmented(&input, &output, &spec, &opts(4, 10.0)).await;
    assert_eq!(run.plan.segments.len(), 4);
    let reference = dir.path().join("abr-ref.mp4");
    transcode(&input, &reference, &spec, &info, &RunControl::new())
        .await
        .unwrap();
    let kbps = |i: &MediaInfo| i.video().and_then(|v| v.bit_rate).unwrap() as f64 / 1000.0;
    let got = info_of(&output).await;
    let unsegmented = info_of(&reference).await;
    let deviation = kbps(&got) / f64::from(target) - 1.0;
    println!(
        "bitrate: segmented {:.1} kbps ({:+.2} %), unsegmented {:.1} kbps, target {target} (VBV max {}×)",
        kbps(&got),
        deviation * 100.0,
        kbps(&unsegmented),
        VBV_MAXRATE_FACTOR
    );
    assert!(deviation.abs() <= BITRATE_TOLERANCE, "{deviation}");
    check_timeline_25(&input, &output).await;
}

#[tokio::test]
async fn hls_output_from_segments() {
    let _turn = MACHINE.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let clip = Clip {
        secs: 20,
        ..Default::default()
    };
    let input = make_clip(dir.path(), "in.mp4", &clip);
    let output = dir.path().join("hls/play.m3u8");
    let spec = TranscodeSpec {
        container: "hls".into(),
        segment_duration: Some(4.0),
        ..mp4(VideoSpec {
            crf: Some(28.0),
            ..Default::default()
        })
    };
    let (run, _) = segmented(&input, &output, &spec, &opts(3, 5.0)).await;
    assert_eq!(run.plan.segments.len(), 3);
    assert_eq!(run.files[0], output);
    let playlist = std::fs::read_to_string(&output).unwrap();
    let durations: Vec<f64> = playlist
        .lines()
        .filter_map(|l| l.strip_prefix("#EXTINF:"))
        .filter_map(|l| l.trim_end_matches(',').parse().ok())
        .collect();
    println!("HLS pieces: {durations:?}");
    assert_eq!(durations.len(), 5, "{playlist}");
    assert!(
        durations.iter().all(|d| (d - 4.0).abs() < 0.05),
        "{durations:?}"
    );
    assert_eq!(run.files.len(), 6);
}

#[tokio::test]
async fn sync_measurement_sees_a_30_ms_shift() {
    let _turn = MACHINE.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let clip = Clip {
        secs: 12,
        ..Default::default()
    };
    let input = make_clip(dir.path(), "in.mp4", &clip);
    let shifted = dir.path().join("late.mp4");
    shift_audio(&input, &shifted, 0.030);
    let offsets = av_offsets(&shifted, &[1.0, 6.0, 11.0]);
    println!("audio 30 ms late measures {offsets:?}");
    assert!(
        offsets.iter().all(|o| (o - 0.030).abs() < 0.002),
        "{offsets:?}"
    );
}
