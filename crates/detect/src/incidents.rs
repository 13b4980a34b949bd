//! Incidents: one user's alerts that follow each other closely and cover at least two
//! stages of an intrusion (initial access, admin access, staging).
//!
//! Alerts of a user are chained while each starts within `window` of the previous one
//! (a session window); a chain that covers `min_stages` distinct stages is an incident.
//! The result depends only on the alerts, never on their order or the run.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::Alert;

/// The stages, in the order an intrusion goes through them.
pub const STAGES: [&str; 3] = ["initial-access", "admin-access", "staging"];

/// One alert in an incident's timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEntry {
    /// When the alert's finding starts (ms since the epoch; RFC 3339 UTC in NDJSON).
    #[serde(rename = "time", serialize_with = "crate::time::serialize")]
    pub time_ms: i64,
    /// The stage of its detection.
    pub stage: String,
    /// The detection's id.
    pub detection: String,
    /// The alert's severity.
    pub severity: String,
    /// The alert's summary.
    pub summary: String,
    /// The alert's id.
    pub alert_id: String,
}

/// A user's chained alerts covering several stages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Incident {
    /// Stable id: derived from the user and the first alert's id.
    pub incident_id: String,
    /// The user.
    pub user: String,
    /// `low`, `medium`, `high` or `critical`, from the score.
    pub severity: String,
    /// 0 to 100: the worst alert's weight, plus 15 per further stage and 5 per further
    /// detection.
    pub score: u32,
    /// Stages covered, in intrusion order.
    pub stages: Vec<String>,
    /// First alert's start (ms since the epoch; RFC 3339 UTC in NDJSON).
    #[serde(rename = "first_seen", serialize_with = "crate::time::serialize")]
    pub first_seen_ms: i64,
    /// Last alert's end (ms since the epoch; RFC 3339 UTC in NDJSON).
    #[serde(rename = "last_seen", serialize_with = "crate::time::serialize")]
    pub last_seen_ms: i64,
    /// One line a person reads at a glance.
    pub summary: String,
    /// The alerts, in time order.
    pub timeline: Vec<TimelineEntry>,
}

fn weight(severity: &str) -> u32 {
    match severity {
        "critical" => 80,
        "high" => 50,
        "medium" => 25,
        _ => 10,
    }
}

fn duration_words(ms: i64) -> String {
    let minutes = (ms + 30_000) / 60_000;
    match minutes {
        m if m < 60 => format!("{m} min"),
        m => format!("{} h {} min", m / 60, m % 60),
    }
}

/// Chain `alerts` into incidents. `stage_of` maps a detection id to its stage; alerts of
/// detections without a known stage never make an incident on their own but join one.
#[must_use]
pub fn correlate(
    alerts: &[Alert],
    stage_of: &BTreeMap<String, String>,
    window_ms: i64,
    min_stages: usize,
) -> Vec<Incident> {
    let mut by_user: BTreeMap<&str, Vec<(i64, &Alert)>> = BTreeMap::new();
    for a in alerts {
        by_user
            .entry(a.user.as_str())
            .or_default()
            .push((a.first_seen_ms, a));
    }
    let mut out = Vec::new();
    for (user, mut list) in by_user {
        list.sort_by(|x, y| {
            (x.0, &x.1.detection, &x.1.alert_id).cmp(&(y.0, &y.1.detection, &y.1.alert_id))
        });
        let mut chain: Vec<(i64, &Alert)> = Vec::new();
        let mut last_end = i64::MIN;
        for item in list {
            if !chain.is_empty() && item.0 > last_end.saturating_add(window_ms) {
                out.extend(incident(user, &chain, stage_of, min_stages));
                chain.clear();
            }
            last_end = last_end.max(item.1.last_seen_ms);
            chain.push(item);
        }
        out.extend(incident(user, &chain, stage_of, min_stages));
    }
    out.sort_by(|a, b| (a.first_seen_ms, &a.user).cmp(&(b.first_seen_ms, &b.user)));
    out
}

fn incident(
    user: &str,
    chain: &[(i64, &Alert)],
    stage_of: &BTreeMap<String, String>,
    min_stages: usize,
) -> Option<Incident> {
    let stage = |a: &Alert| stage_of.get(&a.detection).cloned().unwrap_or_default();
    let covered: BTreeSet<&str> = chain
        .iter()
        .filter_map(|(_, a)| STAGES.iter().find(|s| **s == stage(a)).copied())
        .collect();
    if covered.len() < min_stages.max(1) {
        return None;
    }
    let stages: Vec<String> = STAGES
        .iter()
        .filter(|s| covered.contains(**s))
        .map(|s| (*s).to_owned())
        .collect();
    let detections: BTreeSet<&str> = chain.iter().map(|(_, a)| a.detection.as_str()).collect();
    let worst = chain
        .iter()
        .map(|(_, a)| weight(&a.severity))
        .max()
        .unwrap_or(0);
    let extra_stages = u32::try_from(stages.len().saturating_sub(1)).unwrap_or(0);
    let extra_detections = u32::try_from(detections.len().saturating_sub(1)).unwrap_or(0);
    let score = (worst + 15 * extra_stages + 5 * extra_detections).min(100);
    let severity = match score {
        90.. => "critical",
        60.. => "high",
        30.. => "medium",
        _ => "low",
    };
    let first = chain.first()?;
    let last_seen_ms = chain
        .iter()
        .map(|(_, a)| a.last_seen_ms)
        .max()
        .unwrap_or(first.0);
    let span = last_seen_ms - first.0;
    let per_stage: Vec<String> = stages
        .iter()
        .map(|s| {
            let names: BTreeSet<&str> = chain
                .iter()
                .filter(|(_, a)| stage(a) == *s)
                .map(|(_, a)| a.detection.as_str())
                .collect();
            format!(
                "{} ({})",
                s.replace('-', " "),
                names.into_iter().collect::<Vec<_>>().join(", ")
            )
        })
        .collect();
    let id =
        xxhash_rust::xxh3::xxh3_128(format!("incident\0{user}\0{}", first.1.alert_id).as_bytes());
    Some(Incident {
        incident_id: format!("{id:032x}"),
        user: user.to_owned(),
        severity: severity.to_owned(),
        score,
        stages,
        first_seen_ms: first.1.first_seen_ms,
        last_seen_ms,
        summary: format!(
            "{user}: {} in {}, {} alerts",
            per_stage.join(" -> "),
            duration_words(span),
            chain.len()
        ),
        timeline: chain
            .iter()
            .map(|(_, a)| TimelineEntry {
                time_ms: a.first_seen_ms,
                stage: stage(a),
                detection: a.detection.clone(),
                severity: a.severity.clone(),
                summary: a.summary.clone(),
                alert_id: a.alert_id.clone(),
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(user: &str, detection: &str, first: &str, severity: &str) -> Alert {
        let ms = chrono::DateTime::parse_from_rfc3339(first)
            .unwrap()
            .timestamp_millis();
        Alert {
            alert_id: format!("{detection}-{first}"),
            detection: detection.into(),
            severity: severity.into(),
            user: user.into(),
            first_seen_ms: ms,
            last_seen_ms: ms,
            summary: format!("{detection} at {first}"),
            evidence: serde_json::Map::new(),
            incident_id: None,
            context: Default::default(),
        }
    }

    fn stages() -> BTreeMap<String, String> {
        [
            ("new_device_sso", "initial-access"),
            ("impossible_travel", "initial-access"),
            ("unusual_admin_access", "admin-access"),
            ("data_staging", "staging"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect()
    }

    const DAY: i64 = 86_400_000;

    #[test]
    fn an_intrusion_across_three_stages_is_one_incident_in_time_order() {
        let alerts = vec![
            alert("jdoe", "data_staging", "2022-08-04T11:10:00Z", "high"),
            alert("jdoe", "new_device_sso", "2022-08-04T09:47:00Z", "high"),
            alert(
                "jdoe",
                "unusual_admin_access",
                "2022-08-04T10:00:00Z",
                "high",
            ),
            alert("jdoe", "impossible_travel", "2022-08-04T09:47:00Z", "high"),
        ];
        let inc = correlate(&alerts, &stages(), DAY, 2);
        assert_eq!(inc.len(), 1);
        let i = &inc[0];
        assert_eq!(i.stages, ["initial-access", "admin-access", "staging"]);
        assert_eq!(i.score, 50 + 2 * 15 + 3 * 5);
        assert_eq!(i.severity, "critical");
        let order: Vec<&str> = i.timeline.iter().map(|t| t.detection.as_str()).collect();
        assert_eq!(
            order,
            [
                "impossible_travel",
                "new_device_sso",
                "unusual_admin_access",
                "data_staging"
            ]
        );
        assert_eq!(
            i.summary,
            "jdoe: initial access (impossible_travel, new_device_sso) -> admin access (unusual_admin_access) -> staging (data_staging) in 1 h 23 min, 4 alerts"
        );
        let mut reversed = alerts.clone();
        reversed.reverse();
        assert_eq!(
            correlate(&reversed, &stages(), DAY, 2),
            inc,
            "order does not matter"
        );
    }

    #[test]
    fn one_stage_alone_or_stages_days_apart_or_of_two_users_are_no_incident() {
        let one_stage = vec![
            alert("a", "new_device_sso", "2022-08-04T09:00:00Z", "high"),
            alert("a", "impossible_travel", "2022-08-04T09:10:00Z", "high"),
        ];
        assert!(correlate(&one_stage, &stages(), DAY, 2).is_empty());
        let apart = vec![
            alert("b", "new_device_sso", "2022-08-01T09:00:00Z", "high"),
            alert("b", "data_staging", "2022-08-04T09:00:00Z", "high"),
        ];
        assert!(correlate(&apart, &stages(), DAY, 2).is_empty());
        let two_users = vec![
            alert("c", "new_device_sso", "2022-08-04T09:00:00Z", "high"),
            alert("d", "data_staging", "2022-08-04T10:00:00Z", "high"),
        ];
        assert!(correlate(&two_users, &stages(), DAY, 2).is_empty());
    }

    #[test]
    fn a_chain_grows_while_each_alert_follows_the_last_within_the_window() {
        let alerts = vec![
            alert("e", "new_device_sso", "2022-08-01T09:00:00Z", "medium"),
            alert(
                "e",
                "unusual_admin_access",
                "2022-08-01T20:00:00Z",
                "medium",
            ),
            alert("e", "data_staging", "2022-08-02T18:00:00Z", "medium"),
        ];
        let inc = correlate(&alerts, &stages(), DAY, 2);
        assert_eq!(inc.len(), 1);
        assert_eq!(inc[0].timeline.len(), 3);
        assert_eq!(inc[0].score, 25 + 30 + 10);
        assert_eq!(inc[0].severity, "high");
    }
}
