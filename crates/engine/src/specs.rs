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
