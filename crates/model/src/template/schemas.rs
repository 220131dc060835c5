//! The element schemas of every template container (reference §5), one constant per container.

use crate::schema::Kind::{Bool, Even, Group, Int, List, Num, OneOf, Text};
use crate::schema::{Field, opt, req};

/// Containers a Transcode template may name.
pub const CONTAINERS: &[&str] = &[
    "mp4", "mov", "mkv", "flv", "ts", "hls", "dash", "webm", "mp3", "aac", "adts", "m4a", "flac",
    "wav", "avi",
];
/// Video codecs of Transcode templates.
pub const VIDEO_CODECS: &[&str] = &["H.264", "H.265", "VP8", "VP9", "AV1"];
/// Audio codecs of Transcode templates.
pub const AUDIO_CODECS: &[&str] = &["aac", "mp3", "flac", "Vorbis", "opus", "pcm_s16le", "amr"];
/// Sample rates CI accepts.
pub const SAMPLE_RATES: &[u32] = &[
    8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000,
];
const PIXFMTS: &[&str] = &[
    "yuv420p",
    "yuv422p",
    "yuv444p",
    "yuvj420p",
    "yuvj422p",
    "yuvj444p",
    "yuv420p10le",
    "auto",
];
const ADJ: &[&str] = &["0", "1"];

const CLIP_CONFIG: &[Field] = &[opt("Duration", Num(1.0, 3600.0))];
/// `Container` of Transcode.
pub const CONTAINER: &[Field] = &[
    req("Format", OneOf(CONTAINERS)),
    opt("ClipConfig", Group(CLIP_CONFIG)),
];
const COLOR_PARAM: &[Field] = &[
    opt("ColorRange", Text(32)),
    opt("ColorSpace", Text(32)),
    opt("ColorTrc", Text(32)),
    opt("ColorPrimaries", Text(32)),
];
/// `Video` of Transcode.
pub const VIDEO: &[Field] = &[
    opt("Codec", OneOf(VIDEO_CODECS)),
    opt("Width", Even(128, 4096)),
    opt("Height", Even(128, 4096)),
    opt("Fps", Num(0.001, 60.0)),
    opt("Remove", Bool),
    opt("Profile", OneOf(&["baseline", "main", "high", "auto"])),
    opt("Bitrate", Text(8)), // [10,50000] or "auto": checked by the typed view
    opt("Crf", Num(0.0, 51.0)),
    opt("Gop", Int(1, 100_000)),
    opt(
        "Preset",
        OneOf(&[
            "veryfast",
            "fast",
            "medium",
            "slow",
            "slower",
            "good",
            "realtime",
            "universal",
            "4",
            "5",
        ]),
    ),
    opt("Bufsize", Int(1000, 128_000)),
    opt("Maxrate", Int(10, 50_000)),
    opt("Pixfmt", OneOf(PIXFMTS)),
    opt("LongShortMode", Bool),
    opt("Rotate", Num(0.0, 359.999)),
    opt("Roi", OneOf(&["none", "low", "medium", "high"])),
    opt("Crop", Text(64)),
    opt("Interlaced", Bool),
    opt("HlsTsTime", Num(1.0, 3600.0)),
    opt("DashSegment", Num(1.0, 3600.0)),
    opt("ColorParam", Group(COLOR_PARAM)),
    opt("StdExtInfo", Text(256)),
];
/// `Audio` of Transcode.
pub const AUDIO: &[Field] = &[
    opt("Codec", OneOf(AUDIO_CODECS)),
    opt("Samplerate", Int(8000, 96_000)),
    opt("Bitrate", Int(8, 1000)),
    opt("Channels", Int(1, 8)),
    opt("Remove", Bool),
    opt("KeepTwoTracks", Bool),
    opt("SwitchTrack", Bool),
    opt(
        "SampleFormat",
        OneOf(&["fltp", "s16", "s32", "s16p", "s32p"]),
    ),
];
/// `TimeInterval`.
pub const TIME_INTERVAL: &[Field] = &[
    opt("Start", Num(0.0, 86_400.0)),
    opt("Duration", Num(0.0, 86_400.0)),
];
const ENCRYPT: &[Field] = &[
    opt("IsHlsEncrypt", Bool),
    opt("IsEncrypt", Bool),
    opt("UriKey", Text(512)),
];
const AIGC: &[Field] = &[
    opt("Label", Text(256)),
    opt("ContentProducer", Text(256)),
    opt("ProduceID", Text(256)),
    opt("ReservedCode1", Text(256)),
    opt("ReservedCode2", Text(256)),
    opt("ContentPropagator", Text(256)),
    opt("PropagateID", Text(256)),
];
/// `TransConfig`.
pub const TRANS_CONFIG: &[Field] = &[
    opt("AdjDarMethod", OneOf(&["scale", "crop", "pad", "none"])),
    opt("IsCheckReso", Bool),
    opt("ResoAdjMethod", OneOf(ADJ)),
    opt("IsCheckVideoBitrate", Bool),
    opt("VideoBitrateAdjMethod", OneOf(ADJ)),
    opt("IsCheckAudioBitrate", Bool),
    opt("AudioBitrateAdjMethod", OneOf(ADJ)),
    opt("IsCheckVideoFps", Bool),
    opt("VideoFpsAdjMethod", OneOf(ADJ)),
    opt("DeleteMetadata", Bool),
    opt("IsHdr2Sdr", Bool),
    opt("TranscodeIndex", Int(0, 1000)),
    opt("HlsEncrypt", Group(ENCRYPT)),
    opt("DashEncrypt", Group(ENCRYPT)),
    opt("AIGCMetadata", Group(AIGC)),
];
const EFFECT: &[Field] = &[
    opt("EnableStartFadein", Bool),
    opt("StartFadeinTime", Num(0.0, 3600.0)),
    opt("EnableEndFadeout", Bool),
    opt("EndFadeoutTime", Num(0.0, 3600.0)),
    opt("EnableBgmFade", Bool),
    opt("BgmFadeTime", Num(0.0, 3600.0)),
];
/// `AudioMix` / `AudioMixArray`.
pub const AUDIO_MIX: &[Field] = &[
    req("AudioSource", Text(1024)),
    opt("MixMode", OneOf(&["Repeat", "Once"])),
    opt("Replace", Bool),
    opt("EffectConfig", Group(EFFECT)),
];
/// The `TransTpl` of Transcode/HighSpeedHd templates.
pub const TRANS_TPL: &[Field] = &[
    req("Container", Group(CONTAINER)),
    opt("Video", Group(VIDEO)),
    opt("Audio", Group(AUDIO)),
    opt("TimeInterval", Group(TIME_INTERVAL)),
    opt("TransConfig", Group(TRANS_CONFIG)),
    opt("AudioMix", Group(AUDIO_MIX)),
    opt("AudioMixArray", List(AUDIO_MIX, 2)),
];

const SPRITE: &[Field] = &[
    opt("CellWidth", Int(8, 4096)),
    opt("CellHeight", Int(8, 4096)),
    opt("Padding", Int(0, 1024)),
    opt("Margin", Int(0, 1024)),
    req("Color", Text(32)),
    req("Columns", Int(1, 10_000)),
    req("Lines", Int(1, 10_000)),
    opt(
        "ScaleMethod",
        OneOf(&["DirectScale", "MaxWHScaleAndPad", "MaxWHScale"]),
    ),
];
/// The `Snapshot` container.
pub const SNAPSHOT: &[Field] = &[
    opt("Mode", OneOf(&["Interval", "Average", "KeyFrame"])),
    opt("Start", Num(0.0, 86_400.0)),
    opt("TimeInterval", Num(0.001, 3600.0)),
    req("Count", Int(1, 10_000)),
    opt("Width", Int(128, 4096)),
    opt("Height", Int(128, 4096)),
    opt("CIParam", Text(1024)),
    opt("IsCheckCount", Bool),
    opt("IsCheckBlack", Bool),
    opt("BlackLevel", Int(30, 100)),
    opt("PixelBlackThreshold", Int(0, 255)),
    opt(
        "SnapshotOutMode",
        OneOf(&["OnlySnapshot", "OnlySprite", "SnapshotAndSprite"]),
    ),
    opt("SpriteSnapshotConfig", Group(SPRITE)),
];

const ANIMATION_CONTAINER: &[Field] = &[req("Format", OneOf(&["gif", "hgif", "webp"]))];
const ANIMATION_VIDEO: &[Field] = &[
    req("Codec", OneOf(&["gif", "webp"])),
    opt("Width", Even(128, 4096)),
    opt("Height", Even(128, 4096)),
    opt("Fps", Num(0.001, 60.0)),
    opt("AnimateOnlyKeepKeyFrame", Bool),
    opt("AnimateTimeIntervalOfFrame", Num(0.001, 86_400.0)),
    opt("AnimateFramesPerSecond", Num(0.001, 60.0)),
    opt("Quality", Num(1.0, 99.999)),
];
/// The `TransTpl` of Animation templates.
pub const ANIMATION_TPL: &[Field] = &[
    req("Container", Group(ANIMATION_CONTAINER)),
    req("Video", Group(ANIMATION_VIDEO)),
    opt("TimeInterval", Group(TIME_INTERVAL)),
];

const FRAGMENT: &[Field] = &[
    req("Url", Text(2048)),
    // Optional: a Concat job without Input has no input to place fragments around.
    opt("Mode", OneOf(&["Start", "End"])),
    opt("StartTime", Num(0.0, 86_400.0)),
    opt("EndTime", Num(0.0, 86_400.0)),
    opt("FragmentIndex", Int(0, 1000)),
    opt("Duration", Num(0.0, 86_400.0)),
];
const CONCAT_AUDIO: &[Field] = &[
    opt("Codec", OneOf(&["aac", "mp3"])),
    opt(
        "Samplerate",
        OneOf(&["11025", "22050", "32000", "44100", "48000", "96000"]),
    ),
    opt("Bitrate", Int(8, 1000)),
    opt("Channels", Int(1, 8)),
    opt("Remove", Bool),
];
const CONCAT_VIDEO: &[Field] = &[
    opt("Codec", OneOf(&["H.264"])),
    opt("Width", Even(128, 4096)),
    opt("Height", Even(128, 4096)),
    opt("Fps", Num(0.001, 60.0)),
    opt("Bitrate", Int(10, 50_000)),
    opt("Crf", Num(0.0, 51.0)),
    opt("Remove", Bool),
    opt("Gop", Int(1, 100_000)),
    opt(
        "Preset",
        OneOf(&["veryfast", "fast", "medium", "slow", "slower"]),
    ),
    opt("Profile", OneOf(&["baseline", "main", "high", "auto"])),
    opt("Rotate", Num(0.0, 359.999)),
];
const SCENE_CHANGE: &[Field] = &[
    opt("Mode", OneOf(&["Default", "FADE", "GRADIENT"])),
    opt("Time", Num(0.0, 5.0)),
    opt("TransitionType", Text(64)),
];
/// The `ConcatTemplate` container.
pub const CONCAT: &[Field] = &[
    opt("ConcatFragment", List(FRAGMENT, 20)),
    opt("Audio", Group(CONCAT_AUDIO)),
    opt("Video", Group(CONCAT_VIDEO)),
    req(
        "Container",
        Group(&[req(
            "Format",
            OneOf(&["mp4", "flv", "hls", "ts", "mp3", "aac"]),
        )]),
    ),
    opt("Index", Text(16)),
    opt("DirectConcat", Bool),
    opt("SceneChangeInfo", Group(SCENE_CHANGE)),
    opt("AudioMix", Group(AUDIO_MIX)),
    opt("AudioMixArray", List(AUDIO_MIX, 2)),
];

/// The `SmartCover` container (template and inline node form).
pub const SMART_COVER: &[Field] = &[
    opt("Format", OneOf(&["jpg", "png", "webp"])),
    opt("Width", Int(128, 4096)),
    opt("Height", Int(128, 4096)),
    opt("Count", Int(1, 10)),
    opt("DeleteDuplicates", Bool),
];

const WM_IMAGE: &[Field] = &[
    req("Url", Text(2048)),
    opt("Mode", OneOf(&["Original", "Proportion", "Fixed"])),
    opt("Width", Num(0.0, 4096.0)),
    opt("Height", Num(0.0, 4096.0)),
    opt("Transparency", Int(1, 100)),
    opt("Background", Bool),
];
const WM_TEXT: &[Field] = &[
    req("Text", Text(64)),
    opt("FontSize", Int(5, 100)),
    opt("FontType", Text(64)),
    opt("FontColor", Text(8)), // 0xRRGGBB: checked by the typed view
    opt("Transparency", Int(1, 100)),
];
const WM_SLIDE: &[Field] = &[
    opt("SlideMode", OneOf(&["Default", "ScrollFromLeft"])),
    opt("XSlideSpeed", Num(0.0, 100.0)),
    opt("YSlideSpeed", Num(0.0, 100.0)),
];
/// The `Watermark` container.
pub const WATERMARK: &[Field] = &[
    req("Type", OneOf(&["Text", "Image"])),
    opt(
        "Pos",
        OneOf(&[
            "TopRight",
            "TopLeft",
            "BottomRight",
            "BottomLeft",
            "Top",
            "Left",
            "Center",
            "Right",
            "Bottom",
        ]),
    ),
    opt("LocMode", OneOf(&["Absolute", "Relativity"])),
    opt("Dx", Num(-4096.0, 4096.0)),
    opt("Dy", Num(-4096.0, 4096.0)),
    opt("StartTime", Num(0.0, 86_400.0)),
    opt("EndTime", Num(0.0, 86_400.0)),
    opt("SlideConfig", Group(WM_SLIDE)),
    opt("Image", Group(WM_IMAGE)),
    opt("Text", Group(WM_TEXT)),
];

/// The `PicProcess` container (picture-processing template).
pub const PIC_PROCESS: &[Field] = &[opt("IsPicInfo", Bool), req("ProcessRule", Text(1024))];
