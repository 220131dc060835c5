//! Real transcodes: mp4, hls, fused outputs, and inputs that cannot satisfy the spec.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use reelflow_media::{
    AudioSpec, MediaInfo, RunControl, TranscodeSpec, VideoSpec, probe, transcode, transcode_many,
};

use crate::common::{make_audio, make_av};

async fn probe_ok(path: &std::path::Path) -> MediaInfo {
    probe(path, &RunControl::new()).await.unwrap()
}

#[tokio::test]
async fn mp4_h264_320x180_with_aac_and_progress() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_av(dir.path(), "in.mp4", 2, 25);
    let info = probe_ok(&input).await;
    let spec = TranscodeSpec {
        container: "mp4".into(),
        video: Some(VideoSpec {
            codec: Some("H.264".into()),
            width: Some(320),
            height: Some(180),
            ..Default::default()
        }),
        audio: Some(AudioSpec {
            codec: Some("aac".into()),
            bitrate_kbps: Some(64),
            ..Default::default()
        }),
        ..Default::default()
    };
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let ctl = RunControl::new().on_progress(move |p| sink.lock().unwrap().push(p));
    let output = dir.path().join("out/small.mp4");

    let files = transcode(&input, &output, &spec, &info, &ctl)
        .await
        .unwrap();

    assert_eq!(files.len(), 1);
    assert_eq!(files[0], output);
    let out = probe_ok(&output).await;
    let video = out.video().unwrap();
    assert_eq!(video.codec_name, "h264");
    assert_eq!((video.width, video.height), (Some(320), Some(180)));
    assert_eq!(out.audio().unwrap().codec_name, "aac");
    assert_eq!(out.audio().unwrap().sample_rate, Some(44100));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.last(), Some(&100), "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
}

#[tokio::test]
async fn one_dimension_keeps_aspect_and_time_interval_trims() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_av(dir.path(), "in.mp4", 3, 25);
    let info = probe_ok(&input).await;
    let spec = TranscodeSpec {
        container: "mkv".into(),
        video: Some(VideoSpec {
            height: Some(120),
            ..Default::default()
        }),
        audio: Some(AudioSpec {
            remove: true,
            ..Default::default()
        }),
        start: Some(1.0),
        duration: Some(1.0),
        ..Default::default()
    };
    let output = dir.path().join("trim.mkv");
    transcode(&input, &output, &spec, &info, &RunControl::new())
        .await
        .unwrap();
    let out = probe_ok(&output).await;
    let video = out.video().unwrap();
    assert_eq!((video.width, video.height), (Some(160), Some(120)));
    assert!(!out.has_audio());
    assert!(
        (out.duration.unwrap() - 1.0).abs() < 0.15,
        "{:?}",
        out.duration
    );
}

#[tokio::test]
async fn hls_writes_playlist_and_segments() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_av(dir.path(), "in.mp4", 3, 250);
    let info = probe_ok(&input).await;
    let spec = TranscodeSpec {
        container: "hls".into(),
        segment_duration: Some(1.0),
        video: Some(VideoSpec {
            width: Some(160),
            ..Default::default()
        }),
        ..Default::default()
    };
    let playlist = dir.path().join("hls/play.m3u8");
    std::fs::create_dir_all(dir.path().join("hls")).unwrap();
    std::fs::write(dir.path().join("hls/play-00099.ts"), b"stale").unwrap();
    let files = transcode(&input, &playlist, &spec, &info, &RunControl::new())
        .await
        .unwrap();

    assert_eq!(files[0], playlist);
    let segments: Vec<&PathBuf> = files[1..].iter().collect();
    assert!(
        segments.len() >= 3,
        "one segment per second despite a 10 s GOP: {files:?}"
    );
    assert!(
        segments
            .iter()
            .all(|s| s.exists() && s.extension().unwrap() == "ts")
    );
    let text = std::fs::read_to_string(&playlist).unwrap();
    assert!(text.contains("#EXT-X-ENDLIST"), "{text}");
    assert!(
        !dir.path().join("hls/play-00099.ts").exists(),
        "stale segment removed"
    );
    for seg in &segments {
        assert!(
            text.contains(seg.file_name().unwrap().to_str().unwrap()),
            "{text}"
        );
    }
}

#[tokio::test]
async fn fused_run_writes_mp4_and_dash_from_one_decode() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_av(dir.path(), "in.mp4", 2, 25);
    let info = probe_ok(&input).await;
    let mp4 = TranscodeSpec {
        container: "mp4".into(),
        video: Some(VideoSpec {
            height: Some(120),
            ..Default::default()
        }),
        ..Default::default()
    };
    let dash = TranscodeSpec {
        container: "dash".into(),
        segment_duration: Some(1.0),
        ..Default::default()
    };
    let mp3 = TranscodeSpec {
        container: "mp3".into(),
        ..Default::default()
    };
    let outputs = vec![
        (dir.path().join("o/small.mp4"), mp4),
        (dir.path().join("o/stream.mpd"), dash),
        (dir.path().join("o/sound.mp3"), mp3),
    ];
    let files = transcode_many(&input, &outputs, &info, &RunControl::new())
        .await
        .unwrap();

    assert_eq!(files.len(), 3);
    assert_eq!(files[0], [outputs[0].0.clone()]);
    assert_eq!(
        probe_ok(&files[0][0]).await.video().unwrap().height,
        Some(120)
    );
    let dash_files = &files[1];
    assert_eq!(dash_files[0], outputs[1].0);
    assert!(
        dash_files
            .iter()
            .any(|f| f.to_str().unwrap().contains("stream-init-")),
        "{dash_files:?}"
    );
    assert!(
        dash_files
            .iter()
            .any(|f| f.to_str().unwrap().contains("stream-chunk-")),
        "{dash_files:?}"
    );
    let sound = probe_ok(&files[2][0]).await;
    assert!(!sound.has_video());
    assert_eq!(sound.audio().unwrap().codec_name, "mp3");
}

#[tokio::test]
async fn video_spec_on_audio_only_input_is_invalid_input() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_audio(dir.path(), "a.mp3", 1);
    let info = probe_ok(&input).await;
    let spec = TranscodeSpec {
        container: "mp4".into(),
        video: Some(VideoSpec {
            codec: Some("H.264".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let output = dir.path().join("v.mp4");
    let err = transcode(&input, &output, &spec, &info, &RunControl::new())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "InvalidInput");
    assert!(
        err.to_string().contains("input has no video stream"),
        "{err}"
    );
    assert!(!output.exists(), "nothing is run for an impossible spec");
}

#[tokio::test]
async fn audio_to_m4a() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_audio(dir.path(), "a.mp3", 1);
    let info = probe_ok(&input).await;
    let spec = TranscodeSpec {
        container: "m4a".into(),
        ..Default::default()
    };
    let output = dir.path().join("a.m4a");
    transcode(&input, &output, &spec, &info, &RunControl::new())
        .await
        .unwrap();
    let out = probe_ok(&output).await;
    assert_eq!(out.audio().unwrap().codec_name, "aac");
}

/// One output of the all-containers run and the codecs ffprobe must find in it.
struct Case {
    name: &'static str,
    container: &'static str,
    video: Option<&'static str>,
    audio: Option<&'static str>,
    expect: (Option<&'static str>, Option<&'static str>),
}

impl Case {
    fn spec(&self) -> TranscodeSpec {
        let video = self.video.map(|c| VideoSpec {
            codec: Some(c.into()),
            width: Some(128),
            ..Default::default()
        });
        let audio = self.audio.map(|c| AudioSpec {
            codec: Some(c.into()),
            ..Default::default()
        });
        TranscodeSpec {
            container: self.container.into(),
            video,
            audio,
            delete_metadata: true,
            ..Default::default()
        }
    }
}

const fn case(
    name: &'static str,
    container: &'static str,
    codecs: (Option<&'static str>, Option<&'static str>),
    expect: (Option<&'static str>, Option<&'static str>),
) -> Case {
    Case {
        name,
        container,
        video: codecs.0,
        audio: codecs.1,
        expect,
    }
}

#[tokio::test]
async fn every_container_and_codec_runs_in_one_fused_process() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_av(dir.path(), "in.mp4", 1, 25);
    let info = probe_ok(&input).await;
    let h264_aac = (Some("h264"), Some("aac"));
    let cases = [
        case(
            "h265.mp4",
            "mp4",
            (Some("H.265"), Some("mp3")),
            (Some("hevc"), Some("mp3")),
        ),
        case(
            "av1.mp4",
            "mp4",
            (Some("AV1"), None),
            (Some("av1"), Some("aac")),
        ),
        case(
            "vp8.webm",
            "webm",
            (None, None),
            (Some("vp8"), Some("vorbis")),
        ),
        case(
            "vp9.webm",
            "webm",
            (Some("VP9"), Some("opus")),
            (Some("vp9"), Some("opus")),
        ),
        case("a.mov", "mov", (None, None), h264_aac),
        case("a.flv", "flv", (None, None), h264_aac),
        case("a.ts", "ts", (None, None), h264_aac),
        case("a.avi", "avi", (None, None), h264_aac),
        case("a.gif", "gif", (None, None), (Some("gif"), None)),
        case("a.aac", "aac", (None, None), (None, Some("aac"))),
        case("a.flac", "flac", (None, None), (None, Some("flac"))),
        case("a.wav", "wav", (None, None), (None, Some("pcm_s16le"))),
    ];
    let outputs: Vec<(PathBuf, TranscodeSpec)> = cases
        .iter()
        .map(|c| (dir.path().join(c.name), c.spec()))
        .collect();
    let files = transcode_many(&input, &outputs, &info, &RunControl::new())
        .await
        .unwrap();
    for (case, files) in cases.iter().zip(&files) {
        let out = probe_ok(&files[0]).await;
        let got_v = out.video().map(|s| s.codec_name.as_str());
        let got_a = out.audio().map(|s| s.codec_name.as_str());
        assert_eq!((got_v, got_a), case.expect, "{}", case.name);
    }
}
