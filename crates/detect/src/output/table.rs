//! The terminal table: findings for a person at a glance, and query results as a grid.

use std::io::Write;

use arrow::array::RecordBatch;

use crate::time::rfc3339;
use crate::{Findings, Incident};

/// Query results as a grid.
///
/// # Errors
/// Writing fails or a value cannot be formatted.
pub fn batches(out: &mut dyn Write, batches: &[RecordBatch]) -> Result<(), super::OutputError> {
    let table = arrow::util::pretty::pretty_format_batches(batches)?;
    writeln!(out, "{table}")?;
    Ok(())
}

/// `CRITICAL score 100  user  first .. last  incident 1a2b3c4d5e6f`: an incident in one
/// line, as the table and a scheduled run's log show it.
#[must_use]
pub fn incident_head(i: &Incident) -> String {
    format!(
        "{:<8} score {:>3}  {}  {} .. {}  incident {}",
        i.severity.to_uppercase(),
        i.score,
        i.user,
        rfc3339(i.first_seen_ms),
        rfc3339(i.last_seen_ms),
        i.incident_id.get(..12).unwrap_or(&i.incident_id)
    )
}

/// Incidents (each with its timeline), alerts, what the allow-list silenced, and the
/// summary line.
///
/// # Errors
/// Writing fails.
pub fn findings(out: &mut dyn Write, f: &Findings) -> std::io::Result<()> {
    writeln!(out, "== Incidents")?;
    if f.incidents.is_empty() {
        writeln!(out, "none")?;
    }
    for i in &f.incidents {
        writeln!(out, "{}", incident_head(i))?;
        writeln!(out, "  {}", i.summary)?;
        for t in &i.timeline {
            writeln!(
                out,
                "  {}  {:<14} {:<8} {:<20} {}",
                rfc3339(t.time_ms),
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
            rfc3339(a.last_seen_ms),
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
                rfc3339(s.alert.last_seen_ms),
                s.alert.summary,
                if s.reasons.is_empty() {
                    "an allow-listed address changed which events were compared".to_owned()
                } else {
                    s.reasons.join("; ")
                }
            )?;
        }
    }
    writeln!(out, "\n== Summary\n{}", super::summary_line(f))?;
    Ok(())
}
