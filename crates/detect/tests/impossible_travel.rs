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
