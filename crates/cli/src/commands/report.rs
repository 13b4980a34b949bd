//! `midgame report` and `midgame detect --format html`: the findings of a lake as one
//! self-contained HTML file (see `midgame_report`).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use midgame_detect::{Detection, Findings, RunOptions, SessionContext};

use crate::args::ReportArgs;
use crate::config::Config;
use crate::printer::Printer;

/// Gather the context of `findings` and render the page.
pub(crate) async fn html(
    ctx: &SessionContext,
    lake: &Path,
    findings: &Findings,
    detections: &[Detection],
    run: &RunOptions,
    user: Option<&str>,
) -> anyhow::Result<String> {
    let mut opts = midgame_report::Options::new(std::path::absolute(lake)?);
    opts.user = user.map(str::to_owned);
    html_with(ctx, findings, detections, run, opts).await
}

/// [`html`] with options of the caller's (a scheduled run's changes).
pub(crate) async fn html_with(
    ctx: &SessionContext,
    findings: &Findings,
    detections: &[Detection],
    run: &RunOptions,
    opts: midgame_report::Options,
) -> anyhow::Result<String> {
    let report = midgame_report::gather(ctx, findings, detections, run, &opts).await?;
    Ok(midgame_report::render(&report))
}

/// Write the page to `output` (a new file) or stdout.
pub(crate) fn emit(page: &str, output: Option<&Path>) -> anyhow::Result<()> {
    match output {
        Some(path) => midgame_report::write_new(path, page)?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(page.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(())
}

/// Run every detection (built-in and `queries`) and make the report of what they find.
pub(crate) fn findings_and_page(
    lake: &Path,
    cfg: &Config,
    detections: &[Detection],
    opts: &RunOptions,
    user: Option<&str>,
    cluster: Option<&str>,
) -> anyhow::Result<(Findings, String)> {
    // The overview lists what the allow-list silenced.
    let mut opts = opts.clone();
    opts.explain_suppressed = true;
    crate::runtime()?.block_on(async {
        let ctx = crate::open_session_on(lake, cfg, cluster).await?;
        let findings = midgame_detect::run_loaded(&ctx, detections, &opts).await?;
        let page = html(&ctx, lake, &findings, detections, &opts, user).await?;
        anyhow::Ok((findings, page))
    })
}

pub(crate) fn run(a: &ReportArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    if let Some(out) = &a.output
        && out.exists()
    {
        anyhow::bail!(
            "{}: exists: midgame never overwrites an output file",
            out.display()
        );
    }
    let cfg = Config::load_opt(a.config.as_deref())?;
    let mut queries = Vec::new();
    if !a.no_builtin {
        queries.push(crate::builtin_queries()?);
    }
    queries.extend(a.queries.iter().cloned());
    let detections =
        crate::commands::sigma::load_detections(&queries, &a.sigma, &|w| printer.warn(w))?;
    let mut opts = cfg.run_options()?;
    opts.from_ms = a.from;
    opts.to_ms = a.to;
    let (findings, page) =
        findings_and_page(&a.lake, &cfg, &detections, &opts, a.user.as_deref(), None)?;
    emit(&page, a.output.as_deref())?;
    if let Some(out) = &a.output {
        printer.status(&format!(
            "report: {} ({} KB; {})",
            out.display(),
            page.len().div_ceil(1024),
            midgame_detect::output::summary_line(&findings)
        ));
    }
    Ok(ExitCode::SUCCESS)
}
