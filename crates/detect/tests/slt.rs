//! Every detection's sqllogictest cases (`queries/tests/*.slt`): rows that must alert and
//! look-alikes that must not.

use std::path::{Path, PathBuf};

fn queries() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../queries")
}

#[tokio::test(flavor = "multi_thread")]
async fn every_slt_file_passes() {
    let files = midgame_detect::slt::slt_files(&queries().join("tests")).unwrap();
    assert!(!files.is_empty());
    let mut failures = Vec::new();
    for f in &files {
        if let Err(e) = midgame_detect::slt::run_slt_file(f, &queries()).await {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_detection_has_slt_cases() {
    let detections = midgame_detect::Detection::load_dir(&queries()).unwrap();
    let missing: Vec<&str> = detections
        .iter()
        .filter(|d| {
            !queries()
                .join("tests")
                .join(format!("{}.slt", d.id))
                .is_file()
        })
        .map(|d| d.id.as_str())
        .collect();
    assert!(
        missing.is_empty(),
        "no queries/tests/<id>.slt for {missing:?}"
    );
}

#[tokio::test]
async fn a_wrong_expectation_fails_naming_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("wrong.slt");
    std::fs::write(
        &f,
        "statement ok\nINSERT INTO auth (time, activity, user) VALUES ('2022-08-04T09:00:00Z', 'Logon', 'a@b.c')\n\nquery TI\nSELECT user, time_ms FROM signins\n----\na@b.c 1\n",
    )
    .unwrap();
    let err = midgame_detect::slt::run_slt_file(&f, &queries())
        .await
        .unwrap_err();
    assert!(err.contains("wrong.slt:4"), "{err}");
    assert!(
        err.contains("1659603600000"),
        "time_ms is computed from time: {err}"
    );
}
