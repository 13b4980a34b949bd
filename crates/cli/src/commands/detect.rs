//! `midgame detect`: run the detections over the lake; write incidents and alerts.

use std::io::Write;
use std::process::ExitCode;

use midgame_detect::output::{self, FindingsFormat};

use crate::args::{AlertFormat, DetectArgs};
use crate::config::Config;
use crate::printer::Printer;

pub(crate) fn run(a: &DetectArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let cfg = Config::load_opt(a.config.as_deref())?;
    let mut queries = Vec::new();
    if !a.no_builtin {
        queries.push(crate::builtin_queries()?);
    }
    // Yours add to the built-ins, or replace the one of the same id.
    queries.extend(a.queries.iter().cloned());
    let detections = crate::commands::sigma::load_detections(&queries, &a.sigma, &|w| {
        printer.warn(w);
    })?;
    let mut opts = cfg.run_options()?;
    if a.list {
        list(&detections, &opts)?;
        return Ok(ExitCode::SUCCESS);
    }
    opts.explain_suppressed = a.explain_suppressed;
    opts.from_ms = a.from;
    opts.to_ms = a.to;
    if a.cluster.is_some() {
        opts.concurrent_queries = crate::commands::cluster::CONCURRENT_QUERIES;
    }
    if a.format == AlertFormat::Html {
        if let Some(out) = &a.output
            && out.exists()
        {
            anyhow::bail!(
                "{}: exists: midgame never overwrites an output file",
                out.display()
            );
        }
        let (findings, page) = crate::commands::report::findings_and_page(
            &a.lake,
            &cfg,
            &detections,
            &opts,
            None,
            a.cluster.as_deref(),
        )?;
        crate::commands::report::emit(&page, a.output.as_deref())?;
        printer.status(&output::summary_line(&findings));
        return Ok(ExitCode::SUCCESS);
    }
    let format = FindingsFormat::from(a.format);
    if format == FindingsFormat::Parquet && a.output.is_none() {
        anyhow::bail!("--format parquet writes a file: add --output PATH");
    }
    let findings = crate::runtime()?.block_on(async {
        let ctx = crate::open_session_on(&a.lake, &cfg, a.cluster.as_deref()).await?;
        anyhow::Ok(midgame_detect::run_loaded(&ctx, &detections, &opts).await?)
    })?;
    match &a.output {
        Some(path) => output::write_findings_file(path, &findings, format)?,
        None => {
            let mut out = std::io::stdout().lock();
            output::write_findings(&mut out, &findings, format)?;
            out.flush()?;
        }
    }
    if format != FindingsFormat::Table || a.output.is_some() {
        printer.status(&output::summary_line(&findings));
    }
    Ok(ExitCode::SUCCESS)
}

/// The catalogue: one line per detection, in the order they run.
fn list(
    detections: &[midgame_detect::Detection],
    opts: &midgame_detect::RunOptions,
) -> anyhow::Result<()> {
    let rows: Vec<[String; 6]> = detections
        .iter()
        .map(|d| {
            [
                d.id.clone(),
                d.stage.clone(),
                d.attack.clone(),
                midgame_detect::tables_read(&d.sql).join(","),
                if opts.disabled.contains(&d.id) {
                    "no".to_owned()
                } else {
                    "yes".to_owned()
                },
                d.title.clone(),
            ]
        })
        .collect();
    let head = ["ID", "STAGE", "ATTACK", "TABLES", "ENABLED", "TITLE"];
    let mut width = head.map(str::len);
    for r in &rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = std::io::stdout().lock();
    let line = |cells: [&str; 6]| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                l.push_str(&format!("{c:<w$}  ", w = width[i]));
            }
        }
        l
    };
    writeln!(out, "{}", line(head))?;
    for r in &rows {
        writeln!(out, "{}", line(r.each_ref().map(String::as_str)))?;
    }
    out.flush()?;
    Ok(())
}
