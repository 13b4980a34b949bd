//! `midgame ingest`.

use std::process::ExitCode;

use anyhow::Context;
use midgame_lake::{IngestOptions, IngestSummary, Lake};
use midgame_sources::RawMode;

use crate::args::{IngestArgs, RawArg};
use crate::config::Config;
use crate::printer::{IngestView, Printer, thousands};

pub(crate) fn run(a: &IngestArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let cfg = Config::load_opt(a.config.as_deref())?;
    let geoip = match &a.geoip {
        Some(city) => Some(midgame_lake::geoip::GeoIp::open(city, None)?),
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
            .is_some_and(|s| s != midgame_sources::SourceKind::ADMIN_AUDIT)
    {
        anyhow::bail!(
            "--mapping reads admin audit logs: it goes with --source admin-audit (or no --source)"
        );
    }
    let opts = IngestOptions {
        source: a.source,
        identities: cfg.identities()?,
        raw: raw_mode(a.raw),
        year: a.year,
        clock: a.tz,
        geoip: geoip.map(std::sync::Arc::new),
        admin_mapping,
        limits: cfg.limits()?,
        ..IngestOptions::default()
    };
    // A lake on S3 is ingested into a local mirror and published after.
    let mut dir = crate::LakeDir::open(&a.lake, true, printer)?;
    let lake =
        Lake::open(dir.path()).with_context(|| format!("opening the lake {}", a.lake.display()))?;
    let summary = lake.ingest_paths(&a.paths, &opts, &IngestView::new(printer))?;
    drop(lake);
    print_summary(&a.lake, &summary, printer);
    dir.publish(printer)?;
    if !summary.failed.is_empty() {
        anyhow::bail!(
            "{} of {} files could not be ingested (see above)",
            summary.failed.len(),
            summary.files()
        );
    }
    if a.strict && summary.quarantined > 0 {
        anyhow::bail!(
            "{} records quarantined and --strict is set (see {})",
            summary.quarantined,
            midgame_lake::Layout::new(&a.lake)
                .quarantine_dir()
                .display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// What `raw` keeps.
pub(crate) fn raw_mode(a: RawArg) -> RawMode {
    match a {
        RawArg::Full => RawMode::Full,
        RawArg::None => RawMode::None,
    }
}

/// The summary of an ingest into the lake the user named `shown` (a folder or a URL).
pub(crate) fn print_summary(shown: &std::path::Path, s: &IngestSummary, printer: &Printer) {
    let layout = midgame_lake::Layout::new(shown);
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
        shown.display(),
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
        format!(" (see {})", layout.quarantine_dir().display())
    } else {
        String::new()
    };
    printer.status(&format!(
        "  quarantined {:>12} records{q}",
        thousands(s.quarantined)
    ));
    if s.nulled > 0 {
        printer.status(&format!(
            "  invalid     {:>12} values stored as null (addresses that are not IP addresses, places off the globe; raw keeps them)",
            thousands(s.nulled)
        ));
    }
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
