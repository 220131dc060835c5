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

/// The prefix of a run whose stdout carries data (raw frames), not progress:
/// `-hide_banner -nostdin -loglevel error -nostats -y`.
pub(crate) fn quiet_prelude() -> Vec<String> {
    [
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-nostats",
        "-y",
    ]
    .map(String::from)
    .to_vec()
}

/// Escapes a filter option value (first level, the option parser): `\`, `'` and `:`
/// get a backslash. Leading and trailing blanks are escaped too, since both parsers
/// trim them.
pub(crate) fn escape_option(value: &str) -> String {
    escape_chars(value, &['\\', '\'', ':'])
}

/// Escapes a filter's argument string for the filtergraph parser (second level):
/// `\`, `'`, `[`, `]`, `,` and `;` get a backslash.
pub(crate) fn escape_graph(args: &str) -> String {
    escape_chars(args, &['\\', '\'', '[', ']', ',', ';'])
}

fn escape_chars(text: &str, special: &[char]) -> String {
    let last = text.chars().count().saturating_sub(1);
    let mut out = String::with_capacity(text.len() + 8);
    for (i, c) in text.chars().enumerate() {
        let edge_blank = c.is_whitespace() && (i == 0 || i == last);
        if special.contains(&c) || edge_blank {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One filter with `key=value` options, every value escaped for both parser levels,
/// so arbitrary text (drawtext) and paths (font files) pass through unchanged.
pub(crate) fn filter(name: &str, options: &[(&str, String)]) -> String {
    if options.is_empty() {
        return name.to_owned();
    }
    format!("{name}={}", filter_options(options))
}

/// `key=value:…` with every value escaped for both parser levels.
pub(crate) fn filter_options(options: &[(&str, String)]) -> String {
    let args: Vec<String> = options
        .iter()
        .map(|(k, v)| format!("{k}={}", escape_graph(&escape_option(v))))
        .collect();
    args.join(":")
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
    fn filter_values_are_escaped_for_both_levels() {
        assert_eq!(escape_option("a:b'c\\d"), "a\\:b\\'c\\\\d");
        assert_eq!(escape_graph("x[1],y;z"), "x\\[1\\]\\,y\\;z");
        assert_eq!(escape_option(" pad "), "\\ pad\\ ");
        assert_eq!(
            filter(
                "drawtext",
                &[("text", "it's 1:2".into()), ("x", "10".into())]
            ),
            "drawtext=text=it\\\\\\'s 1\\\\:2:x=10"
        );
        assert_eq!(
            filter("overlay", &[("enable", "between(t,1,2)".into())]),
            "overlay=enable=between(t\\,1\\,2)"
        );
        assert_eq!(filter("null", &[]), "null");
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
