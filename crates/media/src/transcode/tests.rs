//! Unit tests of the transcode argument builder (no ffmpeg is run).

use std::path::{Path, PathBuf};

use super::*;
use crate::probe::StreamInfo;

mod player;

fn av_info() -> MediaInfo {
    MediaInfo {
        format_name: "mov,mp4,m4a,3gp,3g2,mj2".into(),
        duration: Some(10.0),
        streams: vec![
            StreamInfo {
                index: 0,
                codec_type: "video".into(),
                codec_name: "h264".into(),
                width: Some(640),
                height: Some(360),
                ..Default::default()
            },
            StreamInfo {
                index: 1,
                codec_type: "audio".into(),
                codec_name: "aac".into(),
                ..Default::default()
            },
        ],
        ..Default::default()
    }
}

fn audio_info() -> MediaInfo {
    let mut info = av_info();
    info.streams.remove(0);
    info
}

fn spec(container: &str) -> TranscodeSpec {
    TranscodeSpec {
        container: container.into(),
        ..Default::default()
    }
}

fn args_for(spec: &TranscodeSpec, info: &MediaInfo) -> Vec<String> {
    transcode_args(
        Path::new("/in/src.mov"),
        Path::new("/out/dst.mp4"),
        spec,
        info,
    )
    .unwrap()
}

/// The value following `flag`, if the flag is present.
fn value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let pos = args.iter().position(|a| a == flag)?;
    args.get(pos + 1).map(String::as_str)
}

fn has(args: &[String], flag: &str) -> bool {
    args.iter().any(|a| a == flag)
}

#[test]
fn default_mp4_is_h264_high_crf25_aac_faststart() {
    let args = args_for(&spec("mp4"), &av_info());
    assert_eq!(
        &args[..8],
        [
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-progress",
            "pipe:1",
            "-nostats",
            "-y"
        ]
    );
    assert_eq!(value(&args, "-i"), Some("/in/src.mov"));
    assert_eq!(value(&args, "-c:v"), Some("libx264"));
    assert_eq!(value(&args, "-profile:v"), Some("high"));
    assert_eq!(value(&args, "-preset"), Some("veryfast"));
    assert_eq!(value(&args, "-pix_fmt"), Some("yuv420p"));
    assert_eq!(value(&args, "-crf"), Some("25"));
    assert_eq!(value(&args, "-c:a"), Some("aac"));
    assert_eq!(value(&args, "-ar"), Some("44100"));
    assert_eq!(value(&args, "-movflags"), Some("+faststart"));
    assert_eq!(value(&args, "-f"), Some("mp4"));
    assert_eq!(args.last().map(String::as_str), Some("/out/dst.mp4"));
    assert!(!has(&args, "-ss") && !has(&args, "-t") && !has(&args, "-vf"));
}

#[test]
fn one_dimension_keeps_aspect_ratio() {
    let mut s = spec("mp4");
    s.video = Some(VideoSpec {
        width: Some(320),
        ..Default::default()
    });
    assert_eq!(
        value(&args_for(&s, &av_info()), "-vf"),
        Some("scale=320:-2")
    );
    s.video = Some(VideoSpec {
        height: Some(180),
        ..Default::default()
    });
    assert_eq!(
        value(&args_for(&s, &av_info()), "-vf"),
        Some("scale=-2:180")
    );
    s.video = Some(VideoSpec {
        width: Some(320),
        height: Some(180),
        ..Default::default()
    });
    assert_eq!(
        value(&args_for(&s, &av_info()), "-vf"),
        Some("scale=320:180")
    );
}

#[test]
fn crf_wins_over_bitrate_and_bitrate_alone_is_abr() {
    let mut s = spec("mp4");
    s.video = Some(VideoSpec {
        crf: Some(20.5),
        bitrate_kbps: Some(800),
        ..Default::default()
    });
    let args = args_for(&s, &av_info());
    assert_eq!(value(&args, "-crf"), Some("20.5"));
    assert!(!has(&args, "-b:v"));

    s.video = Some(VideoSpec {
        bitrate_kbps: Some(800),
        maxrate_kbps: Some(1000),
        ..Default::default()
    });
    let args = args_for(&s, &av_info());
    assert_eq!(value(&args, "-b:v"), Some("800k"));
    assert_eq!(value(&args, "-maxrate"), Some("1000k"));
    assert_eq!(value(&args, "-bufsize"), Some("2000k"));
    assert!(!has(&args, "-crf"));
}

#[test]
fn remove_audio_and_remove_video() {
    let mut s = spec("mp4");
    s.audio = Some(AudioSpec {
        remove: true,
        ..Default::default()
    });
    let args = args_for(&s, &av_info());
    assert!(has(&args, "-an") && !has(&args, "-c:a"));
    assert_eq!(value(&args, "-map"), Some("0:V:0"));

    s.audio = None;
    s.video = Some(VideoSpec {
        remove: true,
        ..Default::default()
    });
    let args = args_for(&s, &av_info());
    assert!(has(&args, "-vn") && !has(&args, "-c:v"));
    assert_eq!(value(&args, "-map"), Some("0:a:0"));
}

#[test]
fn container_mapping() {
    let cases = [
        ("mp4", "mp4", "mp4"),
        ("MKV", "matroska", "mkv"),
        ("ts", "mpegts", "ts"),
        ("flv", "flv", "flv"),
        ("hls", "hls", "m3u8"),
        ("dash", "dash", "mpd"),
        ("webm", "webm", "webm"),
        ("mp3", "mp3", "mp3"),
        ("aac", "adts", "aac"),
        ("m4a", "ipod", "m4a"),
        ("wav", "wav", "wav"),
        ("flac", "flac", "flac"),
        ("gif", "gif", "gif"),
    ];
    for (name, muxer, ext) in cases {
        let s = spec(name);
        assert_eq!(output_extension(&s), ext, "{name}");
        let args = args_for(&s, &av_info());
        assert_eq!(value(&args, "-f"), Some(muxer), "{name}");
    }
    assert_eq!(output_extension(&spec("amr")), "bin");
}

#[test]
fn audio_only_containers_drop_video() {
    let args = args_for(&spec("mp3"), &av_info());
    assert!(has(&args, "-vn"));
    assert_eq!(value(&args, "-c:a"), Some("libmp3lame"));
    let args = args_for(&spec("wav"), &av_info());
    assert_eq!(value(&args, "-c:a"), Some("pcm_s16le"));
}

#[test]
fn webm_defaults_to_vp8_and_vorbis() {
    let args = args_for(&spec("webm"), &av_info());
    assert_eq!(value(&args, "-c:v"), Some("libvpx"));
    assert_eq!(value(&args, "-deadline"), Some("realtime"));
    assert_eq!(value(&args, "-c:a"), Some("libvorbis"));
}

#[test]
fn opus_defaults_to_48k() {
    let mut s = spec("webm");
    s.audio = Some(AudioSpec {
        codec: Some("opus".into()),
        bitrate_kbps: Some(64),
        ..Default::default()
    });
    let args = args_for(&s, &av_info());
    assert_eq!(value(&args, "-ar"), Some("48000"));
    assert_eq!(value(&args, "-b:a"), Some("64k"));
}

#[test]
fn time_interval_seeks_the_input() {
    let mut s = spec("mp4");
    s.start = Some(1.5);
    s.duration = Some(2.0);
    let args = args_for(&s, &av_info());
    let ss = args.iter().position(|a| a == "-ss").unwrap();
    let input = args.iter().position(|a| a == "-i").unwrap();
    assert!(ss < input, "input seek");
    assert_eq!(value(&args, "-ss"), Some("1.5"));
    assert_eq!(value(&args, "-t"), Some("2"));
}

#[test]
fn start_past_the_end_is_invalid_input() {
    let mut s = spec("mp4");
    s.start = Some(12.0);
    let err = transcode_args(Path::new("/i"), Path::new("/o.mp4"), &s, &av_info()).unwrap_err();
    assert_eq!(err.code(), "InvalidInput");
}

#[test]
fn hls_names_segments_after_the_playlist() {
    let mut s = spec("hls");
    s.segment_duration = Some(2.0);
    let args = transcode_args(
        Path::new("/in/a.mp4"),
        Path::new("/out/play.m3u8"),
        &s,
        &av_info(),
    )
    .unwrap();
    assert_eq!(value(&args, "-hls_time"), Some("2"));
    assert_eq!(
        value(&args, "-hls_segment_filename"),
        Some("/out/play-%05d.ts")
    );
    assert_eq!(value(&args, "-hls_playlist_type"), Some("vod"));
    assert_eq!(
        value(&args, "-force_key_frames"),
        Some("expr:gte(t,n_forced*2)")
    );
}

#[test]
fn video_spec_on_audio_input_is_invalid_input() {
    let mut s = spec("mp4");
    s.video = Some(VideoSpec {
        width: Some(320),
        ..Default::default()
    });
    let err = transcode_args(Path::new("/i"), Path::new("/o.mp4"), &s, &audio_info()).unwrap_err();
    assert_eq!(err.code(), "InvalidInput");
    assert!(err.to_string().contains("no video stream"), "{err}");
    // Without a video spec an audio input simply gives an audio-only mp4.
    let args = args_for(&spec("mp4"), &audio_info());
    assert!(has(&args, "-vn"));
}

#[test]
fn audio_spec_on_silent_input_is_skipped() {
    let mut info = av_info();
    info.streams.remove(1);
    let mut s = spec("mp4");
    s.audio = Some(AudioSpec {
        codec: Some("aac".into()),
        bitrate_kbps: Some(96),
        ..Default::default()
    });
    let args = args_for(&s, &info);
    assert!(has(&args, "-an") && !has(&args, "-c:a") && !has(&args, "-b:a"));
}

#[test]
fn codec_not_allowed_in_container_is_invalid_spec() {
    let mut s = spec("mp4");
    s.video = Some(VideoSpec {
        codec: Some("VP9".into()),
        ..Default::default()
    });
    let err = validate_spec(&s).unwrap_err();
    assert_eq!(err.code(), "InvalidSpec");
    assert!(err.to_string().contains("not allowed in mp4"), "{err}");
    s.video = Some(VideoSpec {
        preset: Some("ludicrous".into()),
        ..Default::default()
    });
    assert_eq!(validate_spec(&s).unwrap_err().code(), "InvalidSpec");
    assert!(validate_spec(&spec("mp4")).is_ok());
}

#[test]
fn h264_profile_follows_pixel_format() {
    let mut s = spec("mp4");
    s.video = Some(VideoSpec {
        pixfmt: Some("yuv444p".into()),
        ..Default::default()
    });
    assert_eq!(
        value(&args_for(&s, &av_info()), "-profile:v"),
        Some("high444")
    );
    s.video = Some(VideoSpec {
        profile: Some("baseline".into()),
        ..Default::default()
    });
    assert_eq!(
        value(&args_for(&s, &av_info()), "-profile:v"),
        Some("baseline")
    );
    s.video = Some(VideoSpec {
        profile: Some("auto".into()),
        pixfmt: Some("auto".into()),
        ..Default::default()
    });
    let args = args_for(&s, &av_info());
    assert!(!has(&args, "-profile:v") && !has(&args, "-pix_fmt"));
}

#[test]
fn delete_metadata_gop_and_fps() {
    let mut s = spec("mkv");
    s.delete_metadata = true;
    s.video = Some(VideoSpec {
        gop: Some(50),
        fps: Some(29.97),
        ..Default::default()
    });
    let args = args_for(&s, &av_info());
    assert_eq!(value(&args, "-map_metadata"), Some("-1"));
    assert_eq!(value(&args, "-g"), Some("50"));
    assert_eq!(value(&args, "-r"), Some("29.97"));
}

#[test]
fn gif_uses_a_palette() {
    let args = args_for(&spec("gif"), &av_info());
    let vf = value(&args, "-vf").unwrap();
    assert!(
        vf.starts_with("fps=10,") && vf.contains("palettegen"),
        "{vf}"
    );
    assert!(has(&args, "-an"));
}

#[test]
fn fused_outputs_share_one_decode() {
    let hls = TranscodeSpec {
        segment_duration: Some(2.0),
        ..spec("hls")
    };
    let small = TranscodeSpec {
        video: Some(VideoSpec {
            height: Some(180),
            ..Default::default()
        }),
        ..spec("mp4")
    };
    let outputs = vec![
        (PathBuf::from("/o/a.m3u8"), hls),
        (PathBuf::from("/o/b.mp4"), small),
    ];
    let args = transcode_many_args(Path::new("/in.mp4"), &outputs, &av_info()).unwrap();
    assert_eq!(args.iter().filter(|a| *a == "-i").count(), 1);
    assert_eq!(args.iter().filter(|a| *a == "-c:v").count(), 2);
    assert_eq!(
        args.iter()
            .filter(|a| *a == "/o/a.m3u8" || *a == "/o/b.mp4")
            .count(),
        2
    );
}

#[test]
fn fused_outputs_with_different_starts_seek_per_output() {
    let a = TranscodeSpec {
        start: Some(1.0),
        ..spec("mp4")
    };
    let b = TranscodeSpec {
        start: Some(2.0),
        ..spec("mp4")
    };
    let outputs = vec![
        (PathBuf::from("/o/a.mp4"), a),
        (PathBuf::from("/o/b.mp4"), b),
    ];
    let args = transcode_many_args(Path::new("/in.mp4"), &outputs, &av_info()).unwrap();
    let input = args.iter().position(|a| a == "-i").unwrap();
    let seeks: Vec<_> = args
        .iter()
        .enumerate()
        .filter(|(_, a)| *a == "-ss")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(seeks.len(), 2);
    assert!(seeks.iter().all(|i| *i > input));
}

#[test]
fn segment_names_are_recognised() {
    use super::codec::Layout;
    assert!(is_segment_of("play-00001.ts", "play", Layout::Hls));
    assert!(!is_segment_of("play-x.ts", "play", Layout::Hls));
    assert!(is_segment_of("play-00001.m4s", "play", Layout::Hls));
    assert!(is_segment_of("play-init.mp4", "play", Layout::Hls));
    assert!(!is_segment_of("play-init.mp4", "pla", Layout::Hls));
    assert!(!is_segment_of("player-00001.ts", "play", Layout::Hls));
    assert!(is_segment_of("m-init-0.m4s", "m", Layout::Dash));
    assert!(is_segment_of("m-chunk-1-00002.m4s", "m", Layout::Dash));
    assert!(!is_segment_of("m-chunk-1.m4s", "m", Layout::Dash));
}
