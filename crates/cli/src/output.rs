//! Where output goes: data to stdout, people's messages to stderr, in the mode the user
//! asked for (passed down as a value, never a global).

use std::io::{IsTerminal, Write};

use arrow::array::RecordBatch;
use indicatif::{ProgressBar, ProgressStyle};

use crate::args::Format;

/// How much to say on stderr.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    quiet: bool,
}

impl Printer {
    /// A printer; `quiet` silences progress and summaries (errors still print).
    #[must_use]
    pub fn new(quiet: bool) -> Self {
        Self { quiet }
    }

    /// A status line on stderr (not in quiet mode).
    pub fn status(&self, line: &str) {
        if !self.quiet {
            let _ = writeln!(std::io::stderr(), "{line}");
        }
    }

    /// A warning on stderr (always).
    pub fn warn(&self, line: &str) {
        let _ = writeln!(std::io::stderr(), "warning: {line}");
    }

    /// A progress bar over `total` bytes, hidden when quiet or when stderr is not a
    /// terminal.
    #[must_use]
    pub fn bytes_bar(&self, total: u64) -> ProgressBar {
        if self.quiet || !std::io::stderr().is_terminal() {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta}) {msg}")
                .expect("a valid template"),
        );
        bar
    }
}

/// Write record batches to `out` in `format`.
pub(crate) fn write_batches(
    out: &mut dyn Write,
    batches: &[RecordBatch],
    format: Format,
) -> anyhow::Result<()> {
    match format {
        Format::Table => {
            let table = arrow::util::pretty::pretty_format_batches(batches)?;
            writeln!(out, "{table}")?;
        }
        Format::Csv => {
            let mut w = arrow_csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut *out);
            for b in batches {
                w.write(b)?;
            }
        }
        Format::Ndjson => {
            let mut w = arrow_json::LineDelimitedWriter::new(&mut *out);
            w.write_batches(&batches.iter().collect::<Vec<_>>())?;
            w.finish()?;
        }
        Format::Parquet => {
            let Some(first) = batches.first() else {
                anyhow::bail!(
                    "the query returned no rows and no schema: nothing to write as Parquet"
                );
            };
            let mut buf = Vec::new();
            let props = parquet::file::properties::WriterProperties::builder()
                .set_compression(parquet::basic::Compression::ZSTD(
                    parquet::basic::ZstdLevel::try_new(3)?,
                ))
                .build();
            let mut w =
                parquet::arrow::ArrowWriter::try_new(&mut buf, first.schema(), Some(props))?;
            for b in batches {
                w.write(b)?;
            }
            w.close()?;
            out.write_all(&buf)?;
        }
    }
    out.flush()?;
    Ok(())
}

/// `1234567` -> `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
