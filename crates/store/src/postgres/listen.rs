//! Cross-process wake-ups through `LISTEN`/`NOTIFY`.
//!
//! Transactions that make work ready `NOTIFY` a channel (delivered to listeners when they
//! commit); [`WakeStore::wake_signals`] starts one listening connection per store and relays
//! each notification to a [`WakeSignals`] `Notify`. A notification sent while the listening
//! connection was down is lost, so a reconnect raises both signals, and callers keep polling.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgListener, PgPoolOptions};
use tokio::task::JoinHandle;

use super::{Channels, PgStore};
use crate::{StoreResult, WakeSignals, WakeStore};

/// The listening task and the signals it raises; dropping it (with the last store clone)
/// stops listening.
#[derive(Debug)]
pub(super) struct Listening {
    signals: WakeSignals,
    task: JoinHandle<()>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[async_trait]
impl WakeStore for PgStore {
    async fn wake_signals(&self) -> StoreResult<Option<WakeSignals>> {
        let listening = self
            .listening
            .get_or_try_init(|| self.start_listening())
            .await?;
        Ok(Some(listening.signals.clone()))
    }
}

impl PgStore {
    async fn start_listening(&self) -> StoreResult<Listening> {
        // A pool of its own: the listener holds its connection for good.
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(self.options.clone())
            .await?;
        let mut listener = PgListener::connect_with(&pool).await?;
        listener
            .listen_all([
                self.channels.tasks.as_str(),
                self.channels.callbacks.as_str(),
            ])
            .await?;
        let signals = WakeSignals::default();
        let task = tokio::spawn(relay(listener, self.channels.clone(), signals.clone()));
        Ok(Listening { signals, task })
    }
}

async fn relay(mut listener: PgListener, channels: Arc<Channels>, signals: WakeSignals) {
    loop {
        match listener.try_recv().await {
            Ok(Some(note)) if note.channel() == channels.tasks => signals.tasks.notify_one(),
            Ok(Some(note)) if note.channel() == channels.callbacks => {
                signals.callbacks.notify_one();
            }
            Ok(Some(_)) => {}
            Ok(None) => {
                // Reconnected: whatever was notified meanwhile is lost; look now.
                tracing::info!("wake-up listener reconnected");
                signals.tasks.notify_one();
                signals.callbacks.notify_one();
            }
            Err(error) => {
                tracing::warn!(?error, "wake-up listener failed; retrying in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}
