//! `midgame bench`: ingest and detection throughput on generated (or given) logs, as a
//! table and as JSON.
//!
//! Each phase is measured ([`midgame_gen::measure`]: wall, CPU of all threads, peak
//! RSS): ingest, clustering the lake by user (`midgame compact`; not with `--daily`), then each detection on its own in a fresh session, then all of them in
//! one run.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use midgame_gen::measure::{Phase, measure};
use midgame_lake::{IngestOptions, Lake};
use serde_json::json;

use crate::args::{BenchArgs, RawArg};
use crate::printer::{Printer, thousands};

const DAYS: u32 = 30;

pub(crate) fn run(a: &BenchArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    if let Some(t) = a.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build_global()
            .context("setting the thread count")?;
    }
    let scratch;
    let work: PathBuf = match &a.work {
        Some(w) => w.clone(),
        None => {
            scratch = tempfile::tempdir()?;
            scratch.path().to_path_buf()
        }
    };
    let inputs: Vec<PathBuf> = if a.input.is_empty() {
        let logs = work.join(format!("logs-{}", a.events));
        if !logs.join("okta").is_dir() {
            let cfg = midgame_gen::GenConfig::for_events(a.events, DAYS);
            printer.status(&format!(
                "generating about {} events ({} users, {DAYS} days, seed 1) in {}",
                thousands(a.events),
                cfg.users,
                logs.display()
            ));
            let tmp = work.join(format!(".logs-{}.tmp", a.events));
            let _ = fs_err::remove_dir_all(&tmp);
            midgame_gen::write(&cfg, &tmp)?;
            fs_err::rename(&tmp, &logs)?;
        }
        vec![logs]
    } else {
        a.input.clone()
    };
    let files = midgame_lake::find_inputs(&inputs)?.files;
    let input_bytes: u64 = files
        .iter()
        .filter_map(|f| fs_err::metadata(f).ok())
        .map(|m| m.len())
        .sum();

    let lake_dir = work.join(format!("lake-{}", std::process::id()));
    let _ = fs_err::remove_dir_all(&lake_dir);
    let mut phases = Vec::new();
    let opts = IngestOptions {
        raw: crate::commands::ingest::raw_mode(a.raw),
        ..IngestOptions::default()
    };
    let (summary, cost) = measure(|| {
        let lake = Lake::open(&lake_dir)?;
        anyhow::Ok(lake.ingest_files(&files, &opts, &midgame_lake::Silent)?)
    })?;
    anyhow::ensure!(
        summary.failed.is_empty(),
        "files failed to ingest: {}",
        summary.failed.join(", ")
    );
    let events = summary.rows();
    phases.push(Phase {
        name: format!(
            "ingest (--raw {})",
            if matches!(a.raw, RawArg::Full) {
                "full"
            } else {
                "none"
            }
        ),
        cost,
        events,
        bytes: input_bytes,
        alerts: None,
    });
    printer.status(&format!(
        "ingested {} events ({:.1} MB) in {:.2} s",
        thousands(events),
        input_bytes as f64 / 1e6,
        cost.wall
    ));

    let rt = crate::runtime()?;
    if !a.daily {
        let (done, cost) = measure(|| {
            let lake = Lake::open(&lake_dir)?;
            anyhow::Ok(rt.block_on(midgame_detect::cluster(&lake, None))?)
        })?;
        phases.push(Phase {
            name: "compact (cluster by user)".to_owned(),
            cost,
            events,
            bytes: 0,
            alerts: None,
        });
        printer.status(&format!(
            "clustered {} tables in {:.2} s",
            done.len(),
            cost.wall
        ));
    }
    let queries = crate::builtin_queries()?;
    let detections = midgame_detect::Detection::load_dirs(std::slice::from_ref(&queries))?;
    let config = || {
        let mut c = midgame_detect::session_config();
        if let Some(t) = a.threads {
            c = c.with_target_partitions(t);
        }
        c
    };
    let empty = BTreeMap::new();
    for d in &detections {
        if !a.detections.is_empty() && !a.detections.contains(&d.id) {
            continue;
        }
        let (alerts, cost) = measure(|| {
            rt.block_on(async {
                let ctx = midgame_detect::open_session_with(&lake_dir, config()).await?;
                midgame_detect::register_allowlist(&ctx, &[]).await?;
                let values = d.bind(&empty)?;
                let df = d.plan(&ctx, &values).await?;
                let batches = df.collect().await?;
                anyhow::Ok(midgame_detect::to_alerts(d, &batches)?.len())
            })
        })?;
        printer.status(&format!("{:<24} {:>7.2} s", d.id, cost.wall));
        phases.push(Phase {
            name: d.id.clone(),
            cost,
            events,
            bytes: 0,
            alerts: Some(alerts),
        });
    }
    if a.detections.is_empty() {
        let (n, cost) = measure(|| {
            rt.block_on(async {
                let ctx = midgame_detect::open_session_with(&lake_dir, config()).await?;
                let f = midgame_detect::run_detections(
                    &ctx,
                    std::slice::from_ref(&queries),
                    &midgame_detect::RunOptions::default(),
                )
                .await?;
                anyhow::Ok(f.alerts.len())
            })
        })?;
        phases.push(Phase {
            name: "all detections, one run".to_owned(),
            cost,
            events,
            bytes: 0,
            alerts: Some(n),
        });
    }
    if a.work.is_some() && !a.keep_lake {
        let _ = fs_err::remove_dir_all(&lake_dir);
    }
    report(&phases, a, &files)?;
    Ok(ExitCode::SUCCESS)
}

#[allow(clippy::cast_precision_loss)]
fn report(phases: &[Phase], a: &BenchArgs, files: &[PathBuf]) -> anyhow::Result<()> {
    let threads = a
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get));
    let rows: Vec<serde_json::Value> = phases.iter().map(Phase::to_json).collect();
    let doc = json!({
        "midgame": env!("CARGO_PKG_VERSION"),
        "threads": threads,
        "input_files": files.len(),
        "phases": rows,
    });
    let mut out = std::io::stdout().lock();
    if a.format_json {
        writeln!(out, "{doc}")?;
    } else {
        writeln!(
            out,
            "{:<26} {:>9} {:>9} {:>10} {:>12} {:>9} {:>7}",
            "phase", "wall s", "CPU s", "peak MiB", "events/s", "MB/s", "alerts"
        )?;
        for p in phases {
            writeln!(
                out,
                "{:<26} {:>9.2} {:>9.2} {:>10} {:>12} {:>9} {:>7}",
                p.name,
                p.cost.wall,
                p.cost.cpu,
                p.cost.peak_rss >> 20,
                thousands(p.events_per_s() as u64),
                p.mb_per_s().map(|m| format!("{m:.1}")).unwrap_or_default(),
                p.alerts.map(|n| n.to_string()).unwrap_or_default()
            )?;
        }
        writeln!(out, "({threads} threads, {} input files)", files.len())?;
    }
    if let Some(path) = &a.json {
        let mut f = midgame_detect::output::create_new(path)?;
        writeln!(f, "{doc}")?;
        f.flush()?;
    }
    Ok(())
}
