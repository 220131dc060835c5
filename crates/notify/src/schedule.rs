//! When to retry a failed callback.

use std::time::Duration;

/// Delays between attempts: the first attempt is immediate, attempt *n+1* waits `delays[n-1]`
/// (±20 % jitter) after attempt *n* failed, and the message is exhausted after the last one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    /// Delay before each retry.
    pub delays: Vec<Duration>,
}

/// An unparsable schedule.
#[derive(Debug, thiserror::Error)]
#[error("invalid retry schedule {0:?}: expected a comma-separated list like 5s,5m,30m,2h")]
pub struct ScheduleError(pub String);

impl Default for RetrySchedule {
    /// Immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (Svix's schedule).
    fn default() -> Self {
        let secs = [5, 300, 1800, 7200, 18_000, 36_000, 36_000];
        Self {
            delays: secs.into_iter().map(Duration::from_secs).collect(),
        }
    }
}

impl RetrySchedule {
    /// Parses `1s,2s,5m,1h` (units ms, s, m, h).
    pub fn parse(text: &str) -> Result<Self, ScheduleError> {
        let err = || ScheduleError(text.to_owned());
        let delays = text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|item| {
                let split = item.find(|c: char| !c.is_ascii_digit()).ok_or_else(err)?;
                let (num, unit) = item.split_at(split);
                let n: u64 = num.parse().map_err(|_| err())?;
                Ok(match unit {
                    "ms" => Duration::from_millis(n),
                    "s" => Duration::from_secs(n),
                    "m" => Duration::from_secs(n * 60),
                    "h" => Duration::from_secs(n * 3600),
                    _ => return Err(err()),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { delays })
    }

    /// The delay after failed attempt number `attempts` (1-based), or `None` when exhausted.
    /// `jitter` in [0, 1) maps to ±20 %.
    pub fn next_delay(&self, attempts: u32, jitter: f64) -> Option<Duration> {
        let base = *self.delays.get(attempts.checked_sub(1)? as usize)?;
        let factor = 0.8 + 0.4 * jitter.clamp(0.0, 1.0);
        Some(base.mul_f64(factor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_steps() {
        let s = RetrySchedule::parse("1s,2s,5m").unwrap();
        assert_eq!(s.next_delay(1, 0.5), Some(Duration::from_secs(1)));
        assert_eq!(s.next_delay(3, 0.5), Some(Duration::from_secs(300)));
        assert_eq!(s.next_delay(4, 0.5), None);
        assert_eq!(s.next_delay(1, 0.0), Some(Duration::from_millis(800)));
        assert!(RetrySchedule::parse("5x").is_err());
        assert_eq!(RetrySchedule::default().delays.len(), 7);
    }
}
