//! `midgame.toml` (DESIGN 'Command-line contract'): every section optional, unknown keys
//! are errors so a typo is never a silent default.

use std::path::{Path, PathBuf};

use anyhow::Context;
use midgame_detect::RunOptions;
use midgame_detect::config::{AllowlistConfig, DetectionParams, IncidentConfig};
use midgame_detect::delivery::OutputConfig;
use midgame_schema::IdentityMap;
use serde::Deserialize;

/// The whole configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Config {
    /// How identities are normalised across sources.
    #[serde(default)]
    pub identity: IdentityConfig,
    /// GeoIP database used to locate addresses the source does not locate.
    #[serde(default)]
    pub geoip: Option<GeoipConfig>,
    /// Addresses that are never evidence of travel (corporate egress, VPN concentrators).
    #[serde(default)]
    pub allowlist: Option<AllowlistConfig>,
    /// Per-detection parameters (`[detections.impossible_travel] max_speed_kmh = 1000`).
    #[serde(default)]
    pub detections: DetectionParams,
    /// How alerts chain into incidents.
    #[serde(default)]
    pub incidents: IncidentConfig,
    /// `[lake]`: where `midgame run` keeps the lake.
    #[serde(default)]
    pub lake: Option<LakeConfig>,
    /// `[[archive]]`: the log folders `midgame run` reads.
    #[serde(default)]
    pub archive: Vec<ArchiveConfig>,
    /// `[[pull]]`: logs `midgame run` pulls from an API before it ingests.
    #[serde(default)]
    pub pull: Vec<PullConfig>,
    /// `[run]`: how scheduled runs behave.
    #[serde(default)]
    pub run: RunConfig,
    /// `[output]`: where scheduled runs send new and changed alerts.
    #[serde(default)]
    pub output: OutputConfig,
    /// `[limits]`: what one input file may cost.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Directory of the config file: relative paths in it are relative to this.
    #[serde(skip)]
    pub base: PathBuf,
}

/// `[identity]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IdentityConfig {
    /// Domain given to bare user names (`jdoe` -> `jdoe@example.com`).
    pub default_domain: Option<String>,
    /// CSV of `alias,user` lines mapping other spellings to one identity.
    pub aliases: Option<PathBuf>,
}

/// `[geoip]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GeoipConfig {
    /// A MaxMind-format `.mmdb` or an ip-location-db city CSV.
    pub database: PathBuf,
    /// Optionally, an ASN database (`.mmdb` or ip-location-db ASN CSV).
    pub asn: Option<PathBuf>,
}

/// One `[[pull]]`: an Okta org's System Log, pulled into `out` before a run ingests
/// (the files are read as an archive of source `okta`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PullConfig {
    /// `okta` (the only API midgame pulls today).
    pub source: String,
    /// The org's URL (`https://acme.okta.com`).
    pub org: String,
    /// The environment variable holding the API token.
    pub token_env: String,
    /// Where the page files go (relative to the config file).
    pub out: PathBuf,
    /// Where the first pull starts (RFC 3339; default: a day ago).
    pub since: Option<String>,
    /// Events per page (default 1000, Okta's most).
    pub limit: Option<u32>,
}

/// `[limits]`: what one file may cost before it is quarantined or refused (each
/// optional; the defaults suit real logs).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LimitsConfig {
    /// A longer record is quarantined by its line and length (default 16 MiB).
    pub max_record_bytes: Option<usize>,
    /// A compressed file that decompresses to more fails (default 256 GiB).
    pub max_decompressed_bytes: Option<u64>,
    /// A compressed file that decompresses to more times the bytes read fails, past its
    /// first 64 MiB (default 250).
    pub max_ratio: Option<u64>,
    /// Events before this date (`YYYY-MM-DD` or RFC 3339) are quarantined (default
    /// 1990-01-01).
    pub earliest_time: Option<String>,
    /// Events more than this many hours after their file's modification time are
    /// quarantined (default 24).
    pub max_future_hours: Option<u32>,
}

/// `[lake]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LakeConfig {
    /// The lake directory.
    pub path: PathBuf,
}

/// One `[[archive]]`: files of one source.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ArchiveConfig {
    /// The source kind (`okta`, `cisco-asa`, ...); recognised from the content if absent.
    pub source: Option<String>,
    /// Glob patterns (`okta/*/*/*/*.json.gz`, `vpn/*.log`); `**` crosses folders.
    pub paths: Vec<String>,
    /// Year of year-less syslog timestamps (else the date in the path, else mtime).
    pub year: Option<i32>,
    /// Zone of zone-less device timestamps (`+02:00`, default UTC).
    pub tz: Option<String>,
    /// Mapping file for an admin tool's own audit JSON.
    pub mapping: Option<PathBuf>,
}

/// `[run]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RunConfig {
    /// Alerts ending this long before the earliest new event are re-evaluated too, so
    /// late events and findings that look ahead (an MFA change within the hour after a
    /// new device) are caught.
    pub overlap_hours: f64,
    /// A plain file modified less than this long ago may still be being written: its
    /// unfinished last line waits.
    pub settle_seconds: u64,
    /// Keep each record's original text (`full`) or not (`none`).
    pub raw: String,
    /// Folders of your own detections, run beside the built-in ones.
    pub queries: Vec<PathBuf>,
    /// Sigma rules (files or folders), converted and run beside the others.
    pub sigma: Vec<PathBuf>,
    /// Run the built-in detections.
    pub builtin: bool,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            overlap_hours: 24.0,
            settle_seconds: 300,
            raw: "full".to_owned(),
            queries: Vec::new(),
            sigma: Vec::new(),
            builtin: true,
        }
    }
}

/// The config given, else the first config file of the usual places that exists.
fn locate(given: Option<&Path>) -> Option<PathBuf> {
    let usual = [
        Some(PathBuf::from("midgame.toml")),
        crate::xdg_dir("XDG_CONFIG_HOME", ".config").map(|d| d.join("midgame.toml")),
        Some(PathBuf::from("/etc/midgame/midgame.toml")),
    ];
    given
        .map(Path::to_path_buf)
        .or_else(|| usual.into_iter().flatten().find(|p| p.is_file()))
}

impl Config {
    /// Read and check a config file.
    pub(crate) fn load(path: &Path) -> anyhow::Result<Self> {
        let text = fs_err::read_to_string(path)?;
        Self::from_text(path, &text)
    }

    /// A config from its text (`path` names it in errors and is where relative paths
    /// start).
    pub(crate) fn from_text(path: &Path, text: &str) -> anyhow::Result<Self> {
        let mut cfg: Config = toml::from_str(text).map_err(|e| {
            anyhow::anyhow!(
                "{}: {}",
                path.display(),
                e.to_string().trim_end().replace('\n', " ")
            )
        })?;
        cfg.base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        for p in &cfg.pull {
            anyhow::ensure!(
                p.source == "okta",
                "{}: [[pull]] source = {:?}: midgame pulls from \"okta\" (the System Log API)",
                path.display(),
                p.source
            );
        }
        anyhow::ensure!(
            !cfg.output.html || cfg.output.dir.is_some(),
            "{}: [output] html = true writes each run's report into [output] dir, and there is no dir = \"...\"",
            path.display()
        );
        Ok(cfg)
    }

    /// The `[geoip]` databases, opened, if configured.
    pub(crate) fn geoip(&self) -> anyhow::Result<Option<midgame_lake::geoip::GeoIp>> {
        let Some(g) = &self.geoip else {
            return Ok(None);
        };
        Ok(Some(midgame_lake::geoip::GeoIp::open(
            &self.base.join(&g.database),
            g.asn.as_ref().map(|a| self.base.join(a)).as_deref(),
        )?))
    }

    /// Each `[[pull]]`'s folder as an archive of its source (after the configured ones).
    pub(crate) fn add_pull_archives(&mut self) {
        for p in &self.pull {
            self.archive.push(ArchiveConfig {
                source: Some(p.source.clone()),
                paths: vec![p.out.join("okta-*.ndjson.gz").display().to_string()],
                year: None,
                tz: None,
                mapping: None,
            });
        }
    }

    /// Every check of the config that reads no other file: what the fuzz target runs.
    pub(crate) fn check_text(text: &str) {
        if let Ok(cfg) = Self::from_text(Path::new("fuzz.toml"), text) {
            let _ = cfg.run_options();
            let _ = cfg.limits();
            let _ = cfg.allow_entries();
            for a in &cfg.archive {
                let _ = a
                    .source
                    .as_deref()
                    .map(midgame_sources::SourceKind::from_name);
                let _ =
                    a.tz.as_deref()
                        .map(midgame_sources::time::DeviceClock::parse);
            }
        }
    }

    /// `[limits]` over the defaults.
    pub(crate) fn limits(&self) -> anyhow::Result<midgame_lake::Limits> {
        let d = midgame_lake::Limits::default();
        let l = &self.limits;
        let earliest_ms = match &l.earliest_time {
            Some(t) => crate::args::timestamp_ms(t)
                .map_err(|e| anyhow::anyhow!("[limits] earliest_time: {e}"))?,
            None => d.earliest_ms,
        };
        Ok(midgame_lake::Limits {
            max_record_bytes: l.max_record_bytes.unwrap_or(d.max_record_bytes),
            max_decompressed_bytes: l.max_decompressed_bytes.unwrap_or(d.max_decompressed_bytes),
            max_ratio: l.max_ratio.unwrap_or(d.max_ratio),
            earliest_ms,
            max_future_ms: l
                .max_future_hours
                .map_or(d.max_future_ms, |h| i64::from(h) * 3_600_000),
        })
    }

    /// How detections run: parameters, the allow-list, the incident window.
    pub(crate) fn run_options(&self) -> anyhow::Result<RunOptions> {
        RunOptions::from_config(self.allowlist.as_ref(), &self.detections, &self.incidents)
            .map_err(anyhow::Error::msg)
    }

    /// The allow-list entries, each with its reason.
    pub(crate) fn allow_entries(&self) -> anyhow::Result<Vec<midgame_detect::AllowEntry>> {
        midgame_detect::config::allow_entries(self.allowlist.as_ref()).map_err(anyhow::Error::msg)
    }

    /// The config given, else the first of `./midgame.toml`,
    /// `$XDG_CONFIG_HOME/midgame/midgame.toml` (`~/.config/...`) and
    /// `/etc/midgame/midgame.toml` that exists, else the defaults; `-v` says which.
    pub(crate) fn load_opt(path: Option<&Path>) -> anyhow::Result<Self> {
        match locate(path) {
            Some(p) => Self::load_found(&p),
            None => {
                tracing::info!("config: none found, the defaults");
                Ok(Config::default())
            }
        }
    }

    /// As [`Config::load_opt`], but a scheduled run needs a config.
    pub(crate) fn load_required(path: Option<&Path>) -> anyhow::Result<Self> {
        let p = locate(path).context(
            "no config: pass --config FILE, set MIDGAME_CONFIG, or write ./midgame.toml, \
             ~/.config/midgame/midgame.toml or /etc/midgame/midgame.toml",
        )?;
        Self::load_found(&p)
    }

    fn load_found(p: &Path) -> anyhow::Result<Self> {
        tracing::info!("config: {}", p.display());
        Config::load(p)
    }

    /// The identity map the config describes (aliases CSV read and checked).
    pub(crate) fn identities(&self) -> anyhow::Result<IdentityMap> {
        let mut ids = IdentityMap::new(self.identity.default_domain.as_deref());
        if let Some(aliases) = &self.identity.aliases {
            let path = self.base.join(aliases);
            let text = fs_err::read_to_string(&path)?;
            ids.add_aliases_csv(&text)
                .with_context(|| path.display().to_string())?;
        }
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_design_example_loads() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("midgame.toml");
        fs_err::write(&p, "[identity]\ndefault_domain = \"example.com\"\naliases = \"aliases.csv\"\n[geoip]\ndatabase = \"city.mmdb\"\n[allowlist]\ncidrs = [\"198.51.100.0/24\"]\n[detections.impossible_travel]\nmax_speed_kmh = 1000\nmin_distance_km = 500\n").unwrap();
        fs_err::write(dir.path().join("aliases.csv"), "alias,user\nJD,jdoe\n").unwrap();
        let cfg = Config::load(&p).unwrap();
        assert_eq!(
            cfg.detections["impossible_travel"]["max_speed_kmh"],
            midgame_detect::ParamValue::Int(1000)
        );
        assert_eq!(
            cfg.identities().unwrap().normalise(r"ACME\jd"),
            "jdoe@example.com"
        );
    }

    #[test]
    fn a_typo_is_an_error_naming_the_file_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("midgame.toml");
        fs_err::write(&p, "[identity]\ndefault_domian = \"example.com\"\n").unwrap();
        let err = Config::load(&p).unwrap_err().to_string();
        assert!(err.starts_with(&p.display().to_string()), "{err}");
        assert!(err.contains("unknown field `default_domian`"), "{err}");
        assert!(!err.contains('\n'), "one line: {err}");
    }
}
