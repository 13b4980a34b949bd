//! `midgame sql`: one-shot SQL or an interactive shell over the lake, with every table,
//! shared view, allow-list table and function registered as detections see them.
//!
//! Input is a stream of lines, from the terminal (line editing and history) or from a
//! script (`-f FILE`, stdin): statements end with `;` (the last one may omit it), and a
//! line starting with `\` is a command (`\d`, `\d NAME`, `\df`, `\timing`, `\o FILE`,
//! `\format F`, `\q`, `\?`).

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use arrow::array::RecordBatch;
use midgame_detect::{SessionContext, catalog};

use crate::args::Format;
use crate::printer::thousands;

fn write_batches(
    out: &mut dyn Write,
    batches: &[RecordBatch],
    format: Format,
) -> anyhow::Result<()> {
    Ok(midgame_detect::output::write_batches(
        out,
        batches,
        format.into(),
    )?)
}

const HELP: &str = "\
Statements end with ';' and may span lines. Commands:
  \\d             list tables and views
  \\d NAME        describe a table or view: columns, types, meaning
  \\df            list midgame's functions
  \\timing        show how long each statement takes (toggle)
  \\o FILE        write results to FILE (a new file); \\o alone: back to the screen
  \\format F      table, csv, ndjson or parquet (parquet needs \\o FILE)
  \\q             quit (also Ctrl-D)";

/// Where lines come from.
pub(crate) enum Input {
    /// A terminal: prompts, line editing, history.
    Terminal(Box<rustyline::DefaultEditor>, Option<PathBuf>),
    /// A script: no prompts.
    Script(Box<dyn BufRead>),
}

impl Input {
    /// The terminal, with history in `history` (created when missing).
    pub(crate) fn terminal(history: Option<PathBuf>) -> anyhow::Result<Self> {
        let mut editor = rustyline::DefaultEditor::new().context("starting line editing")?;
        if let Some(h) = &history {
            let _ = editor.load_history(h);
        }
        Ok(Input::Terminal(Box::new(editor), history))
    }

    fn line(&mut self, prompt: &str) -> anyhow::Result<Option<String>> {
        match self {
            Input::Terminal(editor, _) => match editor.readline(prompt) {
                Ok(line) => {
                    if !line.trim().is_empty() {
                        let _ = editor.add_history_entry(line.as_str());
                    }
                    Ok(Some(line))
                }
                Err(rustyline::error::ReadlineError::Interrupted) => Ok(Some(String::new())),
                Err(rustyline::error::ReadlineError::Eof) => Ok(None),
                Err(e) => Err(e.into()),
            },
            Input::Script(r) => {
                let mut s = String::new();
                if r.read_line(&mut s)? == 0 {
                    return Ok(None);
                }
                Ok(Some(s.trim_end_matches(['\n', '\r']).to_owned()))
            }
        }
    }

    fn save(&mut self) {
        if let Input::Terminal(editor, Some(h)) = self {
            let _ = editor.save_history(h);
        }
    }

    fn interactive(&self) -> bool {
        matches!(self, Input::Terminal(..))
    }
}

/// Results going to a file: written to a temporary file beside it, put in place when
/// the output is closed (so a failed query never leaves an empty file behind, and a file
/// that appeared meanwhile is not overwritten).
struct Pending {
    path: PathBuf,
    tmp: tempfile::NamedTempFile,
    wrote: bool,
    errors_at_open: usize,
}

/// The shell's state.
pub(crate) struct Shell<'a> {
    ctx: &'a SessionContext,
    rt: &'a tokio::runtime::Runtime,
    /// Output format.
    pub format: Format,
    timing: bool,
    output: Option<Pending>,
    /// What statements may do besides reading.
    guard: midgame_detect::catalog::Guard,
    /// Rows shown on a terminal before the rest is cut (0: all).
    pub max_rows: usize,
    /// Statements or commands that failed.
    pub errors: usize,
}

impl<'a> Shell<'a> {
    pub(crate) fn new(
        ctx: &'a SessionContext,
        rt: &'a tokio::runtime::Runtime,
        format: Format,
        guard: midgame_detect::catalog::Guard,
    ) -> Self {
        Self {
            ctx,
            rt,
            format,
            timing: false,
            output: None,
            guard,
            max_rows: 0,
            errors: 0,
        }
    }

    /// Read and run everything `input` gives.
    pub(crate) fn run(&mut self, input: &mut Input) -> anyhow::Result<()> {
        if input.interactive() {
            let mut err = std::io::stderr();
            writeln!(
                err,
                "midgame sql: tables auth, admin; \\d lists everything, \\? helps, \\q quits. End statements with ;"
            )?;
        }
        let mut pending = String::new();
        loop {
            let prompt = if pending.trim().is_empty() {
                "midgame> "
            } else {
                "     ..> "
            };
            let Some(line) = input.line(prompt)? else {
                break;
            };
            if pending.trim().is_empty() && line.trim_start().starts_with('\\') {
                pending.clear();
                if !self.command(line.trim())? {
                    break;
                }
                continue;
            }
            pending.push_str(&line);
            pending.push('\n');
            let (statements, rest) = catalog::split_statements(&pending);
            pending = rest;
            for s in statements {
                self.statement(&s);
            }
        }
        if !catalog::is_blank(&pending) {
            self.statement(pending.trim());
        }
        input.save();
        Ok(())
    }

    fn report(&mut self, e: &anyhow::Error) {
        self.errors += 1;
        let _ = writeln!(std::io::stderr(), "error: {}", crate::one_line(e));
    }

    /// Run one statement; errors are reported, not returned.
    pub(crate) fn statement(&mut self, sql: &str) {
        if catalog::is_blank(sql) {
            return;
        }
        let started = Instant::now();
        let result = self.rt.block_on(async {
            let df = catalog::guarded_sql(self.ctx, sql, &self.guard).await?;
            anyhow::Ok(df.collect().await?)
        });
        match result {
            Ok(batches) => {
                if let Err(e) = self.show(&batches) {
                    self.report(&e);
                }
            }
            Err(e) => {
                self.errors += 1;
                let mut line = crate::one_line(&e);
                if let Some(hint) = catalog::column_hint(&e.to_string()) {
                    line = format!("{line} ({hint})");
                }
                let _ = writeln!(std::io::stderr(), "error: {line}");
            }
        }
        if self.timing {
            let _ = writeln!(
                std::io::stderr(),
                "Time: {:.1} ms",
                started.elapsed().as_secs_f64() * 1000.0
            );
        }
    }

    fn show(&mut self, batches: &[RecordBatch]) -> anyhow::Result<()> {
        if let Some(p) = self.output.as_mut() {
            let mut out = std::io::BufWriter::new(p.tmp.as_file_mut());
            write_batches(&mut out, batches, self.format)
                .with_context(|| format!("{}: cannot write", p.path.display()))?;
            out.flush()?;
            drop(out);
            p.wrote = true;
            if self.format == Format::Parquet {
                // A Parquet file holds one result: the next one goes to the screen.
                self.close_output(true)?;
            }
            return Ok(());
        }
        let stdout = std::io::stdout();
        if self.format == Format::Parquet && stdout.is_terminal() {
            anyhow::bail!("Parquet is binary: write it to a file with \\o FILE (or --output FILE)");
        }
        let total: usize = batches.iter().map(RecordBatch::num_rows).sum();
        let mut out = stdout.lock();
        if self.max_rows > 0 && total > self.max_rows && stdout.is_terminal() {
            let mut kept = Vec::new();
            let mut left = self.max_rows;
            for b in batches {
                if left == 0 {
                    break;
                }
                let n = b.num_rows().min(left);
                kept.push(b.slice(0, n));
                left -= n;
            }
            write_batches(&mut out, &kept, self.format)?;
            writeln!(
                std::io::stderr(),
                "(showing {} of {} rows; all of them: \\o FILE in the shell, or redirect the output: midgame sql ... > FILE)",
                thousands(self.max_rows as u64),
                thousands(total as u64)
            )?;
        } else {
            write_batches(&mut out, batches, self.format)?;
        }
        Ok(())
    }

    /// Run a backslash command; `false` means quit.
    fn command(&mut self, line: &str) -> anyhow::Result<bool> {
        let mut words = line.split_whitespace();
        let cmd = words.next().unwrap_or("");
        let arg = words.next();
        let result = match (cmd, arg) {
            ("\\q" | "\\quit", _) => return Ok(false),
            ("\\?" | "\\h" | "\\help", _) => {
                writeln!(std::io::stdout(), "{HELP}")?;
                Ok(())
            }
            ("\\d", None) => self.list(),
            ("\\d", Some(name)) => self.describe(name),
            ("\\df", _) => {
                let mut out = std::io::stdout();
                for (call, doc) in midgame_detect::FUNCTIONS {
                    writeln!(out, "{call:<40} {doc}")?;
                }
                Ok(())
            }
            ("\\timing", _) => {
                self.timing = !self.timing;
                writeln!(
                    std::io::stderr(),
                    "timing {}",
                    if self.timing { "on" } else { "off" }
                )?;
                Ok(())
            }
            ("\\o", None) => self.close_output(true),
            ("\\o", Some(path)) => self.redirect(Path::new(path)),
            ("\\format", Some(f)) => match f {
                "table" => {
                    self.format = Format::Table;
                    Ok(())
                }
                "csv" => {
                    self.format = Format::Csv;
                    Ok(())
                }
                "ndjson" => {
                    self.format = Format::Ndjson;
                    Ok(())
                }
                "parquet" => {
                    self.format = Format::Parquet;
                    Ok(())
                }
                other => Err(anyhow::anyhow!(
                    "\\format {other}: expected table, csv, ndjson or parquet"
                )),
            },
            _ => Err(anyhow::anyhow!(
                "unknown command {line:?}; \\? lists the commands"
            )),
        };
        if let Err(e) = result {
            self.report(&e);
        }
        Ok(true)
    }

    fn redirect(&mut self, path: &Path) -> anyhow::Result<()> {
        self.close_output(true)?;
        if path.exists() {
            return Err(midgame_detect::output::OutputError::Exists(path.to_path_buf()).into());
        }
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let tmp = tempfile::Builder::new()
            .prefix(".midgame-sql-")
            .suffix(".tmp")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .tempfile_in(dir)
            .with_context(|| format!("{}: cannot write", path.display()))?;
        self.output = Some(Pending {
            path: path.to_path_buf(),
            tmp,
            wrote: false,
            errors_at_open: self.errors,
        });
        Ok(())
    }

    /// Put the results written so far in place (when something was written and, unless
    /// `keep_after_errors`, nothing failed since the output was opened); else remove
    /// them. Back to the screen.
    pub(crate) fn close_output(&mut self, keep_after_errors: bool) -> anyhow::Result<()> {
        let Some(p) = self.output.take() else {
            return Ok(());
        };
        if !p.wrote || (!keep_after_errors && self.errors > p.errors_at_open) {
            return Ok(());
        }
        p.tmp.as_file().sync_all()?;
        p.tmp.persist_noclobber(&p.path).map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                anyhow::Error::from(midgame_detect::output::OutputError::Exists(p.path.clone()))
            } else {
                anyhow::anyhow!("{}: {}", p.path.display(), e.error)
            }
        })?;
        if self.format == Format::Parquet {
            let _ = writeln!(std::io::stderr(), "wrote {}", p.path.display());
        }
        Ok(())
    }

    fn list(&mut self) -> anyhow::Result<()> {
        let relations = self.rt.block_on(catalog::relations(self.ctx))?;
        let mut out = std::io::stdout();
        for r in relations {
            let kind = if r.view { "view" } else { "table" };
            writeln!(out, "{:<18} {kind:<6} {}", r.name, r.doc)?;
        }
        Ok(())
    }

    fn describe(&mut self, name: &str) -> anyhow::Result<()> {
        let columns = self
            .rt
            .block_on(catalog::describe(self.ctx, name))
            .map_err(|e| match e {
                catalog::CatalogError::Unknown(_) => anyhow::anyhow!("{e}; \\d lists them"),
                other => other.into(),
            })?;
        let mut out = std::io::stdout();
        for c in columns {
            writeln!(
                out,
                "{:<16} {:<28} {:<8} {}",
                c.name,
                c.type_name,
                if c.nullable { "null" } else { "not null" },
                c.doc
            )?;
        }
        Ok(())
    }
}
