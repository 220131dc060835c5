use super::*;
use crate::probe::StreamInfo;

fn info(w: u32, h: u32) -> MediaInfo {
    MediaInfo {
        duration: Some(10.0),
        bit_rate: Some(1_200_000),
        streams: vec![
            StreamInfo {
                codec_type: "video".into(),
                width: Some(w),
                height: Some(h),
                fps: Some(25.0),
                bit_rate: Some(1_000_000),
                ..Default::default()
            },
            StreamInfo {
                codec_type: "audio".into(),
                bit_rate: Some(128_000),
                ..Default::default()
            },
        ],
        ..Default::default()
    }
}

fn video(width: Option<u32>, height: Option<u32>) -> TranscodeSpec {
    TranscodeSpec {
        container: "mp4".into(),
        video: Some(VideoSpec {
            width,
            height,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn checks(method: AdjMethod) -> TranscodeExtras {
    TranscodeExtras {
        checks: TransChecks {
            resolution: Some(method),
            video_bitrate: Some(method),
            audio_bitrate: Some(method),
            video_fps: Some(method),
        },
        ..Default::default()
    }
}

#[test]
fn crop_syntax() {
    assert_eq!(
        Crop::parse("100:50:10:20").unwrap(),
        Crop {
            width: 100,
            height: 50,
            left: 10,
            top: 20
        }
    );
    for bad in ["100:50:10", "a:b:c:d", "0:50:0:0", "1:2:3:4:5", "-1:2:3:4"] {
        assert_eq!(Crop::parse(bad).unwrap_err().code(), "InvalidSpec", "{bad}");
    }
}

#[test]
fn adj_dar_and_adj_method_parse() {
    assert_eq!(AdjDarMethod::parse("PAD").unwrap(), AdjDarMethod::Pad);
    assert_eq!(AdjDarMethod::parse("").unwrap(), AdjDarMethod::None);
    assert!(AdjDarMethod::parse("zoom").is_err());
    assert_eq!(AdjMethod::from_ci(0).unwrap(), AdjMethod::UseSource);
    assert_eq!(AdjMethod::from_ci(1).unwrap(), AdjMethod::Fail);
    assert!(AdjMethod::from_ci(2).is_err());
}

#[test]
fn rotation_filters() {
    assert_eq!(rotate_filters(Some(90.0)), ["transpose=clock"]);
    assert_eq!(rotate_filters(Some(180.0)), ["hflip", "vflip"]);
    assert_eq!(rotate_filters(Some(270.0)), ["transpose=cclock"]);
    assert!(rotate_filters(Some(0.0)).is_empty());
    let any = rotate_filters(Some(30.0));
    assert_eq!(
        any,
        ["rotate=a=30*PI/180:ow=trunc(rotw(30*PI/180)/2)*2:oh=trunc(roth(30*PI/180)/2)*2:c=black"]
    );
    let bad = TranscodeExtras {
        rotate: Some(360.0),
        ..Default::default()
    };
    assert_eq!(validate_extras(&bad).unwrap_err().code(), "InvalidSpec");
}

#[test]
fn adj_dar_size_filters() {
    let both = |m| size_filters(Some(640), Some(360), m).join(",");
    assert_eq!(both(AdjDarMethod::None), "scale=640:360");
    assert_eq!(both(AdjDarMethod::Scale), "scale=640:360,setsar=1");
    assert_eq!(
        both(AdjDarMethod::Crop),
        "scale=640:360:force_original_aspect_ratio=increase,crop=640:360,setsar=1"
    );
    assert!(both(AdjDarMethod::Pad).contains("pad=640:360:(ow-iw)/2:(oh-ih)/2:black"));
    assert_eq!(
        size_filters(Some(640), None, AdjDarMethod::Pad),
        ["scale=640:-2"]
    );
}

#[test]
fn chain_order_crop_rotate_scale() {
    let extras = TranscodeExtras {
        crop: Some("200:100:0:0".into()),
        rotate: Some(90.0),
        ..Default::default()
    };
    let v = VideoSpec {
        height: Some(120),
        ..Default::default()
    };
    let chain = video_chain(VideoCodec::H264, &v, &extras, None).unwrap();
    assert_eq!(
        chain.simple().unwrap(),
        "crop=200:100:0:0,transpose=clock,scale=-2:120"
    );
    let chain = video_chain(VideoCodec::H264, &VideoSpec::default(), &extras, None).unwrap();
    assert_eq!(
        chain.simple().unwrap(),
        "crop=200:100:0:0,transpose=clock,scale=trunc(iw/2)*2:trunc(ih/2)*2"
    );
}

#[test]
fn resolution_check_keeps_source_or_fails() {
    let spec = video(Some(640), None);
    let kept = apply_checks(&spec, &checks(AdjMethod::UseSource), &info(320, 240)).unwrap();
    assert_eq!(kept.video.as_ref().unwrap().width, None);
    let err = apply_checks(&spec, &checks(AdjMethod::Fail), &info(320, 240)).unwrap_err();
    assert_eq!(err.code(), "InvalidInput");
    assert!(err.to_string().contains("640x480"), "{err}");
    assert!(err.to_string().contains("320x240"), "{err}");
    // A downscale passes untouched (borrowed).
    let small = video(Some(160), None);
    let same = apply_checks(&small, &checks(AdjMethod::Fail), &info(320, 240)).unwrap();
    assert!(matches!(same, Cow::Borrowed(_)));
}

#[test]
fn resolution_check_sees_the_rotated_source() {
    // 320x240 turned a quarter is 240x320: a 240-wide target is no upscale.
    let mut extras = checks(AdjMethod::Fail);
    extras.rotate = Some(90.0);
    let spec = video(Some(240), Some(320));
    assert!(apply_checks(&spec, &extras, &info(320, 240)).is_ok());
    extras.rotate = None;
    assert!(apply_checks(&spec, &extras, &info(320, 240)).is_err());
}

#[test]
fn bitrate_and_fps_checks() {
    let mut spec = video(None, None);
    let v = spec.video.as_mut().unwrap();
    v.bitrate_kbps = Some(3000);
    v.fps = Some(60.0);
    spec.audio = Some(super::super::AudioSpec {
        bitrate_kbps: Some(256),
        ..Default::default()
    });
    let fixed = apply_checks(&spec, &checks(AdjMethod::UseSource), &info(320, 240)).unwrap();
    let v = fixed.video.as_ref().unwrap();
    assert_eq!(v.bitrate_kbps, Some(1000));
    assert_eq!(v.fps, None);
    assert_eq!(fixed.audio.as_ref().unwrap().bitrate_kbps, Some(128));
    let err = apply_checks(&spec, &checks(AdjMethod::Fail), &info(320, 240)).unwrap_err();
    assert!(err.to_string().contains("video bitrate 3000 kbps"), "{err}");
    // CRF wins over bitrate, so there is no bitrate to check.
    spec.video.as_mut().unwrap().crf = Some(23.0);
    spec.video.as_mut().unwrap().fps = None;
    spec.audio = None;
    assert!(apply_checks(&spec, &checks(AdjMethod::Fail), &info(320, 240)).is_ok());
}

#[test]
fn crop_outside_the_source_is_invalid_input() {
    let extras = TranscodeExtras {
        crop: Some("300:200:100:0".into()),
        ..Default::default()
    };
    let err = apply_checks(&video(None, None), &extras, &info(320, 240)).unwrap_err();
    assert_eq!(err.code(), "InvalidInput");
}

#[test]
fn complex_graph_labels_are_prefixed() {
    let chain = VideoChain {
        steps: vec![
            Step::Filter("crop=10:10:0:0".into()),
            Step::Overlay(Overlay {
                image: "/w.png".into(),
                prepare: vec!["format=rgba".into()],
                scale_ref: Some("w=iw*20/100:h=ow/main_a".into()),
                overlay: "overlay=x=0:y=0".into(),
            }),
            Step::Filter("drawtext=text=x".into()),
        ],
        palette: Some(Palette::basic()),
    };
    assert_eq!(chain.simple(), None);
    assert_eq!(chain.images(), [std::path::Path::new("/w.png")]);
    let graph = chain.complex("0:v:0", &[1], "o0", "o0v");
    assert_eq!(
        graph,
        "[0:v:0]crop=10:10:0:0[o0base1];\
         [1:v]format=rgba[o0mark1];\
         [o0mark1][o0base1]scale2ref=w=iw*20/100:h=ow/main_a[o0mark1s][o0base1s];\
         [o0base1s][o0mark1s]overlay=x=0:y=0[o0over1];\
         [o0over1]drawtext=text=x,split[o0a][o0b];[o0a]palettegen[o0p];[o0b][o0p]paletteuse[o0v]"
    );
}
