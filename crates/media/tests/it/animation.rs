//! Animated GIF (plain and high quality) and WebP.

use std::path::Path;

use reelflow_media::{AnimationSpec, RunControl, animation, probe};

use crate::common::{dims, frame_count, make_av};

/// Canvas size and frame count of an animated WebP, read from its RIFF chunks (ffmpeg
/// 5.1 cannot decode animated WebP).
fn webp_facts(path: &Path) -> ((u32, u32), usize) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..4], b"RIFF");
    assert_eq!(&bytes[8..12], b"WEBP");
    let mut pos = 12;
    let (mut size, mut frames) = ((0, 0), 0);
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let len = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap()) as usize;
        let body = &bytes[pos + 8..(pos + 8 + len).min(bytes.len())];
        match id {
            b"VP8X" => {
                let w = u32::from_le_bytes([body[4], body[5], body[6], 0]) + 1;
                let h = u32::from_le_bytes([body[7], body[8], body[9], 0]) + 1;
                size = (w, h);
            }
            b"ANMF" => frames += 1,
            _ => {}
        }
        pos += 8 + len + (len & 1);
    }
    (size, frames)
}

#[tokio::test]
async fn gif_hgif_and_webp() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_av(dir.path(), "in.mp4", 2, 10);
    let info = probe(&input, &RunControl::new()).await.unwrap();
    let gif = AnimationSpec {
        format: "gif".into(),
        width: Some(160),
        fps: Some(10.0),
        ..Default::default()
    };
    let out = animation(
        &input,
        &dir.path().join("a.gif"),
        &gif,
        &info,
        &RunControl::new(),
    )
    .await
    .unwrap();
    let facts = probe(&out, &RunControl::new()).await.unwrap();
    assert_eq!(facts.video().unwrap().codec_name, "gif");
    assert_eq!(dims(&out), (160, 120));
    assert_eq!(frame_count(&out), 20, "2 s at 10 fps");

    let hgif = AnimationSpec {
        format: "hgif".into(),
        ..gif
    };
    let high = animation(
        &input,
        &dir.path().join("h.gif"),
        &hgif,
        &info,
        &RunControl::new(),
    )
    .await
    .unwrap();
    assert_eq!(frame_count(&high), 20);
    let (small, big) = (
        std::fs::metadata(&out).unwrap().len(),
        std::fs::metadata(&high).unwrap().len(),
    );
    assert!(
        big > small,
        "hgif keeps more detail: {big} vs {small} bytes"
    );

    let webp = AnimationSpec {
        format: "webp".into(),
        height: Some(120),
        frames_per_second: Some(5.0),
        quality: Some(60),
        start: Some(0.5),
        duration: Some(1.0),
        ..Default::default()
    };
    let anim = animation(
        &input,
        &dir.path().join("a.webp"),
        &webp,
        &info,
        &RunControl::new(),
    )
    .await
    .unwrap();
    let (size, frames) = webp_facts(&anim);
    assert_eq!(size, (160, 120));
    assert_eq!(frames, 5, "1 s sampled at 5 frames per second");
}

#[tokio::test]
async fn key_frames_only_and_time_lapse() {
    let dir = tempfile::tempdir().unwrap();
    // Key frames every 10 frames at 25 fps: 0, 0.4, 0.8, 1.2, 1.6 s.
    let input = make_av(dir.path(), "in.mp4", 2, 10);
    let info = probe(&input, &RunControl::new()).await.unwrap();
    let keys = AnimationSpec {
        format: "gif".into(),
        width: Some(80),
        only_keep_key_frame: true,
        time_interval_of_frame: Some(1.0),
        ..Default::default()
    };
    let out = animation(
        &input,
        &dir.path().join("k.gif"),
        &keys,
        &info,
        &RunControl::new(),
    )
    .await
    .unwrap();
    assert_eq!(frame_count(&out), 5);

    let lapse = AnimationSpec {
        format: "gif".into(),
        width: Some(80),
        time_interval_of_frame: Some(0.5),
        fps: Some(10.0),
        ..Default::default()
    };
    let out = animation(
        &input,
        &dir.path().join("l.gif"),
        &lapse,
        &info,
        &RunControl::new(),
    )
    .await
    .unwrap();
    assert_eq!(frame_count(&out), 4, "one frame per 0.5 s of a 2 s clip");
    let played = probe(&out, &RunControl::new()).await.unwrap();
    assert!(
        played.duration.unwrap() < 0.5,
        "played at 10 fps: {:?}",
        played.duration
    );
}
