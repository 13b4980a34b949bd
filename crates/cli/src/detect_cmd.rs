//! `midgame detect`: run the detections over the lake; write incidents and alerts.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use arrow::array::{ArrayRef, RecordBatch, StringArray, TimestampMillisecondArray, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use midgame_detect::{
    Alert, AllowEntry, Findings, Incident, ParamValue, RunOptions, SessionContext,
};
use serde_json::{Value, json};

use crate::args::{AlertFormat, DetectArgs};
use crate::config::Config;
use crate::output::Printer;

/// The built-in detections: `./queries` when run from the repository, else the
/// directory this binary was built from.
pub(crate) fn default_queries() -> anyhow::Result<PathBuf> {
    let built_in = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../queries"));
    for dir in [PathBuf::from("queries"), built_in] {
        if dir.join("impossible_travel.sql").is_file() {
            return Ok(dir);
        }
    }
    anyhow::bail!("the built-in detections (queries/) were not found; pass --queries DIR")
}

impl Config {
    /// Detection parameters from `[detections.<id>]`, typed.
    pub(crate) fn detection_params(
        &self,
    ) -> anyhow::Result<BTreeMap<String, BTreeMap<String, ParamValue>>> {
        let mut out = BTreeMap::new();
        for (id, table) in &self.detections {
            let mut values = BTreeMap::new();
            for (k, v) in table {
                let value = match v {
                    toml::Value::Integer(i) => ParamValue::Int(*i),
                    toml::Value::Float(f) => ParamValue::Float(*f),
                    toml::Value::String(s) => ParamValue::Text(s.clone()),
                    other => anyhow::bail!(
                        "[detections.{id}] {k}: expected a number or text, found {}",
                        other.type_str()
                    ),
                };
                values.insert(k.clone(), value);
            }
            out.insert(id.clone(), values);
        }
        Ok(out)
    }

    /// The allow-list entries, each with its reason.
    pub(crate) fn allow_entries(&self) -> anyhow::Result<Vec<AllowEntry>> {
        let Some(a) = &self.allowlist else {
            return Ok(Vec::new());
        };
        let plain = a.cidrs.iter().map(|c| (c.as_str(), "[allowlist] cidrs"));
        let named = a
            .networks
            .iter()
            .map(|n| (n.cidr.as_str(), n.reason.as_str()));
        plain
            .chain(named)
            .map(|(cidr, reason)| {
                AllowEntry::parse(cidr, reason).map_err(|e| anyhow::anyhow!("[allowlist]: {e}"))
            })
            .collect()
    }

    /// How detections run, from the config and the command line.
    pub(crate) fn run_options(&self, explain_suppressed: bool) -> anyhow::Result<RunOptions> {
        let hours = self.incidents.window_hours;
        anyhow::ensure!(
            hours.is_finite() && hours > 0.0,
            "[incidents] window_hours must be a positive number of hours, not {hours}"
        );
        #[allow(clippy::cast_possible_truncation)]
        Ok(RunOptions {
            params: self.detection_params()?,
            allowlist: self.allow_entries()?,
            incident_window_ms: (hours * 3_600_000.0) as i64,
            incident_min_stages: self.incidents.min_stages,
            explain_suppressed,
            ..RunOptions::default()
        })
    }
}

/// Run every detection of `queries` in a session over the lake.
pub(crate) async fn detect_in(
    ctx: &SessionContext,
    queries: &[PathBuf],
    opts: &RunOptions,
) -> anyhow::Result<Findings> {
    Ok(midgame_detect::run_detections(ctx, queries, opts).await?)
}

pub(crate) fn run(a: &DetectArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let cfg = Config::load_opt(a.config.as_deref())?;
    let mut queries = Vec::new();
    if !a.no_builtin {
        queries.push(default_queries()?);
    }
    for dir in &a.queries {
        // Naming the built-in folder again adds nothing.
        let same = |q: &PathBuf| match (q.canonicalize(), dir.canonicalize()) {
            (Ok(x), Ok(y)) => x == y,
            _ => q == dir,
        };
        if !queries.iter().any(same) {
            queries.push(dir.clone());
        }
    }
    let mut opts = cfg.run_options(a.explain_suppressed)?;
    opts.from_ms = a.from;
    opts.to_ms = a.to;
    if a.format == AlertFormat::Parquet && a.output.is_none() {
        anyhow::bail!("--format parquet writes a file: add --output PATH");
    }
    let geoip = cfg.geoip()?.map(std::sync::Arc::new);
    let findings = crate::runtime()?.block_on(async {
        let ctx = midgame_detect::open_session(&a.lake).await?;
        if let Some(g) = &geoip {
            midgame_detect::register_geoip(&ctx, g);
        }
        detect_in(&ctx, &queries, &opts).await
    })?;
    match &a.output {
        Some(path) => write_file(path, &findings, a.format)?,
        None => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            write_findings(&mut out, &findings, a.format)?;
            out.flush()?;
        }
    }
    if a.format != AlertFormat::Table || a.output.is_some() {
        printer.status(&summary_line(&findings));
    }
    Ok(ExitCode::SUCCESS)
}

/// A new file at `path`, refusing to overwrite one.
pub(crate) fn create_new(path: &Path) -> anyhow::Result<std::io::BufWriter<fs_err::File>> {
    let file = fs_err::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| {
            format!(
                "{} exists: midgame never overwrites an output file",
                path.display()
            )
        })?;
    Ok(std::io::BufWriter::new(file))
}

/// `alerts.csv` -> `alerts.incidents.csv`.
fn incidents_path(path: &Path) -> PathBuf {
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    path.with_file_name(format!("{stem}.incidents{ext}"))
}

fn write_file(path: &Path, f: &Findings, format: AlertFormat) -> anyhow::Result<()> {
    let side = incidents_path(path);
    let with_side = matches!(format, AlertFormat::Csv | AlertFormat::Parquet);
    if with_side && side.exists() {
        anyhow::bail!(
            "{} exists: midgame never overwrites an output file",
            side.display()
        );
    }
    match format {
        AlertFormat::Parquet => {
            write_parquet(create_new(path)?, alerts_batch(&f.alerts)?)?;
            write_parquet(create_new(&side)?, incidents_batch(&f.incidents)?)?;
        }
        AlertFormat::Csv => {
            let mut out = create_new(path)?;
            write_alerts_csv(&mut out, &f.alerts)?;
            out.flush()?;
            let mut out = create_new(&side)?;
            write_incidents_csv(&mut out, &f.incidents)?;
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

/// `N incidents, M alerts: 0 critical, ...; by detection: a 2, b 1`.
pub(crate) fn summary_line(f: &Findings) -> String {
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

/// Incidents, alerts and suppressed alerts in a streaming format (or the table).
pub(crate) fn write_findings(
    out: &mut dyn Write,
    f: &Findings,
    format: AlertFormat,
) -> anyhow::Result<()> {
    match format {
        AlertFormat::Ndjson => {
            for i in &f.incidents {
                let mut v = serde_json::to_value(i)?;
                v.as_object_mut()
                    .expect("an incident is an object")
                    .insert("type".into(), json!("incident"));
                writeln!(out, "{v}")?;
            }
            for a in &f.alerts {
                let mut v = serde_json::to_value(a)?;
                v.as_object_mut()
                    .expect("an alert is an object")
                    .insert("type".into(), json!("alert"));
                writeln!(out, "{v}")?;
            }
            for s in &f.suppressed {
                let v = json!({"type": "suppressed", "reasons": s.reasons, "alert": s.alert});
                writeln!(out, "{v}")?;
            }
        }
        AlertFormat::Ocsf => {
            for a in &f.alerts {
                writeln!(out, "{}", ocsf_finding(a))?;
            }
        }
        AlertFormat::Csv => write_alerts_csv(out, &f.alerts)?,
        AlertFormat::Parquet => anyhow::bail!("--format parquet writes a file: add --output PATH"),
        AlertFormat::Table => write_table(out, f)?,
    }
    Ok(())
}

fn write_table(out: &mut dyn Write, f: &Findings) -> anyhow::Result<()> {
    writeln!(out, "== Incidents")?;
    if f.incidents.is_empty() {
        writeln!(out, "none")?;
    }
    for i in &f.incidents {
        writeln!(
            out,
            "{:<8} score {:>3}  {}  {} .. {}  incident {}",
            i.severity.to_uppercase(),
            i.score,
            i.user,
            i.first_seen,
            i.last_seen,
            &i.incident_id[..12]
        )?;
        writeln!(out, "  {}", i.summary)?;
        for t in &i.timeline {
            writeln!(
                out,
                "  {}  {:<14} {:<8} {:<20} {}",
                t.time,
                t.stage,
                t.severity.to_uppercase(),
                t.detection,
                t.summary
            )?;
        }
    }
    writeln!(out, "\n== Alerts")?;
    if f.alerts.is_empty() {
        writeln!(out, "none")?;
    }
    for a in &f.alerts {
        writeln!(
            out,
            "{:<8} {:<20} {}  {}",
            a.severity.to_uppercase(),
            a.detection,
            a.last_seen,
            a.summary
        )?;
    }
    if !f.suppressed.is_empty() {
        writeln!(out, "\n== Suppressed by the allow-list")?;
        for s in &f.suppressed {
            writeln!(
                out,
                "{:<20} {}  {}\n  because {}",
                s.alert.detection,
                s.alert.last_seen,
                s.alert.summary,
                if s.reasons.is_empty() {
                    "an allow-listed address changed which events were compared".to_owned()
                } else {
                    s.reasons.join("; ")
                }
            )?;
        }
    }
    writeln!(out, "\n== Summary\n{}", summary_line(f))?;
    Ok(())
}

const ALERT_CSV_HEADER: &str =
    "alert_id,detection,severity,user,first_seen,last_seen,summary,evidence,incident_id";

fn write_alerts_csv(out: &mut dyn Write, alerts: &[Alert]) -> anyhow::Result<()> {
    writeln!(out, "{ALERT_CSV_HEADER}")?;
    for a in alerts {
        let evidence = serde_json::to_string(&a.evidence)?;
        let incident = a.incident_id.clone().unwrap_or_default();
        let fields = [
            &a.alert_id,
            &a.detection,
            &a.severity,
            &a.user,
            &a.first_seen,
            &a.last_seen,
            &a.summary,
            &evidence,
            &incident,
        ];
        let row: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        writeln!(out, "{}", row.join(","))?;
    }
    Ok(())
}

fn write_incidents_csv(out: &mut dyn Write, incidents: &[Incident]) -> anyhow::Result<()> {
    writeln!(
        out,
        "incident_id,user,severity,score,stages,first_seen,last_seen,summary,alert_ids"
    )?;
    for i in incidents {
        let ids: Vec<&str> = i.timeline.iter().map(|t| t.alert_id.as_str()).collect();
        let fields = [
            i.incident_id.clone(),
            i.user.clone(),
            i.severity.clone(),
            i.score.to_string(),
            i.stages.join(" "),
            i.first_seen.clone(),
            i.last_seen.clone(),
            i.summary.clone(),
            ids.join(" "),
        ];
        let row: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        writeln!(out, "{}", row.join(","))?;
    }
    Ok(())
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn millis(t: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|t| t.timestamp_millis())
}

fn timestamps(values: impl Iterator<Item = Option<i64>>) -> ArrayRef {
    Arc::new(TimestampMillisecondArray::from(values.collect::<Vec<_>>()).with_timezone("UTC"))
}

fn strings<'a>(values: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
    Arc::new(StringArray::from(values.collect::<Vec<_>>()))
}

fn utc_ms(name: &str) -> Field {
    Field::new(
        name,
        DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        true,
    )
}

/// Alerts as one Arrow batch (evidence as JSON text).
fn alerts_batch(alerts: &[Alert]) -> anyhow::Result<RecordBatch> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("alert_id", DataType::Utf8, false),
        Field::new("detection", DataType::Utf8, false),
        Field::new("severity", DataType::Utf8, false),
        Field::new("user", DataType::Utf8, false),
        utc_ms("first_seen"),
        utc_ms("last_seen"),
        Field::new("summary", DataType::Utf8, false),
        Field::new("evidence", DataType::Utf8, false),
        Field::new("incident_id", DataType::Utf8, true),
    ]));
    let evidence: Vec<String> = alerts
        .iter()
        .map(|a| serde_json::to_string(&a.evidence))
        .collect::<Result<_, _>>()?;
    let columns: Vec<ArrayRef> = vec![
        strings(alerts.iter().map(|a| Some(a.alert_id.as_str()))),
        strings(alerts.iter().map(|a| Some(a.detection.as_str()))),
        strings(alerts.iter().map(|a| Some(a.severity.as_str()))),
        strings(alerts.iter().map(|a| Some(a.user.as_str()))),
        timestamps(alerts.iter().map(|a| millis(&a.first_seen))),
        timestamps(alerts.iter().map(|a| millis(&a.last_seen))),
        strings(alerts.iter().map(|a| Some(a.summary.as_str()))),
        strings(evidence.iter().map(|e| Some(e.as_str()))),
        strings(alerts.iter().map(|a| a.incident_id.as_deref())),
    ];
    Ok(RecordBatch::try_new(schema, columns)?)
}

fn incidents_batch(incidents: &[Incident]) -> anyhow::Result<RecordBatch> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("incident_id", DataType::Utf8, false),
        Field::new("user", DataType::Utf8, false),
        Field::new("severity", DataType::Utf8, false),
        Field::new("score", DataType::UInt32, false),
        Field::new("stages", DataType::Utf8, false),
        utc_ms("first_seen"),
        utc_ms("last_seen"),
        Field::new("summary", DataType::Utf8, false),
        Field::new("timeline", DataType::Utf8, false),
    ]));
    let stages: Vec<String> = incidents.iter().map(|i| i.stages.join(" ")).collect();
    let timelines: Vec<String> = incidents
        .iter()
        .map(|i| serde_json::to_string(&i.timeline))
        .collect::<Result<_, _>>()?;
    let columns: Vec<ArrayRef> = vec![
        strings(incidents.iter().map(|i| Some(i.incident_id.as_str()))),
        strings(incidents.iter().map(|i| Some(i.user.as_str()))),
        strings(incidents.iter().map(|i| Some(i.severity.as_str()))),
        Arc::new(UInt32Array::from(
            incidents.iter().map(|i| i.score).collect::<Vec<_>>(),
        )),
        strings(stages.iter().map(|s| Some(s.as_str()))),
        timestamps(incidents.iter().map(|i| millis(&i.first_seen))),
        timestamps(incidents.iter().map(|i| millis(&i.last_seen))),
        strings(incidents.iter().map(|i| Some(i.summary.as_str()))),
        strings(timelines.iter().map(|s| Some(s.as_str()))),
    ];
    Ok(RecordBatch::try_new(schema, columns)?)
}

fn write_parquet(out: impl Write + Send, batch: RecordBatch) -> anyhow::Result<()> {
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::ZSTD(
            parquet::basic::ZstdLevel::try_new(3)?,
        ))
        .build();
    let mut w = parquet::arrow::ArrowWriter::try_new(out, batch.schema(), Some(props))?;
    w.write(&batch)?;
    w.close()?;
    Ok(())
}

/// An alert as an OCSF Detection Finding (class 2004, activity 1 Create).
fn ocsf_finding(a: &Alert) -> Value {
    let severity_id = match a.severity.as_str() {
        "low" => 2,
        "medium" => 3,
        "high" => 4,
        "critical" => 5,
        _ => 0,
    };
    let first = millis(&a.first_seen);
    let last = millis(&a.last_seen);
    json!({
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": 1,
        "activity_name": "Create",
        "type_uid": 200_401,
        "severity_id": severity_id,
        "severity": capitalise(&a.severity),
        "status_id": 1,
        "status": "New",
        "time": last,
        "message": a.summary,
        "finding_info": {
            "uid": a.alert_id,
            "title": a.summary,
            "types": [a.detection],
            "analytic": {"uid": a.detection, "name": a.detection, "type_id": 1, "type": "Rule"},
            "first_seen_time": first,
            "last_seen_time": last,
            "related_events_count": Value::Null,
        },
        "actor": {"user": {"email_addr": a.user, "name": a.user}},
        "metadata": {
            "version": "1.1.0",
            "product": {"name": "midgame", "vendor_name": "midgame", "version": env!("CARGO_PKG_VERSION")},
            "correlation_uid": a.incident_id,
        },
        "unmapped": {"evidence": a.evidence},
    })
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}
