//! Log output: human-readable lines on standard output (the default), or one JSON object per
//! line on standard error (`REELFLOW_LOG_FORMAT=json`, `log_format = "json"`) for log
//! shippers. Either way `REELFLOW_LOG` filters (`info` by default, any `tracing` filter such as
//! `reelflow=debug,sqlx=warn`). Text lines are coloured only on a terminal without `NO_COLOR`.
//!
//! JSON lines carry `timestamp`, `level`, `target`, the event's fields flattened next to
//! `message`, and `span`/`spans` with the fields of the spans around the event (for a task,
//! its `job_id` and `node`). Standard output then holds only what the program prints for a
//! person (the generated key pair at first start), so standard error is a clean JSON stream.

use std::path::Path;

use anyhow::{Result, bail};
use serde::Deserialize;
use tracing_subscriber::EnvFilter;

/// The environment variable that selects the format.
pub const FORMAT_SETTING: &str = "REELFLOW_LOG_FORMAT";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `tracing`'s human-readable lines, on standard output.
    #[default]
    Text,
    /// One JSON object per line, on standard error.
    Json,
}

impl LogFormat {
    /// `text` or `json` (any case).
    pub fn parse(value: &str) -> Result<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => bail!("{FORMAT_SETTING} must be text or json, not {other:?}"),
        }
    }

    /// The format before the configuration is loaded: `REELFLOW_LOG_FORMAT`, else the
    /// `log_format` key of `config_file`, else text. (Logging starts before the rest of the
    /// configuration is read, so that reading it can be logged.)
    pub fn configured(config_file: Option<&Path>) -> Result<Self> {
        if let Some(value) = std::env::var(FORMAT_SETTING)
            .ok()
            .filter(|v| !v.trim().is_empty())
        {
            return Self::parse(&value);
        }
        Ok(match config_file {
            Some(path) => crate::config::file_log_format(path)?.unwrap_or_default(),
            None => LogFormat::Text,
        })
    }
}

/// Whether text lines get ANSI colours: only on a terminal, and never with `NO_COLOR` set
/// (<https://no-color.org>), so files, pipes and journald get plain text.
pub fn colour(stdout_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stdout_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Installs the global subscriber for `format`, filtered by `REELFLOW_LOG`.
pub fn init(format: LogFormat) {
    use std::io::IsTerminal;
    let filter = EnvFilter::try_from_env("REELFLOW_LOG").unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Text => builder
            .with_ansi(colour(
                std::io::stdout().is_terminal(),
                std::env::var_os("NO_COLOR").as_deref(),
            ))
            .init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(true)
            .with_writer(std::io::stderr)
            .init(),
    }
}
