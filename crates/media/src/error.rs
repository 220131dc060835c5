//! The error type of every media operation.
//!
//! [`MediaError`] separates what the caller did wrong or fed in ([`InvalidInput`],
//! [`InvalidSpec`]) from what went wrong while running a tool ([`Process`]). Each
//! variant has a stable [`code`](MediaError::code) string the engine can put into a
//! task's `Code` without parsing messages. Causes stay in the `source()` chain; the only
//! text copied into messages is ffmpeg's stderr tail, which is data, not a cause.
//!
//! [`InvalidInput`]: MediaError::InvalidInput
//! [`InvalidSpec`]: MediaError::InvalidSpec
//! [`Process`]: MediaError::Process

use std::path::PathBuf;

use crate::process::ProcessError;

/// Why a probe, transcode or snapshot failed.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The input is not usable media (unreadable, empty, no such stream, seek past the
    /// end). Retrying will not help; the message says what is wrong.
    #[error("invalid input: {message}")]
    InvalidInput {
        /// Human-readable reason, including ffprobe's stderr tail when there is one.
        message: String,
    },
    /// The spec cannot be executed (unknown container or codec, codec not allowed in
    /// the container, unusable output path).
    #[error("invalid spec: {message}")]
    InvalidSpec {
        /// Human-readable reason naming the field.
        message: String,
    },
    /// Running ffmpeg or ffprobe failed, timed out, stalled or was cancelled.
    #[error(transparent)]
    Process(#[from] ProcessError),
    /// ffprobe succeeded but printed JSON we could not read (a tool/version problem,
    /// not the input's fault).
    #[error("could not parse ffprobe output")]
    ProbeOutput(#[source] serde_json::Error),
    /// ffmpeg exited successfully yet an expected output is missing or empty.
    #[error("ffmpeg wrote no output to {}", path.display())]
    NoOutput {
        /// The output that is missing.
        path: PathBuf,
    },
    /// Local file-system work around a run failed (creating or listing directories).
    #[error("{context}: {}", path.display())]
    Io {
        /// What we were doing.
        context: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl MediaError {
    /// A stable machine-readable code.
    ///
    /// Every failing ffmpeg run (transcode or snapshot) is `TranscodeFailed`, the code
    /// CI users know for "media processing failed"; the message names the tool.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidInput { .. } => "InvalidInput",
            Self::InvalidSpec { .. } => "InvalidSpec",
            Self::Process(err) => match err {
                ProcessError::Failed { .. } => "TranscodeFailed",
                other => other.code(),
            },
            Self::ProbeOutput(_) => "ProbeFailed",
            Self::NoOutput { .. } => "TranscodeFailed",
            Self::Io { .. } => "IoError",
        }
    }

    /// `true` when the input or spec is at fault (a 4xx-style failure).
    pub fn is_client_error(&self) -> bool {
        matches!(self, Self::InvalidInput { .. } | Self::InvalidSpec { .. })
    }

    /// `true` when the run was cancelled through its token.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Self::Process(ProcessError::Cancelled { .. }))
    }

    /// `true` for failures that may pass on a later attempt (timeouts, stalls, spawn
    /// and local IO problems), as opposed to bad input or a deterministic ffmpeg error.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Process(err) => err.is_retryable(),
            Self::Io { .. } => true,
            _ => false,
        }
    }

    /// The tool's stderr tail, when the failure carries one.
    pub fn stderr_tail(&self) -> Option<&str> {
        match self {
            Self::Process(err) => err.stderr_tail(),
            _ => None,
        }
    }

    pub(crate) fn invalid_input(message: impl Into<String>) -> Self {
        Self::InvalidInput {
            message: message.into(),
        }
    }

    pub(crate) fn invalid_spec(message: impl Into<String>) -> Self {
        Self::InvalidSpec {
            message: message.into(),
        }
    }

    pub(crate) fn io(
        context: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io {
            context,
            path,
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn codes_are_stable() {
        assert_eq!(MediaError::invalid_input("x").code(), "InvalidInput");
        assert_eq!(MediaError::invalid_spec("x").code(), "InvalidSpec");
        let cancelled = MediaError::from(ProcessError::Cancelled {
            program: "ffmpeg".into(),
        });
        assert_eq!(cancelled.code(), "Cancelled");
        assert!(cancelled.is_cancelled());
        let timeout = MediaError::from(ProcessError::Timeout {
            program: "ffmpeg".into(),
            after: Duration::from_secs(3),
            stderr_tail: String::new(),
        });
        assert_eq!(timeout.code(), "Timeout");
        assert!(timeout.is_retryable());
    }

    #[test]
    fn display_includes_message() {
        let err = MediaError::invalid_input("input has no video stream");
        assert_eq!(err.to_string(), "invalid input: input has no video stream");
    }
}
