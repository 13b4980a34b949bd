//! Sigma rules through the binary: `midgame sigma convert`, `detect --sigma` beside the
//! built-ins, a refused rule named on stderr, `detect --list` and a detection left out by
//! the config.

mod common;

use std::path::PathBuf;

use common::{midgame, repo, sample_lake, stderr, stdout};

fn sigma(rel: &str) -> PathBuf {
    repo().join("../shared/corpus/sigma").join(rel)
}

#[test]
fn rules_convert_to_files_and_a_refused_rule_is_named_with_its_construct() {
    let okta = sigma("rules/identity/okta");
    let o = midgame(&["sigma", "convert", okta.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(out.matches("\n-- id: ").count() + 1, 21, "{out}");
    assert!(
        out.contains("-- id: sigma_okta_api_token_created_19951c21\n"),
        "{out}"
    );
    assert!(
        out.contains("-- sigma_link: https://github.com/SigmaHQ/sigma/blob/master/rules/identity/okta/okta_api_token_created.yml"),
        "{out}"
    );
    assert!(
        stderr(&o).contains("sigma: 21 rules converted, 0 refused"),
        "{}",
        stderr(&o)
    );

    // Into a folder: one file per rule; a second time nothing is overwritten.
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("sigma");
    let args = [
        "sigma",
        "convert",
        okta.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ];
    assert!(midgame(&args).status.success());
    assert_eq!(std::fs::read_dir(&out_dir).unwrap().count(), 21);
    let o = midgame(&args);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("never overwrites"), "{}", stderr(&o));
    // The files are detections `check` accepts.
    let o = midgame(&["check", out_dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));

    // A placeholder rule is refused on one line naming the file and the construct; the
    // run goes on, and --strict makes it fail.
    let placeholder = sigma("rules-placeholder/identity/okta");
    let o = midgame(&["sigma", "convert", placeholder.to_str().unwrap()]);
    assert!(o.status.success());
    let err = stderr(&o);
    let line = err
        .lines()
        .find(|l| l.contains("okta_session_impersonation_granted.yml"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(line.contains("`actor.alternateId|expand`"), "{line}");
    assert!(err.contains("0 rules converted, 1 refused"), "{err}");
    let o = midgame(&[
        "sigma",
        "convert",
        "--strict",
        placeholder.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn sigma_rules_run_beside_the_builtins_the_catalogue_lists_them_and_the_config_leaves_one_out() {
    let dir = tempfile::tempdir().unwrap();
    let lake = sample_lake(dir.path());
    let l = lake.to_str().unwrap();
    let okta = sigma("rules/identity/okta");
    let o = midgame(&[
        "detect",
        "--lake",
        l,
        "--sigma",
        okta.to_str().unwrap(),
        "--format",
        "ndjson",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let alerts: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &serde_json::Value| v["type"] == "alert")
        .collect();
    let detections: std::collections::BTreeSet<&str> = alerts
        .iter()
        .map(|a| a["detection"].as_str().unwrap())
        .collect();
    // The built-ins still find the intrusion, and every alert carries its context.
    assert!(detections.contains("impossible_travel"), "{detections:?}");
    for a in &alerts {
        assert!(a["technique"].as_str().is_some(), "{a}");
    }
    let sigma_alerts: Vec<_> = alerts
        .iter()
        .filter(|a| a["detection"].as_str().unwrap().starts_with("sigma_"))
        .collect();
    for a in &sigma_alerts {
        assert!(a["evidence"]["file"].as_str().is_some(), "{a}");
    }

    // The catalogue: the built-ins and the Sigma rules, with the tables they read.
    let cfg = dir.path().join("midgame.toml");
    std::fs::write(&cfg, "[detections.impossible_travel]\nenabled = false\n").unwrap();
    let o = midgame(&[
        "detect",
        "--lake",
        l,
        "--config",
        cfg.to_str().unwrap(),
        "--sigma",
        okta.to_str().unwrap(),
        "--list",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let list = stdout(&o);
    let row = |id: &str| {
        list.lines()
            .find(|l| l.starts_with(&format!("{id} ")))
            .unwrap_or_else(|| panic!("{id} in {list}"))
            .split_whitespace()
            .take(5)
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert!(list.starts_with("ID "), "{list}");
    assert_eq!(
        row("admin_privilege_grant"),
        "admin_privilege_grant admin-access T1098.003 auth,admin yes"
    );
    assert_eq!(
        row("impossible_travel"),
        "impossible_travel initial-access T1078 auth no"
    );
    assert_eq!(
        row("sigma_okta_mfa_reset_or_deactivated_50e068d7"),
        "sigma_okta_mfa_reset_or_deactivated_50e068d7 initial-access T1556.006 auth yes"
    );
    // A rule tagged with a tactic only has no technique: `-`, not a guess.
    assert_eq!(
        row("sigma_okta_api_token_created_19951c21"),
        "sigma_okta_api_token_created_19951c21 admin-access - auth yes"
    );
    assert_eq!(list.lines().count(), 1 + 14 + 21, "{list}");

    // Left out: no impossible_travel alert, though the sample logs' intrusion has one.
    let o = midgame(&[
        "detect",
        "--lake",
        l,
        "--config",
        cfg.to_str().unwrap(),
        "--format",
        "ndjson",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stdout(&o).contains("\"detection\":\"impossible_travel\""));
    assert!(stdout(&o).contains("\"detection\":\"new_device_sso\""));
    // An unknown id in the config is an error before anything runs.
    std::fs::write(&cfg, "[detections.no_such_thing]\nenabled = false\n").unwrap();
    let o = midgame(&["detect", "--lake", l, "--config", cfg.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no_such_thing"), "{}", stderr(&o));
}
