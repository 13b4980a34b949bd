//! Every output format of query results and findings, one file per format: the
//! terminal table, NDJSON, CSV (through `arrow-csv`), Parquet and OCSF. Every command
//! writes through here.
//!
//! Findings become Arrow batches of the schemas in `midgame_schema` ([`alerts_batch`],
//! [`incidents_batch`]) for the table formats; times stay milliseconds until a format
//! writes them.

pub mod csv;
pub mod ndjson;
pub mod ocsf;
pub mod parquet;
pub mod table;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};

use crate::{Alert, Findings, Incident};

/// What went wrong writing output.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// Writing failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The file exists: outputs are never overwritten.
    #[error("{0} exists: midgame never overwrites an output file")]
    Exists(PathBuf),
    /// Encoding a batch failed.
    #[error("{0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// Writing Parquet failed.
    #[error("{0}")]
    Parquet(#[from] ::parquet::errors::ParquetError),
    /// JSON encoding failed.
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    /// The format needs something the call did not give.
    #[error("{0}")]
    Usage(String),
}

/// Formats of query results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResultFormat {
    /// A table for people.
    #[default]
    Table,
    /// CSV with a header.
    Csv,
    /// One JSON object per line.
    Ndjson,
    /// A Parquet file.
    Parquet,
}

/// Formats of findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FindingsFormat {
    /// Incidents, alerts and a summary for people.
    #[default]
    Table,
    /// Incidents, alerts (and suppressed alerts) as objects with a `type`.
    Ndjson,
    /// One row per alert, incidents in a file beside.
    Csv,
    /// One row per alert, incidents in a file beside.
    Parquet,
    /// OCSF Detection Finding (2004) objects, one per line.
    Ocsf,
}

impl FindingsFormat {
    /// Whether a file of this format has its incidents in a second file beside it.
    #[must_use]
    pub fn has_side_file(self) -> bool {
        matches!(self, FindingsFormat::Csv | FindingsFormat::Parquet)
    }
}

/// Write query results to `out`.
///
/// # Errors
/// Writing or encoding fails; Parquet of a result with no schema.
pub fn write_batches(
    out: &mut dyn Write,
    batches: &[RecordBatch],
    format: ResultFormat,
) -> Result<(), OutputError> {
    match format {
        ResultFormat::Table => table::batches(out, batches)?,
        ResultFormat::Csv => csv::batches(out, batches)?,
        ResultFormat::Ndjson => ndjson::batches(out, batches)?,
        ResultFormat::Parquet => {
            let Some(first) = batches.first() else {
                return Err(OutputError::Usage(
                    "the query returned no rows and no schema: nothing to write as Parquet".into(),
                ));
            };
            out.write_all(&parquet::to_bytes(&first.schema(), batches)?)?;
        }
    }
    out.flush()?;
    Ok(())
}

/// Write findings to `out` in a format that is one stream (not Parquet).
///
/// # Errors
/// Writing fails, or the format is Parquet.
pub fn write_findings(
    out: &mut dyn Write,
    f: &Findings,
    format: FindingsFormat,
) -> Result<(), OutputError> {
    match format {
        FindingsFormat::Table => table::findings(out, f)?,
        FindingsFormat::Ndjson => ndjson::findings(out, f)?,
        FindingsFormat::Ocsf => ocsf::findings(out, f)?,
        FindingsFormat::Csv => csv::batches(out, &[alerts_batch(&f.alerts)?])?,
        FindingsFormat::Parquet => {
            return Err(OutputError::Usage(
                "--format parquet writes a file: add --output PATH".into(),
            ));
        }
    }
    out.flush()?;
    Ok(())
}

/// Write findings to a new file at `path` (and, for CSV and Parquet, the incidents to
/// `NAME.incidents.EXT` beside it); neither may exist.
///
/// # Errors
/// A file exists or cannot be written.
pub fn write_findings_file(
    path: &Path,
    f: &Findings,
    format: FindingsFormat,
) -> Result<(), OutputError> {
    let side = incidents_path(path);
    if format.has_side_file() && side.exists() {
        return Err(OutputError::Exists(side));
    }
    match format {
        FindingsFormat::Parquet => {
            let alerts = alerts_batch(&f.alerts)?;
            create_new(path)?.write_all(&parquet::to_bytes(
                &alerts.schema(),
                std::slice::from_ref(&alerts),
            )?)?;
            let incidents = incidents_batch(&f.incidents)?;
            create_new(&side)?.write_all(&parquet::to_bytes(
                &incidents.schema(),
                std::slice::from_ref(&incidents),
            )?)?;
        }
        FindingsFormat::Csv => {
            let mut out = create_new(path)?;
            csv::batches(&mut out, &[alerts_batch(&f.alerts)?])?;
            out.flush()?;
            // CSV stays flat: an incident's timeline (JSON) is in the Parquet and NDJSON
            // outputs; here its alert ids say which rows of the alerts file it holds.
            let incidents = incidents_batch(&f.incidents)?;
            let flat: Vec<usize> = (0..incidents.num_columns())
                .filter(|&c| incidents.schema().field(c).name() != "timeline")
                .collect();
            let mut out = create_new(&side)?;
            csv::batches(&mut out, &[incidents.project(&flat)?])?;
            out.flush()?;
        }
        _ => {
            let mut out = create_new(path)?;
            write_findings(&mut out, f, format)?;
            out.flush()?;
        }
    }
    Ok(())
}

/// A new file at `path`, refusing to overwrite one.
///
/// # Errors
/// The file exists or cannot be created.
pub fn create_new(path: &Path) -> Result<std::io::BufWriter<std::fs::File>, OutputError> {
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(f) => Ok(std::io::BufWriter::new(f)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(OutputError::Exists(path.to_path_buf()))
        }
        Err(e) => Err(OutputError::Io(std::io::Error::new(
            e.kind(),
            format!("{}: {e}", path.display()),
        ))),
    }
}

/// `alerts.csv` -> `alerts.incidents.csv`.
#[must_use]
pub fn incidents_path(path: &Path) -> PathBuf {
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    path.with_file_name(format!("{stem}.incidents{ext}"))
}

fn strings<'a>(values: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
    Arc::new(StringArray::from_iter(values))
}

fn times(values: impl Iterator<Item = i64>) -> ArrayRef {
    Arc::new(TimestampMillisecondArray::from_iter_values(values).with_timezone("UTC"))
}

/// The alert columns of `alerts` (evidence as JSON text), in the order of
/// [`midgame_schema::ALERT_COLUMNS`].
pub(crate) fn alert_columns(alerts: &[&Alert]) -> Result<Vec<ArrayRef>, OutputError> {
    let evidence: Vec<String> = alerts
        .iter()
        .map(|a| serde_json::to_string(&a.evidence))
        .collect::<Result<_, _>>()?;
    Ok(vec![
        strings(alerts.iter().map(|a| Some(a.alert_id.as_str()))),
        strings(alerts.iter().map(|a| Some(a.detection.as_str()))),
        strings(alerts.iter().map(|a| Some(a.severity.as_str()))),
        strings(alerts.iter().map(|a| Some(a.user.as_str()))),
        times(alerts.iter().map(|a| a.first_seen_ms)),
        times(alerts.iter().map(|a| a.last_seen_ms)),
        strings(alerts.iter().map(|a| Some(a.summary.as_str()))),
        strings(evidence.iter().map(|e| Some(e.as_str()))),
        strings(alerts.iter().map(|a| a.incident_id.as_deref())),
        strings(alerts.iter().map(|a| a.context.tactic.as_deref())),
        strings(alerts.iter().map(|a| a.context.technique.as_deref())),
        strings(alerts.iter().map(|a| a.context.runbook.as_deref())),
        strings(alerts.iter().map(|a| a.context.false_positives.as_deref())),
    ])
}

/// Alerts as one batch of [`midgame_schema::alert_schema`].
///
/// # Errors
/// The evidence cannot be encoded (never for alerts the detections made).
pub fn alerts_batch(alerts: &[Alert]) -> Result<RecordBatch, OutputError> {
    let refs: Vec<&Alert> = alerts.iter().collect();
    Ok(RecordBatch::try_new(
        midgame_schema::alert_schema(),
        alert_columns(&refs)?,
    )?)
}

/// The lifecycle columns of the alert table (see
/// [`midgame_schema::ALERT_LIFECYCLE_COLUMNS`]), one value per alert.
pub(crate) struct Lifecycle<'a> {
    pub active: &'a [bool],
    pub first_alerted_ms: &'a [i64],
    pub last_changed_ms: &'a [i64],
    pub last_matched_ms: &'a [i64],
    pub matches: &'a [i64],
    pub fingerprint: &'a [&'a str],
}

/// Alerts with their lifecycle, as one batch of
/// [`midgame_schema::alert_lifecycle_schema`].
pub(crate) fn lifecycle_batch(
    alerts: &[&Alert],
    l: &Lifecycle<'_>,
) -> Result<RecordBatch, OutputError> {
    let mut columns = alert_columns(alerts)?;
    columns.extend([
        strings(
            l.active
                .iter()
                .map(|a| Some(if *a { "active" } else { "retracted" })),
        ),
        Arc::new(BooleanArray::from(l.active.to_vec())) as ArrayRef,
        times(l.first_alerted_ms.iter().copied()),
        times(l.last_changed_ms.iter().copied()),
        times(l.last_matched_ms.iter().copied()),
        Arc::new(Int64Array::from(l.matches.to_vec())),
        strings(l.fingerprint.iter().map(|f| Some(*f))),
    ]);
    Ok(RecordBatch::try_new(
        midgame_schema::alert_lifecycle_schema(),
        columns,
    )?)
}

/// Incidents as one batch of [`midgame_schema::incident_schema`] (stages and alert ids
/// separated by spaces, the timeline as JSON text).
///
/// # Errors
/// The timeline cannot be encoded (never for incidents the detections made).
pub fn incidents_batch(incidents: &[Incident]) -> Result<RecordBatch, OutputError> {
    let stages: Vec<String> = incidents.iter().map(|i| i.stages.join(" ")).collect();
    let ids: Vec<String> = incidents
        .iter()
        .map(|i| {
            i.timeline
                .iter()
                .map(|t| t.alert_id.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let timelines: Vec<String> = incidents
        .iter()
        .map(|i| serde_json::to_string(&i.timeline))
        .collect::<Result<_, _>>()?;
    let columns: Vec<ArrayRef> = vec![
        strings(incidents.iter().map(|i| Some(i.incident_id.as_str()))),
        strings(incidents.iter().map(|i| Some(i.user.as_str()))),
        strings(incidents.iter().map(|i| Some(i.severity.as_str()))),
        Arc::new(Int32Array::from_iter_values(
            incidents
                .iter()
                .map(|i| i32::try_from(i.score).unwrap_or(i32::MAX)),
        )),
        strings(stages.iter().map(|s| Some(s.as_str()))),
        times(incidents.iter().map(|i| i.first_seen_ms)),
        times(incidents.iter().map(|i| i.last_seen_ms)),
        strings(incidents.iter().map(|i| Some(i.summary.as_str()))),
        strings(ids.iter().map(|s| Some(s.as_str()))),
        strings(timelines.iter().map(|s| Some(s.as_str()))),
    ];
    Ok(RecordBatch::try_new(
        midgame_schema::incident_schema(),
        columns,
    )?)
}

/// `key=value` pairs on one line, as log tooling (logfmt) reads them: a value that is
/// empty or holds a space, a quote or `=` is quoted.
#[derive(Debug, Default, Clone)]
pub struct KeyValues(Vec<(&'static str, String)>);

impl KeyValues {
    /// Add a pair, after those already there.
    pub fn add(&mut self, key: &'static str, value: impl ToString) {
        self.0.push((key, value.to_string()));
    }
}

impl std::fmt::Display for KeyValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (k, v)) in self.0.iter().enumerate() {
            let sep = if i == 0 { "" } else { " " };
            if v.is_empty() || v.contains([' ', '"', '=']) {
                write!(f, "{sep}{k}={v:?}")?;
            } else {
                write!(f, "{sep}{k}={v}")?;
            }
        }
        Ok(())
    }
}

/// `1234567` -> `1,234,567`: counts as people read them in status lines.
#[must_use]
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `N incidents, M alerts: 0 critical, ...; by detection: a 2, b 1`.
#[must_use]
pub fn summary_line(f: &Findings) -> String {
    let mut by_severity: BTreeMap<&str, usize> = BTreeMap::new();
    let mut by_detection: BTreeMap<&str, usize> = BTreeMap::new();
    for al in &f.alerts {
        *by_severity.entry(al.severity.as_str()).or_default() += 1;
        *by_detection.entry(al.detection.as_str()).or_default() += 1;
    }
    let counts = ["critical", "high", "medium", "low"]
        .map(|s| format!("{} {s}", by_severity.get(s).copied().unwrap_or(0)));
    let detections: Vec<String> = by_detection
        .iter()
        .map(|(d, n)| format!("{d} {n}"))
        .collect();
    let mut line = format!(
        "{} incidents, {} alerts: {}",
        f.incidents.len(),
        f.alerts.len(),
        counts.join(", ")
    );
    if !detections.is_empty() {
        line.push_str(&format!("; by detection: {}", detections.join(", ")));
    }
    if !f.suppressed.is_empty() {
        line.push_str(&format!(
            "; {} suppressed by the allow-list",
            f.suppressed.len()
        ));
    }
    line
}

#[cfg(test)]
mod tests {
    #[test]
    fn key_values_quote_what_would_split_them() {
        let mut kv = super::KeyValues::default();
        kv.add("status", "ok");
        kv.add("lake", "/var/lib/my lake");
        kv.add("reason", "");
        kv.add("n", 3);
        assert_eq!(
            kv.to_string(),
            r#"status=ok lake="/var/lib/my lake" reason="" n=3"#
        );
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(1000), "1,000");
        assert_eq!(super::thousands(1_234_567), "1,234,567");
    }
}
