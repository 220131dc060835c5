//! The `reelflow` binary. `reelflow serve` runs everything on one machine: the HTTP API, the
//! task workers and the callback notifier, over SQLite and the local filesystem.
//! `reelflow callbacks …` inspects and controls callback delivery of a running server through
//! its signed `/_reelflow/v1/` API ([`cli`]).
//!
//! `serve` binds the listener and hands over to the library entry [`reelflow::run`], whose
//! start-up reads like a runbook (config → data dir → store → engine → notifier → listener);
//! shutdown runs it backwards: stop accepting, stop claiming tasks, let the notifier finish its
//! batch.

mod tools;

// `reelflow login` (kept beside the other client commands; declared here, in the binary).
#[path = "cli/login.rs"]
mod login;

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use reelflow::cli;
use reelflow::config::{Config, Overrides};

/// Self-hosted, Tencent CI-compatible media workflow service.
#[derive(Debug, Parser)]
#[command(name = "reelflow", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the service (API, workers, callbacks) on embedded SQLite + local storage.
    Serve {
        /// Address to listen on [default: 127.0.0.1:9600].
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Data directory [default: ./reelflow-data].
        #[arg(long)]
        data: Option<PathBuf>,
        /// TOML configuration file.
        #[arg(long)]
        config: Option<PathBuf>,
        /// What this process does: the API and task workers (`all`), the API only, or task
        /// workers only [default: all].
        #[arg(long, value_enum)]
        role: Option<reelflow::config::Role>,
    },
    /// Print, as a JSON array, the exact ffmpeg arguments a Transcode template would run on an
    /// input (for debugging templates and for benchmarks against bare ffmpeg).
    FfmpegArgs {
        /// A template request body (`<Request><Tag>Transcode</Tag>…</Request>`).
        #[arg(long)]
        template: PathBuf,
        /// Input media file.
        #[arg(long)]
        input: PathBuf,
        /// Output file.
        #[arg(long)]
        output: PathBuf,
    },
    /// List the processes sharing the server's database: role, liveness, what each holds.
    Nodes {
        #[command(flatten)]
        connection: cli::Connection,
    },
    /// Mint a short-lived web console session token (prints it and the console URL).
    Login {
        #[command(flatten)]
        connection: cli::Connection,
        #[command(flatten)]
        args: login::LoginArgs,
    },
    /// Check ffmpeg, storage, the database and the listen address; print what is wrong.
    Doctor(reelflow::doctor::DoctorArgs),
    /// Inspect and control callback delivery on a running server.
    Callbacks {
        #[command(flatten)]
        connection: cli::Connection,
        #[command(subcommand)]
        command: cli::CallbacksCommand,
    },
    #[command(flatten)]
    Client(cli::ClientCommand),
    /// Print a shell completion script: `reelflow completions bash|zsh|fish`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve { .. }) {
        quiet_broken_pipe();
    }
    let config_file = match &cli.command {
        Command::Serve { config, .. } => config.as_deref(),
        Command::Doctor(args) => args.config.as_deref(),
        _ => None,
    };
    reelflow::logs::init(reelflow::logs::LogFormat::configured(config_file)?);
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    match cli.command {
        Command::FfmpegArgs {
            template,
            input,
            output,
        } => runtime.block_on(tools::ffmpeg_args(&template, &input, &output)),
        Command::Serve {
            listen,
            data,
            config,
            role,
        } => runtime.block_on(serve(Config::load(Overrides {
            listen,
            data,
            config_file: config,
            role,
        })?)),
        Command::Callbacks {
            connection,
            command,
        } => client_command(runtime.block_on(cli::run(&connection, command))),
        Command::Login { connection, args } => {
            client_command(runtime.block_on(login::run(&connection, args)))
        }
        Command::Nodes { connection } => client_command(runtime.block_on(cli::nodes(&connection))),
        Command::Doctor(args) => {
            if !runtime.block_on(reelflow::doctor::run(args))? {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Client(command) => client_command(runtime.block_on(cli::client(command))),
        Command::Completions { shell } => {
            cli::completions(shell, &mut <Cli as clap::CommandFactory>::command());
            Ok(())
        }
    }
}

/// Binds the configured address and runs the service until SIGTERM or Ctrl-C.
async fn serve(config: Config) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let shutdown = CancellationToken::new();
    let signal = tokio::spawn(stop_signal(shutdown.clone()));
    let result = reelflow::run(config, listener, shutdown).await;
    signal.abort();
    result
}

/// Resolves on SIGTERM or Ctrl-C and cancels `shutdown`.
async fn stop_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        () = term => {}
        () = shutdown.cancelled() => {}
    }
    shutdown.cancel();
}

/// Ends a client command: an error is a command-line error, not a crash — its message,
/// without a backtrace, and exit status 1 (2 for a usage mistake).
fn client_command(result: Result<()>) -> Result<()> {
    if let Err(error) = result {
        eprintln!("error: {error:#}");
        std::process::exit(cli::exit_status(&error));
    }
    Ok(())
}

/// Output piped into a reader that stops early (`reelflow ls | head`) ends the command
/// quietly with status 0, as with any Unix tool. Rust ignores SIGPIPE, so a `println!` after
/// the reader left panics with "failed printing to stdout: Broken pipe"; this hook turns
/// exactly that panic into a quiet exit (every other panic is reported as before). Not for
/// `serve`, which prints nothing a pipe could close.
fn quiet_broken_pipe() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to std") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        previous(info);
    }));
}
