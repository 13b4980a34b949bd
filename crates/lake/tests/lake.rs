//! The lake writer on real Okta fixtures: partitions, order, idempotence, quarantine and
//! recovery from a killed run.

use std::io::Write;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use midgame_lake::{FileOutcome, IngestOptions, Lake, LakeError, Layout};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../sources/tests/fixtures/okta/panther")
        .join(name)
}

fn read_table(lake: &Lake, table: &str) -> Vec<RecordBatch> {
    lake.data_files(table)
        .unwrap()
        .into_iter()
        .flat_map(|f| {
            ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(f).unwrap())
                .unwrap()
                .build()
                .unwrap()
                .map(Result::unwrap)
                .collect::<Vec<_>>()
        })
        .collect()
}

fn rows(lake: &Lake, table: &str) -> usize {
    read_table(lake, table)
        .iter()
        .map(RecordBatch::num_rows)
        .sum()
}

fn no_progress(_: u64) {}

#[test]
fn ingest_partitions_by_day_and_sorts_by_user_then_time() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path()).unwrap();
    let report = lake
        .ingest_file(
            &fixture("rule-tests.ndjson"),
            &IngestOptions::default(),
            &no_progress,
        )
        .unwrap();
    assert_eq!(report.outcome, FileOutcome::Ingested);
    assert_eq!(report.auth_rows + report.quarantined, 88);
    assert_eq!(rows(&lake, "auth") as u64, report.auth_rows);
    let files = lake.data_files("auth").unwrap();
    assert!(files.len() > 3, "events of many days make many partitions");
    for f in &files {
        let date = f.parent().unwrap().file_name().unwrap().to_str().unwrap();
        assert!(date.starts_with("date=") && date.len() == 15, "{date}");
        let batches: Vec<RecordBatch> =
            ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(f).unwrap())
                .unwrap()
                .build()
                .unwrap()
                .map(Result::unwrap)
                .collect();
        for b in batches {
            let users = b.column_by_name("user").unwrap().as_string::<i32>();
            let times = b
                .column_by_name("time_ms")
                .unwrap()
                .as_primitive::<Int64Type>();
            for i in 1..b.num_rows() {
                let key = |i: usize| {
                    (
                        users.is_null(i),
                        users.is_valid(i).then(|| users.value(i)),
                        times.value(i),
                    )
                };
                assert!(
                    key(i - 1) <= key(i),
                    "{}: rows {} and {i} out of order",
                    f.display(),
                    i - 1
                );
                assert_eq!(
                    midgame_schema::day_string(midgame_schema::epoch_day(times.value(i))),
                    date[5..]
                );
            }
        }
    }
    // Quarantine holds each bad record with file, line and reason.
    let q = std::fs::read_to_string(Layout::new(dir.path()).quarantine_file(&report.hash)).unwrap();
    let lines: Vec<serde_json::Value> = q
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len() as u64, report.quarantined);
    assert!(lines.iter().all(
        |l| l["file"].as_str().unwrap().ends_with("rule-tests.ndjson")
            && l["line"].as_u64().unwrap() > 0
            && !l["reason"].as_str().unwrap().is_empty()
    ));
}

#[test]
fn ingesting_the_same_bytes_again_adds_nothing_even_under_another_name() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path()).unwrap();
    let first = lake
        .ingest_file(
            &fixture("brute_force_logins.ndjson"),
            &IngestOptions::default(),
            &no_progress,
        )
        .unwrap();
    assert_eq!(first.auth_rows, 10);
    let again = lake
        .ingest_file(
            &fixture("brute_force_logins.ndjson"),
            &IngestOptions::default(),
            &no_progress,
        )
        .unwrap();
    assert!(matches!(again.outcome, FileOutcome::AlreadyIngested { .. }));
    let copy = dir.path().join("renamed.json");
    std::fs::copy(fixture("brute_force_logins.ndjson"), &copy).unwrap();
    let renamed = Lake::open(dir.path())
        .unwrap()
        .ingest_file(&copy, &IngestOptions::default(), &no_progress)
        .unwrap();
    assert!(
        matches!(renamed.outcome, FileOutcome::AlreadyIngested { ref as_path } if as_path.ends_with("brute_force_logins.ndjson"))
    );
    assert_eq!(rows(&lake, "auth"), 10);
    assert_eq!(lake.manifest().unwrap().len(), 1);
}

#[test]
fn a_small_buffer_writes_several_files_and_loses_no_row() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path()).unwrap();
    let opts = IngestOptions {
        buffer_bytes: 1,
        chunk_bytes: 512,
        ..IngestOptions::default()
    };
    let report = lake
        .ingest_file(&fixture("legit_login.ndjson"), &opts, &no_progress)
        .unwrap();
    assert_eq!(report.auth_rows, 5);
    assert!(lake.data_files("auth").unwrap().len() >= 2);
    assert_eq!(rows(&lake, "auth"), 5);
}

#[test]
fn a_killed_run_leaves_nothing_that_the_next_open_keeps() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path()).unwrap();
    lake.ingest_file(
        &fixture("legit_login.ndjson"),
        &IngestOptions::default(),
        &no_progress,
    )
    .unwrap();
    // What a run killed before its commit leaves: a renamed data file with no manifest
    // entry, a quarantine file, and a half-written temporary file.
    let committed = lake.data_files("auth").unwrap()[0].clone();
    let orphan = committed.with_file_name(format!("{}-0000.parquet", "f".repeat(32)));
    std::fs::copy(&committed, &orphan).unwrap();
    std::fs::write(
        Layout::new(dir.path()).quarantine_file(&"f".repeat(32)),
        "{}\n",
    )
    .unwrap();
    std::fs::write(
        Layout::new(dir.path())
            .tmp_dir()
            .join("123-0-x.parquet.tmp"),
        "PAR1 half",
    )
    .unwrap();
    let lake = Lake::open(dir.path()).unwrap();
    assert!(!orphan.exists());
    assert!(committed.exists());
    assert_eq!(
        std::fs::read_dir(Layout::new(dir.path()).tmp_dir())
            .unwrap()
            .count(),
        0
    );
    assert_eq!(
        std::fs::read_dir(Layout::new(dir.path()).quarantine_dir())
            .unwrap()
            .count(),
        0
    );
    assert_eq!(rows(&lake, "auth"), 5);
}

#[test]
fn a_truncated_gzip_fails_the_file_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let text = std::fs::read(fixture("rule-tests.ndjson")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&text).unwrap();
    let gz = gz.finish().unwrap();
    let cut = dir.path().join("cut.json.gz");
    std::fs::write(&cut, &gz[..gz.len() / 2]).unwrap();
    let err = lake
        .ingest_file(&cut, &IngestOptions::default(), &no_progress)
        .unwrap_err();
    assert!(matches!(err, LakeError::Io { .. }), "{err}");
    assert!(
        err.to_string().starts_with(&cut.display().to_string()),
        "{err}"
    );
    assert!(lake.data_files("auth").unwrap().is_empty());
    assert!(lake.manifest().unwrap().is_empty());
}

#[test]
fn an_unrecognised_format_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let f = dir.path().join("auth.log");
    std::fs::write(
        &f,
        "Aug  4 10:12:33 host sshd[1]: Accepted publickey for admin from 10.0.0.9\n",
    )
    .unwrap();
    let err = lake
        .ingest_file(&f, &IngestOptions::default(), &no_progress)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: unrecognised log format (none of: okta, cloudtrail, entra, admin-audit, cisco-asa, globalprotect, openvpn); name it with --source",
            f.display()
        )
    );
}

#[test]
fn an_empty_file_is_ingested_with_no_rows() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let f = dir.path().join("empty.json");
    std::fs::write(&f, "").unwrap();
    let r = lake
        .ingest_file(&f, &IngestOptions::default(), &no_progress)
        .unwrap();
    assert_eq!((r.rows(), r.quarantined), (0, 0));
}

/// (file, line, user, time_ms) of every auth row, sorted: what provenance says.
fn provenance(lake: &Lake) -> Vec<(String, i64, String, i64)> {
    let mut out = Vec::new();
    for b in read_table(lake, "auth") {
        let file = b.column_by_name("file").unwrap().as_string::<i32>();
        let line = b.column_by_name("line").unwrap();
        let line = arrow::compute::cast(line, &arrow::datatypes::DataType::Int64).unwrap();
        let line = line.as_primitive::<Int64Type>();
        let user = b.column_by_name("user").unwrap().as_string::<i32>();
        let time = b
            .column_by_name("time_ms")
            .unwrap()
            .as_primitive::<Int64Type>();
        for i in 0..b.num_rows() {
            out.push((
                file.value(i).to_owned(),
                line.value(i),
                if user.is_valid(i) {
                    user.value(i).to_owned()
                } else {
                    String::new()
                },
                time.value(i),
            ));
        }
    }
    out.sort();
    out
}

#[test]
fn a_growing_file_is_read_on_from_its_last_complete_line_with_the_same_line_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read(fixture("rule-tests.ndjson")).unwrap();
    let log = dir.path().join("okta.ndjson");
    // The whole file at once, for reference.
    std::fs::write(&log, &text).unwrap();
    let whole = Lake::open(&dir.path().join("whole")).unwrap();
    whole
        .ingest_file(&log, &IngestOptions::default(), &no_progress)
        .unwrap();
    let want = provenance(&whole);
    assert!(want.len() > 50);

    // The same bytes arriving in three pieces, cut in the middle of lines.
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let settle = IngestOptions {
        settle: Some(std::time::Duration::from_secs(3600)),
        ..IngestOptions::default()
    };
    let cuts = [text.len() / 3 + 7, 2 * text.len() / 3 + 3, text.len()];
    let mut outcomes = Vec::new();
    let mut held = Vec::new();
    for cut in cuts {
        std::fs::write(&log, &text[..cut]).unwrap();
        let r = lake.ingest_file(&log, &settle, &no_progress).unwrap();
        outcomes.push(r.outcome.clone());
        held.push(r.held);
    }
    assert_eq!(outcomes[0], FileOutcome::Ingested);
    assert!(matches!(outcomes[1], FileOutcome::Appended { from } if from > 0));
    assert!(matches!(outcomes[2], FileOutcome::Appended { .. }));
    assert!(
        held[0] > 0 && held[1] > 0,
        "the unfinished line waits: {held:?}"
    );
    assert_eq!(held[2], 0);
    assert_eq!(
        provenance(&lake),
        want,
        "nothing lost, nothing doubled, same lines"
    );
    assert_eq!(lake.manifest().unwrap().len(), 3);

    // Read again, renamed, or with an unfinished line appended: nothing new.
    let again = lake.ingest_file(&log, &settle, &no_progress).unwrap();
    assert!(matches!(again.outcome, FileOutcome::AlreadyIngested { .. }));
    let rotated = dir.path().join("okta.ndjson.1");
    std::fs::rename(&log, &rotated).unwrap();
    let r = lake.ingest_file(&rotated, &settle, &no_progress).unwrap();
    assert!(
        matches!(r.outcome, FileOutcome::AlreadyIngested { .. }),
        "{:?}",
        r.outcome
    );
    let mut more = text.clone();
    more.extend_from_slice(b"{\"half\": ");
    std::fs::write(&rotated, &more).unwrap();
    let r = lake.ingest_file(&rotated, &settle, &no_progress).unwrap();
    assert!(
        matches!(r.outcome, FileOutcome::AlreadyIngested { .. }),
        "{:?}",
        r.outcome
    );
    assert_eq!(r.held, 9);
    assert_eq!(provenance(&lake).len(), want.len());
}

#[test]
fn without_settling_an_unfinished_last_line_is_read_and_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let text = std::fs::read(fixture("legit_login.ndjson")).unwrap();
    let log = dir.path().join("okta.ndjson");
    let mut cut = text.clone();
    cut.extend_from_slice(b"{\"half\": ");
    std::fs::write(&log, &cut).unwrap();
    let r = lake
        .ingest_file(&log, &IngestOptions::default(), &no_progress)
        .unwrap();
    assert_eq!((r.auth_rows, r.quarantined, r.held), (5, 1, 0));
}

#[test]
fn a_lake_held_by_another_process_is_refused_and_a_dead_holder_is_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("lake");
    std::fs::create_dir_all(&root).unwrap();
    let lock = Layout::new(&root).lock_file();
    std::fs::write(&lock, "").unwrap();
    std::fs::write(&lock, "pid=4242 host=elsewhere\n").unwrap();
    // A process that holds the lock on its own descriptor (sh execs into sleep with it).
    let mut holder = std::process::Command::new("sh")
        .args(["-c", "exec 9>>\"$0\"; flock 9; exec sleep 30"])
        .arg(&lock)
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while Lake::open(&root).is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "flock never took the lock"
        );
        std::fs::write(&lock, "pid=4242 host=elsewhere\n").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let err = Lake::open(&root).unwrap_err();
    assert!(matches!(err, LakeError::Locked { .. }), "{err}");
    assert!(err.to_string().contains("pid=4242 host=elsewhere"), "{err}");
    holder.kill().unwrap();
    holder.wait().unwrap();
    // The holder died without clearing its line: the next run takes over and says so.
    let lake = Lake::open(&root).unwrap();
    assert_eq!(lake.took_over_lock_from(), Some("pid=4242 host=elsewhere"));
    let text = std::fs::read_to_string(&lock).unwrap();
    assert!(
        text.starts_with(&format!("pid={} ", std::process::id())),
        "{text}"
    );
    drop(lake);
    assert_eq!(
        std::fs::read_to_string(&lock).unwrap(),
        "",
        "a clean exit clears it"
    );
    assert_eq!(Lake::open(&root).unwrap().took_over_lock_from(), None);
}

#[test]
fn globs_find_each_file_once_for_its_first_group_and_name_what_matched_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for f in [
        "okta/2022/08/a.json.gz",
        "okta/b.json",
        "vpn/asa.log",
        "vpn/notes.md",
    ] {
        let p = d.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "x").unwrap();
    }
    let midgame_lake::GlobMatches {
        files, unmatched, ..
    } = midgame_lake::find_globs(&[
        (0, d.join("okta/**/*.json*")),
        (1, d.join("**/*.json")),
        (2, d.join("vpn/*.log")),
        (3, d.join("gone/*.log")),
    ])
    .unwrap();
    let rel: Vec<(usize, String)> = files
        .iter()
        .map(|(g, p)| (*g, p.strip_prefix(d).unwrap().display().to_string()))
        .collect();
    assert_eq!(
        rel,
        [
            (0, "okta/2022/08/a.json.gz".to_owned()),
            (0, "okta/b.json".to_owned()),
            (2, "vpn/asa.log".to_owned()),
        ]
    );
    assert_eq!(unmatched, [3], "group 1 matched, if only files group 0 had");
    let err = midgame_lake::find_globs(&[(0, d.join("a/[z"))]).unwrap_err();
    assert!(err.to_string().starts_with("glob "), "{err}");
}
