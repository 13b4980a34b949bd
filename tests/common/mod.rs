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

/// A moto S3 server on an ephemeral loopback port, stopped when dropped.
pub struct Moto {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn moto() -> Option<Moto> {
    moto_with(&[])
}

/// [`moto`] with `env` in the server's environment.
pub fn moto_with(env: &[(&str, &str)]) -> Option<Moto> {
    let found = std::process::Command::new("python3")
        .args(["-c", "import moto.server"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var("MIDGAME_REQUIRE_S3").as_deref() != Ok("1"),
            "moto is not installed (pip install 'moto[server]') and MIDGAME_REQUIRE_S3=1"
        );
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new("python3")
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let m = Moto { child, url };
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(m);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("moto did not start on {}", m.url);
}

pub fn put(url: &str, body: &[u8]) {
    let resp = ureq::put(url).send(body).unwrap();
    assert!(resp.status().is_success(), "PUT {url}: {}", resp.status());
}

/// `c` with the AWS environment of the moto server `s3`.
pub fn aws<'c>(c: &'c mut Command, s3: &Moto) -> &'c mut Command {
    c.env("AWS_ENDPOINT_URL", &s3.url)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
}

/// The keys under `prefix` in `bucket` of the moto server `s3`.
pub fn s3_keys(s3: &Moto, bucket: &str, prefix: &str) -> Vec<String> {
    let body = ureq::get(&format!(
        "{}/{bucket}?list-type=2&prefix={prefix}&max-keys=1000",
        s3.url
    ))
    .call()
    .unwrap()
    .into_body()
    .read_to_string()
    .unwrap();
    body.split("<Key>")
        .skip(1)
        .filter_map(|k| k.split("</Key>").next().map(str::to_owned))
        .collect()
}

/// Two days of generated logs of 20 users (`midgame gen`, seed 7) in `out`.
pub fn gen_logs(out: &Path) {
    ok(&midgame(&[
        "gen",
        "--out",
        out.to_str().unwrap(),
        "--users",
        "20",
        "--days",
        "2",
        "--seed",
        "7",
    ]));
}
