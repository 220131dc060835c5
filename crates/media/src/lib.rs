//! ffmpeg/ffprobe process wrapper and media operations: transcode (with watermarks
//! and CI's `TransConfig`), snapshot (black-frame skipping, sprites), smart cover,
//! animation, concat, segment, adaptive-streaming packages and picture processing.
//!
//! This crate knows nothing about HTTP, XML or databases. The engine turns Tencent CI
//! templates into the typed specs defined here ([`TranscodeSpec`] + [`TranscodeExtras`],
//! [`SnapshotSpec`] + [`SnapshotExtras`], [`SmartCoverSpec`], [`AnimationSpec`],
//! [`ConcatSpec`], [`SegmentSpec`], [`PicOps`]) and hands over local file paths; this
//! crate turns them into ffmpeg command lines, runs them and reports the files written.
//!
//! Layers, bottom up:
//! - [`process`]: the one wrapper every external tool goes through. No shell, own
//!   process group, wall-clock and stall timeouts, cancellation, SIGTERM then SIGKILL
//!   to the group, a bounded stderr tail attached to errors, `-progress` parsing.
//! - [`progress`]: the parser for ffmpeg's `-progress` key=value blocks.
//! - [`mod@probe`]: ffprobe JSON into [`MediaInfo`]; unreadable inputs become
//!   [`MediaError::InvalidInput`]. [`mod@report`] keeps ffprobe's fields as text too
//!   ([`MediaReport`], for CI's `MediaInfo` document).
//! - Synchronous calls on one object read a [`MediaSource`] (a local file or a loopback
//!   URL, each with a protocol whitelist): [`mod@report`] and [`mod@still`] (one frame at a
//!   time, for `?ci-process=snapshot`).
//! - The operations, each a pure argument builder unit-tested without ffmpeg plus an
//!   async function that runs it: [`mod@transcode`] ([`transcode_args`],
//!   [`transcode_with_args`]), [`mod@snapshot`], [`mod@smartcover`] (frames sampled
//!   through a pipe and scored in Rust), [`mod@animation`], [`mod@concat`],
//!   [`mod@segment`], [`streampack`] (HLS master playlists, DASH packages) and
//!   [`picprocess`] (`imageMogr2`).
//! - [`segmented`]: one long video encoded as key-frame-aligned pieces (each
//!   callable on its own, for sub-tasks on many workers) and stitched by stream copy,
//!   audio encoded once (issue 13).
//! - Fused execution: [`run_fused`] writes several outputs ([`OutputJob`]: transcodes
//!   with their own filters and watermarks, snapshots) from one decode;
//!   [`transcode_many`] is its transcode-only form.
//! - [`MediaTools`]: tool paths and [`Limits`] (timeouts); the free functions use its
//!   defaults.
//!
//! Every failure is a [`MediaError`] with a stable [`code`](MediaError::code).
//! Concurrency limits (how many ffmpeg processes run at once) belong to the caller:
//! wrap calls in a semaphore sized to the machine. SmartCover alone runs two sampling
//! processes at once.

pub mod animation;
pub mod concat;
pub mod error;
pub mod image;
pub mod limits;
pub mod picprocess;
pub mod probe;
pub mod process;
pub mod progress;
pub mod report;
pub mod segment;
pub mod segmented;
pub mod smartcover;
pub mod snapshot;
pub mod sniff;
pub mod source;
pub mod still;
pub mod streampack;
pub mod transcode;

mod ffmpeg;
mod frames;
mod paths;

pub use animation::{AnimationSpec, animation, animation_args, animation_extension};
pub use concat::{
    ConcatInput, ConcatMethod, ConcatSpec, concat, concat_args, concat_list, concat_method,
};
pub use error::MediaError;
pub use image::ImageFormat;
pub use limits::{Limits, MediaTools};
pub use picprocess::{
    Gravity, Only, PicOps, PicStep, Thumbnail, apply_pic_ops, pic_ops_args, pic_output_path,
};
pub use probe::{MediaInfo, StreamInfo, parse_ffprobe_json, probe};
pub use process::{ProcessError, ProgressFn, RunControl, ToolCommand, ToolOutput, kill_orphans};
pub use progress::{ProgressBlock, ProgressParser, ProgressTarget, parse_progress};
pub use report::{MediaReport, ProbeSection, parse_report_json, probe_report};
pub use segment::{SegmentSpec, segment, segment_args, segment_extension, segment_writes_pieces};
pub use segmented::{
    FrameIndex, PlanError, PlannedSegment, SegmentParams, SegmentPlan, SegmentTask, SegmentedJob,
    SegmentedOptions, SegmentedRun, StitchPiece, StitchTask, plan_segments,
};
pub use smartcover::{
    Cover, SmartCoverSpec, smart_cover, smart_cover_extract_args, smart_cover_samples,
};
pub use snapshot::{
    BlackCheck, SnapshotExtras, SnapshotMode, SnapshotOutMode, SnapshotOutput, SnapshotSpec,
    SpriteScaleMethod, SpriteSpec, snapshot, snapshot_args, snapshot_path, snapshot_with,
    snapshot_with_args, sprite_args,
};
pub use source::MediaSource;
pub use still::{StillMode, StillSpec, still, still_args};
pub use streampack::{
    Variant, codecs_string, hls_variant, master_playlist, pack_dash, pack_dash_args, relative_uri,
};
pub use transcode::{
    AdjDarMethod, AdjMethod, AudioSpec, Delogo, ImageWatermark, ImageWatermarkMode, JobFiles,
    LocMode, OutputJob, TextWatermark, TransChecks, TranscodeExtras, TranscodeSpec, VideoSpec,
    Watermark, WatermarkKind, WatermarkPos, find_font, fused_args, output_extension, run_fused,
    transcode, transcode_args, transcode_many, transcode_many_args, transcode_with,
    transcode_with_args, validate_extras, validate_spec,
};
