//! Delivery metrics in the Prometheus text format.
//!
//! Counters and the latency histogram live in process memory (they describe this node's
//! attempts); queue depth and the oldest pending age are read from the outbox when rendered,
//! so they are true for the whole cluster.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reelflow_store::{AttemptVerdict, CallbackState, CallbackStats};

use crate::attempt::ErrorKind;

/// Upper bounds of the latency buckets, in seconds.
const BOUNDS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// This node's delivery counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Delivered, Retry, Exhausted.
    verdicts: [AtomicU64; 3],
    errors: [AtomicU64; ErrorKind::ALL.len()],
    buckets: [AtomicU64; BOUNDS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Metrics {
    /// Counts one attempt.
    pub fn observe(&self, duration: Duration, error: Option<ErrorKind>, verdict: AttemptVerdict) {
        let index = match verdict {
            AttemptVerdict::Delivered => 0,
            AttemptVerdict::Retry { .. } => 1,
            AttemptVerdict::Exhausted => 2,
        };
        self.verdicts[index].fetch_add(1, Ordering::Relaxed);
        if let Some(kind) = error
            && let Some(i) = ErrorKind::ALL.iter().position(|k| *k == kind)
        {
            self.errors[i].fetch_add(1, Ordering::Relaxed);
        }
        let secs = duration.as_secs_f64();
        if let Some(i) = BOUNDS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Attempts that ended with a success.
    pub fn delivered(&self) -> u64 {
        self.verdicts[0].load(Ordering::Relaxed)
    }

    /// Attempts that failed (to be retried, or the last one).
    pub fn failed(&self) -> u64 {
        self.verdicts[1].load(Ordering::Relaxed) + self.verdicts[2].load(Ordering::Relaxed)
    }

    /// The exposition text, with outbox gauges from `stats` at `now_ms`.
    pub fn render(&self, stats: &CallbackStats, now_ms: i64) -> String {
        let mut out = String::new();
        self.render_counters(&mut out);
        self.render_latency(&mut out);
        render_gauges(&mut out, stats, now_ms);
        out
    }

    fn render_counters(&self, out: &mut String) {
        out.push_str("# HELP reelflow_callback_attempts_total Delivery attempts by outcome.\n");
        out.push_str("# TYPE reelflow_callback_attempts_total counter\n");
        for (name, n) in ["delivered", "retry", "exhausted"]
            .iter()
            .zip(&self.verdicts)
        {
            let n = n.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "reelflow_callback_attempts_total{{outcome=\"{name}\"}} {n}"
            );
        }
        out.push_str("# HELP reelflow_callback_attempt_errors_total Failed attempts by kind.\n");
        out.push_str("# TYPE reelflow_callback_attempt_errors_total counter\n");
        for (kind, n) in ErrorKind::ALL.iter().zip(&self.errors) {
            let (code, n) = (kind.code(), n.load(Ordering::Relaxed));
            let _ = writeln!(
                out,
                "reelflow_callback_attempt_errors_total{{kind=\"{code}\"}} {n}"
            );
        }
    }

    fn render_latency(&self, out: &mut String) {
        let name = "reelflow_callback_attempt_duration_seconds";
        let _ = writeln!(out, "# HELP {name} Duration of delivery attempts.");
        let _ = writeln!(out, "# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, n) in BOUNDS.iter().zip(&self.buckets) {
            cumulative += n.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {sum}");
        let _ = writeln!(out, "{name}_count {count}");
    }
}

fn render_gauges(out: &mut String, stats: &CallbackStats, now_ms: i64) {
    out.push_str("# HELP reelflow_callback_messages Messages in the outbox by state.\n");
    out.push_str("# TYPE reelflow_callback_messages gauge\n");
    for (state, n) in CallbackState::ALL.iter().zip(stats.by_state) {
        let _ = writeln!(
            out,
            "reelflow_callback_messages{{state=\"{}\"}} {n}",
            state.as_str()
        );
    }
    let depth = stats.by_state[0] + stats.by_state[1];
    out.push_str(
        "# HELP reelflow_callback_queue_depth Messages not yet delivered nor exhausted.\n",
    );
    out.push_str("# TYPE reelflow_callback_queue_depth gauge\n");
    let _ = writeln!(out, "reelflow_callback_queue_depth {depth}");
    let age = stats
        .oldest_pending_ms
        .map_or(0.0, |t| (now_ms - t).max(0) as f64 / 1000.0);
    out.push_str(
        "# HELP reelflow_callback_oldest_pending_age_seconds Age of the oldest undelivered message.\n",
    );
    out.push_str("# TYPE reelflow_callback_oldest_pending_age_seconds gauge\n");
    let _ = writeln!(out, "reelflow_callback_oldest_pending_age_seconds {age}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histogram_and_gauges() {
        let m = Metrics::default();
        m.observe(Duration::from_millis(3), None, AttemptVerdict::Delivered);
        m.observe(
            Duration::from_millis(40),
            Some(ErrorKind::Timeout),
            AttemptVerdict::Retry { at_ms: 1 },
        );
        let stats = CallbackStats {
            by_state: [2, 1, 5, 0],
            oldest_pending_ms: Some(1_000),
        };
        let text = m.render(&stats, 4_000);
        assert!(text.contains("reelflow_callback_attempts_total{outcome=\"delivered\"} 1"));
        assert!(text.contains("reelflow_callback_attempt_errors_total{kind=\"timeout\"} 1"));
        assert!(text.contains("reelflow_callback_attempt_duration_seconds_bucket{le=\"0.005\"} 1"));
        assert!(text.contains("reelflow_callback_attempt_duration_seconds_bucket{le=\"0.05\"} 2"));
        assert!(text.contains("reelflow_callback_queue_depth 3"));
        assert!(text.contains("reelflow_callback_oldest_pending_age_seconds 3"));
        assert_eq!(m.delivered(), 1);
    }
}
