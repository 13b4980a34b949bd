//! Hostile and broken input at the door (issue 18): a record longer than the limit is
//! quarantined by its length and the rest of the file read, a decompression bomb is
//! refused by size or ratio, and a bad record keeps its original bytes. Peak memory on
//! the full-size inputs is measured by `benches/hostile/run.sh`.

use std::io::Write;
use std::path::{Path, PathBuf};

use midgame_lake::{IngestOptions, Lake, Limits};

fn okta_line(n: usize) -> String {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../sources/tests/fixtures/okta/panther/rule-tests.ndjson"),
    )
    .unwrap();
    text.lines()
        .filter(|l| l.contains("user.session.start"))
        .nth(n)
        .unwrap()
        .to_owned()
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
    let report = lake.ingest_file(&file, &limits(64 * 1024), &|_| {}).unwrap();
    assert_eq!(report.auth_rows, 2, "the sign-ins around them");
    assert_eq!(report.quarantined, 2);
    let q = quarantine(&lake);
    let lines: Vec<u64> = q.iter().map(|v| v["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [1, 3]);
    assert_eq!(q[0]["length"], 2_000_000);
    assert_eq!(q[1]["length"], 3_000_000);
    assert!(q[0]["reason"].as_str().unwrap().contains("over the 65536 byte limit"));
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
    let err = lake.ingest_file(&file, &opts, &|_| {}).unwrap_err().to_string();
    assert!(err.starts_with(&file.display().to_string()), "{err}");
    assert!(err.contains("more than 20 times its size"), "{err}");
    assert!(lake.data_files("auth").unwrap().is_empty(), "nothing of it is kept");
    assert!(lake.manifest().unwrap().is_empty());

    let opts = IngestOptions {
        limits: Limits {
            max_decompressed_bytes: 10_000_000,
            ..Limits::default()
        },
        ..IngestOptions::default()
    };
    let err = lake.ingest_file(&file, &opts, &|_| {}).unwrap_err().to_string();
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
