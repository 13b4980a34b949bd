//! `midgame detect`: run the detections over the lake and write alerts.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use midgame_detect::{Alert, AllowEntry, ParamValue, SessionContext};

use crate::args::{DetectArgs, Format};
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

    /// The allow-list entries.
    pub(crate) fn allow_entries(&self) -> anyhow::Result<Vec<AllowEntry>> {
        let Some(a) = &self.allowlist else {
            return Ok(Vec::new());
        };
        a.cidrs
            .iter()
            .map(|c| {
                AllowEntry::parse(c, "[allowlist] in midgame.toml")
                    .map_err(|e| anyhow::anyhow!("[allowlist] cidrs: {e}"))
            })
            .collect()
    }
}

/// Run every detection of `queries` in a session over the lake.
pub(crate) async fn detect_in(
    ctx: &SessionContext,
    queries: &Path,
    cfg: &Config,
) -> anyhow::Result<Vec<Alert>> {
    let params = cfg.detection_params()?;
    let allow = cfg.allow_entries()?;
    Ok(midgame_detect::run_detections(ctx, queries, &params, &allow).await?)
}

pub(crate) fn run(a: &DetectArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let cfg = Config::load_opt(a.config.as_deref())?;
    let queries = match &a.queries {
        Some(q) => q.clone(),
        None => default_queries()?,
    };
    let alerts = crate::runtime()?.block_on(async {
        let ctx = midgame_detect::open_session(&a.lake).await?;
        detect_in(&ctx, &queries, &cfg).await
    })?;
    match &a.output {
        Some(path) => {
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
            let mut out = std::io::BufWriter::new(file);
            write_alerts(&mut out, &alerts, a.format)?;
            out.flush()?;
        }
        None => write_alerts(&mut std::io::stdout().lock(), &alerts, a.format)?,
    }
    let mut by_severity: BTreeMap<&str, usize> = BTreeMap::new();
    for al in &alerts {
        *by_severity.entry(al.severity.as_str()).or_default() += 1;
    }
    let counts = ["critical", "high", "medium", "low"]
        .map(|s| format!("{} {s}", by_severity.get(s).copied().unwrap_or(0)));
    printer.status(&format!("{} alerts: {}", alerts.len(), counts.join(", ")));
    Ok(ExitCode::SUCCESS)
}

/// Alerts as a table for people, NDJSON (DESIGN's alert format) or CSV.
pub(crate) fn write_alerts(
    out: &mut dyn Write,
    alerts: &[Alert],
    format: Format,
) -> anyhow::Result<()> {
    match format {
        Format::Ndjson => {
            for a in alerts {
                serde_json::to_writer(&mut *out, a)?;
                out.write_all(b"\n")?;
            }
        }
        Format::Csv => {
            writeln!(
                out,
                "alert_id,detection,severity,user,first_seen,last_seen,summary,evidence"
            )?;
            for a in alerts {
                let evidence = serde_json::to_string(&a.evidence)?;
                let fields = [
                    &a.alert_id,
                    &a.detection,
                    &a.severity,
                    &a.user,
                    &a.first_seen,
                    &a.last_seen,
                    &a.summary,
                    &evidence,
                ];
                let row: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
                writeln!(out, "{}", row.join(","))?;
            }
        }
        Format::Table => {
            if alerts.is_empty() {
                writeln!(out, "no alerts")?;
            }
            for a in alerts {
                writeln!(
                    out,
                    "{:<8} {:<20} {}  {}",
                    a.severity.to_uppercase(),
                    a.detection,
                    a.last_seen,
                    a.summary
                )?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}
