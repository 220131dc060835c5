//! What players need, at the argument level: container/codec flags, encodable sizes and
//! cover art (`compat.rs`, `size.rs`).

use super::*;

#[test]
fn player_compatibility_flags_and_sizes() {
    let mut hevc = spec("mp4");
    hevc.video = Some(VideoSpec {
        codec: Some("H.265".into()),
        ..Default::default()
    });
    let args = args_for(&hevc, &av_info());
    assert_eq!(value(&args, "-tag:v"), Some("hvc1"));
    assert_eq!(value(&args, "-movflags"), Some("+faststart"));
    assert!(!has(&args, "-vf"), "640x360 needs no rounding");
    assert_eq!(
        value(&args_for(&spec("mp3"), &av_info()), "-id3v2_version"),
        Some("3")
    );
    let mut odd = av_info();
    odd.streams[0].height = Some(767);
    let args = args_for(&spec("mp4"), &odd);
    assert_eq!(
        value(&args, "-vf"),
        Some("scale=trunc(iw/2)*2:trunc(ih/2)*2")
    );
}

#[test]
fn cover_art_is_mapped_and_video_options_narrowed() {
    let mut info = av_info();
    info.streams.push(StreamInfo {
        index: 2,
        codec_type: "video".into(),
        codec_name: "mjpeg".into(),
        attached_pic: true,
        ..Default::default()
    });
    let mut small = spec("mp4");
    small.video = Some(VideoSpec {
        width: Some(320),
        ..Default::default()
    });
    let args = args_for(&small, &info);
    assert_eq!(value(&args, "-filter:v:0"), Some("scale=320:-2"));
    assert_eq!(value(&args, "-c:v:0"), Some("libx264"));
    assert_eq!(value(&args, "-profile:v:0"), Some("high"));
    assert!(!has(&args, "-vf") && !has(&args, "-profile:v"));
    assert!(args.windows(2).any(|w| w[0] == "-map" && w[1] == "0:2"));
    assert_eq!(value(&args, "-c:v:1"), Some("copy"));
    assert_eq!(value(&args, "-disposition:v:1"), Some("attached_pic"));
    let audio = args_for(&spec("m4a"), &info);
    assert_eq!(value(&audio, "-c:v:0"), Some("copy"));
    assert!(!has(&audio, "-vn"), "-vn would drop the mapped cover");
    let stripped = TranscodeSpec {
        delete_metadata: true,
        ..spec("mp3")
    };
    let args = args_for(&stripped, &info);
    assert!(has(&args, "-vn") && !args.iter().any(|a| a == "0:2"));
}

#[test]
fn an_output_seeking_alone_reads_its_own_input_to_keep_the_cover() {
    let mut info = audio_info();
    info.streams.push(StreamInfo {
        index: 1,
        codec_type: "video".into(),
        codec_name: "png".into(),
        attached_pic: true,
        ..Default::default()
    });
    let late = TranscodeSpec {
        start: Some(2.0),
        ..spec("mp3")
    };
    let outputs = [
        (PathBuf::from("/out/a.m4a"), spec("m4a")),
        (PathBuf::from("/out/b.mp3"), late),
    ];
    let args = transcode_many_args(Path::new("/in/x.mp3"), &outputs, &info).unwrap();
    let inputs: Vec<_> = args.windows(2).filter(|w| w[0] == "-i").collect();
    assert_eq!(inputs.len(), 2, "{args:?}");
    assert!(
        args.windows(4)
            .any(|w| w == ["-ss", "2", "-i", "/in/x.mp3"])
    );
    assert!(args.windows(2).any(|w| w == ["-map", "1:a:0"]));
    assert!(args.windows(2).any(|w| w == ["-map", "1:1"]));
    assert_eq!(args.iter().filter(|a| *a == "-ss").count(), 1);
}
