//! Callback delivery: the worker that drains the store's callback outbox.
//!
//! Messages enter the outbox in the transaction that ends their run (or task), so they survive
//! crashes; this crate gets them to their receivers *at least once*, and makes every step
//! visible. The pieces, each in its own module:
//!
//! - [`dispatch`](crate::dispatch): the loop that takes messages born leased to this node and
//!   claims other due ones in batches with a lease (so several nodes can share one outbox and a
//!   dead node's messages come back); messages queue per destination with a bounded number of
//!   requests in flight per host over keep-alive connections.
//! - [`attempt`]: one signed POST. Only a complete 2xx answer is a success; redirects are never
//!   followed; the first 20 KB of the answer are kept.
//! - [`schedule`]: the retry schedule (Svix's by default) with jitter, `Retry-After` and the
//!   overload floor.
//! - [`sign`] and [`secrets`]: Standard Webhooks signatures with per-bucket `whsec_` secrets
//!   and rotation with a grace period.
//! - [`ssrf`]: the address policy, applied after DNS resolution at connect time.
//! - [`deliver`](crate::deliver): the lane tasks that send, judge and report each attempt.
//! - [`upkeep`](crate::upkeep): batched recording of attempts, the lease heartbeat, and the
//!   sweeper for stuck or overdue deliveries.
//! - [`metrics`]: counters, the attempt-latency histogram and outbox gauges.
//!
//! A [`NotifierHandle`] gives the API what it needs (wake-ups after a redeliver, secrets,
//! metrics) without reaching into the worker.

mod attempt;
mod deliver;
mod dispatch;
mod error;
mod lanes;
pub mod metrics;
pub mod schedule;
pub mod secrets;
pub mod sign;
pub mod ssrf;
mod upkeep;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reelflow_store::Store;
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use attempt::{ErrorKind, RESPONSE_KEEP};
pub use error::NotifyError;
pub use metrics::Metrics;
pub use schedule::{RetrySchedule, ScheduleError, parse_duration};
pub use secrets::{SecretBook, SecretInfo, SecretSource};
pub use sign::{SecretError, WebhookSecret};
pub use ssrf::{AddressPolicy, CidrError, RefusedAddress, non_public_class};

use crate::dispatch::Shared;
use crate::lanes::Lanes;

/// Delivery settings. [`Default`] gives production values with an empty allow-list and no
/// server-wide secret.
#[derive(Debug, Clone)]
pub struct NotifierConfig {
    /// Retry delays of one delivery round.
    pub schedule: RetrySchedule,
    /// Per-request timeout (connect, send and the whole answer).
    pub timeout: Duration,
    /// Allowed non-public destinations.
    pub policy: AddressPolicy,
    /// Server-wide signing secret; buckets without their own secret use it. Without it, each
    /// bucket gets a generated secret at its first callback.
    pub default_secret: Option<WebhookSecret>,
    /// This node's lease-owner id: stable across restarts, so a restart can release its own
    /// leases at once, and equal to the engine's node id, because the engine's task-finish
    /// transaction writes messages born leased to it.
    pub node_id: String,
    /// Requests in flight over all destinations.
    pub concurrency: usize,
    /// Requests in flight per destination (`scheme://host:port`); also the idle keep-alive
    /// connections kept per destination.
    pub per_host: usize,
    /// Messages claimed per database round trip.
    pub claim_batch: u32,
    /// Messages this node holds claimed (queued or in flight) at most.
    pub max_held: usize,
    /// Longest sleep without a wake-up (other nodes' work, clock-driven retries).
    pub poll_interval: Duration,
    /// Lease of a claimed message; renewed every third of it. Kept above `timeout` + 5 s so a
    /// slow attempt cannot lose its lease and be sent twice (Svix #2181).
    pub lease: Duration,
    /// How often expired leases and overdue messages are swept.
    pub sweep_interval: Duration,
    /// How long a bucket's secret lookup is cached.
    pub secret_cache_ttl: Duration,
}

impl Default for NotifierConfig {
    fn default() -> Self {
        Self {
            schedule: RetrySchedule::default(),
            timeout: Duration::from_secs(15),
            policy: AddressPolicy::default(),
            default_secret: None,
            node_id: "node-local".to_owned(),
            concurrency: 512,
            per_host: 64,
            claim_batch: 256,
            max_held: 4096,
            poll_interval: Duration::from_secs(1),
            lease: Duration::from_secs(60),
            sweep_interval: Duration::from_secs(30),
            secret_cache_ttl: Duration::from_secs(2),
        }
    }
}

/// The delivery worker; [`Notifier::run`] drives it.
#[derive(Debug)]
pub struct Notifier {
    shared: Arc<Shared>,
    results: mpsc::UnboundedReceiver<reelflow_store::AttemptLog>,
}

/// What the API needs from the worker; cheap to clone.
#[derive(Debug, Clone)]
pub struct NotifierHandle {
    store: Arc<dyn Store>,
    secrets: Arc<SecretBook>,
    metrics: Arc<Metrics>,
    wake: Arc<Notify>,
}

impl Notifier {
    /// A notifier over `store`; `wake` is signalled when messages are enqueued or restarted.
    pub fn new(
        store: Arc<dyn Store>,
        mut config: NotifierConfig,
        wake: Arc<Notify>,
    ) -> Result<Self, NotifyError> {
        let least_lease = config.timeout + Duration::from_secs(5);
        if config.lease < least_lease {
            tracing::warn!(
                ?least_lease,
                "callback lease raised above the request timeout"
            );
            config.lease = least_lease;
        }
        let client = http_client(&config)?;
        let secrets = Arc::new(SecretBook::new(
            store.clone(),
            config.default_secret.clone(),
            config.secret_cache_ttl,
        ));
        let (sender, results) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            store,
            client,
            secrets,
            metrics: Arc::new(Metrics::default()),
            wake,
            freed: Notify::new(),
            lanes: Mutex::new(Lanes::new(config.per_host)),
            requests: Semaphore::new(config.concurrency.max(1)),
            results: sender,
            tracker: TaskTracker::new(),
            stopping: AtomicBool::new(false),
            want_capacity: AtomicBool::new(false),
            config,
        });
        Ok(Self { shared, results })
    }

    /// A handle for the API.
    pub fn handle(&self) -> NotifierHandle {
        NotifierHandle {
            store: self.shared.store.clone(),
            secrets: self.shared.secrets.clone(),
            metrics: self.shared.metrics.clone(),
            wake: self.shared.wake.clone(),
        }
    }

    /// Delivers until `shutdown`, then lets attempts in flight finish, records them, and
    /// releases the messages it still held so another node (or the next start) sends them.
    pub async fn run(self, shutdown: CancellationToken) {
        let Notifier { shared, results } = self;
        let owner = shared.config.node_id.clone();
        match shared.store.requeue_callbacks(now_ms(), Some(&owner)).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(messages = n, "released callbacks held before the last stop"),
            Err(error) => tracing::error!(?error, "could not release earlier callback leases"),
        }
        let stop_recorder = CancellationToken::new();
        let recorder = tokio::spawn(upkeep::record_loop(
            shared.clone(),
            results,
            stop_recorder.clone(),
        ));
        let upkeep = tokio::spawn(upkeep::maintain(shared.clone(), shutdown.clone()));
        shared.dispatch(&shutdown).await;

        shared
            .stopping
            .store(true, std::sync::atomic::Ordering::Release);
        shared.tracker.close();
        shared.tracker.wait().await;
        stop_recorder.cancel();
        let _ = tokio::join!(recorder, upkeep);
        if let Err(error) = shared.store.requeue_callbacks(now_ms(), Some(&owner)).await {
            tracing::warn!(?error, "could not release queued callbacks at shutdown");
        }
    }
}

impl NotifierHandle {
    /// Asks the worker to look for due messages now (after a redeliver or recover).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Per-bucket secrets.
    pub fn secrets(&self) -> &SecretBook {
        &self.secrets
    }

    /// This node's counters.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The Prometheus exposition of counters and outbox gauges.
    pub async fn metrics_text(&self) -> Result<String, NotifyError> {
        let stats = self.store.callback_stats().await?;
        Ok(self.metrics.render(&stats, now_ms()))
    }
}

fn http_client(config: &NotifierConfig) -> Result<reqwest::Client, NotifyError> {
    let resolver = Arc::new(ssrf::GuardedResolver::new(Arc::new(config.policy.clone())));
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(config.timeout)
        .connect_timeout(config.timeout.min(Duration::from_secs(10)))
        .pool_max_idle_per_host(config.per_host)
        .pool_idle_timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        // A proxy would connect on our behalf, past the address check.
        .no_proxy()
        .user_agent(concat!("reelflow/", env!("CARGO_PKG_VERSION")))
        .dns_resolver(resolver)
        .build()
        .map_err(NotifyError::Client)
}

pub(crate) use reelflow_model::clock::now_ms;
