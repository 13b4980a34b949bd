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
