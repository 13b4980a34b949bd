//! `midgame demo`: the sample logs into a temporary lake, then a look at what is in it.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use midgame_detect::output::{self, FindingsFormat, ResultFormat};
use midgame_lake::{IngestOptions, Lake};

use crate::args::DemoArgs;
use crate::commands::ingest::print_summary;
use crate::config::Config;
use crate::printer::{IngestView, Printer};

/// The queries the demo shows: (title, SQL).
const QUERIES: &[(&str, &str)] = &[
    (
        "What the lake holds",
        "SELECT 'auth' AS \"table\", source, activity AS what, count(*) AS events, count(DISTINCT user) AS users \
         FROM auth GROUP BY source, activity \
         UNION ALL \
         SELECT 'admin', source, action, count(*), count(DISTINCT user) FROM admin GROUP BY source, action \
         ORDER BY events DESC, what LIMIT 14",
    ),
    (
        "What the account did in the session from the hosting provider (AS14061)",
        "SELECT a.time, a.activity, a.app, a.mfa_factor, a.geo_city, a.src_ip \
         FROM auth a JOIN (SELECT DISTINCT user, session_id FROM auth WHERE asn = 14061) s \
           ON a.user = s.user AND a.session_id = s.session_id ORDER BY a.time, a.activity",
    ),
    (
        "What was done in the Support Console from the hosting provider's address",
        "SELECT action, count(*) AS actions, count(DISTINCT customer_id) AS customers, \
                CAST(round(sum(bytes) / 1e6) AS BIGINT) AS mb, min(time) AS first, max(time) AS last \
         FROM admin WHERE src_ip IN (SELECT DISTINCT src_ip FROM auth WHERE asn = 14061) \
         GROUP BY action ORDER BY first",
    ),
];

pub(crate) fn run(a: &DemoArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    // The sample logs the binary carries, unless --samples names others.
    let unpacked;
    let (samples, shown) = match &a.samples {
        Some(dir) => (dir.clone(), dir.display().to_string()),
        None => {
            unpacked = tempfile::Builder::new()
                .prefix("midgame-demo-logs-")
                .tempdir()
                .context("creating a folder for the sample logs")?;
            crate::builtin::write_sample_logs(unpacked.path())?;
            (unpacked.path().to_path_buf(), "the sample logs".to_owned())
        }
    };
    let config_path = samples.join("midgame.toml");
    let cfg = if config_path.is_file() {
        Config::load(&config_path)?
    } else {
        Config::default()
    };
    let tmp = tempfile::Builder::new()
        .prefix("midgame-demo-")
        .tempdir()
        .context("creating a temporary lake")?;
    let lake = Lake::open(tmp.path())?;
    printer.status(&format!(
        "midgame demo: ingesting {shown} into a temporary lake"
    ));
    let opts = IngestOptions {
        identities: cfg.identities()?,
        limits: cfg.limits()?,
        ..IngestOptions::default()
    };
    let summary = lake.ingest_paths(
        &[samples.join("okta"), samples.join("admin")],
        &opts,
        &IngestView::new(printer),
    )?;
    print_summary(lake.root(), &summary, printer);
    if !summary.failed.is_empty() {
        anyhow::bail!(
            "{} sample files could not be ingested",
            summary.failed.len()
        );
    }
    let report_path = match &a.report {
        Some(p) => p.clone(),
        None => std::env::temp_dir().join(format!(
            "midgame-demo-report-{}-{}.html",
            chrono::Utc::now().format("%Y%m%dT%H%M%S"),
            std::process::id()
        )),
    };
    anyhow::ensure!(
        !report_path.exists(),
        "{}: exists: midgame never overwrites an output file",
        report_path.display()
    );
    let rt = crate::runtime()?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let queries = crate::builtin_queries()?;
    let detections = midgame_detect::Detection::load_dirs(std::slice::from_ref(&queries))?;
    let page = rt.block_on(async {
        let ctx = crate::open_session(lake.root(), &cfg).await?;
        let (title, sql) = QUERIES[0];
        show(&ctx, &mut out, title, sql).await?;
        writeln!(
            out,
            "\n== Detections (midgame detect --lake LAKE --config sample-logs/midgame.toml)\n"
        )?;
        // The report lists what the allow-list silenced; the table here does not.
        let mut opts = cfg.run_options()?;
        opts.explain_suppressed = true;
        let findings =
            midgame_detect::run_detections(&ctx, std::slice::from_ref(&queries), &opts).await?;
        let shown = midgame_detect::Findings {
            suppressed: Vec::new(),
            ..findings.clone()
        };
        output::write_findings(&mut out, &shown, FindingsFormat::Table)?;
        for (title, sql) in &QUERIES[1..] {
            show(&ctx, &mut out, title, sql).await?;
        }
        crate::commands::report::html(&ctx, lake.root(), &findings, &detections, &opts, None).await
    })?;
    midgame_report::write_new(&report_path, &page)?;
    writeln!(
        out,
        "\n== The incident report (midgame report --lake LAKE --output FILE)\n{} (open it in a browser)",
        report_path.display()
    )?;
    Ok(ExitCode::SUCCESS)
}

async fn show(
    ctx: &midgame_detect::SessionContext,
    out: &mut dyn std::io::Write,
    title: &str,
    sql: &str,
) -> anyhow::Result<()> {
    writeln!(out, "\n== {title}")?;
    let batches = ctx.sql(sql).await?.collect().await?;
    Ok(output::write_batches(out, &batches, ResultFormat::Table)?)
}
