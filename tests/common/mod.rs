//! What the end-to-end tests share: the binary run as a user runs it, its output, and
//! the lake's tables read back as Arrow. Each test file uses a part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use arrow::array::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// The `midgame` binary with a plain environment: no colour, no log filter, lake or
/// config of the caller's, no crash point armed.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_midgame"));
    c.env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .env_remove("MIDGAME_CRASH_AT")
        .env_remove("MIDGAME_CRASH_TRACE")
        .env_remove("MIDGAME_LAKE")
        .env_remove("MIDGAME_CONFIG")
        // No config of the machine's or the developer's is found by accident.
        .env("XDG_CONFIG_HOME", "/nonexistent/midgame-tests");
    c
}

/// Run `midgame` with `args` and wait for it.
pub fn midgame(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

/// Run `midgame` with `args`, `input` on its standard input.
pub fn midgame_stdin(args: &[&str], input: &str) -> Output {
    use std::io::Write;
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// Standard output of a run that must have succeeded (else both streams, in the panic).
pub fn ok(o: &Output) -> String {
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "exit {:?}\nstdout:\n{out}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every row of one lake table (`auth`, `admin`, ...), read from its Parquet files.
pub fn lake_batches(lake: &Path, table: &str) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    let mut stack = vec![lake.join(table)];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                out.extend(read_parquet(&p));
            }
        }
    }
    out
}

/// Every row of one Parquet file.
pub fn read_parquet(path: &Path) -> Vec<RecordBatch> {
    ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap())
        .unwrap()
        .build()
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Copy a folder and everything below it.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

/// A lake (`DIR/lake`) of all of `sample-logs/`, ingested quietly.
pub fn sample_lake(dir: &Path) -> PathBuf {
    let lake = dir.join("lake");
    let o = midgame(&[
        "ingest",
        "-q",
        "--lake",
        lake.to_str().unwrap(),
        repo().join("sample-logs").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    lake
}
