//! What the binary carries: the built-in detections and the demo's sample logs, embedded
//! at build time (`build.rs`), so an installed `midgame` runs from any directory with no
//! source tree beside it, and never takes its detections from the current directory.
//! The detections are written out once per build to a folder named by their content
//! hash under the user's cache (`$XDG_CACHE_HOME/midgame`, else `~/.cache/midgame`,
//! else the temporary folder), checked at every start.

use std::path::{Path, PathBuf};

use midgame_detect::builtin::{ensure_written, write_files};

include!(concat!(env!("OUT_DIR"), "/embedded.rs"));

/// The built-in detections folder (`*.sql`, `tests/*.slt`), written out if needed.
pub(crate) fn queries() -> anyhow::Result<PathBuf> {
    let dir = crate::xdg_dir("XDG_CACHE_HOME", ".cache")
        .unwrap_or_else(|| std::env::temp_dir().join("midgame"))
        .join(format!("queries-{EMBEDDED_HASH}"));
    ensure_written(QUERIES, &dir)?;
    Ok(dir)
}

/// Write the demo's sample logs (and their `midgame.toml`) into `dest`.
pub(crate) fn write_sample_logs(dest: &Path) -> anyhow::Result<()> {
    Ok(write_files(SAMPLE_LOGS, dest)?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_built_in_detections_their_tests_and_the_sample_logs_are_embedded() {
        let names: Vec<&str> = super::QUERIES.iter().map(|(n, _)| *n).collect();
        assert!(names.contains(&"impossible_travel.sql"), "{names:?}");
        assert!(names.contains(&"tests/impossible_travel.slt"), "{names:?}");
        let logs = super::SAMPLE_LOGS;
        assert!(logs.iter().any(|(n, _)| *n == "midgame.toml"));
        assert_eq!(
            logs.iter().filter(|(n, _)| n.starts_with("okta/")).count(),
            21
        );
    }
}
