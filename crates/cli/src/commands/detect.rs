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
    let mut opts = cfg.run_options()?;
    opts.explain_suppressed = a.explain_suppressed;
    opts.from_ms = a.from;
    opts.to_ms = a.to;
    if a.format == AlertFormat::Html {
        if let Some(out) = &a.output
            && out.exists()
        {
            anyhow::bail!(
                "{}: exists: midgame never overwrites an output file",
                out.display()
            );
        }
        let (findings, page) =
            crate::commands::report::findings_and_page(&a.lake, &cfg, &queries, &opts, None)?;
        crate::commands::report::emit(&page, a.output.as_deref())?;
        printer.status(&output::summary_line(&findings));
        return Ok(ExitCode::SUCCESS);
    }
    let format = FindingsFormat::from(a.format);
    if format == FindingsFormat::Parquet && a.output.is_none() {
        anyhow::bail!("--format parquet writes a file: add --output PATH");
    }
    let findings = crate::runtime()?.block_on(async {
        let ctx = crate::open_session(&a.lake, &cfg).await?;
        anyhow::Ok(midgame_detect::run_detections(&ctx, &queries, &opts).await?)
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
