//! `queries/impossible_travel.sql` on the sample logs: the intrusion alerts, the
//! look-alikes (a real flight, mobile-carrier jitter, a new laptop, the corporate VPN
//! egress) do not.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow::array::{AsArray, RecordBatch};
use datafusion::prelude::SessionContext;
use midgame_detect::{AllowEntry, Detection, ParamValue, register_allowlist};
use midgame_lake::{IngestOptions, Lake};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

async fn sample_lake(dir: &Path) -> SessionContext {
    let lake = Lake::open(dir).unwrap();
    for f in midgame_lake::find_inputs(&[repo().join("sample-logs/okta")]).unwrap() {
        lake.ingest_file(&f, &IngestOptions::default(), &|_| {})
            .unwrap();
    }
    midgame_detect::open_session(dir).await.unwrap()
}

fn column(batches: &[RecordBatch], name: &str) -> Vec<String> {
    batches
        .iter()
        .flat_map(|b| {
            let col = arrow::compute::cast(
                b.column_by_name(name).unwrap(),
                &arrow::datatypes::DataType::Utf8,
            )
            .unwrap();
            col.as_string::<i32>()
                .iter()
                .map(|v| v.unwrap_or_default().to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test]
async fn the_intrusion_alerts_and_the_look_alikes_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = sample_lake(dir.path()).await;
    register_allowlist(
        &ctx,
        &[AllowEntry::parse("198.51.100.0/24", "corporate VPN egress").unwrap()],
    )
    .await
    .unwrap();
    let det = Detection::load(&repo().join("queries/impossible_travel.sql")).unwrap();
    let values = det.bind(&BTreeMap::new()).unwrap();
    let batches = det.run(&ctx, &values).await.unwrap();
    let users = column(&batches, "user");
    assert!(!users.is_empty(), "the intrusion must alert");
    assert!(
        users.iter().all(|u| u == "alice.lee@acme.test"),
        "only the victim: {users:?}"
    );
    let summaries = column(&batches, "summary");
    assert!(
        summaries[0].starts_with("alice.lee@acme.test signed in from Amsterdam NL 47 min after"),
        "{summaries:?}"
    );
    let speed: i64 = column(&batches, "speed_kmh")[0].parse().unwrap();
    assert!(speed > 5_000, "{speed}");
    assert_eq!(column(&batches, "src_ip_b")[0], "164.92.190.17");
}

#[tokio::test]
async fn without_the_allowlist_the_vpn_egress_looks_like_travel() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = sample_lake(dir.path()).await;
    register_allowlist(&ctx, &[]).await.unwrap();
    let det = Detection::load(&repo().join("queries/impossible_travel.sql")).unwrap();
    let batches = det
        .run(&ctx, &det.bind(&BTreeMap::new()).unwrap())
        .await
        .unwrap();
    let users = column(&batches, "user");
    assert!(
        users.iter().any(|u| u != "alice.lee@acme.test"),
        "the VPN user appears when nothing is allow-listed: {users:?}"
    );
    // A far higher speed limit silences everything: the threshold really is bound.
    let fast = det
        .bind(&BTreeMap::from([(
            "max_speed_kmh".to_owned(),
            ParamValue::Int(1_000_000),
        )]))
        .unwrap();
    assert!(column(&det.run(&ctx, &fast).await.unwrap(), "user").is_empty());
}

#[tokio::test]
async fn alerts_have_stable_ids_and_the_design_fields() {
    let allow = [AllowEntry::parse("198.51.100.0/24", "corporate VPN egress").unwrap()];
    let mut runs = Vec::new();
    for _ in 0..2 {
        let dir = tempfile::tempdir().unwrap();
        let ctx = sample_lake(dir.path()).await;
        runs.push(
            midgame_detect::run_detections(&ctx, &repo().join("queries"), &BTreeMap::new(), &allow)
                .await
                .unwrap(),
        );
    }
    assert_eq!(
        runs[0], runs[1],
        "two runs over two lakes of the same logs give the same alerts, ids included"
    );
    let a = runs[0]
        .iter()
        .find(|a| a.detection == "impossible_travel")
        .unwrap();
    assert_eq!(a.alert_id.len(), 32);
    assert_eq!(a.severity, "high");
    assert_eq!(a.user, "alice.lee@acme.test");
    assert!(
        a.first_seen < a.last_seen && a.last_seen.starts_with("2022-08-04T"),
        "{a:?}"
    );
    assert_eq!(a.evidence["city_b"], "Amsterdam");
    assert!(!a.evidence.contains_key("alert_key"));
}

#[tokio::test]
async fn an_unknown_detection_in_the_config_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = sample_lake(dir.path()).await;
    let params = BTreeMap::from([("impossible_travle".to_owned(), BTreeMap::new())]);
    let err = midgame_detect::run_detections(&ctx, &repo().join("queries"), &params, &[])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.ends_with("parameter `impossible_travle`: no detection has this id"),
        "{err}"
    );
}
