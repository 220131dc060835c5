//! Transcodes with CI extras: crop, rotation, AdjDarMethod, source checks, watermarks,
//! and fused runs mixing watermarked transcodes with snapshots.

use reelflow_media::{
    AdjDarMethod, AdjMethod, ImageWatermark, ImageWatermarkMode, LocMode, MediaInfo, OutputJob,
    RunControl, SnapshotExtras, SnapshotMode, SnapshotSpec, TextWatermark, TransChecks,
    TranscodeExtras, TranscodeSpec, VideoSpec, Watermark, WatermarkPos, probe, run_fused,
    transcode_with,
};

use crate::common::{dims, make_av, make_png, mean_rgb, rgb};

async fn probe_ok(path: &std::path::Path) -> MediaInfo {
    probe(path, &RunControl::new()).await.unwrap()
}

fn mp4(width: Option<u32>, height: Option<u32>) -> TranscodeSpec {
    TranscodeSpec {
        container: "mp4".into(),
        video: Some(VideoSpec {
            width,
            height,
            preset: Some("ultrafast".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn crop_rotate_and_pad_to_a_square() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_av(dir.path(), "in.mp4", 1, 25);
    let info = probe_ok(&input).await;
    // 320x240 → crop 200x100 → quarter turn 100x200 → padded into 160x160.
    let extras = TranscodeExtras {
        crop: Some("200:100:60:70".into()),
        rotate: Some(90.0),
        adj_dar: AdjDarMethod::Pad,
        ..Default::default()
    };
    let output = dir.path().join("square.mp4");
    transcode_with(
        &input,
        &output,
        &mp4(Some(160), Some(160)),
        &extras,
        &info,
        &RunControl::new(),
    )
    .await
    .unwrap();
    assert_eq!(dims(&output), (160, 160));
    // 100x200 fitted into 160x160 is 80x160: 40 black columns on each side.
    let left = mean_rgb(&rgb(&output, Some(0.5), Some("crop=30:160:0:0")));
    assert!(
        left.iter().all(|c| *c < 20.0),
        "left bar is black: {left:?}"
    );
    let middle = mean_rgb(&rgb(&output, Some(0.5), Some("crop=60:160:50:0")));
    assert!(
        middle.iter().any(|c| *c > 60.0),
        "picture in the middle: {middle:?}"
    );
}

#[tokio::test]
async fn adj_dar_crop_fills_and_free_rotation_stays_even() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_av(dir.path(), "in.mp4", 1, 25);
    let info = probe_ok(&input).await;
    let jobs = vec![
        OutputJob::Transcode {
            path: dir.path().join("fill.mp4"),
            spec: mp4(Some(160), Some(160)),
            extras: TranscodeExtras {
                adj_dar: AdjDarMethod::Crop,
                ..Default::default()
            },
        },
        OutputJob::Transcode {
            path: dir.path().join("tilt.mp4"),
            spec: mp4(None, None),
            extras: TranscodeExtras {
                rotate: Some(30.0),
                ..Default::default()
            },
        },
    ];
    let files = run_fused(&input, &jobs, &info, &RunControl::new())
        .await
        .unwrap();
    assert_eq!(dims(&files[0].files[0]), (160, 160));
    let (w, h) = dims(&files[1].files[0]);
    // 320x240 turned 30°: about 397x368, rounded down to even sides.
    assert!(
        (394..=398).contains(&w) && (364..=370).contains(&h),
        "{w}x{h}"
    );
    assert!(w % 2 == 0 && h % 2 == 0);
}

#[tokio::test]
async fn source_checks_keep_the_source_or_fail() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_av(dir.path(), "in.mp4", 1, 25);
    let info = probe_ok(&input).await;
    let mut spec = mp4(Some(640), None);
    spec.video.as_mut().unwrap().fps = Some(50.0);
    let keep = TranscodeExtras {
        checks: TransChecks {
            resolution: Some(AdjMethod::UseSource),
            video_fps: Some(AdjMethod::UseSource),
            ..Default::default()
        },
        ..Default::default()
    };
    let output = dir.path().join("kept.mp4");
    transcode_with(&input, &output, &spec, &keep, &info, &RunControl::new())
        .await
        .unwrap();
    let out = probe_ok(&output).await;
    let video = out.video().unwrap();
    assert_eq!((video.width, video.height), (Some(320), Some(240)));
    assert_eq!(video.fps, Some(25.0));

    let fail = TranscodeExtras {
        checks: TransChecks {
            resolution: Some(AdjMethod::Fail),
            ..Default::default()
        },
        ..Default::default()
    };
    let refused = dir.path().join("refused.mp4");
    let err = transcode_with(&input, &refused, &spec, &fail, &info, &RunControl::new())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "InvalidInput");
    assert!(err.to_string().contains("640x480"), "{err}");
    assert!(!refused.exists());
}

#[tokio::test]
async fn text_and_image_watermarks_with_time_windows() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_av(dir.path(), "in.mp4", 2, 25);
    let info = probe_ok(&input).await;
    let logo = make_png(dir.path(), "logo.png", "0x00FF00", 40, 20);
    // A font whose path needs escaping at both filtergraph levels.
    let odd_dir = dir.path().join("fonts, [odd]");
    std::fs::create_dir_all(&odd_dir).unwrap();
    let font = odd_dir.join("it's:a;font.ttf");
    let system_font = reelflow_media::find_font(None).await.unwrap();
    std::fs::copy(&system_font, &font).unwrap();

    let text = Watermark {
        loc_mode: LocMode::Absolute,
        dx: 4.0,
        dy: 4.0,
        ..Watermark::text(
            TextWatermark {
                text: "a: it's 50% [ok], \\o/; %{pts}█".into(),
                font_size: 40,
                font_color: "0xFF0000".into(),
                transparency: 100,
                font_file: Some(font),
                font_type: None,
            },
            WatermarkPos::BottomRight,
        )
    };
    let image = Watermark {
        loc_mode: LocMode::Relativity,
        dx: 5.0,
        dy: 5.0,
        start_time: Some(0.8),
        end_time: Some(1.6),
        ..Watermark::image(
            ImageWatermark {
                path: logo,
                mode: ImageWatermarkMode::Proportion,
                width: Some(25.0),
                height: None,
                transparency: 100,
            },
            WatermarkPos::TopLeft,
        )
    };
    let extras = TranscodeExtras {
        watermarks: vec![text, image],
        ..Default::default()
    };
    let output = dir.path().join("marked.mp4");
    transcode_with(
        &input,
        &output,
        &mp4(None, None),
        &extras,
        &info,
        &RunControl::new(),
    )
    .await
    .unwrap();
    assert_eq!(dims(&output), (320, 240));
    // The logo is 25 % of 320 = 80x40 at (16, 12) while 0.8 ≤ t ≤ 1.6.
    let logo_at = |t| mean_rgb(&rgb(&output, Some(t), Some("crop=60:24:26:20")));
    let shown = logo_at(1.2);
    assert!(
        shown[1] > 200.0 && shown[0] < 60.0 && shown[2] < 60.0,
        "green logo: {shown:?}"
    );
    let hidden = logo_at(0.2);
    assert!(
        !(hidden[1] > 200.0 && hidden[0] < 60.0),
        "no logo yet: {hidden:?}"
    );
    // The text ends 4 px from the bottom right corner: its last glyph is a red block.
    let corner = mean_rgb(&rgb(&output, Some(0.5), Some("crop=12:12:296:216")));
    assert!(
        corner[0] > 150.0 && corner[1] < 90.0,
        "red text: {corner:?}"
    );
}

#[tokio::test]
async fn text_watermark_without_a_font_uses_a_system_font() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_av(dir.path(), "in.mp4", 1, 25);
    let info = probe_ok(&input).await;
    let extras = TranscodeExtras {
        watermarks: vec![Watermark::text(
            TextWatermark {
                text: "reelflow".into(),
                font_type: Some("arial.ttf".into()),
                ..Default::default()
            },
            WatermarkPos::Center,
        )],
        ..Default::default()
    };
    let output = dir.path().join("t.mp4");
    transcode_with(
        &input,
        &output,
        &mp4(Some(160), None),
        &extras,
        &info,
        &RunControl::new(),
    )
    .await
    .unwrap();
    assert_eq!(dims(&output), (160, 120));
}

#[tokio::test]
async fn missing_watermark_image_is_invalid_spec() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_av(dir.path(), "in.mp4", 1, 25);
    let info = probe_ok(&input).await;
    let extras = TranscodeExtras {
        watermarks: vec![Watermark::image(
            ImageWatermark {
                path: dir.path().join("nope.png"),
                mode: ImageWatermarkMode::Original,
                width: None,
                height: None,
                transparency: 50,
            },
            WatermarkPos::TopRight,
        )],
        ..Default::default()
    };
    let err = transcode_with(
        &input,
        &dir.path().join("x.mp4"),
        &mp4(None, None),
        &extras,
        &info,
        &RunControl::new(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "InvalidSpec");
    assert!(err.to_string().contains("nope.png"), "{err}");
}

#[tokio::test]
async fn fused_run_writes_watermarked_hls_and_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_av(dir.path(), "in.mp4", 2, 25);
    let info = probe_ok(&input).await;
    let logo = make_png(dir.path(), "logo.png", "white", 32, 32);
    let hls = TranscodeSpec {
        container: "hls".into(),
        segment_duration: Some(1.0),
        ..mp4(Some(160), None)
    };
    let jobs = vec![
        OutputJob::Transcode {
            path: dir.path().join("hls/v.m3u8"),
            spec: hls,
            extras: TranscodeExtras {
                watermarks: vec![Watermark::image(
                    ImageWatermark {
                        path: logo,
                        mode: ImageWatermarkMode::Fixed,
                        width: Some(16.0),
                        height: Some(16.0),
                        transparency: 50,
                    },
                    WatermarkPos::BottomLeft,
                )],
                ..Default::default()
            },
        },
        OutputJob::Transcode {
            path: dir.path().join("small.mp4"),
            spec: mp4(None, Some(120)),
            extras: TranscodeExtras::default(),
        },
        OutputJob::Snapshot {
            dir: dir.path().join("snaps"),
            spec: SnapshotSpec {
                mode: SnapshotMode::Average,
                count: 4,
                width: Some(80),
                ..Default::default()
            },
            extras: SnapshotExtras::default(),
        },
    ];
    let files = run_fused(&input, &jobs, &info, &RunControl::new())
        .await
        .unwrap();
    assert_eq!(files.len(), 3);
    let playlist = std::fs::read_to_string(&files[0].files[0]).unwrap();
    assert!(playlist.contains("#EXT-X-ENDLIST"), "{playlist}");
    assert!(files[0].files.len() >= 3, "{:?}", files[0].files);
    assert_eq!(dims(&files[0].files[1]), (160, 120));
    assert_eq!(dims(&files[1].files[0]), (160, 120));
    let snaps = &files[2].files;
    assert_eq!(snaps.len(), 4, "{snaps:?}");
    assert!(snaps.iter().all(|s| dims(s) == (80, 60)));
}
