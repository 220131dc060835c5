//! Odd source sizes: every encoder that needs even (or larger) frames gets them, on
//! every path that encodes video.

use std::path::{Path, PathBuf};

use reelflow_media::{
    AnimationSpec, ConcatInput, ConcatSpec, ImageWatermark, ImageWatermarkMode, OutputJob,
    RunControl, TranscodeExtras, TranscodeSpec, VideoSpec, Watermark, WatermarkPos, animation,
    concat, run_fused, transcode, transcode_with,
};

use crate::common::{dims, make_png};
use crate::inspect::{assert_video, field, make_sized, probed};

fn video(container: &str, codec: &str) -> TranscodeSpec {
    let preset = match codec {
        "H.264" | "H.265" => Some("ultrafast".into()),
        "AV1" => Some("12".into()),
        _ => None,
    };
    TranscodeSpec {
        container: container.into(),
        video: Some(VideoSpec {
            codec: Some(codec.into()),
            preset,
            ..Default::default()
        }),
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

/// The case: 1164x767 VP8/WebM into an H.264 mp4 template without a size.
#[tokio::test]
async fn odd_height_vp8_webm_to_h264_mp4_is_even() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_sized(
        dir.path(),
        "in.webm",
        (1164, 767),
        0.4,
        ("libvpx", "yuv420p"),
        Some("libvorbis"),
    );
    let info = probed(&input).await;
    assert_eq!(info.video().unwrap().height, Some(767));
    let out = dir.path().join("out.mp4");
    transcode(
        &input,
        &out,
        &video("mp4", "H.264"),
        &info,
        &RunControl::new(),
    )
    .await
    .unwrap();
    assert_video(&out, (1164, 766), "h264", "yuv420p");
}

/// The other case (odd width, yuv444p source) through every video encoder in
/// one fused run, HLS included.
#[tokio::test]
async fn odd_width_yuv444p_source_through_every_encoder_fused() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_sized(
        dir.path(),
        "in.mp4",
        (1165, 767),
        0.4,
        ("libx264", "yuv444p"),
        Some("aac"),
    );
    let info = probed(&input).await;
    let out = |name: &str| dir.path().join(name);
    let jobs = [
        job(out("h264.mp4"), video("mp4", "H.264")),
        job(out("h265.mp4"), video("mp4", "H.265")),
        job(out("vp8.webm"), video("webm", "VP8")),
        job(out("vp9.webm"), video("webm", "VP9")),
        job(out("av1.mkv"), video("mkv", "AV1")),
        job(out("h264.m3u8"), video("hls", "H.264")),
    ];
    let files = run_fused(&input, &jobs, &info, &RunControl::new())
        .await
        .unwrap();
    assert_video(&out("h264.mp4"), (1164, 766), "h264", "yuv420p");
    assert_video(&out("h265.mp4"), (1164, 766), "hevc", "yuv420p");
    assert_video(&out("vp8.webm"), (1164, 766), "vp8", "yuv420p");
    assert_video(&out("vp9.webm"), (1164, 766), "vp9", "yuv420p");
    assert_video(&out("av1.mkv"), (1164, 766), "av1", "yuv420p");
    assert_video(&files[5].files[1], (1164, 766), "h264", "yuv420p");
}

/// A template that asks for 4:4:4 needs no rounding: the size stays odd.
#[tokio::test]
async fn yuv444p_template_keeps_an_odd_size() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_sized(
        dir.path(),
        "in.mp4",
        (1165, 767),
        0.2,
        ("libx264", "yuv444p"),
        None,
    );
    let info = probed(&input).await;
    let mut spec = video("mkv", "H.264");
    spec.video.as_mut().unwrap().pixfmt = Some("yuv444p".into());
    let out = dir.path().join("full.mkv");
    transcode(&input, &out, &spec, &info, &RunControl::new())
        .await
        .unwrap();
    assert_video(&out, (1165, 767), "h264", "yuv444p");
    assert_eq!(field(&out, "v:0", "profile"), "High 4:4:4 Predictive");
}

/// Odd explicit sizes, crops and watermark graphs all come out even.
#[tokio::test]
async fn odd_template_sizes_crops_and_watermarks_are_even() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_sized(
        dir.path(),
        "in.mp4",
        (641, 361),
        0.2,
        ("libx264", "yuv444p"),
        None,
    );
    let info = probed(&input).await;
    let sized = |w: Option<u32>, h: Option<u32>| {
        let mut spec = video("mp4", "H.264");
        let v = spec.video.as_mut().unwrap();
        (v.width, v.height) = (w, h);
        spec
    };
    let mark = make_png(dir.path(), "mark.png", "white", 31, 17);
    let watermark = Watermark::image(
        ImageWatermark {
            path: mark,
            mode: ImageWatermarkMode::Original,
            width: None,
            height: None,
            transparency: 100,
        },
        WatermarkPos::BottomRight,
    );
    let out = |name: &str| dir.path().join(name);
    let jobs = [
        job(out("both.mp4"), sized(Some(333), Some(185))),
        job(out("width.mp4"), sized(Some(333), None)),
        OutputJob::Transcode {
            path: out("crop.mp4"),
            spec: sized(None, None),
            extras: TranscodeExtras {
                crop: Some("201:151:3:3".into()),
                rotate: Some(90.0),
                ..Default::default()
            },
        },
        OutputJob::Transcode {
            path: out("mark.mp4"),
            spec: sized(None, None),
            extras: TranscodeExtras {
                watermarks: vec![watermark],
                ..Default::default()
            },
        },
    ];
    run_fused(&input, &jobs, &info, &RunControl::new())
        .await
        .unwrap();
    assert_eq!(dims(&out("both.mp4")), (332, 184));
    let (w, h) = dims(&out("width.mp4"));
    assert_eq!((w, h % 2), (332, 0), "{w}x{h}");
    assert_eq!(dims(&out("crop.mp4")), (150, 200));
    assert_eq!(dims(&out("mark.mp4")), (640, 360));
}

/// SVT-AV1 refuses frames under 64 pixels a side: tiny sources are padded.
#[tokio::test]
async fn av1_pads_tiny_sources() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_sized(
        dir.path(),
        "tiny.mp4",
        (47, 35),
        0.2,
        ("libx264", "yuv444p"),
        None,
    );
    let info = probed(&input).await;
    let out = dir.path().join("tiny.mkv");
    transcode(
        &input,
        &out,
        &video("mkv", "AV1"),
        &info,
        &RunControl::new(),
    )
    .await
    .unwrap();
    assert_video(&out, (64, 64), "av1", "yuv420p");
}

/// Concat re-encodes to the first input's size, made even; odd template sizes too.
#[tokio::test]
async fn concat_reencode_of_odd_inputs_is_even() {
    let dir = tempfile::tempdir().unwrap();
    let a = make_sized(
        dir.path(),
        "a.webm",
        (1164, 767),
        0.2,
        ("libvpx", "yuv420p"),
        None,
    );
    let b = make_sized(
        dir.path(),
        "b.mp4",
        (333, 201),
        0.2,
        ("libx264", "yuv444p"),
        None,
    );
    let inputs = [input(&a).await, input(&b).await];
    let spec = ConcatSpec {
        target: video("mp4", "H.264"),
        direct: false,
    };
    let out = dir.path().join("joined.mp4");
    concat(&inputs, &out, &spec, &RunControl::new())
        .await
        .unwrap();
    assert_video(&out, (1164, 766), "h264", "yuv420p");
    let mut odd = spec.clone();
    odd.target.video.as_mut().unwrap().width = Some(321);
    odd.target.video.as_mut().unwrap().height = Some(179);
    let out = dir.path().join("sized.mp4");
    concat(&inputs, &out, &odd, &RunControl::new())
        .await
        .unwrap();
    assert_video(&out, (320, 178), "h264", "yuv420p");
}

/// Animations need no even size: a GIF keeps an odd one. (Animated WebP takes any size
/// too, but ffprobe 5.1 cannot read its size back.)
#[tokio::test]
async fn animations_take_odd_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_sized(
        dir.path(),
        "in.mp4",
        (165, 97),
        0.4,
        ("libx264", "yuv444p"),
        None,
    );
    let info = probed(&input).await;
    for format in ["gif", "hgif"] {
        let spec = AnimationSpec {
            format: format.into(),
            ..Default::default()
        };
        let out = dir.path().join(format!("{format}.gif"));
        animation(&input, &out, &spec, &info, &RunControl::new())
            .await
            .unwrap();
        assert_eq!(dims(&out), (165, 97), "{format}");
    }
}

/// `transcode_with` (the single-output form with extras) shares the same rule.
#[tokio::test]
async fn transcode_with_free_rotation_of_odd_source_is_even() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_sized(
        dir.path(),
        "in.mp4",
        (161, 91),
        0.2,
        ("libx264", "yuv444p"),
        None,
    );
    let info = probed(&input).await;
    let extras = TranscodeExtras {
        rotate: Some(30.0),
        ..Default::default()
    };
    let out = dir.path().join("turned.mp4");
    transcode_with(
        &input,
        &out,
        &video("mp4", "H.265"),
        &extras,
        &info,
        &RunControl::new(),
    )
    .await
    .unwrap();
    let (w, h) = dims(&out);
    assert_eq!((w % 2, h % 2), (0, 0), "{w}x{h}");
}

async fn input(path: &Path) -> ConcatInput {
    ConcatInput::new(path, probed(path).await)
}
