//! Query rows to alerts (DESIGN 'alert format'), with ids that are the same in every run.
//!
//! A detection's query returns `user`, `first_seen`, `last_seen`, `summary` and
//! `alert_key` (what makes this finding this finding: the two addresses and the time of
//! an impossible trip, say), optionally `severity`; every other column goes to
//! `evidence`. The `alert_id` hashes the detection id, the user and the key, never the
//! run, so the same finding keeps its id.

use std::collections::BTreeMap;
use std::path::PathBuf;

use arrow::array::RecordBatch;
use datafusion::prelude::SessionContext;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::{
    AllowEntry, Detection, DetectionError, Incident, ParamValue, correlate, register_allowlist,
};

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
    /// The incident this alert belongs to, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<String>,
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
            incident_id: None,
        });
    }
    Ok(out)
}

/// How to run the detections.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Parameter overrides per detection id (from `[detections.<id>]`).
    pub params: BTreeMap<String, BTreeMap<String, ParamValue>>,
    /// Allow-listed networks.
    pub allowlist: Vec<AllowEntry>,
    /// Incidents chain a user's alerts that start within this long of the previous one.
    pub incident_window_ms: i64,
    /// Stages an incident must cover.
    pub incident_min_stages: usize,
    /// Also run without the allow-list and report what it silenced.
    pub explain_suppressed: bool,
    /// Keep only alerts that end at or after this time (epoch ms); history before it
    /// still serves as baseline.
    pub from_ms: Option<i64>,
    /// Keep only alerts that start before this time (epoch ms).
    pub to_ms: Option<i64>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            params: BTreeMap::new(),
            allowlist: Vec::new(),
            incident_window_ms: 24 * 3_600_000,
            incident_min_stages: 2,
            explain_suppressed: false,
            from_ms: None,
            to_ms: None,
        }
    }
}

/// An alert the allow-list silenced, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suppressed {
    /// The alert that would have been emitted.
    pub alert: Alert,
    /// The allow-list entries whose addresses appear in its evidence.
    pub reasons: Vec<String>,
}

/// What a run found.
#[derive(Debug, Clone, Default)]
pub struct Findings {
    /// Incidents, by start time.
    pub incidents: Vec<Incident>,
    /// Alerts, by detection then as each query orders them.
    pub alerts: Vec<Alert>,
    /// Alerts the allow-list silenced (only with `explain_suppressed`).
    pub suppressed: Vec<Suppressed>,
}

async fn plan_all<'a>(
    ctx: &SessionContext,
    detections: &'a [Detection],
    params: &BTreeMap<String, BTreeMap<String, ParamValue>>,
) -> Result<Vec<(&'a Detection, datafusion::dataframe::DataFrame)>, DetectionError> {
    let empty = BTreeMap::new();
    let mut planned = Vec::new();
    for d in detections {
        let values = d.bind(params.get(&d.id).unwrap_or(&empty))?;
        let df = d.plan(ctx, &values).await?;
        // Checked when planning, not when rows arrive: a query that cannot make alerts
        // fails on an empty lake too.
        let schema = df.schema();
        if let Some(missing) = REQUIRED_COLUMNS
            .iter()
            .find(|c| !schema.fields().iter().any(|f| f.name() == *c))
        {
            return Err(DetectionError::Header {
                path: d.path.clone(),
                line: 0,
                reason: format!(
                    "the query returns no `{missing}` column (alerts need {})",
                    REQUIRED_COLUMNS.join(", ")
                ),
            });
        }
        planned.push((d, df));
    }
    Ok(planned)
}

async fn run_planned(
    planned: Vec<(&Detection, datafusion::dataframe::DataFrame)>,
) -> Result<Vec<Alert>, DetectionError> {
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

/// Compute small shared views once and keep them as tables for this session's
/// detections: DataFusion plans a view again at every reference, and `user_first_seen`
/// (one row per user, an aggregate over both tables) is referenced by most detections,
/// some of them three times.
async fn materialize(ctx: &SessionContext, views: &[&str]) -> datafusion::error::Result<()> {
    for name in views {
        let Ok(df) = ctx.table(*name).await else {
            continue;
        };
        let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
        let batches = df.collect().await?;
        let table = datafusion::datasource::MemTable::try_new(schema, vec![batches])?;
        ctx.deregister_table(*name)?;
        ctx.register_table(*name, std::sync::Arc::new(table))?;
    }
    Ok(())
}

fn in_range(a: &Alert, from_ms: Option<i64>, to_ms: Option<i64>) -> bool {
    let ms = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .ok()
            .map(|t| t.timestamp_millis())
    };
    from_ms.is_none_or(|f| ms(&a.last_seen).is_none_or(|t| t >= f))
        && to_ms.is_none_or(|to| ms(&a.first_seen).is_none_or(|t| t < to))
}

/// Load every detection of the `queries` folders, bind its parameters, register the allow-list,
/// plan every query, and only then run them all; chain the alerts into incidents.
///
/// # Errors
/// Any file, parameter or plan is bad (before anything runs), or a query fails.
pub async fn run_detections(
    ctx: &SessionContext,
    queries: &[PathBuf],
    opts: &RunOptions,
) -> Result<Findings, DetectionError> {
    let detections = Detection::load_dirs(queries)?;
    let origin = queries.first().cloned().unwrap_or_default();
    if let Some(unknown) = opts
        .params
        .keys()
        .find(|k| !detections.iter().any(|d| &d.id == *k))
    {
        return Err(DetectionError::Param {
            path: origin.clone(),
            name: unknown.clone(),
            reason: "no detection has this id".into(),
        });
    }
    let qerr = |source| DetectionError::Query {
        path: origin.clone(),
        source,
    };
    let listed = register_allowlist(ctx, &opts.allowlist)
        .await
        .map_err(qerr)?;
    materialize(ctx, &["user_first_seen"]).await.map_err(qerr)?;
    let planned = plan_all(ctx, &detections, &opts.params).await?;
    let mut alerts = run_planned(planned).await?;
    let mut suppressed = Vec::new();
    if opts.explain_suppressed && !opts.allowlist.is_empty() {
        register_allowlist(ctx, &[]).await.map_err(qerr)?;
        let planned = plan_all(ctx, &detections, &opts.params).await;
        let unfiltered = match planned {
            Ok(p) => run_planned(p).await,
            Err(e) => Err(e),
        };
        register_allowlist(ctx, &opts.allowlist)
            .await
            .map_err(qerr)?;
        let kept: std::collections::HashSet<&str> =
            alerts.iter().map(|a| a.alert_id.as_str()).collect();
        for alert in unfiltered? {
            if kept.contains(alert.alert_id.as_str()) {
                continue;
            }
            let mut reasons: Vec<String> = alert
                .evidence
                .values()
                .filter_map(Value::as_str)
                .filter_map(|v| listed.get(v).map(|r| format!("{v}: {r}")))
                .collect();
            reasons.sort();
            reasons.dedup();
            suppressed.push(Suppressed { alert, reasons });
        }
        suppressed.retain(|s| in_range(&s.alert, opts.from_ms, opts.to_ms));
    }
    alerts.retain(|a| in_range(a, opts.from_ms, opts.to_ms));
    let stages: BTreeMap<String, String> = detections
        .iter()
        .map(|d| (d.id.clone(), d.stage.clone()))
        .collect();
    let incidents = correlate(
        &alerts,
        &stages,
        opts.incident_window_ms,
        opts.incident_min_stages,
    );
    let member: BTreeMap<&str, &str> = incidents
        .iter()
        .flat_map(|i| {
            i.timeline
                .iter()
                .map(|t| (t.alert_id.as_str(), i.incident_id.as_str()))
        })
        .collect();
    for a in &mut alerts {
        a.incident_id = member.get(a.alert_id.as_str()).map(|s| (*s).to_owned());
    }
    Ok(Findings {
        incidents,
        alerts,
        suppressed,
    })
}
