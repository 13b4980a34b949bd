//! `midgame sql`: SQL from an argument, a file or stdin, or the shell on a terminal.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context;

use crate::args::{Format, SqlArgs};
use crate::config::Config;
use crate::printer::Printer;
use crate::shell::{Input, Shell};

/// Where the shell keeps its history: `$MIDGAME_HISTORY`, else
/// `$XDG_STATE_HOME/midgame/history` (`~/.local/state/midgame/history`).
fn history_file() -> Option<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("MIDGAME_HISTORY") {
        return Some(p.into());
    }
    let dir = crate::xdg_dir("XDG_STATE_HOME", ".local/state")?;
    let _ = fs_err::create_dir_all(&dir);
    Some(dir.join("history"))
}

pub(crate) fn run(a: &SqlArgs, _printer: &Printer) -> anyhow::Result<ExitCode> {
    let cfg = Config::load_opt(a.config.as_deref())?;
    if a.format == Format::Parquet && a.output.is_none() && std::io::stdout().is_terminal() {
        anyhow::bail!("--format parquet writes a file: add --output PATH");
    }
    let rt = crate::runtime()?;
    let ctx = rt.block_on(crate::open_session_on(&a.lake, &cfg, a.cluster.as_deref()))?;
    let guard = midgame_detect::catalog::Guard {
        allow_write: a.allow_write,
        allow_files: a.allow_files,
        lake: a.lake.clone(),
    };
    let mut shell = Shell::new(&ctx, &rt, a.format, guard);
    shell.max_rows = a.max_rows;
    if let Some(path) = &a.output {
        shell.run(&mut Input::Script(Box::new(std::io::Cursor::new(format!(
            "\\o {}\n",
            path.display()
        )))))?;
        if shell.errors > 0 {
            return Ok(ExitCode::from(1));
        }
    }
    let mut input = if let Some(sql) = &a.sql {
        Input::Script(Box::new(std::io::Cursor::new(sql.clone())))
    } else if let Some(file) = &a.file {
        let f = fs_err::File::open(file)?;
        Input::Script(Box::new(std::io::BufReader::new(f)))
    } else if std::io::stdin().is_terminal() {
        Input::terminal(history_file()).context("the shell needs a terminal")?
    } else {
        Input::Script(Box::new(std::io::BufReader::new(std::io::stdin())))
    };
    let interactive = matches!(input, Input::Terminal(..));
    shell.run(&mut input)?;
    // `--output` of a script is all or nothing; the shell's \o keeps what succeeded.
    shell.close_output(interactive)?;
    std::io::stdout().flush()?;
    if shell.errors > 0 && !interactive {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
