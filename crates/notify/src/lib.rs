//! Callback delivery: a worker that drains the store's callback outbox.
//!
//! Messages enter the outbox in the transaction that ends their run, so they survive crashes.
//! The worker posts each due message (XML or JSON body exactly as stored), records every
//! attempt, and reschedules failures along a [`RetrySchedule`] until delivered or exhausted.
//! Redirects are not followed (a 3xx is a failure); destinations pass the [`AddressPolicy`]
//! after DNS resolution. Each message carries a stable `webhook-id` and a Standard Webhooks
//! signature so receivers can verify and de-duplicate.

mod schedule;
mod sign;
mod ssrf;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use reelflow_model::clock::now_unix;
use reelflow_store::{AttemptRecord, CallbackMessage, Store};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use schedule::{RetrySchedule, ScheduleError};
pub use sign::{SecretError, WebhookSecret};
pub use ssrf::{AddressPolicy, CidrError, RefusedAddress, non_public_class};

/// Delivery settings.
#[derive(Debug, Clone)]
pub struct NotifierConfig {
    /// Retry delays.
    pub schedule: RetrySchedule,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Allowed private destinations.
    pub policy: AddressPolicy,
    /// Signing secret.
    pub secret: WebhookSecret,
    /// Messages posted concurrently.
    pub concurrency: usize,
    /// How often to look for due messages without a wake-up.
    pub poll_interval: Duration,
}

/// The delivery worker.
#[derive(Debug, Clone)]
pub struct Notifier {
    store: Arc<dyn Store>,
    client: reqwest::Client,
    config: Arc<NotifierConfig>,
    wake: Arc<Notify>,
}

/// A client that could not be built.
#[derive(Debug, thiserror::Error)]
#[error("could not build the callback HTTP client")]
pub struct ClientError(#[source] reqwest::Error);

impl Notifier {
    /// A notifier over `store`; `wake` is signalled when messages are enqueued.
    pub fn new(
        store: Arc<dyn Store>,
        config: NotifierConfig,
        wake: Arc<Notify>,
    ) -> Result<Self, ClientError> {
        let resolver = Arc::new(ssrf::GuardedResolver {
            policy: Arc::new(config.policy.clone()),
        });
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .pool_max_idle_per_host(32)
            .user_agent(concat!("reelflow/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(resolver)
            .build()
            .map_err(ClientError)?;
        Ok(Self {
            store,
            client,
            config: Arc::new(config),
            wake,
        })
    }

    /// Delivers due messages until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            let notified = self.wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let now_ms = now_ms();
            let batch = match self.store.due_callbacks(now_ms, 256).await {
                Ok(batch) => batch,
                Err(error) => {
                    tracing::error!(?error, "could not read the callback outbox");
                    Vec::new()
                }
            };
            let full = batch.len() == 256;
            futures::stream::iter(batch)
                .for_each_concurrent(self.config.concurrency, |m| self.deliver(m))
                .await;
            if full {
                continue;
            }
            let wait = self.idle_wait(now_ms).await;
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep(wait) => {}
                () = shutdown.cancelled() => {}
            }
        }
    }

    async fn idle_wait(&self, now_ms: i64) -> Duration {
        let next = self.store.next_callback_due().await.ok().flatten();
        let poll = self.config.poll_interval;
        next.map_or(poll, |due| {
            Duration::from_millis(due.saturating_sub(now_ms).max(0) as u64).min(poll)
        })
    }

    async fn deliver(&self, message: CallbackMessage) {
        let started = std::time::Instant::now();
        let result = self.post(&message).await;
        let record = match result {
            Ok(()) => AttemptRecord::Delivered { at_ms: now_ms() },
            Err(error) => {
                let attempts = message.attempts + 1;
                let jitter = f64::from(uuid::Uuid::new_v4().as_bytes()[0]) / 256.0;
                let next_ms = self
                    .config
                    .schedule
                    .next_delay(attempts, jitter)
                    .map(|d| now_ms() + d.as_millis() as i64);
                tracing::warn!(id = %message.id, url = %message.url, attempts, %error, exhausted = next_ms.is_none(), "callback attempt failed");
                AttemptRecord::Failed { error, next_ms }
            }
        };
        tracing::debug!(id = %message.id, elapsed_ms = started.elapsed().as_millis() as u64, "callback attempt done");
        if let Err(error) = self.store.record_attempt(&message.id, &record).await {
            tracing::error!(?error, id = %message.id, "could not record a callback attempt");
        }
    }

    async fn post(&self, message: &CallbackMessage) -> Result<(), String> {
        let url = reqwest::Url::parse(&message.url).map_err(|e| format!("invalid URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("scheme {} is not allowed", url.scheme()));
        }
        if let Some(ip) = literal_ip(&url) {
            self.config.policy.check(ip).map_err(|e| e.to_string())?;
        }
        let timestamp = now_unix();
        let signature = self
            .config
            .secret
            .sign(&message.id, timestamp, &message.body);
        let response = self
            .client
            .post(url)
            .header("content-type", &message.content_type)
            .header("webhook-id", &message.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(message.body.clone())
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("receiver answered HTTP {}", status.as_u16()))
        }
    }
}

fn literal_ip(url: &reqwest::Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        url::Host::Domain(_) => None,
    }
}

fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn now_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    now.unix_timestamp() * 1000 + i64::from(now.millisecond())
}
