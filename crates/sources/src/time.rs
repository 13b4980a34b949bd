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

/// The date a path names (`2022-08-04`, `2022/08/04`, `20220804`, `2022_08_04`), the
/// last one when several do: archives are laid out by day.
#[must_use]
pub fn date_in_path(path: &std::path::Path) -> Option<chrono::NaiveDate> {
    let text = path.to_string_lossy();
    let b = text.as_bytes();
    let digits = |i: usize, n: usize| -> Option<u32> {
        let s = b.get(i..i + n)?;
        s.iter()
            .all(u8::is_ascii_digit)
            .then(|| std::str::from_utf8(s).ok()?.parse().ok())
            .flatten()
    };
    let mut found = None;
    for i in 0..b.len() {
        if i > 0 && b[i - 1].is_ascii_digit() {
            continue;
        }
        let Some(y) = digits(i, 4) else { continue };
        if !(1990..=2100).contains(&y) {
            continue;
        }
        let sep = b.get(i + 4).copied();
        let (m, d, end) = match sep {
            Some(b'-' | b'/' | b'_' | b'.') if b.get(i + 7).copied() == sep => {
                (digits(i + 5, 2), digits(i + 8, 2), i + 10)
            }
            _ => (digits(i + 4, 2), digits(i + 6, 2), i + 8),
        };
        if b.get(end).is_some_and(u8::is_ascii_digit) {
            continue;
        }
        if let (Some(m), Some(d)) = (m, d)
            && let Some(date) = chrono::NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m, d)
        {
            found = Some(date);
        }
    }
    found
}

#[cfg(test)]
mod path_tests {
    use super::*;

    #[test]
    fn dates_in_archive_paths() {
        let d = |s: &str| date_in_path(std::path::Path::new(s)).map(|d| d.to_string());
        assert_eq!(d("vpn/asa-2022-08-04.log").as_deref(), Some("2022-08-04"));
        assert_eq!(
            d("okta/2022/08/04/part-1.json.gz").as_deref(),
            Some("2022-08-04")
        );
        assert_eq!(d("asa/20220804.log.gz").as_deref(), Some("2022-08-04"));
        assert_eq!(
            d("2021-01-01/asa-2022-12-31.log").as_deref(),
            Some("2022-12-31")
        );
        assert_eq!(d("asa/host-12345678901.log"), None);
        assert_eq!(d("asa/2022-13-45.log"), None);
        assert_eq!(d("asa.log"), None);
    }
}
