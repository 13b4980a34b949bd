//! `midgame compact`: cluster the lake by user (a day-partitioned lake is migrated), or
//! merge the files ingested since into their buckets.

use std::process::ExitCode;

use anyhow::Context;
use midgame_lake::Lake;

use crate::args::CompactArgs;
use crate::printer::Printer;

pub(crate) fn run(a: &CompactArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    // A lake on S3 is rewritten in a local mirror and published after.
    let mut dir = crate::LakeDir::open(&a.lake, false, printer)?;
    anyhow::ensure!(
        midgame_lake::Layout::new(dir.path()).is_lake(),
        "{}: not a midgame lake ({})",
        a.lake.display(),
        midgame_lake::Layout::not_a_lake_reason()
    );
    let lake =
        Lake::open(dir.path()).with_context(|| format!("opening the lake {}", a.lake.display()))?;
    let committed = lake.committed()?;
    let unclustered: Vec<&str> = midgame_schema::Table::ALL
        .iter()
        .map(|t| t.name)
        .filter(|t| {
            let prefix = format!("{t}/");
            !committed.clustered.contains_key(*t)
                && committed.files.keys().any(|f| f.starts_with(&prefix))
        })
        .collect();
    if a.recluster || a.buckets.is_some() || !unclustered.is_empty() {
        let buckets = a.buckets.map(|b| b as usize);
        let done = crate::runtime()?
            .block_on(midgame_detect::cluster(&lake, buckets))
            .with_context(|| format!("clustering the lake {}", a.lake.display()))?;
        drop(lake);
        dir.publish(printer)?;
        for c in &done {
            printer.status(&format!(
                "{}: {} files -> {} buckets by user ({} rows)",
                c.record.table,
                c.inputs,
                c.record.buckets(),
                c.record.rows
            ));
        }
        printer.status(&format!(
            "clustered {} tables in {:.2} s",
            done.len(),
            started.elapsed().as_secs_f64()
        ));
        return Ok(ExitCode::SUCCESS);
    }
    // Compaction reads the files of the folders it merges whole: on S3 they are
    // downloaded first.
    dir.fetch_tables(a.min_files as usize)?;
    let done = lake.compact(a.min_files as usize)?;
    drop(lake);
    dir.publish(printer)?;
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
