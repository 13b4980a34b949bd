//! The built-in detections a binary carries (embedded at build time), written out to a
//! folder of their own so the rest of midgame reads them like any detections folder,
//! and an error names a file that can be opened. The folder is checked against the
//! embedded bytes at every start and written again, whole, if anything there differs.

use std::path::Path;

/// Embedded files: a path relative to the folder, and the bytes.
pub type Files<'a> = [(&'a str, &'a [u8])];

/// Make `dir` hold `files`: nothing is written when it already does; otherwise a fresh
/// folder beside it is written and put in its place, so a reader sees the old folder
/// or the new one, never half of one.
///
/// # Errors
/// The folder cannot be written.
pub fn ensure_written(files: &Files<'_>, dir: &Path) -> std::io::Result<()> {
    if holds(files, dir) {
        return Ok(());
    }
    let parent = dir.parent().unwrap_or(Path::new("."));
    let name = dir
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    fs_err::create_dir_all(parent)?;
    let fresh = parent.join(format!(".{name}-new-{}", std::process::id()));
    let _ = fs_err::remove_dir_all(&fresh);
    write_files(files, &fresh)?;
    if dir.exists() {
        // An older write cut short, or an edit: set it aside.
        let old = parent.join(format!(".{name}-old-{}", std::process::id()));
        fs_err::rename(dir, &old)?;
        let _ = fs_err::remove_dir_all(&old);
    }
    if let Err(e) = fs_err::rename(&fresh, dir) {
        let _ = fs_err::remove_dir_all(&fresh);
        // Another process wrote the same folder first: use it if it is whole.
        if !holds(files, dir) {
            return Err(e);
        }
    }
    Ok(())
}

/// Write `files` below `dest` (folders made as needed).
///
/// # Errors
/// A file cannot be written.
pub fn write_files(files: &Files<'_>, dest: &Path) -> std::io::Result<()> {
    for (rel, bytes) in files {
        let path = dest.join(rel);
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent)?;
        }
        fs_err::write(&path, bytes)?;
    }
    Ok(())
}

/// Whether `dir` holds every file with exactly its bytes.
fn holds(files: &Files<'_>, dir: &Path) -> bool {
    files
        .iter()
        .all(|(rel, bytes)| std::fs::read(dir.join(rel)).is_ok_and(|b| b == *bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILES: &Files<'static> = &[
        (
            "impossible_travel.sql",
            b"-- id: impossible_travel\nSELECT 1",
        ),
        (
            "tests/impossible_travel.slt",
            b"query I\nSELECT 1\n----\n1\n",
        ),
    ];

    #[test]
    fn a_changed_or_missing_file_is_written_again_whole() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("queries-x");
        ensure_written(FILES, &target).unwrap();
        assert!(holds(FILES, &target));
        fs_err::write(target.join("impossible_travel.sql"), "SELECT 2").unwrap();
        fs_err::remove_file(target.join("tests/impossible_travel.slt")).unwrap();
        assert!(!holds(FILES, &target));
        ensure_written(FILES, &target).unwrap();
        assert!(holds(FILES, &target));
        let left: Vec<_> = fs_err::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["queries-x"], "no temporary folder left behind");
    }
}
