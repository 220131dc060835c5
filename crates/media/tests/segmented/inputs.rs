//! Inputs that are not the plain 60 s clip: no audio, odd sizes, 10-bit, NTSC rate in
//! MPEG-TS with a start offset, an open-GOP HEVC source, VP9/WebM output.

use reelflow_media::{RunControl, TranscodeSpec, VideoSpec, probe, transcode};

use crate::support::{Clip, frame_hashes, make_clip, video_span};
use crate::{
    FRAME, MACHINE, check_timeline, check_timeline_25, info_of, lossless, mp4, opts, segmented,
};

#[tokio::test]
async fn input_without_audio() {
    let _turn = MACHINE.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let clip = Clip {
        secs: 20,
        audio: false,
        ..Default::default()
    };
    let input = make_clip(dir.path(), "silent.mp4", &clip);
    let output = dir.path().join("silent-out.mkv");
    let spec = TranscodeSpec {
        container: "mkv".into(),
        ..mp4(lossless())
    };
    let (run, _) = segmented(&input, &output, &spec, &opts(4, 4.0)).await;
    assert_eq!(run.plan.segments.len(), 4);
    let info = probe(&output, &RunControl::new()).await.unwrap();
    assert!(info.has_video() && !info.has_audio());
    let got = frame_hashes(&output);
    assert_eq!(got.len(), 500);
    let same = got
        .iter()
        .zip(frame_hashes(&input))
        .all(|(a, b)| a.1 == b.1);
    assert!(same, "frames differ from the source");
    check_timeline_25(&input, &output).await;
}

#[tokio::test]
async fn odd_dimensions_are_rounded_like_the_transcoder() {
    let _turn = MACHINE.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let clip = Clip {
        secs: 20,
        size: "321x241",
        pix_fmt: "yuv444p",
        ..Default::default()
    };
    let input = make_clip(dir.path(), "odd.mp4", &clip);
    let output = dir.path().join("odd-out.mp4");
    let spec = mp4(lossless());
    let (run, info) = segmented(&input, &output, &spec, &opts(3, 5.0)).await;
    assert_eq!(run.plan.segments.len(), 3);
    let reference = dir.path().join("odd-ref.mp4");
    transcode(&input, &reference, &spec, &info, &RunControl::new())
        .await
        .unwrap();
    let out = info_of(&output).await;
    let video = out.video().unwrap();
    assert_eq!((video.width, video.height), (Some(320), Some(240)));
    let got = frame_hashes(&output);
    let want = frame_hashes(&reference);
    assert_eq!(got.len(), 500);
    assert!(
        got.iter().zip(&want).all(|(a, b)| a.1 == b.1),
        "differs from unsegmented"
    );
}

#[tokio::test]
async fn ten_bit_source_to_ten_bit_hevc() {
    let _turn = MACHINE.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let clip = Clip {
        secs: 12,
        size: "320x240",
        pix_fmt: "yuv420p10le",
        ..Default::default()
    };
    let input = make_clip(dir.path(), "ten.mp4", &clip);
    let output = dir.path().join("ten-out.mp4");
    let spec = mp4(VideoSpec {
        codec: Some("H.265".into()),
        pixfmt: Some("yuv420p10le".into()),
        preset: Some("ultrafast".into()),
        crf: Some(30.0),
        ..Default::default()
    });
    let (run, _) = segmented(&input, &output, &spec, &opts(3, 4.0)).await;
    assert_eq!(run.plan.segments.len(), 3);
    let (frames, secs) = video_span(&output);
    let info = info_of(&output).await;
    let video = info.video().unwrap();
    println!(
        "10-bit: {frames} frames, {secs} s, {:?} {:?}",
        video.codec_name, video.pix_fmt
    );
    assert_eq!(frames, 300);
    assert_eq!(video.codec_name, "hevc");
    assert_eq!(video.pix_fmt.as_deref(), Some("yuv420p10le"));
    assert!((secs - 12.0).abs() <= FRAME + 1e-6);
}

#[tokio::test]
async fn ntsc_rate_in_mpeg_ts_with_a_start_offset() {
    let _turn = MACHINE.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let clip = Clip {
        secs: 30,
        rate: "30000/1001",
        gop: 45,
        ..Default::default()
    };
    let input = make_clip(dir.path(), "ntsc.ts", &clip);
    let output = dir.path().join("ntsc-out.mp4");
    let (run, _) = segmented(&input, &output, &mp4(lossless()), &opts(4, 5.0)).await;
    println!(
        "TS plan: video offset {:.6} s, {:?}",
        run.plan.video_offset, run.plan.segments
    );
    assert_eq!(run.plan.segments.len(), 4);
    assert!(
        run.plan.video_offset > 0.0,
        "B-frames delay the first video frame in TS"
    );
    let got = frame_hashes(&output);
    let source = frame_hashes(&input);
    assert_eq!(got.len(), source.len());
    assert!(
        got.iter().zip(&source).all(|(a, b)| a.1 == b.1),
        "frames differ"
    );
    check_timeline(&input, &output).await;
}

#[tokio::test]
async fn vp9_webm_output() {
    let _turn = MACHINE.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let clip = Clip {
        secs: 20,
        ..Default::default()
    };
    let input = make_clip(dir.path(), "in.mp4", &clip);
    let output = dir.path().join("out.webm");
    let spec = TranscodeSpec {
        container: "webm".into(),
        ..mp4(VideoSpec {
            codec: Some("VP9".into()),
            crf: Some(36.0),
            ..Default::default()
        })
    };
    let (run, _) = segmented(&input, &output, &spec, &opts(3, 5.0)).await;
    assert_eq!(run.plan.segments.len(), 3);
    let info = info_of(&output).await;
    assert_eq!(info.video().unwrap().codec_name, "vp9");
    assert_eq!(info.audio().unwrap().codec_name, "vorbis");
    check_timeline_25(&input, &output).await;
}

#[tokio::test]
async fn open_gop_hevc_source_cuts_cleanly() {
    let _turn = MACHINE.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let clip = Clip {
        secs: 20,
        encoder: "libx265",
        ..Default::default()
    };
    let input = make_clip(dir.path(), "open.mp4", &clip);
    let output = dir.path().join("open-out.mp4");
    let (run, _) = segmented(&input, &output, &mp4(lossless()), &opts(3, 5.0)).await;
    assert_eq!(run.plan.segments.len(), 3);
    let got = frame_hashes(&output);
    let source = frame_hashes(&input);
    assert_eq!(got.len(), 500);
    assert!(
        got.iter().zip(&source).all(|(a, b)| a.1 == b.1),
        "frames differ from the open-GOP source"
    );
    check_timeline_25(&input, &output).await;
}
