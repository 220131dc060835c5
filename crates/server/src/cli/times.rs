//! Times on the command line, in one place: every `--since`/`--until` takes the same forms
//! ([`TimeArg`]: RFC 3339 with a `Z`, `+00:00` or `+0000` offset, Unix seconds, or an age such
//! as `90s`, `30m`, `2h`, `1d`), each command sends the server the form its API takes
//! ([`TimeArg::ci`], [`TimeArg::rfc3339`]), and every table prints times one way
//! ([`display`]: RFC 3339 in UTC, `2026-12-01T00:47:34Z`). `--output json` prints the
//! server's own text unchanged.

use std::str::FromStr;

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, UtcOffset};

/// The forms a time may take, for error messages.
pub const FORMS: &str = "give RFC 3339 (2026-11-30T10:00:00Z, or with an offset such as \
                         +08:00 or +0800), Unix seconds (1796000000) or an age (90s, 30m, 2h, 1d)";

/// A point in time given on the command line (parsed by clap: a bad value is a usage error,
/// exit status 2, before any request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeArg(pub OffsetDateTime);

impl FromStr for TimeArg {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        parse(text, OffsetDateTime::now_utc())
            .map(TimeArg)
            .ok_or_else(|| format!("{text:?} is not a time: {FORMS}"))
    }
}

impl TimeArg {
    /// The form of the CI API's list filters (`startCreationTime`):
    /// `2026-11-30T10:00:00+0000`.
    pub fn ci(self) -> String {
        let format =
            time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]+0000");
        self.0
            .to_offset(UtcOffset::UTC)
            .format(&format)
            .unwrap_or_default()
    }

    /// RFC 3339 in UTC (`2026-11-30T10:00:00Z`), what the management API (`/_reelflow/v1/`)
    /// takes.
    pub fn rfc3339(self) -> String {
        self.0
            .to_offset(UtcOffset::UTC)
            .format(&Rfc3339)
            .unwrap_or_default()
    }
}

/// `text` as a point in time, ages counted back from `now`.
pub fn parse(text: &str, now: OffsetDateTime) -> Option<OffsetDateTime> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    let digits = t.strip_prefix('-').unwrap_or(t);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return OffsetDateTime::from_unix_timestamp(t.parse().ok()?).ok();
    }
    timestamp(t).or_else(|| age(t).map(|d| now - d))
}

/// RFC 3339, also with the offset written `+0000` (as the CI API prints times) or a space
/// between the date and the time.
fn timestamp(text: &str) -> Option<OffsetDateTime> {
    let mut s = text.to_owned();
    let b = s.as_bytes();
    if b.len() > 19 && b.get(10) == Some(&b' ') {
        s.replace_range(10..11, "T");
    }
    let b = s.as_bytes();
    let n = b.len();
    if n >= 24 && matches!(b[n - 5], b'+' | b'-') && b[n - 4..].iter().all(u8::is_ascii_digit) {
        s.insert(n - 2, ':');
    }
    OffsetDateTime::parse(&s, &Rfc3339).ok()
}

/// `90s`, `30m`, `2h`, `1d`.
fn age(text: &str) -> Option<Duration> {
    let (n, unit) = text.split_at(text.len().checked_sub(1)?);
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = n.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    Some(Duration::seconds(secs))
}

/// A time from a server answer as tables print it: RFC 3339 in UTC to the second
/// (`2026-12-01T00:47:34Z`), whatever offset or precision the server wrote; anything that is
/// not a time (empty, `-`) as it is.
pub fn display(text: &str) -> String {
    let shown = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    match timestamp(text.trim()) {
        Some(at) => at
            .to_offset(UtcOffset::UTC)
            .format(&shown)
            .unwrap_or_else(|_| text.to_owned()),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> TimeArg {
        text.parse().unwrap()
    }

    #[test]
    fn every_form_of_a_time() {
        assert_eq!(at("0").ci(), "1970-01-01T00:00:00+0000");
        assert_eq!(at("0").rfc3339(), "1970-01-01T00:00:00Z");
        for text in [
            "2026-11-30T10:00:00+08:00",
            "2026-11-30T10:00:00+0800",
            "2026-11-30T02:00:00Z",
            "2026-11-30T02:00:00+0000",
            "2026-11-30T02:00:00+00:00",
            "2026-11-30 02:00:00Z",
            "1796004000",
        ] {
            assert_eq!(at(text).ci(), "2026-11-30T02:00:00+0000", "{text}");
            assert_eq!(at(text).rfc3339(), "2026-11-30T02:00:00Z", "{text}");
        }
        let now = OffsetDateTime::now_utc();
        for (text, secs) in [("90s", 90), ("30m", 1800), ("2h", 7200), ("1d", 86_400)] {
            let ago = now - at(text).0;
            assert!((ago.whole_seconds() - secs).abs() <= 5, "{text}: {ago}");
        }
        for bad in [
            "soon",
            "yesterday",
            "2x",
            "h",
            "",
            "-5m",
            "2026-11-30T02:00:00",
        ] {
            let error = bad.parse::<TimeArg>().unwrap_err();
            assert!(
                error.contains("RFC 3339") && error.contains("2h"),
                "{error}"
            );
        }
    }

    #[test]
    fn tables_print_times_one_way() {
        for text in [
            "2026-12-01T08:47:34+0800",
            "2026-12-01T00:47:34+0000",
            "2026-12-01T00:47:34Z",
            "2026-12-01T00:47:34.123Z",
            "2026-12-01T00:47:34+00:00",
        ] {
            assert_eq!(display(text), "2026-12-01T00:47:34Z", "{text}");
        }
        assert_eq!(display("-"), "-");
        assert_eq!(display(""), "");
    }
}
