//! Parser for ffmpeg's `-progress` output.
//!
//! With `-progress pipe:1` ffmpeg writes blocks of `key=value` lines to stdout every
//! `-stats_period` (0.5 s by default). Each block ends with `progress=continue`, the
//! last one with `progress=end`:
//!
//! ```text
//! frame=50
//! out_time_us=2020136
//! out_time_ms=2020136      (microseconds too, despite the name, in ffmpeg 5.1)
//! out_time=00:00:02.020136
//! speed=11.3x
//! progress=end
//! ```
//!
//! Only `out_time_us` (how far the output got), `frame`, `speed` and the terminator
//! matter to us. Values may be `N/A` before the first frame is written; those parse to
//! `None` rather than to an error, because progress is advisory and must never fail a
//! run. The parser is incremental (fed line by line) so the process wrapper can react
//! to each block as it arrives: report a percentage and reset the stall timer.

/// One complete `-progress` block.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProgressBlock {
    /// Output position in microseconds (`out_time_us`), `None` while ffmpeg prints N/A.
    pub out_time_us: Option<i64>,
    /// Frames written so far (video outputs only).
    pub frame: Option<u64>,
    /// Encoding speed relative to real time (`speed=2.5x`).
    pub speed: Option<f64>,
    /// `true` for the final block (`progress=end`).
    pub end: bool,
}

impl ProgressBlock {
    /// Percent done against the expected output duration, clamped to `0..=100`.
    /// `None` when either side is unknown.
    pub fn percent(&self, total_secs: Option<f64>) -> Option<u8> {
        if self.end {
            return Some(100);
        }
        percent_of(self.out_time_us?, total_secs?)
    }
}

/// What a run is expected to produce, so blocks can become percentages: an output
/// duration (transcodes), a frame count (snapshots), or both (the larger wins).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProgressTarget {
    /// Expected output duration in seconds.
    pub secs: Option<f64>,
    /// Expected number of video frames written.
    pub frames: Option<u64>,
}

impl ProgressTarget {
    /// Percent done for `block`, `None` when nothing is known.
    pub fn percent(&self, block: &ProgressBlock) -> Option<u8> {
        let by_time = block.percent(self.secs);
        let by_frames = match (block.frame, self.frames) {
            (Some(done), Some(total)) if total > 0 => Some((done.min(total) * 100 / total) as u8),
            _ => None,
        };
        by_time.max(by_frames)
    }
}

/// `out_time_us` as a percentage of `total_secs`, clamped to `0..=100`.
pub fn percent_of(out_time_us: i64, total_secs: f64) -> Option<u8> {
    if !(total_secs.is_finite() && total_secs > 0.0) {
        return None;
    }
    let ratio = out_time_us as f64 / 1_000_000.0 / total_secs;
    // Truncation is intended: 99.9 % is not done yet.
    Some((ratio * 100.0).clamp(0.0, 100.0) as u8)
}

/// Incremental parser: feed lines, get a block back at each `progress=` line.
#[derive(Debug, Default)]
pub struct ProgressParser {
    current: ProgressBlock,
}

impl ProgressParser {
    /// A parser with no partial block.
    pub fn new() -> Self {
        Self::default()
    }

    /// Consumes one line (with or without its newline). Returns the finished block when
    /// the line is the `progress=` terminator; unknown keys and junk are ignored.
    pub fn feed_line(&mut self, line: &str) -> Option<ProgressBlock> {
        let (key, value) = line.trim().split_once('=')?;
        let value = value.trim();
        match key.trim() {
            "out_time_us" => self.current.out_time_us = value.parse().ok(),
            "frame" => self.current.frame = value.parse().ok(),
            "speed" => self.current.speed = value.trim_end_matches('x').trim().parse().ok(),
            "progress" => {
                let mut block = std::mem::take(&mut self.current);
                block.end = value == "end";
                return Some(block);
            }
            _ => {}
        }
        None
    }
}

/// Parses a whole captured `-progress` text into its complete blocks.
pub fn parse_progress(text: &str) -> Vec<ProgressBlock> {
    let mut parser = ProgressParser::new();
    text.lines().filter_map(|l| parser.feed_line(l)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const X264: &str = include_str!("../tests/fixtures/ffmpeg_5_1_progress_x264.txt");
    const SHORT: &str = include_str!("../tests/fixtures/ffmpeg_5_1_progress_short.txt");

    #[test]
    fn parses_captured_x264_run() {
        let blocks = parse_progress(X264);
        let times: Vec<_> = blocks.iter().map(|b| b.out_time_us).collect();
        assert_eq!(
            times,
            [Some(0), Some(880_078), Some(2_440_078), Some(5_880_078)]
        );
        assert!(blocks[..3].iter().all(|b| !b.end));
        assert!(blocks[3].end);
        assert_eq!(blocks[3].frame, Some(150));
    }

    #[test]
    fn parses_captured_short_run_with_speed() {
        let blocks = parse_progress(SHORT);
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].frame, Some(1));
        assert_eq!(blocks[0].speed, Some(12.8));
        assert_eq!(blocks[1].out_time_us, Some(2_020_136));
        assert!(blocks[1].end);
    }

    #[test]
    fn not_available_values_are_none() {
        let text = "frame=0\nout_time_us=N/A\nout_time_ms=N/A\nout_time=N/A\nspeed=N/A\nprogress=continue\n";
        let blocks = parse_progress(text);
        let expected = ProgressBlock {
            frame: Some(0),
            ..Default::default()
        };
        assert_eq!(blocks, [expected]);
    }

    #[test]
    fn partial_block_is_not_returned() {
        assert!(parse_progress("frame=3\nout_time_us=100\n").is_empty());
    }

    #[test]
    fn percent_against_duration() {
        let block = ProgressBlock {
            out_time_us: Some(2_440_078),
            ..Default::default()
        };
        assert_eq!(block.percent(Some(6.0)), Some(40));
        assert_eq!(block.percent(None), None);
        assert_eq!(block.percent(Some(0.0)), None);
        assert_eq!(percent_of(9_000_000, 6.0), Some(100));
        assert_eq!(percent_of(-40_000, 6.0), Some(0));
        let end = ProgressBlock {
            end: true,
            ..Default::default()
        };
        assert_eq!(end.percent(None), Some(100));
    }

    #[test]
    fn target_uses_the_larger_of_time_and_frames() {
        let block = ProgressBlock {
            out_time_us: Some(1_000_000),
            frame: Some(3),
            ..Default::default()
        };
        let frames = ProgressTarget {
            secs: None,
            frames: Some(4),
        };
        assert_eq!(frames.percent(&block), Some(75));
        let both = ProgressTarget {
            secs: Some(2.0),
            frames: Some(10),
        };
        assert_eq!(both.percent(&block), Some(50));
        assert_eq!(ProgressTarget::default().percent(&block), None);
    }
}
