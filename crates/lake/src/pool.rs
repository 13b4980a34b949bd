//! Many files at once: a worker per core, each file parsed in parallel too, one memory
//! budget shared by all.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use midgame_sources::BadRecord;

use crate::{FileOutcome, IngestOptions, Lake, LakeError, find_inputs};

/// Totals of one ingest over many files.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct IngestSummary {
    /// Files read for the first time.
    pub new_files: u64,
    /// Files that grew since they were last read.
    pub grown_files: u64,
    /// Bytes of unfinished last lines left for a later run.
    pub held_bytes: u64,
    /// Files already in the lake.
    pub seen_files: u64,
    /// Files that could not be ingested (as given), each reported to the observer.
    pub failed: Vec<String>,
    /// Rows added to `auth`.
    pub auth_rows: u64,
    /// Rows added to `admin`.
    pub admin_rows: u64,
    /// Records quarantined.
    pub quarantined: u64,
    /// Records no table needs.
    pub skipped: u64,
    /// Invalid values stored as null (addresses, coordinates).
    pub nulled: u64,
    /// Bytes of the files on disk.
    pub bytes: u64,
    /// Wall time.
    pub elapsed: Duration,
}

impl IngestSummary {
    /// Add another run's totals.
    pub fn merge(&mut self, o: IngestSummary) {
        self.new_files += o.new_files;
        self.grown_files += o.grown_files;
        self.held_bytes += o.held_bytes;
        self.seen_files += o.seen_files;
        self.failed.extend(o.failed);
        self.auth_rows += o.auth_rows;
        self.admin_rows += o.admin_rows;
        self.quarantined += o.quarantined;
        self.skipped += o.skipped;
        self.nulled += o.nulled;
        self.bytes += o.bytes;
        self.elapsed += o.elapsed;
    }

    /// Rows added to all tables.
    #[must_use]
    pub fn rows(&self) -> u64 {
        self.auth_rows + self.admin_rows
    }

    /// Every file looked at.
    #[must_use]
    pub fn files(&self) -> u64 {
        self.failed.len() as u64 + self.new_files + self.grown_files + self.seen_files
    }
}

/// What the caller of [`Lake::ingest_files`] hears while it runs (a progress bar,
/// warnings). Every method has a silent default; calls may come from any worker.
pub trait IngestObserver: Sync {
    /// The bytes of every file together, before the first is read.
    fn started(&self, _total_bytes: u64) {}
    /// Bytes read so far, of all files.
    fn progress(&self, _bytes_done: u64) {}
    /// One of the first bad records of a file (all of them are in the quarantine).
    fn bad_record(&self, _file: &Path, _bad: &BadRecord) {}
    /// A file that could not be ingested; the others go on.
    fn failed(&self, _file: &Path, _error: &LakeError) {}
    /// A path passed over while looking for files (not a regular file, a folder reached
    /// again through a link), and why.
    fn skipped(&self, _path: &Path, _why: &str) {}
}

/// An observer that hears nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl IngestObserver for Silent {}

impl Lake {
    /// Ingest every file under `paths` (see [`find_inputs`]); a file or folder that
    /// fails is reported and counted, and the run goes on.
    ///
    /// # Errors
    /// A path does not exist, the paths hold no log file (and nothing failed), or the
    /// manifest cannot be read.
    pub fn ingest_paths(
        &self,
        paths: &[PathBuf],
        opts: &IngestOptions,
        observer: &dyn IngestObserver,
    ) -> Result<IngestSummary, LakeError> {
        let found = find_inputs(paths)?;
        for (p, why) in &found.skipped {
            observer.skipped(p, why);
        }
        if found.files.is_empty() && found.failed.is_empty() {
            return Err(LakeError::NoInputs {
                paths: paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        let mut summary = if found.files.is_empty() {
            IngestSummary::default()
        } else {
            self.ingest_files(&found.files, opts, observer)?
        };
        for (p, e) in &found.failed {
            observer.failed(p, e);
            summary.failed.push(p.display().to_string());
        }
        Ok(summary)
    }

    /// Ingest what of each file is new; a file that fails is reported to `observer`,
    /// counted in [`IngestSummary::failed`], and the run goes on.
    ///
    /// Files are spread over as many workers as there are cores (each file's records are
    /// also parsed in parallel); the memory budget `opts.buffer_bytes` is shared between
    /// the workers, so a run over many small files uses every core and a run over one
    /// large file stays bounded.
    ///
    /// # Errors
    /// The manifest cannot be read.
    pub fn ingest_files(
        &self,
        files: &[PathBuf],
        opts: &IngestOptions,
        observer: &dyn IngestObserver,
    ) -> Result<IngestSummary, LakeError> {
        let total: u64 = files
            .iter()
            .filter_map(|f| fs_err::metadata(f).ok())
            .map(|m| m.len())
            .sum();
        observer.started(total);
        let start = Instant::now();
        let workers = std::thread::available_parallelism()
            .map_or(1, std::num::NonZero::get)
            .min(files.len())
            .max(1);
        let per_worker = IngestOptions {
            buffer_bytes: (opts.buffer_bytes / workers).max(1 << 20),
            ..opts.clone()
        };
        let index = self.manifest_index()?;
        let next = AtomicUsize::new(0);
        let done = AtomicU64::new(0);
        let summary = Mutex::new(IngestSummary::default());
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    while let Some(f) = files.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let last = AtomicU64::new(0);
                        let progress = |read: u64| {
                            let step = read.saturating_sub(last.swap(read, Ordering::Relaxed));
                            observer.progress(done.fetch_add(step, Ordering::Relaxed) + step);
                        };
                        let result = self
                            .plan_file(f, &index, per_worker.settle)
                            .and_then(|plan| self.ingest_planned(f, &plan, &per_worker, &progress));
                        let size = fs_err::metadata(f).map_or(0, |m| m.len());
                        let rest = size.saturating_sub(last.load(Ordering::Relaxed));
                        observer.progress(done.fetch_add(rest, Ordering::Relaxed) + rest);
                        let mut s = summary
                            .lock()
                            .expect("no worker panics while holding the lock");
                        match result {
                            Ok(r) => {
                                s.bytes += r.size;
                                match r.outcome {
                                    FileOutcome::Ingested => s.new_files += 1,
                                    FileOutcome::Appended { .. } => s.grown_files += 1,
                                    FileOutcome::AlreadyIngested { .. } => s.seen_files += 1,
                                }
                                s.held_bytes += r.held;
                                s.auth_rows += r.auth_rows;
                                s.admin_rows += r.admin_rows;
                                s.quarantined += r.quarantined;
                                s.skipped += r.skipped;
                                s.nulled += r.nulled;
                                for bad in &r.bad_sample {
                                    observer.bad_record(f, bad);
                                }
                            }
                            Err(e) => {
                                observer.failed(f, &e);
                                s.failed.push(f.display().to_string());
                            }
                        }
                    }
                });
            }
        });
        let mut s = summary.into_inner().expect("the workers are done");
        s.elapsed = start.elapsed();
        Ok(s)
    }
}
