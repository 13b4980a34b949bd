//! End-to-end tests of the `midgame` binary: exit codes, stdout and stderr as a user
//! meets them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn midgame(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_midgame"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture(name: &str) -> PathBuf {
    repo()
        .join("crates/sources/tests/fixtures/okta/panther")
        .join(name)
}

fn sql(lake: &Path, query: &str) -> String {
    let o = midgame(&[
        "sql",
        "--lake",
        lake.to_str().unwrap(),
        "--format",
        "csv",
        query,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
}

#[test]
fn demo_shows_the_intrusion_from_the_sample_logs() {
    let o = Command::new(env!("CARGO_BIN_EXE_midgame"))
        .arg("demo")
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("alice.lee@acme.test"), "{out}");
    assert!(out.contains("Amsterdam"), "{out}");
    assert!(out.contains("MFA Enroll"), "{out}");
    assert!(out.contains("Support Console"), "{out}");
    // The intrusion is one incident with its three stages, shown first; every alert is
    // the victim's (the look-alikes stay quiet).
    let incidents = out
        .split("== ")
        .find(|s| s.starts_with("Incidents"))
        .unwrap();
    let heads: Vec<&str> = incidents
        .lines()
        .filter(|l| l.contains(" score "))
        .collect();
    assert_eq!(heads.len(), 1, "{incidents}");
    assert!(heads[0].starts_with("CRITICAL"), "{incidents}");
    assert!(
        incidents.contains("initial access (impossible_travel, mfa_factor_enrolled, new_device_sso) -> admin access (unusual_admin_access) -> staging (data_staging)"),
        "{incidents}"
    );
    let alerts = out.split("== ").find(|s| s.starts_with("Alerts")).unwrap();
    let lines: Vec<&str> = alerts
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert!(lines.len() >= 5, "{alerts}");
    assert!(
        lines.iter().all(|l| l.contains("  alice.lee@acme.test ")),
        "{alerts}"
    );
    assert!(
        alerts.contains("alice.lee@acme.test signed in from Amsterdam NL 47 min after"),
        "{alerts}"
    );
    let summary = out.split("== ").find(|s| s.starts_with("Summary")).unwrap();
    assert!(summary.contains("1 incidents,"), "{summary}");
    assert!(
        out.contains("| customer.view         | 209     | 209       |"),
        "the intruder's lookups: {out}"
    );
    let err = stderr(&o);
    assert!(err.contains("ingested 42 new files"), "{err}");
    assert!(err.contains("quarantined            0"), "{err}");
}

#[test]
fn ingesting_the_sample_logs_twice_gives_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let l = lake.to_str().unwrap();
    let samples = repo().join("sample-logs");
    let first = midgame(&[
        "ingest",
        "--lake",
        l,
        "--config",
        samples.join("midgame.toml").to_str().unwrap(),
        samples.to_str().unwrap(),
    ]);
    assert!(first.status.success(), "{}", stderr(&first));
    let count = sql(
        &lake,
        "SELECT count(*) AS n, count(DISTINCT user) AS users FROM auth",
    );
    assert_eq!(count, "n,users\n4706,30\n");
    let again = midgame(&["ingest", "--lake", l, samples.to_str().unwrap()]);
    assert!(again.status.success());
    assert!(
        stderr(&again).contains("ingested 0 new files, 42 already in the lake"),
        "{}",
        stderr(&again)
    );
    assert_eq!(
        sql(
            &lake,
            "SELECT count(*) AS n, count(DISTINCT user) AS users FROM auth"
        ),
        count
    );
}

#[test]
fn broken_lines_are_quarantined_named_and_counted_and_strict_fails() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(fixture("legit_login.ndjson")).unwrap();
    let mut lines: Vec<&str> = good.lines().collect();
    lines.insert(2, "{\"eventType\": \"user.session.start\", \"published\": ");
    lines.insert(4, "garbage");
    let broken = dir.path().join("broken.ndjson");
    std::fs::write(&broken, lines.join("\n")).unwrap();
    let lake = dir.path().join("lake");
    let o = midgame(&[
        "ingest",
        "--lake",
        lake.to_str().unwrap(),
        broken.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("warning: {}:3: invalid JSON", broken.display())),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "warning: {}:5: not a JSON object",
            broken.display()
        )),
        "{err}"
    );
    assert!(err.contains("quarantined            2 records"), "{err}");
    assert_eq!(sql(&lake, "SELECT count(*) AS n FROM auth"), "n\n5\n");
    let quarantine = std::fs::read_dir(lake.join("_quarantine"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert_eq!(
        std::fs::read_to_string(quarantine).unwrap().lines().count(),
        2
    );

    // --strict: the same input is an error (exit 1) with one line saying why.
    let strict_lake = dir.path().join("strict");
    let o = midgame(&[
        "ingest",
        "--strict",
        "--lake",
        strict_lake.to_str().unwrap(),
        broken.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let last = stderr(&o).lines().last().unwrap().to_owned();
    assert!(
        last.starts_with("error: 2 records quarantined and --strict is set"),
        "{last}"
    );
}

#[test]
fn a_file_that_fails_does_not_stop_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    std::fs::copy(fixture("victim_okta.ndjson"), input.join("a.ndjson")).unwrap();
    std::fs::write(
        input.join("b.log"),
        "<166>Aug  4 10:12:33 host sshd[1]: Accepted password\n",
    )
    .unwrap();
    std::fs::copy(fixture("attacker_okta.ndjson"), input.join("c.ndjson")).unwrap();
    let lake = dir.path().join("lake");
    let o = midgame(&[
        "ingest",
        "--lake",
        lake.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("b.log: unrecognised log format"), "{err}");
    assert!(err.contains("ingested 2 new files, 1 failed"), "{err}");
    assert_eq!(sql(&lake, "SELECT count(*) AS n FROM auth"), "n\n3\n");
}

#[test]
fn sql_formats_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let l = lake.to_str().unwrap();
    assert!(
        midgame(&[
            "ingest",
            "-q",
            "--lake",
            l,
            fixture("victim_okta.ndjson").to_str().unwrap()
        ])
        .status
        .success()
    );
    let q = "SELECT user, geo_country, time FROM auth";
    let nd = midgame(&["sql", "--lake", l, "--format", "ndjson", q]);
    assert_eq!(
        stdout(&nd),
        "{\"user\":\"tracey.stone@acme.io\",\"geo_country\":\"US\",\"time\":\"2020-10-27T04:38:51.650Z\"}\n"
    );
    let table = stdout(&midgame(&["sql", "--lake", l, q]));
    assert!(
        table.contains("| tracey.stone@acme.io | US          | 2020-10-27T04:38:51.650Z |"),
        "{table}"
    );
    // A query error is exit 1 and one line on stderr, nothing on stdout.
    let bad = midgame(&["sql", "--lake", l, "SELECT usr FROM auth"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stdout(&bad).is_empty());
    let err = stderr(&bad);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: ") && err.contains("usr"), "{err}");
    // SQL from stdin.
    let mut child = Command::new(env!("CARGO_BIN_EXE_midgame"))
        .args(["sql", "--lake", l, "--format", "csv"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"SELECT count(*) AS n FROM auth;\n")
        .unwrap();
    assert_eq!(
        String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap(),
        "n\n1\n"
    );
}

#[test]
fn bad_arguments_exit_2_and_a_missing_lake_exits_1() {
    let o = midgame(&["ingest", "--lake"]);
    assert_eq!(o.status.code(), Some(2));
    let o = midgame(&["sql", "--lake", "/no/such/lake", "SELECT 1"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "a lake that does not exist is a bad argument"
    );
    assert!(stderr(&o).contains("/no/such/lake: no such directory"));
    let dir = tempfile::tempdir().unwrap();
    let o = midgame(&["sql", "--lake", dir.path().to_str().unwrap(), "SELECT 1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not a midgame lake"), "{}", stderr(&o));
}

#[test]
fn gen_output_ingests_and_contains_the_attack() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("logs");
    let o = midgame(&[
        "gen",
        "--out",
        out.to_str().unwrap(),
        "--users",
        "8",
        "--days",
        "4",
        "--attack",
        "--seed",
        "3",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lake = dir.path().join("lake");
    assert!(
        midgame(&[
            "ingest",
            "-q",
            "--lake",
            lake.to_str().unwrap(),
            out.to_str().unwrap()
        ])
        .status
        .success()
    );
    let csv = sql(
        &lake,
        "SELECT DISTINCT user, geo_city FROM auth WHERE asn = 14061",
    );
    assert_eq!(csv, "user,geo_city\nalice.lee@acme.test,Amsterdam\n");
}

#[test]
fn two_copies_of_one_file_in_one_run_are_ingested_once() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    for name in ["a.ndjson", "b.ndjson", "c.ndjson"] {
        std::fs::copy(fixture("brute_force_logins.ndjson"), input.join(name)).unwrap();
    }
    let lake = dir.path().join("lake");
    let o = midgame(&[
        "ingest",
        "--lake",
        lake.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("ingested 1 new files, 2 already in the lake"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("auth                  10 rows"),
        "{}",
        stderr(&o)
    );
    assert_eq!(sql(&lake, "SELECT count(*) AS n FROM auth"), "n\n10\n");
}

#[test]
fn detect_writes_alerts_as_ndjson_never_overwrites_and_checks_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let l = lake.to_str().unwrap();
    let samples = repo().join("sample-logs");
    let cfg = samples.join("midgame.toml");
    assert!(
        midgame(&["ingest", "-q", "--lake", l, samples.to_str().unwrap()])
            .status
            .success()
    );
    let queries = repo().join("queries");
    let q = queries.to_str().unwrap();
    let out = dir.path().join("alerts.ndjson");
    let o = midgame(&[
        "detect",
        "--lake",
        l,
        "--queries",
        q,
        "--config",
        cfg.to_str().unwrap(),
        "--format",
        "ndjson",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("1 incidents, 8 alerts: 0 critical, 8 high"),
        "{}",
        stderr(&o)
    );
    let text = std::fs::read_to_string(&out).unwrap();
    let objects: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objects[0]["type"], "incident", "incidents come first");
    assert_eq!(objects[0]["stages"].as_array().unwrap().len(), 3);
    let alert = objects
        .iter()
        .find(|o| o["type"] == "alert")
        .unwrap()
        .clone();
    assert_eq!(alert["incident_id"], objects[0]["incident_id"]);
    for key in [
        "alert_id",
        "detection",
        "severity",
        "user",
        "first_seen",
        "last_seen",
        "summary",
        "evidence",
    ] {
        assert!(alert.get(key).is_some(), "{key} missing: {alert}");
    }
    assert_eq!(alert["user"], "alice.lee@acme.test");
    // The output file exists now: a second run refuses to overwrite it.
    let again = midgame(&[
        "detect",
        "--lake",
        l,
        "--queries",
        q,
        "--format",
        "ndjson",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("never overwrites"),
        "{}",
        stderr(&again)
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), text);
    // Without the allow-list the corporate VPN user shows up; a typo in a parameter
    // name is an error that names it.
    let no_allow = midgame(&["detect", "--lake", l, "--queries", q, "--format", "csv"]);
    assert!(
        stdout(&no_allow).lines().count() > 2,
        "{}",
        stdout(&no_allow)
    );
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[detections.impossible_travel]\nmax_sped_kmh = 900\n").unwrap();
    let o = midgame(&[
        "detect",
        "--lake",
        l,
        "--queries",
        q,
        "--config",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("parameter `max_sped_kmh`: not a parameter of `impossible_travel`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn detect_writes_parquet_csv_ocsf_and_explains_what_the_allow_list_silenced() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let l = lake.to_str().unwrap();
    let samples = repo().join("sample-logs");
    let cfg = samples.join("midgame.toml");
    let c = cfg.to_str().unwrap();
    assert!(
        midgame(&["ingest", "-q", "--lake", l, samples.to_str().unwrap()])
            .status
            .success()
    );
    let detect = |extra: &[&str]| {
        let mut args = vec!["detect", "--lake", l, "--config", c];
        args.extend_from_slice(extra);
        let o = midgame(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        o
    };
    // Parquet: alerts, and incidents beside them.
    let pq = dir.path().join("alerts.parquet");
    detect(&["--format", "parquet", "--output", pq.to_str().unwrap()]);
    let rows = |p: &Path| -> usize {
        let f = std::fs::File::open(p).unwrap();
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
            .unwrap()
            .build()
            .unwrap()
            .map(|b| b.unwrap().num_rows())
            .sum()
    };
    assert_eq!(rows(&pq), 8);
    assert_eq!(rows(&dir.path().join("alerts.incidents.parquet")), 1);
    // Parquet needs a file.
    let o = midgame(&["detect", "--lake", l, "--format", "parquet"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("add --output"), "{}", stderr(&o));
    // CSV: a header and one row per alert, each naming its incident.
    let csv = dir.path().join("alerts.csv");
    detect(&["--format", "csv", "--output", csv.to_str().unwrap()]);
    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(text.lines().count(), 9);
    assert!(text.lines().next().unwrap().ends_with(",incident_id"));
    let incidents = std::fs::read_to_string(dir.path().join("alerts.incidents.csv")).unwrap();
    assert_eq!(incidents.lines().count(), 2, "{incidents}");
    // OCSF Detection Finding objects.
    let o = detect(&["--format", "ocsf"]);
    for line in stdout(&o).lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["class_uid"], 2004);
        assert_eq!(v["type_uid"], 200_401);
        assert_eq!(v["severity_id"], 4);
        assert_eq!(v["actor"]["user"]["email_addr"], "alice.lee@acme.test");
        assert_eq!(v["finding_info"]["uid"].as_str().unwrap().len(), 32);
    }
    // What the allow-list silenced, and why.
    let o = detect(&["--explain-suppressed"]);
    let out = stdout(&o);
    let suppressed = out
        .split("== ")
        .find(|s| s.starts_with("Suppressed by the allow-list"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        suppressed.contains("erin.novak@acme.test signed in from Ashburn US"),
        "{suppressed}"
    );
    assert!(
        suppressed.contains(": corporate VPN egress (Ashburn) (198.51.100.0/24)"),
        "{suppressed}"
    );
    // --from/--to keep the baseline and drop alerts outside the range.
    let o = detect(&["--from", "2022-08-05", "--format", "ndjson"]);
    assert_eq!(stdout(&o), "");
    let o = midgame(&["detect", "--lake", l, "--from", "yesterday"]);
    assert_eq!(o.status.code(), Some(2));
}
