//! `midgame compact`.

use std::process::ExitCode;

use anyhow::Context;
use midgame_lake::Lake;

use crate::args::CompactArgs;
use crate::printer::Printer;

pub(crate) fn run(a: &CompactArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    anyhow::ensure!(
        midgame_lake::Layout::new(&a.lake).is_lake(),
        "{}: not a midgame lake ({})",
        a.lake.display(),
        midgame_lake::Layout::not_a_lake_reason()
    );
    let lake =
        Lake::open(&a.lake).with_context(|| format!("opening the lake {}", a.lake.display()))?;
    let done = lake.compact(a.min_files as usize)?;
    for c in &done {
        printer.status(&format!(
            "{}/{}: {} files -> {} ({} rows)",
            c.table,
            c.partition,
            c.inputs.len(),
            c.output,
            c.rows
        ));
    }
    printer.status(&format!(
        "compacted {} partitions ({} files into {}) in {:.2} s",
        done.len(),
        done.iter().map(|c| c.inputs.len()).sum::<usize>(),
        done.len(),
        started.elapsed().as_secs_f64()
    ));
    Ok(ExitCode::SUCCESS)
}
