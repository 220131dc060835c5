//! Remux and split: HLS, numbered pieces, single files, audio formats.

use reelflow_media::{RunControl, SegmentSpec, probe, segment};

use crate::common::make_av;

fn spec(format: &str, duration: Option<f64>) -> SegmentSpec {
    SegmentSpec {
        format: format.into(),
        duration,
    }
}

async fn codecs(path: &std::path::Path) -> (Option<String>, Option<String>) {
    let info = probe(path, &RunControl::new()).await.unwrap();
    (
        info.video().map(|v| v.codec_name.clone()),
        info.audio().map(|a| a.codec_name.clone()),
    )
}

#[tokio::test]
async fn hls_playlist_first_then_segments() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_av(dir.path(), "in.mp4", 3, 25);
    let info = probe(&input, &RunControl::new()).await.unwrap();
    let playlist = dir.path().join("hls/play.m3u8");
    let files = segment(
        &input,
        &playlist,
        &spec("m3u8", Some(1.0)),
        &info,
        &RunControl::new(),
    )
    .await
    .unwrap();
    assert_eq!(files[0], playlist);
    assert_eq!(files.len(), 4, "{files:?}");
    let text = std::fs::read_to_string(&playlist).unwrap();
    assert!(text.contains("#EXT-X-PLAYLIST-TYPE:VOD") && text.contains("#EXT-X-ENDLIST"));
    for seg in &files[1..] {
        assert!(
            text.contains(seg.file_name().unwrap().to_str().unwrap()),
            "{text}"
        );
    }
    let copied = codecs(&files[1]).await;
    assert_eq!(copied, (Some("h264".into()), Some("aac".into())));
}

#[tokio::test]
async fn mp4_pieces_and_single_remuxes() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_av(dir.path(), "in.mp4", 3, 25);
    let info = probe(&input, &RunControl::new()).await.unwrap();
    let out = dir.path().join("part.mp4");
    let files = segment(
        &input,
        &out,
        &spec("mp4", Some(1.0)),
        &info,
        &RunControl::new(),
    )
    .await
    .unwrap();
    let names: Vec<_> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["part-00000.mp4", "part-00001.mp4", "part-00002.mp4"]
    );
    let mut total = 0.0;
    for piece in &files {
        let p = probe(piece, &RunControl::new()).await.unwrap();
        let d = p.duration.unwrap();
        assert!((d - 1.0).abs() < 0.15, "{} lasts {d}", piece.display());
        total += d;
        assert_eq!(p.video().unwrap().codec_name, "h264");
    }
    assert!((total - 3.0).abs() < 0.2, "{total}");
    assert!(!out.exists(), "pieces only");

    for (format, name) in [("mkv", "a.mkv"), ("avi", "a.avi"), ("ts", "a.ts")] {
        let out = dir.path().join(name);
        let files = segment(&input, &out, &spec(format, None), &info, &RunControl::new())
            .await
            .unwrap();
        assert_eq!(files, std::slice::from_ref(&out));
        assert_eq!(
            codecs(&out).await,
            (Some("h264".into()), Some("aac".into())),
            "{format}"
        );
    }
}

#[tokio::test]
async fn audio_formats_copy_when_they_can() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_av(dir.path(), "in.mp4", 2, 25);
    let info = probe(&input, &RunControl::new()).await.unwrap();
    for (format, codec) in [("aac", "aac"), ("mp3", "mp3"), ("flac", "flac")] {
        let out = dir.path().join(format!("sound.{format}"));
        let files = segment(&input, &out, &spec(format, None), &info, &RunControl::new())
            .await
            .unwrap();
        assert_eq!(
            codecs(&files[0]).await,
            (None, Some(codec.into())),
            "{format}"
        );
    }
    let files = segment(
        &input,
        &dir.path().join("cut.mp3"),
        &spec("mp3", Some(1.0)),
        &info,
        &RunControl::new(),
    )
    .await
    .unwrap();
    // 2 s of AAC (plus encoder padding) cut every second.
    assert!((2..=3).contains(&files.len()), "{files:?}");
}
