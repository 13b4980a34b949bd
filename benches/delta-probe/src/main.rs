//! Delta Lake next to midgame's own manifest on one table folder (a copy of a lake's
//! `auth` folder as ingested: Hive `date=` partitions, files sorted by user and time).
//!
//! 1. convert the folder to a Delta table in place (one commit adding every file);
//! 2. scan it through delta-rs's table provider and through DataFusion's listing table
//!    (what midgame registers), three alternating runs per query, medians;
//! 3. commit one more data file, 20 times: a Delta commit (an `add` action) against
//!    midgame's commit (a small JSON record written, synced and renamed).
//!
//! `delta-probe DIR` (DIR is changed: a `_delta_log` and a probe partition are added).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::datatypes::DataType;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::ListingOptions;
use datafusion::prelude::{SessionConfig, SessionContext, col};
use deltalake::kernel::transaction::CommitBuilder;
use deltalake::kernel::{Action, Add, DataType as DeltaType, StructField};
use deltalake::operations::convert_to_delta::ConvertToDeltaBuilder;
use deltalake::protocol::{DeltaOperation, SaveMode};

const QUERIES: [(&str, &str); 3] = [
    (
        "count and distinct users",
        "SELECT count(*), count(DISTINCT user) FROM {t}",
    ),
    (
        "one day (partition filter)",
        "SELECT count(*) FROM {t} WHERE date = '2022-08-02'",
    ),
    (
        "per-user window (LAG over user, time)",
        "SELECT count(*) FROM (SELECT user, LAG(src_ip) OVER (PARTITION BY user ORDER BY time_ms, src_ip) AS p FROM {t} WHERE outcome = 'success') WHERE p IS NOT NULL AND p <> ''",
    ),
];

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let dir = std::path::absolute(std::env::args().nth(1).expect("usage: delta-probe DIR"))?;
    let files = count_parquet(&dir)?;
    let started = Instant::now();
    let table = ConvertToDeltaBuilder::new()
        .with_location(dir.display().to_string())
        .with_partition_schema(vec![StructField::new("date", DeltaType::STRING, true)])
        .await?;
    println!(
        "convert to Delta: {files} files in {:.2} s (version {})",
        started.elapsed().as_secs_f64(),
        table.version().unwrap_or_default()
    );

    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(2));
    table.update_datafusion_session(&ctx.state())?;
    let delta = table.table_provider().await?;
    let listing_options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_table_partition_cols(vec![("date".to_owned(), DataType::Utf8)])
        .with_file_sort_order(vec![vec![
            col("user").sort(true, false),
            col("time_ms").sort(true, false),
        ]]);
    ctx.register_listing_table(
        "listing",
        format!("{}/", dir.display()),
        listing_options,
        None,
        None,
    )
    .await?;
    ctx.register_table("delta", delta)?;
    println!(
        "{:<40} {:>12} {:>12} {:>7}",
        "query", "listing s", "delta s", "ratio"
    );
    for (name, sql) in QUERIES {
        let (mut l, mut d) = (Vec::new(), Vec::new());
        let (mut lr, mut dr) = (String::new(), String::new());
        for _ in 0..3 {
            for (t, times, out) in [("listing", &mut l, &mut lr), ("delta", &mut d, &mut dr)] {
                let start = Instant::now();
                let batches = ctx
                    .sql(&sql.replace("{t}", t))
                    .await?
                    .collect()
                    .await?;
                times.push(start.elapsed().as_secs_f64());
                *out = datafusion::arrow::util::pretty::pretty_format_batches(&batches)?
                    .to_string()
                    .lines()
                    .nth(3)
                    .unwrap_or_default()
                    .to_owned();
            }
        }
        let (l, d) = (median(l), median(d));
        println!(
            "{name:<40} {l:>12.3} {d:>12.3} {:>7.2}   {lr} / {dr}",
            l / d
        );
    }

    // Commit cost: one more file each time.
    let sample = first_parquet(&dir)?;
    let size = std::fs::metadata(&sample)?.len();
    let probe_dir = dir.join("date=2099-01-01");
    std::fs::create_dir_all(&probe_dir)?;
    let mut table = table;
    let (mut delta_s, mut own_s) = (Vec::new(), Vec::new());
    for i in 0..20 {
        let name = format!("probe-{i:02}.parquet");
        std::fs::copy(&sample, probe_dir.join(&name))?;
        let add = Add {
            path: format!("date=2099-01-01/{name}"),
            partition_values: HashMap::from([("date".to_owned(), Some("2099-01-01".to_owned()))]),
            size: i64::try_from(size)?,
            modification_time: chrono::Utc::now().timestamp_millis(),
            data_change: true,
            ..Default::default()
        };
        let start = Instant::now();
        CommitBuilder::default()
            .with_actions(vec![Action::Add(add)])
            .build(
                Some(table.snapshot()?),
                table.log_store(),
                DeltaOperation::Write {
                    mode: SaveMode::Append,
                    partition_by: Some(vec!["date".to_owned()]),
                    predicate: None,
                },
            )
            .await?;
        table.update_state().await?;
        delta_s.push(start.elapsed().as_secs_f64());

        // midgame's commit: a manifest record (about 2 KB) written, synced, renamed.
        let record = vec![b'x'; 2048];
        let start = Instant::now();
        let tmp = dir.join(format!("_probe-{i}.json.tmp"));
        std::fs::write(&tmp, &record)?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, dir.join(format!("_probe-{i}.json")))?;
        own_s.push(start.elapsed().as_secs_f64());
    }
    println!(
        "commit one file: Delta {:.2} ms, midgame's manifest record {:.2} ms (medians of 20)",
        median(delta_s) * 1e3,
        median(own_s) * 1e3
    );
    Ok(())
}

fn count_parquet(dir: &std::path::Path) -> anyhow::Result<usize> {
    let mut n = 0;
    for part in std::fs::read_dir(dir)? {
        let part = part?.path();
        if part.is_dir() {
            n += std::fs::read_dir(&part)?
                .filter(|f| {
                    f.as_ref()
                        .is_ok_and(|f| f.path().extension().is_some_and(|e| e == "parquet"))
                })
                .count();
        }
    }
    Ok(n)
}

fn first_parquet(dir: &std::path::Path) -> anyhow::Result<std::path::PathBuf> {
    for part in std::fs::read_dir(dir)? {
        let part = part?.path();
        if part.is_dir() && !part.ends_with("_delta_log") {
            for f in std::fs::read_dir(&part)? {
                let f = f?.path();
                if f.extension().is_some_and(|e| e == "parquet") {
                    return Ok(f);
                }
            }
        }
    }
    anyhow::bail!("no Parquet file under {}", dir.display())
}
