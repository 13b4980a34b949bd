//! Finding the files to ingest, safely: a directory is entered once however many links
//! lead to it (so a symlink loop ends), anything that is not a regular file (a FIFO, a
//! socket, a device) is passed over with a warning instead of blocking a read, and a
//! folder that cannot be read is one failed path while the rest is found.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use crate::{LakeError, io_err};

/// What a walk found.
#[derive(Debug, Default)]
pub struct Found {
    /// Regular files, sorted, each once.
    pub files: Vec<PathBuf>,
    /// Paths passed over, and why (not a regular file, a directory reached again).
    pub skipped: Vec<(PathBuf, String)>,
    /// Paths that could not be read (a folder without permission), and why.
    pub failed: Vec<(PathBuf, LakeError)>,
}

impl Found {
    fn finish(mut self) -> Self {
        self.files.sort();
        self.files.dedup();
        self
    }
}

/// A walk from one root: directories entered once by (device, inode).
struct Walker<'a> {
    visited: HashSet<(u64, u64)>,
    found: &'a mut Found,
}

impl Walker<'_> {
    /// Walk `root` down to `max_depth` levels (`None`: all), keeping files `keep` wants;
    /// hidden entries are skipped when `hidden` is false.
    fn walk(
        &mut self,
        root: &Path,
        max_depth: Option<usize>,
        hidden: bool,
        keep: &dyn Fn(&Path) -> bool,
    ) {
        let mut stack = vec![(root.to_path_buf(), 0usize)];
        while let Some((dir, depth)) = stack.pop() {
            let meta = match std::fs::metadata(&dir) {
                Ok(m) => m,
                Err(e) => {
                    self.found.failed.push((dir.clone(), io_err(&dir)(e)));
                    continue;
                }
            };
            if !self.visited.insert((meta.dev(), meta.ino())) {
                self.found.skipped.push((
                    dir,
                    "a folder already walked (a symbolic link back into the tree): not walked again".into(),
                ));
                continue;
            }
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) => {
                    self.found.failed.push((dir.clone(), io_err(&dir)(e)));
                    continue;
                }
            };
            let mut children: Vec<PathBuf> = Vec::new();
            for entry in entries {
                match entry {
                    Ok(e) => children.push(e.path()),
                    Err(e) => self.found.failed.push((dir.clone(), io_err(&dir)(e))),
                }
            }
            children.sort();
            // Depth-first in name order: push in reverse.
            for p in children.into_iter().rev() {
                let is_hidden = p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.'));
                if is_hidden && !hidden {
                    continue;
                }
                match std::fs::metadata(&p) {
                    Ok(m) if m.is_dir() => {
                        if max_depth.is_none_or(|d| depth + 1 < d) {
                            stack.push((p, depth + 1));
                        }
                    }
                    Ok(m) if m.is_file() => {
                        if keep(&p) {
                            self.found.files.push(p);
                        }
                    }
                    Ok(_) => {
                        if keep(&p) {
                            self.found.skipped.push((
                                p,
                                "not a regular file (a FIFO, socket or device): not read".into(),
                            ));
                        }
                    }
                    // A link to nothing: nothing to read.
                    Err(e) => self
                        .found
                        .skipped
                        .push((p, format!("cannot be read ({e}): not read"))),
                }
            }
        }
    }
}

/// Whether a name is one of the log files a folder is walked for: `.json`, `.ndjson`,
/// `.jsonl`, `.log`, `.txt`, plain or `.gz`/`.zst`.
fn is_log_name(p: &Path) -> bool {
    let name = p
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let name = name.trim_end_matches(".gz").trim_end_matches(".zst");
    [".json", ".ndjson", ".jsonl", ".log", ".txt"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

/// The files to ingest under `paths`: a file is taken as named; a directory is walked
/// for `.json`, `.ndjson`, `.jsonl`, `.log`, `.txt` files, plain or `.gz`/`.zst`
/// (hidden entries skipped). Sorted, without duplicates.
///
/// # Errors
/// A path given does not exist.
pub fn find_inputs(paths: &[PathBuf]) -> Result<Found, LakeError> {
    let mut found = Found::default();
    let mut walker = Walker {
        visited: HashSet::new(),
        found: &mut found,
    };
    for p in paths {
        let meta = fs_err::metadata(p).map_err(io_err(p))?;
        if meta.is_dir() {
            walker.walk(p, None, false, &is_log_name);
        } else if meta.is_file() {
            walker.found.files.push(p.clone());
        } else {
            walker.found.failed.push((
                p.clone(),
                io_err(p)(std::io::Error::other(
                    "not a regular file (a FIFO, socket or device): not read",
                )),
            ));
        }
    }
    Ok(found.finish())
}

/// The files glob patterns match (`*`, `?`, `[...]`; `**` crosses folders), each
/// with the index of its pattern's group (an `[[archive]]`); a file two patterns match
/// belongs to the first. Sorted by path. Also the positions in `patterns` of those
/// that matched no file, and what the walks passed over or could not read.
///
/// # Errors
/// A pattern is malformed.
pub fn find_globs(patterns: &[(usize, PathBuf)]) -> Result<GlobMatches, LakeError> {
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: false,
    };
    let mut seen = std::collections::BTreeSet::new();
    let mut out = GlobMatches::default();
    let mut walks = Found::default();
    for (at, (group, pattern)) in patterns.iter().enumerate() {
        let text = pattern.to_string_lossy();
        let compiled = glob::Pattern::new(&text).map_err(|e| LakeError::Pattern {
            pattern: text.clone().into_owned(),
            reason: e.to_string(),
        })?;
        let (base, rest) = split_base(pattern);
        let mut found = Found::default();
        if rest == 0 {
            // No wildcard: the path itself.
            if std::fs::metadata(&base).is_ok_and(|m| m.is_file()) {
                found.files.push(base.clone());
            }
        } else {
            let deep = pattern.components().any(|c| c.as_os_str() == "**");
            let mut walker = Walker {
                visited: HashSet::new(),
                found: &mut found,
            };
            walker.walk(&base, (!deep).then_some(rest), true, &|p| {
                compiled.matches_path_with(p, options)
            });
        }
        let found = found.finish();
        let mut matched = false;
        for p in found.files {
            matched = true;
            if seen.insert(p.clone()) {
                out.files.push((*group, p));
            }
        }
        if !matched {
            out.unmatched.push(at);
        }
        walks.skipped.extend(found.skipped);
        walks.failed.extend(
            found
                .failed
                .into_iter()
                // A base folder that does not exist is a pattern that matches nothing.
                .filter(|(p, _)| *p != base || base.exists()),
        );
    }
    out.files.sort_by(|x, y| x.1.cmp(&y.1));
    out.skipped = walks.skipped;
    out.failed = walks.failed;
    Ok(out)
}

/// The folder before the first component with a wildcard, and how many components
/// follow it (0: no wildcard at all).
fn split_base(pattern: &Path) -> (PathBuf, usize) {
    let comps: Vec<Component<'_>> = pattern.components().collect();
    let wild = |c: &Component<'_>| c.as_os_str().to_string_lossy().contains(['*', '?', '[']);
    match comps.iter().position(wild) {
        None => (pattern.to_path_buf(), 0),
        Some(i) => {
            let base: PathBuf = comps[..i].iter().collect();
            let base = if base.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                base
            };
            (base, comps.len() - i)
        }
    }
}

/// What [`find_globs`] found.
#[derive(Debug, Default)]
pub struct GlobMatches {
    /// Each file with its pattern's group, sorted by path.
    pub files: Vec<(usize, PathBuf)>,
    /// Positions of the patterns that matched no file.
    pub unmatched: Vec<usize>,
    /// Paths passed over, and why.
    pub skipped: Vec<(PathBuf, String)>,
    /// Paths that could not be read.
    pub failed: Vec<(PathBuf, LakeError)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_is_the_folder_before_the_first_wildcard() {
        assert_eq!(
            split_base(Path::new("/srv/logs/okta/*/*.json.gz")),
            (PathBuf::from("/srv/logs/okta"), 2)
        );
        assert_eq!(
            split_base(Path::new("live/**/x.log")),
            (PathBuf::from("live"), 2)
        );
        assert_eq!(split_base(Path::new("*.log")), (PathBuf::from("."), 1));
        assert_eq!(
            split_base(Path::new("a/b.log")),
            (PathBuf::from("a/b.log"), 0)
        );
    }
}
