//! [`ProcessError`]: why a tool run did not succeed.
//!
//! Each variant keeps what an operator needs: the program, the limit that expired, and
//! the stderr tail (data, copied into the message). OS errors stay `#[source]`s.

use std::io;
use std::process::ExitStatus;
use std::time::Duration;

/// Why a tool run did not succeed. See [`ProcessError::code`].
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The binary is not installed or not in `$PATH`.
    #[error(
        "{program} was not found: install it (apt-get install -y ffmpeg) or configure its path"
    )]
    ToolMissing {
        /// Program as configured.
        program: String,
        /// The spawn error.
        #[source]
        source: io::Error,
    },
    /// The binary exists but could not be started (permissions, resource limits).
    #[error("could not start {program}")]
    Spawn {
        /// Program as configured.
        program: String,
        /// The spawn error.
        #[source]
        source: io::Error,
    },
    /// The tool ran and exited unsuccessfully.
    #[error("{program} failed ({status}){}", with_tail(.stderr_tail))]
    Failed {
        /// Program as configured.
        program: String,
        /// Its exit status.
        status: ExitStatus,
        /// The end of its stderr.
        stderr_tail: String,
    },
    /// The wall-clock timeout expired; the tool was stopped.
    #[error("{program} timed out after {}{}", secs(.after), with_tail(.stderr_tail))]
    Timeout {
        /// Program as configured.
        program: String,
        /// The timeout that expired.
        after: Duration,
        /// The end of its stderr.
        stderr_tail: String,
    },
    /// ffmpeg's output time did not advance for the stall timeout; it was stopped.
    #[error("{program} made no progress for {}{}", secs(.after), with_tail(.stderr_tail))]
    Stalled {
        /// Program as configured.
        program: String,
        /// The stall timeout that expired.
        after: Duration,
        /// The end of its stderr.
        stderr_tail: String,
    },
    /// The caller cancelled the run; the tool was stopped.
    #[error("{program} was cancelled")]
    Cancelled {
        /// Program as configured.
        program: String,
    },
    /// Waiting for the child or reading its pipes failed.
    #[error("i/o error while supervising a tool")]
    Io(#[from] io::Error),
}

fn with_tail(tail: &str) -> String {
    if tail.is_empty() {
        String::new()
    } else {
        format!(": {tail}")
    }
}

fn secs(d: &Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

impl ProcessError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::ToolMissing { .. } => "ToolMissing",
            Self::Spawn { .. } => "SpawnFailed",
            Self::Failed { .. } => "ToolFailed",
            Self::Timeout { .. } => "Timeout",
            Self::Stalled { .. } => "Stalled",
            Self::Cancelled { .. } => "Cancelled",
            Self::Io(_) => "IoError",
        }
    }

    /// The tool's stderr tail, when this failure carries one.
    pub fn stderr_tail(&self) -> Option<&str> {
        match self {
            Self::Failed { stderr_tail, .. }
            | Self::Timeout { stderr_tail, .. }
            | Self::Stalled { stderr_tail, .. } => Some(stderr_tail),
            _ => None,
        }
    }

    /// `true` for failures that may pass on a later attempt.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Spawn { .. } | Self::Timeout { .. } | Self::Stalled { .. } | Self::Io(_)
        )
    }
}
