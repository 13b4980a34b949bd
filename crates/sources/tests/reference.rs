//! `docs/tables.md` is generated from the schema and the sources, and what each source
//! declares it fills is what its parser fills on real records.

use std::path::{Path, PathBuf};

use arrow::array::{Array, RecordBatch};
use midgame_sources::{Framer, ParseOptions, SourceKind, decoded};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_tables_reference_is_generated_from_the_code() {
    let path = repo().join("docs/tables.md");
    let want = midgame_sources::tables_reference();
    if std::env::var_os("MIDGAME_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/tables.md is out of date: run `MIDGAME_BLESS=1 cargo test -p midgame-sources --test reference`"
    );
}

fn filled_columns(kind: SourceKind, file: &Path) -> Vec<String> {
    let bytes = std::fs::read(file).unwrap();
    let mut framer = Framer::new(decoded(std::io::Cursor::new(bytes)).unwrap());
    let mut filled = Vec::new();
    while let Some(chunk) = framer.next_chunk().unwrap() {
        let parsed = kind.parse(&chunk, &ParseOptions::new("f"));
        let batches: Vec<RecordBatch> = parsed.auth.into_iter().chain(parsed.admin).collect();
        for b in batches {
            for (i, f) in b.schema().fields().iter().enumerate() {
                if b.column(i).null_count() < b.num_rows() && !filled.contains(f.name()) {
                    filled.push(f.name().clone());
                }
            }
        }
    }
    filled
}

#[test]
fn every_column_a_parser_fills_is_declared() {
    let okta = repo().join("crates/sources/tests/fixtures/okta/panther");
    let mut cases: Vec<(SourceKind, PathBuf)> = std::fs::read_dir(&okta)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ndjson"))
        .map(|p| (SourceKind::new(&midgame_sources::okta::Okta), p))
        .collect();
    for f in std::fs::read_dir(repo().join("sample-logs/admin")).unwrap() {
        cases.push((
            SourceKind::new(&midgame_sources::admin_audit::AdminAudit),
            f.unwrap().path(),
        ));
    }
    assert!(cases.len() > 3);
    for (kind, file) in cases {
        let (_, declared) = kind.fills();
        for col in filled_columns(kind, &file) {
            assert!(
                declared.contains(&col.as_str()),
                "{kind} fills `{col}` in {} but does not declare it",
                file.display()
            );
        }
    }
}
