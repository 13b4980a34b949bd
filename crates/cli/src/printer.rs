//! Where output goes: data to stdout, people's messages to stderr, in the mode the user
//! asked for (passed down as a value, never a global).

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use indicatif::{ProgressBar, ProgressStyle};
use midgame_lake::{IngestObserver, LakeError};
use midgame_sources::BadRecord;

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

/// Most bad records of one ingest shown as warnings; the rest are in the quarantine.
const MAX_BAD_LINES_SHOWN: usize = 10;

/// What a person sees of an ingest: a progress bar over the bytes, the first bad
/// records and every failed file as warnings above it.
pub(crate) struct IngestView<'a> {
    printer: &'a Printer,
    bar: OnceLock<ProgressBar>,
    shown: AtomicUsize,
}

impl<'a> IngestView<'a> {
    pub(crate) fn new(printer: &'a Printer) -> Self {
        Self {
            printer,
            bar: OnceLock::new(),
            shown: AtomicUsize::new(0),
        }
    }

    fn above_bar(&self, line: &str) {
        match self.bar.get() {
            Some(bar) => bar.suspend(|| self.printer.warn(line)),
            None => self.printer.warn(line),
        }
    }
}

impl IngestObserver for IngestView<'_> {
    fn started(&self, total_bytes: u64) {
        let _ = self.bar.set(self.printer.bytes_bar(total_bytes));
    }

    fn progress(&self, bytes_done: u64) {
        if let Some(bar) = self.bar.get() {
            bar.set_position(bytes_done);
        }
    }

    fn bad_record(&self, file: &Path, bad: &BadRecord) {
        if self.shown.fetch_add(1, Ordering::Relaxed) < MAX_BAD_LINES_SHOWN {
            self.above_bar(&format!("{}:{}: {}", file.display(), bad.line, bad.reason));
        }
    }

    fn failed(&self, _file: &Path, error: &LakeError) {
        self.above_bar(&error.to_string());
    }

    fn skipped(&self, path: &Path, why: &str) {
        self.above_bar(&format!("{}: {why}", path.display()));
    }
}

impl Drop for IngestView<'_> {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.get() {
            bar.finish_and_clear();
        }
    }
}

pub(crate) use midgame_detect::output::thousands;
