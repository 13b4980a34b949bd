//! Times in findings are integer milliseconds since the epoch (UTC) from the query result
//! to the output; RFC 3339 text is made only where a line is written.

/// RFC 3339 in UTC with `Z`, and fractional seconds only when there are any
/// (`2022-08-04T09:47:12Z`, `2022-08-04T09:47:12.250Z`), as Arrow formats a UTC
/// timestamp. A time outside chrono's range is written as its number.
#[must_use]
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map_or_else(
        || ms.to_string(),
        |t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
    )
}

/// Serde: a millisecond time as RFC 3339 text.
pub(crate) fn serialize<S: serde::Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_seconds_have_no_fraction() {
        assert_eq!(rfc3339(1_659_606_432_000), "2022-08-04T09:47:12Z");
        assert_eq!(rfc3339(1_659_606_432_250), "2022-08-04T09:47:12.250Z");
    }
}
