//! `reelflow callbacks …`: the command-line face of the `/_reelflow/v1/` management API.
//!
//! Every command is one signed HTTP request to a running server (`--server`), so the CLI works
//! the same against a local or a remote node and never opens the database itself. Credentials
//! come from `REELFLOW_SECRET_ID`/`REELFLOW_SECRET_KEY`, or from `DATA/credentials`.

mod callbacks;
mod client;
mod nodes;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};

pub use client::AdminClient;

/// Where the server is and who we are.
#[derive(Debug, Args)]
pub struct Connection {
    /// Server base URL.
    #[arg(
        long,
        env = "REELFLOW_SERVER",
        default_value = "http://127.0.0.1:9600",
        global = true
    )]
    pub server: String,
    /// Data directory holding `credentials` (when the environment has none).
    #[arg(long, default_value = "./reelflow-data", global = true)]
    pub data: PathBuf,
    /// Print the server's JSON answers as they are (for scripts).
    #[arg(long, global = true)]
    pub json: bool,
}

/// `reelflow callbacks …`.
#[derive(Debug, Subcommand)]
pub enum CallbacksCommand {
    /// List callback messages, newest first.
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
    let client = AdminClient::from_env(&connection.server, &connection.data)?;
    callbacks::run(&client, command, connection.json).await
}

/// Runs `reelflow nodes`.
pub async fn nodes(connection: &Connection) -> Result<()> {
    let client = AdminClient::from_env(&connection.server, &connection.data)?;
    nodes::run(&client, connection.json).await
}
