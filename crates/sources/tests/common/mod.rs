//! Helpers the source tests share: the corpus beside the repository, and columns as text.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, RecordBatch};

/// A file of `../shared/corpus/<family>/`.
pub fn corpus(family: &str, rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus")
        .join(family)
        .join(rel)
}

/// The vendor records (`message`) of a derived `*.messages.ndjson` list.
pub fn messages(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (clone `shared` beside the repository)",
                path.display()
            )
        })
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|v| v["message"].as_str().unwrap().to_owned())
        .collect()
}

/// The same records re-written one per line, as a log file holds JSON records.
pub fn compact(records: Vec<String>) -> Vec<String> {
    records
        .into_iter()
        .map(|m| {
            serde_json::from_str::<serde_json::Value>(&m)
                .unwrap()
                .to_string()
        })
        .collect()
}

/// A column as text, nulls as `None`.
pub fn col(b: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let a = arrow::compute::cast(
        b.column_by_name(name).unwrap(),
        &arrow::datatypes::DataType::Utf8,
    )
    .unwrap();
    let a = a.as_string::<i32>();
    (0..a.len())
        .map(|i| a.is_valid(i).then(|| a.value(i).to_owned()))
        .collect()
}
