//! Which secrets sign a bucket's callbacks, and their rotation.
//!
//! A bucket signs with its own secret when it has one (generated at its first callback when the
//! server has no default, or set by a rotation); otherwise with the server-wide
//! `REELFLOW_CALLBACK_SECRET`. A rotation makes a new secret current and keeps the old one for
//! a grace period, during which every callback carries both signatures (Standard Webhooks
//! allows several space-separated `v1,` entries), so receivers can switch at their own pace.
//!
//! Lookups are cached for a short time: the delivery path must not read the database for every
//! message. A rotation through this process clears its entry at once; other nodes see it within
//! the cache lifetime.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reelflow_store::{BucketSecret, Store};

use crate::error::NotifyError;
use crate::now_ms;
use crate::sign::WebhookSecret;

/// Where a bucket's current secret comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretSource {
    /// The bucket's own (generated or rotated).
    Bucket,
    /// The server-wide default (`REELFLOW_CALLBACK_SECRET`).
    ServerDefault,
}

impl SecretSource {
    /// Display name.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretSource::Bucket => "bucket",
            SecretSource::ServerDefault => "server-default",
        }
    }
}

/// The keys that sign one bucket's callbacks right now.
#[derive(Debug, Clone)]
pub struct SigningKeys {
    current: WebhookSecret,
    previous: Option<(WebhookSecret, i64)>,
    source: SecretSource,
}

impl SigningKeys {
    /// The `webhook-signature` value: `v1,<current>`, plus `v1,<previous>` during a grace
    /// period.
    pub fn signature(&self, id: &str, timestamp: i64, body: &str, now_ms: i64) -> String {
        let mut header = self.current.sign(id, timestamp, body);
        if let Some((previous, until)) = &self.previous
            && now_ms < *until
        {
            header.push(' ');
            header.push_str(&previous.sign(id, timestamp, body));
        }
        header
    }

    fn from_row(row: &BucketSecret) -> Result<Self, NotifyError> {
        let previous = match (&row.previous, row.previous_until_ms) {
            (Some(text), Some(until)) => Some((WebhookSecret::parse(text)?, until)),
            _ => None,
        };
        Ok(Self {
            current: WebhookSecret::parse(&row.secret)?,
            previous,
            source: SecretSource::Bucket,
        })
    }

    fn info(&self, bucket: &str, now_ms: i64) -> SecretInfo {
        let previous = self.previous.as_ref().filter(|(_, until)| now_ms < *until);
        SecretInfo {
            bucket: bucket.to_owned(),
            secret: self.current.to_text(),
            previous: previous.map(|(s, _)| s.to_text()),
            previous_until_ms: previous.map(|(_, until)| *until),
            source: self.source,
        }
    }
}

/// A bucket's secrets as shown to its operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretInfo {
    /// Bucket.
    pub bucket: String,
    /// The `whsec_…` secret that signs now.
    pub secret: String,
    /// The previous secret, while its grace period lasts.
    pub previous: Option<String>,
    /// End of the grace period (Unix ms).
    pub previous_until_ms: Option<i64>,
    /// Where `secret` comes from.
    pub source: SecretSource,
}

#[derive(Debug)]
struct Cached {
    fetched: Instant,
    keys: Arc<SigningKeys>,
}

/// Resolves, caches and rotates per-bucket signing secrets.
#[derive(Debug)]
pub struct SecretBook {
    store: Arc<dyn Store>,
    default: Option<WebhookSecret>,
    ttl: Duration,
    cache: Mutex<HashMap<String, Cached>>,
}

impl SecretBook {
    /// A book over `store`; `default` signs buckets that have no secret of their own.
    pub fn new(store: Arc<dyn Store>, default: Option<WebhookSecret>, ttl: Duration) -> Self {
        Self {
            store,
            default,
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The keys for `bucket`, from the cache when fresh.
    pub async fn keys(&self, bucket: &str) -> Result<Arc<SigningKeys>, NotifyError> {
        if let Some(hit) = self.cached(bucket) {
            return Ok(hit);
        }
        let keys = Arc::new(self.load(bucket).await?);
        self.lock().insert(
            bucket.to_owned(),
            Cached {
                fetched: Instant::now(),
                keys: keys.clone(),
            },
        );
        Ok(keys)
    }

    /// The bucket's secrets, generating its own when it has none and there is no default.
    pub async fn describe(&self, bucket: &str) -> Result<SecretInfo, NotifyError> {
        let keys = self.load(bucket).await?;
        Ok(keys.info(bucket, now_ms()))
    }

    /// Makes `new` (or a generated secret) current for `bucket`, keeping the current one valid
    /// for `grace`.
    pub async fn rotate(
        &self,
        bucket: &str,
        new: Option<WebhookSecret>,
        grace: Duration,
    ) -> Result<SecretInfo, NotifyError> {
        let old = self.load(bucket).await?;
        let new = new.unwrap_or_else(WebhookSecret::generate);
        let now = now_ms();
        let until = now.saturating_add(i64::try_from(grace.as_millis()).unwrap_or(i64::MAX));
        let row = self
            .store
            .rotate_bucket_secret(
                bucket,
                &new.to_text(),
                Some(&old.current.to_text()),
                until,
                now,
            )
            .await?;
        self.lock().remove(bucket);
        Ok(SigningKeys::from_row(&row)?.info(bucket, now))
    }

    async fn load(&self, bucket: &str) -> Result<SigningKeys, NotifyError> {
        if let Some(row) = self.store.bucket_secret(bucket).await? {
            return SigningKeys::from_row(&row);
        }
        if let Some(default) = &self.default {
            return Ok(SigningKeys {
                current: default.clone(),
                previous: None,
                source: SecretSource::ServerDefault,
            });
        }
        let generated = WebhookSecret::generate().to_text();
        let row = self
            .store
            .init_bucket_secret(bucket, &generated, now_ms())
            .await?;
        SigningKeys::from_row(&row)
    }

    fn cached(&self, bucket: &str) -> Option<Arc<SigningKeys>> {
        let cache = self.lock();
        let hit = cache.get(bucket)?;
        (hit.fetched.elapsed() < self.ttl).then(|| hit.keys.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cached>> {
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use reelflow_store::sqlite::SqliteStore;

    use super::*;

    #[tokio::test]
    async fn generated_default_and_rotated_secrets() {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().await.unwrap());
        let book = SecretBook::new(store.clone(), None, Duration::from_secs(60));
        let a = book.describe("a").await.unwrap();
        assert_eq!(a.source, SecretSource::Bucket);
        assert_eq!(book.describe("a").await.unwrap(), a, "generated once");
        assert_ne!(book.describe("b").await.unwrap().secret, a.secret);

        let default = WebhookSecret::generate();
        let book = SecretBook::new(store, Some(default.clone()), Duration::from_secs(60));
        let c = book.describe("c").await.unwrap();
        assert_eq!(
            (c.source, c.secret.clone()),
            (SecretSource::ServerDefault, default.to_text())
        );
        let sig_before = book
            .keys("c")
            .await
            .unwrap()
            .signature("m", 1, "x", now_ms());
        assert_eq!(sig_before.split(' ').count(), 1);

        let rotated = book
            .rotate("c", None, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(
            rotated.previous.as_deref(),
            Some(default.to_text().as_str())
        );
        let keys = book.keys("c").await.unwrap();
        let both = keys.signature("m", 1, "x", now_ms());
        let parts: Vec<&str> = both.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(
            parts[1], sig_before,
            "the old secret still signs during the grace period"
        );
        let after_grace = keys.signature("m", 1, "x", now_ms() + 61_000);
        assert_eq!(after_grace, parts[0]);
    }
}
