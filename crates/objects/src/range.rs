//! The `Range` request header (RFC 9110 §14), single byte ranges only.

/// How to answer a GET given its `Range` header and the object's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeAnswer {
    /// No usable range: send the whole object (200). Covers a missing header, one that is not
    /// a byte range or is malformed (ignored, as RFC 9110 requires), and multi-range requests
    /// (not supported).
    Whole,
    /// Send bytes `start..=end` (206).
    Partial {
        /// First byte.
        start: u64,
        /// Last byte, inclusive.
        end: u64,
    },
    /// No requested byte exists (416).
    Unsatisfiable,
}

/// Resolves `header` (`bytes=a-b`, `bytes=a-`, `bytes=-n`) against an object of `size` bytes.
pub fn resolve(header: Option<&str>, size: u64) -> RangeAnswer {
    let Some(spec) = header.map(str::trim).and_then(strip_bytes_unit) else {
        return RangeAnswer::Whole;
    };
    if spec.contains(',') {
        return RangeAnswer::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAnswer::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    match (parse_number(first), parse_number(last)) {
        // bytes=a-b and bytes=a-
        (Some(start), end) if end.is_some() || last.is_empty() => {
            if end.is_some_and(|end| end < start) {
                return RangeAnswer::Whole; // invalid syntax: ignored
            }
            if start >= size {
                return RangeAnswer::Unsatisfiable;
            }
            let end = end.map_or(size - 1, |end| end.min(size - 1));
            RangeAnswer::Partial { start, end }
        }
        // bytes=-n: the last n bytes
        (None, Some(suffix)) if first.is_empty() => {
            if suffix == 0 || size == 0 {
                return RangeAnswer::Unsatisfiable;
            }
            RangeAnswer::Partial {
                start: size.saturating_sub(suffix),
                end: size - 1,
            }
        }
        _ => RangeAnswer::Whole,
    }
}

fn strip_bytes_unit(header: &str) -> Option<&str> {
    let (unit, spec) = header.split_once('=')?;
    unit.trim().eq_ignore_ascii_case("bytes").then_some(spec)
}

fn parse_number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::RangeAnswer::{Partial, Unsatisfiable, Whole};
    use super::*;

    #[test]
    fn single_ranges() {
        assert_eq!(resolve(None, 10), Whole);
        assert_eq!(resolve(Some("bytes=0-3"), 10), Partial { start: 0, end: 3 });
        assert_eq!(resolve(Some("bytes=5-"), 10), Partial { start: 5, end: 9 });
        assert_eq!(
            resolve(Some("bytes=5-100"), 10),
            Partial { start: 5, end: 9 }
        );
        assert_eq!(resolve(Some("bytes=-3"), 10), Partial { start: 7, end: 9 });
        assert_eq!(resolve(Some("bytes=-30"), 10), Partial { start: 0, end: 9 });
        assert_eq!(
            resolve(Some("Bytes = 1-1"), 10),
            Partial { start: 1, end: 1 }
        );
    }

    #[test]
    fn unsatisfiable() {
        assert_eq!(resolve(Some("bytes=10-"), 10), Unsatisfiable);
        assert_eq!(resolve(Some("bytes=10-20"), 10), Unsatisfiable);
        assert_eq!(resolve(Some("bytes=-0"), 10), Unsatisfiable);
        assert_eq!(resolve(Some("bytes=0-"), 0), Unsatisfiable);
        assert_eq!(resolve(Some("bytes=-5"), 0), Unsatisfiable);
    }

    #[test]
    fn ignored() {
        assert_eq!(resolve(Some("bytes=0-1,3-4"), 10), Whole);
        assert_eq!(resolve(Some("items=0-1"), 10), Whole);
        assert_eq!(resolve(Some("bytes=5-2"), 10), Whole);
        assert_eq!(resolve(Some("bytes=x-2"), 10), Whole);
        assert_eq!(resolve(Some("bytes=-"), 10), Whole);
        assert_eq!(resolve(Some("bytes=+1-2"), 10), Whole);
        assert_eq!(resolve(Some("bytes"), 10), Whole);
    }
}
