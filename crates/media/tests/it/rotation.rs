//! Display rotation: a 640x360 picture with a quarter-turn display matrix is shown
//! 360x640 by every node's output. Copies keep the matrix where the container stores
//! one (mp4) and are re-encoded upright elsewhere; re-encodes autorotate and leave no
//! matrix behind to turn the picture twice.

use std::path::{Path, PathBuf};

use reelflow_media::{
    AnimationSpec, ConcatInput, ConcatMethod, ConcatSpec, ImageWatermark, ImageWatermarkMode,
    OutputJob, RunControl, SegmentSpec, TranscodeExtras, TranscodeSpec, VideoSpec, Watermark,
    WatermarkPos, animation, concat, concat_method, pack_dash, run_fused, segment,
};

use crate::common::{dims, make_av, make_png};
use crate::inspect::{make_rotated, make_sized, probed, rotation};

/// A 2 s 640x360 H.264 + AAC mp4 shown a quarter turned (360x640).
async fn portrait(dir: &Path) -> PathBuf {
    let plain = make_sized(
        dir,
        "plain.mp4",
        (640, 360),
        2.0,
        ("libx264", "yuv420p"),
        Some("aac"),
    );
    let rotated = make_rotated(dir, "portrait.mp4", &plain, 90);
    let info = probed(&rotated).await;
    let video = info.video().unwrap();
    assert_eq!(video.rotation, Some(90));
    assert_eq!(video.display_size(), Some((360, 640)));
    rotated
}

/// What a player shows: the coded size turned by the display matrix.
fn shown(path: &Path) -> (u32, u32) {
    let (w, h) = dims(path);
    match rotation(path).map(|r| r.rem_euclid(180)) {
        Some(90) => (h, w),
        _ => (w, h),
    }
}

fn segment_spec(format: &str, duration: Option<f64>) -> SegmentSpec {
    SegmentSpec {
        format: format.into(),
        duration,
    }
}

/// The case: Segment to HLS. The `.ts` segments cannot store a matrix, so the
/// video is re-encoded upright (audio still copied).
#[tokio::test]
async fn segment_to_hls_plays_portrait() {
    let dir = tempfile::tempdir().unwrap();
    let input = portrait(dir.path()).await;
    let info = probed(&input).await;
    let playlist = dir.path().join("hls/play.m3u8");
    let files = segment(
        &input,
        &playlist,
        &segment_spec("hls", Some(1.0)),
        &info,
        &RunControl::new(),
    )
    .await
    .unwrap();
    assert!(files.len() >= 3, "{files:?}");
    for seg in &files[1..] {
        assert_eq!(dims(seg), (360, 640), "{}", seg.display());
        assert_eq!(rotation(seg), None);
    }
    assert_eq!(shown(&playlist), (360, 640));
}

/// Segment to mp4 (one file or pieces) copies and keeps the matrix; ts and mkv
/// pieces are re-encoded upright.
#[tokio::test]
async fn segment_copies_keep_or_fix_the_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let input = portrait(dir.path()).await;
    let info = probed(&input).await;
    let ctl = RunControl::new();
    let out = |name: &str| dir.path().join(name);
    let single = segment(
        &input,
        &out("one.mp4"),
        &segment_spec("mp4", None),
        &info,
        &ctl,
    )
    .await
    .unwrap();
    assert_eq!(dims(&single[0]), (640, 360), "copied as coded");
    assert_eq!(rotation(&single[0]), Some(90));
    for format in ["mp4", "ts", "mkv"] {
        let main = out(&format!("piece.{format}"));
        let pieces = segment(&input, &main, &segment_spec(format, Some(1.0)), &info, &ctl)
            .await
            .unwrap();
        // A copy cuts on the source's key frames (one here); the upright re-encode puts
        // one on every boundary.
        let least = if format == "mp4" { 1 } else { 2 };
        assert!(pieces.len() >= least, "{format}: {pieces:?}");
        for piece in &pieces {
            assert_eq!(shown(piece), (360, 640), "{}", piece.display());
        }
    }
}

/// Transcodes autorotate, in one fused run with HLS, a size, a crop, an image watermark
/// (a filtergraph of its own) and an explicit `Rotate` (which turns the displayed
/// picture further).
#[tokio::test]
async fn transcodes_autorotate_once_fused() {
    let dir = tempfile::tempdir().unwrap();
    let input = portrait(dir.path()).await;
    let info = probed(&input).await;
    let out = |name: &str| dir.path().join(name);
    let spec = |container: &str, height: Option<u32>| TranscodeSpec {
        container: container.into(),
        video: Some(VideoSpec {
            height,
            preset: Some("ultrafast".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let job = |path, spec, extras| OutputJob::Transcode { path, spec, extras };
    let jobs = [
        job(
            out("same.mp4"),
            spec("mp4", None),
            TranscodeExtras::default(),
        ),
        job(
            out("small.mp4"),
            spec("mp4", Some(320)),
            TranscodeExtras::default(),
        ),
        job(
            out("play.m3u8"),
            spec("hls", None),
            TranscodeExtras::default(),
        ),
        job(
            out("crop.mkv"),
            spec("mkv", None),
            TranscodeExtras {
                crop: Some("360:320:0:160".into()),
                ..Default::default()
            },
        ),
        job(
            out("marked.mp4"),
            spec("mp4", None),
            TranscodeExtras {
                watermarks: vec![Watermark::image(
                    ImageWatermark {
                        path: make_png(dir.path(), "mark.png", "white", 32, 16),
                        mode: ImageWatermarkMode::Original,
                        width: None,
                        height: None,
                        transparency: 100,
                    },
                    WatermarkPos::TopLeft,
                )],
                ..Default::default()
            },
        ),
        job(
            out("turned.mp4"),
            spec("mp4", None),
            TranscodeExtras {
                rotate: Some(90.0),
                ..Default::default()
            },
        ),
    ];
    let files = run_fused(&input, &jobs, &info, &RunControl::new())
        .await
        .unwrap();
    assert_eq!(dims(&out("same.mp4")), (360, 640));
    assert_eq!(rotation(&out("same.mp4")), None, "no double rotation");
    assert_eq!(dims(&out("small.mp4")), (180, 320));
    assert_eq!(dims(&files[2].files[1]), (360, 640));
    assert_eq!(dims(&out("crop.mkv")), (360, 320));
    assert_eq!(dims(&out("marked.mp4")), (360, 640), "watermark graph");
    assert_eq!(rotation(&out("marked.mp4")), None);
    assert_eq!(shown(&out("turned.mp4")), (640, 360));
}

/// Concat: a stream copy into mp4 keeps the matrix; into HLS it falls back to a
/// re-encode, which autorotates; a re-encode takes its size from the first input as
/// shown.
#[tokio::test]
async fn concat_keeps_or_fixes_the_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let input = portrait(dir.path()).await;
    let info = probed(&input).await;
    let inputs = [
        ConcatInput::new(&input, info.clone()),
        ConcatInput::new(&input, info.clone()),
    ];
    let ctl = RunControl::new();
    let target = |container: &str| TranscodeSpec {
        container: container.into(),
        video: Some(VideoSpec {
            preset: Some("ultrafast".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let direct = |container| ConcatSpec {
        target: target(container),
        direct: true,
    };
    assert_eq!(
        concat_method(&inputs, &direct("mp4")),
        ConcatMethod::StreamCopy
    );
    let copied = dir.path().join("copied.mp4");
    concat(&inputs, &copied, &direct("mp4"), &ctl)
        .await
        .unwrap();
    assert_eq!(rotation(&copied), Some(90));
    assert_eq!(shown(&copied), (360, 640));

    assert_eq!(
        concat_method(&inputs, &direct("hls")),
        ConcatMethod::Reencode
    );
    let hls = concat(
        &inputs,
        &dir.path().join("joined.m3u8"),
        &direct("hls"),
        &ctl,
    )
    .await
    .unwrap();
    assert_eq!(dims(&hls[1]), (360, 640));

    let landscape = make_av(dir.path(), "land.mp4", 1, 25);
    let mixed = [
        ConcatInput::new(&input, info.clone()),
        ConcatInput::new(&landscape, probed(&landscape).await),
    ];
    assert_eq!(
        concat_method(&mixed, &direct("mp4")),
        ConcatMethod::Reencode
    );
    let out = dir.path().join("mixed.mp4");
    concat(&mixed, &out, &direct("mp4"), &ctl).await.unwrap();
    assert_eq!(dims(&out), (360, 640));
    assert_eq!(rotation(&out), None);
}

/// Animations and DASH packages of upright renditions are portrait too.
#[tokio::test]
async fn animation_and_dash_package_are_portrait() {
    let dir = tempfile::tempdir().unwrap();
    let input = portrait(dir.path()).await;
    let info = probed(&input).await;
    let ctl = RunControl::new();
    let gif = dir.path().join("a.gif");
    let spec = AnimationSpec {
        format: "gif".into(),
        width: Some(90),
        fps: Some(5.0),
        duration: Some(1.0),
        ..Default::default()
    };
    animation(&input, &gif, &spec, &info, &ctl).await.unwrap();
    assert_eq!(dims(&gif), (90, 160));

    let rendition = TranscodeSpec {
        container: "hls".into(),
        video: Some(VideoSpec {
            preset: Some("ultrafast".into()),
            ..Default::default()
        }),
        segment_duration: Some(1.0),
        ..Default::default()
    };
    let variant = dir.path().join("v/video.m3u8");
    reelflow_media::transcode(&input, &variant, &rendition, &info, &ctl)
        .await
        .unwrap();
    let mpd = dir.path().join("dash/pack.mpd");
    let files = pack_dash(&[variant], &mpd, None, &ctl).await.unwrap();
    let manifest = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        manifest.contains("width=\"360\"") && manifest.contains("height=\"640\""),
        "{manifest}"
    );
}
