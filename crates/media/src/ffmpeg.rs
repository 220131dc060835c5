//! Argument fragments shared by every ffmpeg invocation.
//!
//! Every run is quiet on stderr except for errors (so the stderr tail *is* the
//! explanation), never reads stdin, overwrites its outputs (the engine hands us fresh
//! paths), and reports progress as key=value blocks on stdout for the process wrapper.

/// The common prefix: `-hide_banner -nostdin -loglevel error -progress pipe:1 -nostats -y`.
pub(crate) fn prelude() -> Vec<String> {
    [
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-progress",
        "pipe:1",
        "-nostats",
        "-y",
    ]
    .map(String::from)
    .to_vec()
}

/// Formats seconds or rates for ffmpeg: `2`, `1.5`, `0.04` (no exponent, no noise).
pub(crate) fn num(value: f64) -> String {
    let text = format!("{value:.6}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text.is_empty() || text == "-" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

/// A `scale` filter keeping the aspect ratio when only one side is given. `round` is
/// `-2` for video (encoders want even sizes) or `-1` for images.
pub(crate) fn scale_filter(width: Option<u32>, height: Option<u32>, round: i32) -> Option<String> {
    match (width, height) {
        (None, None) => None,
        (Some(w), Some(h)) => Some(format!("scale={w}:{h}")),
        (Some(w), None) => Some(format!("scale={w}:{round}")),
        (None, Some(h)) => Some(format!("scale={round}:{h}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short() {
        assert_eq!(num(2.0), "2");
        assert_eq!(num(1.5), "1.5");
        assert_eq!(num(0.04), "0.04");
        assert_eq!(num(1.0 / 3.0), "0.333333");
        assert_eq!(num(0.0), "0");
    }

    #[test]
    fn scale_keeps_aspect_with_one_side() {
        assert_eq!(
            scale_filter(Some(320), None, -2).as_deref(),
            Some("scale=320:-2")
        );
        assert_eq!(
            scale_filter(None, Some(180), -1).as_deref(),
            Some("scale=-1:180")
        );
        assert_eq!(
            scale_filter(Some(320), Some(180), -2).as_deref(),
            Some("scale=320:180")
        );
        assert_eq!(scale_filter(None, None, -2), None);
    }
}
