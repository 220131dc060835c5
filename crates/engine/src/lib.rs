//! The workflow engine: starts runs when objects land (or on trigger), and executes their tasks
//! with ffmpeg through a pool of workers that claim tasks from the store with leases.
//!
//! No scheduling state lives in memory: a task is claimed in the store, heartbeated while it
//! runs, and finished in one store transaction that also submits its successors and, when the
//! run is over, enqueues its callbacks. In-process `Notify`s only shorten the wait between those
//! steps; polling covers work created by other nodes.

pub mod batch;
mod blob_http;
pub mod callbacks;
mod counters;
pub mod dag;
pub mod durations;
mod error;
mod execute;
mod fetch;
mod finisher;
mod fused;
mod jobs;
mod nodes;
pub mod plan;
mod segmented;
pub mod specs;
mod triggers;
mod uploads;
mod worker;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use reelflow_model::clock::DisplayOffset;
use reelflow_objects::BlobStore;
use reelflow_store::Store;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use batch::{BatchError, BatchLimits};
pub use blob_http::loopback_listener;
pub use error::EngineError;
pub use fetch::{FETCH_ALLOW_SETTING, FetchConfig, FetchError, check_input_url, fetch_to};
pub use jobs::JobError;
pub use nodes::mediainfo::media_info_xml;
pub use segmented::SegmentedConfig;

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Offset used in callback times.
    pub offset: DisplayOffset,
    /// This process's identity as a lease owner; persisted so a restart can reclaim its tasks.
    pub node_id: String,
    /// Scratch space; each task gets its own directory under it.
    pub work_dir: PathBuf,
    /// Parallel tasks on this node.
    pub workers: usize,
    /// How long a claimed task stays ours without a heartbeat.
    pub lease: Duration,
    /// How often idle workers poll the store for work from other nodes.
    pub poll_interval: Duration,
    /// MaxConcurrent of a bucket's default queue when it is created.
    pub default_max_concurrent: u32,
    /// Run sibling section tasks that read the same input as one ffmpeg process.
    pub fuse_siblings: bool,
    /// How jobs' `Input.Url`s are fetched.
    pub fetch: FetchConfig,
    /// Benchmarks only: every task succeeds at once without running media, so a benchmark
    /// measures what the engine itself costs (claims, finishes, run ends) per task.
    pub noop_tasks: bool,
    /// When long Transcode tasks are split into segments for many workers.
    pub segmented: SegmentedConfig,
}

/// How tasks that failed transiently (a storage hiccup, ffmpeg killed by a signal, a
/// timeout) are retried; failures of the media or the request itself never are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1: never retry). After the last one the task
    /// fails with the last error.
    pub max_attempts: u32,
    /// Delay before the second attempt; each later one waits twice as long as the previous.
    pub base_delay: Duration,
    /// Longest delay between attempts.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_secs(5),
            max_delay: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// The delay after the `failed`-th attempt failed (1 for the first):
    /// `base_delay * 2^(failed - 1)`, at most `max_delay`.
    pub fn delay_after(&self, failed: u32) -> Duration {
        let doublings = failed.saturating_sub(1).min(30);
        self.base_delay
            .saturating_mul(1u32 << doublings)
            .min(self.max_delay)
    }
}

/// Handle to the engine; cheap to clone.
#[derive(Debug, Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<dyn Store>,
    blobs: Arc<dyn BlobStore>,
    config: EngineConfig,
    /// Retries of transiently failed tasks.
    retry: RetryPolicy,
    /// Flood control of batch triggers.
    batch_limits: BatchLimits,
    /// Signalled when a batch may have become claimable (the batch driver listens).
    batch_wake: Notify,
    /// Signalled when tasks were submitted.
    task_wake: Notify,
    /// Signalled when callbacks were enqueued (the notifier listens).
    callback_wake: Arc<Notify>,
    /// Signalled when a split task may have ended (the piece collector listens).
    piece_wake: Notify,
    /// What this process's workers did (reported with the node heartbeat).
    counters: counters::Counters,
    /// How long this process's tasks took (rendered by the metrics endpoint).
    durations: durations::TaskDurations,
    /// The batching writer of task ends, started on the first end (it needs the runtime).
    finisher: std::sync::OnceLock<finisher::Finisher>,
    /// The loopback server of ranged blob reads, started on first use.
    blob_http: tokio::sync::OnceCell<blob_http::BlobHttp>,
}

impl Engine {
    /// A new engine; call [`Engine::spawn_workers`] to start executing tasks.
    pub fn new(
        store: Arc<dyn Store>,
        blobs: Arc<dyn BlobStore>,
        config: EngineConfig,
        callback_wake: Arc<Notify>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                blobs,
                config,
                retry: RetryPolicy::default(),
                batch_limits: BatchLimits::from_env(),
                batch_wake: Notify::new(),
                task_wake: Notify::new(),
                callback_wake,
                piece_wake: Notify::new(),
                counters: counters::Counters::default(),
                durations: durations::new_family(),
                finisher: std::sync::OnceLock::new(),
                blob_http: tokio::sync::OnceCell::new(),
            }),
        }
    }

    /// The same engine with `policy` for retries of transient failures (default:
    /// [`RetryPolicy::default`]). Call before [`Engine::spawn_workers`].
    ///
    /// # Panics
    /// If the engine was cloned already.
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("with_retry is called on a fresh engine")
            .retry = policy;
        self
    }

    /// The same engine with `limits` for batch triggers (default: [`BatchLimits::from_env`]).
    /// Call before [`Engine::spawn_workers`].
    ///
    /// # Panics
    /// If the engine was cloned already.
    pub fn with_batch_limits(mut self, limits: BatchLimits) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("with_batch_limits is called on a fresh engine")
            .batch_limits = limits;
        self
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The blob store.
    pub fn blobs(&self) -> &Arc<dyn BlobStore> {
        &self.inner.blobs
    }

    /// The display offset.
    pub fn offset(&self) -> DisplayOffset {
        self.inner.config.offset
    }

    /// The scratch root. Tool runs whose command line names a path under it are reaped at
    /// the next start if the service dies (`kill_orphans`), so synchronous media calls keep
    /// their scratch files here too.
    pub fn work_dir(&self) -> &std::path::Path {
        &self.inner.config.work_dir
    }

    /// Requeues tasks this node held before a crash, then starts the workers. They stop when
    /// `shutdown` is cancelled; a task interrupted by shutdown stays Running and is requeued at
    /// the next start (or by another node when its lease expires).
    pub async fn spawn_workers(
        &self,
        shutdown: CancellationToken,
    ) -> Result<JoinSet<()>, EngineError> {
        self.reclaim_work_dir().await;
        self.requeue_own("requeued tasks interrupted by the previous stop", true)
            .await?;
        let mut set = JoinSet::new();
        let engine = self.clone();
        let dispatch_shutdown = shutdown.clone();
        set.spawn(async move { worker::dispatch(engine, dispatch_shutdown).await });
        // Batches this node drove before a crash are taken up again at once.
        self.inner
            .store
            .release_batches(&self.inner.config.node_id)
            .await?;
        let engine = self.clone();
        let driver_shutdown = shutdown.clone();
        set.spawn(async move { batch::run_driver(engine, driver_shutdown).await });
        let engine = self.clone();
        let collect_shutdown = shutdown.clone();
        set.spawn(async move { segmented::collect_loop(engine, collect_shutdown).await });
        let engine = self.clone();
        set.spawn(async move { worker::sweep_stale(engine, shutdown).await });
        Ok(set)
    }

    /// Clears what a SIGKILLed predecessor of this process left in the work directory: its
    /// ffmpeg children (still running, found by the directory in their command line) and its
    /// scratch files. Call once at start, before any task or synchronous media call runs.
    pub async fn reclaim_work_dir(&self) {
        let work_dir = self.inner.config.work_dir.clone();
        let (orphans, removed) = tokio::task::spawn_blocking(move || {
            let orphans = reelflow_media::kill_orphans(&work_dir);
            (orphans, remove_entries(&work_dir))
        })
        .await
        .unwrap_or((0, 0));
        if orphans > 0 {
            tracing::warn!(
                processes = orphans,
                "killed tool processes left by the previous run"
            );
        }
        if removed > 0 {
            tracing::info!(
                entries = removed,
                "removed scratch files left by the previous run"
            );
        }
    }

    /// Wakes one idle worker (or lets the next one to wait go straight on). A worker that
    /// claims something wakes the next, so a burst of work spreads over every idle worker
    /// while a single task does not send all of them to the database at once.
    /// The batching writer of this engine's task ends.
    fn finisher(&self) -> &finisher::Finisher {
        self.inner.finisher.get_or_init(|| {
            let store = self.inner.store.clone();
            let owner = self.inner.config.node_id.clone();
            finisher::Finisher::start(store, owner, self.offset())
        })
    }

    fn wake_workers(&self) {
        self.inner.task_wake.notify_one();
    }

    /// This process's task counters since it started (the callback fields are zero: the
    /// notifier keeps those).
    pub fn metrics(&self) -> reelflow_model::node::NodeMetrics {
        self.inner.counters.snapshot()
    }

    /// Wakes idle workers, e.g. after a queue was resumed.
    pub fn wake(&self) {
        self.wake_workers();
        // Cross-process wake-ups (a batch created on another node) reach the batch driver too.
        self.inner.batch_wake.notify_one();
    }
}

impl Engine {
    /// Graceful hand-back at shutdown, once this node's workers have stopped: the tasks it still
    /// holds (interrupted by the shutdown) go back to Submitted at once, so other workers take
    /// them now instead of after the lease expires. Returns how many.
    pub async fn hand_back(&self) -> Result<u64, EngineError> {
        self.requeue_own("handed back tasks interrupted by the shutdown", false)
            .await
    }

    /// Puts every task this node holds back to Submitted, logging `what` when there were any;
    /// `lost`: the node died with them (each counts as a failed attempt), rather than handing
    /// them back.
    async fn requeue_own(&self, what: &'static str, lost: bool) -> Result<u64, EngineError> {
        let now = reelflow_model::clock::now_unix();
        let tasks = self
            .inner
            .store
            .requeue_stale(now, Some(&self.inner.config.node_id), lost)
            .await?;
        if tasks > 0 {
            tracing::info!(tasks, "{what}");
        }
        Ok(tasks)
    }
}

/// Removes everything inside `dir` (not `dir` itself); returns how many entries went.
fn remove_entries(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        let gone = if entry.file_type().is_ok_and(|t| t.is_dir()) {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        match gone {
            Ok(()) => removed += 1,
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "could not remove scratch")
            }
        }
    }
    removed
}
