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
            "attacks": attacks(a),
            "first_seen_time": first,
            "last_seen_time": last,
            "related_events_count": Value::Null,
        },
        "remediation": remediation(a),
        "actor": {"user": {"email_addr": a.user, "name": a.user}},
        "metadata": {
            "version": "1.1.0",
            "product": {"name": "midgame", "vendor_name": "midgame", "version": env!("CARGO_PKG_VERSION")},
            "correlation_uid": a.incident_id,
        },
        "unmapped": {"evidence": a.evidence},
    })
}
/// OCSF `attack` objects: the technique (a sub-technique also names its parent) and
/// the tactic, as far as the detection names them.
fn attacks(a: &Alert) -> Value {
    let c = &a.context;
    if c.technique.is_none() && c.tactic.is_none() {
        return Value::Null;
    }
    let mut attack = serde_json::Map::new();
    if let Some(t) = &c.technique {
        match t.split_once('.') {
            Some((parent, _)) => {
                attack.insert("technique".into(), json!({"uid": parent}));
                attack.insert("sub_technique".into(), json!({"uid": t}));
            }
            None => {
                attack.insert("technique".into(), json!({"uid": t}));
            }
        }
    }
    if let Some(t) = &c.tactic {
        let mut tactic = json!({ "name": t });
        if let Some(uid) = tactic_uid(t) {
            tactic["uid"] = uid.into();
        }
        attack.insert("tactic".into(), tactic);
    }
    attack.insert("version".into(), json!("v16"));
    json!([attack])
}

/// The ATT&CK enterprise tactic id of a tactic's name.
fn tactic_uid(name: &str) -> Option<&'static str> {
    const TACTICS: [(&str, &str); 14] = [
        ("reconnaissance", "TA0043"),
        ("resource development", "TA0042"),
        ("initial access", "TA0001"),
        ("execution", "TA0002"),
        ("persistence", "TA0003"),
        ("privilege escalation", "TA0004"),
        ("defense evasion", "TA0005"),
        ("credential access", "TA0006"),
        ("discovery", "TA0007"),
        ("lateral movement", "TA0008"),
        ("collection", "TA0009"),
        ("command and control", "TA0011"),
        ("exfiltration", "TA0010"),
        ("impact", "TA0040"),
    ];
    let key = name.trim().to_ascii_lowercase();
    TACTICS.iter().find(|(n, _)| *n == key).map(|(_, id)| *id)
}

/// OCSF `remediation`: the runbook, and what is known to look alike.
fn remediation(a: &Alert) -> Value {
    let c = &a.context;
    match (&c.runbook, &c.false_positives) {
        (None, None) => Value::Null,
        (runbook, fps) => {
            let mut desc = runbook.clone().unwrap_or_default();
            if let Some(f) = fps {
                if !desc.is_empty() {
                    desc.push(' ');
                }
                desc.push_str("Known false positives: ");
                desc.push_str(f);
            }
            json!({"desc": desc})
        }
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}
