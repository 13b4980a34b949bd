//! `midgame run` (the scheduled batch) and `midgame backfill`.
//!
//! A run: take the lake's lock; drop what a killed run left; ingest what the archives
//! gained since the manifest last saw them; run every detection over all of history but
//! keep only alerts in the re-evaluated window (from the earliest new event, less the
//! overlap); merge them into the alert table (new, changed, retracted); write the changes
//! to the outbox and commit the table; deliver the outbox (files, webhook). The last line
//! on stdout is a `key=value` summary for monitoring.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use midgame_detect::alert_table::{AlertTable, Change, Diff};
use midgame_detect::delivery::{Delivered, deliver};
use midgame_detect::output::KeyValues;
use midgame_detect::output::table::incident_head;
use midgame_lake::{FilePlan, IngestOptions, IngestSummary, Lake, Layout};
use midgame_sources::{RawMode, SourceKind};

use crate::args::{BackfillArgs, RunArgs};
use crate::config::{ArchiveConfig, Config};
use crate::printer::{IngestView, Printer};

impl Config {
    /// `[lake] path`, relative to the config file.
    fn lake_path(&self) -> anyhow::Result<PathBuf> {
        let lake = self
            .lake
            .as_ref()
            .context("the config has no [lake] path = \"...\"")?;
        if midgame_lake::remote_lake::is_remote_lake(&lake.path) {
            return Ok(lake.path.clone());
        }
        Ok(self.base.join(&lake.path))
    }

    /// Every file the `[[archive]]` globs match, with its archive; sorted, each once.
    /// Also the paths that could not be read (a folder without permission): failed
    /// paths of the run, while the rest is ingested.
    fn archive_files(&self, printer: &Printer) -> anyhow::Result<ArchiveFiles> {
        anyhow::ensure!(
            !self.archive.is_empty(),
            "the config has no [[archive]] (source = \"okta\", paths = [\"okta/**/*.json.gz\"]) and no [[pull]]"
        );
        // Object storage patterns are listed by their store (see `remote_files`).
        let written: Vec<(usize, &String)> = (self.archive.iter().enumerate())
            .flat_map(|(i, a)| a.paths.iter().map(move |p| (i, p)))
            .filter(|(_, p)| !midgame_lake::remote::is_remote(p))
            .collect();
        let patterns: Vec<(usize, PathBuf)> = written
            .iter()
            .map(|(i, p)| (*i, self.base.join(p)))
            .collect();
        let midgame_lake::GlobMatches {
            files,
            unmatched,
            skipped,
            failed,
        } = if patterns.is_empty() {
            midgame_lake::GlobMatches::default()
        } else {
            midgame_lake::find_globs(&patterns).context("[[archive]] paths")?
        };
        for at in unmatched {
            printer.warn(&format!("[[archive]] {:?} matches no file", written[at].1));
        }
        for (p, why) in skipped {
            printer.warn(&format!("{}: {why}", p.display()));
        }
        let failed = failed
            .into_iter()
            .map(|(p, e)| {
                printer.warn(&e.to_string());
                p.display().to_string()
            })
            .collect();
        Ok(ArchiveFiles {
            files,
            unreadable: failed,
        })
    }

    /// The objects each `s3://` pattern matches, by archive; a store that cannot be
    /// listed is one failed path (its URL), named in a warning.
    fn remote_files(&self, printer: &Printer) -> RemoteFiles {
        let mut out = RemoteFiles::default();
        for (i, a) in self.archive.iter().enumerate() {
            for p in a
                .paths
                .iter()
                .filter(|p| midgame_lake::remote::is_remote(p))
            {
                match midgame_lake::remote::RemoteArchive::s3(p).and_then(|r| {
                    let objects = r.list()?;
                    Ok((r, objects))
                }) {
                    Ok((r, objects)) => {
                        if objects.is_empty() {
                            printer.warn(&format!("[[archive]] {p:?} matches no object"));
                        }
                        out.archives.push((i, r, objects));
                    }
                    Err(e) => {
                        printer.warn(&e.to_string());
                        out.failed.push(p.clone());
                    }
                }
            }
        }
        out
    }

    fn archive_options(&self, a: &ArchiveConfig) -> anyhow::Result<IngestOptions> {
        let source = match &a.source {
            Some(name) => Some(SourceKind::from_name(name).with_context(|| {
                format!(
                    "[[archive]] source = {name:?}: not one of {}",
                    SourceKind::names()
                )
            })?),
            None => None,
        };
        let admin_mapping = match &a.mapping {
            Some(p) => Some(std::sync::Arc::new(
                midgame_sources::mapping::AdminMapping::load(&self.base.join(p))?,
            )),
            None => None,
        };
        let clock = match &a.tz {
            Some(tz) => midgame_sources::time::DeviceClock::parse(tz)
                .map_err(|e| anyhow::anyhow!("[[archive]] tz = {tz:?}: {e}"))?,
            None => midgame_sources::time::DeviceClock::Utc,
        };
        Ok(IngestOptions {
            source,
            identities: self.identities()?,
            raw: match self.run.raw.as_str() {
                "full" => RawMode::Full,
                "none" => RawMode::None,
                other => anyhow::bail!("[run] raw = {other:?}: expected \"full\" or \"none\""),
            },
            year: a.year,
            clock,
            admin_mapping,
            settle: Some(std::time::Duration::from_secs(self.run.settle_seconds)),
            limits: self.limits()?,
            ..IngestOptions::default()
        })
    }

    /// The detections: the built-in ones unless `[run] builtin = false`, your folders,
    /// and the Sigma rules of `[run] sigma` (a rule that cannot be converted is named in
    /// the log and left out).
    fn run_detections(&self) -> anyhow::Result<Vec<midgame_detect::Detection>> {
        let mut q = Vec::new();
        if self.run.builtin {
            q.push(crate::builtin_queries()?);
        }
        q.extend(self.run.queries.iter().map(|d| self.base.join(d)));
        let sigma: Vec<PathBuf> = self.run.sigma.iter().map(|d| self.base.join(d)).collect();
        anyhow::ensure!(
            !q.is_empty() || !sigma.is_empty(),
            "[run] builtin = false and no [run] queries or sigma"
        );
        let detections =
            crate::commands::sigma::load_detections(&q, &sigma, &|w| tracing::warn!("{w}"))?;
        if self.run.raw == "none" {
            for d in detections
                .iter()
                .filter(|d| d.sql.contains("sigma_match(raw"))
            {
                tracing::warn!(
                    "{}: `{}` reads fields of the original record, which [run] raw = \"none\" does not keep: it finds nothing in what is ingested so",
                    d.path.display(),
                    d.id
                );
            }
        }
        Ok(detections)
    }
}

/// What the `[[archive]]` patterns on object storage matched.
#[derive(Default)]
struct RemoteFiles {
    /// Per pattern: its archive, its store, and the objects it matched.
    archives: Vec<(
        usize,
        midgame_lake::remote::RemoteArchive,
        Vec<midgame_lake::remote::RemoteObject>,
    )>,
    /// Patterns whose store could not be listed.
    failed: Vec<String>,
}

/// Ingest the objects the manifest has not read (same URL, size and time): each
/// downloaded into the lake's `_tmp/`, ingested under its URL, then removed.
fn ingest_remote(
    lake: &Lake,
    remote: &RemoteFiles,
    options: &[IngestOptions],
    printer: &Printer,
) -> anyhow::Result<IngestSummary> {
    let mut total = IngestSummary::default();
    let index = lake.manifest_index()?;
    for (i, store, objects) in &remote.archives {
        for o in objects {
            if index.unchanged(&o.url, o.size, o.modified_ms) {
                total.seen_files += 1;
                continue;
            }
            let name = format!(
                "remote-{:016x}",
                xxhash_rust::xxh3::xxh3_64(o.url.as_bytes())
            );
            let local = lake.layout().tmp_dir().join(name);
            if let Err(e) = store.download(o, &local) {
                printer.warn(&e.to_string());
                total.failed.push(o.url.clone());
                continue;
            }
            let opts = IngestOptions {
                shown_as: Some(o.url.clone()),
                ..options[*i].clone()
            };
            let mut s = lake.ingest_files(
                std::slice::from_ref(&local),
                &opts,
                &IngestView::new(printer),
            )?;
            let _ = fs_err::remove_file(&local);
            for f in &mut s.failed {
                f.clone_from(&o.url);
            }
            total.merge(s);
        }
    }
    Ok(total)
}

/// What the `[[archive]]` globs found.
struct ArchiveFiles {
    /// Each file with its archive, sorted, each once.
    files: Vec<(usize, PathBuf)>,
    /// Paths that could not be read (a folder without permission).
    unreadable: Vec<String>,
}

/// The summary line: `midgame-run key=value ...` on stdout.
#[derive(Default)]
struct SummaryLine(KeyValues);

impl SummaryLine {
    fn add(&mut self, k: &'static str, v: impl ToString) {
        self.0.add(k, v);
    }

    fn print(&self) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        writeln!(out, "midgame-run {}", self.0)?;
        out.flush()?;
        Ok(())
    }
}

/// `status=failed` with the reason, for monitoring that reads the last line: printed on
/// every exit that ends a run early (bad config, the lake locked, a lake that cannot be
/// written), before the error goes to stderr.
fn failed_line(e: &anyhow::Error, started: Instant) -> anyhow::Error {
    let mut line = SummaryLine::default();
    line.add("status", "failed");
    line.add("reason", crate::one_line(e));
    line.add(
        "duration_s",
        format!("{:.2}", started.elapsed().as_secs_f64()),
    );
    let _ = line.print();
    anyhow::anyhow!("{}", crate::one_line(e))
}

pub(crate) fn run(a: &RunArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    run_once(a, printer, started).map_err(|e| match e {
        // A run that got as far as its summary said so; the error is the failed files.
        RunError::Summarised(e) => e,
        RunError::Early(e) => failed_line(&e, started),
    })
}

/// Why a run ended with an error: before its summary line (which the caller prints as
/// `status=failed`), or after it.
enum RunError {
    Early(anyhow::Error),
    Summarised(anyhow::Error),
}

impl<E: Into<anyhow::Error>> From<E> for RunError {
    fn from(e: E) -> Self {
        RunError::Early(e.into())
    }
}

fn run_once(a: &RunArgs, printer: &Printer, started: Instant) -> Result<ExitCode, RunError> {
    let mut cfg = Config::load_required(a.config.as_deref())?;
    cfg.add_pull_archives();
    let lake_dir = cfg.lake_path()?;
    let options = |cfg: &Config| -> anyhow::Result<Vec<IngestOptions>> {
        cfg.archive
            .iter()
            .map(|arch| cfg.archive_options(arch))
            .collect()
    };
    if a.dry_run {
        let ArchiveFiles { files, .. } = cfg.archive_files(printer)?;
        return Ok(dry_run(&lake_dir, &files, &options(&cfg)?, started)?);
    }
    // A lake on S3 is worked on in a local mirror and published at the end.
    let mut dir = crate::LakeDir::open(&lake_dir, true, printer)?;
    let lake = Lake::open(dir.path())
        .with_context(|| format!("opening the lake {}", lake_dir.display()))?;
    if let Some(prev) = lake.took_over_lock_from() {
        printer.warn(&format!(
            "took over the lake lock of a run that died holding it ({prev})"
        ));
    }
    // Pull (holding the lake, so two runs never pull into one folder at once), then
    // read what the archives hold, the pulled files among them.
    let mut pull_failed = Vec::new();
    let mut pulled = 0u64;
    for p in &cfg.pull {
        match crate::commands::pull::pull(p, &cfg.base, printer) {
            Ok(done) => pulled += done.events,
            Err(e) => {
                printer.warn(&format!("pull from {}: {}", p.org, crate::one_line(&e)));
                pull_failed.push(format!("pull from {}", p.org));
            }
        }
    }
    let ArchiveFiles {
        files,
        mut unreadable,
    } = cfg.archive_files(printer)?;
    unreadable.extend(pull_failed);
    let remote = cfg.remote_files(printer);
    unreadable.extend(remote.failed.iter().cloned());
    let mut options = options(&cfg)?;
    // `[geoip]` fills the locations of every archive's rows that came without one.
    if let Some(g) = cfg.geoip()? {
        let g = std::sync::Arc::new(g);
        for o in &mut options {
            o.geoip = Some(g.clone());
        }
    }
    let mut state = AlertTable::load(lake.layout())?;
    state.recover_outbox(&lake)?;

    // Ingest, one archive (one set of options) at a time.
    let mut ingest = IngestSummary {
        failed: unreadable,
        ..IngestSummary::default()
    };
    for (i, opts) in options.iter().enumerate() {
        let group: Vec<PathBuf> = files
            .iter()
            .filter(|(k, _)| *k == i)
            .map(|(_, p)| p.clone())
            .collect();
        if !group.is_empty() {
            ingest.merge(lake.ingest_files(&group, opts, &IngestView::new(printer))?);
        }
    }
    ingest.merge(ingest_remote(&lake, &remote, &options, printer)?);

    // Detect over what has not been detected yet.
    let entries = lake.manifest()?;
    #[allow(clippy::cast_possible_truncation)]
    let overlap_ms = (cfg.run.overlap_hours.max(0.0) * 3_600_000.0) as i64;
    let pending = state.pending(&entries, overlap_ms);
    let (must_detect, window_from) = (pending.detect, pending.window_from);
    let mut diff = Diff {
        active: state.active(),
        incidents_total: state.incident_ids().len(),
        ..Diff::default()
    };
    let prev_incidents = state.incident_ids();
    let now = chrono::Utc::now();
    let mut report = None;
    if must_detect {
        (diff, report) = detect_into(&cfg, &lake, &mut state, (window_from, None), now)?;
    }
    let last_seq = lake.last_seq();
    let advanced = state.detected_seq != Some(last_seq) && !entries.is_empty();
    if must_detect || advanced {
        state.commit_with_report(
            &lake,
            &diff,
            &prev_incidents,
            &stamp(now),
            Some(last_seq),
            report.as_deref(),
        )?;
    }
    print_changes(&diff)?;
    // The lake is committed: release it before waiting on a webhook, so the next run
    // can start.
    let layout = lake.layout().clone();
    drop(lake);
    // On S3: what was committed is published before the webhook is waited on, and what
    // delivery changed after (the S3 lock is held until then).
    dir.publish(printer)?;
    let delivery = deliver_outbox(&cfg, &layout, &state, printer)?;
    dir.publish(printer)?;

    let mut line = SummaryLine::default();
    let degraded = !ingest.failed.is_empty() || delivery.failed > 0;
    line.add("status", if degraded { "degraded" } else { "ok" });
    line.add("lake", lake_dir.display());
    line.add("pulled", pulled);
    line.add("files_new", ingest.new_files);
    line.add("files_grown", ingest.grown_files);
    line.add("files_seen", ingest.seen_files);
    line.add("files_failed", ingest.failed.len());
    line.add("events", ingest.rows());
    line.add("quarantined", ingest.quarantined);
    line.add("invalid_values", ingest.nulled);
    line.add("held_bytes", ingest.held_bytes);
    line.add(
        "window_from",
        window_from.filter(|t| *t != i64::MAX).map_or_else(
            || {
                if must_detect {
                    "all".to_owned()
                } else {
                    "none".to_owned()
                }
            },
            // Whole seconds, as the summary line always gave them.
            |ms| midgame_detect::time::rfc3339(ms - ms.rem_euclid(1000)),
        ),
    );
    summary_alerts(&mut line, &diff, must_detect);
    summary_end(line, &delivery, started)?;
    if !ingest.failed.is_empty() {
        return Err(RunError::Summarised(anyhow::anyhow!(
            "{} of the archive's files could not be ingested: {} (the rest was ingested and detected)",
            ingest.failed.len(),
            ingest.failed.join(", ")
        )));
    }
    Ok(ExitCode::SUCCESS)
}

fn summary_alerts(line: &mut SummaryLine, diff: &Diff, detected: bool) {
    line.add("detected", detected);
    line.add("alerts_new", diff.count(Change::New));
    line.add("alerts_changed", diff.count(Change::Changed));
    line.add("alerts_retracted", diff.count(Change::Retracted));
    line.add("alerts_active", diff.active);
    line.add("incidents", diff.incidents_total);
}

/// Delivery counts and the duration, then print the line.
fn summary_end(mut line: SummaryLine, d: &Delivered, started: Instant) -> anyhow::Result<()> {
    line.add("delivered", d.delivered);
    line.add("queued", d.queued);
    line.add(
        "duration_s",
        format!("{:.2}", started.elapsed().as_secs_f64()),
    );
    line.print()
}

/// Run every detection; keep the alerts of `window`; merge them into the table (which
/// chains the incidents). With `[output] html`, also the report of the changes.
fn detect_into(
    cfg: &Config,
    lake: &Lake,
    state: &mut AlertTable,
    window: (Option<i64>, Option<i64>),
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<(Diff, Option<String>)> {
    let detections = cfg.run_detections()?;
    let mut opts = cfg.run_options()?;
    opts.from_ms = window.0;
    opts.to_ms = window.1;
    crate::runtime()?.block_on(async {
        let ctx = crate::open_session(lake.root(), cfg).await?;
        let found = midgame_detect::find_alerts(&ctx, &detections, &opts).await?;
        let diff = state.apply(
            found.alerts,
            window,
            &midgame_detect::stages_of(&detections),
            (opts.incident_window_ms, opts.incident_min_stages),
            now.timestamp_millis(),
        );
        let report = if cfg.output.html && !diff.alerts.is_empty() {
            Some(changes_report(&ctx, lake, &diff, &detections, &opts, now).await?)
        } else {
            None
        };
        anyhow::Ok((diff, report))
    })
}

/// The report of one run's changes: the incidents they touch, the alerts new, changed
/// and retracted (each marked so).
async fn changes_report(
    ctx: &midgame_detect::SessionContext,
    lake: &Lake,
    diff: &Diff,
    detections: &[midgame_detect::Detection],
    opts: &midgame_detect::RunOptions,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<String> {
    let findings = midgame_detect::Findings {
        incidents: diff.incidents.clone(),
        alerts: diff.alerts.iter().map(|(_, a)| a.clone()).collect(),
        suppressed: Vec::new(),
    };
    let mut options = midgame_report::Options::new(lake.root());
    options.title = format!("midgame run {}", stamp(now));
    options.generated_ms = now.timestamp_millis();
    options.changes = diff
        .alerts
        .iter()
        .map(|(c, a)| (a.alert_id.clone(), c.name().to_owned()))
        .collect();
    crate::commands::report::html_with(ctx, &findings, detections, opts, options).await
}

/// The outbox file's time stamp.
fn stamp(now: chrono::DateTime<chrono::Utc>) -> String {
    now.format("%Y%m%dT%H%M%SZ").to_string()
}

/// One line per change for the person reading the cron log.
fn print_changes(diff: &Diff) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for i in &diff.incidents {
        writeln!(out, "incident {}  {}", incident_head(i), i.summary)?;
    }
    for (c, a) in &diff.alerts {
        writeln!(
            out,
            "{:<9} {:<8} {:<22} {}  {}",
            c.name(),
            a.severity,
            a.detection,
            a.user,
            a.summary
        )?;
    }
    Ok(())
}

/// Deliver the committed outbox to `[output]`, warning of a webhook that is down.
fn deliver_outbox(
    cfg: &Config,
    layout: &Layout,
    state: &AlertTable,
    printer: &Printer,
) -> anyhow::Result<Delivered> {
    Ok(deliver(
        &cfg.output,
        &cfg.base,
        layout,
        state.generation,
        &|w| {
            printer.warn(w);
        },
    )?)
}

fn dry_run(
    lake_dir: &Path,
    files: &[(usize, PathBuf)],
    options: &[IngestOptions],
    started: Instant,
) -> anyhow::Result<ExitCode> {
    // A lake on S3: its records, mirrored here.
    let mirror = midgame_lake::remote_lake::is_remote_lake(lake_dir)
        .then(|| midgame_lake::remote_lake::RemoteLake::open_read(&lake_dir.to_string_lossy()))
        .transpose()?;
    let lake = Lake::inspect(mirror.as_ref().map_or(lake_dir, |m| m.dir()));
    let index = lake.manifest_index()?;
    let mut out = std::io::stdout().lock();
    let (mut new, mut grown, mut seen, mut bytes, mut held) = (0u64, 0u64, 0u64, 0u64, 0u64);
    for (i, f) in files {
        let plan = lake.plan_file(f, &index, options[*i].settle)?;
        held += plan.held();
        let FilePlan::Read { start, end, .. } = plan else {
            seen += 1;
            continue;
        };
        bytes += end - start;
        if start == 0 {
            new += 1;
            writeln!(out, "new    {}  {end} bytes", f.display())?;
        } else {
            grown += 1;
            let n = end - start;
            writeln!(
                out,
                "grown  {}  bytes {start}..{end} ({n} new)",
                f.display()
            )?;
        }
        if plan.held() > 0 {
            writeln!(
                out,
                "       (+{} bytes of an unfinished last line wait)",
                plan.held()
            )?;
        }
    }
    let mut line = SummaryLine::default();
    line.add("status", "dry-run");
    line.add("lake", lake_dir.display());
    line.add("files_new", new);
    line.add("files_grown", grown);
    line.add("files_seen", seen);
    line.add("bytes_to_read", bytes);
    line.add("held_bytes", held);
    line.add(
        "duration_s",
        format!("{:.2}", started.elapsed().as_secs_f64()),
    );
    drop(out);
    line.print()?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn backfill(a: &BackfillArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    backfill_once(a, printer, started).map_err(|e| failed_line(&e, started))
}

fn backfill_once(
    a: &BackfillArgs,
    printer: &Printer,
    started: Instant,
) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(a.from < a.to, "--from must be before --to");
    let cfg = Config::load_required(a.config.as_deref())?;
    let lake_dir = cfg.lake_path()?;
    let mut dir = crate::LakeDir::open(&lake_dir, false, printer)?;
    anyhow::ensure!(
        Layout::new(dir.path()).is_lake(),
        "{}: not a midgame lake; run `midgame run` first",
        lake_dir.display()
    );
    let lake = Lake::open(dir.path())
        .with_context(|| format!("opening the lake {}", lake_dir.display()))?;
    let mut state = AlertTable::load(lake.layout())?;
    state.recover_outbox(&lake)?;
    let prev_incidents = state.incident_ids();
    let now = chrono::Utc::now();
    let (diff, report) = detect_into(&cfg, &lake, &mut state, (Some(a.from), Some(a.to)), now)?;
    state.commit_with_report(
        &lake,
        &diff,
        &prev_incidents,
        &stamp(now),
        None,
        report.as_deref(),
    )?;
    print_changes(&diff)?;
    let layout = lake.layout().clone();
    drop(lake);
    // On S3: what was committed is published before the webhook is waited on, and what
    // delivery changed after (the S3 lock is held until then).
    dir.publish(printer)?;
    let delivery = deliver_outbox(&cfg, &layout, &state, printer)?;
    dir.publish(printer)?;
    let mut line = SummaryLine::default();
    line.add(
        "status",
        if delivery.failed > 0 {
            "degraded"
        } else {
            "ok"
        },
    );
    line.add("lake", lake_dir.display());
    line.add("window_from", midgame_detect::time::rfc3339(a.from));
    line.add("window_to", midgame_detect::time::rfc3339(a.to));
    summary_alerts(&mut line, &diff, true);
    summary_end(line, &delivery, started)?;
    Ok(ExitCode::SUCCESS)
}
