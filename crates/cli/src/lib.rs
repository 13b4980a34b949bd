//! The `midgame` command line: argument parsing, logging, output and exit codes around
//! the library crates (sources, lake, gen, detect).
#![deny(missing_docs)]

mod args;
mod builtin;
mod commands;
mod config;
mod printer;
mod shell;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;

pub use args::Cli;
use args::Command;
use commands::{
    bench, check, cluster, compact, demo, detect, export, r#gen, ingest, pull, report,
    run as run_cmd, sigma, sql, verify,
};
pub use printer::Printer;

/// The config loader on any text, with every check that reads no other file: the body
/// of the `config` fuzz target (`fuzz/`), also run over the seeds in the tests.
#[doc(hidden)]
pub fn fuzz_config(text: &str) {
    config::Config::check_text(text);
}

/// Exit code of a run that found bad input under `--strict` or failed on a file.
const EXIT_FAILURE: u8 = 1;

/// Run the command line and return the process exit code (DESIGN: 0 success, 1 a fatal
/// error, 2 bad arguments).
#[must_use]
pub fn main_entry() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout with code 0 and usage errors with code 2.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    // A scheduler or an executor is a service: its log says what it listens on.
    let verbose = if matches!(cli.command, Command::Cluster(_)) {
        cli.verbose.max(1)
    } else {
        cli.verbose
    };
    init_logging(verbose);
    let printer = Printer::new(cli.quiet);
    match run(cli.command, &printer) {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            let _ = writeln!(std::io::stderr(), "error: {}", one_line(&e));
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn run(command: Command, printer: &Printer) -> anyhow::Result<ExitCode> {
    match command {
        Command::Ingest(a) => ingest::run(&a, printer),
        Command::Detect(a) => detect::run(&a, printer),
        Command::Report(a) => report::run(&a, printer),
        Command::Sql(a) => sql::run(&a, printer),
        Command::Gen(a) => r#gen::run(&a, printer),
        Command::Demo(a) => demo::run(&a, printer),
        Command::Check(a) => check::run(&a, printer),
        Command::Run(a) => run_cmd::run(&a, printer),
        Command::Backfill(a) => run_cmd::backfill(&a, printer),
        Command::Compact(a) => compact::run(&a, printer),
        Command::Verify(a) => verify::run(&a, printer),
        Command::Export(args::ExportCommand::Ocsf(a)) => export::run(&a, printer),
        Command::Sigma(args::SigmaCommand::Convert(a)) => sigma::run(&a, printer),
        Command::Pull(args::PullCommand::Okta(a)) => pull::run(&a, printer),
        Command::Bench(a) => bench::run(&a, printer),
        Command::Cluster(c) => cluster::run(&c),
        Command::Completions { shell } => {
            let mut cli = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cli, "midgame", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            clap_mangen::Man::new(<Cli as clap::CommandFactory>::command())
                .render(&mut std::io::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The error and its causes on one line, left to right, without the repetitions of
/// libraries whose messages already include their causes (DataFusion's do).
pub(crate) fn one_line(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string().replace('\n', " ");
        if out.contains(text.trim()) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(text.trim());
    }
    out
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.to_string().contains("Broken pipe")
    })
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colour only for a person at a terminal: never in a log file, never with NO_COLOR.
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_target(false)
        .try_init();
}

/// `$<var>/midgame` (an absolute path), else `~/<home_default>/midgame`: where the XDG
/// base directories put a program's config, state and cache.
pub(crate) fn xdg_dir(var: &str, home_default: &str) -> Option<PathBuf> {
    let home = || std::env::var_os("HOME").map(|h| PathBuf::from(h).join(home_default));
    (std::env::var_os(var).map(PathBuf::from))
        .filter(|p| p.is_absolute())
        .or_else(home)
        .map(|d| d.join("midgame"))
}

/// The built-in detections folder: embedded in the binary and written out to the user's
/// cache (see [`builtin`]); never a `queries/` of the current directory.
pub(crate) fn builtin_queries() -> anyhow::Result<PathBuf> {
    builtin::queries()
}

/// A session over the lake with what the config adds: the allow-list table and, when a
/// `[geoip]` database is configured, the `geoip_*` functions.
pub(crate) async fn open_session(
    lake: &Path,
    cfg: &config::Config,
) -> anyhow::Result<midgame_detect::SessionContext> {
    open_session_on(lake, cfg, None).await
}

/// [`open_session`], its queries run on the Ballista cluster at `cluster`
/// (`df://HOST:PORT`) when one is given.
pub(crate) async fn open_session_on(
    lake: &Path,
    cfg: &config::Config,
    cluster: Option<&str>,
) -> anyhow::Result<midgame_detect::SessionContext> {
    let geoip = cfg.geoip()?.map(std::sync::Arc::new);
    let ctx = match cluster {
        None => {
            let ctx = midgame_detect::open_session(lake).await?;
            if let Some(g) = &geoip {
                midgame_detect::register_geoip(&ctx, g);
            }
            ctx
        }
        Some(url) => commands::cluster::connect(url, lake, geoip.as_ref()).await?,
    };
    midgame_detect::register_allowlist(&ctx, &cfg.allow_entries()?).await?;
    Ok(ctx)
}

/// A tokio runtime for DataFusion.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Plans are walked recursively (planning, and on a cluster their protobuf
        // encoding and decoding): a detection's plan overflowed a Ballista scheduler's
        // 2 MiB worker stack. Reserved address space, not memory used.
        .thread_stack_size(32 << 20)
        .build()?)
}

/// The lake a writing command works on: the folder itself, or for `s3://bucket/prefix`
/// a local mirror of it, locked, whose changes [`LakeDir::publish`] puts on the store
/// in commit order (midgame-lake's `remote_lake`).
pub(crate) struct LakeDir {
    dir: PathBuf,
    remote: Option<midgame_lake::remote_lake::RemoteLake>,
}

impl LakeDir {
    /// Open `lake` for writing; an S3 lake is created when `create` is set.
    pub(crate) fn open(
        lake: &Path,
        create: bool,
        printer: &printer::Printer,
    ) -> anyhow::Result<Self> {
        use anyhow::Context;
        if !midgame_lake::remote_lake::is_remote_lake(lake) {
            return Ok(Self {
                dir: lake.to_path_buf(),
                remote: None,
            });
        }
        let url = lake.to_string_lossy();
        let remote = midgame_lake::remote_lake::RemoteLake::open_write(&url, create)
            .with_context(|| format!("opening the lake {url}"))?;
        if let Some(prev) = remote.took_over_lock_from() {
            printer.warn(&format!(
                "took over the lake lock of a run that stopped its heartbeat ({prev})"
            ));
        }
        Ok(Self {
            dir: remote.dir().to_path_buf(),
            remote: Some(remote),
        })
    }

    /// The folder to run the command on.
    pub(crate) fn path(&self) -> &Path {
        &self.dir
    }

    /// Put what the command committed on the store (nothing for a folder).
    pub(crate) fn publish(&mut self, printer: &printer::Printer) -> anyhow::Result<()> {
        let Some(remote) = self.remote.as_mut() else {
            return Ok(());
        };
        let started = std::time::Instant::now();
        let p = remote.push()?;
        if p.records + p.uploaded + p.copied + p.deleted + p.deferred > 0 {
            let later = if p.deferred > 0 {
                format!(
                    ", {} replaced (deleted by a writer after the grace time)",
                    p.deferred
                )
            } else {
                String::new()
            };
            printer.status(&format!(
                "published to {}: {} records, {} objects uploaded ({:.1} MB), {} copied, {} deleted{later} in {:.2} s",
                remote.url(),
                p.records,
                p.uploaded,
                p.bytes as f64 / 1e6,
                p.copied,
                p.deleted,
                started.elapsed().as_secs_f64()
            ));
        }
        Ok(())
    }

    /// Download into the mirror the data files of the folders with at least
    /// `min_files` of them: those compaction reads whole.
    pub(crate) fn fetch_tables(&mut self, min_files: usize) -> anyhow::Result<()> {
        if let Some(remote) = self.remote.as_mut() {
            remote.fetch_tables(min_files)?;
        }
        Ok(())
    }
}
