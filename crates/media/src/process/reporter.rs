//! Turns `-progress` blocks into caller-facing percentages and stall-timer resets.
//!
//! Percentages only ever increase and stay below 100 while the tool runs: 100 is
//! reported once, by the wrapper, when the tool has exited successfully. "Advanced"
//! means the output moved on (a later `out_time` or more frames), which is what keeps
//! the stall timer from firing.

use super::ProgressFn;
use crate::progress::{ProgressBlock, ProgressTarget};

/// Turns progress blocks into monotonic percentages and tells whether output advanced.
pub(super) struct Reporter {
    callback: Option<ProgressFn>,
    target: ProgressTarget,
    last_out_time: Option<i64>,
    last_frame: Option<u64>,
    last_percent: Option<u8>,
}

impl Reporter {
    pub(super) fn new(callback: Option<ProgressFn>, target: ProgressTarget) -> Self {
        Self {
            callback,
            target,
            last_out_time: None,
            last_frame: None,
            last_percent: None,
        }
    }

    /// Records a block; returns `true` when the output advanced (time or frames).
    pub(super) fn observe(&mut self, block: &ProgressBlock) -> bool {
        let time = moved(&mut self.last_out_time, block.out_time_us);
        let frames = moved(&mut self.last_frame, block.frame);
        // 100 is only reported once the process has exited successfully.
        let percent = self.target.percent(block).map(|p| p.min(99));
        if let (Some(p), Some(cb)) = (percent, &self.callback)
            && self.last_percent.is_none_or(|last| p > last)
        {
            self.last_percent = Some(p);
            cb(p);
        }
        time || frames
    }
}

/// Updates `last` and returns `true` when `now` is a new maximum.
fn moved<T: PartialOrd + Copy>(last: &mut Option<T>, now: Option<T>) -> bool {
    match (now, *last) {
        (Some(now), Some(before)) if now <= before => false,
        (Some(now), _) => {
            *last = Some(now);
            true
        }
        (None, _) => false,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    fn block(us: Option<i64>, frame: Option<u64>) -> ProgressBlock {
        ProgressBlock {
            out_time_us: us,
            frame,
            ..Default::default()
        }
    }

    #[test]
    fn reports_increasing_percentages_below_100() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let target = ProgressTarget {
            secs: Some(2.0),
            frames: None,
        };
        let mut r = Reporter::new(
            Some(Arc::new(move |p| sink.lock().unwrap().push(p))),
            target,
        );
        assert!(r.observe(&block(Some(500_000), None)));
        assert!(
            !r.observe(&block(Some(500_000), None)),
            "same time is no advance"
        );
        assert!(!r.observe(&block(None, None)), "N/A is no advance");
        assert!(r.observe(&block(Some(2_500_000), None)));
        assert_eq!(*seen.lock().unwrap(), [25, 99]);
    }

    #[test]
    fn frames_count_as_advance() {
        let mut r = Reporter::new(None, ProgressTarget::default());
        assert!(r.observe(&block(Some(0), Some(1))));
        assert!(r.observe(&block(Some(0), Some(2))));
        assert!(!r.observe(&block(Some(0), Some(2))));
    }
}
