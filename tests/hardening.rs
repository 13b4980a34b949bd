//! The binary under hostile and broken conditions (issue 18), each case first seen
//! failing from outside: an unreadable folder, a failed query's output file, writes
//! from the SQL shell, early exits of a scheduled run.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{bin, midgame, repo, stderr, stdout};

fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `midgame` as a user that permissions apply to: as root (CI), the nobody user through
/// `setpriv`, with a copy of the binary it can run.
fn unprivileged(dir: &Path) -> Command {
    if !is_root() {
        return bin();
    }
    let exe = dir.join("midgame");
    std::fs::copy(env!("CARGO_BIN_EXE_midgame"), &exe).unwrap();
    chmod(&exe, 0o755);
    let mut c = Command::new("setpriv");
    c.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--reset-env",
    ])
    .arg(exe)
    .env("NO_COLOR", "1");
    c
}

fn okta_sample() -> PathBuf {
    repo().join("sample-logs/okta/okta-2022-07-20.ndjson.gz")
}

/// One unreadable subfolder once aborted the whole ingest; now it is one failed path
/// (exit 1) and the rest is ingested.
#[test]
fn an_unreadable_folder_is_one_failed_path_and_the_rest_is_ingested() {
    let dir = tempfile::tempdir().unwrap();
    chmod(dir.path(), 0o755);
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(logs.join("open")).unwrap();
    std::fs::create_dir_all(logs.join("closed")).unwrap();
    std::fs::copy(okta_sample(), logs.join("open/okta.ndjson.gz")).unwrap();
    std::fs::copy(okta_sample(), logs.join("closed/okta.ndjson.gz")).unwrap();
    for d in [&logs, &logs.join("open")] {
        chmod(d, 0o755);
    }
    chmod(&logs.join("closed"), 0o000);
    let lake = dir.path().join("lake");
    std::fs::create_dir_all(&lake).unwrap();
    chmod(&lake, 0o777);
    let out = unprivileged(dir.path())
        .args(["ingest", "--lake"])
        .arg(&lake)
        .arg(&logs)
        .output()
        .unwrap();
    chmod(&logs.join("closed"), 0o755);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("closed") && err.contains("Permission denied"),
        "{err}"
    );
    assert!(err.contains("ingested 1 new files"), "{err}");
}

/// A lake of the sample logs.
fn sample_lake(dir: &Path) -> PathBuf {
    let lake = dir.join("lake");
    let out = midgame(&[
        "ingest",
        "-q",
        "--lake",
        lake.to_str().unwrap(),
        repo().join("sample-logs/okta").to_str().unwrap(),
        repo().join("sample-logs/admin").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    lake
}

/// `midgame sql --output F` once left an empty F when the query failed, and the next try
/// refused: F exists. Now a failed query leaves nothing and the retry writes F.
#[test]
fn a_failed_query_leaves_no_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let lake = sample_lake(dir.path());
    let out_file = dir.path().join("hunt.csv");
    let args = |sql: &str| {
        vec![
            "sql".to_owned(),
            "--lake".into(),
            lake.display().to_string(),
            "--format".into(),
            "csv".into(),
            "--output".into(),
            out_file.display().to_string(),
            sql.to_owned(),
        ]
    };
    let run = |sql: &str| bin().args(args(sql)).output().unwrap();
    let o = run("SELECT no_such_column FROM auth");
    assert_eq!(o.status.code(), Some(1));
    assert!(!out_file.exists(), "a failed query leaves no file");
    // Two statements, the second failing: all or nothing.
    let o = run("SELECT 1 AS a; SELECT no_such_column FROM auth");
    assert_eq!(o.status.code(), Some(1));
    assert!(!out_file.exists());
    let o = run("SELECT count(*) AS n FROM auth");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&out_file).unwrap(), "n\n4706\n");
    // And it is never overwritten.
    let o = run("SELECT 2 AS n");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("exists"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&out_file).unwrap(), "n\n4706\n");
    // No temporary file is left beside it.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".midgame"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// The shell's `COPY ... TO` wrote and overwrote any path, into the lake's partitions
/// too, and `CREATE EXTERNAL TABLE` read any file. The shell is read-only now unless
/// asked, and never writes into the lake.
#[test]
fn the_shell_reads_only_unless_asked_and_never_writes_into_the_lake() {
    let dir = tempfile::tempdir().unwrap();
    let lake = sample_lake(dir.path());
    let sql = |extra: &[&str], text: &str| {
        let mut a = vec!["sql", "--lake", lake.to_str().unwrap()];
        a.extend_from_slice(extra);
        a.push(text);
        midgame(&a)
    };
    let outside = dir.path().join("copy.parquet");
    let copy_out = format!(
        "COPY (SELECT user FROM auth LIMIT 3) TO '{}' STORED AS PARQUET",
        outside.display()
    );
    let o = sql(&[], &copy_out);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("read-only unless started with --allow-write"),
        "{}",
        stderr(&o)
    );
    assert!(!outside.exists());
    // Inside EXPLAIN ANALYZE too.
    let o = sql(&[], &format!("EXPLAIN ANALYZE {copy_out}"));
    assert_eq!(o.status.code(), Some(1));
    assert!(!outside.exists());
    // With --allow-write, outside the lake.
    let o = sql(&["--allow-write"], &copy_out);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(outside.exists());
    // Never into the lake, however the path is spelt.
    let day = std::fs::read_dir(lake.join("auth"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    for target in [
        day.join("evil.parquet").display().to_string(),
        format!(
            "{}/../lake/auth/x.parquet",
            dir.path().join("lake").display()
        ),
        format!("file://{}", lake.join("auth/y.parquet").display()),
    ] {
        let o = sql(
            &["--allow-write"],
            &format!("COPY (SELECT * FROM auth LIMIT 1) TO '{target}' STORED AS PARQUET"),
        );
        assert_eq!(o.status.code(), Some(1), "{target}");
        assert!(stderr(&o).contains("inside the lake"), "{}", stderr(&o));
    }
    let o = sql(
        &["--allow-write"],
        "INSERT INTO auth SELECT * FROM auth LIMIT 1",
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("written only by ingest"),
        "{}",
        stderr(&o)
    );
    // Reading other files needs --allow-files.
    let create = format!(
        "CREATE EXTERNAL TABLE other STORED AS PARQUET LOCATION '{}'; SELECT count(*) AS n FROM other",
        outside.display()
    );
    let o = sql(&[], &create);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("need --allow-files"), "{}", stderr(&o));
    let o = sql(&["--allow-files"], &create);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains('3'));
    // The lake holds what ingest wrote, nothing else.
    let o = sql(&[], "SELECT count(*) AS n FROM auth");
    assert!(stdout(&o).contains("4706"), "{}", stdout(&o));
}
