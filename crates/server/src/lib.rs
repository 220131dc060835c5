//! The reelflow service as a library: [`run`] starts everything on one listener (what
//! `reelflow serve` does, and what in-process tests start), from a [`config::Config`].

pub mod cli;
pub mod config;
pub mod doctor;
pub mod logs;
mod node;
pub mod secrets;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::Extension;
use reelflow_api::{ApiConfig, AppState};
use reelflow_engine::{Engine, EngineConfig, RetryPolicy};
use reelflow_notify::{Notifier, NotifierConfig};
use reelflow_objects::{BlobStore, LocalBlobStore, S3BlobStore};
use reelflow_store::{Backend, Store, WakeSignals};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::Config;

/// Runs the service on `listener` until `shutdown` is cancelled: opens the data directory,
/// store and blob store, starts the task workers, the upload reclaimer and the callback
/// notifier, and serves the HTTP API. On shutdown it stops accepting requests, stops claiming
/// tasks and lets the notifier finish its batch, in that order.
pub async fn run(config: Config, listener: TcpListener, shutdown: CancellationToken) -> Result<()> {
    tracing::info!(data = %config.data.display(), "preparing the data directory");
    std::fs::create_dir_all(&config.data)
        .with_context(|| format!("creating {}", config.data.display()))?;
    let (secret_id, secret_key) = secrets::credentials(&config.data)?;
    let node_id = secrets::node_id(&config.data)?;

    let backend = Backend::select(
        config.database_url.as_deref(),
        &config.data.join("reelflow.db"),
        config.database_max_connections,
    )?;
    tracing::info!(database = %backend.describe(), "opening the database");
    let store: Arc<dyn Store> = backend
        .open()
        .await
        .with_context(|| format!("opening {}", backend.describe()))?;
    for template in reelflow_model::template::official_templates() {
        store.save_template(&template).await?;
    }
    let blobs: Arc<dyn BlobStore> = match &config.s3 {
        Some(s3) => {
            tracing::info!(blobs = %s3.describe(), "object bodies in an S3-compatible store");
            Arc::new(S3BlobStore::new(s3)?)
        }
        None => Arc::new(LocalBlobStore::open(&config.data.join("blobs")).await?),
    };

    let callback_wake = Arc::new(Notify::new());
    let engine = Engine::new(
        store.clone(),
        blobs.clone(),
        EngineConfig {
            offset: config.offset,
            node_id: node_id.clone(),
            work_dir: config.data.join("work"),
            workers: config.workers,
            lease: config.task_lease,
            poll_interval: Duration::from_secs(1),
            default_max_concurrent: config.queue_max_concurrent,
            fuse_siblings: config.fuse,
            noop_tasks: config.bench_noop_tasks,
            segmented: config.segmented.clone(),
            fetch: config.fetch.clone(),
        },
        callback_wake.clone(),
    )
    .with_retry(RetryPolicy {
        max_attempts: config.task_max_attempts,
        ..RetryPolicy::default()
    });
    let mut workers = if config.role.runs_tasks() {
        tracing::info!(workers = config.workers, "starting task workers");
        engine.spawn_workers(shutdown.clone()).await?
    } else {
        tracing::info!("role api: no task workers in this process");
        engine.reclaim_work_dir().await;
        tokio::task::JoinSet::new()
    };
    match store.wake_signals().await {
        Ok(Some(signals)) => relay_wakeups(signals, &engine, &callback_wake, &shutdown),
        Ok(None) => {}
        Err(error) => tracing::warn!(?error, "no cross-process wake-ups; relying on polling"),
    }
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
            node_id: node_id.clone(),
            concurrency: config.callback_concurrency,
            per_host: config.callback_per_host,
            ..NotifierConfig::default()
        },
        callback_wake,
    )?;
    let notifier_handle = notifier.handle();
    let notifier_task = tokio::spawn(notifier.run(shutdown.clone()));
    let this_node = node::Node::register(
        store.clone(),
        engine.clone(),
        notifier_handle.clone(),
        node::describe(
            &node_id,
            config.role,
            listener.local_addr()?.to_string(),
            config.workers,
        ),
    )
    .await
    .context("registering this process in the node registry")?;
    this_node.spawn_heartbeat(shutdown.clone());

    let hand_back = engine.clone();
    let metrics = reelflow_api::metrics::Metrics::new(&engine);
    let state = AppState {
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
    };
    // A worker answers health checks and (signed) metrics only; uploads and CI calls go to API
    // processes.
    let app = if config.role.serves_api() {
        reelflow_api::router_with_metrics(state.clone(), metrics.clone())
    } else {
        axum::Router::new()
            .route("/_reelflow/health", axum::routing::get(|| async { "ok\n" }))
            .merge(reelflow_api::metrics::signed_router(
                state.clone(),
                metrics.clone(),
            ))
    }
    .layer(Extension(notifier_handle.clone()));
    let metrics_server = match config.metrics_listen {
        Some(addr) => {
            let public =
                reelflow_api::metrics::public_router(state, metrics, Some(notifier_handle));
            Some(serve_metrics(addr, public, &shutdown).await?)
        }
        None => None,
    };
    tracing::info!(listen = %listener.local_addr()?, role = ?config.role, "reelflow is ready");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .await?;

    tracing::info!("shutting down");
    shutdown.cancel();
    if let Some(server) = metrics_server {
        // A scraper holding its connection open does not hold up the stop.
        let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    }
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
    } else if config.role.runs_tasks()
        && let Err(error) = hand_back.hand_back().await
    {
        tracing::warn!(%error, "could not hand back interrupted tasks; their leases will expire");
    }
    this_node.stopped().await;
    Ok(())
}

/// Serves `router` (the unsigned metrics) on `addr` until shutdown, on a task of its own.
async fn serve_metrics(
    addr: std::net::SocketAddr,
    router: axum::Router,
    shutdown: &CancellationToken,
) -> Result<tokio::task::JoinHandle<()>> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the metrics listener {addr}"))?;
    tracing::info!(listen = %listener.local_addr()?, "serving /_reelflow/metrics without a signature");
    let stop = shutdown.clone().cancelled_owned();
    Ok(tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router)
            .with_graceful_shutdown(stop)
            .await
        {
            tracing::error!(%error, "the metrics listener failed");
        }
    }))
}

/// Forwards wake-ups from other processes sharing the database (PostgreSQL `NOTIFY`) to this
/// process's task workers and callback notifier, until shutdown. Polling still covers lost ones.
fn relay_wakeups(
    signals: WakeSignals,
    engine: &Engine,
    callback_wake: &Arc<Notify>,
    shutdown: &CancellationToken,
) {
    let WakeSignals { tasks, callbacks } = signals;
    let (engine, stop) = (engine.clone(), shutdown.clone());
    tokio::spawn(async move {
        while tokio::select! {
            () = stop.cancelled() => false,
            () = tasks.notified() => true,
        } {
            engine.wake();
        }
    });
    let (callback_wake, stop) = (callback_wake.clone(), shutdown.clone());
    tokio::spawn(async move {
        while tokio::select! {
            () = stop.cancelled() => false,
            () = callbacks.notified() => true,
        } {
            callback_wake.notify_one();
        }
    });
}
