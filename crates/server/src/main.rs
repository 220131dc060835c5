//! The `reelflow` binary. `reelflow serve` runs everything on one machine: the HTTP API, the
//! task workers and the callback notifier, over SQLite and the local filesystem.
//! `reelflow callbacks …` inspects and controls callback delivery of a running server through
//! its signed `/_reelflow/v1/` API ([`cli`]).
//!
//! Start-up reads like a runbook (config → data dir → store → engine → notifier → listener),
//! and shutdown runs it backwards: stop accepting, stop claiming tasks, let the notifier finish
//! its batch.

mod cli;
mod config;
mod secrets;
mod tools;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::Extension;
use clap::{Parser, Subcommand};
use reelflow_api::{ApiConfig, AppState};
use reelflow_engine::{Engine, EngineConfig};
use reelflow_notify::{Notifier, NotifierConfig};
use reelflow_objects::LocalBlobStore;
use reelflow_store::Store;
use reelflow_store::sqlite::SqliteStore;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, Overrides};

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
    /// Inspect and control callback delivery on a running server.
    Callbacks {
        #[command(flatten)]
        connection: cli::Connection,
        #[command(subcommand)]
        command: cli::CallbacksCommand,
    },
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("REELFLOW_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
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
        } => runtime.block_on(serve(Config::load(Overrides {
            listen,
            data,
            config_file: config,
        })?)),
        Command::Callbacks {
            connection,
            command,
        } => {
            if let Err(error) = runtime.block_on(cli::run(&connection, command)) {
                // A command-line error, not a crash: the message, without a backtrace.
                eprintln!("error: {error:#}");
                std::process::exit(1);
            }
            Ok(())
        }
    }
}

async fn serve(config: Config) -> Result<()> {
    tracing::info!(data = %config.data.display(), "preparing the data directory");
    std::fs::create_dir_all(&config.data)
        .with_context(|| format!("creating {}", config.data.display()))?;
    let (secret_id, secret_key) = secrets::credentials(&config.data)?;
    let node_id = secrets::node_id(&config.data)?;

    tracing::info!("opening the database");
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&config.data.join("reelflow.db")).await?);
    for template in reelflow_model::template::official_templates() {
        store.save_template(&template).await?;
    }
    let blobs = Arc::new(LocalBlobStore::open(&config.data.join("blobs")).await?);

    let shutdown = CancellationToken::new();
    let callback_wake = Arc::new(Notify::new());
    let engine = Engine::new(
        store.clone(),
        blobs.clone(),
        EngineConfig {
            offset: config.offset,
            node_id: node_id.clone(),
            work_dir: config.data.join("work"),
            workers: config.workers,
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_secs(1),
            default_max_concurrent: config.workers as u32,
            fuse_siblings: config.fuse,
        },
        callback_wake.clone(),
    );
    tracing::info!(workers = config.workers, "starting task workers");
    let mut workers = engine.spawn_workers(shutdown.clone()).await?;
    let reclaimer = engine.spawn_upload_reclaimer(
        config.multipart_max_age,
        (config.multipart_max_age / 10).clamp(Duration::from_secs(1), Duration::from_secs(3600)),
        shutdown.clone(),
    );

    let notifier = Notifier::new(
        store.clone(),
        NotifierConfig {
            schedule: config.retry_schedule.clone(),
            timeout: config.callback_timeout,
            policy: config.callback_policy.clone(),
            default_secret: secrets::callback_secret(&config.data)?,
            node_id,
            concurrency: config.callback_concurrency,
            per_host: config.callback_per_host,
            ..NotifierConfig::default()
        },
        callback_wake,
    )?;
    let notifier_handle = notifier.handle();
    let notifier_task = tokio::spawn(notifier.run(shutdown.clone()));

    let app = reelflow_api::router(AppState {
        store,
        blobs,
        engine,
        config: Arc::new(ApiConfig {
            credentials: vec![(secret_id, secret_key)],
            offset: config.offset,
            max_xml_body: config.max_xml_body,
            max_object_size: config.max_object_size,
            domains: config.domains.clone(),
            region: config.region.clone(),
        }),
    })
    .layer(Extension(notifier_handle));
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    tracing::info!(listen = %listener.local_addr()?, "reelflow is ready");
    axum::serve(listener, app)
        .with_graceful_shutdown(stop_signal(shutdown.clone()))
        .await?;

    tracing::info!("shutting down");
    shutdown.cancel();
    let drain = async {
        while workers.join_next().await.is_some() {}
        let _ = notifier_task.await;
        let _ = reclaimer.await;
    };
    if tokio::time::timeout(Duration::from_secs(20), drain)
        .await
        .is_err()
    {
        tracing::warn!("workers did not stop in time; their tasks will be requeued at next start");
    }
    Ok(())
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
