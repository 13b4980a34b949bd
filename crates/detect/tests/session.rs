//! The DataFusion session over a lake written by the lake crate.

use std::path::Path;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use midgame_lake::{IngestOptions, Lake};

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../sources/tests/fixtures/okta/panther")
        .join(name)
}

async fn count(ctx: &datafusion::prelude::SessionContext, sql: &str) -> i64 {
    let batches: Vec<RecordBatch> = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    batches[0].column(0).as_primitive::<Int64Type>().value(0)
}

#[tokio::test]
async fn sql_sees_every_row_and_prunes_by_date() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path()).unwrap();
    let mut total = 0;
    for f in [
        "rule-tests.ndjson",
        "victim_okta.ndjson",
        "attacker_okta.ndjson",
        "brute_force_logins.ndjson",
    ] {
        total += lake
            .ingest_file(&fixture(f), &IngestOptions::default(), &|_| {})
            .unwrap()
            .auth_rows;
    }
    let ctx = midgame_detect::open_session(dir.path()).await.unwrap();
    assert_eq!(
        count(&ctx, "SELECT count(*) FROM auth").await,
        i64::try_from(total).unwrap()
    );
    assert_eq!(count(&ctx, "SELECT count(*) FROM admin").await, 0);
    assert_eq!(
        count(
            &ctx,
            "SELECT count(*) FROM auth WHERE date = '2020-10-27' AND user = 'tracey.stone@acme.io'"
        )
        .await,
        1
    );
    // `time` is a UTC millisecond timestamp and agrees with `time_ms` and `date`.
    assert_eq!(
        count(&ctx, "SELECT count(*) FROM auth WHERE to_char(time, '%Y-%m-%d') <> date OR to_unixtime(time) <> time_ms / 1000").await,
        0
    );
    let plan: Vec<RecordBatch> = ctx
        .sql("EXPLAIN SELECT user FROM auth WHERE date = '2020-10-27' AND user LIKE '%a%'")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let text = arrow::util::pretty::pretty_format_batches(&plan)
        .unwrap()
        .to_string();
    assert!(
        text.contains("date=2020-10-27"),
        "only the matching partition is scanned:\n{text}"
    );
    assert!(!text.contains("date=2020-10-25"), "{text}");
}

#[tokio::test]
async fn a_directory_that_is_not_a_lake_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let Err(err) = midgame_detect::open_session(dir.path()).await else {
        panic!("opened a non-lake")
    };
    assert!(err.to_string().contains("not a midgame lake"), "{err}");
}
