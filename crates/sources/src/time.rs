//! Event times as vendors write them, to epoch milliseconds (UTC).

use chrono::{DateTime, NaiveDateTime, Offset, TimeZone};

/// The zone of a device's zone-less timestamps (syslog from a VPN concentrator): UTC, a
/// fixed offset, or a named zone whose daylight-saving changes are followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceClock {
    /// UTC.
    #[default]
    Utc,
    /// A fixed offset, minutes east of UTC.
    Offset(i32),
    /// A named zone (`Europe/Berlin`).
    Zone(chrono_tz::Tz),
}

/// A device's local time read as UTC: the time, and when the local time occurred twice
/// (the hour a clock goes back in autumn), the later of its two readings; the earlier is
/// `ms`, and ingest takes the later one when the earlier would go back in time from the
/// line before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    /// Epoch ms (the earlier reading when there are two).
    pub ms: i64,
    /// The later reading of a local time that occurred twice.
    pub later_ms: Option<i64>,
}

impl DeviceClock {
    /// `UTC`, `Z`, an offset (`+02:00`, `-0500`, `+2`) or an IANA zone name
    /// (`Europe/Berlin`, `America/Chicago`).
    ///
    /// # Errors
    /// The text is none of those.
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("utc") || t == "Z" {
            return Ok(Self::Utc);
        }
        if let Some(minutes) = offset_minutes(t) {
            return Ok(Self::Offset(minutes));
        }
        t.parse::<chrono_tz::Tz>().map(Self::Zone).map_err(|_| {
            format!("{s:?} is not UTC, an offset like +02:00 or a zone name like Europe/Berlin")
        })
    }

    /// A local time on this clock, in UTC. A local time that never occurred (the hour
    /// skipped in spring) is read with the offset before the change, as a clock that had
    /// not yet been put forward would mean it.
    #[must_use]
    pub fn utc(&self, t: NaiveDateTime) -> LocalTime {
        let plain = |offset_ms: i64| LocalTime {
            ms: t.and_utc().timestamp_millis() - offset_ms,
            later_ms: None,
        };
        match self {
            Self::Utc => plain(0),
            Self::Offset(m) => plain(i64::from(*m) * 60_000),
            Self::Zone(tz) => match tz.from_local_datetime(&t) {
                chrono::LocalResult::Single(d) => LocalTime {
                    ms: d.timestamp_millis(),
                    later_ms: None,
                },
                chrono::LocalResult::Ambiguous(a, b) => {
                    let (x, y) = (a.timestamp_millis(), b.timestamp_millis());
                    LocalTime {
                        ms: x.min(y),
                        later_ms: Some(x.max(y)),
                    }
                }
                chrono::LocalResult::None => {
                    // The offset an hour before: the one the skipped hour would have had.
                    let before = t - chrono::Duration::hours(3);
                    let offset = tz
                        .offset_from_local_datetime(&before)
                        .earliest()
                        .map_or(0, |o| i64::from(o.fix().local_minus_utc()));
                    plain(offset * 1000)
                }
            },
        }
    }
}

impl std::fmt::Display for DeviceClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Utc => f.write_str("UTC"),
            Self::Offset(m) => write!(
                f,
                "{}{:02}:{:02}",
                if *m < 0 { '-' } else { '+' },
                m.abs() / 60,
                m.abs() % 60
            ),
            Self::Zone(tz) => f.write_str(tz.name()),
        }
    }
}

/// Minutes east of UTC of `+02:00`, `-0500`, `+2`.
fn offset_minutes(t: &str) -> Option<i32> {
    let (sign, rest) = match t.as_bytes().first() {
        Some(b'+') => (1, &t[1..]),
        Some(b'-') => (-1, &t[1..]),
        _ => return None,
    };
    if !rest.bytes().all(|b| b.is_ascii_digit() || b == b':') {
        return None;
    }
    let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    let (h, m) = match digits.len() {
        1 | 2 => (digits.parse::<i32>().ok()?, 0),
        4 => (
            digits[..2].parse::<i32>().ok()?,
            digits[2..].parse::<i32>().ok()?,
        ),
        _ => return None,
    };
    (h <= 14 && m <= 59).then_some(sign * (h * 60 + m))
}

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

    fn local(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    fn utc(s: &str) -> i64 {
        local(s).and_utc().timestamp_millis()
    }

    #[test]
    fn clocks_parse_as_written() {
        assert_eq!(DeviceClock::parse("UTC"), Ok(DeviceClock::Utc));
        assert_eq!(DeviceClock::parse("+02:00"), Ok(DeviceClock::Offset(120)));
        assert_eq!(DeviceClock::parse("-0500"), Ok(DeviceClock::Offset(-300)));
        assert_eq!(
            DeviceClock::parse("Europe/Berlin"),
            Ok(DeviceClock::Zone(chrono_tz::Europe::Berlin))
        );
        assert!(DeviceClock::parse("Mars/Olympus").is_err());
        assert!(DeviceClock::parse("+25:00").is_err());
        assert_eq!(DeviceClock::Offset(-330).to_string(), "-05:30");
    }

    /// Berlin on the two switch nights of 2023: 26 March (02:00 CET -> 03:00 CEST) and
    /// 29 October (03:00 CEST -> 02:00 CET).
    #[test]
    fn daylight_saving_changes_are_followed() {
        let berlin = DeviceClock::Zone(chrono_tz::Europe::Berlin);
        let at = |s: &str| berlin.utc(local(s));
        assert_eq!(at("2023-03-26 01:59:00").ms, utc("2023-03-26 00:59:00"));
        assert_eq!(at("2023-03-26 03:00:30").ms, utc("2023-03-26 01:00:30"));
        // The skipped hour, if a clock writes it: read with the winter offset.
        assert_eq!(at("2023-03-26 02:30:00").ms, utc("2023-03-26 01:30:00"));
        assert_eq!(at("2023-03-26 02:30:00").later_ms, None);
        // The hour that happens twice: both readings.
        let twice = at("2023-10-29 02:10:00");
        assert_eq!(twice.ms, utc("2023-10-29 00:10:00"));
        assert_eq!(twice.later_ms, Some(utc("2023-10-29 01:10:00")));
        assert_eq!(at("2023-10-29 03:10:00").ms, utc("2023-10-29 02:10:00"));
        assert_eq!(at("2023-07-01 12:00:00").ms, utc("2023-07-01 10:00:00"));
        // Chicago, 5 November 2023 (02:00 CDT -> 01:00 CST).
        let chicago = DeviceClock::Zone(chrono_tz::America::Chicago);
        let t = chicago.utc(local("2023-11-05 01:30:00"));
        assert_eq!(
            (t.ms, t.later_ms),
            (utc("2023-11-05 06:30:00"), Some(utc("2023-11-05 07:30:00")))
        );
    }

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
