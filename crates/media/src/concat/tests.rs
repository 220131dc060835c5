use super::*;
use crate::transcode::{AudioSpec, VideoSpec};

fn av(w: u32, h: u32, audio: bool) -> MediaInfo {
    let mut streams = vec![StreamInfo {
        codec_type: "video".into(),
        codec_name: "h264".into(),
        width: Some(w),
        height: Some(h),
        fps: Some(25.0),
        pix_fmt: Some("yuv420p".into()),
        ..Default::default()
    }];
    if audio {
        streams.push(StreamInfo {
            index: 1,
            codec_type: "audio".into(),
            codec_name: "aac".into(),
            sample_rate: Some(44_100),
            channels: Some(1),
            ..Default::default()
        });
    }
    MediaInfo {
        duration: Some(2.0),
        streams,
        ..Default::default()
    }
}

fn input(name: &str, info: MediaInfo) -> ConcatInput {
    ConcatInput::new(format!("/in/{name}"), info)
}

fn spec(container: &str, direct: bool) -> ConcatSpec {
    ConcatSpec {
        target: TranscodeSpec {
            container: container.into(),
            ..Default::default()
        },
        direct,
    }
}

fn graph(args: &[String]) -> &str {
    let at = args.iter().position(|a| a == "-filter_complex").unwrap();
    &args[at + 1]
}

#[test]
fn direct_copy_only_when_everything_matches() {
    let same = [
        input("a.mp4", av(320, 240, true)),
        input("b.mp4", av(320, 240, true)),
    ];
    assert_eq!(
        concat_method(&same, &spec("mp4", true)),
        ConcatMethod::StreamCopy
    );
    assert_eq!(
        concat_method(&same, &spec("ts", true)),
        ConcatMethod::StreamCopy
    );
    assert_eq!(
        concat_method(&same, &spec("mp4", false)),
        ConcatMethod::Reencode
    );
    let sizes = [
        input("a.mp4", av(320, 240, true)),
        input("b.mp4", av(640, 480, true)),
    ];
    assert_eq!(
        concat_method(&sizes, &spec("mp4", true)),
        ConcatMethod::Reencode
    );
    let silent = [
        input("a.mp4", av(320, 240, true)),
        input("b.mp4", av(320, 240, false)),
    ];
    assert_eq!(
        concat_method(&silent, &spec("mp4", true)),
        ConcatMethod::Reencode
    );
    // The target asks for another codec.
    let mut h265 = spec("mp4", true);
    h265.target.video = Some(VideoSpec {
        codec: Some("H.265".into()),
        ..Default::default()
    });
    assert_eq!(concat_method(&same, &h265), ConcatMethod::Reencode);
    // mp3 takes no AAC: copying is impossible.
    assert_eq!(
        concat_method(&same, &spec("mp3", true)),
        ConcatMethod::Reencode
    );
    // aac takes the AAC audio alone.
    assert_eq!(
        concat_method(&same, &spec("aac", true)),
        ConcatMethod::StreamCopy
    );
}

#[test]
fn copy_uses_the_concat_demuxer() {
    let mut a = input("it's.mp4", av(320, 240, true));
    a.start = Some(1.0);
    a.end = Some(1.5);
    let inputs = [a, input("b.mp4", av(320, 240, true))];
    let args = concat_args(
        &inputs,
        Path::new("/o/out.mp4"),
        &spec("mp4", true),
        Path::new("/o/.l"),
    )
    .unwrap();
    let at = args.iter().position(|x| x == "concat").unwrap();
    assert_eq!(args[at + 1..at + 5], ["-safe", "0", "-i", "/o/.l"]);
    assert!(args.windows(2).any(|w| w[0] == "-c" && w[1] == "copy"));
    let list = concat_list(&inputs).unwrap();
    assert_eq!(
        list,
        "ffconcat version 1.0\nfile '/in/it'\\''s.mp4'\ninpoint 1\noutpoint 1.5\nfile '/in/b.mp4'\n"
    );
}

#[test]
fn reencode_normalises_and_fills_gaps() {
    let mut voice = MediaInfo {
        duration: Some(1.5),
        ..Default::default()
    };
    voice.streams.push(StreamInfo {
        codec_type: "audio".into(),
        codec_name: "mp3".into(),
        channels: Some(2),
        ..Default::default()
    });
    let inputs = [
        input("a.mp4", av(320, 240, true)),
        input("b.mp4", av(640, 360, false)),
        input("c.mp3", voice),
    ];
    let mut s = spec("mp4", true);
    s.target.audio = Some(AudioSpec {
        samplerate: Some(48_000),
        ..Default::default()
    });
    let args = concat_args(&inputs, Path::new("/o/out.mp4"), &s, Path::new("/o/.l")).unwrap();
    let g = graph(&args);
    assert!(
        g.starts_with("[0:V:0]scale=320:240:force_original_aspect_ratio=decrease,pad=320:240:"),
        "{g}"
    );
    assert!(
        !g.contains("[1:a") && g.contains("anullsrc=r=48000:cl=stereo,atrim=duration=2[a1]"),
        "{g}"
    );
    assert!(
        g.contains("color=c=black:s=320x240:r=25:d=1.5,format=yuv420p[v2]"),
        "{g}"
    );
    assert!(
        g.ends_with("[v0][a0][v1][a1][v2][a2]concat=n=3:v=1:a=1[cv][ca]"),
        "{g}"
    );
    assert!(args.windows(2).any(|w| w[0] == "-map" && w[1] == "[cv]"));
    assert!(args.windows(2).any(|w| w[0] == "-ar" && w[1] == "48000"));
    assert!(!args.iter().any(|a| a == "-vf"));
}

#[test]
fn audio_only_targets_and_trims() {
    let mut a = input("a.mp4", av(320, 240, true));
    a.start = Some(0.5);
    a.end = Some(1.5);
    let inputs = [a, input("b.mp4", av(320, 240, true))];
    let args = concat_args(
        &inputs,
        Path::new("/o/out.mp3"),
        &spec("mp3", false),
        Path::new("/l"),
    )
    .unwrap();
    assert!(args.windows(2).any(|w| w[0] == "-ss" && w[1] == "0.5"));
    assert!(args.windows(2).any(|w| w[0] == "-to" && w[1] == "1.5"));
    assert_eq!(
        graph(&args).rsplit(';').next().unwrap(),
        "[a0][a1]concat=n=2:v=0:a=1[ca]"
    );
    assert!(args.iter().any(|a| a == "-vn"));
    assert!(
        args.windows(2)
            .any(|w| w[0] == "-c:a" && w[1] == "libmp3lame")
    );
    let err = concat_args(
        &[],
        Path::new("/o.mp4"),
        &spec("mp4", false),
        Path::new("/l"),
    )
    .unwrap_err();
    assert_eq!(err.code(), "InvalidSpec");
}
