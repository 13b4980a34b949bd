//! `midgame compact` clusters the lake by user: the same alerts before and after, the
//! per-user windows read the buckets without a sort or a repartition, rows ingested
//! afterwards land in their buckets, and a compaction killed at any step leaves the lake
//! readable and whole.

mod common;

use std::path::{Path, PathBuf};

use common::{bin, copy_dir, midgame, ok, repo, sample_lake, stderr};

fn detect(lake: &Path) -> String {
    ok(&bin()
        .args(["detect", "--format", "ndjson", "--lake"])
        .arg(lake)
        .output()
        .unwrap())
}

fn sql(lake: &Path, query: &str) -> String {
    ok(&bin()
        .args(["sql", "--format", "csv", "--max-rows", "0", "--lake"])
        .arg(lake)
        .arg(query)
        .output()
        .unwrap())
}

fn compact(lake: &Path, extra: &[&str]) -> String {
    ok(&bin()
        .args(["compact", "--lake"])
        .arg(lake)
        .args(extra)
        .output()
        .unwrap())
}

/// The folders of a table (`date=...` or `bucket=...`).
fn folders(lake: &Path, table: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(lake.join(table))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

const WINDOW: &str = "EXPLAIN SELECT user, time_ms, LAG(src_ip) OVER (PARTITION BY user ORDER BY time_ms, src_ip) AS prev FROM auth";

/// A lake of `logs` (a file or folder), or of all of `sample-logs/`.
fn sample(dir: &Path, logs: Option<&str>) -> PathBuf {
    let Some(logs) = logs else {
        return sample_lake(dir);
    };
    let lake = dir.join("lake");
    let o = midgame(&["ingest", "-q", "--lake", lake.to_str().unwrap(), logs]);
    assert!(o.status.success(), "{}", stderr(&o));
    lake
}

#[test]
fn clustering_keeps_every_alert_and_the_windows_read_the_buckets_as_they_are() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = sample(tmp.path(), None);
    let before = detect(&lake);
    assert!(before.lines().count() > 5, "{before}");
    let daily_plan = sql(&lake, WINDOW);
    // The day-partitioned lake: the engine sorts the whole table for the window.
    assert!(daily_plan.contains("SortExec"), "{daily_plan}");
    let days = folders(&lake, "auth");
    assert!(days.iter().all(|d| d.starts_with("date=")), "{days:?}");

    compact(&lake, &["--buckets", "3"]);
    assert_eq!(
        folders(&lake, "auth"),
        ["bucket=000", "bucket=001", "bucket=002"]
    );
    assert_eq!(detect(&lake), before, "the same alerts, byte for byte");
    let plan = sql(&lake, WINDOW);
    assert!(!plan.contains("SortExec"), "{plan}");
    assert!(!plan.contains("RepartitionExec"), "{plan}");
    assert!(plan.contains("Range([user"), "{plan}");
    // `date` is a column of the clustered files, the UTC day of every row as before.
    let wrong = sql(
        &lake,
        "SELECT count(*) AS n FROM auth WHERE date <> to_char(time, '%Y-%m-%d')",
    );
    assert_eq!(wrong.lines().nth(1), Some("0"), "{wrong}");
    let days_seen = sql(&lake, "SELECT count(DISTINCT date) AS n FROM auth");
    assert_eq!(
        days_seen.lines().nth(1),
        Some(days.len().to_string().as_str())
    );
    // `midgame verify` checks the clustered files against their records.
    ok(&bin()
        .args(["verify", "--lake"])
        .arg(&lake)
        .output()
        .unwrap());
}

#[test]
fn rows_ingested_after_clustering_land_in_their_buckets_until_compact_merges_them() {
    let tmp = tempfile::tempdir().unwrap();
    let whole = sample(&tmp.path().join("whole"), None);
    let expected = detect(&whole);

    let part = tmp.path().join("part");
    // The first week of Okta logs, then everything (the rest is new).
    let first = tmp.path().join("first-week");
    std::fs::create_dir_all(&first).unwrap();
    for day in 20..27 {
        let name = format!("okta-2022-07-{day}.ndjson.gz");
        std::fs::copy(
            repo().join("sample-logs/okta").join(&name),
            first.join(&name),
        )
        .unwrap();
    }
    let lake = sample(&part, Some(first.to_str().unwrap()));
    compact(&lake, &["--buckets", "2"]);
    sample(&part, Some(repo().join("sample-logs").to_str().unwrap()));
    // New rows went into the two buckets, beside the clustered files.
    assert_eq!(folders(&lake, "auth"), ["bucket=000", "bucket=001"]);
    let files = |b: &str| {
        std::fs::read_dir(lake.join("auth").join(b))
            .unwrap()
            .count()
    };
    assert!(files("bucket=000") > 1 && files("bucket=001") > 1);
    assert_eq!(detect(&lake), expected);
    // Buckets with several files are not declared in order: the engine sorts them.
    assert!(sql(&lake, WINDOW).contains("SortExec"));

    compact(&lake, &[]);
    assert_eq!(files("bucket=000"), 1);
    assert_eq!(files("bucket=001"), 1);
    assert_eq!(detect(&lake), expected);
    let plan = sql(&lake, WINDOW);
    assert!(!plan.contains("SortExec"), "{plan}");
}

#[test]
fn a_compaction_killed_at_any_step_leaves_the_lake_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = sample(tmp.path(), None);
    let expected = detect(&lake);
    let trace = bin()
        .env("MIDGAME_CRASH_TRACE", "1")
        .args(["compact", "--buckets", "2", "--lake"])
        .arg({
            let l = tmp.path().join("traced");
            copy_dir(&lake, &l);
            l
        })
        .output()
        .unwrap();
    let steps = String::from_utf8_lossy(&trace.stderr)
        .lines()
        .filter(|l| l.starts_with("crashpoint "))
        .count();
    assert!(steps >= 4, "{}", String::from_utf8_lossy(&trace.stderr));
    for n in 1..=steps {
        let l = tmp.path().join(format!("crash-{n}"));
        copy_dir(&lake, &l);
        let o = bin()
            .env("MIDGAME_CRASH_AT", n.to_string())
            .args(["compact", "--buckets", "2", "--lake"])
            .arg(&l)
            .output()
            .unwrap();
        assert!(!o.status.success(), "step {n} did not stop the run");
        assert_eq!(detect(&l), expected, "killed at step {n}");
        compact(&l, &["--buckets", "2"]);
        assert_eq!(detect(&l), expected, "compacted after a kill at step {n}");
        assert_eq!(
            folders(&l, "auth"),
            ["bucket=000", "bucket=001"],
            "step {n}"
        );
    }
}

#[test]
fn compacting_buckets_whose_files_share_names_keeps_each_bucket() {
    // One ingest writes `<hash>-0000.parquet` into every bucket its users fall in, so
    // buckets can hold files of the same names. Their compactions once shared one id and
    // one record, the second replacing the first: a whole bucket was no longer read.
    let tmp = tempfile::tempdir().unwrap();
    let lake = sample(tmp.path(), None);
    compact(&lake, &["--buckets", "2"]);
    let more = tmp.path().join("more");
    common::gen_logs(&more);
    sample(tmp.path(), Some(more.to_str().unwrap()));
    let names = |b: &str| {
        let mut n: Vec<String> = std::fs::read_dir(lake.join("auth").join(b))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    };
    assert_eq!(names("bucket=000"), names("bucket=001"), "the case at hand");
    let expected = detect(&lake);
    let rows = sql(&lake, "SELECT count(*) AS n FROM auth");
    compact(&lake, &[]);
    assert_eq!(names("bucket=000").len(), 1);
    assert_ne!(names("bucket=000"), names("bucket=001"));
    assert_eq!(sql(&lake, "SELECT count(*) AS n FROM auth"), rows);
    assert_eq!(detect(&lake), expected);
    ok(&bin()
        .args(["verify", "--lake"])
        .arg(&lake)
        .output()
        .unwrap());
}
