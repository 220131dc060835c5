//! CI `RemoveWatermark`: a rectangle of the decoded frame blurred away by ffmpeg's `delogo`.
//! ffmpeg refuses a rectangle touching the frame's edge ("Logo area is outside of the frame":
//! it needs `x, y >= 1` and `x + w <= width - 1`, `y + h <= height - 1`), so the rectangle is
//! fitted into the frame first; one wholly outside the frame removes nothing.

use serde::{Deserialize, Serialize};

/// A rectangle in pixels of the decoded source frame, top-left origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delogo {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub w: u32,
    /// Height.
    pub h: u32,
}

impl Delogo {
    /// The rectangle fitted inside a `width`×`height` frame as `delogo` needs it; `None` when
    /// it lies outside the frame (or the frame is too small to hold one).
    pub fn fit(self, (width, height): (u32, u32)) -> Option<Delogo> {
        let axis = |start: u32, len: u32, size: u32| -> Option<(u32, u32)> {
            if size < 3 || start >= size - 1 || len == 0 {
                return None;
            }
            let start = start.max(1);
            let end = start.saturating_add(len).min(size - 1);
            (end > start).then_some((start, end - start))
        };
        let (x, w) = axis(self.x, self.w, width)?;
        let (y, h) = axis(self.y, self.h, height)?;
        Some(Delogo { x, y, w, h })
    }

    /// The filter for a frame of `source` size (unknown: the rectangle as given).
    pub(crate) fn filter(self, source: Option<(u32, u32)>) -> Option<String> {
        let d = match source {
            Some(size) => self.fit(size)?,
            None => self,
        };
        Some(format!("delogo=x={}:y={}:w={}:h={}", d.x, d.y, d.w, d.h))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(x: u32, y: u32, w: u32, h: u32) -> Delogo {
        Delogo { x, y, w, h }
    }

    #[test]
    fn rectangles_are_fitted_strictly_inside_the_frame() {
        assert_eq!(d(10, 20, 64, 32).fit((320, 240)), Some(d(10, 20, 64, 32)));
        assert_eq!(d(0, 0, 64, 64).fit((320, 240)), Some(d(1, 1, 64, 64)));
        assert_eq!(
            d(300, 200, 64, 64).fit((320, 240)),
            Some(d(300, 200, 19, 39))
        );
        assert_eq!(d(1, 1, 4096, 4096).fit((320, 240)), Some(d(1, 1, 318, 238)));
        assert_eq!(d(319, 10, 8, 8).fit((320, 240)), None);
        assert_eq!(d(1000, 1000, 8, 8).fit((320, 240)), None);
        assert_eq!(d(1, 1, 8, 8).fit((2, 2)), None);
        assert_eq!(
            d(0, 0, 8, 8).filter(Some((320, 240))).as_deref(),
            Some("delogo=x=1:y=1:w=8:h=8")
        );
        assert_eq!(
            d(5, 5, 8, 8).filter(None).as_deref(),
            Some("delogo=x=5:y=5:w=8:h=8")
        );
        assert_eq!(d(500, 5, 8, 8).filter(Some((320, 240))), None);
    }
}
