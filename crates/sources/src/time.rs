//! Event times as vendors write them, to epoch milliseconds (UTC).

use chrono::{DateTime, NaiveDateTime};

/// Epoch milliseconds of an RFC 3339 time (`2022-08-04T10:12:33.123Z`, `+02:00` offsets,
/// a space instead of `T`), of a zone-less `YYYY-MM-DD HH:MM:SS[.fff]` (read as UTC), or
/// of epoch seconds/milliseconds given as digits.
#[must_use]
pub fn parse_time_ms(text: &str) -> Option<i64> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = t.parse().ok()?;
        // Ten digits or fewer are seconds (until 2286), more are milliseconds.
        return Some(if t.len() <= 10 {
            n.checked_mul(1000)?
        } else {
            n
        });
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Some(dt.timestamp_millis());
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f%#z",
        "%Y-%m-%dT%H:%M:%S%.f%#z",
    ] {
        if fmt.ends_with("%#z") {
            if let Ok(dt) = DateTime::parse_from_str(t, fmt) {
                return Some(dt.timestamp_millis());
            }
        } else if let Ok(dt) = NaiveDateTime::parse_from_str(t, fmt) {
            return Some(dt.and_utc().timestamp_millis());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_time_shapes() {
        let want = Some(1_659_607_953_123);
        assert_eq!(parse_time_ms("2022-08-04T10:12:33.123Z"), want);
        assert_eq!(parse_time_ms("2022-08-04T12:12:33.123+02:00"), want);
        assert_eq!(parse_time_ms("2022-08-04 10:12:33.123"), want);
        assert_eq!(parse_time_ms("2022-08-04T10:12:33.123"), want);
        assert_eq!(parse_time_ms("1659607953123"), want);
        assert_eq!(parse_time_ms("1659607953"), Some(1_659_607_953_000));
        assert_eq!(
            parse_time_ms("2022-08-04 10:12:33"),
            Some(1_659_607_953_000)
        );
        assert_eq!(parse_time_ms("yesterday"), None);
        assert_eq!(parse_time_ms(""), None);
    }
}
