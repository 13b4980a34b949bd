//! Ingesting one file: hash, frame, parse in parallel, buffer, write, quarantine, commit.

use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::sync_channel;

use midgame_schema::IdentityMap;
use midgame_sources::{
    BadRecord, Chunk, Framer, ParseOptions, Parsed, RawMode, SourceKind, decoded,
};
use rayon::prelude::*;
use serde::Serialize;

use crate::manifest::ManifestEntry;
use crate::writer::PartitionWriter;
use crate::{Lake, LakeError, io_err};

/// How files are ingested.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// The format, or `None` to recognise it from the content.
    pub source: Option<SourceKind>,
    /// Identity normalisation.
    pub identities: IdentityMap,
    /// Whether the original text is kept in `raw`.
    pub raw: RawMode,
    /// Arrow bytes buffered before the largest partition is written out: this, not the
    /// input size, bounds memory.
    pub buffer_bytes: usize,
    /// Bytes of records per parse task.
    pub chunk_bytes: usize,
    /// Year of year-less syslog timestamps (`--year`); else the date in the file's path,
    /// else its modification time.
    pub year: Option<i32>,
    /// The zone of zone-less device timestamps (`--tz`).
    pub clock: midgame_sources::time::DeviceClock,
    /// GeoIP databases: fill the location (and network) of rows whose source has none.
    pub geoip: Option<std::sync::Arc<crate::geoip::GeoIp>>,
    /// How an admin tool's own audit JSON maps to `admin` (`--mapping`); implies the
    /// admin-audit source.
    pub admin_mapping: Option<std::sync::Arc<midgame_sources::mapping::AdminMapping>>,
    /// A plain file modified less than this long ago may still be being written: its
    /// unfinished last line waits for a later run. `None` reads every byte.
    pub settle: Option<std::time::Duration>,
    /// What one file may cost: the longest record, the decompressed size and ratio.
    pub limits: Limits,
    /// The name the file is recorded under, when not its path (an object's `s3://` URL,
    /// downloaded to a temporary file).
    pub shown_as: Option<String>,
}

/// What one file may cost, so that a hostile or broken file (a decompression bomb, a
/// line that never ends) is refused or quarantined instead of taking the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A longer record is quarantined by its line and length, not read whole.
    pub max_record_bytes: usize,
    /// A compressed file that decompresses to more than this fails.
    pub max_decompressed_bytes: u64,
    /// A compressed file that decompresses to more than this many times the bytes read
    /// fails (checked past the first [`Limits::RATIO_GRACE`] bytes: real logs compress
    /// 5 to 50 times; a gzip bomb 1,000 times, a zstd one far more).
    pub max_ratio: u64,
    /// Events before this time (ms) are quarantined.
    pub earliest_ms: i64,
    /// Events more than this long (ms) after the file's modification time (or now, when
    /// later) are quarantined: a log cannot hold what had not happened when it was
    /// written.
    pub max_future_ms: i64,
}

impl Limits {
    /// Decompressed bytes before the ratio is checked: small files may compress well.
    pub const RATIO_GRACE: u64 = 64 << 20;
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_record_bytes: midgame_sources::DEFAULT_MAX_RECORD_BYTES,
            max_decompressed_bytes: 256 << 30,
            max_ratio: 250,
            earliest_ms: midgame_schema::Door::EARLIEST_MS,
            max_future_ms: 24 * 3_600_000,
        }
    }
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self {
            source: None,
            identities: IdentityMap::default(),
            raw: RawMode::Full,
            buffer_bytes: 192 << 20,
            chunk_bytes: 4 << 20,
            year: None,
            clock: midgame_sources::time::DeviceClock::Utc,
            geoip: None,
            admin_mapping: None,
            settle: None,
            limits: Limits::default(),
            shown_as: None,
        }
    }
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileOutcome {
    /// Its rows are in the lake now.
    Ingested,
    /// The same bytes were ingested before (perhaps under another path): nothing added.
    AlreadyIngested {
        /// The path recorded then.
        as_path: String,
    },
    /// The file grew since it was last read: its new records, from byte `from`, are in
    /// the lake now.
    Appended {
        /// The first byte read.
        from: u64,
    },
}

/// The result of ingesting one file.
#[derive(Debug, Clone)]
pub struct FileReport {
    /// The file.
    pub path: PathBuf,
    /// Its content hash.
    pub hash: String,
    /// Ingested now or before.
    pub outcome: FileOutcome,
    /// The source kind used.
    pub source: Option<SourceKind>,
    /// Size on disk.
    pub size: u64,
    /// Bytes after decompression.
    pub decoded_bytes: u64,
    /// Rows added to `auth`.
    pub auth_rows: u64,
    /// Rows added to `admin`.
    pub admin_rows: u64,
    /// Records quarantined.
    pub quarantined: u64,
    /// Records needed by no table.
    pub skipped: u64,
    /// Invalid values stored as null (addresses, coordinates); `raw` keeps them.
    pub nulled: u64,
    /// The first few bad records, for messages (all of them are in `_quarantine/`).
    pub bad_sample: Vec<BadRecord>,
    /// Bytes of an unfinished last line left for a later run.
    pub held: u64,
    /// Earliest and latest event time of the rows added (ms since the epoch).
    pub time_range: Option<(i64, i64)>,
}

impl FileReport {
    /// Rows added to all tables.
    #[must_use]
    pub fn rows(&self) -> u64 {
        self.auth_rows + self.admin_rows
    }
}

const BAD_SAMPLE: usize = 5;

/// One quarantined record: where, why, and its original bytes: as `text` when they are
/// UTF-8, else as `base64` (so nothing of the evidence is replaced); `length` when only
/// the start of a record too long to hold is kept.
#[derive(Serialize)]
struct QuarantineLine<'a> {
    file: &'a str,
    line: u64,
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    base64: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    length: Option<u64>,
}

impl<'a> QuarantineLine<'a> {
    fn of(file: &'a str, bad: &'a BadRecord) -> Self {
        use base64::Engine as _;
        let text = std::str::from_utf8(&bad.bytes).ok();
        Self {
            file,
            line: bad.line,
            reason: &bad.reason,
            text,
            base64: text
                .is_none()
                .then(|| base64::engine::general_purpose::STANDARD.encode(&bad.bytes)),
            length: bad.is_cut().then_some(bad.length),
        }
    }
}

/// Quarantined records, streamed to a temporary file so a file full of garbage does not
/// fill memory.
struct Quarantine {
    tmp: PathBuf,
    out: Option<std::io::BufWriter<fs_err::File>>,
    count: u64,
    sample: Vec<BadRecord>,
}

impl Quarantine {
    fn add(&mut self, file: &str, bad: BadRecord) -> Result<(), LakeError> {
        if self.out.is_none() {
            let f = fs_err::File::create(&self.tmp).map_err(io_err(&self.tmp))?;
            self.out = Some(std::io::BufWriter::new(f));
        }
        let out = self.out.as_mut().expect("opened above");
        let line = QuarantineLine::of(file, &bad);
        serde_json::to_writer(&mut *out, &line).map_err(|e| io_err(&self.tmp)(e.into()))?;
        out.write_all(b"\n").map_err(io_err(&self.tmp))?;
        self.count += 1;
        if self.sample.len() < BAD_SAMPLE {
            self.sample.push(bad);
        }
        Ok(())
    }

    fn publish(self, dest: &Path) -> Result<(), LakeError> {
        if let Some(out) = self.out {
            let f = out
                .into_inner()
                .map_err(|e| io_err(&self.tmp)(e.into_error()))?;
            f.sync_all().map_err(io_err(&self.tmp))?;
            fs_err::rename(&self.tmp, dest).map_err(io_err(dest))?;
        }
        Ok(())
    }
}

/// This process's claim on a content hash, released when dropped.
struct Claim<'a> {
    lake: &'a Lake,
    hash: String,
}

impl<'a> Claim<'a> {
    fn take(lake: &'a Lake, hash: &str) -> Option<Self> {
        let mut set = lake
            .in_flight
            .lock()
            .expect("the in-flight set is never poisoned");
        set.insert(hash.to_owned()).then(|| Claim {
            lake,
            hash: hash.to_owned(),
        })
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if let Ok(mut set) = self.lake.in_flight.lock() {
            set.remove(&self.hash);
        }
    }
}

struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A decompressing reader that stops with an error past the decompressed size or ratio
/// of [`Limits`]; `compressed` counts the bytes read from the file.
struct Bounded<R> {
    inner: R,
    out: u64,
    compressed: Arc<AtomicU64>,
    limits: Limits,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out += n as u64;
        let read = self.compressed.load(Ordering::Relaxed).max(1);
        if self.out > self.limits.max_decompressed_bytes {
            return Err(std::io::Error::other(format!(
                "decompresses to more than {} bytes, the limit on a file ([limits] max_decompressed_bytes): refused",
                self.limits.max_decompressed_bytes
            )));
        }
        if self.out > Limits::RATIO_GRACE && self.out > read.saturating_mul(self.limits.max_ratio) {
            return Err(std::io::Error::other(format!(
                "decompresses to more than {} times its size ({read} bytes read gave {} bytes): refused as a decompression bomb ([limits] max_ratio)",
                self.limits.max_ratio, self.out
            )));
        }
        Ok(n)
    }
}

impl Lake {
    /// Ingest what of one file is not in the lake yet (all of it, the records it gained
    /// since it was last read, or nothing).
    ///
    /// `progress` is called with the number of the file's bytes read so far.
    ///
    /// # Errors
    /// The file cannot be read or decompressed, its format is not recognised, or the
    /// lake cannot be written. Nothing of the file is left in the lake then.
    pub fn ingest_file(
        &self,
        path: &Path,
        opts: &IngestOptions,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<FileReport, LakeError> {
        let plan = self.plan_file(path, &self.manifest_index()?, opts.settle)?;
        self.ingest_planned(path, &plan, opts, progress)
    }

    /// Carry out a [`FilePlan`](crate::FilePlan) made by [`Lake::plan_file`].
    ///
    /// # Errors
    /// As [`Lake::ingest_file`].
    pub fn ingest_planned(
        &self,
        path: &Path,
        plan: &crate::FilePlan,
        opts: &IngestOptions,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<FileReport, LakeError> {
        let mut report = FileReport {
            path: path.to_path_buf(),
            hash: String::new(),
            outcome: FileOutcome::Ingested,
            // A mapping file is read by the admin-audit source.
            source: opts
                .source
                .or(opts.admin_mapping.as_ref().map(|_| SourceKind::ADMIN_AUDIT)),
            size: 0,
            decoded_bytes: 0,
            auth_rows: 0,
            admin_rows: 0,
            quarantined: 0,
            skipped: 0,
            nulled: 0,
            bad_sample: Vec::new(),
            held: 0,
            time_range: None,
        };
        let (start, end, first_line, size, mtime_ms, compressed) = match plan {
            crate::FilePlan::Seen { as_path, held } => {
                report.outcome = FileOutcome::AlreadyIngested {
                    as_path: as_path.clone(),
                };
                report.held = *held;
                let size = fs_err::metadata(path).map_or(0, |m| m.len());
                report.size = size;
                progress(size);
                return Ok(report);
            }
            crate::FilePlan::Read {
                start,
                end,
                first_line,
                hash,
                size,
                mtime_ms,
                compressed,
                held,
                prior,
            } => {
                if report.source.is_none()
                    && let Some(p) = prior
                    && let Some(entry) = self.manifest_entry(p)?
                {
                    report.source = SourceKind::from_name(&entry.source);
                }
                report.hash.clone_from(hash);
                report.size = *size;
                report.held = *held;
                if *start > 0 {
                    report.outcome = FileOutcome::Appended { from: *start };
                }
                (*start, *end, *first_line, *size, *mtime_ms, *compressed)
            }
        };
        let hash = report.hash.clone();
        if let Some(entry) = self.manifest_entry(&hash)? {
            report.outcome = FileOutcome::AlreadyIngested {
                as_path: entry.path,
            };
            report.source = SourceKind::from_name(&entry.source);
            progress(size);
            return Ok(report);
        }
        let Some(_claim) = Claim::take(self, &hash) else {
            report.outcome = FileOutcome::AlreadyIngested {
                as_path: "(a copy being ingested by this run)".to_owned(),
            };
            progress(size);
            return Ok(report);
        };
        let mut writer = PartitionWriter::new(self, &hash, opts.buffer_bytes);
        let mut quarantine = Quarantine {
            tmp: self.tmp_path(Path::new("quarantine.ndjson")),
            out: None,
            count: 0,
            sample: Vec::new(),
        };
        let range = Range {
            start,
            end,
            first_line,
            compressed,
        };
        let result = self.parse_into(
            path,
            &range,
            opts,
            &mut report,
            &mut writer,
            &mut quarantine,
            progress,
        );
        let files = match result.and_then(|()| writer.finish()) {
            Ok(files) => files,
            Err(e) => {
                // Leave nothing of this file behind: it was not committed.
                self.remove_uncommitted(&hash);
                return Err(e);
            }
        };
        report.quarantined = quarantine.count;
        report.bad_sample = std::mem::take(&mut quarantine.sample);
        let commit = || -> Result<(), LakeError> {
            // What readers will check every block they read against.
            let data = files
                .iter()
                .map(|f| crate::integrity::checksum(&self.root, f))
                .collect::<Result<Vec<_>, _>>()?;
            quarantine.publish(&self.layout.quarantine_file(&hash))?;
            crate::crashpoint("quarantine published");
            self.commit(&mut ManifestEntry {
                path: opts
                    .shown_as
                    .clone()
                    .unwrap_or_else(|| path.display().to_string()),
                size,
                hash: hash.clone(),
                start,
                end: (!compressed).then_some(end),
                mtime_ms,
                min_time_ms: report.time_range.map(|r| r.0),
                max_time_ms: report.time_range.map(|r| r.1),
                seq: 0,
                source: report
                    .source
                    .map_or_else(|| "none".to_owned(), |s| s.name().to_owned()),
                auth_rows: report.auth_rows,
                admin_rows: report.admin_rows,
                quarantined: report.quarantined,
                skipped: report.skipped,
                files,
                data,
                ingested_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            })
        };
        if let Err(e) = commit() {
            self.remove_uncommitted(&hash);
            return Err(e);
        }
        Ok(report)
    }

    fn remove_uncommitted(&self, hash: &str) {
        for table in midgame_schema::Table::ALL {
            for f in self.data_files(table.name).unwrap_or_default() {
                if f.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(hash))
                {
                    let _ = fs_err::remove_file(&f);
                }
            }
        }
        let _ = fs_err::remove_file(self.layout.quarantine_file(hash));
    }

    #[allow(clippy::too_many_arguments)]
    fn parse_into(
        &self,
        path: &Path,
        range: &Range,
        opts: &IngestOptions,
        report: &mut FileReport,
        writer: &mut PartitionWriter<'_>,
        quarantine: &mut Quarantine,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<(), LakeError> {
        let mut file = std::fs::File::open(path).map_err(io_err(path))?;
        let read = Arc::new(AtomicU64::new(range.start));
        let reader: Box<dyn Read + Send> = if range.compressed {
            let counting = Counting {
                inner: file,
                count: Arc::clone(&read),
            };
            Box::new(Bounded {
                inner: decoded(BufReader::with_capacity(1 << 20, counting))
                    .map_err(io_err(path))?,
                out: 0,
                compressed: Arc::clone(&read),
                limits: opts.limits,
            })
        } else {
            file.seek(SeekFrom::Start(range.start))
                .map_err(io_err(path))?;
            Box::new(Counting {
                inner: file.take(range.end - range.start),
                count: Arc::clone(&read),
            })
        };
        let first_line = range.first_line;
        let file_name = opts
            .shown_as
            .clone()
            .unwrap_or_else(|| path.display().to_string());
        let mtime = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .map(chrono::DateTime::<chrono::Utc>::from);
        let modified = mtime.map(|t| t.date_naive());
        let reference_day = midgame_sources::time::date_in_path(path).or(modified);
        // The latest plausible event: the file's modification time (a file copied or
        // touched later only widens the window), plus the allowance.
        let newest = mtime.map_or_else(chrono::Utc::now, |t| t.min(chrono::Utc::now()));
        let door = midgame_schema::Door {
            earliest_ms: opts.limits.earliest_ms,
            latest_ms: newest
                .timestamp_millis()
                .saturating_add(opts.limits.max_future_ms),
        };
        let parse_opts = ParseOptions {
            file: file_name.clone(),
            identities: opts.identities.clone(),
            raw: opts.raw,
            default_year: opts
                .year
                .or_else(|| reference_day.map(|d| chrono::Datelike::year(&d))),
            reference_day: if opts.year.is_some() {
                None
            } else {
                reference_day
            },
            clock: opts.clock,
            admin_mapping: opts.admin_mapping.clone(),
            door,
        };
        let group = rayon::current_num_threads().max(1);
        let chunk_bytes = opts.chunk_bytes;
        let max_record = opts.limits.max_record_bytes;

        std::thread::scope(|scope| {
            let (tx, rx) = sync_channel::<std::io::Result<Chunk>>(group * 2);
            let reader_thread = scope.spawn(move || {
                let mut framer =
                    Framer::with_chunk_bytes(reader, chunk_bytes).max_record_bytes(max_record);
                if first_line > 1 {
                    framer = framer.starting_at_line(first_line);
                }
                loop {
                    match framer.next_chunk() {
                        Ok(Some(chunk)) => {
                            if tx.send(Ok(chunk)).is_err() {
                                break;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            break;
                        }
                    }
                }
                framer.bytes_read()
            });
            let mut chunks = rx.iter();
            // The time of the file's last `auth` row so far, in file order: what a device
            // time that occurred twice is read against.
            let mut last_auth_ms: Option<i64> = None;
            loop {
                let mut batch: Vec<Chunk> = Vec::with_capacity(group);
                for item in chunks.by_ref().take(group) {
                    batch.push(item.map_err(io_err(path))?);
                }
                if batch.is_empty() {
                    break;
                }
                // The format is recognised from the first chunk with records: one that
                // holds only bad records (a line over the record limit) says nothing.
                let kind = match report.source {
                    Some(k) => k,
                    None => match batch.iter().find(|c| !c.is_empty()) {
                        Some(first) => {
                            let k = SourceKind::recognise(first).ok_or_else(|| {
                                LakeError::Unrecognised {
                                    path: path.to_path_buf(),
                                    tried: SourceKind::names(),
                                }
                            })?;
                            report.source = Some(k);
                            k
                        }
                        None => {
                            for bad in batch.iter().flat_map(|c| c.bad().iter().cloned()) {
                                quarantine.add(&file_name, bad)?;
                            }
                            continue;
                        }
                    },
                };
                let parsed: Vec<Parsed> = batch
                    .par_iter()
                    .map(|c| {
                        let mut p = kind.parse(c, &parse_opts);
                        if let Some(g) = &opts.geoip {
                            // The parsers build the schema's own batches: enrichment
                            // cannot fail on them.
                            p.auth = p.auth.map(|b| g.enrich_auth(&b).unwrap_or(b));
                            p.admin = p.admin.map(|b| g.enrich_admin(&b).unwrap_or(b));
                        }
                        p
                    })
                    .collect();
                drop(batch);
                for mut p in parsed {
                    if let Some(b) = p.auth.take() {
                        p.auth = Some(settle_clock(b, &p.ambiguous, &mut last_auth_ms)?);
                    }
                    for b in p.auth.iter().chain(p.admin.iter()) {
                        widen(&mut report.time_range, b);
                    }
                    if let Some(b) = &p.auth {
                        report.auth_rows += b.num_rows() as u64;
                        writer.add(midgame_schema::AUTH, b)?;
                    }
                    if let Some(b) = &p.admin {
                        report.admin_rows += b.num_rows() as u64;
                        writer.add(midgame_schema::ADMIN, b)?;
                    }
                    report.skipped += p.skipped;
                    report.nulled += p.nulled;
                    for bad in p.bad {
                        quarantine.add(&file_name, bad)?;
                    }
                }
                progress(read.load(Ordering::Relaxed));
            }
            report.decoded_bytes = reader_thread
                .join()
                .expect("the reader thread does not panic");
            Ok(())
        })
    }
}

/// What of a file to read.
struct Range {
    start: u64,
    end: u64,
    first_line: u64,
    compressed: bool,
}

/// How far back in time the earlier reading of a doubled local time may go from the line
/// before it and still be taken (lines a little out of order are common).
const CLOCK_TOLERANCE_MS: i64 = 5 * 60_000;

/// Settle the rows of `batch` whose device time occurred twice (the hour a clock goes
/// back): the earlier reading unless it goes back in time from the row before (in file
/// order, across chunks through `last`), then the later one. `last` ends at the batch's
/// last row.
fn settle_clock(
    batch: arrow::array::RecordBatch,
    ambiguous: &[(usize, i64)],
    last: &mut Option<i64>,
) -> Result<arrow::array::RecordBatch, LakeError> {
    use arrow::array::{AsArray, Int64Array, TimestampMillisecondArray};
    let Some(col) = batch.column_by_name("time_ms") else {
        return Ok(batch);
    };
    let times = col.as_primitive::<arrow::datatypes::Int64Type>();
    if ambiguous.is_empty() {
        if !times.is_empty() {
            *last = Some(times.value(times.len() - 1));
        }
        return Ok(batch);
    }
    let mut values: Vec<i64> = times.values().to_vec();
    let mut next = ambiguous.iter().peekable();
    for (i, t) in values.iter_mut().enumerate() {
        if let Some(&&(row, later)) = next.peek()
            && row == i
        {
            next.next();
            if last.is_some_and(|l| *t < l - CLOCK_TOLERANCE_MS) {
                *t = later;
            }
        }
        *last = Some(*t);
    }
    let schema = batch.schema();
    let mut columns = batch.columns().to_vec();
    for (i, f) in schema.fields().iter().enumerate() {
        if f.name() == "time_ms" {
            columns[i] = std::sync::Arc::new(Int64Array::from(values.clone()));
        } else if f.name() == "time" {
            columns[i] = std::sync::Arc::new(
                TimestampMillisecondArray::from(values.clone()).with_timezone("UTC"),
            );
        }
    }
    arrow::array::RecordBatch::try_new(schema, columns).map_err(|source| LakeError::Arrow {
        path: std::path::PathBuf::from("(device clock)"),
        source,
    })
}

/// Widen `range` to the event times of `batch`.
fn widen(range: &mut Option<(i64, i64)>, batch: &arrow::array::RecordBatch) {
    use arrow::array::AsArray;
    let Some(col) = batch.column_by_name("time_ms") else {
        return;
    };
    let times = col.as_primitive::<arrow::datatypes::Int64Type>();
    if let (Some(lo), Some(hi)) = (arrow::compute::min(times), arrow::compute::max(times)) {
        *range = Some(match *range {
            Some((a, b)) => (a.min(lo), b.max(hi)),
            None => (lo, hi),
        });
    }
}
