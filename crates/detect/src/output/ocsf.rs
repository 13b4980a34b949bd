//! OCSF 1.1 Detection Finding (class 2004) objects, one per line.

use std::io::Write;

use serde_json::{Value, json};

use crate::{Alert, Findings};

/// Every alert of `f` as a finding, a line each.
///
/// # Errors
/// Writing fails.
pub fn findings(out: &mut dyn Write, f: &Findings) -> std::io::Result<()> {
    for a in &f.alerts {
        writeln!(out, "{}", finding(a))?;
    }
    Ok(())
}

/// An alert as an OCSF Detection Finding (class 2004, activity 1 Create).
#[must_use]
pub fn finding(a: &Alert) -> Value {
    let severity_id = match a.severity.as_str() {
        "low" => 2,
        "medium" => 3,
        "high" => 4,
        "critical" => 5,
        _ => 0,
    };
    let first = a.first_seen_ms;
    let last = a.last_seen_ms;
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
