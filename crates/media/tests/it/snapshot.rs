//! Real snapshots in every mode.

use reelflow_media::{RunControl, SnapshotMode, SnapshotSpec, probe, snapshot};

use crate::common::{make_av, make_long_video};

async fn widths(images: &[std::path::PathBuf]) -> Vec<Option<u32>> {
    let mut out = Vec::new();
    for image in images {
        let info = probe(image, &RunControl::new()).await.unwrap();
        out.push(info.video().unwrap().width);
    }
    out
}

#[tokio::test]
async fn interval_count_three_with_width() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_av(dir.path(), "in.mp4", 2, 25);
    let info = probe(&input, &RunControl::new()).await.unwrap();
    let spec = SnapshotSpec {
        mode: SnapshotMode::Interval,
        start: 0.2,
        interval: Some(0.5),
        count: 3,
        width: Some(160),
        ..Default::default()
    };
    let out_dir = dir.path().join("snaps");
    let images = snapshot(&input, &out_dir, &spec, &info, &RunControl::new())
        .await
        .unwrap();
    let names: Vec<_> = images
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["snap-00000.jpg", "snap-00001.jpg", "snap-00002.jpg"]
    );
    assert_eq!(widths(&images).await, [Some(160); 3]);
    let image = probe(&images[0], &RunControl::new()).await.unwrap();
    assert_eq!(
        image.video().unwrap().height,
        Some(120),
        "aspect ratio kept"
    );
}

#[tokio::test]
async fn interval_stops_at_the_end_of_the_media() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_av(dir.path(), "in.mp4", 2, 25);
    let info = probe(&input, &RunControl::new()).await.unwrap();
    let spec = SnapshotSpec {
        interval: Some(0.8),
        count: 10,
        format: "png".into(),
        ..Default::default()
    };
    // Leftovers of an earlier attempt must not be reported as this run's images.
    let stale = dir.path().join("snap-00003.png");
    std::fs::write(&stale, b"stale").unwrap();
    let images = snapshot(&input, dir.path(), &spec, &info, &RunControl::new())
        .await
        .unwrap();
    assert!(!stale.exists());
    assert_eq!(
        images.len(),
        3,
        "0, 0.8 and 1.6 s of a 2 s clip: {images:?}"
    );
    assert!(images.iter().all(|p| p.extension().unwrap() == "png"));
}

#[tokio::test]
async fn average_on_a_long_input_seeks_per_frame() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_long_video(dir.path(), "long.mp4", 40);
    let info = probe(&input, &RunControl::new()).await.unwrap();
    let spec = SnapshotSpec {
        mode: SnapshotMode::Average,
        count: 3,
        height: Some(24),
        ..Default::default()
    };
    let images = snapshot(&input, dir.path(), &spec, &info, &RunControl::new())
        .await
        .unwrap();
    assert_eq!(images.len(), 3);
    assert_eq!(widths(&images).await, [Some(32); 3]);
}

#[tokio::test]
async fn keyframes_only() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_av(dir.path(), "in.mp4", 2, 10);
    let info = probe(&input, &RunControl::new()).await.unwrap();
    let spec = SnapshotSpec {
        mode: SnapshotMode::KeyFrame,
        count: 4,
        ..Default::default()
    };
    let images = snapshot(&input, dir.path(), &spec, &info, &RunControl::new())
        .await
        .unwrap();
    assert_eq!(images.len(), 4, "key frames at 0, 0.4, 0.8 and 1.2 s");
}
