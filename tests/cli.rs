//! End-to-end tests of the `midgame` binary: exit codes, stdout and stderr as a user
//! meets them.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{bin, midgame, midgame_stdin, ok, repo, sample_lake, stderr, stdout};

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
    let o = bin().arg("demo").current_dir(repo()).output().unwrap();
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
    let o = midgame_stdin(
        &["sql", "--lake", l, "--format", "csv"],
        "SELECT count(*) AS n FROM auth;\n",
    );
    assert_eq!(stdout(&o), "n\n1\n");
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
    assert!(
        text.lines()
            .next()
            .unwrap()
            .ends_with(",incident_id,tactic,technique,runbook,false_positives"),
        "{text}"
    );
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
        // Every built-in names its technique and tactic and has a runbook.
        let attack = &v["finding_info"]["attacks"][0];
        assert!(
            attack["technique"]["uid"]
                .as_str()
                .unwrap()
                .starts_with('T'),
            "{v}"
        );
        assert!(
            attack["tactic"]["uid"].as_str().unwrap().starts_with("TA"),
            "{v}"
        );
        assert!(v["remediation"]["desc"].as_str().unwrap().len() > 20, "{v}");
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

#[test]
fn the_sql_shell_lists_describes_queries_explains_errors_and_quits() {
    let dir = tempfile::tempdir().unwrap();
    let lake = sample_lake(dir.path());
    let saved = dir.path().join("saved.csv");
    let script = format!(
        "\\d\n\\d signin_history\nSELECT count(*) AS n\n  FROM auth;\nSELECT usr FROM auth;\n\\timing\nSELECT count(DISTINCT user) AS admins FROM admin; SELECT round(haversine_km(37.7749, -122.4194, 52.3676, 4.9041)) AS km;\n\\format csv\n\\o {}\nSELECT action, count(*) AS n FROM admin GROUP BY action ORDER BY action;\n\\o\n\\nonsense\n\\q\nSELECT 'after quit' AS never;\n",
        saved.display()
    );
    let o = midgame_stdin(&["sql", "--lake", lake.to_str().unwrap()], &script);
    let out = stdout(&o);
    let err = stderr(&o);
    // \d: tables and views with what they are.
    assert!(
        out.contains("auth               table  One authentication"),
        "{out}"
    );
    assert!(out.contains("signin_history     view"), "{out}");
    assert!(out.contains("allowlisted_ip"), "{out}");
    // \d NAME: columns, types and meaning, also for a view.
    assert!(
        out.contains("prev_device_ms   int64                        null     When this user last used this device"),
        "{out}"
    );
    assert!(out.contains("device_id        text"), "{out}");
    // A statement over two lines; then results in the order given.
    assert!(out.contains("| 4706 |"), "{out}");
    assert!(
        out.contains("| 9      |"),
        "eight support staff and the export job: {out}"
    );
    assert!(out.contains("| 8773.0 |"), "{out}");
    assert!(!out.contains("after quit"), "{out}");
    // A misspelt column: the engine's message, the nearest column, the table's columns.
    assert!(err.contains("error: "), "{err}");
    assert!(
        err.contains("No field named usr. Did you mean 'auth.user'?"),
        "{err}"
    );
    assert!(
        err.contains("Valid fields are auth.time, auth.time_ms"),
        "{err}"
    );
    assert!(err.contains("Time: "), "{err}");
    assert!(err.contains("unknown command \"\\\\nonsense\""), "{err}");
    // \o wrote the CSV to the file, not the screen.
    let csv = std::fs::read_to_string(&saved).unwrap();
    assert!(csv.starts_with("action,n\ncustomer.export,"), "{csv}");
    assert!(!out.contains("customer.export"), "{out}");
    assert_eq!(o.status.code(), Some(1), "a script with errors exits 1");
}

#[test]
fn sql_runs_a_file_and_writes_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let lake = sample_lake(dir.path());
    let l = lake.to_str().unwrap();
    let file = dir.path().join("hunt.sql");
    std::fs::write(
        &file,
        "-- who used the support console from the hosting provider\nSELECT DISTINCT user FROM admin WHERE src_ip IN (SELECT src_ip FROM auth WHERE asn = 14061);\n",
    )
    .unwrap();
    let o = midgame(&[
        "sql",
        "--lake",
        l,
        "--format",
        "csv",
        "-f",
        file.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "user\nalice.lee@acme.test\n");
    let pq = dir.path().join("out.parquet");
    let o = midgame(&[
        "sql",
        "--lake",
        l,
        "--format",
        "parquet",
        "--output",
        pq.to_str().unwrap(),
        "SELECT user, count(*) AS n FROM auth GROUP BY user",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let f = std::fs::File::open(&pq).unwrap();
    let rows: usize = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap().num_rows())
        .sum();
    assert_eq!(rows, 30);
}

/// The worked example of queries/README.md, copied out of the README as a new user
/// would, runs with --queries beside the built-in detections and passes `midgame check`.
#[test]
fn the_readme_worked_example_passes_check_and_runs_beside_the_built_ins() {
    let readme = std::fs::read_to_string(repo().join("queries/README.md")).unwrap();
    let block = |marker: &str| -> String {
        let start = readme
            .find(&format!("<!-- example: {marker} -->"))
            .unwrap_or_else(|| panic!("no example {marker} in queries/README.md"));
        let rest = &readme[start..];
        let open = rest.find("```").unwrap();
        let body = &rest[open..];
        let body = &body[body.find('\n').unwrap() + 1..];
        body[..body.find("```").unwrap()].to_owned()
    };
    let dir = tempfile::tempdir().unwrap();
    let mine = dir.path().join("my-queries");
    std::fs::create_dir_all(mine.join("tests")).unwrap();
    std::fs::write(
        mine.join("guessed_password.sql"),
        block("guessed_password.sql"),
    )
    .unwrap();
    std::fs::write(
        mine.join("tests/guessed_password.slt"),
        block("tests/guessed_password.slt"),
    )
    .unwrap();
    let o = midgame(&["check", mine.to_str().unwrap()]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("ok   guessed_password"),
        "{}",
        stdout(&o)
    );
    assert!(
        stderr(&o).contains("1 detections, 1 test files: all good"),
        "{}",
        stderr(&o)
    );
    // The built-in detections check too.
    let o = midgame(&["check"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stderr(&o).contains("14 detections, 14 test files: all good"),
        "{}",
        stderr(&o)
    );

    // It runs beside the built-in ones: the sample logs have no guessing, the intrusion
    // is still there.
    let lake = sample_lake(dir.path());
    let o = midgame(&[
        "detect",
        "--lake",
        lake.to_str().unwrap(),
        "--config",
        repo().join("sample-logs/midgame.toml").to_str().unwrap(),
        "--queries",
        mine.to_str().unwrap(),
        "--format",
        "ndjson",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("\"type\":\"incident\""));

    // A broken expectation fails check, naming the file and line.
    let slt = mine.join("tests/guessed_password.slt");
    let text = std::fs::read_to_string(&slt).unwrap();
    std::fs::write(&slt, text.replace("6 3", "7 3")).unwrap();
    let o = midgame(&["check", mine.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("FAIL"), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("guessed_password.slt:"),
        "{}",
        stdout(&o)
    );
    assert!(stderr(&o).contains("1 failed"), "{}", stderr(&o));
    // So does a header error.
    std::fs::write(mine.join("bad.sql"), "-- id: bad\nSELECT 1\n").unwrap();
    let o = midgame(&["check", mine.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("bad.sql"), "{}", stdout(&o));
}

/// On a terminal (a pseudo-terminal made by util-linux `script`): the shell prompts,
/// keeps history, and a long result is cut with a notice saying how to get all of it.
#[test]
fn on_a_terminal_the_shell_prompts_keeps_history_and_caps_long_results() {
    use std::io::Write;
    if Command::new("script").arg("--version").output().is_err() {
        let _ = writeln!(std::io::stderr(), "skipped: no `script` to make a terminal");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let lake = sample_lake(dir.path());
    let bin = env!("CARGO_BIN_EXE_midgame");
    let capped = Command::new("script")
        .args([
            "-qec",
            &format!(
                "{bin} sql --lake {} --max-rows 3 'SELECT user FROM auth ORDER BY user'",
                lake.display()
            ),
            "/dev/null",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&capped.stdout);
    assert!(
        text.contains(
            "(showing 3 of 4,706 rows; all of them: \\o FILE in the shell, or redirect the output"
        ),
        "{text}"
    );
    // Piped, nothing is cut.
    let o = midgame(&[
        "sql",
        "--lake",
        lake.to_str().unwrap(),
        "--max-rows",
        "3",
        "--format",
        "csv",
        "SELECT user FROM auth",
    ]);
    assert_eq!(stdout(&o).lines().count(), 4707);

    // History is state: under $XDG_STATE_HOME, in a folder of its own.
    let history = dir.path().join("state/midgame/history");
    let mut child = Command::new("script")
        .args([
            "-qec",
            &format!("{bin} sql --lake {}", lake.display()),
            "/dev/null",
        ])
        .env_remove("MIDGAME_HISTORY")
        .env("XDG_STATE_HOME", dir.path().join("state"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Typed a line at a time once the prompt is there, as a person does (line editing
    // discards input typed ahead of the prompt).
    let mut keyboard = child.stdin.take().unwrap();
    let mut screen = child.stdout.take().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let reader = {
        let seen = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0_u8; 4096];
            while let Ok(n) = std::io::Read::read(&mut screen, &mut buf) {
                if n == 0 {
                    break;
                }
                seen.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        })
    };
    let prompts = |seen: &std::sync::Mutex<Vec<u8>>| {
        let text = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
        text.matches("midgame> ").count() + text.matches("..> ").count()
    };
    for (i, line) in ["SELECT 41 + 1\n", "  AS answer;\n", "\\q\n"]
        .iter()
        .enumerate()
    {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while prompts(&seen) <= i && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        keyboard.write_all(line.as_bytes()).unwrap();
        keyboard.flush().unwrap();
    }
    drop(keyboard);
    child.wait().unwrap();
    reader.join().unwrap();
    let o = std::process::Output {
        status: std::process::ExitStatus::default(),
        stdout: seen.lock().unwrap().clone(),
        stderr: Vec::new(),
    };
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("midgame> "), "{text}");
    assert!(text.contains("..> "), "a continuation prompt: {text}");
    assert!(text.contains("| 42     |"), "{text}");
    let saved = std::fs::read_to_string(&history).unwrap();
    assert!(saved.contains("SELECT 41 + 1"), "{saved}");
}

/// Okta, the Support Console audit log and Cisco ASA syslog in one folder, one ingest:
/// one person is one `user` in all three, whatever each log calls her.
#[test]
fn a_mixed_folder_ingests_in_one_call_under_one_identity() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("archive");
    let samples = repo().join("sample-logs");
    for sub in ["okta", "admin"] {
        let to = logs.join(sub);
        std::fs::create_dir_all(&to).unwrap();
        for f in std::fs::read_dir(samples.join(sub)).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(&f, to.join(f.file_name().unwrap())).unwrap();
        }
    }
    std::fs::create_dir_all(logs.join("vpn")).unwrap();
    std::fs::write(
        logs.join("vpn/asa-2022-08-04.log"),
        "Aug  4 08:55:02 vpn01 : %ASA-6-113039: Group <Staff> User <ACME\\Alice.Lee> IP <198.18.40.7> AnyConnect parent session started.\n\
         Aug  4 11:20:40 vpn01 : %ASA-4-113019: Group = Staff, Username = ACME\\Alice.Lee, IP = 198.18.40.7, Session disconnected. Session Type: SSL, Duration: 2h:25m:38s, Bytes xmt: 1048576, Bytes rcv: 65536, Reason: User Requested\n\
         Aug  4 12:50:10 vpn01 : %ASA-6-113039: Group <Staff> User <ACME\\Alice.Lee> IP <198.18.40.7> AnyConnect parent session started.\n",
    )
    .unwrap();
    std::fs::create_dir_all(logs.join("aws")).unwrap();
    std::fs::write(
        logs.join("aws/123456789012_CloudTrail_us-east-1_20220804T1310Z_x.json"),
        r#"{"Records":[{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Support/Alice.Lee@acme.test"},"eventTime":"2022-08-04T13:10:02Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","sourceIPAddress":"164.92.190.17","userAgent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/104.0.0.0 Safari/537.36","responseElements":{"ConsoleLogin":"Success"},"additionalEventData":{"MFAUsed":"No"}},{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Support/Alice.Lee@acme.test"},"eventTime":"2022-08-04T13:12:40Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","sourceIPAddress":"164.92.190.17","requestParameters":{"bucketName":"acme-customer-exports","key":"all.csv.gz"},"additionalEventData":{"bytesTransferredOut":734003200}}]}"#,
    )
    .unwrap();
    // The VPN log has no locations: a GeoIP database (ip-location-db city CSV) gives them.
    let geoip = dir.path().join("city.csv");
    std::fs::write(
        &geoip,
        "198.18.40.0,198.18.43.255,US,California,,Oakland,94612,37.8044,-122.2712,America/Los_Angeles\n\
         164.92.190.0,164.92.190.255,ZZ,,,Elsewhere,,0.0,0.0,UTC\n",
    )
    .unwrap();
    let lake = dir.path().join("lake");
    let o = midgame(&[
        "ingest",
        "--lake",
        lake.to_str().unwrap(),
        "--config",
        samples.join("midgame.toml").to_str().unwrap(),
        "--geoip",
        geoip.to_str().unwrap(),
        logs.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("ingested 44 new files"),
        "{}",
        stderr(&o)
    );
    let out = sql(
        &lake,
        "SELECT source, count(*) > 0 AS seen FROM (SELECT source, user FROM auth UNION ALL SELECT source, user FROM admin) WHERE user = 'alice.lee@acme.test' GROUP BY source ORDER BY source",
    );
    assert_eq!(
        out,
        "source,seen\nadmin-audit,true\ncisco-asa,true\ncloudtrail,true\nokta,true\n"
    );
    let vpn = sql(
        &lake,
        "SELECT time, activity, bytes_in, duration_s, geo_city FROM auth WHERE source = 'cisco-asa' ORDER BY time",
    );
    assert_eq!(
        vpn,
        "time,activity,bytes_in,duration_s,geo_city\n2022-08-04T08:55:02Z,Logon,,,Oakland\n2022-08-04T11:20:40Z,Logoff,1048576,8738,Oakland\n2022-08-04T12:50:10Z,Logon,,,Oakland\n"
    );
    // Okta's own locations are kept (GeoIP fills only what the source left empty).
    assert_eq!(
        sql(
            &lake,
            "SELECT DISTINCT geo_city, geo_country FROM auth WHERE src_ip = '164.92.190.17' AND source = 'okta'"
        ),
        "geo_city,geo_country\nAmsterdam,NL\n"
    );
    // Analysts get the same database as SQL functions when the config names it.
    let cfg = dir.path().join("midgame.toml");
    std::fs::write(&cfg, "[geoip]\ndatabase = \"city.csv\"\n").unwrap();
    let o = midgame(&[
        "sql",
        "--lake",
        lake.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
        "--format",
        "csv",
        "SELECT geoip_city('198.18.40.7') AS city, geoip_country('198.18.40.7') AS cc, geoip_lat('10.0.0.1') AS none",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "city,cc,none\nOakland,US,\n");
    // Impossible travel now spans the VPN and the IdP: on the VPN in Oakland, then Okta
    // from Amsterdam a quarter of an hour later.
    let o = midgame(&[
        "detect",
        "--lake",
        lake.to_str().unwrap(),
        "--config",
        samples.join("midgame.toml").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o)
            .contains("alice.lee@acme.test signed in from Amsterdam NL 15 min after Oakland US"),
        "{}",
        stdout(&o)
    );
}

/// An admin tool's own JSON audit log, read through a mapping file.
#[test]
fn ingest_reads_an_admin_tools_own_log_through_a_mapping_file() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("billing-2022-08-04.json");
    std::fs::write(
        &log,
        "{\"ts\":\"04/08/2022 10:12:33\",\"who\":{\"email\":\"JDoe@Acme.test\"},\"what\":\"invoice.export\",\"size\":5242880}\n{\"ts\":\"yesterday\",\"who\":{\"email\":\"x@acme.test\"},\"what\":\"invoice.view\"}\n",
    )
    .unwrap();
    let mapping = dir.path().join("billing.toml");
    std::fs::write(
        &mapping,
        "time = \"/ts\"\ntime_format = \"%d/%m/%Y %H:%M:%S\"\nactor = \"/who/email\"\naction = \"/what\"\nbytes = \"/size\"\n[constants]\ntool = \"billing-admin\"\n",
    )
    .unwrap();
    let lake = dir.path().join("lake");
    let o = midgame(&[
        "ingest",
        "--lake",
        lake.to_str().unwrap(),
        "--mapping",
        mapping.to_str().unwrap(),
        log.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(":2: `time` \"yesterday\" does not match"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        sql(
            &lake,
            "SELECT time, user, tool, action, activity_id, bytes FROM admin"
        ),
        "time,user,tool,action,activity_id,bytes\n2022-08-04T10:12:33Z,jdoe@acme.test,billing-admin,invoice.export,7,5242880\n"
    );
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "time = \"/ts\"\n").unwrap();
    let o = midgame(&[
        "ingest",
        "--lake",
        lake.to_str().unwrap(),
        "--mapping",
        bad.to_str().unwrap(),
        log.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("bad.toml: `actor` is required"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn verbose_logs_are_coloured_only_on_a_terminal_without_no_color() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let logs = repo().join("sample-logs/okta/okta-2022-07-23.ndjson.gz");
    let l = lake.to_str().unwrap();
    assert!(
        midgame(&["ingest", "-q", "--lake", l, logs.to_str().unwrap()])
            .status
            .success()
    );
    // DataFusion logs hundreds of lines at -vv.
    let query = ["-vv", "sql", "--lake", l, "SELECT count(*) FROM auth"];
    // Redirected to a file (here a pipe), as a cron job's log: no escape codes at all.
    let o = bin().env_remove("NO_COLOR").args(query).output().unwrap();
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("DEBUG"), "-vv logs: {err}");
    assert!(!err.contains('\x1b'), "no escape codes in a log file");
    if Command::new("script").arg("--version").output().is_err() {
        let _ = writeln!(std::io::stderr(), "skipped: no `script` to make a terminal");
        return;
    }
    // On a terminal, colour; with NO_COLOR set, none.
    let on_terminal = |no_color: Option<&str>| {
        let line = format!(
            "{} {}",
            env!("CARGO_BIN_EXE_midgame"),
            query.map(|a| format!("'{a}'")).join(" ")
        );
        let mut c = Command::new("script");
        c.args(["-qec", &line, "/dev/null"]).env_remove("NO_COLOR");
        if let Some(v) = no_color {
            c.env("NO_COLOR", v);
        }
        String::from_utf8_lossy(&c.output().unwrap().stdout).into_owned()
    };
    let coloured = on_terminal(None);
    assert!(coloured.contains("\x1b[34mDEBUG"), "{coloured:.300}");
    let plain = on_terminal(Some("1"));
    assert!(plain.contains("DEBUG"), "{plain:.300}");
    assert!(
        !plain.contains("\x1b[34m") && !plain.contains("\x1b[2m"),
        "{plain:.300}"
    );
}

#[test]
fn the_lake_and_the_config_may_come_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let lake = sample_lake(dir.path());
    let o = bin()
        .env("MIDGAME_LAKE", &lake)
        .args(["sql", "--format", "csv", "SELECT count(*) AS n FROM auth"])
        .output()
        .unwrap();
    assert_eq!(stdout(&o), "n\n4706\n", "{}", stderr(&o));
    // --lake wins over the environment; a config from MIDGAME_CONFIG is checked.
    let o = bin()
        .env("MIDGAME_LAKE", "/no/such/lake")
        .env("MIDGAME_CONFIG", repo().join("sample-logs/midgame.toml"))
        .args([
            "detect",
            "--lake",
            lake.to_str().unwrap(),
            "--format",
            "ndjson",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("alice.lee@acme.test"));
    let o = bin()
        .env("MIDGAME_CONFIG", "/no/such/midgame.toml")
        .args(["detect", "--lake", lake.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn completions_a_manual_page_and_a_version_with_its_commit() {
    for (shell, mark) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef midgame"),
        ("fish", "complete -c midgame"),
    ] {
        let o = midgame(&["completions", shell]);
        assert!(o.status.success(), "{}", stderr(&o));
        let text = stdout(&o);
        assert!(text.contains(mark), "{shell}: {text:.200}");
        assert!(text.contains("backfill"), "{shell} completes the commands");
    }
    let bad = midgame(&["completions", "cmd.exe"]);
    assert_eq!(bad.status.code(), Some(2));
    let man = midgame(&["man"]);
    let page = stdout(&man);
    assert!(
        page.starts_with(".ie") || page.contains(".TH midgame"),
        "{page:.200}"
    );
    assert!(page.contains("ingest"), "the commands are in the page");
    let v = stdout(&midgame(&["--version"]));
    assert!(
        v.starts_with(&format!("midgame {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{v}"
    );
}

#[test]
fn without_config_the_usual_places_are_searched_and_v_says_which() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    let xdg = dir.path().join("xdg");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::create_dir_all(xdg.join("midgame")).unwrap();
    // A typo makes the file that was read say so in the error.
    std::fs::write(
        xdg.join("midgame/midgame.toml"),
        "[identity]\ndefault_domian = \"x\"\n",
    )
    .unwrap();
    let check = |cwd: &Path| {
        bin()
            .current_dir(cwd)
            .env("XDG_CONFIG_HOME", &xdg)
            .args(["-v", "check"])
            .output()
            .unwrap()
    };
    let o = check(&work);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("xdg/midgame/midgame.toml") && err.contains("default_domian"),
        "{err}"
    );
    // ./midgame.toml comes first.
    std::fs::write(
        work.join("midgame.toml"),
        "[identity]\ndefault_domain = \"acme.test\"\n",
    )
    .unwrap();
    let o = check(&work);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("config: midgame.toml"), "{err}");
    // A scheduled run without any config says where it looked.
    let o = bin()
        .current_dir(dir.path())
        .args(["run"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("no config: pass --config FILE"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn bench_measures_ingest_then_clustering_then_each_detection() {
    let tmp = tempfile::tempdir().unwrap();
    let phases = |extra: &[&str]| -> Vec<String> {
        let mut args = vec![
            "bench",
            "--events",
            "3000",
            "--raw",
            "none",
            "--detection",
            "impossible_travel",
            "--format-json",
            "--work",
            tmp.path().to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let out = ok(&midgame(&args));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v["phases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["phase"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        phases(&[]),
        [
            "ingest (--raw none)",
            "compact (cluster by user)",
            "impossible_travel"
        ]
    );
    assert_eq!(
        phases(&["--daily"]),
        ["ingest (--raw none)", "impossible_travel"]
    );
}
