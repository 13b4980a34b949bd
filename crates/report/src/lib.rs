//! The incident report: one self-contained HTML file a person opens from disk at 3 a.m.
//!
//! For each incident: where the account signed in from (a world map with the user's
//! usual places, the new ones and each impossible hop), in what order the stages
//! happened (a timeline of the evidence with the alerts marked on it), what exactly was
//! touched from the new addresses, and the user's baseline beside the anomaly. Then an
//! overview: alerts per detection per day, what the allow-list silenced and why, what
//! the lake covers, and the parameters of the run.
//!
//! Two steps: [`gather`] asks the lake (through the same DataFusion session the
//! detections ran in) for the context of each finding, and [`render`] turns that into
//! HTML without touching anything else. The page has inline CSS and SVG only: no script,
//! no font, no image fetched from anywhere, and a Content-Security-Policy that forbids
//! them, so it opens from disk with no network. Every value that came from a log is
//! escaped.
//!
//! ```no_run
//! # async fn demo(ctx: &midgame_detect::SessionContext, f: &midgame_detect::Findings,
//! #               d: &[midgame_detect::Detection]) -> Result<(), midgame_report::ReportError> {
//! let opts = midgame_report::Options::new("lake");
//! let report = midgame_report::gather(ctx, f, d, &midgame_detect::RunOptions::default(), &opts).await?;
//! midgame_report::write_new("report.html".as_ref(), &midgame_report::render(&report))?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod attack;
mod gather;
mod html;
mod svg;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use midgame_detect::{Alert, Incident, Suppressed};

pub use attack::technique_name;
pub use gather::gather;
pub use html::{escape, render};

/// What went wrong making a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A query for the report's context failed.
    #[error("querying the lake for the report: {0}")]
    Query(#[from] datafusion::error::DataFusionError),
    /// The lake's manifest cannot be read.
    #[error(transparent)]
    Lake(#[from] midgame_lake::LakeError),
    /// A detection's parameters do not bind.
    #[error(transparent)]
    Detection(#[from] midgame_detect::DetectionError),
    /// The report cannot be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file exists: reports, like every output, are never overwritten.
    #[error("{0} exists: midgame never overwrites an output file")]
    Exists(PathBuf),
}

/// How to make the report.
#[derive(Debug, Clone)]
pub struct Options {
    /// The lake the findings come from (shown, and read for its manifest).
    pub lake: PathBuf,
    /// The page's title.
    pub title: String,
    /// When the report was made (ms since the epoch).
    pub generated_ms: i64,
    /// Only this user's findings (`--user`).
    pub user: Option<String>,
    /// How far before an incident the user's usual behaviour is read (days).
    pub baseline_days: i64,
    /// Evidence shown before an incident's first alert and after its last (minutes).
    pub context_minutes: i64,
    /// At most this many events of one incident are listed (the rest are counted).
    pub max_events: usize,
    /// At most this many alerts get their evidence and events shown in full.
    pub max_detailed_alerts: usize,
    /// At most this many alerts are listed at all (the rest are counted).
    pub max_listed_alerts: usize,
    /// What a scheduled run did to each alert (`new`, `changed`, `retracted`), by id.
    pub changes: BTreeMap<String, String>,
}

impl Options {
    /// The defaults for a lake.
    #[must_use]
    pub fn new(lake: impl Into<PathBuf>) -> Self {
        Self {
            lake: lake.into(),
            title: "midgame incident report".to_owned(),
            generated_ms: chrono::Utc::now().timestamp_millis(),
            user: None,
            baseline_days: 30,
            context_minutes: 60,
            max_events: 1500,
            max_detailed_alerts: 300,
            max_listed_alerts: 3000,
            changes: BTreeMap::new(),
        }
    }
}

/// Which row of an incident's timeline an event is drawn in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Lane {
    /// Sign-ins and sign-on policy checks at the IdP.
    SignIn,
    /// MFA pushes, verifications, enrolments, resets.
    Mfa,
    /// Single sign-on into an application.
    Sso,
    /// VPN sessions.
    Vpn,
    /// Admin-tool and control-plane actions.
    Admin,
    /// Exports and downloads (admin actions that moved bytes).
    Export,
}

impl Lane {
    /// Every lane, top to bottom.
    pub const ALL: [Lane; 6] = [
        Lane::SignIn,
        Lane::Mfa,
        Lane::Sso,
        Lane::Vpn,
        Lane::Admin,
        Lane::Export,
    ];

    /// The lane's label.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Lane::SignIn => "sign-ins",
            Lane::Mfa => "MFA",
            Lane::Sso => "SSO into apps",
            Lane::Vpn => "VPN",
            Lane::Admin => "admin actions",
            Lane::Export => "exports",
        }
    }
}

/// One row of the lake, as the report shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// When (ms since the epoch).
    pub time_ms: i64,
    /// Where it is drawn.
    pub lane: Lane,
    /// The activity (`Logon`, `MFA Enroll`) or action (`customer.export`).
    pub what: String,
    /// `success`, `failure`, `unknown`.
    pub outcome: String,
    /// The source kind (`okta`, `admin-audit`).
    pub source: String,
    /// The address it came from.
    pub src_ip: Option<String>,
    /// City of the address.
    pub city: Option<String>,
    /// Country of the address.
    pub country: Option<String>,
    /// Latitude.
    pub lat: Option<f64>,
    /// Longitude.
    pub lon: Option<f64>,
    /// `AS14061 digitalocean`.
    pub network: Option<String>,
    /// `Windows / Chrome`.
    pub device: Option<String>,
    /// The raw user agent.
    pub user_agent: Option<String>,
    /// The application, MFA factor, customer or object.
    pub target: Option<String>,
    /// Records moved.
    pub records: Option<i64>,
    /// Bytes moved.
    pub bytes: Option<i64>,
    /// The archive file the row came from.
    pub file: String,
    /// Its line there.
    pub line: i64,
    /// The address was never used by this user before the incident.
    pub new_address: bool,
}

impl Event {
    /// `Amsterdam NL`, or the country alone, or nothing.
    #[must_use]
    pub fn place(&self) -> Option<String> {
        match (&self.city, &self.country) {
            (Some(c), Some(k)) => Some(format!("{c} {k}")),
            (None, Some(k)) => Some(k.clone()),
            (Some(c), None) => Some(c.clone()),
            (None, None) => None,
        }
    }
}

/// A place a user signed in from, and how often.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    /// City (may be unknown).
    pub city: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// Sign-ins from here.
    pub count: u64,
}

impl Place {
    /// `New York US`.
    #[must_use]
    pub fn name(&self) -> String {
        [self.city.as_deref(), self.country.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// One impossible trip, from an `impossible_travel` alert's evidence and the two
/// sign-ins it names.
#[derive(Debug, Clone, PartialEq)]
pub struct Hop {
    /// Where the user was.
    pub from: Place,
    /// Where the next sign-in came from.
    pub to: Place,
    /// The addresses.
    pub ips: (String, String),
    /// Great-circle distance less the accuracy radii (km).
    pub distance_km: i64,
    /// Minutes between the two.
    pub minutes: i64,
    /// The implied speed (km/h).
    pub speed_kmh: i64,
}

/// What a user usually does, read from the days before an incident.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Baseline {
    /// Days read.
    pub days: i64,
    /// Places of successful sign-ins, most used first.
    pub places: Vec<Place>,
    /// Countries of sign-ins with their counts, most used first.
    pub countries: Vec<(String, u64)>,
    /// Networks (`AS14061 digitalocean`) with their counts.
    pub networks: Vec<(String, u64)>,
    /// Devices (`Mac OS X / Chrome`) with their counts.
    pub devices: Vec<(String, u64)>,
    /// Every address the user was seen from before the incident.
    pub addresses: BTreeSet<String>,
    /// Hours with admin activity in the baseline.
    pub admin_hours: u64,
    /// 95th percentile of distinct customers (else targets) touched in an active hour.
    pub p95_targets_per_hour: Option<u64>,
    /// 95th percentile of bytes moved in an active hour.
    pub p95_bytes_per_hour: Option<u64>,
}

/// The busiest hour of an incident's window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Peak {
    /// Start of the hour (ms).
    pub hour_ms: i64,
    /// The value in that hour.
    pub value: u64,
}

/// What the account did from addresses it had never used before.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Touched {
    /// Admin actions.
    pub actions: u64,
    /// Distinct customers.
    pub customers: u64,
    /// Distinct targets (objects acted on), for tools that name no customer.
    pub targets: u64,
    /// Records read or exported.
    pub records: u64,
    /// Bytes read or exported.
    pub bytes: u64,
    /// The new addresses used.
    pub addresses: Vec<String>,
}

impl Touched {
    /// Customers when the tool names them, else the objects acted on: the count and its
    /// word.
    #[must_use]
    pub fn what(&self) -> (u64, &'static str) {
        if self.customers > 0 {
            (self.customers, "customers")
        } else {
            (self.targets, "objects")
        }
    }
}

/// An incident with everything the report shows of it.
#[derive(Debug, Clone)]
pub struct IncidentView {
    /// The incident.
    pub incident: Incident,
    /// Its alerts, in timeline order.
    pub alerts: Vec<Alert>,
    /// The span of evidence shown (ms).
    pub window: (i64, i64),
    /// Events of the user in the window, in time order (at most `max_events`).
    pub events: Vec<Event>,
    /// Events in the window in all.
    pub events_total: u64,
    /// The user's usual behaviour.
    pub baseline: Baseline,
    /// The busiest hour of the window by customers touched, and by bytes.
    pub peaks: (Option<Peak>, Option<Peak>),
    /// What was done from the new addresses.
    pub touched: Touched,
    /// The impossible trips.
    pub hops: Vec<Hop>,
}

/// What one table of the lake holds of one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceCoverage {
    /// `auth` or `admin`.
    pub table: String,
    /// The source kind.
    pub source: String,
    /// Rows.
    pub rows: u64,
    /// Days with rows.
    pub days: u64,
    /// First day (`2022-07-15`).
    pub first_day: String,
    /// Last day.
    pub last_day: String,
}

/// What the lake covers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Per table and source.
    pub sources: Vec<SourceCoverage>,
    /// Files ingested (manifest entries).
    pub files: u64,
    /// Records quarantined.
    pub quarantined: u64,
    /// Records read but needed by no table.
    pub skipped: u64,
}

/// A detection as the report describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectionInfo {
    /// Its id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Default severity.
    pub severity: String,
    /// Stage.
    pub stage: String,
    /// ATT&CK technique id.
    pub attack: String,
    /// ATT&CK tactic, if the header gives one.
    pub tactic: Option<String>,
    /// What it finds.
    pub description: String,
    /// What to check and do.
    pub runbook: Option<String>,
    /// Known false positives.
    pub false_positives: Option<String>,
    /// Its parameters as bound for this run (`name = value`).
    pub params: Vec<(String, String)>,
}

/// An alert's events: the rows of its user within its span.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertEvents {
    /// The first few.
    pub events: Vec<Event>,
    /// How many in all.
    pub total: u64,
}

/// Everything the page shows.
#[derive(Debug, Clone)]
pub struct Report {
    /// How it was made.
    pub options: Options,
    /// The detections that ran.
    pub detections: Vec<DetectionInfo>,
    /// The incidents, by start time.
    pub incidents: Vec<IncidentView>,
    /// Every alert (the incidents' ones too), by detection.
    pub alerts: Vec<Alert>,
    /// Events of the alerts shown in detail, by alert id.
    pub alert_events: BTreeMap<String, AlertEvents>,
    /// What the allow-list silenced.
    pub suppressed: Vec<Suppressed>,
    /// What the lake covers.
    pub coverage: Coverage,
    /// The allow-list (`cidr: reason`).
    pub allowlist: Vec<String>,
    /// Incident chaining (`window_hours`, `min_stages`).
    pub incident_rules: (i64, usize),
    /// The window of alerts asked for (`--from`, `--to`).
    pub window: (Option<i64>, Option<i64>),
}

/// Write `html` to a new file at `path`: written beside it under a temporary name, then
/// put in place in one step that refuses to replace an existing file, so a failed or
/// killed run leaves nothing behind and a second run never overwrites the first.
///
/// # Errors
/// The file exists, or the folder cannot be written.
pub fn write_new(path: &Path, html: &str) -> Result<(), ReportError> {
    use std::io::Write;
    if path.exists() {
        return Err(ReportError::Exists(path.to_path_buf()));
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let io = |source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".midgame-report-")
        .suffix(".tmp")
        // As any other output file: readable as the umask allows, not private to the
        // temporary file's owner alone.
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .tempfile_in(dir)
        .map_err(io)?;
    tmp.write_all(html.as_bytes()).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist_noclobber(path).map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            ReportError::Exists(path.to_path_buf())
        } else {
            io(e.error)
        }
    })?;
    Ok(())
}
