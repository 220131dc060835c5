//! Cover art (attached pictures) survives into containers that store it: mp3 (ID3
//! `APIC`), m4a and mp4 (`covr`), FLAC; formats that cannot carry one just drop it.

use std::path::PathBuf;

use reelflow_media::{
    OutputJob, RunControl, TranscodeExtras, TranscodeSpec, VideoSpec, run_fused, transcode,
};

use crate::common::{dims, make_audio, make_av};
use crate::inspect::{assert_faststart, attached_pics, field, make_jpeg, probed, with_cover};

fn spec(container: &str) -> TranscodeSpec {
    TranscodeSpec {
        container: container.into(),
        ..Default::default()
    }
}

fn job(path: PathBuf, spec: TranscodeSpec) -> OutputJob {
    OutputJob::Transcode {
        path,
        spec,
        extras: TranscodeExtras::default(),
    }
}

/// An mp3 with a cover into mp3, m4a, flac and mp4 (one fused run): each keeps the
/// picture; aac (ADTS) and wav cannot and succeed without it. The cover is not mistaken
/// for video: the mp4 is audio plus `covr`.
#[tokio::test]
async fn audio_outputs_keep_the_cover_fused() {
    let dir = tempfile::tempdir().unwrap();
    let sound = make_audio(dir.path(), "plain.mp3", 2);
    let cover = make_jpeg(dir.path(), "cover.jpg", "red");
    let input = with_cover(dir.path(), "song.mp3", &sound, &cover);
    let info = probed(&input).await;
    assert!(!info.has_video() && info.cover().is_some());
    let out = |name: &str| dir.path().join(name);
    let jobs = [
        job(out("a.mp3"), spec("mp3")),
        job(out("a.m4a"), spec("m4a")),
        job(out("a.flac"), spec("flac")),
        job(out("a.mp4"), spec("mp4")),
        job(out("a.aac"), spec("aac")),
        job(out("a.wav"), spec("wav")),
    ];
    run_fused(&input, &jobs, &info, &RunControl::new())
        .await
        .unwrap();
    for name in ["a.mp3", "a.m4a", "a.flac", "a.mp4"] {
        let file = out(name);
        assert_eq!(attached_pics(&file), 1, "{name}");
        let after = probed(&file).await;
        assert!(!after.has_video(), "{name}: the cover is no video track");
        assert_eq!(after.cover().unwrap().codec_name, "mjpeg", "{name}");
    }
    assert_faststart(&out("a.m4a"));
    assert_eq!(field(&out("a.m4a"), "a:0", "profile"), "LC");
    for name in ["a.aac", "a.wav"] {
        assert_eq!(attached_pics(&out(name)), 0, "{name}");
        assert!(probed(&out(name)).await.has_audio());
    }
}

/// An m4a with a PNG cover into mp3 with a time range: the picture rides along.
#[tokio::test]
async fn m4a_cover_into_trimmed_mp3() {
    let dir = tempfile::tempdir().unwrap();
    let sound = make_audio(dir.path(), "plain.mp3", 3);
    let m4a = dir.path().join("plain.m4a");
    transcode(
        &sound,
        &m4a,
        &spec("m4a"),
        &probed(&sound).await,
        &RunControl::new(),
    )
    .await
    .unwrap();
    let png = crate::common::make_png(dir.path(), "cover.png", "blue", 48, 48);
    let input = with_cover(dir.path(), "song.m4a", &m4a, &png);
    let info = probed(&input).await;
    assert_eq!(info.cover().unwrap().codec_name, "png");
    let trimmed = TranscodeSpec {
        start: Some(1.0),
        duration: Some(1.0),
        ..spec("mp3")
    };
    let out = dir.path().join("cut.mp3");
    transcode(&input, &out, &trimmed, &info, &RunControl::new())
        .await
        .unwrap();
    assert_eq!(attached_pics(&out), 1);
    assert_eq!(probed(&out).await.cover().unwrap().codec_name, "png");
    // Outputs starting at different times seek on their own (output `-ss`).
    let jobs = [
        job(dir.path().join("whole.m4a"), spec("m4a")),
        job(dir.path().join("late.mp3"), trimmed),
    ];
    run_fused(&input, &jobs, &info, &RunControl::new())
        .await
        .unwrap();
    assert_eq!(attached_pics(&dir.path().join("whole.m4a")), 1);
    assert_eq!(attached_pics(&dir.path().join("late.mp3")), 1);
}

/// A video mp4 with a `covr` keeps it next to the re-encoded video: the encoder and
/// filter options apply to the video only.
#[tokio::test]
async fn video_mp4_keeps_its_cover_next_to_the_encode() {
    let dir = tempfile::tempdir().unwrap();
    let av = make_av(dir.path(), "plain.mp4", 1, 25);
    let cover = make_jpeg(dir.path(), "cover.jpg", "green");
    let input = with_cover(dir.path(), "clip.mp4", &av, &cover);
    let info = probed(&input).await;
    assert_eq!(info.video().unwrap().codec_name, "h264");
    let small = TranscodeSpec {
        video: Some(VideoSpec {
            width: Some(160),
            profile: Some("main".into()),
            preset: Some("veryfast".into()),
            ..Default::default()
        }),
        ..spec("mp4")
    };
    let out = dir.path().join("small.mp4");
    transcode(&input, &out, &small, &info, &RunControl::new())
        .await
        .unwrap();
    assert_eq!(dims(&out), (160, 120));
    assert_eq!(field(&out, "v:0", "profile"), "Main");
    assert_eq!(attached_pics(&out), 1);
    let after = probed(&out).await;
    assert_eq!(after.cover().unwrap().width, Some(64), "copied, not scaled");
}

/// `DeleteMetadata` drops the cover with the rest of the metadata; mkv and webm
/// cannot hold a cover as ffmpeg writes them, so they get none.
#[tokio::test]
async fn deleted_metadata_and_coverless_containers_drop_it() {
    let dir = tempfile::tempdir().unwrap();
    let av = make_av(dir.path(), "plain.mp4", 1, 25);
    let cover = make_jpeg(dir.path(), "cover.jpg", "green");
    let input = with_cover(dir.path(), "clip.mp4", &av, &cover);
    let info = probed(&input).await;
    let stripped = TranscodeSpec {
        delete_metadata: true,
        ..spec("mp4")
    };
    let out = |name: &str| dir.path().join(name);
    let jobs = [
        job(out("stripped.mp4"), stripped),
        job(out("a.mkv"), spec("mkv")),
        job(out("a.webm"), spec("webm")),
    ];
    run_fused(&input, &jobs, &info, &RunControl::new())
        .await
        .unwrap();
    for name in ["stripped.mp4", "a.mkv", "a.webm"] {
        assert_eq!(attached_pics(&out(name)), 0, "{name}");
        let after = probed(&out(name)).await;
        assert_eq!(
            after
                .streams
                .iter()
                .filter(|s| s.codec_type == "video")
                .count(),
            1,
            "{name}"
        );
    }
}
