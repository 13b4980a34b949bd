//! Values checked at the door: every row of every source passes through the table
//! builders, which refuse a time outside a sane window (the record is quarantined with
//! the reason) and store an address that is not an IP address, or coordinates outside
//! the globe, as null (the original stays in `raw`; the builder counts them).

/// The window of event times a row may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Door {
    /// Earliest time accepted (ms since the epoch).
    pub earliest_ms: i64,
    /// Latest time accepted.
    pub latest_ms: i64,
}

impl Door {
    /// 1990-01-01T00:00:00Z: no identity provider or VPN log midgame reads is older.
    pub const EARLIEST_MS: i64 = 631_152_000_000;

    /// The window from [`Door::EARLIEST_MS`] to `latest_ms`.
    #[must_use]
    pub fn until(latest_ms: i64) -> Self {
        Self {
            earliest_ms: Self::EARLIEST_MS,
            latest_ms,
        }
    }

    /// `Err` with the reason when `time_ms` is outside the window.
    ///
    /// # Errors
    /// The time is before `earliest_ms` or after `latest_ms`.
    pub fn check_time(&self, time_ms: i64) -> Result<(), String> {
        if time_ms < self.earliest_ms {
            Err(format!(
                "time {} is before {}, the earliest accepted ([limits] earliest_time)",
                day_of(time_ms),
                day_of(self.earliest_ms)
            ))
        } else if time_ms > self.latest_ms {
            Err(format!(
                "time {} is after {}, the latest plausible for this file (its modification time and [limits] max_future_hours)",
                day_of(time_ms),
                day_of(self.latest_ms)
            ))
        } else {
            Ok(())
        }
    }
}

impl Default for Door {
    /// From 1990 on, with no upper bound (ingest sets one from each file).
    fn default() -> Self {
        Self::until(i64::MAX)
    }
}

fn day_of(ms: i64) -> String {
    crate::day_string(crate::epoch_day(ms))
}

/// Whether `s` is an IPv4 or IPv6 address as text.
#[must_use]
pub fn is_ip(s: &str) -> bool {
    s.parse::<std::net::IpAddr>().is_ok()
}

/// The address if it is one.
pub(crate) fn address<'a>(s: Option<&'a str>, nulled: &mut u64) -> Option<&'a str> {
    match s {
        Some(a) if !is_ip(a) => {
            *nulled += 1;
            None
        }
        other => other,
    }
}

/// Latitude and longitude if both are on the globe (else neither).
pub(crate) fn coordinates(
    lat: Option<f64>,
    lon: Option<f64>,
    nulled: &mut u64,
) -> (Option<f64>, Option<f64>) {
    let ok = |v: Option<f64>, max: f64| v.is_none_or(|v| v.is_finite() && v.abs() <= max);
    if ok(lat, 90.0) && ok(lon, 180.0) {
        (lat, lon)
    } else {
        *nulled += 1;
        (None, None)
    }
}

/// A non-negative finite distance, else null.
pub(crate) fn distance(km: Option<f64>, nulled: &mut u64) -> Option<f64> {
    match km {
        Some(v) if !(v.is_finite() && v >= 0.0) => {
            *nulled += 1;
            None
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_parsed_not_trusted() {
        for ok in ["1.2.3.4", "2001:db8::1", "::ffff:10.0.0.1"] {
            assert!(is_ip(ok), "{ok}");
        }
        for bad in [
            "999.1.1.1",
            "1.2.3.4; DROP TABLE auth",
            "",
            "1.2.3",
            "example.com",
        ] {
            assert!(!is_ip(bad), "{bad}");
        }
    }

    #[test]
    fn times_outside_the_window_say_why() {
        let door = Door::until(1_700_000_000_000);
        assert!(door.check_time(1_659_607_953_000).is_ok());
        let e = door.check_time(-62_167_219_200_000 - 1).unwrap_err();
        assert!(e.contains("before 1990-01-01"), "{e}");
        let e = door.check_time(253_402_300_800_000).unwrap_err();
        assert!(e.starts_with("time 10000-01-01 is after 2023-11-14"), "{e}");
    }

    #[test]
    fn coordinates_off_the_globe_are_dropped_together() {
        let mut n = 0;
        assert_eq!(
            coordinates(Some(52.0), Some(4.9), &mut n),
            (Some(52.0), Some(4.9))
        );
        assert_eq!(coordinates(Some(1e308), Some(4.9), &mut n), (None, None));
        assert_eq!(coordinates(Some(f64::NAN), None, &mut n), (None, None));
        assert_eq!(n, 2);
    }
}
