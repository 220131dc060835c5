//! Smart covers on a crafted clip: black, blurred, then two sharp segments.

use std::path::Path;

use reelflow_media::{MediaTools, RunControl, SmartCoverSpec, probe};

use crate::common::{dims, make_lavfi, rgb};

/// 2 s black, 2 s heavily blurred testsrc2, 2 s sharp testsrc2, 2 s mandelbrot;
/// 320x240 at 25 fps, a key frame every 5 frames.
fn crafted(dir: &Path) -> std::path::PathBuf {
    let graph = "color=black:s=320x240:r=25:d=2[k];\
                 testsrc2=s=320x240:r=25:d=2,boxblur=12:2[b];\
                 testsrc2=s=320x240:r=25:d=2[s];\
                 mandelbrot=s=320x240:r=25,trim=duration=2,setpts=PTS-STARTPTS[m];\
                 [k][b][s][m]concat=n=4:v=1:a=0";
    make_lavfi(dir, "crafted.mp4", graph, 5)
}

/// Variance of the Laplacian of a picture's luma at 160x120.
fn sharpness(path: &Path, at: Option<f64>) -> f64 {
    let px = rgb(path, at, Some("scale=160:120"));
    let y: Vec<f64> = px
        .chunks_exact(3)
        .map(|p| 0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2]))
        .collect();
    let (w, h) = (160, 120);
    let mut lap = Vec::new();
    for r in 1..h - 1 {
        for c in 1..w - 1 {
            let i = r * w + c;
            lap.push(4.0 * y[i] - y[i - 1] - y[i + 1] - y[i - w] - y[i + w]);
        }
    }
    let mean = lap.iter().sum::<f64>() / lap.len() as f64;
    lap.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / lap.len() as f64
}

fn luma(path: &Path) -> f64 {
    let px = rgb(path, None, Some("scale=160:120"));
    let sum: f64 = px
        .chunks_exact(3)
        .map(|p| 0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2]))
        .sum();
    sum / (px.len() / 3) as f64
}

#[tokio::test]
async fn picks_come_from_the_sharp_segments() {
    let dir = tempfile::tempdir().unwrap();
    let input = crafted(dir.path());
    let info = probe(&input, &RunControl::new()).await.unwrap();
    let spec = SmartCoverSpec {
        count: 3,
        width: Some(160),
        ..Default::default()
    };
    let out = dir.path().join("covers");
    let covers = MediaTools::default()
        .smart_cover(&input, &out, &spec, &info, &RunControl::new())
        .await
        .unwrap();
    assert_eq!(covers.len(), 3, "{covers:?}");
    let blurred = sharpness(&input, Some(3.0));
    for cover in &covers {
        assert!(
            cover.time >= 3.95,
            "picked from black/blurred at {}",
            cover.time
        );
        assert_eq!(dims(&cover.path), (160, 120));
        assert!(luma(&cover.path) > 40.0, "{} is dark", cover.path.display());
        let sharp = sharpness(&cover.path, None);
        assert!(
            sharp > 4.0 * blurred,
            "{} is soft: {sharp} vs {blurred}",
            cover.path.display()
        );
    }
    // Spread: not all from one segment.
    assert!(
        covers.iter().any(|c| c.time < 6.0) && covers.iter().any(|c| c.time >= 6.0),
        "{covers:?}"
    );
    assert!(
        covers.windows(2).all(|w| w[0].score >= w[1].score),
        "best first"
    );
    let names: Vec<_> = covers
        .iter()
        .map(|c| c.path.file_name().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        ["cover-00000.jpg", "cover-00001.jpg", "cover-00002.jpg"]
    );
}

#[tokio::test]
async fn delete_duplicates_on_a_still_picture() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_lavfi(dir.path(), "still.mp4", "smptebars=s=320x240:r=25:d=3", 10);
    let info = probe(&input, &RunControl::new()).await.unwrap();
    let tools = MediaTools::default();
    let dedup = SmartCoverSpec {
        count: 3,
        format: "png".into(),
        delete_duplicates: true,
        ..Default::default()
    };
    let covers = tools
        .smart_cover(
            &input,
            &dir.path().join("d"),
            &dedup,
            &info,
            &RunControl::new(),
        )
        .await
        .unwrap();
    assert_eq!(covers.len(), 1, "one look, one cover: {covers:?}");
    assert_eq!(dims(&covers[0].path), (320, 240));
    let all = SmartCoverSpec {
        delete_duplicates: false,
        ..dedup
    };
    let covers = tools
        .smart_cover(
            &input,
            &dir.path().join("a"),
            &all,
            &info,
            &RunControl::new(),
        )
        .await
        .unwrap();
    assert_eq!(covers.len(), 3, "{covers:?}");
}

#[tokio::test]
async fn a_short_clip_with_one_key_frame_still_gets_distinct_covers() {
    let dir = tempfile::tempdir().unwrap();
    // 4 s, one key frame: every seek would land on frame 0.
    let input = make_lavfi(
        dir.path(),
        "one-gop.mp4",
        "testsrc2=s=320x240:r=25:d=4",
        250,
    );
    let info = probe(&input, &RunControl::new()).await.unwrap();
    let covers = MediaTools::default()
        .smart_cover(
            &input,
            &dir.path().join("c"),
            &SmartCoverSpec::default(),
            &info,
            &RunControl::new(),
        )
        .await
        .unwrap();
    assert_eq!(covers.len(), 3, "{covers:?}");
    let mut times: Vec<f64> = covers.iter().map(|c| c.time).collect();
    times.sort_by(f64::total_cmp);
    assert!(
        times.windows(2).all(|w| w[1] - w[0] > 0.4),
        "spread: {times:?}"
    );
    let images: Vec<Vec<u8>> = covers.iter().map(|c| rgb(&c.path, None, None)).collect();
    assert!(images[0] != images[1] && images[1] != images[2] && images[0] != images[2]);
}
