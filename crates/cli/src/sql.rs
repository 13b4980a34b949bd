//! `midgame sql`: one query over the lake, results to stdout.

use std::io::{IsTerminal, Read};
use std::process::ExitCode;

use anyhow::Context;

use crate::args::SqlArgs;
use crate::output::{Printer, write_batches};

pub(crate) fn run(a: &SqlArgs, _printer: &Printer) -> anyhow::Result<ExitCode> {
    let sql = match &a.sql {
        Some(s) => s.clone(),
        None => {
            if std::io::stdin().is_terminal() {
                anyhow::bail!(
                    "no SQL given: pass it as an argument or on stdin (e.g. midgame sql --lake {} \"SELECT count(*) FROM auth\")",
                    a.lake.display()
                );
            }
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("reading SQL from stdin")?;
            s
        }
    };
    let sql = sql.trim().trim_end_matches(';').to_owned();
    if sql.is_empty() {
        anyhow::bail!("empty SQL");
    }
    let rt = crate::runtime()?;
    let batches = rt.block_on(async {
        let ctx = midgame_detect::open_session(&a.lake).await?;
        let df = ctx.sql(&sql).await?;
        anyhow::Ok(df.collect().await?)
    })?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    write_batches(&mut out, &batches, a.format)?;
    Ok(ExitCode::SUCCESS)
}
