//! The binary as an SRE installs it: copied alone into a folder, run from another
//! folder with no source tree in reach, and never taking its detections from the
//! current directory.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{copy_dir, ok, repo};

/// A copy of the binary in `root/bin`, and a clean environment for it: its own HOME and
/// cache, no colour, the current directory `root/work`.
fn installed(root: &Path) -> impl Fn(&[&str]) -> Command {
    let bin = root.join("bin/midgame");
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_midgame"), &bin).unwrap();
    let work = root.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let home = root.join("home");
    move |args: &[&str]| {
        let mut c = Command::new(&bin);
        c.args(args)
            .current_dir(&work)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &home)
            .env("NO_COLOR", "1");
        c
    }
}

#[test]
fn an_installed_binary_runs_the_demo_and_a_cron_run_from_anywhere() {
    let root = tempfile::tempdir().unwrap();
    let midgame = installed(root.path());
    // A `queries/` planted in the current directory is not taken for the built-ins.
    let planted = root.path().join("work/queries");
    std::fs::create_dir_all(&planted).unwrap();
    std::fs::write(
        planted.join("impossible_travel.sql"),
        "-- id: impossible_travel\nSELECT 1",
    )
    .unwrap();

    let demo = ok(&midgame(&["demo"]).output().unwrap());
    assert!(demo.contains("alice.lee@acme.test"), "{demo}");
    assert!(demo.contains("impossible_travel"), "{demo}");
    assert!(demo.contains("Amsterdam"), "{demo}");

    // The cron job: a config in an etc folder, the archive elsewhere, run from `work`.
    let etc = root.path().join("etc/midgame");
    copy_dir(&repo().join("sample-logs"), &root.path().join("archive"));
    std::fs::create_dir_all(&etc).unwrap();
    let archive = root.path().join("archive");
    let lake = root.path().join("var/lake");
    let config: PathBuf = etc.join("midgame.toml");
    std::fs::write(
        &config,
        format!(
            "[identity]\ndefault_domain = \"acme.test\"\n\
             [lake]\npath = {lake:?}\n\
             [[archive]]\nsource = \"okta\"\npaths = [\"{a}/okta/*\"]\n\
             [[archive]]\nsource = \"admin-audit\"\npaths = [\"{a}/admin/*\"]\n",
            a = archive.display()
        ),
    )
    .unwrap();
    let out = ok(&midgame(&["run", "--config", config.to_str().unwrap()])
        .output()
        .unwrap());
    let last = out.lines().last().unwrap();
    let value = |key: &str| {
        last.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("no {key} in {last}"))
            .to_owned()
    };
    assert_eq!(value("status"), "ok", "{out}");
    assert_eq!(value("files_new"), "42", "{last}");
    assert_ne!(value("alerts_new"), "0", "the intrusion alerts: {last}");

    // `check` tests the built-in detections with their embedded .slt files.
    let check = midgame(&["check"]).output().unwrap();
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{text}");
    assert!(text.contains("impossible_travel.slt"), "{text}");
    assert!(
        !text.contains(&*planted.display().to_string()),
        "the planted folder is not read: {text}"
    );
}
