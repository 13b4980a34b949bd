//! Every detection over `sample-logs/` (Okta and the Support Console audit log): the
//! intrusion is one incident covering its three stages, and no look-alike alerts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use datafusion::prelude::SessionContext;
use midgame_detect::{AllowEntry, Findings, RunOptions};
use midgame_lake::{IngestOptions, Lake};

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

fn options() -> RunOptions {
    RunOptions {
        allowlist: vec![AllowEntry::parse("198.51.100.0/24", "corporate VPN egress").unwrap()],
        explain_suppressed: true,
        ..RunOptions::default()
    }
}

async fn findings(opts: &RunOptions) -> Findings {
    let dir = tempfile::tempdir().unwrap();
    let ctx = sample_lake(dir.path()).await;
    midgame_detect::run_detections(&ctx, &[repo().join("queries")], opts)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_intrusion_is_one_incident_and_no_look_alike_alerts() {
    let f = findings(&options()).await;
    let users: Vec<&str> = f.alerts.iter().map(|a| a.user.as_str()).collect();
    assert!(
        users.iter().all(|u| *u == "alice.lee@acme.test"),
        "only the victim alerts: {users:?}"
    );
    let detections: std::collections::BTreeSet<&str> =
        f.alerts.iter().map(|a| a.detection.as_str()).collect();
    for d in [
        "impossible_travel",
        "new_device_sso",
        "mfa_factor_enrolled",
        "unusual_admin_access",
        "data_staging",
    ] {
        assert!(
            detections.contains(d),
            "{d} finds the intrusion: {detections:?}"
        );
    }
    assert_eq!(f.incidents.len(), 1, "{:#?}", f.incidents);
    let i = &f.incidents[0];
    assert_eq!(i.user, "alice.lee@acme.test");
    assert_eq!(i.stages, ["initial-access", "admin-access", "staging"]);
    assert_eq!(i.severity, "critical");
    assert_eq!(
        i.timeline.len(),
        f.alerts.len(),
        "every alert is in the incident"
    );
    assert!(
        i.timeline.windows(2).all(|w| w[0].time_ms <= w[1].time_ms),
        "the timeline is in time order"
    );
    assert!(
        f.alerts
            .iter()
            .all(|a| a.incident_id.as_deref() == Some(i.incident_id.as_str()))
    );

    let travel = f
        .alerts
        .iter()
        .find(|a| a.detection == "impossible_travel")
        .unwrap();
    assert!(
        travel
            .summary
            .starts_with("alice.lee@acme.test signed in from Amsterdam NL 47 min after"),
        "{}",
        travel.summary
    );
    assert_eq!(travel.evidence["src_ip_b"], "164.92.190.17");
    assert!(!travel.evidence.contains_key("alert_key"));
    let admin = f
        .alerts
        .iter()
        .find(|a| a.detection == "unusual_admin_access")
        .unwrap();
    assert!(
        admin.summary.contains("95th percentile"),
        "{}",
        admin.summary
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_allow_list_silences_the_vpn_egress_and_says_so() {
    let f = findings(&options()).await;
    assert!(!f.suppressed.is_empty());
    for s in &f.suppressed {
        assert_eq!(s.alert.detection, "impossible_travel");
        assert_eq!(s.alert.user, "erin.novak@acme.test", "user 4 uses the VPN");
        assert!(
            s.reasons.iter().any(|r| r.starts_with("198.51.100.")
                && r.ends_with("corporate VPN egress (198.51.100.0/24)")),
            "{:?}",
            s.reasons
        );
    }
    let without = findings(&RunOptions::default()).await;
    let ids: Vec<&str> = without.alerts.iter().map(|a| a.alert_id.as_str()).collect();
    assert!(
        f.suppressed
            .iter()
            .all(|s| ids.contains(&s.alert.alert_id.as_str())),
        "what was suppressed is exactly what alerts without the allow-list"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_runs_over_two_lakes_give_the_same_findings_ids_included() {
    let a = findings(&options()).await;
    let b = findings(&options()).await;
    assert_eq!(a.alerts, b.alerts);
    assert_eq!(a.incidents, b.incidents);
    assert_eq!(a.alerts[0].alert_id.len(), 32);
}

#[tokio::test(flavor = "multi_thread")]
async fn from_and_to_keep_the_baseline_but_drop_alerts_outside_the_range() {
    let day = |d: &str| {
        chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_millis()
    };
    let on_the_day = RunOptions {
        from_ms: Some(day("2022-08-04")),
        to_ms: Some(day("2022-08-05")),
        ..options()
    };
    let f = findings(&on_the_day).await;
    assert_eq!(
        f.incidents.len(),
        1,
        "the baseline before --from still counts"
    );
    let after = RunOptions {
        from_ms: Some(day("2022-08-05")),
        ..options()
    };
    let f = findings(&after).await;
    assert!(f.alerts.is_empty() && f.incidents.is_empty());
}

#[tokio::test]
async fn an_unknown_detection_in_the_config_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = sample_lake(dir.path()).await;
    let opts = RunOptions {
        params: BTreeMap::from([("impossible_travle".to_owned(), BTreeMap::new())]),
        ..RunOptions::default()
    };
    let err = midgame_detect::run_detections(&ctx, &[repo().join("queries")], &opts)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with("parameter `impossible_travle`: no detection has this id"),
        "{err}"
    );
}

#[tokio::test]
async fn parameters_are_bound_not_pasted() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = sample_lake(dir.path()).await;
    midgame_detect::register_allowlist(&ctx, &[]).await.unwrap();
    let det =
        midgame_detect::Detection::load(&repo().join("queries/impossible_travel.sql")).unwrap();
    let rows = |batches: Vec<arrow::array::RecordBatch>| -> usize {
        batches
            .iter()
            .map(arrow::array::RecordBatch::num_rows)
            .sum()
    };
    let defaults = det.bind(&BTreeMap::new()).unwrap();
    assert!(rows(det.run(&ctx, &defaults).await.unwrap()) > 1);
    // A far higher speed limit silences everything: the threshold really is bound.
    let fast = det
        .bind(&BTreeMap::from([(
            "max_speed_kmh".to_owned(),
            midgame_detect::ParamValue::Int(1_000_000),
        )]))
        .unwrap();
    assert_eq!(rows(det.run(&ctx, &fast).await.unwrap()), 0);
    // Text that looks like SQL is a value, never SQL.
    let err = det
        .bind(&BTreeMap::from([(
            "max_speed_kmh".to_owned(),
            midgame_detect::ParamValue::Text("1 OR 1=1".into()),
        )]))
        .unwrap_err();
    assert!(err.to_string().contains("expected a whole number"), "{err}");
}

#[tokio::test]
async fn a_query_without_the_alert_columns_fails_at_plan_time_even_on_an_empty_lake() {
    let dir = tempfile::tempdir().unwrap();
    Lake::open(&dir.path().join("lake")).unwrap();
    let ctx = midgame_detect::open_session(&dir.path().join("lake"))
        .await
        .unwrap();
    let queries = dir.path().join("queries");
    std::fs::create_dir(&queries).unwrap();
    std::fs::write(
        queries.join("no_key.sql"),
        "-- id: no_key\n-- title: t\n-- severity: low\n-- stage: staging\n-- attack: T1074\n-- description: d\nSELECT user, time AS first_seen, time AS last_seen, 'x' AS summary FROM auth\n",
    )
    .unwrap();
    let err = midgame_detect::run_detections(
        &ctx,
        std::slice::from_ref(&queries),
        &RunOptions::default(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("no_key.sql"), "{err}");
    assert!(err.contains("no `alert_key` column"), "{err}");
}

/// The same logs give the same findings whatever the order files are ingested in, the
/// size of the lake's files and row groups, the engine's partitions and batch size.
#[tokio::test(flavor = "multi_thread")]
async fn findings_do_not_depend_on_file_order_partitions_or_batch_boundaries() {
    let mut inputs = midgame_lake::find_inputs(&[
        repo().join("sample-logs/okta"),
        repo().join("sample-logs/admin"),
    ])
    .unwrap()
    .files;
    let reference = findings(&options()).await;
    // (seed for the file order, ingest buffer, partitions, batch size)
    for (seed, buffer, partitions, batch) in [(1_u64, 64 << 10, 1, 1000), (7, 1 << 20, 3, 100)] {
        // A seeded shuffle, so a failure reproduces.
        midgame_gen::Rng::new(seed, &[]).shuffle(&mut inputs);
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(dir.path()).unwrap();
        let opts = IngestOptions {
            buffer_bytes: buffer,
            chunk_bytes: 16 << 10,
            ..IngestOptions::default()
        };
        for f in &inputs {
            lake.ingest_file(f, &opts, &|_| {}).unwrap();
        }
        let config = midgame_detect::session_config()
            .with_target_partitions(partitions)
            .with_batch_size(batch);
        let ctx = midgame_detect::open_session_with(dir.path(), config)
            .await
            .unwrap();
        let f = midgame_detect::run_detections(&ctx, &[repo().join("queries")], &options())
            .await
            .unwrap();
        assert_eq!(f.alerts, reference.alerts, "seed {seed}");
        assert_eq!(f.incidents, reference.incidents, "seed {seed}");
        assert_eq!(f.suppressed, reference.suppressed, "seed {seed}");
    }
}
