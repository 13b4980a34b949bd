//! The fuzz targets' bodies (`midgame_sources::fuzz`) over the seeds the fuzz runs start
//! from (every file of `../shared/corpus/`, the public samples) and every input a fuzz
//! run found a crash with (`fuzz/regressions/<target>/`), as ordinary tests.

use std::path::{Path, PathBuf};

use midgame_sources::{SourceKind, fuzz};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.metadata().is_ok_and(|m| m.len() <= 2 << 20) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn the_seed_corpus_through_the_framer_and_every_parser() {
    let corpus = repo().join("../shared/corpus");
    let files = files_under(&corpus);
    assert!(
        files.len() > 100,
        "the corpus is beside the repository: {}",
        corpus.display()
    );
    for f in &files {
        let data = std::fs::read(f).unwrap();
        fuzz::framer(&data);
        for kind in SourceKind::ALL {
            fuzz::source(kind.name(), &data);
        }
    }
}

#[test]
fn every_saved_crash_stays_fixed() {
    let dir = repo().join("fuzz/regressions");
    let mut n = 0;
    for f in files_under(&dir) {
        let target = f
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str())
            .unwrap()
            .to_owned();
        let data = std::fs::read(&f).unwrap();
        match target.as_str() {
            "framer" => fuzz::framer(&data),
            "mapping" => fuzz::mapping(&data),
            "config" => continue, // run by the midgame crate's tests
            source => fuzz::source(&source.replace('_', "-"), &data),
        }
        n += 1;
        assert!(n > 0);
    }
    // The mapping target's seed: the example of the mapping module.
    fuzz::mapping(
        b"time = \"/ts\"\ntime_format = \"%d/%m/%Y %H:%M:%S\"\nactor = \"/who/email\"\naction = \"/what\"\n[constants]\ntool = \"billing\"\n\0{\"ts\":\"04/08/2022 10:12:33\",\"who\":{\"email\":\"a@b.c\"},\"what\":\"export\"}\n",
    );
}
