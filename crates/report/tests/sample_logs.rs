//! The report's context over `sample-logs/`: what the lake says about the intrusion
//! beside the alerts (the new address and what was touched from it, the hop, the
//! victim's usual places and hours), and nothing of the look-alikes.

use std::path::{Path, PathBuf};

use midgame_detect::{AllowEntry, Detection, RunOptions, SessionContext};
use midgame_lake::{IngestOptions, Lake};
use midgame_report::{Lane, Options, Report, gather};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

async fn sample_lake(dir: &Path) -> SessionContext {
    let lake = Lake::open(dir).unwrap();
    let inputs = midgame_lake::find_inputs(&[
        repo().join("sample-logs/okta"),
        repo().join("sample-logs/admin"),
    ])
    .unwrap()
    .files;
    for f in inputs {
        lake.ingest_file(&f, &IngestOptions::default(), &|_| {})
            .unwrap();
    }
    midgame_detect::open_session(dir).await.unwrap()
}

async fn report(user: Option<&str>) -> Report {
    let dir = tempfile::tempdir().unwrap();
    let ctx = sample_lake(dir.path()).await;
    let run = RunOptions {
        allowlist: vec![AllowEntry::parse("198.51.100.0/24", "corporate VPN egress").unwrap()],
        explain_suppressed: true,
        ..RunOptions::default()
    };
    let queries = [repo().join("queries")];
    let detections = Detection::load_dirs(&queries).unwrap();
    let findings = midgame_detect::run_detections(&ctx, &queries, &run)
        .await
        .unwrap();
    let mut opts = Options::new(dir.path());
    opts.user = user.map(str::to_owned);
    gather(&ctx, &findings, &detections, &run, &opts)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_intrusion_with_its_context() {
    let r = report(None).await;
    assert_eq!(r.incidents.len(), 1);
    let v = &r.incidents[0];
    assert_eq!(v.incident.user, "alice.lee@acme.test");
    assert_eq!(v.alerts.len(), 8);

    // The attacker's address is the one new address; what was done from it is what the
    // sample logs' README says: 209 customers looked up, 94 exports and a bulk export.
    assert_eq!(v.touched.addresses, ["164.92.190.17"]);
    assert_eq!(v.touched.customers, 209);
    assert_eq!(v.touched.actions, 209 + 94 + 1);
    assert!(v.touched.bytes > 2_000_000_000, "{}", v.touched.bytes);

    // The hop, placed where the two sign-ins were.
    assert_eq!(v.hops.len(), 1);
    let h = &v.hops[0];
    assert_eq!(h.from.name(), "New York US");
    assert_eq!(h.to.name(), "Amsterdam NL");
    assert_eq!((h.distance_km, h.minutes), (5859, 47));
    assert!((h.to.lat - 52.37).abs() < 0.1 && (h.to.lon - 4.9).abs() < 0.1);

    // Her usual: the US, AT&T, no NL, no DigitalOcean; the incident's sign-in events
    // from the new address are flagged, her own are not.
    assert_eq!(v.baseline.countries[0].0, "US");
    assert!(!v.baseline.countries.iter().any(|(c, _)| c == "NL"));
    assert!(v.baseline.networks.iter().any(|(n, _)| n.contains("at&t")));
    assert!(
        !v.baseline
            .networks
            .iter()
            .any(|(n, _)| n.contains("AS14061"))
    );
    assert!(!v.baseline.addresses.contains("164.92.190.17"));
    let logons: Vec<_> = v
        .events
        .iter()
        .filter(|e| e.lane == Lane::SignIn && e.what == "Logon")
        .collect();
    assert!(
        logons
            .iter()
            .any(|e| e.new_address && e.src_ip.as_deref() == Some("164.92.190.17"))
    );
    assert!(
        logons
            .iter()
            .any(|e| !e.new_address && e.city.as_deref() == Some("New York"))
    );
    assert!(
        v.events
            .iter()
            .all(|e| e.time_ms >= v.window.0 && e.time_ms <= v.window.1)
    );
    assert!(v.events.windows(2).all(|w| w[0].time_ms <= w[1].time_ms));
    assert!(
        v.events
            .iter()
            .all(|e| e.file.ends_with(".ndjson.gz") && e.line > 0)
    );

    // Her hours in the Support Console: the busiest hour of the incident against her
    // usual 95th percentile (the alert says 11 customers/hour, 144 in the hour).
    let (targets, bytes) = v.peaks;
    assert_eq!(targets.map(|p| p.value), Some(144));
    let p95 = v.baseline.p95_targets_per_hour.unwrap();
    assert!((8..=14).contains(&p95), "{p95}");
    assert!(bytes.unwrap().value > 1_000_000_000);

    // Every alert of the incident has its rows, inside its span.
    for a in &v.alerts {
        let ev = &r.alert_events[&a.alert_id];
        assert!(ev.total >= ev.events.len() as u64 && !ev.events.is_empty());
        assert!(ev.events.len() <= 8);
        assert!(
            ev.events
                .iter()
                .all(|e| e.time_ms >= a.first_seen_ms && e.time_ms <= a.last_seen_ms)
        );
    }

    // The lake: 42 files, nothing quarantined, both tables.
    assert_eq!(r.coverage.files, 42);
    assert_eq!(r.coverage.quarantined, 0);
    let sources: Vec<(&str, &str)> = r
        .coverage
        .sources
        .iter()
        .map(|s| (s.table.as_str(), s.source.as_str()))
        .collect();
    assert_eq!(sources, [("auth", "okta"), ("admin", "admin-audit")]);
    assert_eq!(r.detections.len(), 14);
    assert!(r.detections.iter().all(|d| d.runbook.is_some()));
}

#[tokio::test(flavor = "multi_thread")]
async fn another_users_report_has_none_of_it() {
    let r = report(Some("heidi.smith@acme.test")).await;
    assert!(r.incidents.is_empty());
    assert!(r.alerts.is_empty());
    assert!(r.alert_events.is_empty());
}
