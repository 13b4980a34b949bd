//! Archives on S3: `[[archive]] paths = ["s3://bucket/okta/**/*.json.gz"]`, read through
//! the usual AWS environment from a real S3-compatible server on 127.0.0.1 (moto, from
//! PyPI, in server mode), which the test starts and stops itself.
//!
//! Without moto the test says so and passes, unless `MIDGAME_REQUIRE_S3=1` (as `.ci/run`
//! sets, after installing it).

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{bin, repo, stderr};

/// A moto S3 server on an ephemeral loopback port, stopped when dropped.
struct Moto {
    child: Child,
    url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto() -> Option<Moto> {
    let found = Command::new("python3")
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
    let child = Command::new("python3")
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
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
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("moto did not start on {}", m.url);
}

fn put(url: &str, body: &[u8]) {
    let resp = ureq::put(url).send(body).unwrap();
    assert!(resp.status().is_success(), "PUT {url}: {}", resp.status());
}

fn run_with(s3: &Moto, cfg: &Path) -> (bool, String, String) {
    let o = bin()
        .env("AWS_ENDPOINT_URL", &s3.url)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .args(["run", "--config"])
        .arg(cfg)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let last = out.lines().last().unwrap_or_default().to_owned();
    (o.status.success(), last, stderr(&o))
}

#[test]
fn a_scheduled_run_reads_its_archives_from_s3() {
    let Some(s3) = moto() else {
        return;
    };
    put(&format!("{}/archive", s3.url), b"");
    // The sample logs, as S3 delivery lays them out.
    for sub in ["okta", "admin"] {
        for e in std::fs::read_dir(repo().join("sample-logs").join(sub)).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            put(
                &format!("{}/archive/{sub}/2022/{name}", s3.url),
                &std::fs::read(&p).unwrap(),
            );
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("midgame.toml");
    std::fs::copy(repo().join("sample-logs/midgame.toml"), &cfg).unwrap();
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str(
        "[lake]\npath = \"lake\"\n\
         [[archive]]\nsource = \"okta\"\npaths = [\"s3://archive/okta/**/*\"]\n\
         [[archive]]\nsource = \"admin-audit\"\npaths = [\"s3://archive/admin/**/*.ndjson.gz\"]\n\
         [output]\ndir = \"out\"\n",
    );
    std::fs::write(&cfg, text).unwrap();
    let (ok, last, err) = run_with(&s3, &cfg);
    assert!(ok, "{last}\n{err}");
    assert!(
        last.contains("files_new=42") && last.contains("events=19222"),
        "{last}"
    );
    assert!(
        last.contains("incidents=1"),
        "the intrusion, from S3 as from disk: {last}"
    );
    // The rows name the objects they came from.
    let o = common::midgame(&[
        "sql",
        "--lake",
        dir.path().join("lake").to_str().unwrap(),
        "--format",
        "csv",
        "SELECT DISTINCT file FROM admin ORDER BY file LIMIT 1",
    ]);
    assert!(
        String::from_utf8_lossy(&o.stdout)
            .contains("s3://archive/admin/2022/support-console-2022-07-20.ndjson.gz"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    // Nothing new: nothing downloaded again.
    let (ok, last, _) = run_with(&s3, &cfg);
    assert!(
        ok && last.contains("files_new=0") && last.contains("files_seen=42"),
        "{last}"
    );
    // A new object arrives: only it is read.
    let extra = b"{\"time\":\"2022-08-10T10:00:00Z\",\"actor\":\"zed@acme.test\",\"action\":\"customer.view\",\"tool\":\"support-console\"}\n";
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, extra).unwrap();
    put(
        &format!("{}/archive/admin/2022/late.ndjson.gz", s3.url),
        &gz.finish().unwrap(),
    );
    let (ok, last, _) = run_with(&s3, &cfg);
    assert!(
        ok && last.contains("files_new=1") && last.contains("events=1 "),
        "{last}"
    );
    // A bucket that is not there: one clear error naming it; the run goes on, degraded.
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[lake]\npath = \"lake2\"\n[[archive]]\nsource = \"okta\"\npaths = [\"s3://no-such-bucket/okta/*.json.gz\"]\n",
    )
    .unwrap();
    let (ok, last, err) = run_with(&s3, &bad);
    assert!(!ok && last.contains("status=degraded"), "{last}");
    assert!(
        err.contains("s3://no-such-bucket/okta") && err.contains("NoSuchBucket"),
        "{err}"
    );
}
