//! ffmpeg/ffprobe process wrapper and media operations (transcode, snapshot).
//!
//! This crate knows nothing about HTTP, XML or databases. The engine turns Tencent CI
//! templates into the typed specs defined here ([`TranscodeSpec`], [`SnapshotSpec`])
//! and hands over local file paths; this crate turns them into ffmpeg command lines,
//! runs them and reports the files written.
//!
//! Layers, bottom up:
//! - [`process`]: the one wrapper every external tool goes through. No shell, own
//!   process group, wall-clock and stall timeouts, cancellation, SIGTERM then SIGKILL
//!   to the group, a bounded stderr tail attached to errors, `-progress` parsing.
//! - [`progress`]: the parser for ffmpeg's `-progress` key=value blocks.
//! - [`mod@probe`]: ffprobe JSON into [`MediaInfo`]; unreadable inputs become
//!   [`MediaError::InvalidInput`].
//! - [`mod@transcode`] and [`mod@snapshot`]: pure argument builders ([`transcode_args`],
//!   [`snapshot_args`]) unit-tested without ffmpeg, plus the async operations that run
//!   them. [`transcode_many`] writes several outputs from one decode ("fused execution").
//! - [`MediaTools`]: tool paths and [`Limits`] (timeouts); the free functions use its
//!   defaults.
//!
//! Concurrency limits (how many ffmpeg processes run at once) belong to the caller:
//! wrap calls in a semaphore sized to the machine.

pub mod error;
pub mod image;
pub mod limits;
pub mod probe;
pub mod process;
pub mod progress;
pub mod smartcover;
pub mod snapshot;
pub mod transcode;

mod ffmpeg;
mod frames;
mod paths;

pub use error::MediaError;
pub use image::ImageFormat;
pub use limits::{Limits, MediaTools};
pub use probe::{MediaInfo, StreamInfo, parse_ffprobe_json, probe};
pub use process::{ProcessError, ProgressFn, RunControl, ToolCommand, ToolOutput};
pub use progress::{ProgressBlock, ProgressParser, ProgressTarget, parse_progress};
pub use smartcover::{
    Cover, SmartCoverSpec, smart_cover, smart_cover_extract_args, smart_cover_samples,
};
pub use snapshot::{
    BlackCheck, SnapshotExtras, SnapshotMode, SnapshotOutMode, SnapshotOutput, SnapshotSpec,
    SpriteScaleMethod, SpriteSpec, snapshot, snapshot_args, snapshot_path, snapshot_with,
    snapshot_with_args, sprite_args,
};
pub use transcode::{
    AdjDarMethod, AdjMethod, AudioSpec, ImageWatermark, ImageWatermarkMode, JobFiles, LocMode,
    OutputJob, TextWatermark, TransChecks, TranscodeExtras, TranscodeSpec, VideoSpec, Watermark,
    WatermarkKind, WatermarkPos, find_font, fused_args, output_extension, run_fused, transcode,
    transcode_args, transcode_many, transcode_many_args, transcode_with, transcode_with_args,
    validate_extras, validate_spec,
};
