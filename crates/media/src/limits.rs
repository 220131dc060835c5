//! Tool locations and time limits.
//!
//! A transcode of a two-hour film and a probe of a thumbnail need very different
//! deadlines, so the wall-clock timeout of an ffmpeg run scales with the media it
//! processes (`base + factor × seconds`). A second, independent *stall* timeout catches
//! runs that are alive but no longer advancing (a hung network input, a filter that
//! swallows every frame): it resets whenever ffmpeg's reported output time moves.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use crate::process::ToolCommand;

/// Time limits applied to tool runs. The defaults suit a 2-core worker.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Fixed part of an ffmpeg timeout (start-up, probing, muxing). Default 60 s.
    pub base_timeout: Duration,
    /// Seconds of wall clock allowed per second of processed media. Default 20, which
    /// leaves room for x264 `medium` at 1080p on two cores (~0.6× realtime).
    pub timeout_per_media_second: f64,
    /// Timeout when the media duration is unknown. Default 2 h.
    pub unknown_duration_timeout: Duration,
    /// How long ffmpeg's output time may stay still before the run counts as stalled.
    /// Default 60 s.
    pub stall_timeout: Duration,
    /// Timeout of one ffprobe run. Default 30 s.
    pub probe_timeout: Duration,
    /// Time between SIGTERM and SIGKILL when stopping a tool. Default 2 s.
    pub kill_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            base_timeout: Duration::from_secs(60),
            timeout_per_media_second: 20.0,
            unknown_duration_timeout: Duration::from_secs(2 * 3600),
            stall_timeout: Duration::from_secs(60),
            probe_timeout: Duration::from_secs(30),
            kill_grace: Duration::from_secs(2),
        }
    }
}

impl Limits {
    /// Wall-clock timeout for an ffmpeg run over `media_secs` seconds of media.
    pub fn ffmpeg_timeout(&self, media_secs: Option<f64>) -> Duration {
        match media_secs {
            Some(secs) if secs.is_finite() && secs >= 0.0 => {
                let scaled = (secs * self.timeout_per_media_second).min(30.0 * 24.0 * 3600.0);
                self.base_timeout + Duration::from_secs_f64(scaled.max(0.0))
            }
            _ => self.unknown_duration_timeout,
        }
    }
}

/// Where ffmpeg and ffprobe live, and the limits their runs get.
///
/// The free functions ([`fn@crate::probe`], [`fn@crate::transcode`], …) use
/// `MediaTools::default()`: `ffmpeg`/`ffprobe` from `$PATH` and default [`Limits`].
/// A service builds one from its configuration and calls the methods instead.
#[derive(Debug, Clone)]
pub struct MediaTools {
    /// The ffmpeg binary (a bare name is looked up in `$PATH`).
    pub ffmpeg: PathBuf,
    /// The ffprobe binary.
    pub ffprobe: PathBuf,
    /// Time limits for every run.
    pub limits: Limits,
}

impl Default for MediaTools {
    fn default() -> Self {
        Self {
            ffmpeg: PathBuf::from("ffmpeg"),
            ffprobe: PathBuf::from("ffprobe"),
            limits: Limits::default(),
        }
    }
}

impl MediaTools {
    /// An ffmpeg command for `args` (which must already hold the common prefix and
    /// `-progress pipe:1`), timed against `media_secs` of expected output.
    pub(crate) fn ffmpeg_command<I, S>(&self, args: I, media_secs: Option<f64>) -> ToolCommand
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        ToolCommand::new(&self.ffmpeg)
            .args(args)
            .timeout(self.limits.ffmpeg_timeout(media_secs))
            .stall_timeout(self.limits.stall_timeout)
            .kill_grace(self.limits.kill_grace)
            .ffmpeg_progress(media_secs)
    }

    /// An ffmpeg command whose stdout is data (raw frames through a pipe), not progress:
    /// no progress parsing and no stall timeout, only the wall clock `timeout`.
    pub(crate) fn ffmpeg_data_command<I, S>(&self, args: I, timeout: Duration) -> ToolCommand
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        ToolCommand::new(&self.ffmpeg)
            .args(args)
            .timeout(timeout)
            .kill_grace(self.limits.kill_grace)
    }

    /// An ffprobe command with the probe timeout.
    pub(crate) fn ffprobe_command<I, S>(&self, args: I) -> ToolCommand
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        ToolCommand::new(&self.ffprobe)
            .args(args)
            .timeout(self.limits.probe_timeout)
            .kill_grace(self.limits.kill_grace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_scales_with_duration() {
        let limits = Limits::default();
        assert_eq!(limits.ffmpeg_timeout(Some(0.0)), Duration::from_secs(60));
        assert_eq!(limits.ffmpeg_timeout(Some(3.0)), Duration::from_secs(120));
        assert_eq!(limits.ffmpeg_timeout(None), Duration::from_secs(7200));
        assert_eq!(
            limits.ffmpeg_timeout(Some(f64::NAN)),
            Duration::from_secs(7200)
        );
    }
}
