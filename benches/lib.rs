//! Inputs the benchmarks share: generated logs and lakes at a fixed seed, made once and
//! kept under the build directory; record lists of the public corpus.
//!
//! `MIDGAME_BENCH_EVENTS` sets the size of the detection lake (default 1,000,000 events;
//! 10,000,000 for the figures the README quotes).

use std::path::{Path, PathBuf};

use midgame_sources::{Chunk, Framer};

/// Where generated inputs are kept between runs.
#[must_use]
pub fn cache_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    target.join("midgame-bench")
}

/// Events in the detection lake.
#[must_use]
pub fn bench_events() -> u64 {
    std::env::var("MIDGAME_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(1_000_000)
}

/// `midgame gen` output of about `events` events (seed 1, 30 days), generated once.
///
/// # Panics
/// The logs cannot be written.
#[must_use]
pub fn generated_logs(events: u64) -> PathBuf {
    let dir = cache_dir().join(format!("logs-{events}"));
    if !dir.join("okta").is_dir() {
        let cfg = midgame_gen::GenConfig::for_events(events, 30);
        let tmp = dir.with_extension("tmp");
        let _ = std::fs::remove_dir_all(&tmp);
        midgame_gen::write(&cfg, &tmp).expect("generating logs");
        std::fs::rename(&tmp, &dir).expect("moving the logs into place");
    }
    dir
}

/// A lake of the generated logs (`--raw none`), ingested once.
///
/// # Panics
/// The lake cannot be written.
#[must_use]
pub fn generated_lake(events: u64) -> PathBuf {
    let dir = cache_dir().join(format!("lake-{events}"));
    if !midgame_lake::Layout::new(&dir).is_lake() {
        let logs = generated_logs(events);
        let tmp = dir.with_extension("tmp");
        let _ = std::fs::remove_dir_all(&tmp);
        let lake = midgame_lake::Lake::open(&tmp).expect("opening the lake");
        let opts = midgame_lake::IngestOptions {
            raw: midgame_sources::RawMode::None,
            ..midgame_lake::IngestOptions::default()
        };
        for f in midgame_lake::find_inputs(&[logs])
            .expect("listing the logs")
            .files
        {
            lake.ingest_file(&f, &opts, &|_| {}).expect("ingesting");
        }
        drop(lake);
        std::fs::rename(&tmp, &dir).expect("moving the lake into place");
    }
    dir
}

/// All of `bytes` cut into record chunks, as ingest cuts a file.
///
/// # Panics
/// Never for in-memory input.
#[must_use]
pub fn chunks(bytes: &[u8]) -> Vec<Chunk> {
    let mut framer = Framer::new(bytes);
    let mut out = Vec::new();
    while let Some(c) = framer.next_chunk().expect("reading memory") {
        out.push(c);
    }
    out
}

/// The vendor records of a corpus `*.messages.ndjson` list, one per line (JSON records
/// compacted to one line), repeated to at least `min_bytes`; `None` without the corpus.
#[must_use]
pub fn corpus_lines(rel: &str, min_bytes: usize) -> Option<Vec<u8>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpus")
        .join(rel);
    let text = std::fs::read_to_string(path).ok()?;
    let mut one = Vec::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        let m = v["message"].as_str()?;
        let m = match serde_json::from_str::<serde_json::Value>(m) {
            Ok(json) if json.is_object() => json.to_string(),
            _ => m.to_owned(),
        };
        one.extend_from_slice(m.as_bytes());
        one.push(b'\n');
    }
    if one.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(min_bytes + one.len());
    while out.len() < min_bytes {
        out.extend_from_slice(&one);
    }
    Some(out)
}
