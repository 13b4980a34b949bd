//! `midgame run`, `backfill` and `compact` end to end: incremental runs over a growing
//! archive give the answer of one run over all of it; a run killed at any step leaves a
//! lake the next run completes exactly; alerts are emitted once, and changes only.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray};

use common::{bin, copy_dir, lake_batches, ok, read_parquet};

/// The `key=value` pairs of the last stdout line.
fn summary(out: &str) -> BTreeMap<String, String> {
    let last = out.lines().last().unwrap_or_default();
    assert!(last.starts_with("midgame-run "), "{out}");
    last.split_whitespace()
        .skip(1)
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches('"').to_owned()))
        .collect()
}

/// A generated archive of plain NDJSON files: six people, twelve days, one intrusion.
fn archive(dir: &Path) -> Vec<PathBuf> {
    ok(&bin()
        .args([
            "gen", "--users", "6", "--days", "12", "--seed", "3", "--attack", "--out",
        ])
        .arg(dir)
        .output()
        .unwrap());
    let mut files = Vec::new();
    for sub in ["okta", "admin"] {
        for e in std::fs::read_dir(dir.join(sub)).unwrap() {
            files.push(e.unwrap().path());
        }
    }
    files.sort();
    files
}

fn write_config(root: &Path, extra: &str) -> PathBuf {
    write_config_with(root, "", extra)
}

/// `run` goes into `[run]`, `extra` at the end.
fn write_config_with(root: &Path, run: &str, extra: &str) -> PathBuf {
    std::fs::create_dir_all(root).unwrap();
    let cfg = root.join("midgame.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"[identity]
default_domain = "acme.test"
[[allowlist.networks]]
cidr = "198.51.100.0/24"
reason = "corporate VPN egress (Ashburn)"
[lake]
path = "lake"
[[archive]]
source = "okta"
paths = ["live/okta/*.ndjson"]
[[archive]]
source = "admin-audit"
paths = ["live/admin/*.ndjson"]
[run]
settle_seconds = 3600
{run}
[output]
dir = "out"
{extra}"#
        ),
    )
    .unwrap();
    cfg
}

fn run(cfg: &Path) -> BTreeMap<String, String> {
    summary(&ok(&bin()
        .args(["run", "--config"])
        .arg(cfg)
        .output()
        .unwrap()))
}

/// Active alerts in the lake's alert table: id -> everything emitted about it.
fn active(lake: &Path) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for b in read_parquet(&lake.join("alerts/alerts.parquet")) {
        // Times are timestamp columns; compare them as text like the rest.
        let text = |n: &str| {
            let c = b.column_by_name(n).unwrap();
            arrow::compute::cast(c, &arrow::datatypes::DataType::Utf8)
                .unwrap()
                .as_string::<i32>()
                .clone()
        };
        let cols: Vec<_> = [
            "alert_id",
            "detection",
            "severity",
            "user",
            "first_seen",
            "last_seen",
            "summary",
            "evidence",
            "incident_id",
            "status",
        ]
        .iter()
        .map(|n| text(n))
        .collect();
        for i in 0..b.num_rows() {
            if cols[9].value(i) != "active" {
                continue;
            }
            let row: Vec<String> = cols
                .iter()
                .map(|c| {
                    if c.is_valid(i) {
                        c.value(i).to_owned()
                    } else {
                        String::new()
                    }
                })
                .collect();
            out.insert(row[0].clone(), row);
        }
    }
    out
}

/// Replay every emitted change, in order: the alerts a consumer of the outputs holds.
fn replay(out_dir: &Path) -> BTreeMap<String, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(out_dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.sort();
    files.retain(|f| f.extension().is_some_and(|e| e == "ndjson"));
    let mut held: BTreeMap<String, String> = BTreeMap::new();
    for f in files {
        for line in std::fs::read_to_string(&f).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            if v["type"] != "alert" {
                continue;
            }
            let id = v["alert_id"].as_str().unwrap().to_owned();
            match v["change"].as_str().unwrap() {
                "new" => {
                    assert!(!held.contains_key(&id), "{id} emitted as new twice");
                    held.insert(id, v["last_seen"].to_string());
                }
                "changed" => {
                    assert!(held.contains_key(&id), "{id} changed before it was new");
                    held.insert(id, v["last_seen"].to_string());
                }
                "retracted" => {
                    assert!(
                        held.remove(&id).is_some(),
                        "{id} retracted but never emitted"
                    );
                }
                other => panic!("change {other}"),
            }
        }
    }
    held
}

/// (file, line) of every row in the lake: each record once, from where it was read.
fn rows(lake: &Path) -> Vec<(String, String, i64)> {
    let mut out = Vec::new();
    for table in ["auth", "admin"] {
        for b in lake_batches(lake, table) {
            let file = b.column_by_name("file").unwrap().as_string::<i32>().clone();
            let line = arrow::compute::cast(
                b.column_by_name("line").unwrap(),
                &arrow::datatypes::DataType::Int64,
            )
            .unwrap();
            let line = line.as_primitive::<arrow::datatypes::Int64Type>();
            for i in 0..b.num_rows() {
                out.push((table.to_owned(), file.value(i).to_owned(), line.value(i)));
            }
        }
    }
    out.sort();
    out
}

/// Rows with the run's own folder taken out of their file paths, sorted.
fn relative(rows: Vec<(String, String, i64)>, base: &Path) -> Vec<(String, String, i64)> {
    let base = base.display().to_string();
    let mut v: Vec<_> = rows
        .into_iter()
        .map(|(t, f, l)| (t, f.replace(&base, ""), l))
        .collect();
    v.sort();
    v
}

/// Put the first `len` bytes of `src` at the same place under `root/live`.
fn place(src_root: &Path, src: &Path, root: &Path, len: usize) {
    let rel = src.strip_prefix(src_root).unwrap();
    let dest = root.join("live").join(rel);
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    let bytes = std::fs::read(src).unwrap();
    std::fs::write(dest, &bytes[..len.min(bytes.len())]).unwrap();
}

#[test]
fn any_split_of_the_archive_into_runs_ends_with_the_alerts_of_one_run() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("archive");
    let files = archive(&src);

    // One run over the whole archive.
    let whole = tmp.path().join("whole");
    for f in &files {
        place(&src, f, &whole, usize::MAX);
    }
    let s = run(&write_config(&whole, ""));
    assert_eq!(s["status"], "ok");
    let want = active(&whole.join("lake"));
    assert!(want.len() >= 5, "the intrusion alerts: {want:?}");
    assert_eq!(s["alerts_new"], want.len().to_string());
    assert_eq!(replay(&whole.join("out")).len(), want.len());
    let want_rows = rows(&whole.join("lake"));

    for seed in [7u64, 1234, 99_991] {
        let mut rng = midgame_gen::Rng::new(seed, &[]);
        let root = tmp.path().join(format!("split-{seed}"));
        let cfg = write_config(&root, "");
        let runs = 2 + rng.below(3);
        // Each file arrives in some run, perhaps cut mid-line first and whole later.
        let mut arrival: Vec<(usize, Option<(usize, usize)>)> = Vec::new();
        for f in &files {
            let at = rng.below(runs);
            let len = std::fs::metadata(f).unwrap().len() as usize;
            let grows = at + 1 < runs && rng.below(3) == 0;
            arrival.push((
                at,
                grows.then(|| (rng.below(len), at + 1 + rng.below(runs - at - 1))),
            ));
        }
        for r in 0..runs {
            for (f, (at, grow)) in files.iter().zip(&arrival) {
                match grow {
                    Some((cut, whole_at)) if r >= *at && r < *whole_at => {
                        place(&src, f, &root, *cut)
                    }
                    _ if r >= *at => place(&src, f, &root, usize::MAX),
                    _ => {}
                }
            }
            let s = run(&cfg);
            assert_eq!(s["status"], "ok", "seed {seed} run {r}: {s:?}");
        }
        let got = active(&root.join("lake"));
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "seed {seed}: the same alerts"
        );
        assert_eq!(got, want, "seed {seed}: the same content");
        assert_eq!(
            replay(&root.join("out")).keys().collect::<BTreeSet<_>>(),
            want.keys().collect::<BTreeSet<_>>(),
            "seed {seed}: what was emitted adds up to the same alerts"
        );
        // Rows carry the path they were read from: compare lines per file name.
        assert_eq!(
            relative(rows(&root.join("lake")), &root),
            relative(want_rows.clone(), &whole),
            "seed {seed}: every record once"
        );
    }
}

#[test]
fn a_second_run_over_the_same_archive_emits_nothing_and_a_dry_run_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("archive");
    let files = archive(&src);
    let root = tmp.path().join("r");
    let cfg = write_config(&root, "");
    for f in &files {
        place(&src, f, &root, usize::MAX);
    }
    let dry = ok(&bin()
        .args(["run", "--dry-run", "--config"])
        .arg(&cfg)
        .output()
        .unwrap());
    let s = summary(&dry);
    assert_eq!(s["status"], "dry-run");
    assert_eq!(s["files_new"], files.len().to_string());
    assert_eq!(
        dry.lines().filter(|l| l.starts_with("new ")).count(),
        files.len()
    );
    assert!(!root.join("lake").exists(), "a dry run writes nothing");

    let first = run(&cfg);
    assert_eq!(first["files_new"], files.len().to_string());
    let n: usize = first["alerts_new"].parse().unwrap();
    assert!(n >= 5);
    let second = run(&cfg);
    assert_eq!(
        (
            second["files_seen"].as_str(),
            second["alerts_new"].as_str(),
            second["detected"].as_str()
        ),
        (files.len().to_string().as_str(), "0", "false")
    );
    assert_eq!(second["alerts_active"], n.to_string());
    assert_eq!(
        std::fs::read_dir(root.join("out")).unwrap().count(),
        1,
        "one file per run with changes"
    );

    // Backfill over the whole range: the same findings, so nothing new, nothing repeated.
    let b = summary(&ok(&bin()
        .args([
            "backfill",
            "--from",
            "2020-01-01",
            "--to",
            "2030-01-01",
            "--config",
        ])
        .arg(&cfg)
        .output()
        .unwrap()));
    assert_eq!(
        (
            b["alerts_new"].as_str(),
            b["alerts_changed"].as_str(),
            b["alerts_retracted"].as_str()
        ),
        ("0", "0", "0")
    );
    assert_eq!(b["alerts_active"], n.to_string());

    // Compaction merges each day's files and keeps every row.
    let before = rows(&root.join("lake"));
    let lake = root.join("lake");
    ok(&bin()
        .args(["compact", "--lake"])
        .arg(&lake)
        .output()
        .unwrap());
    assert_eq!(rows(&lake), before);
    let again = run(&cfg);
    assert_eq!(again["alerts_new"], "0", "{again:?}");
}

/// Run with `MIDGAME_CRASH_TRACE`: the names of the run's durable steps, in order.
fn steps(cfg: &Path) -> Vec<String> {
    let o = bin()
        .env("MIDGAME_CRASH_TRACE", "1")
        .args(["run", "--config"])
        .arg(cfg)
        .output()
        .unwrap();
    ok(&o);
    String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter_map(|l| l.strip_prefix("crashpoint "))
        .map(|l| l.split_once(": ").unwrap().1.to_owned())
        .collect()
}

#[test]
fn a_run_killed_at_any_step_is_completed_exactly_by_the_next() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("archive");
    let files = archive(&src);
    // The state before the run under test: most of the archive, one file cut mid-line.
    let base = tmp.path().join("base");
    // Two of the detections (one over auth, one over admin; together an incident) keep
    // the loop's many runs short; which detections run does not change what is tested.
    let queries = base.join("queries");
    std::fs::create_dir_all(&queries).unwrap();
    for q in ["new_device_sso.sql", "data_staging.sql"] {
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../queries")
                .join(q),
            queries.join(q),
        )
        .unwrap();
    }
    let cfg = write_config_with(&base, "builtin = false\nqueries = [\"queries\"]", "");
    let (early, late) = files.split_at(files.len() * 2 / 3);
    for f in early {
        place(&src, f, &base, usize::MAX);
    }
    place(&src, &late[0], &base, 5000);
    run(&cfg);
    // The run under test sees the whole archive.
    for f in &files {
        place(&src, f, &base, usize::MAX);
    }
    let reference = tmp.path().join("reference");
    copy_dir(&base, &reference);
    let names = steps(&reference.join("midgame.toml"));
    let want_rows = rows(&reference.join("lake"));
    let want_alerts = active(&reference.join("lake"));
    let want_out = replay(&reference.join("out"));
    assert!(names.len() > 20, "{names:?}");

    // The steps of the first files in full (data file, quarantine, manifest entry), the
    // last ones (the last entry, outbox, alert table, output file, delivery), and every
    // seventh in between: each file's ingest repeats the same steps.
    let total = names.len();
    let chosen: Vec<usize> = (1..=total)
        .filter(|n| *n <= 10 || *n + 8 > total || n % 7 == 0)
        .collect();
    for want in [
        "written to _tmp",
        "renamed into place",
        "output file written",
        "outbox file delivered",
    ] {
        assert!(
            chosen.iter().any(|n| names[n - 1] == want),
            "{want} is among the chosen steps: {names:?}"
        );
    }
    let check = |dir: &Path, what: &str| {
        assert_eq!(
            relative(rows(&dir.join("lake")), dir),
            relative(want_rows.clone(), &reference),
            "{what}: rows"
        );
        assert_eq!(active(&dir.join("lake")), want_alerts, "{what}: alerts");
        assert_eq!(replay(&dir.join("out")), want_out, "{what}: emitted");
    };
    for n in chosen {
        let dir = tmp.path().join(format!("crash-{n}"));
        copy_dir(&base, &dir);
        let o = bin()
            .env("MIDGAME_CRASH_AT", n.to_string())
            .args(["run", "--config"])
            .arg(dir.join("midgame.toml"))
            .output()
            .unwrap();
        assert!(
            !o.status.success(),
            "step {n} ({}) was not reached",
            names[n - 1]
        );
        run(&dir.join("midgame.toml"));
        check(&dir, &format!("killed at step {n} ({})", names[n - 1]));
        std::fs::remove_dir_all(&dir).unwrap();
    }
    // And real kills, at whatever the process is doing then.
    for (i, ms) in [150u64, 600, 1500].into_iter().enumerate() {
        let dir = tmp.path().join(format!("kill-{i}"));
        copy_dir(&base, &dir);
        let mut child = bin()
            .args(["run", "--config"])
            .arg(dir.join("midgame.toml"))
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(ms));
        let _ = child.kill();
        child.wait().unwrap();
        run(&dir.join("midgame.toml"));
        check(&dir, &format!("SIGKILL after {ms} ms"));
    }
}

/// The names of the files in a folder, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn a_run_writes_its_report_beside_its_changes_and_a_kill_loses_neither() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("archive");
    let files = archive(&src);
    let base = tmp.path().join("base");
    let queries = base.join("queries");
    std::fs::create_dir_all(&queries).unwrap();
    for q in ["new_device_sso.sql", "data_staging.sql"] {
        std::fs::copy(common::repo().join("queries").join(q), queries.join(q)).unwrap();
    }
    write_config_with(
        &base,
        "builtin = false\nqueries = [\"queries\"]",
        "html = true",
    );
    for f in &files {
        place(&src, f, &base, usize::MAX);
    }
    let reference = tmp.path().join("reference");
    copy_dir(&base, &reference);
    let names = steps(&reference.join("midgame.toml"));
    let out = names_in(&reference.join("out"));
    assert_eq!(out.len(), 2, "{out:?}");
    assert!(
        out[0].ends_with(".html") && out[1].ends_with(".ndjson"),
        "{out:?}"
    );
    assert_eq!(
        out[0].trim_end_matches(".html"),
        out[1].trim_end_matches(".ndjson")
    );
    let html = std::fs::read_to_string(reference.join("out").join(&out[0])).unwrap();
    assert!(
        html.starts_with("<!DOCTYPE html>") && html.contains("1 incident"),
        "{html}"
    );
    // Each alert is marked with what the run did to it.
    assert!(html.contains(">new</span>"));
    let want = replay(&reference.join("out"));
    assert!(!want.is_empty());
    // Nothing left in the outbox once delivered; a second run writes no second report.
    assert!(names_in(&reference.join("lake/alerts/outbox")).is_empty());
    run(&reference.join("midgame.toml"));
    assert_eq!(names_in(&reference.join("out")), out);

    // Killed at each of the last steps (the report and changes into the outbox, the
    // table, the report and changes into the output folder, the delivery): the next run
    // delivers both, once.
    assert!(
        names.iter().any(|n| n == "output report written"),
        "{names:?}"
    );
    let total = names.len();
    for n in total - 9..=total {
        let dir = tmp.path().join(format!("crash-{n}"));
        copy_dir(&base, &dir);
        let o = bin()
            .env("MIDGAME_CRASH_AT", n.to_string())
            .args(["run", "--config"])
            .arg(dir.join("midgame.toml"))
            .output()
            .unwrap();
        assert!(
            !o.status.success(),
            "step {n} ({}) was not reached",
            names[n - 1]
        );
        run(&dir.join("midgame.toml"));
        let got = names_in(&dir.join("out"));
        assert_eq!(got.len(), 2, "killed at {n} ({}): {got:?}", names[n - 1]);
        assert_eq!(
            got[0].trim_end_matches(".html"),
            got[1].trim_end_matches(".ndjson"),
            "killed at {n} ({})",
            names[n - 1]
        );
        assert_eq!(
            replay(&dir.join("out")),
            want,
            "killed at {n} ({})",
            names[n - 1]
        );
        assert!(names_in(&dir.join("lake/alerts/outbox")).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn a_report_without_an_output_folder_is_refused_when_the_config_loads() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("midgame.toml");
    std::fs::write(&cfg, "[lake]\npath = \"lake\"\n[output]\nhtml = true\n").unwrap();
    let o = bin().args(["run", "--config"]).arg(&cfg).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("[output] html = true") && err.contains("no dir"),
        "{err}"
    );
}

/// A one-request-at-a-time HTTP server answering each POST with the next status.
fn webhook_server(statuses: Vec<u16>) -> (String, std::sync::mpsc::Receiver<(String, String)>) {
    use std::io::{BufRead, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for status in statuses {
            let (stream, _) = listener.accept().unwrap();
            let mut r = std::io::BufReader::new(stream.try_clone().unwrap());
            let mut headers = String::new();
            let mut len = 0;
            loop {
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                if line == "\r\n" || line.is_empty() {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
                headers.push_str(&line);
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            let mut w = stream;
            write!(
                w,
                "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            .unwrap();
            tx.send((headers, String::from_utf8(body).unwrap()))
                .unwrap();
        }
    });
    (url, rx)
}

#[test]
fn a_webhook_that_fails_keeps_the_alerts_queued_until_a_run_delivers_them() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("archive");
    let files = archive(&src);
    // Down for the first run (both attempts), up for the second.
    let (url, rx) = webhook_server(vec![503, 503, 200]);
    let root = tmp.path().join("r");
    let cfg = write_config(
        &root,
        &format!("[output.webhook]\nurl = \"{url}\"\nretries = 1\nbackoff_ms = 10\n"),
    );
    for f in &files {
        place(&src, f, &root, usize::MAX);
    }
    let first = run(&cfg);
    assert_eq!(
        (first["status"].as_str(), first["queued"].as_str()),
        ("degraded", "1"),
        "{first:?}"
    );
    let n: usize = first["alerts_new"].parse().unwrap();
    assert!(n >= 5);
    let second = run(&cfg);
    assert_eq!(
        (second["delivered"].as_str(), second["queued"].as_str()),
        ("1", "0"),
        "{second:?}"
    );
    let mut got = Vec::new();
    while let Ok(req) = rx.try_recv() {
        got.push(req);
    }
    assert_eq!(got.len(), 3, "two failed attempts, then the delivery");
    let (headers, body) = &got[2];
    assert!(
        headers
            .to_ascii_lowercase()
            .contains("content-type: application/x-ndjson"),
        "{headers}"
    );
    assert!(
        headers
            .to_ascii_lowercase()
            .contains("idempotency-key: 0000000001-"),
        "{headers}"
    );
    let alerts = body
        .lines()
        .filter(|l| l.contains("\"type\":\"alert\"") && l.contains("\"change\":\"new\""))
        .count();
    assert_eq!(alerts, n, "every new alert of the first run, once");
    assert!(
        root.join("lake/alerts/outbox")
            .read_dir()
            .unwrap()
            .next()
            .is_none()
    );
}

#[test]
fn the_readme_config_for_scheduled_runs_is_valid() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    let section = &readme[readme.find("## Scheduled runs").unwrap()..];
    let start = section.find("```toml\n").unwrap() + "```toml\n".len();
    let toml = &section[start..start + section[start..].find("```").unwrap()];
    assert!(toml.contains("[[archive]]") && toml.contains("[output.webhook]"));
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("midgame.toml");
    // The example's absolute paths point into the temporary folder.
    std::fs::write(
        &cfg,
        toml.replace("\"/", &format!("\"{}/", tmp.path().display())),
    )
    .unwrap();
    let o = bin()
        .args(["run", "--dry-run", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let s = summary(&ok(&o));
    assert_eq!(
        (s["status"].as_str(), s["files_new"].as_str()),
        ("dry-run", "0")
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("matches no file"));
}

#[test]
fn a_scheduled_run_fills_locations_from_the_configured_geoip_database() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::create_dir_all(root.join("vpn")).unwrap();
    std::fs::write(
        root.join("vpn/asa-2022-08-04.log"),
        "Aug  4 08:55:02 vpn01 : %ASA-6-113039: Group <Staff> User <alice.lee> IP <198.18.40.7> AnyConnect parent session started.\n\
         Aug  4 09:10:00 vpn01 : %ASA-6-113039: Group <Staff> User <bob> IP <203.0.113.9> AnyConnect parent session started.\n",
    )
    .unwrap();
    // An ip-location-db city CSV that knows the first address only.
    std::fs::write(
        root.join("city.csv"),
        "198.18.40.0,198.18.43.255,US,California,,Oakland,94612,37.8044,-122.2712,America/Los_Angeles\n",
    )
    .unwrap();
    let cfg = root.join("midgame.toml");
    std::fs::write(
        &cfg,
        "[lake]\npath = \"lake\"\n[[archive]]\nsource = \"cisco-asa\"\npaths = [\"vpn/*.log\"]\nyear = 2022\n[geoip]\ndatabase = \"city.csv\"\n[run]\nsettle_seconds = 0\n",
    )
    .unwrap();
    let s = run(&cfg);
    assert_eq!((s["status"].as_str(), s["events"].as_str()), ("ok", "2"));
    let mut cities = BTreeMap::new();
    for b in lake_batches(&root.join("lake"), "auth") {
        let user = b.column_by_name("user").unwrap().as_string::<i32>().clone();
        let city = b
            .column_by_name("geo_city")
            .unwrap()
            .as_string::<i32>()
            .clone();
        for i in 0..b.num_rows() {
            cities.insert(
                user.value(i).to_owned(),
                city.is_valid(i).then(|| city.value(i).to_owned()),
            );
        }
    }
    assert_eq!(
        cities,
        BTreeMap::from([
            ("alice.lee".to_owned(), Some("Oakland".to_owned())),
            ("bob".to_owned(), None)
        ])
    );
}

/// A webhook that accepts and then says nothing: each connection is reported, then held
/// open until the test ends.
fn silent_webhook() -> (String, std::sync::mpsc::Receiver<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
            if tx.send(()).is_err() {
                break;
            }
        }
    });
    (url, rx)
}

/// Delivery once held the lake's lock while the webhook's retries waited, so the next
/// cron run failed with "locked". A run now releases the lake before it delivers: a
/// second run ingests and commits while the first waits on a silent webhook, and leaves
/// its own batch queued for the delivery under way.
#[test]
fn a_slow_webhook_does_not_hold_the_lake() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("archive");
    let files = archive(&src);
    let (url, connected) = silent_webhook();
    let root = tmp.path().join("r");
    let cfg = write_config_with(
        &root,
        "builtin = false\nqueries = [\"queries\"]",
        &format!(
            "[output.webhook]\nurl = \"{url}\"\nretries = 0\ntimeout_seconds = 20\nmax_seconds = 30\n"
        ),
    );
    let queries = root.join("queries");
    std::fs::create_dir_all(&queries).unwrap();
    for q in ["new_device_sso.sql", "data_staging.sql"] {
        std::fs::copy(common::repo().join("queries").join(q), queries.join(q)).unwrap();
    }
    let (early, late) = files.split_at(files.len() / 2);
    for f in early {
        place(&src, f, &root, usize::MAX);
    }
    let first = bin()
        .args(["run", "--config"])
        .arg(&cfg)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The first run is waiting on the webhook now, its lake committed.
    connected
        .recv_timeout(std::time::Duration::from_secs(120))
        .unwrap();
    for f in late {
        place(&src, f, &root, usize::MAX);
    }
    let started = std::time::Instant::now();
    let second = run(&cfg);
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert_eq!(second["files_new"], late.len().to_string(), "{second:?}");
    assert_eq!(second["status"], "ok", "{second:?}");
    // Both batches wait: the one being delivered, and its own behind it.
    assert_eq!(second["queued"], "2", "{second:?}");
    let out = first.wait_with_output().unwrap();
    let last = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap()
        .to_owned();
    assert!(last.contains("status=degraded"), "{last}");
}

/// An early failure (a bad config, the lake held by another run) printed no summary
/// line; monitoring that reads the last line saw nothing. Now every exit has one.
#[test]
fn every_exit_of_a_run_ends_with_a_status_line() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("r");
    let cfg = write_config(&root, "");
    let bad = root.join("bad.toml");
    std::fs::write(&bad, "[lake]\npath = \"lake\"\nnot_a_key = 1\n").unwrap();
    let o = bin().args(["run", "--config"]).arg(&bad).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    let last = out.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("midgame-run status=failed reason="),
        "{out}"
    );
    assert!(last.contains("not_a_key"), "{last}");
    // Locked: another process holds the lake.
    std::fs::create_dir_all(root.join("lake/_manifest")).unwrap();
    let holder = std::process::Command::new("flock")
        .arg(root.join("lake/_lock"))
        .args(["sleep", "30"])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let o = bin().args(["run", "--config"]).arg(&cfg).output().unwrap();
    let mut holder = holder;
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    let last = out.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("midgame-run status=failed reason=") && last.contains("locked"),
        "{out}"
    );
}
