//! ffprobe on real files, good and bad.

use reelflow_media::{MediaError, RunControl, probe};

use crate::common::{make_audio, make_av, make_junk};

#[tokio::test]
async fn probes_generated_mp4() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_av(dir.path(), "in.mp4", 1, 25);
    let info = probe(&input, &RunControl::new()).await.unwrap();
    assert!(info.format_name.contains("mp4"));
    assert!(
        (info.duration.unwrap() - 1.0).abs() < 0.1,
        "{:?}",
        info.duration
    );
    let video = info.video().unwrap();
    assert_eq!(
        (video.codec_name.as_str(), video.width, video.height),
        ("h264", Some(320), Some(240))
    );
    assert_eq!(info.audio().unwrap().codec_name, "aac");
}

#[tokio::test]
async fn random_bytes_are_invalid_input() {
    let dir = tempfile::tempdir().unwrap();
    let junk = make_junk(dir.path(), "junk.mp4", 64 * 1024);
    let err = probe(&junk, &RunControl::new()).await.unwrap_err();
    let MediaError::InvalidInput { message } = &err else {
        panic!("expected InvalidInput, got {err:?}");
    };
    assert!(message.contains("Invalid data found"), "{message}");
    assert!(message.contains("junk.mp4"), "{message}");
    assert_eq!(err.code(), "InvalidInput");
}

#[tokio::test]
async fn empty_and_missing_files_are_invalid_input() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.mp4");
    std::fs::write(&empty, b"").unwrap();
    assert_eq!(
        probe(&empty, &RunControl::new()).await.unwrap_err().code(),
        "InvalidInput"
    );
    let missing = dir.path().join("missing.mp4");
    assert_eq!(
        probe(&missing, &RunControl::new())
            .await
            .unwrap_err()
            .code(),
        "InvalidInput"
    );
}

#[tokio::test]
async fn audio_only_mp3() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_audio(dir.path(), "a.mp3", 1);
    let info = probe(&input, &RunControl::new()).await.unwrap();
    assert!(!info.has_video() && info.has_audio());
}
