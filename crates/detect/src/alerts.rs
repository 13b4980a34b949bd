//! Query rows to alerts (DESIGN 'alert format'), with ids that are the same in every run.
//!
//! A detection's query returns `user`, `first_seen`, `last_seen`, `summary` and
//! `alert_key` (what makes this finding this finding: the two addresses and the time of
//! an impossible trip, say), optionally `severity`; every other column goes to
//! `evidence`. The `alert_id` hashes the detection id, the user and the key, never the
//! run, so the same finding keeps its id.

use std::collections::BTreeMap;
use std::path::PathBuf;

use arrow::array::{Array, AsArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Int64Type};
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
    /// When the finding starts (ms since the epoch; RFC 3339 UTC in NDJSON).
    #[serde(rename = "first_seen", serialize_with = "crate::time::serialize")]
    pub first_seen_ms: i64,
    /// When it ends (ms since the epoch; RFC 3339 UTC in NDJSON).
    #[serde(rename = "last_seen", serialize_with = "crate::time::serialize")]
    pub last_seen_ms: i64,
    /// One line a person reads at a glance.
    pub summary: String,
    /// The query's other columns.
    pub evidence: Map<String, Value>,
    /// The incident this alert belongs to, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<String>,
    /// What the detection says beside every alert: ATT&CK, runbook, false positives.
    #[serde(flatten)]
    pub context: AlertContext,
}

/// The context a detection's header gives its alerts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AlertContext {
    /// MITRE ATT&CK tactic (`Initial Access`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tactic: Option<String>,
    /// MITRE ATT&CK technique (`T1078.004`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub technique: Option<String>,
    /// What to check and do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runbook: Option<String>,
    /// What is known to look like this and is not an intrusion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub false_positives: Option<String>,
}

impl AlertContext {
    /// The context of `det`'s alerts (an `attack` of `-` names no technique).
    #[must_use]
    pub fn of(det: &Detection) -> Self {
        Self {
            tactic: det.tactic.clone(),
            technique: Some(det.attack.clone()).filter(|a| !a.is_empty() && a != "-"),
            runbook: det.runbook.clone(),
            false_positives: det.false_positives.clone(),
        }
    }
}

const REQUIRED_COLUMNS: [&str; 5] = ["user", "first_seen", "last_seen", "summary", "alert_key"];

/// Turn a detection's result rows into alerts, column by column: the alert columns are
/// read typed (times as milliseconds), every other column becomes a JSON value of the
/// evidence (null values are left out).
///
/// # Errors
/// A required column is missing, a time is null or not a time, or a value cannot be
/// encoded as JSON.
pub fn to_alerts(det: &Detection, batches: &[RecordBatch]) -> Result<Vec<Alert>, DetectionError> {
    let bad = |reason: String| DetectionError::Header {
        path: det.path.clone(),
        line: 0,
        reason,
    };
    let mut out = Vec::new();
    let context = AlertContext::of(det);
    for b in batches {
        for col in REQUIRED_COLUMNS {
            if b.schema().column_with_name(col).is_none() {
                return Err(bad(format!(
                    "the query returns no `{col}` column (alerts need {})",
                    REQUIRED_COLUMNS.join(", ")
                )));
            }
        }
        let text = |name: &str| -> Result<Option<StringArray>, DetectionError> {
            b.column_by_name(name)
                .map(|c| {
                    arrow::compute::cast(c, &DataType::Utf8)
                        .map(|a| a.as_string::<i32>().clone())
                        .map_err(|e| bad(format!("`{name}`: {e}")))
                })
                .transpose()
        };
        let value = |a: &Option<StringArray>, i: usize| {
            a.as_ref()
                .filter(|a| a.is_valid(i))
                .map_or_else(String::new, |a| a.value(i).to_owned())
        };
        let (user, key, summary, severity) = (
            text("user")?,
            text("alert_key")?,
            text("summary")?,
            text("severity")?,
        );
        let first = times_ms(b, "first_seen").map_err(bad)?;
        let last = times_ms(b, "last_seen").map_err(bad)?;
        let schema = b.schema();
        let options = arrow_json::writer::EncoderOptions::default();
        let evidence_fields: Vec<_> = schema
            .fields()
            .iter()
            .zip(b.columns())
            .filter(|(f, _)| !ALERT_OWN_COLUMNS.contains(&f.name().as_str()))
            .collect();
        let mut encoders = evidence_fields
            .iter()
            .map(|(f, a)| arrow_json::writer::make_encoder(f, a.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(e.to_string()))?;
        let mut buf = Vec::new();
        for i in 0..b.num_rows() {
            let user = value(&user, i);
            let key = value(&key, i);
            let severity = match value(&severity, i) {
                s if s.is_empty() => det.severity.name().to_owned(),
                s => s,
            };
            let mut evidence = Map::new();
            for ((field, _), enc) in evidence_fields.iter().zip(&mut encoders) {
                if enc.is_null(i) {
                    continue;
                }
                buf.clear();
                enc.encode(i, &mut buf);
                let v: Value = serde_json::from_slice(&buf).map_err(|e| bad(e.to_string()))?;
                evidence.insert(field.name().clone(), v);
            }
            let id = xxhash_rust::xxh3::xxh3_128(format!("{}\0{user}\0{key}", det.id).as_bytes());
            out.push(Alert {
                alert_id: format!("{id:032x}"),
                detection: det.id.clone(),
                severity,
                user,
                first_seen_ms: first[i],
                last_seen_ms: last[i],
                summary: value(&summary, i),
                evidence,
                incident_id: None,
                context: context.clone(),
            });
        }
    }
    Ok(out)
}

/// Columns that make the alert itself; the rest are evidence.
const ALERT_OWN_COLUMNS: [&str; 6] = [
    "user",
    "first_seen",
    "last_seen",
    "summary",
    "alert_key",
    "severity",
];

/// A time column of a result as milliseconds: a timestamp of any unit (UTC when it has
/// no zone), epoch milliseconds, or RFC 3339 text.
fn times_ms(b: &RecordBatch, name: &str) -> Result<Vec<i64>, String> {
    let col = b
        .column_by_name(name)
        .ok_or_else(|| format!("the query returns no `{name}` column"))?;
    let ms: Vec<Option<i64>> = match col.data_type() {
        DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64 => {
            let cast = arrow::compute::cast(
                col,
                &DataType::Timestamp(arrow::datatypes::TimeUnit::Millisecond, None),
            )
            .map_err(|e| format!("`{name}`: {e}"))?;
            cast.as_primitive::<arrow::datatypes::TimestampMillisecondType>()
                .iter()
                .collect()
        }
        DataType::Int64 => col.as_primitive::<Int64Type>().iter().collect(),
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => {
            let text =
                arrow::compute::cast(col, &DataType::Utf8).map_err(|e| format!("`{name}`: {e}"))?;
            let text = text.as_string::<i32>();
            let mut out = Vec::with_capacity(text.len());
            for v in text {
                out.push(match v {
                    Some(t) => Some(
                        chrono::DateTime::parse_from_rfc3339(t)
                            .map_err(|_| format!("`{name}` {t:?} is not an RFC 3339 time"))?
                            .timestamp_millis(),
                    ),
                    None => None,
                });
            }
            out
        }
        other => {
            return Err(format!(
                "`{name}` is {other}: a time must be a timestamp, epoch milliseconds or RFC 3339 text"
            ));
        }
    };
    ms.into_iter()
        .enumerate()
        .map(|(i, t)| t.ok_or_else(|| format!("row {}: `{name}` is null", i + 1)))
        .collect()
}

/// How to run the detections.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Parameter overrides per detection id (from `[detections.<id>]`).
    pub params: BTreeMap<String, BTreeMap<String, ParamValue>>,
    /// Detections left out (`[detections.<id>] enabled = false`).
    pub disabled: std::collections::BTreeSet<String>,
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
    /// Detection queries in flight at once. 1 for a local session, whose every query
    /// already uses every core; more on a cluster, where a query's stages wait on the
    /// scheduler in turn and several jobs keep the executors busy meanwhile. The alerts
    /// come out in the same order either way.
    pub concurrent_queries: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            params: BTreeMap::new(),
            disabled: std::collections::BTreeSet::new(),
            allowlist: Vec::new(),
            incident_window_ms: 24 * 3_600_000,
            incident_min_stages: 2,
            explain_suppressed: false,
            from_ms: None,
            to_ms: None,
            concurrent_queries: 1,
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
    concurrent: usize,
) -> Result<Vec<Alert>, DetectionError> {
    use futures::{StreamExt, TryStreamExt};
    let per_detection: Vec<Vec<Alert>> = futures::stream::iter(planned)
        .map(|(d, df)| async move {
            let batches = df.collect().await.map_err(|source| DetectionError::Query {
                path: d.path.clone(),
                source,
            })?;
            to_alerts(d, &batches)
        })
        // `buffered` keeps the detections' order whatever finishes first.
        .buffered(concurrent.max(1))
        .try_collect()
        .await?;
    Ok(per_detection.into_iter().flatten().collect())
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

/// Whether an alert falls in a window of time (`None`: unbounded): it ends at or after
/// `from_ms` and starts before `to_ms`. `--from/--to` and the re-evaluated window of a
/// scheduled run both mean this.
#[must_use]
pub fn in_window(a: &Alert, from_ms: Option<i64>, to_ms: Option<i64>) -> bool {
    from_ms.is_none_or(|f| a.last_seen_ms >= f) && to_ms.is_none_or(|t| a.first_seen_ms < t)
}

/// The stage of each detection, by id.
#[must_use]
pub fn stages_of(detections: &[Detection]) -> BTreeMap<String, String> {
    detections
        .iter()
        .map(|d| (d.id.clone(), d.stage.clone()))
        .collect()
}

/// Alerts of one run, before they are chained into incidents.
#[derive(Debug, Clone, Default)]
pub struct Unchained {
    /// Alerts in the window, by detection then as each query orders them.
    pub alerts: Vec<Alert>,
    /// Alerts the allow-list silenced (only with `explain_suppressed`).
    pub suppressed: Vec<Suppressed>,
}

/// Bind every detection's parameters, register the allow-list, plan every query, and
/// only then run them all; keep the alerts of `opts`' window.
///
/// # Errors
/// A configured parameter names no detection, a parameter or plan is bad (before
/// anything runs), or a query fails.
pub async fn find_alerts(
    ctx: &SessionContext,
    detections: &[Detection],
    opts: &RunOptions,
) -> Result<Unchained, DetectionError> {
    let origin = detections
        .first()
        .and_then(|d| d.path.parent())
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    if let Some(unknown) = opts
        .params
        .keys()
        .chain(&opts.disabled)
        .find(|k| !detections.iter().any(|d| &d.id == *k))
    {
        return Err(DetectionError::Param {
            path: origin.clone(),
            name: unknown.clone(),
            reason: "no detection has this id".into(),
        });
    }
    let enabled: Vec<Detection> = detections
        .iter()
        .filter(|d| !opts.disabled.contains(&d.id))
        .cloned()
        .collect();
    let detections = enabled.as_slice();
    let qerr = |source| DetectionError::Query {
        path: origin.clone(),
        source,
    };
    let listed = register_allowlist(ctx, &opts.allowlist)
        .await
        .map_err(qerr)?;
    // Only when a detection reads it: a run of detections that do not pays nothing.
    let shared: Vec<&str> = ["user_first_seen"]
        .into_iter()
        .filter(|v| detections.iter().any(|d| d.sql.contains(v)))
        .collect();
    materialize(ctx, &shared).await.map_err(qerr)?;
    let planned = plan_all(ctx, detections, &opts.params).await?;
    let mut alerts = run_planned(planned, opts.concurrent_queries).await?;
    let mut suppressed = Vec::new();
    if opts.explain_suppressed && !opts.allowlist.is_empty() {
        register_allowlist(ctx, &[]).await.map_err(qerr)?;
        let planned = plan_all(ctx, detections, &opts.params).await;
        let unfiltered = match planned {
            Ok(p) => run_planned(p, opts.concurrent_queries).await,
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
        suppressed.retain(|s| in_window(&s.alert, opts.from_ms, opts.to_ms));
    }
    alerts.retain(|a| in_window(a, opts.from_ms, opts.to_ms));
    Ok(Unchained { alerts, suppressed })
}

/// Chain `alerts` into incidents (see [`correlate`]) and mark each alert with its
/// incident.
#[must_use]
pub fn chain(
    alerts: &mut [Alert],
    stages: &BTreeMap<String, String>,
    window_ms: i64,
    min_stages: usize,
) -> Vec<Incident> {
    let incidents = correlate(alerts, stages, window_ms, min_stages);
    let member: BTreeMap<&str, &str> = incidents
        .iter()
        .flat_map(|i| {
            i.timeline
                .iter()
                .map(|t| (t.alert_id.as_str(), i.incident_id.as_str()))
        })
        .collect();
    for a in alerts.iter_mut() {
        a.incident_id = member.get(a.alert_id.as_str()).map(|s| (*s).to_owned());
    }
    incidents
}

/// Load every detection of the `queries` folders, find their alerts (see
/// [`find_alerts`]) and chain them into incidents.
///
/// # Errors
/// Any file, parameter or plan is bad (before anything runs), or a query fails.
pub async fn run_detections(
    ctx: &SessionContext,
    queries: &[PathBuf],
    opts: &RunOptions,
) -> Result<Findings, DetectionError> {
    run_loaded(ctx, &Detection::load_dirs(queries)?, opts).await
}

/// Find the alerts of `detections` (see [`find_alerts`]) and chain them into incidents.
///
/// # Errors
/// Any parameter or plan is bad (before anything runs), or a query fails.
pub async fn run_loaded(
    ctx: &SessionContext,
    detections: &[Detection],
    opts: &RunOptions,
) -> Result<Findings, DetectionError> {
    let Unchained {
        mut alerts,
        suppressed,
    } = find_alerts(ctx, detections, opts).await?;
    let incidents = chain(
        &mut alerts,
        &stages_of(detections),
        opts.incident_window_ms,
        opts.incident_min_stages,
    );
    Ok(Findings {
        incidents,
        alerts,
        suppressed,
    })
}
