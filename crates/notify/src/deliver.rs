//! Lane tasks: each in-flight slot of a destination sends its lane's messages one after the
//! other over a kept-alive connection, decides each attempt's verdict and hands the attempt to
//! the dispatcher for recording.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use reelflow_store::{AttemptLog, AttemptVerdict, CallbackMessage, endpoint_of};

use crate::attempt::{self, Outcome};
use crate::dispatch::{Shared, millis};
use crate::now_ms;

impl Shared {
    pub(crate) fn admit(self: &Arc<Self>, message: CallbackMessage) {
        let endpoint = endpoint_of(&message.url);
        let start = self.lanes().push(&endpoint, message);
        if let Some(first) = start {
            let shared = self.clone();
            self.tracker
                .spawn(async move { shared.run_lane(endpoint, first).await });
        }
    }

    /// One in-flight slot of a lane: sends messages until the lane's queue is empty.
    async fn run_lane(&self, endpoint: String, first: CallbackMessage) {
        let mut next = Some(first);
        while let Some(message) = next {
            let log = self.deliver(&message).await;
            // The receiver only goes away after every lane task ended.
            let _ = self.results.send(log);
            next = self.finished(&endpoint);
        }
    }

    fn finished(&self, endpoint: &str) -> Option<CallbackMessage> {
        let stopping = self.stopping.load(Ordering::Acquire);
        let (next, unsaturated, held) = {
            let mut lanes = self.lanes();
            let (next, unsaturated) = lanes.finish(endpoint, stopping);
            (next, unsaturated, lanes.held())
        };
        let half_free = held <= self.config.max_held / 2;
        if unsaturated || (half_free && self.want_capacity.swap(false, Ordering::AcqRel)) {
            self.freed.notify_one();
        }
        next
    }

    async fn deliver(&self, message: &CallbackMessage) -> AttemptLog {
        let _permit = self.requests.acquire().await;
        let outcome = match self.secrets.keys(&message.origin.bucket).await {
            Ok(keys) => attempt::send(&self.client, &self.config.policy, message, &keys).await,
            Err(error) => Outcome::internal(&error),
        };
        let verdict = self.verdict(message, &outcome);
        let kind = outcome.failure.as_ref().map(|f| f.kind);
        self.metrics.observe(outcome.duration, kind, verdict);
        log_attempt(message, &outcome, verdict);
        AttemptLog {
            message_id: message.id.clone(),
            number: message.attempts + 1,
            round: message.round,
            trigger: message.trigger,
            started_ms: outcome.started_ms,
            duration_ms: millis(outcome.duration),
            url: message.url.clone(),
            status: outcome.status,
            error_kind: kind.map(|k| k.code().to_owned()),
            error: outcome
                .failure
                .as_ref()
                .map(|f| f.detail.clone())
                .unwrap_or_default(),
            response_body: outcome.body,
            verdict,
        }
    }

    /// Success → Delivered; a permanent failure → Exhausted; otherwise the schedule decides.
    fn verdict(&self, message: &CallbackMessage, outcome: &Outcome) -> AttemptVerdict {
        let Some(failure) = &outcome.failure else {
            return AttemptVerdict::Delivered;
        };
        if failure.permanent {
            return AttemptVerdict::Exhausted;
        }
        let attempt = message.round_attempts + 1;
        match self
            .config
            .schedule
            .next_delay(attempt, failure.hint, jitter())
        {
            Some(delay) => AttemptVerdict::Retry {
                at_ms: now_ms() + millis(delay),
            },
            None => AttemptVerdict::Exhausted,
        }
    }
}

fn log_attempt(message: &CallbackMessage, outcome: &Outcome, verdict: AttemptVerdict) {
    let ms = millis(outcome.duration);
    let Some(failure) = &outcome.failure else {
        tracing::debug!(id = %message.id, url = %message.url, ms, "callback delivered");
        return;
    };
    let (kind, error) = (failure.kind.code(), failure.detail.as_str());
    let attempt = message.attempts + 1;
    match verdict {
        AttemptVerdict::Retry { at_ms } => {
            let retry_in_ms = at_ms - now_ms();
            tracing::warn!(id = %message.id, url = %message.url, attempt, kind, error, retry_in_ms, "callback attempt failed");
        }
        _ => {
            tracing::error!(id = %message.id, url = %message.url, attempt, kind, error, "callback exhausted: no attempt left")
        }
    }
}

/// Uniform in [0, 1).
fn jitter() -> f64 {
    // The top 48 bits of a v4 UUID are random (the version and variant bits come later).
    let bits = (uuid::Uuid::new_v4().as_u128() >> 80) as u64;
    bits as f64 / (1u64 << 48) as f64
}
