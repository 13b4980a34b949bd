//! midgame on a real Apache DataFusion Ballista cluster on loopback: a scheduler and two
//! executors (`midgame cluster ...`) on ephemeral 127.0.0.1 ports, started and stopped
//! by each test. Built only with the `cluster` feature (`.ci/run` builds it).

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use common::{Moto, bin, midgame, ok, sample_lake, stderr};

/// A cluster process, its stderr in a file; killed when dropped (if still running).
struct Node {
    child: Child,
    log: PathBuf,
}

impl Node {
    /// Start `midgame ARGS`, with the AWS environment of `s3` when given.
    fn start(dir: &Path, name: &str, args: &[&str], s3: Option<&Moto>) -> Self {
        let log = dir.join(format!("{name}.log"));
        let mut cmd = bin();
        if let Some(s3) = s3 {
            common::aws(&mut cmd, s3);
        }
        let child = cmd
            .args(args)
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Self { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Poll `done` every 100 ms until it gives a value; fail (naming `what`, with the
    /// log) after `secs` seconds.
    fn poll<T>(
        &mut self,
        secs: u64,
        what: &str,
        mut done: impl FnMut(&mut Self) -> Option<T>,
    ) -> T {
        let start = Instant::now();
        loop {
            if let Some(v) = done(self) {
                return v;
            }
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "{}: {what} after {secs} s:\n{}",
                self.log.display(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Wait (60 s at most) until its log contains `text`.
    fn wait_for(&mut self, text: &str) {
        self.poll(60, &format!("no {text:?}"), |n| {
            if n.log().contains(text) {
                return Some(());
            }
            if let Some(status) = n.child.try_wait().unwrap() {
                panic!(
                    "{} exited ({status}) before logging {text:?}:\n{}",
                    n.log.display(),
                    n.log()
                );
            }
            None
        });
    }

    fn signal(&self, sig: &str) {
        let s = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(s.success());
    }

    /// Send SIGTERM and wait (30 s at most) for the exit.
    fn terminate(&mut self) -> ExitStatus {
        self.signal("-TERM");
        self.poll(30, "still running after SIGTERM", |n| {
            n.child.try_wait().unwrap()
        })
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A scheduler and `executors` executors on loopback.
struct Cluster {
    scheduler: Node,
    executors: Vec<Node>,
    url: String,
}

fn cluster(dir: &Path, executors: usize, executor_timeout: u64) -> Cluster {
    cluster_with(dir, executors, executor_timeout, None)
}

/// [`cluster`], every node with the AWS environment of `s3` when given.
fn cluster_with(dir: &Path, executors: usize, executor_timeout: u64, s3: Option<&Moto>) -> Cluster {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut scheduler = Node::start(
        dir,
        "scheduler",
        &[
            "cluster",
            "scheduler",
            "--bind",
            &addr,
            "--executor-timeout",
            &executor_timeout.to_string(),
        ],
        s3,
    );
    scheduler.wait_for("midgame scheduler listening on");
    let executors = (0..executors)
        .map(|i| {
            let bind = format!("127.0.0.1:{}", free_port());
            let mut node = Node::start(
                dir,
                &format!("executor{i}"),
                &[
                    "cluster",
                    "executor",
                    "--scheduler",
                    &addr,
                    "--bind",
                    &bind,
                    "--heartbeat",
                    "1",
                ],
                s3,
            );
            node.wait_for("Starting poll work loop with scheduler");
            node
        })
        .collect();
    Cluster {
        scheduler,
        executors,
        url: format!("df://{addr}"),
    }
}

/// A config whose allow-list (an in-memory table in every session) has rows.
fn config(dir: &Path) -> PathBuf {
    let p = dir.join("midgame.toml");
    std::fs::write(
        &p,
        "[allowlist]\ncidrs = [\"10.0.0.0/8\", \"198.51.100.0/24\"]\n",
    )
    .unwrap();
    p
}

/// `midgame ARGS --lake LAKE --config (the allow-list)`, on the cluster when given.
fn midgame_on(lake: &Path, cluster: Option<&str>, args: &[&str]) -> Output {
    let cfg = config(lake.parent().unwrap());
    let mut all = args.to_vec();
    all.extend([
        "--lake",
        lake.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
    ]);
    if let Some(url) = cluster {
        all.extend(["--cluster", url]);
    }
    midgame(&all)
}

fn detect(lake: &Path, cluster: Option<&str>, format: &str) -> Output {
    midgame_on(lake, cluster, &["detect", "--format", format])
}

fn sql(lake: &Path, cluster: Option<&str>, query: &str) -> Output {
    midgame_on(lake, cluster, &["sql", "--format", "csv", query])
}

#[test]
fn detect_and_sql_on_a_loopback_cluster_print_what_a_local_run_prints() {
    let dir = tempfile::tempdir().unwrap();
    let lake = sample_lake(dir.path());
    let mut c = cluster(dir.path(), 2, 60);

    // The intrusion in sample-logs: the same incidents and alerts, byte for byte, in the
    // machine format and in the one a person reads.
    for format in ["ndjson", "table"] {
        let local = ok(&detect(&lake, None, format));
        let remote = ok(&detect(&lake, Some(&c.url), format));
        assert!(local.contains("impossible_travel"), "{local}");
        assert_eq!(local, remote, "detect --format {format}");
    }
    // The executors did the work: each ran tasks.
    for e in &c.executors {
        assert!(e.log().contains("Received task"), "{}", e.log());
    }
    // The incident report too: its queries run on the cluster, and the page is the local
    // one but for the line that says when it was made.
    let jobs = |c: &Cluster| c.scheduler.log().matches("Job submitted").count();
    let page = |cluster: Option<&str>| {
        let out = dir
            .path()
            .join(format!("report-{}.html", cluster.is_some()));
        let o = out.to_str().unwrap();
        ok(&midgame_on(
            &lake,
            cluster,
            &["detect", "--format", "html", "--output", o],
        ));
        std::fs::read_to_string(&out)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("<div class=\"meta\">Made "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let local = page(None);
    assert!(local.contains("impossible_travel"), "{local}");
    let before = jobs(&c);
    assert_eq!(local, page(Some(&c.url)));
    assert!(jobs(&c) > before + 5, "{}", c.scheduler.log());

    // midgame's functions and views, and the allow-list's in-memory table, remotely.
    let query = "SELECT user, count(*) AS n, min(ua_os(user_agent)) AS os, \
                 round(max(haversine_km(0.0, 0.0, geo_lat, geo_lon)), 1) AS far, \
                 sum(CASE WHEN cidr_contains('10.0.0.0/8', src_ip) THEN 1 ELSE 0 END) AS internal \
                 FROM signins GROUP BY user ORDER BY user";
    let local = ok(&sql(&lake, None, query));
    assert!(local.lines().count() > 10, "{local}");
    assert_eq!(local, ok(&sql(&lake, Some(&c.url), query)));
    let query = "SELECT ip, reason FROM allowlisted_ip ORDER BY ip";
    let local = ok(&sql(&lake, None, query));
    // The config's two CIDRs matched addresses of the lake.
    assert!(local.lines().count() > 1, "{local}");
    assert_eq!(local, ok(&sql(&lake, Some(&c.url), query)));

    // Clustered by user (`compact`), read as listing tables of its buckets: the same.
    ok(&midgame(&[
        "compact",
        "-q",
        "--lake",
        lake.to_str().unwrap(),
    ]));
    let local = ok(&detect(&lake, None, "ndjson"));
    assert_eq!(local, ok(&detect(&lake, Some(&c.url), "ndjson")));

    // SIGTERM stops each cleanly (exit 0), executors first.
    for e in &mut c.executors {
        let status = e.terminate();
        assert!(status.success(), "{status}: {}", e.log());
        assert!(e.log().contains("Executor stopped"), "{}", e.log());
    }
    let status = c.scheduler.terminate();
    assert!(status.success(), "{status}: {}", c.scheduler.log());
    assert!(c.scheduler.log().contains("midgame scheduler stopping"));
}

/// One executor killed (SIGKILL) while a query runs: the scheduler takes it as lost
/// after `--executor-timeout`, runs its tasks again on the other, and the query returns
/// the local answer.
#[test]
fn a_query_survives_an_executor_killed_during_it() {
    let dir = tempfile::tempdir().unwrap();
    let lake = sample_lake(dir.path());
    let mut c = cluster(dir.path(), 2, 3);
    // About 20 s on this loopback cluster in the dev profile: 2.9M distinct strings
    // from a per-user self-join, times the activities.
    let query = "SELECT count(DISTINCT concat(a.src_ip, b.src_ip, c.activity, a.time_ms + b.time_ms)) AS n \
                 FROM auth a JOIN auth b ON a.user = b.user \
                 JOIN (SELECT DISTINCT activity FROM auth) c ON a.user <> c.activity";
    let local = ok(&sql(&lake, None, query));
    let out = dir.path().join("remote.csv");
    let mut remote = bin()
        .args([
            "sql",
            "--lake",
            lake.to_str().unwrap(),
            "--format",
            "csv",
            "--cluster",
            &c.url,
        ])
        .arg(query)
        .stdout(File::create(&out).unwrap())
        .stderr(File::create(dir.path().join("remote.err")).unwrap())
        .spawn()
        .unwrap();
    // Killed once it runs a task of this query.
    let mut victim = c.executors.remove(0);
    victim.wait_for("Received task");
    victim.signal("-KILL");
    let status = remote.wait().unwrap();
    let err = std::fs::read_to_string(dir.path().join("remote.err")).unwrap();
    assert!(status.success(), "{status}: {err}");
    assert_eq!(local, std::fs::read_to_string(&out).unwrap());
    // It was lost while the query ran, and the other executor finished the job.
    assert!(
        c.scheduler.log().contains("heartbeat timed out"),
        "{}",
        c.scheduler.log()
    );
    assert!(c.executors[0].log().contains("Received task"));
}

#[test]
fn a_cluster_that_is_not_there_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let lake = sample_lake(dir.path());
    let url = format!("df://127.0.0.1:{}", free_port());
    let o = detect(&lake, Some(&url), "ndjson");
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("cannot reach the Ballista scheduler at {url}")),
        "{err}"
    );
    let o = sql(&lake, Some("http://127.0.0.1:50050"), "SELECT 1");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("df://HOST:PORT"), "{}", stderr(&o));
}

/// A lake on S3 (moto on loopback): every node reads its records and its data from the
/// store, and the alerts are those of the same lake on disk.
#[test]
fn the_cluster_reads_a_lake_on_s3() {
    let Some(s3) = common::moto() else {
        return;
    };
    common::put(&format!("{}/lakes", s3.url), b"");
    let dir = tempfile::tempdir().unwrap();
    let lake = sample_lake(dir.path());
    let url = "s3://lakes/cluster/lake";
    let on_s3 = |args: &[&str]| ok(&common::aws(&mut bin(), &s3).args(args).output().unwrap());
    let logs = common::repo().join("sample-logs");
    on_s3(&["ingest", "-q", "--lake", url, logs.to_str().unwrap()]);
    let c = cluster_with(dir.path(), 2, 60, Some(&s3));
    let cfg = config(dir.path());
    let cfg = cfg.to_str().unwrap();
    let local = ok(&detect(&lake, None, "ndjson"));
    assert!(local.contains("impossible_travel"), "{local}");
    let remote = on_s3(&[
        "detect",
        "--lake",
        url,
        "--config",
        cfg,
        "--format",
        "ndjson",
        "--cluster",
        &c.url,
    ]);
    assert_eq!(local, remote);
    for e in &c.executors {
        assert!(e.log().contains("Received task"), "{}", e.log());
    }
    let query = "SELECT user, count(*) AS n FROM signins GROUP BY user ORDER BY user";
    let sql_on_s3 = || {
        on_s3(&[
            "sql",
            "--lake",
            url,
            "--config",
            cfg,
            "--format",
            "csv",
            "--cluster",
            &c.url,
            query,
        ])
    };
    let local = ok(&sql(&lake, None, query));
    assert_eq!(local, sql_on_s3());
    // The nodes keep what they built from the lake's records until a commit changes
    // them: more logs, committed to both lakes, are seen by the next query.
    let more = dir.path().join("more");
    common::gen_logs(&more);
    on_s3(&["ingest", "-q", "--lake", url, more.to_str().unwrap()]);
    ok(&midgame(&[
        "ingest",
        "-q",
        "--lake",
        lake.to_str().unwrap(),
        more.to_str().unwrap(),
    ]));
    let after = ok(&sql(&lake, None, query));
    assert_ne!(after, local);
    assert_eq!(after, sql_on_s3());
}
