//! Concatenation: stream copy when the inputs allow it, re-encoding otherwise.

use std::path::Path;

use reelflow_media::{
    ConcatInput, ConcatMethod, ConcatSpec, RunControl, TranscodeSpec, VideoSpec, concat,
    concat_method, probe,
};

use crate::common::{dims, frame_count, make_audio, make_av, make_lavfi};

async fn input(path: &Path) -> ConcatInput {
    ConcatInput::new(path, probe(path, &RunControl::new()).await.unwrap())
}

fn spec(container: &str, direct: bool) -> ConcatSpec {
    ConcatSpec {
        target: TranscodeSpec {
            container: container.into(),
            video: Some(VideoSpec {
                preset: Some("ultrafast".into()),
                ..Default::default()
            }),
            ..Default::default()
        },
        direct,
    }
}

#[tokio::test]
async fn direct_concat_copies_matching_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let a = make_av(dir.path(), "a.mp4", 1, 25);
    let b = make_av(dir.path(), "b.mp4", 2, 25);
    let inputs = [input(&a).await, input(&b).await, input(&a).await];
    let direct = ConcatSpec {
        target: TranscodeSpec {
            container: "mp4".into(),
            ..Default::default()
        },
        direct: true,
    };
    assert_eq!(concat_method(&inputs, &direct), ConcatMethod::StreamCopy);
    let out = dir.path().join("joined.mp4");
    let files = concat(&inputs, &out, &direct, &RunControl::new())
        .await
        .unwrap();
    assert_eq!(files, std::slice::from_ref(&out));
    let info = probe(&out, &RunControl::new()).await.unwrap();
    assert!(
        (info.duration.unwrap() - 4.0).abs() < 0.15,
        "{:?}",
        info.duration
    );
    assert_eq!(frame_count(&out), 100);
    assert!(
        !dir.path().join(".joined.ffconcat").exists(),
        "list removed"
    );

    // The same inputs into HLS by copy: a playlist and segments.
    let hls = ConcatSpec {
        target: TranscodeSpec {
            container: "hls".into(),
            segment_duration: Some(1.0),
            ..Default::default()
        },
        direct: true,
    };
    let files = concat(
        &inputs,
        &dir.path().join("hls/j.m3u8"),
        &hls,
        &RunControl::new(),
    )
    .await
    .unwrap();
    assert!(files.len() >= 4, "{files:?}");
    assert!(
        std::fs::read_to_string(&files[0])
            .unwrap()
            .contains("#EXT-X-ENDLIST")
    );
}

#[tokio::test]
async fn reencode_mixes_sizes_and_missing_streams() {
    let dir = tempfile::tempdir().unwrap();
    let av = make_av(dir.path(), "a.mp4", 1, 25);
    let wide = make_lavfi(dir.path(), "wide.mp4", "testsrc2=s=640x360:r=30:d=1", 30);
    let voice = make_audio(dir.path(), "v.mp3", 1);
    let inputs = [input(&av).await, input(&wide).await, input(&voice).await];
    // Direct was asked for but the inputs differ: re-encode.
    let s = spec("mp4", true);
    assert_eq!(concat_method(&inputs, &s), ConcatMethod::Reencode);
    let out = dir.path().join("mixed.mp4");
    concat(&inputs, &out, &s, &RunControl::new()).await.unwrap();
    let info = probe(&out, &RunControl::new()).await.unwrap();
    assert_eq!(dims(&out), (320, 240), "the first input's size");
    let video = info.video().unwrap();
    assert_eq!((video.codec_name.as_str(), video.fps), ("h264", Some(25.0)));
    assert_eq!(info.audio().unwrap().codec_name, "aac");
    let d = info.duration.unwrap();
    assert!((d - 3.0).abs() < 0.2, "{d}");
    let frames = frame_count(&out);
    assert!((73..=78).contains(&frames), "{frames}");
}

#[tokio::test]
async fn audio_targets_and_trimmed_fragments() {
    let dir = tempfile::tempdir().unwrap();
    let a = make_av(dir.path(), "a.mp4", 2, 25);
    let mut first = input(&a).await;
    first.start = Some(0.5);
    first.end = Some(1.5);
    let inputs = [first, input(&a).await];
    for (container, codec) in [("mp3", "mp3"), ("aac", "aac")] {
        let out = dir.path().join(format!("s.{container}"));
        concat(&inputs, &out, &spec(container, false), &RunControl::new())
            .await
            .unwrap();
        let info = probe(&out, &RunControl::new()).await.unwrap();
        assert!(!info.has_video());
        assert_eq!(info.audio().unwrap().codec_name, codec);
        let d = info.duration.unwrap();
        assert!((d - 3.0).abs() < 0.25, "{container}: {d}");
    }
    let flv = dir.path().join("s.flv");
    concat(&inputs, &flv, &spec("flv", false), &RunControl::new())
        .await
        .unwrap();
    let info = probe(&flv, &RunControl::new()).await.unwrap();
    assert!(
        (info.duration.unwrap() - 3.0).abs() < 0.25,
        "{:?}",
        info.duration
    );
    let ts = dir.path().join("s.ts");
    concat(&inputs, &ts, &spec("ts", false), &RunControl::new())
        .await
        .unwrap();
    assert_eq!(dims(&ts), (320, 240));
}
