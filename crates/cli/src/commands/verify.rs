//! `midgame verify`: every committed data file against its record, and the files
//! nothing committed; `--repair` says what it would do, `--yes` does it.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use midgame_lake::Lake;

use crate::args::VerifyArgs;
use crate::printer::Printer;

pub(crate) fn run(a: &VerifyArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        !midgame_lake::remote_lake::is_remote_lake(&a.lake),
        "{}: verify reads every data file and is not supported on a lake on S3; copy it (aws s3 sync) and verify the copy",
        a.lake.display()
    );
    anyhow::ensure!(
        midgame_lake::Layout::new(&a.lake).is_lake(),
        "{}: not a midgame lake ({})",
        a.lake.display(),
        midgame_lake::Layout::not_a_lake_reason()
    );
    // Read-only: opening the lake for writing would already move orphans aside.
    let lake = Lake::inspect(&a.lake);
    let v = lake.verify()?;
    let mut out = std::io::stdout().lock();
    let rel = |p: &std::path::Path| p.strip_prefix(&a.lake).unwrap_or(p).display().to_string();
    for (p, why) in &v.problems {
        writeln!(out, "PROBLEM  {}: {why}", rel(p))?;
    }
    for p in &v.orphans {
        writeln!(
            out,
            "ORPHAN   {}: no manifest entry commits it; it is not read",
            rel(p)
        )?;
    }
    if !v.unchecked.is_empty() {
        writeln!(
            out,
            "UNCHECKED {} files committed before checksums were recorded (midgame compact rewrites them with checksums)",
            v.unchecked.len()
        )?;
    }
    writeln!(
        out,
        "checked {} committed data files: {} match their checksums, {} problems, {} orphans",
        v.committed,
        v.ok,
        v.problems.len(),
        v.orphans.len()
    )?;
    if v.is_clean() {
        return Ok(ExitCode::SUCCESS);
    }
    if !a.repair {
        writeln!(out, "midgame verify --repair says how it would mend this")?;
        return Ok(ExitCode::from(1));
    }
    // The plan: orphans aside; each damaged file's source files forgotten, so that the
    // next ingest or run reads them again.
    let mut forget = BTreeMap::new();
    for (p, _) in &v.problems {
        for e in lake.entries_behind(&rel(p))? {
            forget.insert(e.hash.clone(), e);
        }
    }
    for p in &v.orphans {
        writeln!(out, "would move {} to _orphans/", rel(p))?;
    }
    for e in forget.values() {
        writeln!(
            out,
            "would forget {} (rows {}): ingest it again to restore them",
            e.path,
            e.auth_rows + e.admin_rows
        )?;
    }
    if !a.yes {
        writeln!(out, "nothing changed: add --yes to do it")?;
        return Ok(ExitCode::from(1));
    }
    drop(out);
    let lake =
        Lake::open(&a.lake).with_context(|| format!("opening the lake {}", a.lake.display()))?;
    for e in forget.values() {
        lake.forget(e)?;
        printer.status(&format!("forgot {}", e.path));
    }
    drop(lake);
    // Opening again moves what no entry commits now (the orphans, the damaged files).
    let lake =
        Lake::open(&a.lake).with_context(|| format!("opening the lake {}", a.lake.display()))?;
    let after = lake.verify()?;
    printer.status(&format!(
        "repaired: {} problems, {} orphans left",
        after.problems.len(),
        after.orphans.len()
    ));
    Ok(if after.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
