//! imageMogr2 operations applied to real images.

use reelflow_media::{PicOps, RunControl, apply_pic_ops, probe};

use crate::common::{dims, ffmpeg_make, mean_rgb, rgb};

fn picture(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    ffmpeg_make(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=320x240:d=1",
        "-frames:v",
        "1",
        path.to_str().unwrap(),
    ]);
    path
}

#[tokio::test]
async fn thumbnail_crop_rotate_to_webp() {
    let dir = tempfile::tempdir().unwrap();
    let input = picture(dir.path(), "shot.png");
    let ops = PicOps::parse(
        "imageMogr2/thumbnail/160x/crop/100x80/gravity/center/rotate/90/format/webp/quality/80",
    )
    .unwrap();
    let out = apply_pic_ops(&input, &dir.path().join("out"), &ops, &RunControl::new())
        .await
        .unwrap();
    assert!(out.ends_with("out/shot.webp"), "{}", out.display());
    let info = probe(&out, &RunControl::new()).await.unwrap();
    assert_eq!(info.video().unwrap().codec_name, "webp");
    assert_eq!(dims(&out), (80, 100));
}

#[tokio::test]
async fn jpeg_quality_and_in_place_processing() {
    let dir = tempfile::tempdir().unwrap();
    let input = picture(dir.path(), "shot.jpg");
    let low = PicOps::parse("imageMogr2/quality/5").unwrap();
    let high = PicOps::parse("imageMogr2/quality/95").unwrap();
    let a = apply_pic_ops(&input, &dir.path().join("low"), &low, &RunControl::new())
        .await
        .unwrap();
    let b = apply_pic_ops(&input, &dir.path().join("high"), &high, &RunControl::new())
        .await
        .unwrap();
    let (a_len, b_len) = (
        std::fs::metadata(&a).unwrap().len(),
        std::fs::metadata(&b).unwrap().len(),
    );
    assert!(
        a_len * 2 < b_len,
        "quality 5: {a_len} bytes, 95: {b_len} bytes"
    );

    // Same directory, same format: the input is replaced by its processed self.
    let shrink = PicOps::parse("imageMogr2/thumbnail/!50p/strip").unwrap();
    let out = apply_pic_ops(&input, dir.path(), &shrink, &RunControl::new())
        .await
        .unwrap();
    assert_eq!(out, input);
    assert_eq!(dims(&input), (160, 120));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.contains(".part."))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn free_rotation_fills_the_corners() {
    let dir = tempfile::tempdir().unwrap();
    let input = picture(dir.path(), "shot.png");
    let ops = PicOps::parse("imageMogr2/rotate/45/format/jpg").unwrap();
    let out = apply_pic_ops(&input, dir.path(), &ops, &RunControl::new())
        .await
        .unwrap();
    // 320x240 turned 45°: about 396x396; the corner is white fill.
    assert_eq!(dims(&out), (396, 396));
    let corner = mean_rgb(&rgb(&out, None, Some("crop=8:8:0:0")));
    assert!(corner.iter().all(|c| *c > 230.0), "{corner:?}");
}
