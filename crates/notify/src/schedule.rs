//! When to retry a failed callback (Svix's rules, see `delivery-anchors.md` A.2.1).
//!
//! The base delay is the schedule entry for the attempt that just failed. A receiver that is
//! overloaded (HTTP 429) or too slow (timeout) gets at least the *overload floor*. A
//! `Retry-After` answer is honoured but clamped to `[base, 2 × base]`, so a receiver can slow
//! us down a little but neither stall a message for days nor hurry it. Otherwise ±20 % uniform
//! jitter spreads retries of messages that failed together.

use std::time::Duration;

/// Delays between the attempts of one delivery round: the first attempt is immediate, attempt
/// *n+1* waits `delays[n-1]` after attempt *n* failed, and the round is exhausted after
/// `delays.len() + 1` attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    /// Delay before each retry.
    pub delays: Vec<Duration>,
    /// Least delay after a 429 or a timeout.
    pub overload_floor: Duration,
}

/// An unparsable schedule.
#[derive(Debug, thiserror::Error)]
#[error("invalid retry schedule {0:?}: expected a comma-separated list like 5s,5m,30m,2h")]
pub struct ScheduleError(pub String);

/// How a failed attempt bears on the next delay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FailureHint {
    /// The receiver was overloaded (429) or did not answer in time.
    pub overloaded: bool,
    /// The receiver's `Retry-After`.
    pub retry_after: Option<Duration>,
}

const JITTER: f64 = 0.2;
const OVERLOAD_FLOOR: Duration = Duration::from_secs(60);

impl Default for RetrySchedule {
    /// Immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (Svix's schedule), with a
    /// 60 s floor after a 429 or a timeout.
    fn default() -> Self {
        let secs = [5, 300, 1800, 7200, 18_000, 36_000, 36_000];
        Self {
            delays: secs.into_iter().map(Duration::from_secs).collect(),
            overload_floor: OVERLOAD_FLOOR,
        }
    }
}

impl RetrySchedule {
    /// Parses `1s,2s,5m,1h` (units ms, s, m, h). The overload floor is 60 s, or the longest
    /// configured delay when that is shorter: a schedule of short delays (a fast internal
    /// receiver, or a test) is not stretched to a minute by one 429.
    pub fn parse(text: &str) -> Result<Self, ScheduleError> {
        let err = || ScheduleError(text.to_owned());
        let delays = text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|item| parse_duration(item).ok_or_else(err))
            .collect::<Result<Vec<_>, _>>()?;
        let longest = delays.iter().max().copied().unwrap_or_default();
        Ok(Self {
            delays,
            overload_floor: OVERLOAD_FLOOR.min(longest),
        })
    }

    /// Attempts in one round.
    pub fn attempts(&self) -> u32 {
        u32::try_from(self.delays.len() + 1).unwrap_or(u32::MAX)
    }

    /// The delay after failed attempt number `attempt` (1-based, within the round), or `None`
    /// when the round is exhausted. `jitter` in [0, 1) maps to ±20 %.
    pub fn next_delay(&self, attempt: u32, hint: FailureHint, jitter: f64) -> Option<Duration> {
        let mut base = *self.delays.get(attempt.checked_sub(1)? as usize)?;
        if hint.overloaded {
            base = base.max(self.overload_floor);
        }
        if let Some(asked) = hint.retry_after {
            return Some(asked.clamp(base, base * 2));
        }
        let factor = 1.0 - JITTER + 2.0 * JITTER * jitter.clamp(0.0, 1.0);
        Some(base.mul_f64(factor))
    }
}

/// `500ms`, `5s`, `5m`, `2h`.
pub fn parse_duration(item: &str) -> Option<Duration> {
    let split = item.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = item.split_at(split);
    let n: u64 = num.parse().ok()?;
    Some(match unit.trim() {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60)?),
        "h" => Duration::from_secs(n.checked_mul(3600)?),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: FailureHint = FailureHint {
        overloaded: false,
        retry_after: None,
    };

    #[test]
    fn parses_and_steps() {
        let s = RetrySchedule::parse("1s,2s,5m").unwrap();
        assert_eq!(s.attempts(), 4);
        assert_eq!(s.next_delay(1, PLAIN, 0.5), Some(Duration::from_secs(1)));
        assert_eq!(s.next_delay(3, PLAIN, 0.5), Some(Duration::from_secs(300)));
        assert_eq!(s.next_delay(4, PLAIN, 0.5), None);
        assert_eq!(
            s.next_delay(1, PLAIN, 0.0),
            Some(Duration::from_millis(800))
        );
        assert_eq!(
            s.next_delay(1, PLAIN, 1.0),
            Some(Duration::from_millis(1200))
        );
        assert!(RetrySchedule::parse("5x").is_err());
        assert_eq!(RetrySchedule::default().attempts(), 8);
    }

    #[test]
    fn overload_floor_and_retry_after_clamp() {
        let d = RetrySchedule::default();
        let overloaded = FailureHint {
            overloaded: true,
            retry_after: None,
        };
        // The 5 s step becomes 60 s (±20 %) after a 429 or a timeout.
        let got = d.next_delay(1, overloaded, 0.5).unwrap();
        assert_eq!(got, Duration::from_secs(60));
        // Retry-After is honoured within [base, 2 × base], without jitter.
        let asked = |secs| FailureHint {
            overloaded: false,
            retry_after: Some(Duration::from_secs(secs)),
        };
        assert_eq!(d.next_delay(1, asked(7), 0.0), Some(Duration::from_secs(7)));
        assert_eq!(d.next_delay(1, asked(1), 0.0), Some(Duration::from_secs(5)));
        assert_eq!(
            d.next_delay(1, asked(3600), 0.0),
            Some(Duration::from_secs(10))
        );
        let with_both = FailureHint {
            overloaded: true,
            retry_after: Some(Duration::from_secs(90)),
        };
        assert_eq!(
            d.next_delay(1, with_both, 0.0),
            Some(Duration::from_secs(90))
        );
        // A custom schedule's floor never exceeds its longest delay.
        let short = RetrySchedule::parse("100ms,200ms").unwrap();
        assert_eq!(short.overload_floor, Duration::from_millis(200));
        assert_eq!(
            short.next_delay(1, overloaded, 0.5),
            Some(Duration::from_millis(200))
        );
    }
}
