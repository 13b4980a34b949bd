//! The bodies of the fuzz targets (`fuzz/fuzz_targets/`): whatever bytes they are given,
//! framing and parsing end without a panic, account for every record and keep their own
//! promises (line numbers in order, no record over the limit). The same functions run
//! over the seed corpora (`../shared/corpus/`) and every saved crash in ordinary tests.

use std::path::Path;

use crate::{Framer, ParseOptions, SourceKind};

/// The record limit the targets frame with: small, so that long inputs reach the
/// oversize paths.
const MAX_RECORD: usize = 4096;

/// Frame `data` with small chunks; check that lines only go forward and records stay
/// under the limit. Returns the chunks.
fn frame(data: &[u8]) -> Vec<crate::Chunk> {
    let mut framer = Framer::with_chunk_bytes(data, 64).max_record_bytes(MAX_RECORD);
    let mut chunks = Vec::new();
    let mut last_line = 0;
    // Reading from a slice cannot fail.
    while let Some(chunk) = framer.next_chunk().expect("a slice reads") {
        for r in chunk.records() {
            assert!(
                r.line >= last_line,
                "line {} after line {last_line}",
                r.line
            );
            assert!(!r.text.is_empty(), "an empty record at line {}", r.line);
            assert!(r.text.len() <= MAX_RECORD, "a record over the limit");
            last_line = r.line;
        }
        chunks.push(chunk);
    }
    assert!(framer.peak_buffer() <= 4 * MAX_RECORD + (1 << 20) + 64 * 4);
    chunks
}

/// The framer on arbitrary bytes.
pub fn framer(data: &[u8]) {
    frame(data);
}

/// One source's parser on arbitrary bytes, framed as a file would be: every record is a
/// row (or rows), skipped or bad, and the rows are valid batches of the table.
///
/// # Panics
/// `source` names no source (a bug of the target), or the parser breaks a promise.
pub fn source(source: &str, data: &[u8]) {
    let kind = SourceKind::from_name(source).expect("a source name");
    let opts = ParseOptions::new("fuzz");
    for chunk in frame(data) {
        let parsed = kind.parse(&chunk, &opts);
        let rows = parsed.auth.as_ref().map_or(0, |b| b.num_rows())
            + parsed.admin.as_ref().map_or(0, |b| b.num_rows());
        let accounted = rows as u64 + parsed.skipped + parsed.bad.len() as u64;
        assert!(
            accounted >= (chunk.len() + chunk.bad().len()) as u64,
            "{} records, {} accounted for",
            chunk.len() + chunk.bad().len(),
            accounted
        );
    }
}

/// A mapping file and records read through it: `data` is the mapping's TOML, a NUL byte,
/// then the records.
pub fn mapping(data: &[u8]) {
    let (text, records) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &data[data.len()..]),
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let Ok(m) = crate::mapping::AdminMapping::parse(Path::new("fuzz.toml"), text) else {
        return;
    };
    let opts = ParseOptions {
        admin_mapping: Some(std::sync::Arc::new(m)),
        ..ParseOptions::new("fuzz")
    };
    for chunk in frame(records) {
        let parsed = SourceKind::ADMIN_AUDIT.parse(&chunk, &opts);
        let rows = parsed.admin.as_ref().map_or(0, |b| b.num_rows());
        assert_eq!(rows + parsed.bad.len(), chunk.len() + chunk.bad().len());
    }
}
