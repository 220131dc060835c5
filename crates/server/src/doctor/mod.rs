//! `reelflow doctor`: checks what a server needs before (or while) it runs, and says what to
//! do about each problem. One line per check, `OK`, `WARN` (works, but worth a look) or
//! `FAIL` (reelflow will not work until it is fixed); the exit status is 1 when any check
//! failed.
//!
//! It reads the same configuration as `reelflow serve` (defaults, `--config`, environment,
//! flags) and changes nothing it did not create: a probe object is written to the blob store
//! and deleted again, the database is read without applying migrations, and the listen
//! address is only bound for a moment.

mod media;
mod network;
mod storage;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::config::{Config, Overrides};

/// `reelflow doctor` flags: the same configuration sources as `reelflow serve`.
#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// Data directory, as for `serve` [default: env REELFLOW_DATA, else `data` in the
    /// config file, else ./reelflow-data].
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// TOML configuration file.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The address `serve` would listen on [default: 127.0.0.1:9600].
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// A running server to check instead of the listen address (`http://host:port`): its
    /// `/_reelflow/health` must answer 200.
    #[arg(long)]
    pub server: Option<String>,
    /// How to print: `table` (one line per check) or `json` (one document:
    /// `{"healthy": bool, "checks": [{"status", "name", "detail"}]}`).
    #[arg(long, value_enum, default_value_t = crate::cli::Output::Table)]
    pub output: crate::cli::Output,
    /// Short for `--output json`.
    #[arg(long)]
    pub json: bool,
}

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Fine.
    Ok,
    /// Works, but worth a look.
    Warn,
    /// Broken: reelflow will not work until it is fixed.
    Fail,
}

/// One line of the report.
#[derive(Debug, Clone)]
pub struct Check {
    /// Outcome.
    pub status: Status,
    /// What was checked (`ffmpeg`, `database`, …).
    pub name: &'static str,
    /// What was found, and for a problem what to do about it.
    pub detail: String,
}

impl Check {
    pub(crate) fn new(status: Status, name: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            name,
            detail: detail.into(),
        }
    }

    pub(crate) fn ok(name: &'static str, detail: impl Into<String>) -> Self {
        Self::new(Status::Ok, name, detail)
    }

    pub(crate) fn warn(name: &'static str, detail: impl Into<String>) -> Self {
        Self::new(Status::Warn, name, detail)
    }

    pub(crate) fn fail(name: &'static str, detail: impl Into<String>) -> Self {
        Self::new(Status::Fail, name, detail)
    }
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<4} {:<9} {}",
            self.status.label(),
            self.name,
            self.detail
        )
    }
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        }
    }
}

/// Runs every check, printing each line as it completes (or, with `--output json`, one JSON
/// document at the end); true when none failed.
pub async fn run(args: DoctorArgs) -> Result<bool> {
    let json = args.json || args.output == crate::cli::Output::Json;
    let mut checks = Vec::new();
    let healthy = run_checks(args, |check| {
        if !json {
            println!("{check}");
        }
        checks.push(check);
    })
    .await?;
    if json {
        let list: Vec<serde_json::Value> = checks
            .iter()
            .map(|c| serde_json::json!({"status": c.status.label(), "name": c.name, "detail": c.detail}))
            .collect();
        crate::cli::print_json(&serde_json::json!({"healthy": healthy, "checks": list}));
    }
    Ok(healthy)
}

async fn run_checks(args: DoctorArgs, mut emit: impl FnMut(Check)) -> Result<bool> {
    let config = Config::load(Overrides {
        listen: args.listen,
        data: args.data,
        config_file: args.config,
        role: None,
    })
    .context("reading the configuration")?;
    let mut healthy = true;
    let mut report = |check: Check| {
        healthy &= check.status != Status::Fail;
        emit(check);
    };
    report(media::tool_version("ffmpeg").await);
    report(media::tool_version("ffprobe").await);
    for check in media::encoders().await {
        report(check);
    }
    // Directories the checks may create; those that do not exist now are removed again.
    let created = storage::NewDirs::before(&config.data);
    let data_dir = storage::data_dir(&config.data);
    let data_writable = data_dir.status == Status::Ok;
    report(data_dir);
    report(storage::credentials(&config.data));
    report(storage::blob_store(&config, data_writable).await);
    report(storage::database(&config, data_writable).await);
    created.remove_if_empty();
    report(match &args.server {
        Some(server) => network::server_health(server).await,
        None => network::listen_address("listen", config.listen).await,
    });
    if let Some(addr) = config.metrics_listen.filter(|_| args.server.is_none()) {
        report(network::listen_address("metrics", addr).await);
    }
    Ok(healthy)
}

/// Most characters of an error shown on a report line.
const MAX_CAUSE: usize = 240;

/// `error` on one line: its outermost message and its root cause (the one that names what
/// went wrong, e.g. `NoSuchBucket`) joined by `: `, each once (storage clients repeat the whole chain in
/// every layer's message), cut to [`MAX_CAUSE`] characters.
pub(crate) fn brief(error: &anyhow::Error) -> String {
    let flat = |e: &dyn std::error::Error| {
        e.to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let first = flat(error.as_ref());
    let root = flat(error.root_cause());
    let line = if first.contains(&root) {
        first
    } else {
        format!("{first}: {root}")
    };
    match line.char_indices().nth(MAX_CAUSE) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}
