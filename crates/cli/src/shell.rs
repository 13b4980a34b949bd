//! `midgame sql`: one-shot SQL or an interactive shell over the lake, with every table,
//! shared view, allow-list table and function registered as detections see them.
//!
//! Input is a stream of lines, from the terminal (line editing and history) or from a
//! script (`-f FILE`, stdin): statements end with `;` (the last one may omit it), and a
//! line starting with `\` is a command (`\d`, `\d NAME`, `\df`, `\timing`, `\o FILE`,
//! `\format F`, `\q`, `\?`).

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use arrow::array::RecordBatch;
use midgame_detect::SessionContext;

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

/// The shell's state.
pub(crate) struct Shell<'a> {
    ctx: &'a SessionContext,
    rt: &'a tokio::runtime::Runtime,
    /// Output format.
    pub format: Format,
    timing: bool,
    output: Option<PathBuf>,
    /// Rows shown on a terminal before the rest is cut (0: all).
    pub max_rows: usize,
    /// Statements or commands that failed.
    pub errors: usize,
}

/// Split `text` into complete statements (ended by `;` outside quotes and comments) and
/// the incomplete rest.
pub(crate) fn split_statements(text: &str) -> (Vec<String>, String) {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    let mut quote: Option<char> = None;
    while let Some((i, c)) = chars.next() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' => quote = Some(c),
                '-' if chars.peek().is_some_and(|(_, n)| *n == '-') => {
                    // A comment runs to the end of the line.
                    for (_, n) in chars.by_ref() {
                        if n == '\n' {
                            break;
                        }
                    }
                }
                ';' => {
                    let stmt = text[start..i].trim();
                    if !stmt.is_empty() {
                        out.push(stmt.to_owned());
                    }
                    start = i + 1;
                }
                _ => {}
            },
        }
    }
    (out, text[start..].to_owned())
}

/// The text of `sql` without comments, to tell an empty statement from a real one.
fn without_comments(sql: &str) -> String {
    sql.lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Levenshtein distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

impl<'a> Shell<'a> {
    pub(crate) fn new(
        ctx: &'a SessionContext,
        rt: &'a tokio::runtime::Runtime,
        format: Format,
    ) -> Self {
        Self {
            ctx,
            rt,
            format,
            timing: false,
            output: None,
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
            let (statements, rest) = split_statements(&pending);
            pending = rest;
            for s in statements {
                self.statement(&s);
            }
        }
        if !without_comments(&pending).trim().is_empty() {
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
        if without_comments(sql).trim().is_empty() {
            return;
        }
        let started = Instant::now();
        let result = self
            .rt
            .block_on(async { anyhow::Ok(self.ctx.sql(sql).await?.collect().await?) });
        match result {
            Ok(batches) => {
                if let Err(e) = self.show(&batches) {
                    self.report(&e);
                }
            }
            Err(e) => {
                let hint = self.hint(&e.to_string());
                self.errors += 1;
                let mut line = crate::one_line(&e);
                if !hint.is_empty() {
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

    /// For "No field named x": the nearest real column and the columns of the tables.
    fn hint(&self, message: &str) -> String {
        // DataFusion usually names the nearest column and lists the valid ones itself.
        if message.contains("Valid fields are") {
            return String::new();
        }
        let Some(rest) = message.split("No field named ").nth(1) else {
            return String::new();
        };
        let name: String = rest
            .trim_start_matches(['"', '`'])
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
            .collect();
        let name = name
            .trim_end_matches('.')
            .rsplit('.')
            .next()
            .unwrap_or_default()
            .to_lowercase();
        let mut best: Option<(usize, String, &str)> = None;
        for t in midgame_schema::Table::ALL {
            for c in t.columns {
                let d = distance(&name, c.name);
                if best.as_ref().is_none_or(|b| d < b.0) {
                    best = Some((d, c.name.to_owned(), t.name));
                }
            }
        }
        match best {
            Some((d, col, table)) if d <= 3 => {
                let cols: Vec<&str> = midgame_schema::Table::ALL
                    .iter()
                    .find(|t| t.name == table)
                    .map(|t| t.columns.iter().map(|c| c.name).collect())
                    .unwrap_or_default();
                format!("did you mean `{col}`? {table} has: {}", cols.join(", "))
            }
            _ => String::new(),
        }
    }

    fn show(&mut self, batches: &[RecordBatch]) -> anyhow::Result<()> {
        if let Some(path) = self.output.clone() {
            let file = fs_err::OpenOptions::new()
                .append(true)
                .open(&path)
                .with_context(|| format!("{}: cannot write", path.display()))?;
            let mut out = std::io::BufWriter::new(file);
            write_batches(&mut out, batches, self.format)?;
            out.flush()?;
            if self.format == Format::Parquet {
                // A Parquet file holds one result: the next one goes to the screen.
                self.output = None;
                let _ = writeln!(std::io::stderr(), "wrote {}", path.display());
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
            ("\\o", None) => {
                self.output = None;
                Ok(())
            }
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
        midgame_detect::output::create_new(path)?;
        self.output = Some(path.to_path_buf());
        Ok(())
    }

    fn docs() -> BTreeMap<String, String> {
        let mut docs: BTreeMap<String, String> = BTreeMap::new();
        for t in midgame_schema::Table::ALL {
            docs.insert(t.name.to_owned(), t.doc.to_owned());
        }
        for (name, doc, _) in midgame_detect::VIEWS {
            docs.insert((*name).to_owned(), (*doc).to_owned());
        }
        docs.insert(
            "allowlisted_ip".into(),
            "The lake's addresses inside the [allowlist] ranges, with the reason.".into(),
        );
        docs
    }

    fn list(&mut self) -> anyhow::Result<()> {
        let batches = self.rt.block_on(async {
            anyhow::Ok(
                self.ctx
                    .sql("SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name")
                    .await?
                    .collect()
                    .await?,
            )
        })?;
        let docs = Self::docs();
        let mut out = std::io::stdout();
        for b in &batches {
            let names = arrow::compute::cast(b.column(0), &arrow::datatypes::DataType::Utf8)?;
            let kinds = arrow::compute::cast(b.column(1), &arrow::datatypes::DataType::Utf8)?;
            let names = arrow::array::AsArray::as_string::<i32>(&names);
            let kinds = arrow::array::AsArray::as_string::<i32>(&kinds);
            for i in 0..b.num_rows() {
                let name = names.value(i);
                let kind = if kinds.value(i) == "VIEW" {
                    "view"
                } else {
                    "table"
                };
                let doc = docs.get(name).map_or("", String::as_str);
                writeln!(out, "{name:<18} {kind:<6} {doc}")?;
            }
        }
        Ok(())
    }

    fn describe(&mut self, name: &str) -> anyhow::Result<()> {
        let schema = self.rt.block_on(async {
            anyhow::Ok(
                self.ctx
                    .table(name)
                    .await
                    .with_context(|| format!("no table or view named {name:?}; \\d lists them"))?
                    .schema()
                    .as_arrow()
                    .clone(),
            )
        })?;
        let mut meaning: BTreeMap<&str, &str> = BTreeMap::new();
        let own = midgame_schema::Table::ALL.iter().find(|t| t.name == name);
        // Columns a view takes from the tables keep their meaning.
        for t in midgame_schema::Table::ALL.iter().rev() {
            if own.is_some_and(|o| o.name != t.name) {
                continue;
            }
            for c in t.columns {
                meaning.insert(c.name, c.doc);
            }
        }
        meaning.insert("date", "Partition: the UTC day of `time` (YYYY-MM-DD).");
        meaning.insert(
            "device",
            "Device key: `device_id`, else `os / browser` family.",
        );
        meaning.insert(
            "prev_device_ms",
            "When this user last used this device before this row (epoch ms; null: never).",
        );
        meaning.insert("first_ms", "The user's first row in any table (epoch ms).");
        meaning.insert("ip", "An allow-listed address seen in the lake.");
        meaning.insert("reason", "Why it is allow-listed.");
        let mut out = std::io::stdout();
        for f in schema.fields() {
            writeln!(
                out,
                "{:<16} {:<28} {:<8} {}",
                f.name(),
                type_name(f.data_type()),
                if f.is_nullable() { "null" } else { "not null" },
                meaning.get(f.name().as_str()).copied().unwrap_or("")
            )?;
        }
        Ok(())
    }
}

fn type_name(t: &arrow::datatypes::DataType) -> String {
    use arrow::datatypes::DataType;
    match t {
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => "text".into(),
        DataType::Timestamp(_, Some(tz)) => format!("timestamp ({tz})"),
        other => other.to_string().to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_on_semicolons_outside_quotes_and_comments() {
        let (s, rest) = split_statements("SELECT ';' AS a; -- x; y\nSELECT 2;\nSELECT");
        assert_eq!(s, ["SELECT ';' AS a", "-- x; y\nSELECT 2"]);
        assert_eq!(rest, "\nSELECT");
        let (s, rest) = split_statements("SELECT \"a;b\" FROM t");
        assert!(s.is_empty());
        assert_eq!(rest, "SELECT \"a;b\" FROM t");
    }

    #[test]
    fn edit_distance() {
        assert_eq!(distance("usr", "user"), 1);
        assert_eq!(distance("geo_contry", "geo_country"), 1);
        assert_eq!(distance("", "abc"), 3);
    }
}
