//! Query rows to alerts (DESIGN 'alert format'), with ids that are the same in every run.
//!
//! A detection's query returns `user`, `first_seen`, `last_seen`, `summary` and
//! `alert_key` (what makes this finding this finding: the two addresses and the time of
//! an impossible trip, say), optionally `severity`; every other column goes to
//! `evidence`. The `alert_id` hashes the detection id, the user and the key, never the
//! run, so the same finding keeps its id.

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::RecordBatch;
use datafusion::prelude::SessionContext;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::{AllowEntry, Detection, DetectionError, ParamValue, register_allowlist};

/// One finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// Stable id: the same finding has the same id in every run.
    pub alert_id: String,
    /// The detection's id.
    pub detection: String,
    /// `low`, `medium`, `high` or `critical`.
    pub severity: String,
    /// The user concerned.
    pub user: String,
    /// When the finding starts (RFC 3339 UTC).
    pub first_seen: String,
    /// When it ends (RFC 3339 UTC).
    pub last_seen: String,
    /// One line a person reads at a glance.
    pub summary: String,
    /// The query's other columns.
    pub evidence: Map<String, Value>,
}

const REQUIRED_COLUMNS: [&str; 5] = ["user", "first_seen", "last_seen", "summary", "alert_key"];

/// Turn a detection's result rows into alerts.
///
/// # Errors
/// A required column is missing, or the rows cannot be converted to JSON.
pub fn to_alerts(det: &Detection, batches: &[RecordBatch]) -> Result<Vec<Alert>, DetectionError> {
    let bad = |reason: String| DetectionError::Header {
        path: det.path.clone(),
        line: 0,
        reason,
    };
    let mut buf = Vec::new();
    {
        let mut w = arrow_json::LineDelimitedWriter::new(&mut buf);
        for b in batches {
            for col in REQUIRED_COLUMNS {
                if b.schema().column_with_name(col).is_none() {
                    return Err(bad(format!(
                        "the query returns no `{col}` column (alerts need {})",
                        REQUIRED_COLUMNS.join(", ")
                    )));
                }
            }
            w.write(b).map_err(|e| bad(e.to_string()))?;
        }
        w.finish().map_err(|e| bad(e.to_string()))?;
    }
    let mut out = Vec::new();
    for line in buf.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let Value::Object(mut row) =
            serde_json::from_slice(line).map_err(|e| bad(e.to_string()))?
        else {
            continue;
        };
        let mut take = |k: &str| match row.remove(k) {
            Some(Value::String(s)) => s,
            Some(Value::Null) | None => String::new(),
            Some(v) => v.to_string(),
        };
        let user = take("user");
        let key = take("alert_key");
        let severity = match take("severity") {
            s if s.is_empty() => det.severity.name().to_owned(),
            s => s,
        };
        let id = xxhash_rust::xxh3::xxh3_128(format!("{}\0{user}\0{key}", det.id).as_bytes());
        out.push(Alert {
            alert_id: format!("{:032x}", id),
            detection: det.id.clone(),
            severity,
            user,
            first_seen: take("first_seen"),
            last_seen: take("last_seen"),
            summary: take("summary"),
            evidence: row,
        });
    }
    Ok(out)
}

/// Load every detection of `queries`, bind its parameters from `params` (per detection
/// id), register the allow-list, plan every query, and only then run them all.
///
/// # Errors
/// Any file, parameter or plan is bad (before anything runs), or a query fails.
pub async fn run_detections(
    ctx: &SessionContext,
    queries: &Path,
    params: &BTreeMap<String, BTreeMap<String, ParamValue>>,
    allowlist: &[AllowEntry],
) -> Result<Vec<Alert>, DetectionError> {
    let detections = Detection::load_dir(queries)?;
    if let Some(unknown) = params
        .keys()
        .find(|k| !detections.iter().any(|d| &d.id == *k))
    {
        return Err(DetectionError::Param {
            path: queries.to_path_buf(),
            name: unknown.clone(),
            reason: "no detection has this id".into(),
        });
    }
    register_allowlist(ctx, allowlist)
        .await
        .map_err(|source| DetectionError::Query {
            path: queries.to_path_buf(),
            source,
        })?;
    let empty = BTreeMap::new();
    let mut planned = Vec::new();
    for d in &detections {
        let values = d.bind(params.get(&d.id).unwrap_or(&empty))?;
        planned.push((d, d.plan(ctx, &values).await?));
    }
    let mut alerts = Vec::new();
    for (d, df) in planned {
        let batches = df.collect().await.map_err(|source| DetectionError::Query {
            path: d.path.clone(),
            source,
        })?;
        alerts.extend(to_alerts(d, &batches)?);
    }
    Ok(alerts)
}
