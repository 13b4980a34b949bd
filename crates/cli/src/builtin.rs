//! What the binary carries: the built-in detections and the demo's sample logs, embedded
//! at build time (`build.rs`), so an installed `midgame` runs from any directory with no
//! source tree beside it, and never takes its detections from the current directory.
//!
//! The detections are written out once per build to a folder named by their content
//! hash under the user's cache (`$XDG_CACHE_HOME/midgame`, else `~/.cache/midgame`, else
//! the temporary folder), checked against the embedded bytes at every start and
//! rewritten if anything there differs, so the files an error names can be opened.

use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/embedded.rs"));

/// The built-in detections folder (`*.sql`, `tests/*.slt`), written out if needed.
pub(crate) fn queries() -> anyhow::Result<PathBuf> {
    let dir = cache_root().join(format!("queries-{EMBEDDED_HASH}"));
    if !matches(QUERIES, &dir) {
        write_atomically(QUERIES, &dir)?;
    }
    Ok(dir)
}

/// Write the demo's sample logs (and their `midgame.toml`) into `dest`.
pub(crate) fn write_sample_logs(dest: &Path) -> anyhow::Result<()> {
    write_files(SAMPLE_LOGS, dest)
}

fn cache_root() -> PathBuf {
    let home = || std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache"));
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(home)
        .unwrap_or_else(std::env::temp_dir)
        .join("midgame")
}

/// Whether `dir` holds exactly the embedded files.
fn matches(files: &[(&str, &[u8])], dir: &Path) -> bool {
    files
        .iter()
        .all(|(rel, bytes)| std::fs::read(dir.join(rel)).is_ok_and(|b| b == *bytes))
}

fn write_files(files: &[(&str, &[u8])], dest: &Path) -> anyhow::Result<()> {
    for (rel, bytes) in files {
        let path = dest.join(rel);
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent)?;
        }
        fs_err::write(&path, bytes)?;
    }
    Ok(())
}

/// Write the files to a fresh folder beside `dir`, then put it in `dir`'s place: a
/// reader sees the old folder or the new one, never half of one.
fn write_atomically(files: &[(&str, &[u8])], dir: &Path) -> anyhow::Result<()> {
    let parent = dir.parent().unwrap_or(Path::new("."));
    fs_err::create_dir_all(parent)?;
    let fresh = tempfile::Builder::new()
        .prefix(".queries-")
        .tempdir_in(parent)?;
    write_files(files, fresh.path())?;
    let fresh = fresh.keep();
    if dir.exists() {
        // Something differs (an older write cut short, or an edit): set it aside.
        let old = parent.join(format!(
            ".{}-old-{}",
            dir.file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            std::process::id()
        ));
        fs_err::rename(dir, &old)?;
        let _ = fs_err::remove_dir_all(&old);
    }
    if let Err(e) = std::fs::rename(&fresh, dir) {
        let _ = fs_err::remove_dir_all(&fresh);
        // Another midgame wrote the same folder first: use it if it is whole.
        anyhow::ensure!(matches(files, dir), "{}: {e}", dir.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_detections_and_their_tests_are_embedded() {
        let names: Vec<&str> = QUERIES.iter().map(|(n, _)| *n).collect();
        assert!(names.contains(&"impossible_travel.sql"), "{names:?}");
        assert!(names.contains(&"tests/impossible_travel.slt"), "{names:?}");
        assert!(SAMPLE_LOGS.iter().any(|(n, _)| *n == "midgame.toml"));
        assert!(
            SAMPLE_LOGS
                .iter()
                .filter(|(n, _)| n.starts_with("okta/"))
                .count()
                >= 20
        );
    }

    #[test]
    fn a_changed_or_missing_file_is_written_again_whole() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("queries-x");
        write_atomically(QUERIES, &target).unwrap();
        assert!(matches(QUERIES, &target));
        let planted = target.join("impossible_travel.sql");
        fs_err::write(&planted, "SELECT 1").unwrap();
        fs_err::remove_file(target.join("tests/impossible_travel.slt")).unwrap();
        assert!(!matches(QUERIES, &target));
        write_atomically(QUERIES, &target).unwrap();
        assert!(matches(QUERIES, &target));
        let leftovers: Vec<_> = fs_err::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, ["queries-x"], "no temporary folder left behind");
    }
}
