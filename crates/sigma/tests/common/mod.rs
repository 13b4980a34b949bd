//! Rules against events: write the events to a log file, ingest it into a real lake,
//! convert the rules, run each over the lake, and compare the lines each finds with the
//! lines of its must-match and must-not-match events.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray};
use arrow::datatypes::Int64Type;
use midgame_lake::{IngestOptions, Lake};
use serde_json::Value;

/// `../shared/corpus/`.
pub fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
}

/// The SigmaHQ rules of the corpus.
pub fn sigma() -> PathBuf {
    corpus().join("sigma")
}

/// `patch` laid over `base`: objects merge key by key, anything else replaces.
pub fn merged(base: &Value, patch: &Value) -> Value {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            let mut out = b.clone();
            for (k, v) in p {
                let next = match b.get(k) {
                    Some(old) => merged(old, v),
                    None => v.clone(),
                };
                out.insert(k.clone(), next);
            }
            Value::Object(out)
        }
        (_, p) => p.clone(),
    }
}

/// A rule with events it must find and look-alikes it must not.
pub struct Case {
    /// The rule file, relative to the corpus' `sigma/`.
    pub rule: &'static str,
    /// Patches of the base record that make events the rule finds.
    pub must: Vec<Value>,
    /// Patches that make look-alikes it leaves alone.
    pub must_not: Vec<Value>,
}

/// A case from `json!` lists.
pub fn case(rule: &'static str, must: Vec<Value>, must_not: Vec<Value>) -> Case {
    Case {
        rule,
        must,
        must_not,
    }
}

/// What running the cases found: per rule, the problems (empty: it passed).
pub struct Outcome {
    pub passed: Vec<&'static str>,
    pub failed: Vec<String>,
}

/// Every case's events, made from `base` by `finish` (which sets what each record of
/// the format needs to differ, from its 1-based line), in one log file ingested into a
/// lake; then every rule run and compared.
pub async fn run_cases(
    cases: &[Case],
    base: &Value,
    file_name: &str,
    finish: impl Fn(Value, usize) -> Value,
) -> Outcome {
    let mut lines = Vec::new();
    // Per case: the lines it must find, and those it must not.
    let mut expected: Vec<(BTreeSet<i64>, BTreeSet<i64>)> = Vec::new();
    for c in cases {
        let mut must = BTreeSet::new();
        let mut must_not = BTreeSet::new();
        for (patches, set) in [(&c.must, &mut must), (&c.must_not, &mut must_not)] {
            for p in patches {
                let line = lines.len() + 1;
                lines.push(finish(merged(base, p), line).to_string());
                set.insert(i64::try_from(line).unwrap());
            }
        }
        expected.push((must, must_not));
    }
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join(file_name);
    std::fs::write(&logs, lines.join("\n") + "\n").unwrap();
    let lake_dir = dir.path().join("lake");
    let lake = Lake::open(&lake_dir).unwrap();
    let summary = lake
        .ingest_file(&logs, &IngestOptions::default(), &|_| {})
        .unwrap();
    assert_eq!(
        (summary.quarantined, summary.skipped),
        (0, 0),
        "every event must ingest: {summary:?}\n{}",
        lines.join("\n")
    );
    let ctx = midgame_detect::open_session(&lake_dir).await.unwrap();
    let mut outcome = Outcome {
        passed: Vec::new(),
        failed: Vec::new(),
    };
    for (c, (must, must_not)) in cases.iter().zip(&expected) {
        let converted = midgame_sigma::convert_path(&sigma().join(c.rule)).unwrap();
        let [Ok(rule)] = converted.as_slice() else {
            outcome
                .failed
                .push(format!("{}: does not convert: {converted:?}", c.rule));
            continue;
        };
        let found = match lines_found(&ctx, &rule.text).await {
            Ok(f) => f,
            Err(e) => {
                outcome
                    .failed
                    .push(format!("{}: does not run: {e}", c.rule));
                continue;
            }
        };
        let missed: Vec<_> = must.difference(&found).collect();
        let wrong: Vec<_> = must_not.intersection(&found).collect();
        if missed.is_empty() && wrong.is_empty() {
            outcome.passed.push(c.rule);
        } else {
            outcome.failed.push(format!(
                "{}: missed lines {missed:?}, found look-alike lines {wrong:?}\n{}",
                c.rule, rule.text
            ));
        }
    }
    outcome
}

/// The `line`s a converted rule finds.
pub async fn lines_found(
    ctx: &midgame_detect::SessionContext,
    sql: &str,
) -> Result<BTreeSet<i64>, String> {
    let batches = ctx
        .sql(sql)
        .await
        .map_err(|e| e.to_string())?
        .collect()
        .await
        .map_err(|e| e.to_string())?;
    let mut out = BTreeSet::new();
    for b in &batches {
        let col = b.column_by_name("line").ok_or("no `line` column")?;
        let col = arrow::compute::cast(col, &arrow::datatypes::DataType::Int64)
            .map_err(|e| e.to_string())?;
        let col = col.as_primitive::<Int64Type>();
        for i in 0..col.len() {
            if col.is_valid(i) {
                out.insert(col.value(i));
            }
        }
    }
    Ok(out)
}
