//! The page as HTML text: hostile values stay text, an empty lake says so, thousands of
//! alerts keep the file small. (The browser test in tests/report.rs renders real pages.)

use std::collections::BTreeMap;

use midgame_detect::{Alert, Incident, Suppressed, TimelineEntry};
use midgame_report::{
    AlertEvents, Baseline, Coverage, DetectionInfo, Event, Hop, IncidentView, Lane, Options, Place,
    Report, SourceCoverage, Touched, render,
};

const EVIL: &str = r#"<script>alert(1)</script><img src=x onerror="alert(2)">'"&"#;

fn alert(i: usize, user: &str, detection: &str, summary: &str) -> Alert {
    let mut evidence = serde_json::Map::new();
    evidence.insert("src_ip_b".into(), serde_json::json!(EVIL));
    evidence.insert("bytes".into(), serde_json::json!(12_345));
    Alert {
        alert_id: format!("{i:032x}"),
        detection: detection.to_owned(),
        severity: "high".to_owned(),
        user: user.to_owned(),
        first_seen_ms: 1_659_615_504_000 + i as i64 * 60_000,
        last_seen_ms: 1_659_618_325_000 + i as i64 * 60_000,
        summary: summary.to_owned(),
        evidence,
        incident_id: None,
        context: Default::default(),
    }
}

fn event(lane: Lane, text: &str, new: bool) -> Event {
    Event {
        time_ms: 1_659_618_325_000,
        lane,
        what: text.to_owned(),
        outcome: "success".to_owned(),
        source: "okta".to_owned(),
        src_ip: Some(text.to_owned()),
        city: Some(text.to_owned()),
        country: Some("NL".to_owned()),
        lat: Some(52.37),
        lon: Some(4.89),
        network: Some(text.to_owned()),
        device: Some(text.to_owned()),
        user_agent: Some(text.to_owned()),
        target: Some(text.to_owned()),
        records: Some(3),
        bytes: Some(5_000_000),
        file: format!("/logs/{text}.ndjson"),
        line: 7,
        new_address: new,
    }
}

fn detection(id: &str, text: &str) -> DetectionInfo {
    DetectionInfo {
        id: id.to_owned(),
        title: text.to_owned(),
        severity: "high".to_owned(),
        stage: "initial-access".to_owned(),
        attack: "T1078".to_owned(),
        tactic: Some(text.to_owned()),
        description: text.to_owned(),
        runbook: Some(text.to_owned()),
        false_positives: Some(text.to_owned()),
        params: vec![("p".to_owned(), text.to_owned())],
    }
}

fn empty_report() -> Report {
    Report {
        options: Options::new("/var/lib/midgame/lake"),
        detections: vec![detection("impossible_travel", "Impossible travel")],
        incidents: Vec::new(),
        alerts: Vec::new(),
        alert_events: BTreeMap::new(),
        suppressed: Vec::new(),
        coverage: Coverage::default(),
        allowlist: Vec::new(),
        incident_rules: (24, 2),
        window: (None, None),
    }
}

/// A report where every value that can come from a log is hostile.
fn hostile_report() -> Report {
    let user = format!("{EVIL}@acme.test");
    let a = alert(1, &user, EVIL, EVIL);
    let place = Place {
        city: Some(EVIL.to_owned()),
        country: Some("US".to_owned()),
        lat: 40.7,
        lon: -74.0,
        count: 9,
    };
    let incident = Incident {
        incident_id: "ab".repeat(16),
        user: user.clone(),
        severity: "critical".to_owned(),
        score: 100,
        stages: vec!["initial-access".to_owned(), EVIL.to_owned()],
        first_seen_ms: a.first_seen_ms,
        last_seen_ms: a.last_seen_ms,
        summary: EVIL.to_owned(),
        timeline: vec![TimelineEntry {
            time_ms: a.first_seen_ms,
            stage: "initial-access".to_owned(),
            detection: EVIL.to_owned(),
            severity: "high".to_owned(),
            summary: EVIL.to_owned(),
            alert_id: a.alert_id.clone(),
        }],
    };
    let view = IncidentView {
        incident,
        alerts: vec![a.clone()],
        window: (a.first_seen_ms - 3_600_000, a.last_seen_ms + 3_600_000),
        events: Lane::ALL
            .into_iter()
            .enumerate()
            .map(|(i, l)| event(l, EVIL, i % 2 == 0))
            .collect(),
        events_total: 10,
        baseline: Baseline {
            days: 30,
            places: vec![place.clone()],
            countries: vec![(EVIL.to_owned(), 3)],
            networks: vec![(EVIL.to_owned(), 3)],
            devices: vec![(EVIL.to_owned(), 3)],
            addresses: [EVIL.to_owned()].into(),
            admin_hours: 4,
            p95_targets_per_hour: Some(3),
            p95_bytes_per_hour: Some(1000),
        },
        peaks: (None, None),
        touched: Touched {
            actions: 5,
            customers: 2,
            targets: 2,
            records: 3,
            bytes: 4,
            addresses: vec![EVIL.to_owned()],
        },
        hops: vec![Hop {
            from: place.clone(),
            to: Place {
                lat: 52.37,
                lon: 4.89,
                ..place
            },
            ips: (EVIL.to_owned(), EVIL.to_owned()),
            distance_km: 5859,
            minutes: 47,
            speed_kmh: 7477,
        }],
    };
    let mut r = empty_report();
    r.options.title = EVIL.to_owned();
    r.options.user = Some(EVIL.to_owned());
    r.options
        .changes
        .insert(a.alert_id.clone(), EVIL.to_owned());
    r.detections.push(detection(EVIL, EVIL));
    r.alert_events.insert(
        a.alert_id.clone(),
        AlertEvents {
            events: vec![event(Lane::Admin, EVIL, true)],
            total: 1,
        },
    );
    r.suppressed.push(Suppressed {
        alert: a.clone(),
        reasons: vec![EVIL.to_owned()],
    });
    r.coverage.sources.push(SourceCoverage {
        table: "auth".to_owned(),
        source: EVIL.to_owned(),
        rows: 1,
        days: 1,
        first_day: EVIL.to_owned(),
        last_day: EVIL.to_owned(),
    });
    r.allowlist.push(EVIL.to_owned());
    r.alerts = vec![a, alert(2, EVIL, "other", EVIL)];
    r.incidents.push(view);
    r
}

#[test]
fn every_value_from_a_log_stays_text() {
    let page = render(&hostile_report());
    let lower = page.to_ascii_lowercase();
    // The page's own markup has no script and no event handler; every hostile value is
    // there, escaped.
    assert!(!lower.contains("<script"), "a script element got through");
    assert!(!lower.contains("<img"), "an img element got through");
    assert!(
        !lower.contains("onerror=\""),
        "an event handler got through"
    );
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(page.contains("&lt;img src=x onerror=&quot;alert(2)&quot;&gt;&#39;&quot;&amp;"));
    // The policy that would stop anything that did get through.
    assert!(page.contains("Content-Security-Policy\" content=\"default-src 'none'"));
}

#[test]
fn a_lake_without_incidents_says_so() {
    let page = render(&empty_report());
    assert!(page.contains("No incidents."), "{page}");
    assert!(page.contains("No alerts."));
    assert!(!page.contains("id=\"incident-"));
}

#[test]
fn thousands_of_alerts_keep_the_file_small() {
    let mut r = empty_report();
    r.alerts = (0..20_000)
        .map(|i| {
            alert(
                i,
                &format!("user{}@acme.test", i % 700),
                ["impossible_travel", "new_device_sso", "proxy_signin"][i % 3],
                &"a summary a person reads at a glance, about this long. ".repeat(2),
            )
        })
        .collect();
    let page = render(&r);
    assert!(
        page.len() < 3 * 1024 * 1024,
        "{} bytes for 20,000 alerts",
        page.len()
    );
    assert!(page.contains("All 20,000 alerts"));
    // The first max_listed_alerts are listed; the rest are counted with where to get them.
    let listed = page.matches("<tr><td><span class=\"sev high\">").count();
    assert_eq!(listed, r.options.max_listed_alerts);
    assert!(page.contains("more not listed here"));
    // A collapsed group per detection: closed when it is long.
    assert_eq!(page.matches("<details><summary><b>").count(), 3);
}
