//! What detections produce, declared like the lake tables: alerts, incidents, and the
//! alert lifecycle table of scheduled runs (`LAKE/alerts/alerts.parquet`).
//!
//! Every output that is a table (Parquet, CSV) and the lifecycle table use these
//! columns; NDJSON uses the same names.

use arrow::datatypes::SchemaRef;

use crate::table::{Column, ColumnType, Table, col, schema_of};

use ColumnType::{Boolean, Int32, Int64, TimestampMs, Utf8};

/// Columns of an alert, in output order.
pub const ALERT_COLUMNS: &[Column] = &[
    col(
        "alert_id",
        Utf8,
        false,
        "Stable id: a hash of the detection, the user and the finding's own key, the same in every run.",
    ),
    col(
        "detection",
        Utf8,
        false,
        "The id of the detection that found it.",
    ),
    col(
        "severity",
        Utf8,
        false,
        "`low`, `medium`, `high` or `critical`.",
    ),
    col("user", Utf8, false, "The user concerned."),
    col("first_seen", TimestampMs, false, "When the finding starts."),
    col("last_seen", TimestampMs, false, "When it ends."),
    col(
        "summary",
        Utf8,
        false,
        "One line a person reads at a glance.",
    ),
    col(
        "evidence",
        Utf8,
        false,
        "The detection's other columns, as a JSON object.",
    ),
    col(
        "incident_id",
        Utf8,
        true,
        "The incident the alert belongs to (null: none).",
    ),
    col(
        "tactic",
        Utf8,
        true,
        "The MITRE ATT&CK tactic of the detection (`Initial Access`), when it names one.",
    ),
    col(
        "technique",
        Utf8,
        true,
        "The MITRE ATT&CK technique (`T1078.004`), when the detection names one.",
    ),
    col(
        "runbook",
        Utf8,
        true,
        "What the person on call checks and does, from the detection.",
    ),
    col(
        "false_positives",
        Utf8,
        true,
        "What is known to look like this finding and is not an intrusion.",
    ),
];

/// Columns the alert lifecycle table adds to [`ALERT_COLUMNS`].
pub const ALERT_LIFECYCLE_COLUMNS: &[Column] = &[
    col(
        "status",
        Utf8,
        false,
        "`active`, or `retracted` when fuller data no longer supports the alert.",
    ),
    col("active", Boolean, false, "Whether `status` is `active`."),
    col(
        "first_alerted",
        TimestampMs,
        false,
        "When a run first emitted the alert.",
    ),
    col(
        "last_changed",
        TimestampMs,
        false,
        "When a run last emitted it as new, changed or retracted.",
    ),
    col(
        "last_matched",
        TimestampMs,
        false,
        "When a run last found it.",
    ),
    col("matches", Int64, false, "How many runs found it."),
    col(
        "fingerprint",
        Utf8,
        false,
        "A hash of what was emitted: a different one next run means the alert changed.",
    ),
];

/// Columns of an incident, in output order.
pub const INCIDENT_COLUMNS: &[Column] = &[
    col(
        "incident_id",
        Utf8,
        false,
        "Stable id: derived from the user and the first alert's id.",
    ),
    col("user", Utf8, false, "The user."),
    col(
        "severity",
        Utf8,
        false,
        "`low`, `medium`, `high` or `critical`, from the score.",
    ),
    col(
        "score",
        Int32,
        false,
        "0 to 100: the worst alert's weight, plus 15 per further stage and 5 per further detection.",
    ),
    col(
        "stages",
        Utf8,
        false,
        "Stages covered, in intrusion order, separated by spaces.",
    ),
    col("first_seen", TimestampMs, false, "The first alert's start."),
    col("last_seen", TimestampMs, false, "The last alert's end."),
    col(
        "summary",
        Utf8,
        false,
        "One line a person reads at a glance.",
    ),
    col(
        "alert_ids",
        Utf8,
        false,
        "The alerts, in time order, separated by spaces.",
    ),
    col(
        "timeline",
        Utf8,
        false,
        "The alerts in time order, as a JSON array of {time, stage, detection, severity, summary, alert_id}.",
    ),
];

/// Alerts as a table.
pub const ALERTS: Table = Table {
    name: "alerts",
    doc: "One finding of a detection (DESIGN's alert format).",
    columns: ALERT_COLUMNS,
};

/// Incidents as a table.
pub const INCIDENTS: Table = Table {
    name: "incidents",
    doc: "A user's alerts that follow each other closely and cover several stages of an intrusion.",
    columns: INCIDENT_COLUMNS,
};

/// The Arrow schema of alerts.
#[must_use]
pub fn alert_schema() -> SchemaRef {
    schema_of(ALERT_COLUMNS)
}

/// The Arrow schema of the alert lifecycle table: the alert columns, then the
/// lifecycle's.
#[must_use]
pub fn alert_lifecycle_schema() -> SchemaRef {
    let all: Vec<Column> = ALERT_COLUMNS
        .iter()
        .chain(ALERT_LIFECYCLE_COLUMNS)
        .copied()
        .collect();
    schema_of(&all)
}

/// The Arrow schema of incidents.
#[must_use]
pub fn incident_schema() -> SchemaRef {
    schema_of(INCIDENT_COLUMNS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lifecycle_table_extends_the_alert_columns() {
        let s = alert_lifecycle_schema();
        assert_eq!(
            s.fields().len(),
            ALERT_COLUMNS.len() + ALERT_LIFECYCLE_COLUMNS.len()
        );
        assert_eq!(s.field(4).name(), "first_seen");
        assert_eq!(s.field(ALERT_COLUMNS.len()).name(), "status");
        assert_eq!(s.field(ALERT_COLUMNS.len() - 1).name(), "false_positives");
        assert_eq!(incident_schema().field(3).name(), "score");
    }
}
