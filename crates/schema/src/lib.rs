//! The lake's tables as Arrow schemas, one documented column at a time.
//!
//! Every source builds rows of the `auth` or `admin` table through the typed builders
//! here ([`AuthBuilder`]), so all sources agree on names, types and meanings. The column
//! list is also the reference an analyst reads (`COLUMNS`), so the docs cannot drift from
//! the code. Types follow the portability rules of `LAKE-SCHEMA.md`: millisecond UTC
//! timestamps with an `Int64` `time_ms` beside them, signed integers, plain strings.
//!
//! ```
//! use midgame_schema::{auth_schema, AuthBuilder, AuthRow};
//! let mut b = AuthBuilder::with_capacity(1);
//! b.append(&AuthRow { time_ms: 1_659_607_953_000, source: "okta", user: Some("jdoe@example.com"), ..AuthRow::default() })
//!     .unwrap();
//! let batch = b.finish();
//! assert_eq!(batch.num_rows(), 1);
//! assert_eq!(batch.schema(), auth_schema());
//! ```
#![deny(missing_docs)]

mod admin;
mod auth;
mod door;
mod findings;
mod identity;
mod table;
pub mod ua;

pub use admin::{AdminBuilder, AdminRow};
pub use auth::{AuthBuilder, AuthRow, auth_schema};
pub use door::{Door, is_ip};
pub use findings::{
    ALERT_COLUMNS, ALERT_LIFECYCLE_COLUMNS, ALERTS, INCIDENT_COLUMNS, INCIDENTS,
    alert_lifecycle_schema, alert_schema, incident_schema,
};
pub use identity::{IdentityError, IdentityMap};
pub use table::{ADMIN_COLUMNS, AUTH_COLUMNS, Column, ColumnType, Table, admin_schema};

/// Where a row came from: the file and line of its record and, unless the lake is
/// written with `--raw none`, the record's text. Every row of every table has it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Provenance<'a> {
    /// The file as it was given to ingest.
    pub file: &'a str,
    /// 1-based line where the record starts.
    pub line: i64,
    /// The original record, when it is kept.
    pub raw: Option<&'a str>,
}

/// Name of the table of authentication, session and tunnel events.
pub const AUTH: &str = "auth";
/// Name of the table of admin-tool and control-plane actions.
pub const ADMIN: &str = "admin";

/// Days since 1970-01-01 (UTC) of an epoch-millisecond time: the lake's `date=` partition.
#[must_use]
pub fn epoch_day(time_ms: i64) -> i64 {
    time_ms.div_euclid(86_400_000)
}

/// `YYYY-MM-DD` of a day number as [`epoch_day`] returns it (proleptic Gregorian, UTC).
#[must_use]
pub fn day_string(day: i64) -> String {
    // Howard Hinnant's civil_from_days.
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_strings_match_the_calendar() {
        assert_eq!(day_string(0), "1970-01-01");
        assert_eq!(day_string(epoch_day(1_659_607_953_000)), "2022-08-04");
        assert_eq!(day_string(epoch_day(-1)), "1969-12-31");
        assert_eq!(day_string(epoch_day(951_782_400_000)), "2000-02-29");
    }
}
