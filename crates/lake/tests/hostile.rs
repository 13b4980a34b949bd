//! Hostile and broken input at the door (issue 18): a record longer than the limit is
//! quarantined by its length and the rest of the file read, a decompression bomb is
//! refused by size or ratio, and a bad record keeps its original bytes. Peak memory on
//! the full-size inputs is measured by `benches/hostile/run.sh`.

use std::io::Write;
use std::path::{Path, PathBuf};

use midgame_lake::{FileOutcome, IngestOptions, Lake, Limits};

fn okta_line(n: usize) -> String {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../sources/tests/fixtures/okta/panther/rule-tests.ndjson"),
    )
    .unwrap();
    // Distinct lines: the fixture repeats some events.
    let mut seen = std::collections::HashSet::new();
    text.lines()
        .filter(|l| l.contains("user.session.start") && seen.insert(*l))
        .nth(n)
        .unwrap()
        .to_owned()
}

/// A distinct sign-in: the first one of the fixture with its own event id.
fn tagged(i: usize, tag: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(&okta_line(0)).unwrap();
    v["uuid"] = format!("{tag}-{i}").into();
    v.to_string()
}

fn quarantine(lake: &Lake) -> Vec<serde_json::Value> {
    let dir = lake.root().join("_quarantine");
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        for l in std::fs::read_to_string(e.unwrap().path()).unwrap().lines() {
            out.push(serde_json::from_str(l).unwrap());
        }
    }
    out
}

fn limits(max_record_bytes: usize) -> IngestOptions {
    IngestOptions {
        limits: Limits {
            max_record_bytes,
            ..Limits::default()
        },
        ..IngestOptions::default()
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn a_record_over_the_limit_is_quarantined_by_its_length_and_the_rest_read() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    // An endless line (no newline until 3 MB later) between two sign-ins, and one at the
    // very start so that it is all the first chunk holds.
    let mut text = Vec::new();
    text.extend(std::iter::repeat_n(b'z', 2_000_000));
    text.push(b'\n');
    text.extend(okta_line(0).as_bytes());
    text.push(b'\n');
    text.extend(std::iter::repeat_n(b'{', 3_000_000));
    text.push(b'\n');
    text.extend(okta_line(1).as_bytes());
    text.push(b'\n');
    let file = write(dir.path(), "okta.ndjson", &text);
    let report = lake
        .ingest_file(&file, &limits(64 * 1024), &|_| {})
        .unwrap();
    assert_eq!(report.auth_rows, 2, "the sign-ins around them");
    assert_eq!(report.quarantined, 2);
    let q = quarantine(&lake);
    let lines: Vec<u64> = q.iter().map(|v| v["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [1, 3]);
    assert_eq!(q[0]["length"], 2_000_000);
    assert_eq!(q[1]["length"], 3_000_000);
    assert!(
        q[0]["reason"]
            .as_str()
            .unwrap()
            .contains("over the 65536 byte limit")
    );
    // Only the start is kept.
    assert!(q[0]["text"].as_str().unwrap().len() <= 4096);
}

#[test]
fn a_decompression_bomb_is_refused_by_its_ratio_and_by_its_size() {
    let dir = tempfile::tempdir().unwrap();
    // 80 MB of one repeated sign-in compresses far more than logs do.
    let line = okta_line(0) + "\n";
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let mut written = 0;
    while written < 80_000_000 {
        gz.write_all(line.as_bytes()).unwrap();
        written += line.len();
    }
    let bytes = gz.finish().unwrap();
    let file = write(dir.path(), "bomb.ndjson.gz", &bytes);
    let ratio = 80_000_000 / bytes.len() as u64;
    assert!(ratio > 100, "the test file compresses {ratio} times");

    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let opts = IngestOptions {
        limits: Limits {
            max_ratio: 20,
            ..Limits::default()
        },
        ..IngestOptions::default()
    };
    let err = lake
        .ingest_file(&file, &opts, &|_| {})
        .unwrap_err()
        .to_string();
    assert!(err.starts_with(&file.display().to_string()), "{err}");
    assert!(err.contains("more than 20 times its size"), "{err}");
    assert!(
        lake.data_files("auth").unwrap().is_empty(),
        "nothing of it is kept"
    );
    assert!(lake.manifest().unwrap().is_empty());

    let opts = IngestOptions {
        limits: Limits {
            max_decompressed_bytes: 10_000_000,
            ..Limits::default()
        },
        ..IngestOptions::default()
    };
    let err = lake
        .ingest_file(&file, &opts, &|_| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("more than 10000000 bytes"), "{err}");

    // Within the limits (the defaults), the same file is ingested whole.
    let report = lake
        .ingest_file(&file, &IngestOptions::default(), &|_| {})
        .unwrap();
    assert_eq!(report.auth_rows, 80_000_000_u64.div_ceil(line.len() as u64));
}

#[test]
fn a_bad_record_keeps_its_original_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let mut text = okta_line(0).into_bytes();
    text.push(b'\n');
    let bad: &[u8] = b"{\"published\": \"\xff\xfe not utf-8 \x00\", \"eventType\": 7}";
    text.extend(bad);
    text.push(b'\n');
    let file = write(dir.path(), "okta.ndjson", &text);
    let report = lake
        .ingest_file(&file, &IngestOptions::default(), &|_| {})
        .unwrap();
    assert_eq!((report.auth_rows, report.quarantined), (1, 1));
    let q = quarantine(&lake);
    use base64::Engine as _;
    let kept = base64::engine::general_purpose::STANDARD
        .decode(q[0]["base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(kept, bad, "the bytes as they were, not U+FFFD");
    assert!(q[0].get("text").is_none());
}

/// Every `date=` partition folder of a table.
fn partitions(lake: &Lake, table: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(lake.root().join(table))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Admin-audit times in the years 9999, 10000, -1 and 1677 once made partitions such as
/// `date=10000-01-01` and moved a user's first sighting to year -1, which defeated the
/// learning period; they are quarantined with the reason now.
#[test]
fn times_outside_a_sane_window_are_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let at = |t: &str| {
        format!(r#"{{"time":{t},"actor":"mallory@example.com","action":"customer.view"}}"#)
    };
    let text = [
        at("\"2022-08-04T10:12:33Z\""),
        at("253370764800000"), // 9999-01-01
        at("253402300800000"), // 10000-01-01
        at("-62198755200000"), // year -1
        at("-9214560000000"),  // 1677
        at("\"1989-12-31T23:59:59Z\""),
        at("\"2022-08-05T10:12:33Z\""),
    ]
    .join("\n");
    let file = write(dir.path(), "audit.ndjson", text.as_bytes());
    let report = lake
        .ingest_file(&file, &IngestOptions::default(), &|_| {})
        .unwrap();
    assert_eq!((report.admin_rows, report.quarantined), (2, 5));
    assert_eq!(
        partitions(&lake, "admin"),
        ["date=2022-08-04", "date=2022-08-05"]
    );
    let q = quarantine(&lake);
    let reasons: Vec<&str> = q.iter().map(|v| v["reason"].as_str().unwrap()).collect();
    assert!(
        reasons[0].starts_with("time 9999-01-01 is after"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].starts_with("time 10000-01-01 is after"),
        "{reasons:?}"
    );
    // Before the epoch, a number is no timestamp of this format at all.
    assert!(reasons[2].contains("is not a timestamp"), "{reasons:?}");
    assert!(reasons[3].contains("is not a timestamp"), "{reasons:?}");
    assert!(
        reasons[4].starts_with("time 1989-12-31 is before 1990-01-01"),
        "{reasons:?}"
    );
    // A file from the future of its own writing is refused too: the window ends a day
    // after the file's modification time.
    let old = write(
        dir.path(),
        "old.ndjson",
        at("\"2022-08-04T10:12:33Z\"").as_bytes(),
    );
    let f = std::fs::File::options().write(true).open(&old).unwrap();
    f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000))
        .unwrap();
    let report = lake
        .ingest_file(&old, &IngestOptions::default(), &|_| {})
        .unwrap();
    assert_eq!((report.admin_rows, report.quarantined), (0, 1));
}

/// `999.1.1.1` and `1.2.3.4; DROP TABLE auth` were stored as addresses and `lat 1e308`
/// as a place; an Okta `actor` given as a string made a row with no user.
#[test]
fn invalid_values_are_null_with_the_original_in_raw_and_a_broken_actor_is_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let good = okta_line(0);
    let v: serde_json::Value = serde_json::from_str(&good).unwrap();
    let with = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = v.clone();
        f(&mut v);
        v.to_string()
    };
    let lines = [
        with(&|v| v["client"]["ipAddress"] = "999.1.1.1".into()),
        with(&|v| v["client"]["ipAddress"] = "1.2.3.4; DROP TABLE auth".into()),
        with(&|v| v["client"]["geographicalContext"]["geolocation"]["lat"] = 1e308.into()),
        with(&|v| v["actor"] = "mallory@example.com".into()),
        good.clone(),
    ];
    let file = write(dir.path(), "okta.ndjson", lines.join("\n").as_bytes());
    let report = lake
        .ingest_file(&file, &IngestOptions::default(), &|_| {})
        .unwrap();
    assert_eq!((report.auth_rows, report.quarantined), (4, 1));
    assert_eq!(report.nulled, 3, "two addresses and one place");
    let q = quarantine(&lake);
    assert_eq!(q[0]["line"], 4);
    assert!(
        q[0]["reason"].as_str().unwrap().contains("`actor`"),
        "{}",
        q[0]
    );
    // The rows: null where the value was invalid, the original in raw.
    let mut ips = Vec::new();
    for f in lake.data_files("auth").unwrap() {
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(f).unwrap(),
        )
        .unwrap()
        .build()
        .unwrap();
        for b in reader {
            use arrow::array::{Array, AsArray};
            let b = b.unwrap();
            let (ip, lat, raw, line) = (
                b.column_by_name("src_ip")
                    .unwrap()
                    .as_string::<i32>()
                    .clone(),
                b.column_by_name("geo_lat").unwrap().clone(),
                b.column_by_name("raw").unwrap().as_string::<i32>().clone(),
                b.column_by_name("line").unwrap().clone(),
            );
            let line = line.as_primitive::<arrow::datatypes::Int64Type>();
            for i in 0..b.num_rows() {
                ips.push((
                    line.value(i),
                    ip.is_valid(i).then(|| ip.value(i).to_owned()),
                    lat.is_valid(i),
                    raw.value(i).to_owned(),
                ));
            }
        }
    }
    ips.sort();
    assert_eq!(ips[0].1, None);
    assert!(ips[0].3.contains("999.1.1.1"));
    assert_eq!(ips[1].1, None);
    assert!(ips[1].3.contains("DROP TABLE"));
    assert!(!ips[2].2, "latitude 1e308 is not stored");
    assert!(ips[3].1.is_some(), "the good row keeps its address");
}

/// A folder with two log files, a link back to its parent (`d/sub/up -> ..`), a FIFO and
/// a socket-free device-free rest.
fn loop_tree(root: &Path) -> PathBuf {
    let d = root.join("d");
    std::fs::create_dir_all(d.join("sub")).unwrap();
    std::fs::write(d.join("a.ndjson"), okta_line(0) + "\n").unwrap();
    std::fs::write(d.join("sub/b.ndjson"), okta_line(1) + "\n").unwrap();
    std::os::unix::fs::symlink("..", d.join("sub/up")).unwrap();
    let fifo = d.join("sub/pipe.log");
    let ok = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success();
    assert!(ok, "mkfifo");
    d
}

/// A symlink loop (`ln -s .. d/sub/up`) once made the walk go on for ever (each file
/// visited about 40 times before the names got too long) and a FIFO blocked ingest for
/// ever; now each folder is walked once and the FIFO is passed over with a warning.
#[test]
fn a_symlink_loop_ends_and_a_fifo_is_passed_over() {
    let dir = tempfile::tempdir().unwrap();
    let d = loop_tree(dir.path());
    let found = midgame_lake::find_inputs(std::slice::from_ref(&d)).unwrap();
    assert_eq!(found.files, [d.join("a.ndjson"), d.join("sub/b.ndjson")]);
    let why: Vec<String> = found
        .skipped
        .iter()
        .map(|(p, w)| format!("{}: {w}", p.display()))
        .collect();
    assert!(
        why.iter()
            .any(|w| w.contains("pipe.log: not a regular file")),
        "{why:?}"
    );
    assert!(
        why.iter()
            .any(|w| w.contains("sub/up: a folder already walked")),
        "{why:?}"
    );
    assert!(found.failed.is_empty());
    // Ingest reads the two files and does not wait on the FIFO.
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let s = lake
        .ingest_paths(
            std::slice::from_ref(&d),
            &IngestOptions::default(),
            &midgame_lake::Silent,
        )
        .unwrap();
    assert_eq!((s.new_files, s.auth_rows), (2, 2), "{s:?}");
    // A `**` pattern over the loop ends too, with the same files.
    let m = midgame_lake::find_globs(&[(0, d.join("**/*.ndjson"))]).unwrap();
    let files: Vec<&PathBuf> = m.files.iter().map(|(_, p)| p).collect();
    assert_eq!(files, [&d.join("a.ndjson"), &d.join("sub/b.ndjson")]);
    // A FIFO named on the command line is a failed path, not a wait.
    let found = midgame_lake::find_inputs(&[d.join("sub/pipe.log")]).unwrap();
    assert!(found.files.is_empty());
    assert_eq!(found.failed.len(), 1);
}

/// A file that grew from 5 to 50 lines, then a 20-line copy of its start ingested as
/// another file, was taken for the file's growth and added 15 duplicate rows; the copy
/// adds nothing now. A renamed file that grows is still read on from where it was.
#[test]
fn a_copy_of_a_grown_files_start_is_not_growth_but_a_rename_is() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let lines: Vec<String> = (0..50).map(|i| tagged(i, "a")).collect();
    let upto = |n: usize| lines[..n].join("\n") + "\n";
    let a = dir.path().join("a.ndjson");
    std::fs::write(&a, upto(5)).unwrap();
    let r = lake
        .ingest_file(&a, &IngestOptions::default(), &|_| {})
        .unwrap();
    assert_eq!(r.auth_rows, 5);
    std::fs::write(&a, upto(50)).unwrap();
    let r = lake
        .ingest_file(&a, &IngestOptions::default(), &|_| {})
        .unwrap();
    assert_eq!(
        (r.outcome.clone(), r.auth_rows),
        (
            FileOutcome::Appended {
                from: upto(5).len() as u64
            },
            45
        )
    );
    let copy = dir.path().join("copy.ndjson");
    std::fs::write(&copy, upto(20)).unwrap();
    let r = lake
        .ingest_file(&copy, &IngestOptions::default(), &|_| {})
        .unwrap();
    assert!(
        matches!(r.outcome, FileOutcome::AlreadyIngested { .. }),
        "{:?}",
        r.outcome
    );
    assert_eq!(r.auth_rows, 0, "no duplicate rows");

    // A rename is growth: b.ndjson read to 5 lines, renamed, grown to 8.
    let b_lines: Vec<String> = (0..8).map(|i| tagged(i, "b")).collect();
    let b = dir.path().join("b.ndjson");
    std::fs::write(&b, b_lines[..5].join("\n") + "\n").unwrap();
    assert_eq!(
        lake.ingest_file(&b, &IngestOptions::default(), &|_| {})
            .unwrap()
            .auth_rows,
        5
    );
    let b1 = dir.path().join("b.ndjson.1");
    std::fs::rename(&b, &b1).unwrap();
    std::fs::write(&b1, b_lines.join("\n") + "\n").unwrap();
    let r = lake
        .ingest_file(&b1, &IngestOptions::default(), &|_| {})
        .unwrap();
    assert!(
        matches!(r.outcome, FileOutcome::Appended { .. }),
        "{:?}",
        r.outcome
    );
    assert_eq!(r.auth_rows, 3);
}
