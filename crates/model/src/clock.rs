//! Time formats of the CI dialect, in one configured UTC offset.
//!
//! The store keeps instants as Unix seconds; only the edges format them. Callbacks use
//! `2020-12-01 11:00:41+0800` (the seed), API responses `2020-12-01T11:00:41+0800`.

use time::{OffsetDateTime, UtcOffset};

/// The offset used for every time the service prints. Chosen once at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisplayOffset(pub UtcOffset);

/// A `+08:00`-style offset string that could not be parsed.
#[derive(Debug, thiserror::Error)]
#[error("invalid UTC offset {0:?}: expected +HH:MM or -HH:MM")]
pub struct OffsetParseError(pub String);

impl DisplayOffset {
    /// UTC.
    pub const UTC: DisplayOffset = DisplayOffset(UtcOffset::UTC);

    /// Parses `+08:00`, `+0800`, `-05:30` or `Z`.
    pub fn parse(text: &str) -> Result<Self, OffsetParseError> {
        let err = || OffsetParseError(text.to_owned());
        if text == "Z" || text == "z" {
            return Ok(Self::UTC);
        }
        let (sign, rest) = match text.as_bytes().first() {
            Some(b'+') => (1, &text[1..]),
            Some(b'-') => (-1, &text[1..]),
            _ => return Err(err()),
        };
        let digits: String = rest.chars().filter(|c| *c != ':').collect();
        if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let hours: i8 = digits[..2].parse().map_err(|_| err())?;
        let minutes: i8 = digits[2..].parse().map_err(|_| err())?;
        UtcOffset::from_hms(sign * hours, sign * minutes, 0)
            .map(DisplayOffset)
            .map_err(|_| err())
    }

    /// The host's current offset, falling back to UTC where it cannot be determined.
    pub fn host() -> Self {
        DisplayOffset(UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC))
    }

    /// `YYYY-MM-DD HH:MM:SS+hhmm`, the callback format.
    pub fn callback_time(&self, unix: i64) -> String {
        self.format(unix, ' ')
    }

    /// `YYYY-MM-DDTHH:MM:SS+hhmm`, the API response format.
    pub fn api_time(&self, unix: i64) -> String {
        self.format(unix, 'T')
    }

    fn format(&self, unix: i64, separator: char) -> String {
        let t = OffsetDateTime::from_unix_timestamp(unix)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
            .to_offset(self.0);
        let (h, m, _) = self.0.as_hms();
        let sign = if self.0.is_negative() { '-' } else { '+' };
        format!(
            "{:04}-{:02}-{:02}{separator}{:02}:{:02}:{:02}{sign}{:02}{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            h.unsigned_abs(),
            m.unsigned_abs()
        )
    }
}

/// Parses an API filter time such as `2022-08-09T14:54:17+0800` or `…+08:00` into Unix seconds.
pub fn parse_api_time(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.len() < 20 {
        return None;
    }
    let (datetime, offset) = text.split_at(19);
    let offset = DisplayOffset::parse(offset).ok()?;
    let format = time::macros::format_description!(
        "[year]-[month]-[day][first [T][ ]][hour]:[minute]:[second]"
    );
    let naive = time::PrimitiveDateTime::parse(datetime, &format).ok()?;
    Some(naive.assume_offset(offset.0).unix_timestamp())
}

/// Current Unix time in seconds.
pub fn now_unix() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Current Unix time in milliseconds.
pub fn now_ms() -> i64 {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_the_seed() {
        let cst = DisplayOffset::parse("+08:00").unwrap();
        // 2020-12-01 11:00:41 +08:00 == 03:00:41 UTC
        let unix = 1_606_791_641;
        assert_eq!(cst.callback_time(unix), "2020-12-01 11:00:41+0800");
        assert_eq!(cst.api_time(unix), "2020-12-01T11:00:41+0800");
        let west = DisplayOffset::parse("-05:30").unwrap();
        assert_eq!(west.callback_time(unix), "2020-11-30 21:30:41-0530");
    }

    #[test]
    fn parses_offsets_and_times() {
        assert!(DisplayOffset::parse("+0800").is_ok());
        assert!(DisplayOffset::parse("08:00").is_err());
        assert!(DisplayOffset::parse("+8").is_err());
        assert_eq!(
            parse_api_time("2020-12-01T11:00:41+0800"),
            Some(1_606_791_641)
        );
        assert_eq!(
            parse_api_time("2020-12-01T11:00:41+08:00"),
            Some(1_606_791_641)
        );
        assert_eq!(parse_api_time("garbage"), None);
    }
}
