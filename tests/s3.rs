//! Archives on S3: `[[archive]] paths = ["s3://bucket/okta/**/*.json.gz"]`, read through
//! the usual AWS environment from a real S3-compatible server on 127.0.0.1 (moto, from
//! PyPI, in server mode), which the test starts and stops itself.
//!
//! Without moto the test says so and passes, unless `MIDGAME_REQUIRE_S3=1` (as `.ci/run`
//! sets, after installing it).

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Moto, bin, moto, ok, put, repo, stderr};

fn run_with(s3: &Moto, cfg: &Path) -> (bool, String, String) {
    let o = common::aws(&mut bin(), s3)
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

/// `midgame` with the AWS environment of `s3` and `args`.
fn on_s3(s3: &Moto, args: &[&str]) -> std::process::Output {
    common::aws(&mut bin(), s3).args(args).output().unwrap()
}

fn ok_on_s3(s3: &Moto, args: &[&str]) -> (String, String) {
    let o = on_s3(s3, args);
    assert!(
        o.status.success(),
        "midgame {args:?}: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        stderr(&o)
    );
    (String::from_utf8_lossy(&o.stdout).into_owned(), stderr(&o))
}

/// The same command over the lake on S3 and the one on disk: the same output.
fn same_on_both(s3: &Moto, url: &str, local: &Path, args: &[&str]) -> String {
    let with = |lake: &str| {
        let mut a = vec![args[0], "--lake", lake];
        a.extend(&args[1..]);
        ok_on_s3(s3, &a).0
    };
    let remote = with(url);
    assert_eq!(
        remote,
        with(local.to_str().unwrap()),
        "midgame {args:?} differs between the lake on S3 and the one on disk"
    );
    remote
}

#[test]
fn a_lake_on_s3_answers_as_the_same_lake_on_disk() {
    let Some(s3) = moto() else {
        return;
    };
    put(&format!("{}/lakes", s3.url), b"");
    let url = "s3://lakes/security/lake";
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("lake");
    let logs = repo().join("sample-logs");
    let cfg = logs.join("midgame.toml");
    let (cfg, logs) = (cfg.to_str().unwrap(), logs.to_str().unwrap());
    let (_, err) = ok_on_s3(&s3, &["ingest", "--lake", url, logs]);
    assert!(
        err.contains("ingested 42 new files into s3://lakes/security/lake")
            && err.contains("published to s3://lakes/security/lake: 43 records"),
        "{err}"
    );
    ok_on_s3(&s3, &["ingest", "--lake", local.to_str().unwrap(), logs]);
    let keys = common::s3_keys(&s3, "lakes", "security/lake/");
    assert!(
        keys.iter()
            .any(|k| k.starts_with("security/lake/auth/date="))
            && !keys
                .iter()
                .any(|k| k.contains("/_tmp/") || k.ends_with("_lock")),
        "{keys:?}"
    );
    let detect = ["detect", "--config", cfg, "--format", "ndjson"];
    let alerts = same_on_both(&s3, url, &local, &detect);
    assert!(
        alerts.contains("impossible_travel") && alerts.lines().count() > 5,
        "{alerts}"
    );
    let count = [
        "sql",
        "--format",
        "csv",
        "SELECT count(*) AS n, count(DISTINCT user) AS users FROM auth",
    ];
    assert_eq!(same_on_both(&s3, url, &local, &count), "n,users\n4706,30\n");
    // The same files again: nothing new, nothing published.
    let (_, err) = ok_on_s3(&s3, &["ingest", "--lake", url, logs]);
    assert!(
        err.contains("42 already in the lake") && !err.contains("published"),
        "{err}"
    );
    // Clustering by user rewrites every table: the same alerts after it.
    same_on_both(&s3, url, &local, &["compact"]);
    assert_eq!(same_on_both(&s3, url, &local, &detect), alerts);
    // The day objects it replaced stay for the grace time (a reader that listed the
    // table before the commit may still read them), listed for deletion, never read.
    let days = |s3: &Moto| {
        common::s3_keys(s3, "lakes", "security/lake/auth/")
            .iter()
            .filter(|k| k.starts_with("security/lake/auth/date="))
            .count()
    };
    assert!(days(&s3) > 0);
    assert_eq!(
        common::s3_keys(&s3, "lakes", "security/lake/_garbage/").len(),
        1
    );
    // A later day: ingested into the buckets, then merged by compaction (which reads
    // the files whole, downloaded from the store).
    let more = dir.path().join("more");
    common::gen_logs(&more);
    for lake in [url, local.to_str().unwrap()] {
        // The grace time is over for this writer: it deletes the replaced objects.
        ok(&common::aws(&mut bin(), &s3)
            .env("MIDGAME_S3_GRACE_SECS", "0")
            .args(["ingest", "--lake", lake, more.to_str().unwrap()])
            .output()
            .unwrap());
    }
    assert_eq!(days(&s3), 0);
    assert!(common::s3_keys(&s3, "lakes", "security/lake/_garbage/").is_empty());
    let before = same_on_both(&s3, url, &local, &detect);
    let (_, err) = ok_on_s3(&s3, &["compact", "--lake", url]);
    ok_on_s3(&s3, &["compact", "--lake", local.to_str().unwrap()]);
    assert!(err.contains("published to"), "{err}");
    assert_eq!(same_on_both(&s3, url, &local, &detect), before);
    assert!(
        common::s3_keys(&s3, "lakes", "security/lake/_orphans/").is_empty(),
        "nothing is left uncommitted by runs that ended"
    );

    // A scheduled run with `[lake] path` on S3: it detects and keeps its alert table
    // there.
    let run_cfg = dir.path().join("run.toml");
    let mut text = std::fs::read_to_string(cfg).unwrap();
    text.push_str(&format!(
        "[lake]\npath = \"{url}\"\n[[archive]]\nsource = \"okta\"\npaths = [\"{logs}/okta/*\"]\n"
    ));
    std::fs::write(&run_cfg, text).unwrap();
    let (out, _) = ok_on_s3(&s3, &["run", "--config", run_cfg.to_str().unwrap()]);
    let last = out.lines().last().unwrap_or_default();
    assert!(
        last.contains("lake=s3://lakes/security/lake") && last.contains("detected=true"),
        "{last}"
    );
    let (n, _) = ok_on_s3(
        &s3,
        &[
            "sql",
            "--lake",
            url,
            "--format",
            "csv",
            "SELECT count(*) > 0 AS kept FROM alerts",
        ],
    );
    assert_eq!(n, "kept\ntrue\n", "{last}");
}

#[test]
fn a_killed_ingest_into_s3_leaves_nothing_visible() {
    let Some(s3) = moto() else {
        return;
    };
    put(&format!("{}/lakes", s3.url), b"");
    let url = "s3://lakes/killed";
    let file = std::fs::read_dir(repo().join("sample-logs/okta"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .min()
        .unwrap();
    let file = file.to_str().unwrap();
    // The mirrors go here, to be counted.
    let tmp = tempfile::tempdir().unwrap();
    let rows = |s3: &Moto| -> Option<String> {
        let o = common::aws(&mut bin(), s3)
            .env("TMPDIR", tmp.path())
            .args([
                "sql",
                "--lake",
                url,
                "--format",
                "csv",
                "SELECT count(*) AS n FROM auth",
            ])
            .output()
            .unwrap();
        o.status.success().then(|| common::stdout(&o))
    };
    let mut killed = 0;
    for n in 1.. {
        let o = common::aws(&mut bin(), &s3)
            .env("MIDGAME_CRASH_AT", n.to_string())
            .env("MIDGAME_LOCK_STALE_SECS", "1")
            .env("TMPDIR", tmp.path())
            .args(["ingest", "--lake", url, file])
            .output()
            .unwrap();
        if o.status.success() {
            break;
        }
        assert!(
            stderr(&o).contains(&format!("MIDGAME_CRASH_AT={n}")),
            "{}",
            stderr(&o)
        );
        killed += 1;
        // The killed run left its mirror (the next run removes it).
        assert!(
            std::fs::read_dir(tmp.path()).unwrap().any(|e| e
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("midgame-s3-")),
            "killed at step {n}: no mirror in TMPDIR"
        );
        // Readers see no row of the file until its record is on the store.
        let seen = rows(&s3);
        assert!(
            seen.is_none() || seen.as_deref() == Some("n\n0\n"),
            "killed at step {n}: {seen:?}"
        );
        if n == 1 {
            // The dead run's lock keeps a writer out until its heartbeat is stale.
            let o = on_s3(&s3, &["ingest", "--lake", url, file]);
            let err = stderr(&o);
            assert!(
                !o.status.success()
                    && err.contains("s3://lakes/killed/_lock")
                    && err.contains("locked by another run (pid="),
                "{err}"
            );
            assert_eq!(err.trim().lines().count(), 1, "{err}");
        }
        std::thread::sleep(Duration::from_millis(1100));
    }
    assert!(killed >= 5, "only {killed} steps were killed");
    let n = rows(&s3).unwrap();
    assert_ne!(n, "n\n0\n");
    // What a killed run uploaded without its record was moved aside, not read.
    let keys = common::s3_keys(&s3, "lakes", "killed/");
    assert!(
        keys.iter().any(|k| k.starts_with("killed/_orphans/auth/")),
        "{keys:?}"
    );
    assert!(!keys.iter().any(|k| k == "killed/_lock"), "{keys:?}");
    // The killed runs' mirrors were removed by the runs after them.
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
    // Once, in full.
    let (_, err) = ok_on_s3(&s3, &["ingest", "--lake", url, file]);
    assert!(err.contains("1 already in the lake"), "{err}");
    assert_eq!(rows(&s3).unwrap(), n);
}

#[test]
fn an_unreachable_or_absent_s3_lake_is_one_line() {
    let Some(s3) = moto() else {
        return;
    };
    let logs = repo().join("sample-logs").to_string_lossy().into_owned();
    put(&format!("{}/lakes", s3.url), b"");
    let one_line = |o: &std::process::Output, want: &[&str]| {
        let err = stderr(o);
        assert!(!o.status.success(), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        for w in want {
            assert!(err.contains(w), "{w:?} not in {err}");
        }
    };
    one_line(
        &on_s3(&s3, &["detect", "--lake", "s3://lakes/nothing-here"]),
        &["s3://lakes/nothing-here", "not a midgame lake"],
    );
    one_line(
        &on_s3(
            &s3,
            &[
                "ingest",
                "--lake",
                "s3://no-such-bucket/lake",
                repo().join("sample-logs").to_str().unwrap(),
            ],
        ),
        &["s3://no-such-bucket/lake", "NoSuchBucket"],
    );
    // Credentials the store refuses (moto checks them after its first request, which
    // makes the bucket).
    let strict = common::moto_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "1")]).unwrap();
    put(&format!("{}/lakes", strict.url), b"");
    for args in [
        ["ingest", "--lake", "s3://lakes/lake", logs.as_str()],
        ["detect", "--lake", "s3://lakes/lake", "--quiet"],
    ] {
        one_line(
            &on_s3(&strict, &args),
            &["s3://lakes/lake", "InvalidAccessKeyId"],
        );
    }
    // Nothing listens on the endpoint: an error naming the lake within the retries.
    let started = std::time::Instant::now();
    let o = common::aws(&mut bin(), &s3)
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .args(["sql", "--lake", "s3://lakes/lake", "SELECT 1"])
        .output()
        .unwrap();
    one_line(&o, &["s3://lakes/lake"]);
    assert!(started.elapsed() < Duration::from_secs(90));
}
