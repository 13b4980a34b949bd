//! `midgame ingest`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use midgame_lake::{FileOutcome, IngestOptions, Lake, find_inputs};
use midgame_sources::{RawMode, SourceKind};

use crate::args::{IngestArgs, RawArg, SourceArg};
use crate::config::Config;
use crate::output::{Printer, thousands};

/// Totals of one ingest run.
#[derive(Debug, Default)]
pub(crate) struct IngestSummary {
    pub new_files: u64,
    pub grown_files: u64,
    pub held_bytes: u64,
    pub seen_files: u64,
    pub failed: Vec<String>,
    pub auth_rows: u64,
    pub admin_rows: u64,
    pub quarantined: u64,
    pub skipped: u64,
    pub bytes: u64,
    pub elapsed: Duration,
}

impl IngestSummary {
    /// Add another run's totals.
    pub(crate) fn merge(&mut self, o: IngestSummary) {
        self.new_files += o.new_files;
        self.grown_files += o.grown_files;
        self.held_bytes += o.held_bytes;
        self.seen_files += o.seen_files;
        self.failed.extend(o.failed);
        self.auth_rows += o.auth_rows;
        self.admin_rows += o.admin_rows;
        self.quarantined += o.quarantined;
        self.skipped += o.skipped;
        self.bytes += o.bytes;
        self.elapsed += o.elapsed;
    }

    pub(crate) fn rows(&self) -> u64 {
        self.auth_rows + self.admin_rows
    }
}

const MAX_BAD_LINES_SHOWN: usize = 10;

pub(crate) fn run(a: &IngestArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let cfg = Config::load_opt(a.config.as_deref())?;
    let geoip = match &a.geoip {
        Some(city) => Some(midgame_sources::geoip::GeoIp::open(city, None)?),
        None => cfg.geoip()?,
    };
    let admin_mapping = match &a.mapping {
        Some(p) => Some(std::sync::Arc::new(
            midgame_sources::mapping::AdminMapping::load(p)?,
        )),
        None => None,
    };
    if admin_mapping.is_some()
        && a.source
            .is_some_and(|s| !matches!(s, SourceArg::AdminAudit))
    {
        anyhow::bail!(
            "--mapping reads admin audit logs: it goes with --source admin-audit (or no --source)"
        );
    }
    let opts = IngestOptions {
        source: a
            .source
            .map(|s| match s {
                SourceArg::Okta => SourceKind::Okta,
                SourceArg::AdminAudit => SourceKind::AdminAudit,
                SourceArg::CiscoAsa => SourceKind::CiscoAsa,
                SourceArg::Cloudtrail => SourceKind::Cloudtrail,
                SourceArg::Entra => SourceKind::Entra,
                SourceArg::Openvpn => SourceKind::Openvpn,
                SourceArg::Globalprotect => SourceKind::Globalprotect,
            })
            .or(admin_mapping.is_some().then_some(SourceKind::AdminAudit)),
        identities: cfg.identities()?,
        raw: match a.raw {
            RawArg::Full => RawMode::Full,
            RawArg::None => RawMode::None,
        },
        year: a.year,
        utc_offset_minutes: a.tz,
        geoip: geoip.map(std::sync::Arc::new),
        admin_mapping: admin_mapping.clone(),
        ..IngestOptions::default()
    };
    let lake =
        Lake::open(&a.lake).with_context(|| format!("opening the lake {}", a.lake.display()))?;
    let summary = ingest_paths(&lake, &a.paths, &opts, printer)?;
    print_summary(&lake, &summary, printer);
    if !summary.failed.is_empty() {
        anyhow::bail!(
            "{} of {} files could not be ingested (see above)",
            summary.failed.len(),
            summary.failed.len() as u64
                + summary.new_files
                + summary.grown_files
                + summary.seen_files
        );
    }
    if a.strict && summary.quarantined > 0 {
        anyhow::bail!(
            "{} records quarantined and --strict is set (see {})",
            summary.quarantined,
            lake.root().join("_quarantine").display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Ingest every file under `paths`; a file that fails is reported and the run goes on.
///
/// Files are spread over as many workers as there are cores (each file's records are
/// also parsed in parallel); the memory budget is shared between the workers, so a run
/// over many small files uses every core and a run over one large file stays bounded.
pub(crate) fn ingest_paths(
    lake: &Lake,
    paths: &[PathBuf],
    opts: &IngestOptions,
    printer: &Printer,
) -> anyhow::Result<IngestSummary> {
    let files = find_inputs(paths)?;
    if files.is_empty() {
        anyhow::bail!(
            "no log files under {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    ingest_files(lake, &files, opts, printer)
}

/// Ingest what of each file is new; a file that fails is reported and the run goes on.
pub(crate) fn ingest_files(
    lake: &Lake,
    files: &[PathBuf],
    opts: &IngestOptions,
    printer: &Printer,
) -> anyhow::Result<IngestSummary> {
    let total: u64 = files
        .iter()
        .filter_map(|f| fs_err::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let bar = printer.bytes_bar(total);
    let start = Instant::now();
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(files.len())
        .max(1);
    let per_worker = IngestOptions {
        buffer_bytes: (opts.buffer_bytes / workers).max(1 << 20),
        ..opts.clone()
    };
    let index = lake.manifest_index()?;
    let next = AtomicUsize::new(0);
    let done = AtomicU64::new(0);
    let summary = Mutex::new((IngestSummary::default(), 0usize));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(f) = files.get(i) else { break };
                    let last = AtomicU64::new(0);
                    let progress = |read: u64| {
                        let prev = last.swap(read, Ordering::Relaxed);
                        let now = done.fetch_add(read.saturating_sub(prev), Ordering::Relaxed)
                            + read.saturating_sub(prev);
                        bar.set_position(now);
                    };
                    let result = lake
                        .plan_file(f, &index, per_worker.settle)
                        .and_then(|plan| lake.ingest_planned(f, &plan, &per_worker, &progress));
                    let size = fs_err::metadata(f).map_or(0, |m| m.len());
                    done.fetch_add(
                        size.saturating_sub(last.load(Ordering::Relaxed)),
                        Ordering::Relaxed,
                    );
                    bar.set_position(done.load(Ordering::Relaxed));
                    let mut guard = summary
                        .lock()
                        .expect("no worker panics while holding the lock");
                    let (s, shown) = &mut *guard;
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
                            for bad in &r.bad_sample {
                                if *shown < MAX_BAD_LINES_SHOWN {
                                    bar.suspend(|| {
                                        printer.warn(&format!(
                                            "{}:{}: {}",
                                            f.display(),
                                            bad.line,
                                            bad.reason
                                        ))
                                    });
                                    *shown += 1;
                                }
                            }
                        }
                        Err(e) => {
                            bar.suspend(|| printer.warn(&format!("{e}")));
                            s.failed.push(f.display().to_string());
                        }
                    }
                }
            });
        }
    });
    bar.finish_and_clear();
    let (mut s, _) = summary.into_inner().expect("workers are done");
    s.elapsed = start.elapsed();
    Ok(s)
}

pub(crate) fn print_summary(lake: &Lake, s: &IngestSummary, printer: &Printer) {
    let secs = s.elapsed.as_secs_f64().max(1e-6);
    let mut seen = String::new();
    if s.grown_files > 0 {
        seen = format!(", {} grown since last read", s.grown_files);
    }
    if s.seen_files > 0 {
        seen.push_str(&format!(", {} already in the lake", s.seen_files));
    }
    let mut failed = String::new();
    if !s.failed.is_empty() {
        failed = format!(", {} failed", s.failed.len());
    }
    printer.status(&format!(
        "ingested {} new files{seen}{failed} into {} in {:.2} s",
        s.new_files,
        lake.root().display(),
        secs
    ));
    printer.status(&format!(
        "  auth        {:>12} rows",
        thousands(s.auth_rows)
    ));
    printer.status(&format!(
        "  admin       {:>12} rows",
        thousands(s.admin_rows)
    ));
    if s.skipped > 0 {
        printer.status(&format!(
            "  skipped     {:>12} records no table needs",
            thousands(s.skipped)
        ));
    }
    let q = if s.quarantined > 0 {
        format!(" (see {})", lake.root().join("_quarantine").display())
    } else {
        String::new()
    };
    printer.status(&format!(
        "  quarantined {:>12} records{q}",
        thousands(s.quarantined)
    ));
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    if s.new_files > 0 {
        printer.status(&format!(
            "  {} events/s, {:.1} MB/s",
            thousands((s.rows() as f64 / secs) as u64),
            s.bytes as f64 / secs / 1e6
        ));
    }
}
