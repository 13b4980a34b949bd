//! Column catalogue of the lake tables: name, Arrow type and meaning.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// The logical type of a lake column (a small, portable subset of Arrow).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// `Timestamp(Millisecond, "UTC")`.
    TimestampMs,
    /// `Int64`.
    Int64,
    /// `Int32`.
    Int32,
    /// `Float64`.
    Float64,
    /// `Boolean`.
    Boolean,
    /// `Utf8`.
    Utf8,
}

impl ColumnType {
    /// The Arrow type written to Parquet.
    #[must_use]
    pub fn data_type(self) -> DataType {
        match self {
            ColumnType::TimestampMs => {
                DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
            }
            ColumnType::Int64 => DataType::Int64,
            ColumnType::Int32 => DataType::Int32,
            ColumnType::Float64 => DataType::Float64,
            ColumnType::Boolean => DataType::Boolean,
            ColumnType::Utf8 => DataType::Utf8,
        }
    }
}

/// One column of a lake table.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// Column name as SQL sees it.
    pub name: &'static str,
    /// Its type.
    pub ty: ColumnType,
    /// Whether it may be null.
    pub nullable: bool,
    /// What it means, for analysts.
    pub doc: &'static str,
}

pub(crate) const fn col(
    name: &'static str,
    ty: ColumnType,
    nullable: bool,
    doc: &'static str,
) -> Column {
    Column {
        name,
        ty,
        nullable,
        doc,
    }
}

use ColumnType::{Boolean, Float64, Int32, Int64, TimestampMs, Utf8};

/// Columns of the `auth` table, in file order.
pub const AUTH_COLUMNS: &[Column] = &[
    col("time", TimestampMs, false, "When the event happened (UTC)."),
    col(
        "time_ms",
        Int64,
        false,
        "`time` as epoch milliseconds, for portable time arithmetic.",
    ),
    col(
        "source",
        Utf8,
        false,
        "Source kind that produced the row (`okta`, `cisco-asa`, ...).",
    ),
    col(
        "class_uid",
        Int32,
        false,
        "OCSF class: 3002 Authentication, 3001 Account Change, 3005 User Access Management, 4014 Tunnel Activity, 0 other.",
    ),
    col(
        "activity_id",
        Int32,
        false,
        "OCSF activity within the class (3002: 1 Logon, 2 Logoff, 99 Other, with `activity` naming it: SSO, MFA Verify, ...; 3001: 10 MFA Factor Enable, 11 MFA Factor Disable).",
    ),
    col(
        "event_type",
        Utf8,
        false,
        "The vendor's own event code (Okta `eventType`, ASA message id).",
    ),
    col(
        "activity",
        Utf8,
        false,
        "What happened, in words shared by all sources (`Logon`, `SSO`, `MFA Verify`, `MFA Enroll`, ...).",
    ),
    col("outcome", Utf8, false, "`success`, `failure` or `unknown`."),
    col(
        "status_detail",
        Utf8,
        true,
        "The vendor's reason for the outcome (Okta `outcome.reason`).",
    ),
    col(
        "user",
        Utf8,
        true,
        "The identity, normalised across sources (lower-case, no DOMAIN\\ prefix, default domain, aliases).",
    ),
    col(
        "user_raw",
        Utf8,
        true,
        "The identity exactly as the source wrote it.",
    ),
    col(
        "src_ip",
        Utf8,
        true,
        "Address the event came from (text IPv4/IPv6).",
    ),
    col(
        "geo_lat",
        Float64,
        true,
        "Latitude of `src_ip` (from the source, else GeoIP).",
    ),
    col(
        "geo_lon",
        Float64,
        true,
        "Longitude of `src_ip` (from the source, else GeoIP).",
    ),
    col(
        "geo_accuracy_km",
        Float64,
        true,
        "Radius in km within which `src_ip` is located (GeoIP accuracy radius; null when the source does not say).",
    ),
    col("geo_city", Utf8, true, "City of `src_ip`."),
    col(
        "geo_country",
        Utf8,
        true,
        "Country of `src_ip`, ISO 3166 alpha-2 (`US`, `NL`).",
    ),
    col("asn", Int64, true, "Autonomous system number of `src_ip`."),
    col(
        "as_org",
        Utf8,
        true,
        "Autonomous system organisation of `src_ip`.",
    ),
    col(
        "is_proxy",
        Boolean,
        true,
        "The source flagged the address as a proxy or anonymiser (Okta `securityContext.isProxy`).",
    ),
    col(
        "device_id",
        Utf8,
        true,
        "Device fingerprint (Okta `deviceFingerprint`, else `dtHash`, else Okta Verify device id).",
    ),
    col("user_agent", Utf8, true, "Raw HTTP user agent."),
    col(
        "os",
        Utf8,
        true,
        "Operating system family (`Mac OS X`, `Windows`, `iOS`, ...).",
    ),
    col(
        "browser",
        Utf8,
        true,
        "Browser family (`Chrome`, `Safari`, `Firefox`, `Edge`, ...).",
    ),
    col(
        "app",
        Utf8,
        true,
        "Target application of an SSO, or VPN group/tunnel profile.",
    ),
    col(
        "session_id",
        Utf8,
        true,
        "Session identifier: Okta `authenticationContext.externalSessionId`; Entra `sessionId` (one browser session across sign-ins and token refreshes), else `correlationId` (one sign-in flow) where a record has no `sessionId`.",
    ),
    col(
        "is_mfa",
        Boolean,
        true,
        "Whether a second factor was part of this event.",
    ),
    col(
        "mfa_factor",
        Utf8,
        true,
        "The MFA factor involved (`OKTA_VERIFY_PUSH`, `SMS`, `OTP`, ...).",
    ),
    col(
        "behaviors",
        Utf8,
        true,
        "The IdP's own behaviour verdicts (Okta `debugData.behaviors`, e.g. `{New Device=POSITIVE, ...}`).",
    ),
    col(
        "bytes_in",
        Int64,
        true,
        "Bytes sent to the client during a VPN session.",
    ),
    col(
        "bytes_out",
        Int64,
        true,
        "Bytes received from the client during a VPN session.",
    ),
    col("duration_s", Int64, true, "Session duration in seconds."),
    col(
        "file",
        Utf8,
        false,
        "Provenance: the archive file the row came from.",
    ),
    col(
        "line",
        Int64,
        false,
        "Provenance: the 1-based line in that file where the record starts.",
    ),
    col(
        "raw",
        Utf8,
        true,
        "The original record text (null when ingested with `--raw none`).",
    ),
];

/// Columns of the `admin` table, in file order.
pub const ADMIN_COLUMNS: &[Column] = &[
    col(
        "time",
        TimestampMs,
        false,
        "When the action happened (UTC).",
    ),
    col("time_ms", Int64, false, "`time` as epoch milliseconds."),
    col(
        "source",
        Utf8,
        false,
        "Source kind that produced the row (`admin-audit`, `cloudtrail`, ...).",
    ),
    col(
        "tool",
        Utf8,
        true,
        "The admin tool or control plane (`support-console`, `s3.amazonaws.com`).",
    ),
    col(
        "user",
        Utf8,
        true,
        "The acting identity, normalised across sources.",
    ),
    col(
        "user_raw",
        Utf8,
        true,
        "The identity exactly as the source wrote it.",
    ),
    col("src_ip", Utf8, true, "Address the action came from."),
    col(
        "geo_country",
        Utf8,
        true,
        "Country of `src_ip`, ISO 3166 alpha-2.",
    ),
    col("asn", Int64, true, "Autonomous system number of `src_ip`."),
    col("session_id", Utf8, true, "Session of the actor."),
    col(
        "action",
        Utf8,
        false,
        "The operation (`customer.export`, `s3:GetObject`).",
    ),
    col(
        "activity_id",
        Int32,
        false,
        "OCSF activity: 1 Create, 2 Read, 3 Update, 4 Delete, 7 Export, 99 Other.",
    ),
    col("target_type", Utf8, true, "Kind of the object acted on."),
    col(
        "target_id",
        Utf8,
        true,
        "Identifier of the object acted on.",
    ),
    col(
        "customer_id",
        Utf8,
        true,
        "Customer whose data was touched.",
    ),
    col("records", Int64, true, "Records read or exported."),
    col("bytes", Int64, true, "Bytes read or exported."),
    col("outcome", Utf8, false, "`success`, `failure` or `unknown`."),
    col("user_agent", Utf8, true, "Raw HTTP user agent."),
    col(
        "file",
        Utf8,
        false,
        "Provenance: the archive file the row came from.",
    ),
    col(
        "line",
        Int64,
        false,
        "Provenance: the 1-based line where the record starts.",
    ),
    col(
        "raw",
        Utf8,
        true,
        "The original record text (null with `--raw none`).",
    ),
];

/// A lake table: its name and columns.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    /// SQL name.
    pub name: &'static str,
    /// What one row is.
    pub doc: &'static str,
    /// Columns in file order.
    pub columns: &'static [Column],
}

impl Table {
    /// Both lake tables.
    pub const ALL: [Table; 2] = [
        Table {
            name: crate::AUTH,
            doc: "One authentication, session or tunnel event from an IdP or a VPN (OCSF 3002, 3001, 3005, 4014).",
            columns: AUTH_COLUMNS,
        },
        Table {
            name: crate::ADMIN,
            doc: "One admin-tool or cloud control-plane action (OCSF 6003 API Activity, 6001 Export, 6005 object reads).",
            columns: ADMIN_COLUMNS,
        },
    ];

    /// The Arrow schema of the table's files.
    #[must_use]
    pub fn schema(&self) -> SchemaRef {
        schema_of(self.columns)
    }
}

pub(crate) fn schema_of(columns: &[Column]) -> SchemaRef {
    Arc::new(Schema::new(
        columns
            .iter()
            .map(|c| Field::new(c.name, c.ty.data_type(), c.nullable))
            .collect::<Vec<_>>(),
    ))
}

/// Arrow schema of the `admin` table.
#[must_use]
pub fn admin_schema() -> SchemaRef {
    static SCHEMA: std::sync::OnceLock<SchemaRef> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(|| schema_of(ADMIN_COLUMNS)).clone()
}

pub(crate) fn auth_schema_uncached() -> SchemaRef {
    schema_of(AUTH_COLUMNS)
}
