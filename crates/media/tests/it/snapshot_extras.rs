//! Snapshots with CI extras: black-frame skipping, IsCheckCount, sprite sheets.

use std::path::PathBuf;

use reelflow_media::{
    BlackCheck, RunControl, SnapshotExtras, SnapshotMode, SnapshotOutMode, SnapshotSpec,
    SpriteScaleMethod, SpriteSpec, probe, snapshot_with,
};

use crate::common::{dims, make_av, make_lavfi, mean_luma};

/// `black_secs` of black, then `secs` of testsrc2 (320x240, 25 fps, key frame every
/// `gop` frames).
fn black_then_picture(dir: &std::path::Path, black_secs: u32, secs: u32, gop: u32) -> PathBuf {
    let graph = format!(
        "color=black:s=320x240:r=25:d={black_secs}[b];testsrc2=s=320x240:r=25:d={secs}[p];\
         [b][p]concat=n=2:v=1:a=0"
    );
    make_lavfi(dir, "black.mp4", &graph, gop)
}

fn black_check() -> SnapshotExtras {
    SnapshotExtras {
        black: Some(BlackCheck {
            black_level: 90,
            pixel_black_threshold: 32,
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn black_frames_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let input = black_then_picture(dir.path(), 1, 2, 25);
    let info = probe(&input, &RunControl::new()).await.unwrap();
    let spec = SnapshotSpec {
        interval: Some(0.8),
        count: 3,
        ..Default::default()
    };
    let plain = snapshot_with(
        &input,
        &dir.path().join("plain"),
        &spec,
        &SnapshotExtras::default(),
        &info,
        &RunControl::new(),
    )
    .await
    .unwrap();
    assert!(
        mean_luma(&plain.images[0]) < 20.0,
        "without the check the first is black"
    );

    let checked = snapshot_with(
        &input,
        &dir.path().join("checked"),
        &spec,
        &black_check(),
        &info,
        &RunControl::new(),
    )
    .await
    .unwrap();
    // Slot [0, 0.8) is black throughout and yields nothing; slots [0.8, 1.6) and
    // [1.6, 2.4) give their first non-black frames, then the capture goes on.
    assert!(!checked.images.is_empty());
    for image in &checked.images {
        assert!(mean_luma(image) > 60.0, "{} is black", image.display());
    }
    let names: Vec<_> = checked
        .images
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names[0], "snap-00000.jpg",
        "numbering has no gaps: {names:?}"
    );
}

#[tokio::test]
async fn black_check_in_seek_mode() {
    let dir = tempfile::tempdir().unwrap();
    // 12 s of black then 18 s of picture, tiny so 30 s cost little.
    let graph =
        "color=black:s=64x48:r=5:d=12[b];testsrc2=s=64x48:r=5:d=18[p];[b][p]concat=n=2:v=1:a=0";
    let input = make_lavfi(dir.path(), "long.mp4", graph, 10);
    let info = probe(&input, &RunControl::new()).await.unwrap();
    let spec = SnapshotSpec {
        mode: SnapshotMode::Average,
        count: 2,
        ..Default::default()
    };
    // Targets 0 s and 15 s are 15 s apart: one input seek each, the first searching
    // its whole slot for a non-black frame.
    let out = snapshot_with(
        &input,
        dir.path(),
        &spec,
        &black_check(),
        &info,
        &RunControl::new(),
    )
    .await
    .unwrap();
    assert_eq!(out.images.len(), 2);
    assert!(out.images.iter().all(|i| mean_luma(i) > 60.0));
}

#[tokio::test]
async fn check_count_falls_back_to_average() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_av(dir.path(), "in.mp4", 2, 25);
    let info = probe(&input, &RunControl::new()).await.unwrap();
    let spec = SnapshotSpec {
        interval: Some(1.5),
        count: 4,
        ..Default::default()
    };
    let run = |extras: SnapshotExtras, sub: &'static str| {
        let (input, info, spec) = (input.clone(), info.clone(), spec.clone());
        let out = dir.path().join(sub);
        async move {
            snapshot_with(&input, &out, &spec, &extras, &info, &RunControl::new())
                .await
                .unwrap()
        }
    };
    let plain = run(SnapshotExtras::default(), "plain").await;
    assert_eq!(plain.images.len(), 2, "0 s and 1.5 s only");
    let checked = run(
        SnapshotExtras {
            check_count: true,
            ..Default::default()
        },
        "checked",
    )
    .await;
    assert_eq!(checked.images.len(), 4, "Average over 2 s");
}

#[tokio::test]
async fn sprites_tile_several_sheets() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_av(dir.path(), "in.mp4", 2, 25);
    let info = probe(&input, &RunControl::new()).await.unwrap();
    let spec = SnapshotSpec {
        interval: Some(0.25),
        count: 7,
        width: Some(160),
        ..Default::default()
    };
    let sprite = SpriteSpec {
        cell_width: Some(80),
        cell_height: Some(80),
        padding: 4,
        margin: 6,
        color: "white".into(),
        columns: 2,
        lines: 2,
        scale_method: SpriteScaleMethod::MaxWHScaleAndPad,
    };
    let both = SnapshotExtras {
        out_mode: SnapshotOutMode::SnapshotAndSprite,
        sprite: Some(sprite.clone()),
        ..Default::default()
    };
    let out = snapshot_with(
        &input,
        &dir.path().join("both"),
        &spec,
        &both,
        &info,
        &RunControl::new(),
    )
    .await
    .unwrap();
    assert_eq!(out.images.len(), 7);
    assert!(out.images.iter().all(|i| dims(i) == (160, 120)));
    // 7 images at 4 per sheet: two sheets of 2×80 + 4 + 2×6 = 176 px squares.
    assert_eq!(out.sprites.len(), 2, "{:?}", out.sprites);
    assert!(out.sprites.iter().all(|s| dims(s) == (176, 176)));
    assert!(out.sprites[0].ends_with("sprite-00000.jpg"));

    let only = SnapshotExtras {
        out_mode: SnapshotOutMode::OnlySprite,
        sprite: Some(SpriteSpec {
            columns: 10,
            lines: 1,
            cell_width: None,
            cell_height: None,
            scale_method: SpriteScaleMethod::DirectScale,
            ..sprite
        }),
        ..Default::default()
    };
    let sprite_dir = dir.path().join("only");
    let out = snapshot_with(&input, &sprite_dir, &spec, &only, &info, &RunControl::new())
        .await
        .unwrap();
    assert!(out.images.is_empty());
    assert_eq!(out.sprites.len(), 1);
    // Cells default to the snapshot size (160x120): 10 × 160 + 9 × 4 + 12.
    assert_eq!(dims(&out.sprites[0]), (1648, 132));
    let left: Vec<_> = std::fs::read_dir(&sprite_dir).unwrap().collect();
    assert_eq!(left.len(), 1, "images removed in OnlySprite mode");
}
