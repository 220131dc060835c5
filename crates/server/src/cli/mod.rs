//! The client commands of `reelflow`: `callbacks …` and `nodes` (the `/_reelflow/v1/`
//! management API), and `put`/`get`/`ls`/`rm`/`mb`, `workflow`, `runs`, `jobs`, `batch` and
//! `demo` (the object and CI APIs, [`ClientCommand`]).
//!
//! Every command is signed HTTP requests to a running server (`--server`), so the CLI works
//! the same against a local or a remote node and never opens the database itself. Credentials
//! come from `REELFLOW_SECRET_ID`/`REELFLOW_SECRET_KEY`, or from `DATA/credentials`.

mod batch;
mod callbacks;
mod client;
mod command;
mod cos;
mod demo;
mod jobs;
mod nodes;
mod objects;
mod output;
mod runs;
mod times;
mod upload;
mod workflow;
mod xmljson;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};

pub use client::{AdminClient, parse_credentials, server_url};
pub use command::{ClientCommand, UsageError, client, completions, exit_status};
pub use output::{Output, print_json};

/// Where the server is and who we are.
#[derive(Debug, Args)]
pub struct Connection {
    /// Server base URL (`http://` is assumed when no scheme is given).
    #[arg(
        long,
        env = "REELFLOW_SERVER",
        default_value = "http://127.0.0.1:9600",
        global = true
    )]
    pub server: String,
    /// The server's data directory, for its `credentials` file (when REELFLOW_SECRET_ID/KEY
    /// are not set) [default: ./reelflow-data, else the `reelflow-data` of the checkout the
    /// binary was built in, where scripts/serve.sh keeps it].
    #[arg(long, env = "REELFLOW_DATA", global = true)]
    pub data: Option<PathBuf>,
    /// Print the server's JSON answers as they are (for scripts); short for `--output json`.
    #[arg(long, global = true)]
    pub json: bool,
    /// How to print: `table` for people, `json` for scripts (one JSON document on stdout).
    #[arg(long, value_enum, global = true, default_value_t = Output::Table)]
    pub output: Output,
}

impl Connection {
    /// Whether answers are printed as JSON (`--output json` or `--json`).
    pub fn json_output(&self) -> bool {
        self.json || self.output == Output::Json
    }
}

/// `reelflow callbacks …`.
#[derive(Debug, Subcommand)]
pub enum CallbacksCommand {
    /// List callback messages, newest first.
    #[command(visible_alias = "ls")]
    List(callbacks::ListArgs),
    /// Show one message: its body and every delivery attempt.
    Show {
        /// Message id (the `webhook-id`).
        id: String,
    },
    /// Send one message again now (a new delivery round), whatever its state.
    Redeliver {
        /// Message id.
        id: String,
    },
    /// Send again every exhausted message created in a time range.
    Recover(callbacks::RecoverArgs),
    /// Per-bucket signing secrets.
    #[command(subcommand)]
    Secret(callbacks::SecretCommand),
    /// Delivery metrics (Prometheus text format).
    Metrics,
}

/// Runs one `callbacks` command.
pub async fn run(connection: &Connection, command: CallbacksCommand) -> Result<()> {
    let client = AdminClient::from_env(&connection.server, connection.data.as_deref())?;
    callbacks::run(&client, command, connection.json_output()).await
}

/// Runs `reelflow nodes`.
pub async fn nodes(connection: &Connection) -> Result<()> {
    let client = AdminClient::from_env(&connection.server, connection.data.as_deref())?;
    nodes::run(&client, connection.json_output()).await
}
