//! The Parquet security lake: one directory, Hive-partitioned, written atomically.
//!
//! ```text
//! LAKE/auth/date=2022-08-04/<content-hash>-0000.parquet   rows sorted by user, time
//! LAKE/admin/date=.../...
//! LAKE/_manifest/<content-hash>.json                       one per ingested file
//! LAKE/_quarantine/<content-hash>.ndjson                   its bad records
//! LAKE/_tmp/                                               files being written
//! LAKE/_lock                                               held by the one writer
//! ```
//!
//! A file is ingested at most once: its identity is the hash of its bytes, so the same
//! archive under another name is recognised too. Every data file is written under
//! `_tmp/` and renamed into place when complete; the manifest entry, written last, is
//! what commits a file. A run killed half-way leaves data files whose hash has no
//! manifest entry: [`Lake::open`] removes them, and the next run ingests that file again
//! from the start, so nothing is lost or doubled.
//!
//! A plain (uncompressed) file that grows is read in pieces: each manifest entry records
//! the byte range it read, and its hash is that of the file's bytes up to the end of the
//! range, so the next run recognises the part it has (under any name) and reads on from
//! the last complete record, with the same line numbers as one read of the whole file.
//!
//! ```no_run
//! use midgame_lake::{IngestOptions, Lake};
//! let lake = Lake::open("lake".as_ref())?;
//! let report = lake.ingest_file("okta-2022-08-04.json.gz".as_ref(), &IngestOptions::default(), &|_| {})?;
//! println!("{} rows", report.rows());
//! # Ok::<(), midgame_lake::LakeError>(())
//! ```
#![deny(missing_docs)]

mod cluster;
mod compact;
pub mod geoip;
mod ingest;
pub mod integrity;
pub mod layout;
mod lock;
mod manifest;
mod plan;
mod pool;
pub mod remote;
pub mod remote_lake;
mod walk;
pub mod writer;

use std::path::{Path, PathBuf};

pub use cluster::{Clustering, bucket_of_user, split_points_for};
pub use compact::Compaction;
pub use ingest::{FileOutcome, FileReport, IngestOptions, Limits};
pub use layout::Layout;
pub use lock::FileLock;
pub use manifest::ManifestEntry;
pub use plan::{FilePlan, ManifestIndex};
pub use pool::{IngestObserver, IngestSummary, Silent};
pub use walk::{Found, GlobMatches, find_globs, find_inputs};

/// What went wrong, with the path it concerns.
#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Writing Parquet failed.
    #[error("{path}: writing Parquet: {source}")]
    Parquet {
        /// The file being written.
        path: PathBuf,
        /// The cause.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// Assembling Arrow data failed (a bug, not bad input).
    #[error("{path}: {source}")]
    Arrow {
        /// The file being written.
        path: PathBuf,
        /// The cause.
        #[source]
        source: arrow::error::ArrowError,
    },
    /// No source recognised the content.
    #[error("{path}: unrecognised log format (none of: {tried}); name it with --source")]
    Unrecognised {
        /// The file.
        path: PathBuf,
        /// The kinds tried.
        tried: String,
    },
    /// Object storage refused or failed (credentials, a missing bucket, the network).
    #[error("{url}: {reason}")]
    Remote {
        /// The object or prefix.
        url: String,
        /// What the store said.
        reason: String,
    },
    /// Another process is writing the lake.
    #[error("{path}: the lake is locked by another run ({holder}); try again when it ends")]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// Who holds it.
        holder: String,
    },
    /// The paths given hold no log file.
    #[error("no log files under {paths}")]
    NoInputs {
        /// The paths, as given.
        paths: String,
    },
    /// A manifest entry is unreadable.
    #[error("{path}: corrupt manifest entry: {source}")]
    Manifest {
        /// The entry.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// A glob pattern is malformed, or a path it matches cannot be read.
    #[error("glob {pattern:?}: {reason}")]
    Pattern {
        /// The pattern, as given.
        pattern: String,
        /// What is wrong.
        reason: String,
    },
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> LakeError + '_ {
    move |source| LakeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A lake directory.
#[derive(Debug, Clone)]
pub struct Lake {
    root: PathBuf,
    layout: Layout,
    /// Content hashes being ingested by this process right now: two copies of one file
    /// ingested in parallel must not both write it.
    in_flight: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
    /// The next manifest sequence number (entries are numbered in commit order).
    next_seq: std::sync::Arc<std::sync::atomic::AtomicU64>,
    lock: Option<std::sync::Arc<lock::LakeLock>>,
    /// The split points of the clustered tables, by table: new rows are written by them.
    clusters: std::sync::Arc<std::sync::Mutex<cluster::Clustered>>,
}

impl Lake {
    /// Open (creating it if needed) the lake at `root` for writing, and clear what a killed
    /// run left: temporary files, and data or quarantine files of an ingest that never
    /// committed.
    ///
    /// One process writes a lake at a time: this takes `LAKE/_lock` (handles opened in
    /// one process share it) and holds it until the last handle is dropped. A lock left
    /// by a process that died is taken over.
    ///
    /// # Errors
    /// Another process holds the lake ([`LakeError::Locked`]), or the directory cannot be
    /// created or listed.
    pub fn open(root: &Path) -> Result<Self, LakeError> {
        fs_err::create_dir_all(root).map_err(io_err(root))?;
        let layout = Layout::new(root);
        let lock = lock::acquire(&layout)?;
        let lake = Self {
            root: root.to_path_buf(),
            layout,
            in_flight: std::sync::Arc::default(),
            next_seq: std::sync::Arc::default(),
            lock: Some(lock),
            clusters: std::sync::Arc::default(),
        };
        let tables = midgame_schema::Table::ALL.map(|t| lake.layout.table_dir(t.name));
        for d in lake.layout.working_dirs().into_iter().chain(tables) {
            fs_err::create_dir_all(&d).map_err(|e| LakeError::Io { path: d, source: e })?;
        }
        lake.sweep()?;
        lake.load_clusters()?;
        let last = lake.manifest()?.iter().map(|e| e.seq).max().unwrap_or(0);
        lake.next_seq
            .store(last + 1, std::sync::atomic::Ordering::SeqCst);
        Ok(lake)
    }

    /// The lake at `root` for reading only (to plan a dry run): no lock is taken and
    /// nothing is created or cleared. Writing through it is a bug.
    #[must_use]
    pub fn inspect(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
            layout: Layout::new(root),
            in_flight: std::sync::Arc::default(),
            next_seq: std::sync::Arc::default(),
            lock: None,
            clusters: std::sync::Arc::default(),
        }
    }

    /// The previous holder of the lake's lock, when it died holding it (its pid, host and
    /// start time), so a run can report the takeover.
    #[must_use]
    pub fn took_over_lock_from(&self) -> Option<&str> {
        self.lock.as_ref().and_then(|l| l.took_over.as_deref())
    }

    /// The lake's root directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The lake's paths.
    #[must_use]
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Directory of a table (`auth`, `admin`).
    #[must_use]
    pub fn table_dir(&self, table: &str) -> PathBuf {
        self.layout.table_dir(table)
    }

    /// Every committed or uncommitted data file of a table, sorted.
    ///
    /// # Errors
    /// A directory cannot be listed.
    pub fn data_files(&self, table: &str) -> Result<Vec<PathBuf>, LakeError> {
        let dir = self.table_dir(table);
        let mut files = Vec::new();
        if !dir.exists() {
            return Ok(files);
        }
        for part in read_dir_sorted(&dir)? {
            if part.is_dir() {
                files.extend(
                    read_dir_sorted(&part)?
                        .into_iter()
                        .filter(|p| p.extension().is_some_and(|e| e == "parquet")),
                );
            }
        }
        Ok(files)
    }

    fn sweep(&self) -> Result<(), LakeError> {
        let tmp = self.layout.tmp_dir();
        for f in read_dir_sorted(&tmp)? {
            if f.is_dir() {
                if let Err(e) = fs_err::remove_dir_all(&f) {
                    tracing::warn!(error = %e, "could not remove a leftover folder");
                }
            } else {
                remove_quietly(&f);
            }
        }
        // Data files nothing committed (an ingest killed before its entry, a file
        // copied in, a manifest entry lost) are moved aside, never deleted and never read.
        for f in self.orphans()? {
            match self.move_to_orphans(&f) {
                Ok(to) => tracing::warn!(
                    file = %f.display(),
                    moved_to = %to.display(),
                    "a data file no manifest entry commits: moved to _orphans (midgame verify lists them)"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "could not move an uncommitted data file aside")
                }
            }
        }
        let committed = self.committed_hashes()?;
        for f in read_dir_sorted(&self.layout.quarantine_dir())? {
            let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let hash = name.split(['-', '.']).next().unwrap_or_default();
            if !committed.contains(hash) {
                let _ = self.move_to_orphans(&f);
            }
        }
        Ok(())
    }
}

/// Test hook for crash safety: with `MIDGAME_CRASH_AT=N` in the environment the process
/// aborts (no destructor runs, nothing is flushed) at its Nth durable step: each file
/// written, renamed or removed by the lake and by a scheduled run. A test that kills the
/// process at every N in turn proves that every step is recoverable. With
/// `MIDGAME_CRASH_TRACE=1` each step is listed on stderr (`crashpoint N: step`).
pub fn crashpoint(step: &str) {
    use std::io::Write;
    use std::sync::atomic::{AtomicU64, Ordering};
    static LIMIT: std::sync::OnceLock<(Option<u64>, bool)> = std::sync::OnceLock::new();
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let (limit, trace) = *LIMIT.get_or_init(|| {
        (
            std::env::var("MIDGAME_CRASH_AT")
                .ok()
                .and_then(|v| v.parse().ok()),
            std::env::var_os("MIDGAME_CRASH_TRACE").is_some(),
        )
    });
    if limit.is_none() && !trace {
        return;
    }
    let n = COUNT.fetch_add(1, Ordering::SeqCst) + 1;
    if trace {
        let _ = writeln!(std::io::stderr(), "crashpoint {n}: {step}");
    }
    if limit == Some(n) {
        let _ = writeln!(
            std::io::stderr(),
            "MIDGAME_CRASH_AT={n}: aborting at {step}"
        );
        std::process::abort();
    }
}

fn remove_quietly(path: &Path) {
    if let Err(e) = fs_err::remove_file(path) {
        tracing::warn!(error = %e, "could not remove a leftover file");
    }
}

/// Every `*.json` record in `dir` (none when it does not exist), in name order.
pub(crate) fn read_records<T: serde::de::DeserializeOwned>(
    dir: &Path,
) -> Result<Vec<T>, LakeError> {
    let mut out = Vec::new();
    for p in read_dir_sorted(dir)? {
        if p.extension().is_some_and(|e| e == "json") {
            let bytes = fs_err::read(&p).map_err(io_err(&p))?;
            out.push(
                serde_json::from_slice(&bytes)
                    .map_err(|source| LakeError::Manifest { path: p, source })?,
            );
        }
    }
    Ok(out)
}

pub(crate) fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>, LakeError> {
    let mut out = Vec::new();
    let entries = match fs_err::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(io_err(dir)(e)),
    };
    for entry in entries {
        out.push(entry.map_err(io_err(dir))?.path());
    }
    out.sort();
    Ok(out)
}
