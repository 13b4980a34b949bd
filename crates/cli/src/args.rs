//! Command-line arguments (DESIGN 'Command-line contract').

use std::path::PathBuf;

use clap::builder::TypedValueParser as _;
use clap::{Args, Parser, Subcommand, ValueEnum};
use midgame_sources::SourceKind;

/// midgame: catch the midgame of a breach (stolen credentials used, new devices,
/// admin tools touched, data staged) in IdP, VPN and admin-tool logs.
#[derive(Debug, Parser)]
#[command(
    name = "midgame",
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("MIDGAME_COMMIT"), ")"),
    about,
    after_help = "Examples:\n  midgame demo\n  midgame gen --out logs --users 40 --days 28 --attack\n  midgame ingest --lake lake logs/\n  midgame sql --lake lake \"SELECT user, count(*) FROM auth GROUP BY user ORDER BY 2 DESC LIMIT 5\""
)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
    /// No progress bar and no summary on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// More logging on stderr (-v info, -vv debug; RUST_LOG overrides).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse log files into the Parquet lake (each file once; bad records quarantined).
    Ingest(IngestArgs),
    /// Run the detections over the lake and write alerts.
    Detect(DetectArgs),
    /// The findings as one HTML file: incidents with a timeline and a travel map, the
    /// user's baseline beside the anomaly, every alert with its runbook, an overview.
    Report(ReportArgs),
    /// Run SQL over the lake tables.
    Sql(SqlArgs),
    /// Generate realistic synthetic Okta System Log.
    Gen(GenArgs),
    /// Ingest the bundled sample logs into a temporary lake and show what is in them.
    Demo(DemoArgs),
    /// Check detections: every header, every query planned, every .slt test run.
    Check(CheckArgs),
    /// Scheduled batch: ingest what the archives gained, detect, emit new/changed alerts.
    Run(RunArgs),
    /// Re-run the detections over a past range; alerts keep their ids (no duplicates).
    Backfill(BackfillArgs),
    /// Cluster the lake by user for the detections (migrating a day-partitioned lake),
    /// or merge the files ingested since into their buckets; atomically.
    Compact(CompactArgs),
    /// Check every committed data file against its checksums; list what nothing commits.
    Verify(VerifyArgs),
    /// Pull logs from where they live (`midgame pull okta`).
    #[command(subcommand)]
    Pull(PullCommand),
    /// Sigma rules in (`midgame sigma convert`).
    #[command(subcommand)]
    Sigma(SigmaCommand),
    /// Export the lake in another shape (`midgame export ocsf`).
    #[command(subcommand)]
    Export(ExportCommand),
    /// Throughput: ingest and each detection on generated (or your) logs.
    Bench(BenchArgs),
    /// An Apache DataFusion Ballista cluster with midgame's functions and tables
    /// (`midgame cluster scheduler`, `midgame cluster executor`; the `cluster` feature).
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Shell completions on stdout (`midgame completions bash > /etc/bash_completion.d/midgame`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// The manual page on stdout (`midgame man > /usr/local/share/man/man1/midgame.1`).
    Man,
}

/// `midgame cluster ...`.
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Ballista's scheduler: clients (`--cluster df://HOST:PORT`) and executors connect
    /// to it. Logs to stderr; stops on SIGTERM or Ctrl-C.
    Scheduler(SchedulerArgs),
    /// A Ballista executor: asks the scheduler for tasks and runs them; serves results
    /// and shuffle data on --bind. Logs to stderr; on SIGTERM or Ctrl-C it tells the
    /// scheduler and stops.
    Executor(ExecutorArgs),
}

/// `midgame cluster scheduler`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  midgame cluster scheduler --bind 127.0.0.1:50050")]
pub struct SchedulerArgs {
    /// Address to listen on (an address of this machine; 0.0.0.0 only if you mean it).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:50050")]
    pub bind: std::net::SocketAddr,
    /// Seconds without a heartbeat after which an executor is taken as lost and its
    /// tasks run elsewhere.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub executor_timeout: u64,
    /// midgame.toml: its `[geoip]` database gives the cluster the `geoip_*` functions.
    #[arg(long, env = "MIDGAME_CONFIG", value_name = "FILE", value_parser = existing_file)]
    pub config: Option<PathBuf>,
}

/// `midgame cluster executor`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  midgame cluster executor --scheduler 127.0.0.1:50050 --bind 127.0.0.1:50051\n  midgame cluster executor --scheduler 127.0.0.1:50050 --bind 127.0.0.1:50061"
)]
pub struct ExecutorArgs {
    /// The scheduler's address.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:50050")]
    pub scheduler: std::net::SocketAddr,
    /// Address of its data service (results and shuffle data are fetched here).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:50051")]
    pub bind: std::net::SocketAddr,
    /// The name the scheduler and other executors reach it by (default: the --bind
    /// host; give one when binding 0.0.0.0).
    #[arg(long, value_name = "HOST")]
    pub external_host: Option<String>,
    /// Tasks it runs at once (default: one per core).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub concurrent_tasks: usize,
    /// Seconds between heartbeats to the scheduler.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub heartbeat: u64,
    /// Where to keep shuffle files (default: a temporary folder, removed at exit).
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// midgame.toml: its `[geoip]` database gives the cluster the `geoip_*` functions.
    #[arg(long, env = "MIDGAME_CONFIG", value_name = "FILE", value_parser = existing_file)]
    pub config: Option<PathBuf>,
}

/// `midgame bench`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  midgame bench --events 1000000 --raw none\n  midgame bench --events 10000000 --work /var/tmp/mgbench --threads 2 --json bench.json\n  midgame bench --input okta-archive/ --detection impossible_travel"
)]
pub struct BenchArgs {
    /// Events to generate (`midgame gen`, seed 1, 30 days, users to match).
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Your own logs instead (files or folders, as `ingest` takes them).
    #[arg(long, value_name = "PATH")]
    pub input: Vec<PathBuf>,
    /// Keep generated logs here and reuse them next time (default: a temporary folder).
    #[arg(long, value_name = "DIR")]
    pub work: Option<PathBuf>,
    /// Keep the lake in the work folder after the run.
    #[arg(long)]
    pub keep_lake: bool,
    /// Keep each record's original text (`full`, ingest's default) or not.
    #[arg(long, value_enum, default_value_t = RawArg::Full)]
    pub raw: RawArg,
    /// Threads for parsing and for DataFusion (default: every core).
    #[arg(long, value_parser = clap::value_parser!(usize))]
    pub threads: Option<usize>,
    /// Detect over the day files as ingested, without the `compact` phase that clusters
    /// the lake by user first.
    #[arg(long)]
    pub daily: bool,
    /// Only these detections (repeatable; default: each, then all in one run).
    #[arg(long = "detection", value_name = "ID")]
    pub detections: Vec<String>,
    /// Print JSON instead of the table.
    #[arg(long = "format-json")]
    pub format_json: bool,
    /// Also write the JSON report to this file (never overwritten).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

/// `midgame run`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example (cron, hourly):\n  17 * * * *  midgame run --config /etc/midgame/midgame.toml >> /var/log/midgame/run.log 2>&1\n\nThe last line on stdout is a key=value summary (status=ok|degraded|dry-run ...)."
)]
pub struct RunArgs {
    /// midgame.toml with [lake], [[archive]] and optionally [output] (default: the first
    /// of ./midgame.toml, ~/.config/midgame/midgame.toml, /etc/midgame/midgame.toml).
    #[arg(long, env = "MIDGAME_CONFIG", value_name = "FILE", value_parser = existing_file)]
    pub config: Option<PathBuf>,
    /// Show what would be ingested and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `midgame backfill`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  midgame backfill --config midgame.toml --from 2022-08-01 --to 2022-08-08"
)]
pub struct BackfillArgs {
    /// midgame.toml with [lake] (and [output] for the changes).
    #[arg(long, env = "MIDGAME_CONFIG", value_name = "FILE", value_parser = existing_file)]
    pub config: Option<PathBuf>,
    /// Re-evaluate alerts that end at or after this time (YYYY-MM-DD or RFC 3339).
    #[arg(long, value_name = "TS", value_parser = timestamp_ms)]
    pub from: i64,
    /// ... and start before this one.
    #[arg(long, value_name = "TS", value_parser = timestamp_ms)]
    pub to: i64,
}

/// `midgame compact`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  midgame compact --lake /var/lib/midgame/lake")]
pub struct CompactArgs {
    /// The lake: a directory, or `s3://bucket/prefix` (credentials and endpoint from the AWS environment).
    #[arg(long, env = "MIDGAME_LAKE", value_name = "DIR|s3://BUCKET/PREFIX", value_parser = lake_location)]
    pub lake: PathBuf,
    /// Only buckets (or day partitions) with at least this many files are merged.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(2..))]
    pub min_files: u32,
    /// Ranges of users to cluster into (default: one per core, more for a large lake,
    /// one per two million rows). Clusters again when given.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub buckets: Option<u32>,
    /// Cluster every table again (new split points for the users there are now).
    #[arg(long)]
    pub recluster: bool,
}

/// `midgame pull ...`.
#[derive(Debug, Subcommand)]
pub enum PullCommand {
    /// The Okta System Log API (`/api/v1/logs`) into gzip NDJSON files, resumable.
    Okta(PullOktaArgs),
}

/// `midgame pull okta`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  export OKTA_API_TOKEN=...\n  midgame pull okta --org https://acme.okta.com --token-env OKTA_API_TOKEN --out /srv/logs/okta-api\n  midgame ingest --lake lake /srv/logs/okta-api"
)]
pub struct PullOktaArgs {
    /// The org's URL.
    #[arg(long, value_name = "URL")]
    pub org: String,
    /// The environment variable holding the API token (sent as `SSWS`).
    #[arg(long, value_name = "VAR", default_value = "OKTA_API_TOKEN")]
    pub token_env: String,
    /// The folder the page files (and the cursor) go to.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Where the first pull starts (RFC 3339; later pulls go on from their cursor).
    #[arg(long, value_name = "TS")]
    pub since: Option<String>,
    /// Events per page (at most 1000).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: Option<u32>,
}

/// `midgame sigma ...`.
#[derive(Debug, Subcommand)]
pub enum SigmaCommand {
    /// Sigma rules as midgame detection files (the usual header, then plain SQL over the
    /// lake's tables); a rule that cannot be converted is named with the construct, never
    /// weakened.
    Convert(SigmaConvertArgs),
}

/// `midgame sigma convert`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  midgame sigma convert rules/identity/okta --out queries/sigma\n  midgame sigma convert okta_api_token_created.yml\n  midgame detect --lake lake --sigma rules/identity/okta"
)]
pub struct SigmaConvertArgs {
    /// A rule file or a folder of them (`*.yml`, `*.yaml`, recursively).
    #[arg(value_name = "PATH", value_parser = existing_path)]
    pub path: PathBuf,
    /// Write one `<id>.sql` per rule into this folder (created; an existing file is not
    /// overwritten) instead of printing them.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Exit with 1 when any rule cannot be converted.
    #[arg(long)]
    pub strict: bool,
}

/// `midgame export ...`.
#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// A table as OCSF records in Parquet, laid out as Amazon Security Lake takes a custom
    /// source (ext/<source>/region=<region>/accountId=<account>/eventDay=<YYYYMMDD>/).
    Ocsf(ExportArgs),
}

/// What `midgame export ocsf` exports.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ExportTable {
    /// `auth` as OCSF Authentication (3002).
    Auth,
    /// `admin` as OCSF API Activity (6003).
    Admin,
}

/// `midgame export ocsf`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  midgame export ocsf --lake lake --table auth --out export --account-id 123456789012 --region eu-west-1\n  aws s3 sync export/ s3://aws-security-data-lake-eu-west-1-xxxx/"
)]
pub struct ExportArgs {
    /// The lake: a directory, or `s3://bucket/prefix` (credentials and endpoint from the AWS environment).
    #[arg(long, env = "MIDGAME_LAKE", value_name = "DIR|s3://BUCKET/PREFIX", value_parser = lake_location)]
    pub lake: PathBuf,
    /// The table.
    #[arg(long, value_enum)]
    pub table: ExportTable,
    /// The folder to write into (files are never overwritten).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The AWS account the custom source belongs to (12 digits).
    #[arg(long, value_name = "ID")]
    pub account_id: String,
    /// The AWS region of the Security Lake.
    #[arg(long, value_name = "REGION")]
    pub region: String,
    /// The custom source's name (default midgame-authentication / midgame-api-activity).
    #[arg(long, value_name = "NAME")]
    pub source_name: Option<String>,
    /// First day (YYYY-MM-DD) to export.
    #[arg(long, value_name = "DAY")]
    pub from: Option<String>,
    /// Last day (YYYY-MM-DD) to export.
    #[arg(long, value_name = "DAY")]
    pub to: Option<String>,
    /// midgame.toml (for the lake's session settings).
    #[arg(long, env = "MIDGAME_CONFIG", value_name = "FILE", value_parser = existing_file)]
    pub config: Option<PathBuf>,
}

/// `midgame verify`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit 0 when every committed file matches its record and nothing else is in the tables' folders, 1 otherwise.\nExamples:\n  midgame verify --lake /var/lib/midgame/lake\n  midgame verify --lake lake --repair          # what it would do\n  midgame verify --lake lake --repair --yes    # do it"
)]
pub struct VerifyArgs {
    /// The lake: a directory, or `s3://bucket/prefix` (credentials and endpoint from the AWS environment).
    #[arg(long, env = "MIDGAME_LAKE", value_name = "DIR|s3://BUCKET/PREFIX", value_parser = lake_location)]
    pub lake: PathBuf,
    /// Say how to mend what differs: move orphans to _orphans/, forget the source files
    /// of damaged data files so they are ingested again.
    #[arg(long)]
    pub repair: bool,
    /// With --repair: do it.
    #[arg(long, requires = "repair")]
    pub yes: bool,
}

/// `midgame check`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  midgame check                      # the built-in detections\n  midgame check my-queries/          # yours: DIR/*.sql and their tests in DIR/tests/*.slt\n  midgame check my-queries/ --lake lake --config midgame.toml"
)]
pub struct CheckArgs {
    /// Folders of detections (default: the built-in queries/). Tests are DIR/tests/*.slt.
    #[arg(value_name = "DIR", value_parser = existing_dir)]
    pub dirs: Vec<PathBuf>,
    /// Plan against this lake (default: an empty lake with the same tables).
    #[arg(long, env = "MIDGAME_LAKE", value_name = "DIR", value_parser = existing_dir)]
    pub lake: Option<PathBuf>,
    /// midgame.toml: parameters are checked against each detection's header.
    #[arg(long, env = "MIDGAME_CONFIG", value_name = "FILE", value_parser = existing_file)]
    pub config: Option<PathBuf>,
}

/// `--source` values: every source's name, with its one-line description as help.
fn source_kind() -> impl clap::builder::TypedValueParser<Value = SourceKind> {
    clap::builder::PossibleValuesParser::new(
        SourceKind::ALL.map(|k| clap::builder::PossibleValue::new(k.name()).help(k.about())),
    )
    .map(|name| SourceKind::from_name(&name).expect("clap only passes listed names"))
}

/// What `raw` keeps.
#[derive(Debug, Clone, Copy, ValueEnum, Default)]
pub enum RawArg {
    /// The whole original record (default).
    #[default]
    Full,
    /// Nothing: faster ingest, smaller lake; `file` and `line` still point to the evidence.
    None,
}

/// `midgame ingest`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  midgame ingest --lake lake okta/2022/08/*.json.gz\n  midgame ingest --lake lake --config midgame.toml --strict archive/"
)]
pub struct IngestArgs {
    /// The lake directory (created if missing), or `s3://bucket/prefix` (credentials and
    /// endpoint from the AWS environment).
    #[arg(long, env = "MIDGAME_LAKE", value_name = "DIR|s3://BUCKET/PREFIX")]
    pub lake: PathBuf,
    /// The log format; recognised from the content when omitted.
    #[arg(long, value_parser = source_kind())]
    pub source: Option<SourceKind>,
    /// midgame.toml with identity settings.
    #[arg(long, env = "MIDGAME_CONFIG", value_name = "FILE", value_parser = existing_file)]
    pub config: Option<PathBuf>,
    /// Exit with status 1 when any record is quarantined.
    #[arg(long)]
    pub strict: bool,
    /// Keep the original record text in `raw`.
    #[arg(long, value_enum, default_value_t = RawArg::Full)]
    pub raw: RawArg,
    /// Year of year-less syslog timestamps (default: the date in the file's path, else
    /// the file's modification time).
    #[arg(long, value_name = "YYYY", value_parser = clap::value_parser!(i32).range(1970..=2100))]
    pub year: Option<i32>,
    /// A mapping file (TOML: our field = JSON pointer, plus `time_format`) that reads an
    /// admin tool's own audit JSON as `admin-audit` (implies `--source admin-audit`).
    #[arg(long, value_name = "FILE", value_parser = existing_file)]
    pub mapping: Option<PathBuf>,
    /// GeoIP city database (MaxMind `.mmdb` or ip-location-db CSV): locates rows whose
    /// source gives no location (overrides `[geoip]` in the config).
    #[arg(long, value_name = "FILE", value_parser = existing_file)]
    pub geoip: Option<PathBuf>,
    /// Zone of device timestamps that carry none (Cisco ASA, OpenVPN, GlobalProtect):
    /// `UTC` (default), an offset like `+02:00` / `-0500`, or a zone name like
    /// `Europe/Berlin` (daylight-saving changes followed).
    #[arg(long, value_name = "ZONE", value_parser = device_clock, default_value = "UTC")]
    pub tz: midgame_sources::time::DeviceClock,
    /// Files or directories (walked for .json, .ndjson, .jsonl, .log, .txt, plain or .gz/.zst).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// Output formats of query results.
#[derive(Debug, Clone, Copy, ValueEnum, Default, PartialEq, Eq)]
pub enum Format {
    /// A table for people.
    #[default]
    Table,
    /// CSV with a header.
    Csv,
    /// One JSON object per line.
    Ndjson,
    /// A Parquet file (needs --output, or \o FILE in the shell).
    Parquet,
}

/// `midgame sql`.
#[derive(Debug, Args)]
#[command(
    after_help = "Tables: auth, admin; views: signins, signin_history, user_first_seen (\\d in the shell lists them, \\d NAME describes one). Examples:\n  midgame sql --lake lake                        # the shell\n  midgame sql --lake lake \"SELECT geo_country, count(*) FROM auth GROUP BY 1 ORDER BY 2 DESC\"\n  midgame sql --lake lake -f hunt.sql --format csv > hunt.csv\n  echo \"SELECT * FROM auth LIMIT 3\" | midgame sql --lake lake --format ndjson"
)]
pub struct SqlArgs {
    /// The lake: a directory, or `s3://bucket/prefix` (credentials and endpoint from the AWS environment).
    #[arg(long, env = "MIDGAME_LAKE", value_name = "DIR|s3://BUCKET/PREFIX", value_parser = lake_location)]
    pub lake: PathBuf,
    /// Run the queries on this Ballista cluster (`df://HOST:PORT`, started with
    /// `midgame cluster`); the lake must be at the same path on every node.
    #[arg(long, env = "MIDGAME_CLUSTER", value_name = "URL")]
    pub cluster: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// midgame.toml: fills `allowlisted_ip` from its allow-list, as for detections.
    #[arg(long, env = "MIDGAME_CONFIG", value_name = "FILE", value_parser = existing_file)]
    pub config: Option<PathBuf>,
    /// Run the statements (and backslash commands) of this file.
    #[arg(short = 'f', long = "file", value_name = "FILE", value_parser = existing_file)]
    pub file: Option<PathBuf>,
    /// Write results to this file (never overwritten) instead of stdout.
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Let `COPY ... TO` and `INSERT` write files (never into the lake); the shell is
    /// read-only without it.
    #[arg(long)]
    pub allow_write: bool,
    /// Let `CREATE EXTERNAL TABLE` read files outside the lake.
    #[arg(long)]
    pub allow_files: bool,
    /// Rows shown on a terminal before the rest is cut, with a notice (0: all). Output
    /// to a pipe or file is never cut.
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub max_rows: usize,
    /// The SQL. Without it (and without -f), a shell on a terminal, else SQL from stdin.
    pub sql: Option<String>,
}

/// `midgame detect`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  midgame detect --lake lake --config midgame.toml\n  midgame detect --lake lake --format ndjson --output alerts.ndjson"
)]
pub struct DetectArgs {
    /// The lake: a directory, or `s3://bucket/prefix` (credentials and endpoint from the AWS environment).
    #[arg(long, env = "MIDGAME_LAKE", value_name = "DIR|s3://BUCKET/PREFIX", value_parser = lake_location)]
    pub lake: PathBuf,
    /// Run the queries on this Ballista cluster (`df://HOST:PORT`, started with
    /// `midgame cluster`); the lake must be at the same path on every node.
    #[arg(long, env = "MIDGAME_CLUSTER", value_name = "URL")]
    pub cluster: Option<String>,
    /// A folder of your own detection `.sql` files, run beside the built-in ones; one
    /// with a built-in's id replaces it (repeatable).
    #[arg(long, value_name = "DIR", value_parser = existing_dir)]
    pub queries: Vec<PathBuf>,
    /// Sigma rules (a `.yml` file or a folder of them), converted and run beside the
    /// others; a rule that cannot be converted is named on stderr and left out
    /// (repeatable).
    #[arg(long, value_name = "PATH", value_parser = existing_path)]
    pub sigma: Vec<PathBuf>,
    /// Leave the built-in detections out: run only the --queries and --sigma ones.
    #[arg(long)]
    pub no_builtin: bool,
    /// midgame.toml: detection parameters, the allow-list, the incident window.
    #[arg(long, env = "MIDGAME_CONFIG", value_name = "FILE", value_parser = existing_file)]
    pub config: Option<PathBuf>,
    /// Print the catalogue instead of running: id, title, stage, ATT&CK technique, the
    /// tables each reads, and whether it runs (the lake is not read).
    #[arg(long)]
    pub list: bool,
    /// Only alerts that end at or after this time (RFC 3339 or YYYY-MM-DD, UTC); older
    /// history still serves as baseline.
    #[arg(long, value_name = "TS", value_parser = timestamp_ms)]
    pub from: Option<i64>,
    /// Only alerts that start before this time (RFC 3339 or YYYY-MM-DD, UTC).
    #[arg(long, value_name = "TS", value_parser = timestamp_ms)]
    pub to: Option<i64>,
    /// Output format. ndjson: incidents, alerts (and suppressed alerts) as objects with a
    /// `type`; csv and parquet: one row per alert, with incidents beside the output file
    /// (NAME.incidents.csv|parquet); ocsf: OCSF 1.x Detection Finding (class 2004) objects;
    /// html: the incident report (as `midgame report`).
    #[arg(long, value_enum, default_value_t = AlertFormat::Table)]
    pub format: AlertFormat,
    /// Write to this file (never overwritten) instead of stdout.
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Also list the alerts the allow-list silenced, and which entry silenced each.
    #[arg(long)]
    pub explain_suppressed: bool,
}

/// `midgame report`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  midgame report --lake lake --config midgame.toml --output report.html\n  midgame report --lake lake --user alice@example.com --from 2022-08-01 --output alice.html"
)]
pub struct ReportArgs {
    /// The lake: a directory, or `s3://bucket/prefix` (credentials and endpoint from the AWS environment).
    #[arg(long, env = "MIDGAME_LAKE", value_name = "DIR|s3://BUCKET/PREFIX", value_parser = lake_location)]
    pub lake: PathBuf,
    /// midgame.toml: detection parameters, the allow-list, the incident window.
    #[arg(long, env = "MIDGAME_CONFIG", value_name = "FILE", value_parser = existing_file)]
    pub config: Option<PathBuf>,
    /// A folder of your own detections, beside the built-in ones (repeatable).
    #[arg(long, value_name = "DIR", value_parser = existing_dir)]
    pub queries: Vec<PathBuf>,
    /// Sigma rules (a `.yml` file or a folder), converted and run beside the others.
    #[arg(long, value_name = "PATH", value_parser = existing_path)]
    pub sigma: Vec<PathBuf>,
    /// Leave the built-in detections out.
    #[arg(long)]
    pub no_builtin: bool,
    /// Only alerts that end at or after this time (RFC 3339 or YYYY-MM-DD, UTC).
    #[arg(long, value_name = "TS", value_parser = timestamp_ms)]
    pub from: Option<i64>,
    /// Only alerts that start before this time.
    #[arg(long, value_name = "TS", value_parser = timestamp_ms)]
    pub to: Option<i64>,
    /// Only this user's incidents and alerts.
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Write the report to this file (never overwritten) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Output formats of `midgame detect`.
#[derive(Debug, Clone, Copy, ValueEnum, Default, PartialEq, Eq)]
pub enum AlertFormat {
    /// Incidents, alerts and a summary for people.
    #[default]
    Table,
    /// One JSON object per line (DESIGN's alert format, plus incidents).
    Ndjson,
    /// CSV with a header, one row per alert.
    Csv,
    /// A Parquet file, one row per alert (needs --output).
    Parquet,
    /// OCSF Detection Finding (2004) objects, one per line.
    Ocsf,
    /// The incident report: one self-contained HTML file (as `midgame report`).
    Html,
}

/// A device clock: `UTC`, an offset, or a zone name.
pub(crate) fn device_clock(s: &str) -> Result<midgame_sources::time::DeviceClock, String> {
    midgame_sources::time::DeviceClock::parse(s)
}

/// Epoch milliseconds of an RFC 3339 time or a `YYYY-MM-DD` date (UTC midnight).
pub(crate) fn timestamp_ms(s: &str) -> Result<i64, String> {
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc()
            .timestamp_millis());
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_millis())
        .map_err(|_| format!("{s:?} is not a YYYY-MM-DD date or an RFC 3339 time"))
}

/// `midgame gen`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  midgame gen --out logs --users 2000 --days 30 --seed 1 --attack"
)]
pub struct GenArgs {
    /// Output directory (files go to OUT/okta/).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Employees.
    #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u32).range(1..))]
    pub users: u32,
    /// Days.
    #[arg(long, default_value_t = 28, value_parser = clap::value_parser!(u32).range(1..))]
    pub days: u32,
    /// Seed (the same seed gives the same bytes).
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Inject a 0ktapus-style intrusion.
    #[arg(long)]
    pub attack: bool,
    /// First day (YYYY-MM-DD).
    #[arg(long, default_value = "2022-07-11")]
    pub start: chrono::NaiveDate,
    /// Email domain.
    #[arg(long, default_value = "acme.test")]
    pub domain: String,
}

/// `midgame demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The sample logs to load (default: the ones built into the binary, from the
    /// repository's sample-logs/), with their midgame.toml if they have one.
    #[arg(long, value_name = "DIR")]
    pub samples: Option<PathBuf>,
    /// Write the incident report here (never overwritten; default: a new file in the
    /// temporary folder, whose path the demo prints last).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

fn existing_file(s: &str) -> Result<PathBuf, String> {
    let p = PathBuf::from(s);
    if p.is_file() {
        Ok(p)
    } else {
        Err(format!("{s}: no such file"))
    }
}

fn existing_path(s: &str) -> Result<PathBuf, String> {
    let p = PathBuf::from(s);
    if p.exists() {
        Ok(p)
    } else {
        Err(format!("{s}: no such file or directory"))
    }
}

/// A lake: an existing directory, or a lake on S3 (`s3://bucket/prefix`).
fn lake_location(s: &str) -> Result<PathBuf, String> {
    if s.starts_with("s3://") {
        midgame_lake::remote_lake::parse_lake_url(s).map_err(|e| e.to_string())?;
        return Ok(PathBuf::from(s));
    }
    existing_dir(s)
}

fn existing_dir(s: &str) -> Result<PathBuf, String> {
    let p = PathBuf::from(s);
    if p.is_dir() {
        Ok(p)
    } else {
        Err(format!("{s}: no such directory"))
    }
}

impl From<Format> for midgame_detect::output::ResultFormat {
    fn from(f: Format) -> Self {
        match f {
            Format::Table => Self::Table,
            Format::Csv => Self::Csv,
            Format::Ndjson => Self::Ndjson,
            Format::Parquet => Self::Parquet,
        }
    }
}

impl From<AlertFormat> for midgame_detect::output::FindingsFormat {
    fn from(f: AlertFormat) -> Self {
        match f {
            AlertFormat::Table => Self::Table,
            AlertFormat::Ndjson => Self::Ndjson,
            AlertFormat::Csv => Self::Csv,
            AlertFormat::Parquet => Self::Parquet,
            AlertFormat::Ocsf => Self::Ocsf,
            // The report is made by the command, not the findings writer.
            AlertFormat::Html => Self::Table,
        }
    }
}
