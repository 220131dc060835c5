use super::*;
use crate::probe::StreamInfo;
use crate::transcode::SizeRule;

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
    let even = SizeRule::for_encode(VideoCodec::H264, &VideoSpec::default());
    let both = |m| size_filters(Some(640), Some(360), m, even).join(",");
    assert_eq!(both(AdjDarMethod::None), "scale=640:360");
    assert_eq!(both(AdjDarMethod::Scale), "scale=640:360,setsar=1");
    assert_eq!(
        both(AdjDarMethod::Crop),
        "scale=640:360:force_original_aspect_ratio=increase,crop=640:360,setsar=1"
    );
    assert!(both(AdjDarMethod::Pad).contains("pad=640:360:(ow-iw)/2:(oh-ih)/2:black"));
    assert_eq!(
        size_filters(Some(640), None, AdjDarMethod::Pad, even),
        ["scale=640:-2"]
    );
}

#[test]
fn explicit_sizes_are_rounded_to_what_the_encoder_takes() {
    let even = SizeRule::for_encode(VideoCodec::H264, &VideoSpec::default());
    assert_eq!(
        size_filters(Some(1165), Some(767), AdjDarMethod::None, even),
        ["scale=1164:766"]
    );
    assert_eq!(
        size_filters(None, Some(767), AdjDarMethod::None, even),
        ["scale=-2:766"]
    );
    let pad = size_filters(Some(641), Some(361), AdjDarMethod::Pad, even).join(",");
    assert!(pad.contains("pad=640:360:"), "{pad}");
    let full = VideoSpec {
        pixfmt: Some("yuv444p".into()),
        ..Default::default()
    };
    let any = SizeRule::for_encode(VideoCodec::H264, &full);
    assert_eq!(
        size_filters(Some(1165), None, AdjDarMethod::None, any),
        ["scale=1165:-1"]
    );
}

#[test]
fn a_source_size_the_encoder_refuses_gets_the_guard() {
    let none = TranscodeExtras::default();
    let plain = VideoSpec::default();
    let chain = |codec, spec: &VideoSpec, extras: &TranscodeExtras, source| {
        video_chain(codec, spec, extras, None, source)
            .unwrap()
            .simple()
    };
    let guard = "scale=trunc(iw/2)*2:trunc(ih/2)*2";
    for codec in [
        VideoCodec::H264,
        VideoCodec::H265,
        VideoCodec::Vp8,
        VideoCodec::Vp9,
    ] {
        assert_eq!(
            chain(codec, &plain, &none, Some((1164, 767))).as_deref(),
            Some(guard),
            "{codec:?}"
        );
        assert_eq!(chain(codec, &plain, &none, Some((1164, 766))), None);
        assert_eq!(chain(codec, &plain, &none, None).as_deref(), Some(guard));
    }
    let av1 = chain(VideoCodec::Av1, &plain, &none, Some((48, 36))).unwrap();
    assert!(
        av1.starts_with(guard) && av1.contains("pad=w='max(iw,64)'"),
        "{av1}"
    );
    let gif = chain(VideoCodec::Gif, &plain, &none, Some((1165, 767))).unwrap();
    assert!(!gif.contains("scale"), "GIF takes any size: {gif}");
    let full = VideoSpec {
        pixfmt: Some("yuv444p".into()),
        ..Default::default()
    };
    assert_eq!(
        chain(VideoCodec::H264, &full, &none, Some((1165, 767))),
        None
    );
    // A quarter turn swaps the sides a 4:2:2 rule checks.
    let half = VideoSpec {
        pixfmt: Some("yuv422p".into()),
        ..Default::default()
    };
    let turned = TranscodeExtras {
        rotate: Some(90.0),
        ..Default::default()
    };
    assert_eq!(
        chain(VideoCodec::H264, &half, &turned, Some((1164, 767))).as_deref(),
        Some("transpose=clock,scale=trunc(iw/2)*2:ih")
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
    let source = Some((320, 240));
    let chain = video_chain(VideoCodec::H264, &v, &extras, None, source).unwrap();
    assert_eq!(
        chain.simple().unwrap(),
        "crop=200:100:0:0,transpose=clock,scale=-2:120"
    );
    let plain = VideoSpec::default();
    let chain = video_chain(VideoCodec::H264, &plain, &extras, None, source).unwrap();
    assert_eq!(chain.simple().unwrap(), "crop=200:100:0:0,transpose=clock");
    let odd = TranscodeExtras {
        crop: Some("201:100:0:0".into()),
        ..extras
    };
    let chain = video_chain(VideoCodec::H264, &plain, &odd, None, source).unwrap();
    assert_eq!(
        chain.simple().unwrap(),
        "crop=201:100:0:0,transpose=clock,scale=trunc(iw/2)*2:trunc(ih/2)*2"
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
fn checks_see_the_displayed_source() {
    // A 640x360 picture shown a quarter turned is 360x640 once decoded.
    let mut rotated = info(640, 360);
    rotated.streams[0].rotation = Some(90);
    let spec = video(Some(360), Some(640));
    assert!(apply_checks(&spec, &checks(AdjMethod::Fail), &rotated).is_ok());
    let crop = TranscodeExtras {
        crop: Some("360:600:0:40".into()),
        ..Default::default()
    };
    assert!(apply_checks(&video(None, None), &crop, &rotated).is_ok());
    let err = apply_checks(&video(None, None), &crop, &info(640, 360)).unwrap_err();
    assert_eq!(err.code(), "InvalidInput");
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
