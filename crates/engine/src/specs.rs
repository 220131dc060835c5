//! Mapping CI template parameters (model) to the media crate's ffmpeg specs.

use reelflow_media::{
    AudioSpec, SnapshotMode as MediaMode, SnapshotSpec, TranscodeSpec, VideoSpec,
};
use reelflow_model::template::{SnapshotMode, SnapshotParams, TranscodeParams};

/// The ffmpeg spec for a Transcode template.
pub fn transcode_spec(p: &TranscodeParams) -> TranscodeSpec {
    TranscodeSpec {
        container: p.container.clone(),
        video: p.video.as_ref().map(|v| VideoSpec {
            codec: v.codec.clone(),
            width: v.width,
            height: v.height,
            fps: v.fps,
            bitrate_kbps: v.bitrate,
            crf: v.crf,
            gop: v.gop,
            preset: v.preset.clone(),
            profile: v.profile.clone(),
            pixfmt: v.pixfmt.clone(),
            maxrate_kbps: v.maxrate,
            bufsize_kb: v.bufsize,
            remove: v.remove,
        }),
        audio: p.audio.as_ref().map(|a| AudioSpec {
            codec: a.codec.clone(),
            samplerate: a.samplerate,
            bitrate_kbps: a.bitrate,
            channels: a.channels,
            remove: a.remove,
        }),
        start: p.start,
        duration: p.duration,
        segment_duration: p.segment_duration,
        delete_metadata: p.delete_metadata,
    }
}

/// The ffmpeg spec for a Snapshot template.
pub fn snapshot_spec(p: &SnapshotParams) -> SnapshotSpec {
    SnapshotSpec {
        mode: match p.mode {
            SnapshotMode::Interval => MediaMode::Interval,
            SnapshotMode::Average => MediaMode::Average,
            SnapshotMode::KeyFrame => MediaMode::KeyFrame,
        },
        start: p.start,
        interval: p.interval,
        count: p.count,
        width: p.width,
        height: p.height,
        format: p.format.clone(),
    }
}

/// Crop, rotation, size method, source checks of a Transcode template (watermarks are added
/// by the caller, which downloads image watermarks first).
pub fn transcode_extras(p: &TranscodeParams) -> reelflow_media::TranscodeExtras {
    use reelflow_media::{AdjDarMethod, AdjMethod, TransChecks};
    let video = p.video.as_ref();
    let tc = &p.trans_config;
    let adj = |on: bool, fail: bool| {
        on.then_some(if fail {
            AdjMethod::Fail
        } else {
            AdjMethod::UseSource
        })
    };
    reelflow_media::TranscodeExtras {
        rotate: video.and_then(|v| v.rotate).filter(|r| *r != 0.0),
        crop: video
            .and_then(|v| v.crop)
            .map(|(w, h, x, y)| format!("{w}:{h}:{x}:{y}")),
        adj_dar: tc
            .adj_dar_method
            .as_deref()
            .and_then(|m| AdjDarMethod::parse(m).ok())
            .unwrap_or_default(),
        checks: TransChecks {
            resolution: adj(tc.is_check_reso, tc.reso_fail),
            video_bitrate: adj(tc.is_check_video_bitrate, tc.video_bitrate_fail),
            audio_bitrate: adj(tc.is_check_audio_bitrate, tc.audio_bitrate_fail),
            video_fps: adj(tc.is_check_video_fps, tc.video_fps_fail),
        },
        watermarks: Vec::new(),
        delogo: None,
    }
}

/// Black check, IsCheckCount and sprites of a Snapshot template.
pub fn snapshot_extras(p: &SnapshotParams) -> reelflow_media::SnapshotExtras {
    use reelflow_media::{BlackCheck, SnapshotOutMode as Out, SpriteScaleMethod, SpriteSpec};
    use reelflow_model::template::SnapshotOutMode;
    let defaults = BlackCheck::default();
    reelflow_media::SnapshotExtras {
        check_count: p.is_check_count,
        black: p.is_check_black.then(|| BlackCheck {
            black_level: p.black_level.map_or(defaults.black_level, |v| v as u8),
            pixel_black_threshold: p
                .pixel_black_threshold
                .map_or(defaults.pixel_black_threshold, |v| v as u8),
        }),
        out_mode: match p.out_mode {
            SnapshotOutMode::OnlySnapshot => Out::OnlySnapshot,
            SnapshotOutMode::OnlySprite => Out::OnlySprite,
            SnapshotOutMode::SnapshotAndSprite => Out::SnapshotAndSprite,
        },
        sprite: p.sprite.as_ref().map(|s| SpriteSpec {
            cell_width: s.cell_width,
            cell_height: s.cell_height,
            padding: s.padding,
            margin: s.margin,
            color: s.color.clone(),
            columns: s.columns,
            lines: s.lines,
            scale_method: SpriteScaleMethod::parse(&s.scale_method).unwrap_or_default(),
        }),
    }
}
