//! Player compatibility of every container/codec pair written: `hvc1`, faststart,
//! 8-bit 4:2:0 and the H.264 profile browsers play, AAC-LC in mp4, Opus/Vorbis in WebM,
//! on encoding and stream-copy paths and in fused runs.

use std::path::PathBuf;

use reelflow_media::{
    AudioSpec, ConcatInput, ConcatSpec, OutputJob, RunControl, SegmentSpec, TranscodeExtras,
    TranscodeSpec, VideoSpec, concat, run_fused, segment,
};

use crate::inspect::{assert_faststart, assert_video, field, make_sized, probed};

fn spec(container: &str, codec: Option<&str>) -> TranscodeSpec {
    TranscodeSpec {
        container: container.into(),
        video: codec.map(|c| VideoSpec {
            codec: Some(c.into()),
            preset: c.starts_with("H.").then(|| "ultrafast".into()),
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

/// HEVC is tagged `hvc1` (not ffmpeg's default `hev1`) in mp4; H.264 defaults to
/// 8-bit 4:2:0 High even from a 10-bit 4:2:2 source; every mp4-family file has its
/// index first; audio is AAC-LC. One fused run writes them all.
#[tokio::test]
async fn encoded_outputs_are_tagged_and_faststart_fused() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_sized(
        dir.path(),
        "in.mov",
        (320, 240),
        0.4,
        ("libx264", "yuv422p10le"),
        Some("aac"),
    );
    let info = probed(&input).await;
    let out = |name: &str| dir.path().join(name);
    let jobs = [
        job(out("hevc.mp4"), spec("mp4", Some("H.265"))),
        job(out("avc.mp4"), spec("mp4", None)),
        job(out("avc.mov"), spec("mov", None)),
        job(out("sound.m4a"), spec("m4a", None)),
        job(out("av1.mp4"), spec("mp4", Some("AV1"))),
    ];
    run_fused(&input, &jobs, &info, &RunControl::new())
        .await
        .unwrap();

    let hevc = out("hevc.mp4");
    assert_eq!(field(&hevc, "v:0", "codec_tag_string"), "hvc1");
    assert_video(&hevc, (320, 240), "hevc", "yuv420p");
    assert_eq!(field(&hevc, "v:0", "profile"), "Main");
    for avc in [out("avc.mp4"), out("avc.mov")] {
        assert_eq!(field(&avc, "v:0", "codec_tag_string"), "avc1");
        assert_video(&avc, (320, 240), "h264", "yuv420p");
        assert_eq!(field(&avc, "v:0", "profile"), "High");
    }
    let av1 = out("av1.mp4");
    assert_eq!(field(&av1, "v:0", "codec_tag_string"), "av01");
    assert_video(&av1, (320, 240), "av1", "yuv420p");
    for file in [hevc, av1, out("avc.mp4"), out("avc.mov"), out("sound.m4a")] {
        assert_faststart(&file);
        assert_eq!(field(&file, "a:0", "codec_name"), "aac");
        assert_eq!(field(&file, "a:0", "profile"), "LC", "{}", file.display());
    }
}

/// A template that asks for 4:2:2 gets it (and the profile that carries it).
#[tokio::test]
async fn h264_pixel_format_follows_the_template_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_sized(
        dir.path(),
        "in.mp4",
        (320, 240),
        0.2,
        ("libx264", "yuv420p"),
        None,
    );
    let info = probed(&input).await;
    let mut asked = spec("mp4", Some("H.264"));
    asked.video.as_mut().unwrap().pixfmt = Some("yuv422p".into());
    let out = dir.path().join("422.mp4");
    reelflow_media::transcode(&input, &out, &asked, &info, &RunControl::new())
        .await
        .unwrap();
    assert_video(&out, (320, 240), "h264", "yuv422p");
    assert_eq!(field(&out, "v:0", "profile"), "High 4:2:2");
}

/// WebM carries Vorbis by default and Opus when asked; nothing else gets in.
#[tokio::test]
async fn webm_audio_is_vorbis_or_opus() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_sized(
        dir.path(),
        "in.mp4",
        (160, 120),
        0.4,
        ("libx264", "yuv420p"),
        Some("aac"),
    );
    let info = probed(&input).await;
    let mut opus = spec("webm", Some("VP9"));
    opus.audio = Some(AudioSpec {
        codec: Some("opus".into()),
        ..Default::default()
    });
    let out = |name: &str| dir.path().join(name);
    let jobs = [
        job(out("default.webm"), spec("webm", None)),
        job(out("opus.webm"), opus),
    ];
    run_fused(&input, &jobs, &info, &RunControl::new())
        .await
        .unwrap();
    assert_eq!(field(&out("default.webm"), "a:0", "codec_name"), "vorbis");
    assert_eq!(field(&out("default.webm"), "v:0", "codec_name"), "vp8");
    assert_eq!(field(&out("opus.webm"), "a:0", "codec_name"), "opus");
    let mut aac = spec("webm", None);
    aac.audio = Some(AudioSpec {
        codec: Some("aac".into()),
        ..Default::default()
    });
    let err = reelflow_media::validate_spec(&aac).unwrap_err();
    assert_eq!(err.code(), "InvalidSpec");
}

/// Stream copies of HEVC into mp4 are `hvc1` too: Segment (single file and pieces) and
/// Concat's stream copy. The source is Matroska, which keeps no tag to copy.
#[tokio::test]
async fn copied_hevc_is_hvc1_with_faststart() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_sized(
        dir.path(),
        "in.mkv",
        (320, 240),
        2.0,
        ("libx265", "yuv420p"),
        Some("aac"),
    );
    let info = probed(&input).await;
    let ctl = RunControl::new();
    let single = dir.path().join("remux.mp4");
    let remux = SegmentSpec {
        format: "mp4".into(),
        duration: None,
    };
    segment(&input, &single, &remux, &info, &ctl).await.unwrap();
    let split = SegmentSpec {
        duration: Some(1.0),
        ..remux
    };
    let pieces = segment(&input, &dir.path().join("part.mp4"), &split, &info, &ctl)
        .await
        .unwrap();
    let joined = dir.path().join("joined.mp4");
    let inputs = [
        ConcatInput::new(&input, info.clone()),
        ConcatInput::new(&input, info.clone()),
    ];
    let direct = ConcatSpec {
        target: spec("mp4", None),
        direct: true,
    };
    assert_eq!(
        reelflow_media::concat_method(&inputs, &direct),
        reelflow_media::ConcatMethod::StreamCopy
    );
    concat(&inputs, &joined, &direct, &ctl).await.unwrap();
    for file in [&single, &pieces[0], &joined] {
        assert_eq!(field(file, "v:0", "codec_name"), "hevc");
        assert_eq!(
            field(file, "v:0", "codec_tag_string"),
            "hvc1",
            "{}",
            file.display()
        );
        assert_faststart(file);
    }
}

/// HEVC in HLS goes into fragmented-MP4 segments tagged `hvc1` (Apple players refuse HEVC in
/// MPEG-TS): the playlist maps `<name>-init.mp4` and lists `<name>-NNNNN.m4s`, on the encode
/// path (Transcode to HLS) and on the copy path (Segment to HLS); H.264 stays in `.ts`.
#[tokio::test]
async fn hevc_hls_uses_fmp4_segments() {
    let dir = tempfile::tempdir().unwrap();
    let input = make_sized(
        dir.path(),
        "in.mkv",
        (320, 240),
        2.0,
        ("libx265", "yuv420p"),
        Some("aac"),
    );
    let info = probed(&input).await;
    let ctl = RunControl::new();
    let hls_dir = dir.path().join("hls");
    std::fs::create_dir_all(&hls_dir).unwrap();
    let encoded = hls_dir.join("enc.m3u8");
    let avc = hls_dir.join("avc.m3u8");
    let jobs = [
        job(encoded.clone(), spec("hls", Some("H.265"))),
        job(avc.clone(), spec("hls", None)),
    ];
    run_fused(&input, &jobs, &info, &ctl).await.unwrap();
    let copied = hls_dir.join("copy.m3u8");
    let hls = SegmentSpec {
        format: "hls".into(),
        duration: Some(1.0),
    };
    segment(&input, &copied, &hls, &info, &ctl).await.unwrap();
    for (playlist, stem) in [(&encoded, "enc"), (&copied, "copy")] {
        let text = std::fs::read_to_string(playlist).unwrap();
        assert!(
            text.contains(&format!("#EXT-X-MAP:URI=\"{stem}-init.mp4\"")),
            "{text}"
        );
        let segments: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert!(!segments.is_empty());
        assert!(
            segments
                .iter()
                .all(|s| s.starts_with(&format!("{stem}-")) && s.ends_with(".m4s")),
            "{segments:?}"
        );
        assert!(hls_dir.join(format!("{stem}-init.mp4")).exists());
        assert_eq!(field(playlist, "v:0", "codec_name"), "hevc");
        assert_eq!(field(playlist, "v:0", "codec_tag_string"), "hvc1");
    }
    let text = std::fs::read_to_string(&avc).unwrap();
    assert!(!text.contains("EXT-X-MAP"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("avc-") && l.ends_with(".ts")),
        "{text}"
    );
}
